//! Behaviour 4: only a request that was never sent is retried, and then on another instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferry_router::Endpoint;
use http::Request;
use http::Response;
use http::header::HOST;
use http_body_util::BodyExt;
use tokio::net::TcpStream;

use crate::support::*;

/// A backend that echoes the request body.
async fn echo(id: &str) -> Backend {
    Backend::start(id, |req| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Response::new(full(body))
    })
    .await
}

#[tokio::test]
async fn connect_failure_is_retried_on_another_instance_with_the_body() {
    let proxy = Proxy::start().await;
    let dead = Endpoint::new("dead", closed_port().await);
    let live = echo("live").await;
    proxy.set(&[("web.localhost", serving("web", &[&dead, &live.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    for i in 0..30 {
        let payload = format!("payload {i}");
        let req = Request::post("/echo").header(HOST, "web.localhost").body(full(payload.clone())).unwrap();
        let reply = Reply::read(conn.send(req).await).await;
        assert_eq!((reply.status.as_u16(), reply.body), (200, payload));
    }
    // Without the retry about half of these would have been 502s.
    assert_eq!(live.hits(), 30);
    assert_eq!((dead.in_flight(), live.endpoint.in_flight()), (0, 0));
}

#[tokio::test]
async fn a_request_that_was_sent_is_never_retried() {
    let proxy = Proxy::start().await;
    // Reads the whole request head, then hangs up without answering.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    let (closer, _task) = raw_backend("closer", move |mut stream: TcpStream| {
        let counter = Arc::clone(&counter);
        async move {
            read_head(&mut stream).await;
            counter.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    let live = echo("live").await;
    proxy.set(&[("web.localhost", serving("web", &[&closer, &live.endpoint]))]);

    let mut bad_gateways = 0;
    for i in 0..30 {
        let req = Request::post("/").header(HOST, "web.localhost").body(full(format!("{i}"))).unwrap();
        let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
        match reply.status.as_u16() {
            200 => assert_eq!(reply.body, format!("{i}")),
            502 => bad_gateways += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    let received = received.load(Ordering::SeqCst);
    assert!(received > 0, "the closing instance was never chosen");
    assert_eq!(bad_gateways, received, "every request the closer received failed, none was retried");
    assert_eq!(live.hits() + received, 30);
}
