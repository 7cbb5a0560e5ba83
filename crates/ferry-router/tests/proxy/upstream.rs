//! Behaviour 2: an instance that fails to answer is a 502 naming the service and a short reason.

use std::time::Duration;

use ferry_router::{Endpoint, RouterConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

fn bad_gateway(reason: &str) -> String {
    format!("ferry: the instance of service web failed to answer ({reason})\n")
}

/// A router that answers a request it could not send at once, without waiting for a new table (that wait is
/// `reconnect.rs`'s).
async fn impatient_proxy(connect_timeout: Duration) -> Proxy {
    Proxy::with_config(RouterConfig {
        connect_timeout,
        reconnect_wait: Duration::ZERO,
        ..RouterConfig::default()
    })
    .await
}

#[tokio::test]
async fn refused_connection_is_502() {
    let proxy = impatient_proxy(RouterConfig::default().connect_timeout).await;
    let dead = Endpoint::new("dead", closed_port().await);
    proxy.set(&[("web.localhost", serving("web", &[&dead]))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body, bad_gateway("connection refused"));
    assert!(is_generated_id(reply.request_id()));
    assert_eq!(dead.in_flight(), 0);
}

#[tokio::test]
async fn malformed_response_is_502() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("garbage", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"this is not http\r\n\r\n").await;
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body, bad_gateway("malformed response"));
    assert_eq!(endpoint.in_flight(), 0);
}

#[tokio::test]
async fn connection_closed_before_the_response_is_502() {
    // A GET a new connection closed on would wait for a new table (`reconnect.rs`): not here.
    let proxy = impatient_proxy(RouterConfig::default().connect_timeout).await;
    let (endpoint, _task) = raw_backend("closer", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        drop(stream);
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body, bad_gateway("connection closed before the response"));
}

#[tokio::test]
async fn reset_connection_is_502() {
    // A GET a new connection closed on would wait for a new table (`reconnect.rs`): not here.
    let proxy = impatient_proxy(RouterConfig::default().connect_timeout).await;
    let (endpoint, _task) = raw_backend("resetter", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        // Linger 0: closing sends RST instead of FIN.
        let _ = stream.set_zero_linger();
        drop(stream);
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body, bad_gateway("connection reset"));
}

#[tokio::test]
async fn connect_timeout_is_502() {
    // A connect hangs until the router's connect timeout.
    let (addr, _listener, _fillers) = unaccepting_listener().await;
    let proxy = impatient_proxy(Duration::from_millis(300)).await;
    let endpoint = Endpoint::new("stuck", addr);
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body, bad_gateway("connect timed out"));
}

#[tokio::test]
async fn a_status_line_without_a_reason_phrase_is_served() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("terse", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200\r\ncontent-length: 2\r\n\r\nok").await;
        let _ = stream.shutdown().await;
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);
    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn a_response_with_both_length_and_chunked_reaches_the_client_whole() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("both", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n",
            )
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);
    // Chunked framing wins (RFC 9112 §6.3) and the stale length is not passed on to frame the client's copy.
    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "abcdef"));
    assert!(reply.header("content-length").is_none_or(|len| len == "6"), "{:?}", reply.headers);
}
