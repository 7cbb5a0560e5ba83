//! Behaviour 9: what the router refuses or bounds so that a client cannot harm the instances or the router
//! itself: request smuggling, oversized heads and bodies, silent clients, too many connections.

use std::time::Duration;

use ferry_router::RouterConfig;
use http::Response;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// A backend that answers each request with the body it received.
async fn echo(id: &str) -> Backend {
    Backend::start(id, |req| async move {
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Response::new(full(body))
    })
    .await
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn content_length_beside_chunked_cannot_smuggle_a_second_request() {
    let proxy = Proxy::start().await;
    let mut web = echo("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    // CL.TE: a front end that believed Content-Length would pass the chunked terminator as the body and
    // the rest as a second request. The router frames by Transfer-Encoding (RFC 9112 §6.3), never forwards
    // the client's Content-Length, and closes the connection after answering, so the tail is never a request.
    let response = raw(
        proxy.addr,
        "POST / HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
         0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.localhost\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK", "{response}");
    assert_eq!(response.matches("HTTP/1.1").count(), 1, "one answer, then the connection closes: {response}");
    let seen = web.next_seen().await;
    assert_eq!(seen.uri.path(), "/");
    assert!(seen.headers.get("content-length").is_none(), "the client's Content-Length is not forwarded");
    assert_eq!(web.hits(), 1, "the smuggled request never reached the instance");

    // TE.CL: the chunked body is what the instance gets, whole, whatever Content-Length claimed.
    let response = raw(
        proxy.addr,
        "POST / HTTP/1.1\r\nHost: web.localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n\
         8\r\nSMUGGLED\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK", "{response}");
    assert!(response.ends_with("SMUGGLED"), "{response}");
    assert_eq!(web.hits(), 2);
}

#[tokio::test]
async fn ambiguous_framing_is_refused_with_400() {
    let proxy = Proxy::start().await;
    let web = echo("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    for (what, framing) in [
        ("two different lengths", "Content-Length: 3\r\nContent-Length: 4\r\n"),
        ("a list of lengths", "Content-Length: 3, 4\r\n"),
        ("a length that is not a number", "Content-Length: +3\r\n"),
        ("chunked not last", "Transfer-Encoding: chunked, gzip\r\n"),
        ("an unknown coding", "Transfer-Encoding: xchunked\r\n"),
        ("a space before the colon", "Transfer-Encoding : chunked\r\n"),
    ] {
        let response =
            raw(proxy.addr, &format!("POST / HTTP/1.1\r\nHost: web.localhost\r\n{framing}\r\nabcd")).await;
        assert_eq!(status_line(&response), "HTTP/1.1 400 Bad Request", "{what}: {response}");
    }
    let response =
        raw(proxy.addr, "POST / HTTP/1.0\r\nHost: web.localhost\r\nTransfer-Encoding: chunked\r\n\r\n").await;
    assert_eq!(status_line(&response), "HTTP/1.1 400 Bad Request", "chunked in HTTP/1.0: {response}");
    assert_eq!(web.hits(), 0, "nothing ambiguous reaches the instance");
}

#[tokio::test]
async fn an_oversized_request_head_is_431() {
    let proxy =
        Proxy::with_config(RouterConfig { max_header_bytes: 16 * 1024, ..RouterConfig::default() }).await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let big = "a".repeat(20 * 1024);
    let response =
        raw(proxy.addr, &format!("GET / HTTP/1.1\r\nHost: web.localhost\r\nX-Big: {big}\r\n\r\n")).await;
    assert_eq!(status_line(&response), "HTTP/1.1 431 Request Header Fields Too Large", "{response}");

    let many: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    let response = raw(proxy.addr, &format!("GET / HTTP/1.1\r\nHost: web.localhost\r\n{many}\r\n")).await;
    assert_eq!(status_line(&response), "HTTP/1.1 431 Request Header Fields Too Large", "{response}");
    assert_eq!(web.hits(), 0);

    // Just under the limit is fine.
    let fits = "a".repeat(12 * 1024);
    let response = raw(
        proxy.addr,
        &format!("GET / HTTP/1.1\r\nHost: web.localhost\r\nX-Big: {fits}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK", "{response}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_never_reaches_the_instance() {
    let proxy =
        Proxy::with_config(RouterConfig { max_body_bytes: Some(1024), ..RouterConfig::default() }).await;
    let web = echo("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let request = |len: usize| {
        http::Request::post("/").header("host", "web.localhost").body(full(vec![b'x'; len])).unwrap()
    };
    let reply = Reply::read(conn.send(request(2048)).await).await;
    assert_eq!(reply.status, 413);
    assert!(reply.body.contains("larger than the limit of 1024 bytes"), "{}", reply.body);
    assert_eq!(web.hits(), 0);

    let reply = Reply::read(Conn::open(proxy.addr).await.send(request(1024)).await).await;
    assert_eq!((reply.status.as_u16(), reply.body.len()), (200, 1024));
}

#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_is_disconnected() {
    let proxy = Proxy::with_config(RouterConfig {
        header_read_timeout: Duration::from_millis(200),
        ..RouterConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let mut out = Vec::new();
    within("the router to hang up", stream.read_to_end(&mut out)).await.unwrap();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let proxy = Proxy::with_config(RouterConfig { max_connections: 2, ..RouterConfig::default() }).await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let mut first = Conn::open(proxy.addr).await;
    let mut second = Conn::open(proxy.addr).await;
    assert_eq!(first.get("web.localhost", "/").await.status, 200);
    assert_eq!(second.get("web.localhost", "/").await.status, 200);

    // The third connection is made by the kernel (backlog) but the router does not take it yet.
    let mut third = TcpStream::connect(proxy.addr).await.unwrap();
    third.write_all(b"GET / HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(300), third.read_to_end(&mut out)).await;
    assert!(early.is_err(), "served beyond the cap: {}", String::from_utf8_lossy(&out));
    assert_eq!(web.hits(), 2);

    drop(first);
    within("the waiting connection to be served", third.read_to_end(&mut out)).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert_eq!(second.get("web.localhost", "/").await.status, 200);
}

#[tokio::test]
async fn a_streamed_body_that_grows_past_the_limit_is_413() {
    let proxy =
        Proxy::with_config(RouterConfig { max_body_bytes: Some(1024), ..RouterConfig::default() }).await;
    let web = echo("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    // No Content-Length: the router only learns the size as the chunks come.
    let (mut tx, body) = channel_body();
    let request = http::Request::post("/").header("host", "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(request).await).await });
    for _ in 0..4 {
        if tx.send_data(bytes::Bytes::from(vec![b'x'; 512])).await.is_err() {
            break;
        }
    }
    let reply = within("the response", response).await.unwrap();
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.body.contains("larger than the limit of 1024 bytes"), "{}", reply.body);
    drop(tx);
}
