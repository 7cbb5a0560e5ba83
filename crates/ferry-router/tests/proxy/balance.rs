//! Behaviour 3: least outstanding requests by two random choices, and in-flight counting.

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use tokio::sync::{Semaphore, mpsc};

use crate::support::*;

/// A backend that answers `/fast` at once and holds `/slow` until the test adds a permit to `release`.
async fn holding_backend(id: &str, release: Arc<Semaphore>) -> Backend {
    let body = id.to_owned();
    Backend::start(id, move |req| {
        let (release, body) = (Arc::clone(&release), body.clone());
        async move {
            if req.uri().path() == "/slow" {
                release.acquire().await.unwrap().forget();
            }
            Response::new(full(body))
        }
    })
    .await
}

#[tokio::test]
async fn requests_spread_over_idle_instances() {
    let proxy = Proxy::start().await;
    let a = Backend::hello("a").await;
    let b = Backend::hello("b").await;
    proxy.set(&[("web.localhost", serving("web", &[&a.endpoint, &b.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..40 {
        assert_eq!(conn.get("web.localhost", "/").await.status, 200);
    }
    // Ties between idle instances are broken at random: both get some (odds of failing: 2 in 2^40).
    assert_eq!(a.hits() + b.hits(), 40);
    assert!(a.hits() > 0 && b.hits() > 0, "a {} b {}", a.hits(), b.hits());
}

#[tokio::test]
async fn new_requests_go_to_the_less_loaded_instance() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let a = holding_backend("a", Arc::clone(&release)).await;
    let b = holding_backend("b", Arc::clone(&release)).await;
    proxy.set(&[("web.localhost", serving("web", &[&a.endpoint, &b.endpoint]))]);

    let addr = proxy.addr;
    let slow = tokio::spawn(async move { fetch(addr, "web.localhost", "/slow").await });
    eventually("the slow request to reach an instance", || a.hits() + b.hits() == 1).await;
    let (busy, idle) = if a.hits() == 1 { (&a, &b) } else { (&b, &a) };
    assert_eq!(busy.endpoint.in_flight(), 1);

    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..20 {
        let reply = conn.get("web.localhost", "/fast").await;
        assert_eq!(reply.body, idle.endpoint.id(), "the busy instance must not be chosen");
    }
    assert_eq!(busy.hits(), 1);

    release.add_permits(1);
    let reply = within("the slow request", slow).await.unwrap();
    assert_eq!(reply.body, busy.endpoint.id());
    eventually("in-flight to go back to 0", || busy.endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn a_request_is_in_flight_until_its_body_is_sent() {
    let proxy = Proxy::start().await;
    let (body_tx, mut body_rx) = mpsc::unbounded_channel();
    let backend = Backend::start("stream", move |_req| {
        let (tx, body) = channel_body();
        let _ = body_tx.send(tx);
        async move { Response::new(body) }
    })
    .await;
    let endpoint = Arc::clone(&backend.endpoint);
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);
    assert_eq!(endpoint.in_flight(), 0);

    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(get("web.localhost", "/")).await;
    let mut tx = within("the backend's body sender", body_rx.recv()).await.unwrap();
    // The head has arrived; the body is still open.
    assert_eq!(endpoint.in_flight(), 1);
    tx.send_data(Bytes::from_static(b"part")).await.unwrap();
    assert_eq!(endpoint.in_flight(), 1);
    drop(tx);
    let reply = Reply::read(response).await;
    assert_eq!(reply.body, "part");
    eventually("in-flight to go back to 0 after the body", || endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn a_request_stops_counting_when_the_client_abandons_the_body() {
    let proxy = Proxy::start().await;
    let (body_tx, mut body_rx) = mpsc::unbounded_channel();
    let backend = Backend::start("stream", move |_req| {
        let (tx, body) = channel_body();
        let _ = body_tx.send(tx);
        async move { Response::new(body) }
    })
    .await;
    let endpoint = Arc::clone(&backend.endpoint);
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(get("web.localhost", "/")).await;
    let mut tx = within("the backend's body sender", body_rx.recv()).await.unwrap();
    tx.send_data(Bytes::from_static(b"part")).await.unwrap();
    assert_eq!(endpoint.in_flight(), 1);
    // The client goes away mid-body; the instance never finishes.
    drop(response);
    drop(conn);
    eventually("in-flight to go back to 0 after the client left", || endpoint.in_flight() == 0).await;
    drop(tx);
}
