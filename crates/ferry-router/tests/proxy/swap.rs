//! Behaviour 8 and 9: route swaps never drop a connection, and upstream connections are pooled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Response;
use tokio::sync::{Semaphore, mpsc};

use crate::support::*;

#[tokio::test]
async fn a_keep_alive_connection_survives_a_route_swap() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    let api = Backend::hello("api-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    assert_eq!(conn.get("web.localhost", "/").await.body, "web-1");
    assert_eq!(conn.get("api.localhost", "/").await.status, 404);

    proxy.set(&[
        ("web.localhost", serving("web", &[&web.endpoint])),
        ("api.localhost", serving("api", &[&api.endpoint])),
    ]);
    assert!(!conn.is_closed());
    assert_eq!(conn.get("web.localhost", "/").await.body, "web-1");
    assert_eq!(conn.get("api.localhost", "/").await.body, "api-1", "the same connection sees the new table");
    assert!(!conn.is_closed());
    assert_eq!(proxy.router.routes().len(), 2);
}

#[tokio::test]
async fn an_in_flight_request_completes_after_its_instance_is_removed() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel();
    let backend = {
        let release = Arc::clone(&release);
        Backend::start("old", move |_req| {
            let (release, arrived_tx) = (Arc::clone(&release), arrived_tx.clone());
            async move {
                let _ = arrived_tx.send(());
                release.acquire().await.unwrap().forget();
                Response::new(full("finished"))
            }
        })
        .await
    };
    let endpoint = Arc::clone(&backend.endpoint);
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let addr = proxy.addr;
    let slow = tokio::spawn(async move { fetch(addr, "web.localhost", "/long").await });
    within("the request to reach the instance", arrived.recv()).await.unwrap();
    assert_eq!(endpoint.in_flight(), 1);

    proxy.set(&[]);
    assert_eq!(fetch(proxy.addr, "web.localhost", "/").await.status, 404, "new requests see the new table");

    release.add_permits(1);
    let reply = within("the long request", slow).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "finished"));
    eventually("in-flight to go back to 0", || endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_reused() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = counting_backend().await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint.0]))]);

    // Sequential requests from separate client connections share one pooled upstream connection.
    for _ in 0..10 {
        assert_eq!(fetch(proxy.addr, "web.localhost", "/").await.status, 200);
    }
    assert_eq!(endpoint.1.load(Ordering::SeqCst), 1, "one upstream connection for ten requests");
}

/// A hello backend that counts the TCP connections it accepts.
async fn counting_backend() -> ((Arc<ferry_router::Endpoint>, Arc<AtomicUsize>), tokio::task::JoinHandle<()>)
{
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = ferry_router::Endpoint::new("counted", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service =
                    service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(full("hi"))) });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    ((endpoint, connections), task)
}
