//! Graceful shutdown of `serve` and the slow-client defence.

use std::sync::Arc;
use std::time::Duration;

use ferry_router::RouterConfig;
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

use crate::support::*;

/// A backend that signals each arrival and answers once the test adds a permit.
async fn held_backend(release: Arc<Semaphore>) -> (Backend, mpsc::UnboundedReceiver<()>) {
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    let backend = Backend::start("held", move |_req| {
        let (release, arrived_tx) = (Arc::clone(&release), arrived_tx.clone());
        async move {
            let _ = arrived_tx.send(());
            release.acquire().await.unwrap().forget();
            Response::new(full("done"))
        }
    })
    .await;
    (backend, arrived)
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    let mut proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let (backend, mut arrived) = held_backend(Arc::clone(&release)).await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    within("the request to arrive", arrived.recv()).await.unwrap();

    let serving = proxy.begin_shutdown();
    let deadline = tokio::time::Instant::now() + WAIT;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the listener is still open");
        tokio::task::yield_now().await;
    }
    assert!(!serving.is_finished(), "serve waits for the open request");

    release.add_permits(1);
    let reply = within("the in-flight request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "done"));
    within("serve to return", serving).await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let mut proxy = Proxy::start().await;
    let backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    let mut conn = Conn::open(proxy.addr).await;
    assert_eq!(conn.get("web.localhost", "/").await.status, 200);

    // The grace period is 30 s; an idle connection must not hold shutdown for it.
    let serving = proxy.begin_shutdown();
    within("serve to return", serving).await.unwrap().unwrap();
    eventually("the idle connection to close", || conn.is_closed()).await;
}

#[tokio::test]
async fn shutdown_grace_bounds_the_wait() {
    let mut proxy = Proxy::with_config(RouterConfig {
        shutdown_grace: Duration::from_millis(200),
        ..RouterConfig::default()
    })
    .await;
    let release = Arc::new(Semaphore::new(0));
    let (backend, mut arrived) = held_backend(release).await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let request = tokio::spawn(async move { conn.send(get("web.localhost", "/")).await });
    within("the request to arrive", arrived.recv()).await.unwrap();

    within("serve to give up after the grace period", proxy.begin_shutdown()).await.unwrap().unwrap();
    // The request never got an answer: its connection was closed under it.
    assert!(within("the request to fail", request).await.is_err(), "the client sees the connection fail");
    eventually("in-flight to go back to 0", || backend.endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn a_client_that_sends_headers_too_slowly_is_disconnected() {
    let proxy = Proxy::with_config(RouterConfig {
        header_read_timeout: Duration::from_millis(200),
        ..RouterConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: web.localhost\r\n").await.unwrap();
    let mut out = Vec::new();
    within("the router to hang up", stream.read_to_end(&mut out)).await.unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 408"), "{out}");
}
