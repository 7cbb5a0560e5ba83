//! Behaviour 12: the request timeout bounds the wait for the response head (504 after it), never a body that
//! is streaming.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry_router::{Endpoint, Protocol, ServiceRoute};
use http::Response;
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use crate::support::*;

/// Short enough for a test, long enough that a loaded machine answers a prompt request within it.
const TIMEOUT: Duration = Duration::from_millis(300);

fn route_with_timeout(protocol: Protocol, endpoints: &[&Arc<Endpoint>]) -> Arc<ServiceRoute> {
    serving_with("slow", endpoints, protocol, TIMEOUT)
}

async fn a_late_head_is_a_504(protocol: Protocol) {
    let proxy = Proxy::start().await;
    // The head never comes.
    let handler = |_req| std::future::pending::<Response<TestBody>>();
    let backend = match protocol {
        Protocol::Http1 => Backend::start("never", handler).await,
        Protocol::Http2 => Backend::start_h2("never", handler).await,
    };
    proxy.set(&[("slow.localhost", route_with_timeout(protocol, &[&backend.endpoint]))]);

    let reply = fetch(proxy.addr, "slow.localhost", "/").await;
    assert_eq!(reply.status, 504);
    assert_eq!(
        reply.body,
        "ferry: the instance of service slow did not answer within the request timeout of 300 ms\n"
    );
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    eventually("the instance to be released", || backend.endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn a_head_later_than_the_timeout_is_a_504_over_http1() {
    a_late_head_is_a_504(Protocol::Http1).await;
}

#[tokio::test]
async fn a_head_later_than_the_timeout_is_a_504_over_http2() {
    a_late_head_is_a_504(Protocol::Http2).await;
}

/// A server-sent-events-like response: the head at once, then one event per message the test sends, with
/// pauses longer than the timeout between them.
async fn a_stream_outlives_the_timeout(protocol: Protocol) {
    let proxy = Proxy::start().await;
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Option<Bytes>>();
    let events_rx = Arc::new(tokio::sync::Mutex::new(Some(events_rx)));
    let handler = move |_req| {
        let events_rx = Arc::clone(&events_rx);
        async move {
            let mut events = events_rx.lock().await.take().expect("one request");
            let (mut tx, body) = channel_body();
            tokio::spawn(async move {
                while let Some(Some(event)) = events.recv().await {
                    tx.send_data(event).await.unwrap();
                }
            });
            Response::builder().header("content-type", "text/event-stream").body(body).unwrap()
        }
    };
    let backend = match protocol {
        Protocol::Http1 => Backend::start("events", handler).await,
        Protocol::Http2 => Backend::start_h2("events", handler).await,
    };
    proxy.set(&[("slow.localhost", route_with_timeout(protocol, &[&backend.endpoint]))]);

    let response = Conn::open(proxy.addr).await.send(get("slow.localhost", "/events")).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    for n in 0..3 {
        // The pause is the behaviour under test: the stream stays quiet for longer than the timeout.
        tokio::time::sleep(TIMEOUT * 2).await;
        events_tx.send(Some(Bytes::from(format!("data: {n}\n\n")))).unwrap();
        let frame = within("an event", body.frame()).await.expect("the stream goes on").unwrap();
        assert_eq!(frame.into_data().unwrap(), format!("data: {n}\n\n"));
    }
    events_tx.send(None).unwrap();
    let rest = within("the end of the stream", body.collect()).await.unwrap().to_bytes();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_streaming_body_is_not_cut_by_the_timeout_over_http1() {
    a_stream_outlives_the_timeout(Protocol::Http1).await;
}

#[tokio::test]
async fn a_streaming_body_is_not_cut_by_the_timeout_over_http2() {
    a_stream_outlives_the_timeout(Protocol::Http2).await;
}

#[tokio::test]
async fn a_client_still_uploading_when_the_timeout_runs_out_gets_408_not_504() {
    let proxy = Proxy::start().await;
    let web = Backend::start("reader", |req| async move {
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Response::new(full(body))
    })
    .await;
    proxy.set(&[("slow.localhost", route_with_timeout(Protocol::Http1, &[&web.endpoint]))]);

    // The instance is waiting for the body; the client sends a first chunk and then stalls.
    let (mut tx, body) = channel_body();
    let req = http::Request::post("/").header("host", "slow.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(req).await).await });
    tx.send_data(Bytes::from_static(b"first")).await.unwrap();
    let reply = within("the router's answer", response).await.unwrap();
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(reply.body.contains("request body did not arrive within the request timeout"), "{}", reply.body);
    drop(tx);
}
