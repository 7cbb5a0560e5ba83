//! Behaviour 10: the upstream client speaks HTTP/1.1 to instances correctly and reuses only clean connections.
//!
//! The instances here are raw TCP servers with scripted answers, so each test controls the exact bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use ferry_router::Endpoint;
use http::header::{CONTENT_LENGTH, HOST};
use http::{Method, Request};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::support::*;

/// An instance that answers every request on a connection with `answer(n)`, `n` counting requests across
/// connections, and hangs up after an answer containing `connection: close`. Request bodies with a
/// `content-length` are read and dropped. Returns the endpoint and the number of connections accepted.
async fn scripted(answer: fn(usize) -> Vec<u8>) -> (Arc<Endpoint>, Arc<AtomicUsize>) {
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let (endpoint, task) = raw_backend("scripted", move |mut stream: TcpStream| {
        counter.fetch_add(1, Ordering::SeqCst);
        let requests = Arc::clone(&requests);
        async move {
            loop {
                let Some(head) = try_read_head(&mut stream).await else { return };
                let length = content_length(&head);
                let mut body = vec![0u8; length];
                stream.read_exact(&mut body).await.unwrap();
                let reply = answer(requests.fetch_add(1, Ordering::SeqCst));
                stream.write_all(&reply).await.unwrap();
                if String::from_utf8_lossy(&reply).to_ascii_lowercase().contains("connection: close") {
                    return;
                }
            }
        }
    })
    .await;
    // The task ends with the runtime of the test.
    drop(task);
    (endpoint, connections)
}

/// Like [`read_head`], but `None` if the connection closes before a head starts.
async fn try_read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8(head).unwrap())
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
        })
        .map_or(0, |v| v.parse().unwrap())
}

fn ok(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn web(endpoint: &Arc<Endpoint>) -> [(&'static str, Arc<ferry_router::ServiceRoute>); 1] {
    [("web.localhost", serving("web", &[endpoint]))]
}

#[tokio::test]
async fn sequential_requests_share_one_pooled_connection() {
    let proxy = Proxy::start().await;
    let (endpoint, connections) = scripted(|n| ok(&format!("answer {n}"))).await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    for n in 0..5 {
        assert_eq!(conn.get("web.localhost", "/").await.body, format!("answer {n}"));
        assert_eq!(endpoint.idle_connections(), 1, "the connection is back in the pool after each response");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pooled_connection_the_instance_closed_while_idle_is_replaced() {
    let proxy = Proxy::start().await;
    // Every answer keeps the connection alive in words, but the instance hangs up right after it.
    let (endpoint, task) = raw_backend("closer", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(&ok("once")).await;
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..5 {
        // Whether the router notices the close before reuse or only when the reused connection fails, a GET
        // still gets its answer.
        assert_eq!(conn.get("web.localhost", "/").await.body, "once");
    }
    drop(task);
}

#[tokio::test]
async fn chunked_responses_are_decoded_and_the_connection_reused() {
    let proxy = Proxy::start().await;
    let (endpoint, connections) = scripted(|_| {
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n\
          5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-sum: 12\r\n\r\n"
            .to_vec()
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..3 {
        let reply = conn.get("web.localhost", "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello, world"));
        assert!(!reply.headers.contains_key("trailer"));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn head_204_and_304_have_no_body_and_keep_the_connection() {
    let proxy = Proxy::start().await;
    let (endpoint, connections) = scripted(|n| match n % 3 {
        // A HEAD answer announces the length of the body it does not send.
        0 => b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_vec(),
        1 => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        _ => b"HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\n\r\n".to_vec(),
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    let head = Request::head("/").header(HOST, "web.localhost").body(empty()).unwrap();
    let reply = Reply::read(conn.send(head).await).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, ""));
    assert_eq!(reply.header("content-length"), Some("1000"));
    let reply = conn.get("web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (204, ""));
    let reply = conn.get("web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.header("etag")), (304, Some("\"x\"")));
    assert_eq!(connections.load(Ordering::SeqCst), 1, "no answer left the connection unusable");
}

#[tokio::test]
async fn connection_close_from_the_instance_is_honoured() {
    let proxy = Proxy::start().await;
    let (endpoint, connections) =
        scripted(|_| b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye".to_vec()).await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..3 {
        let reply = conn.get("web.localhost", "/").await;
        assert_eq!(reply.body, "bye");
        assert!(!reply.headers.contains_key("connection"), "the instance's connection header is its own");
        assert_eq!(endpoint.idle_connections(), 0);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3, "a new connection for every request");
    assert!(!conn.is_closed(), "the client's connection stays open");
}

#[tokio::test]
async fn a_body_read_until_close_is_passed_on_whole() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("eof", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil ").await;
        let _ = stream.write_all(b"the end").await;
    })
    .await;
    proxy.set(&web(&endpoint));

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.body, "until the end");
    assert_eq!(endpoint.idle_connections(), 0);
}

#[tokio::test]
async fn an_instance_that_closes_mid_body_fails_the_response() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("short", |mut stream: TcpStream| async move {
        let head = read_head(&mut stream).await;
        let reply: &[u8] = if head.contains("/chunked") {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwor"
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b"
        };
        let _ = stream.write_all(reply).await;
    })
    .await;
    proxy.set(&web(&endpoint));

    for path in ["/length", "/chunked"] {
        let mut conn = Conn::open(proxy.addr).await;
        // hyper may abort the client's connection before or after flushing the head; either way the client
        // must see a failure.
        if let Ok(response) = conn.try_send(get("web.localhost", path)).await {
            assert_eq!(response.status(), 200);
            let body = within("the body to fail", response.into_body().collect()).await;
            assert!(body.is_err(), "{path}: a truncated body must not look complete");
        }
    }
    eventually("in-flight to go back to 0", || endpoint.in_flight() == 0).await;
    assert_eq!(endpoint.idle_connections(), 0);
}

#[tokio::test]
async fn a_body_the_client_abandons_does_not_return_its_connection() {
    let proxy = Proxy::start().await;
    let (sent_tx, mut sent) = mpsc::unbounded_channel();
    let (endpoint, _task) = raw_backend("big", move |mut stream: TcpStream| {
        let sent_tx = sent_tx.clone();
        async move {
            read_head(&mut stream).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nfirst").await;
            let _ = sent_tx.send(());
            // The rest never comes; the connection stays open until the router drops it.
            let _ = stream.read(&mut [0u8; 1]).await;
        }
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(get("web.localhost", "/")).await;
    within("the instance to write", sent.recv()).await.unwrap();
    let mut body = response.into_body();
    let frame = within("the first bytes", body.frame()).await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "first");
    drop(body);
    drop(conn);
    eventually("in-flight to go back to 0", || endpoint.in_flight() == 0).await;
    assert_eq!(endpoint.idle_connections(), 0, "a connection in the middle of a body is never reused");
}

#[tokio::test]
async fn request_bodies_stream_up_with_their_framing() {
    let proxy = Proxy::start().await;
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    let (endpoint, _task) = raw_backend("echo", move |mut stream: TcpStream| {
        let heads_tx = heads_tx.clone();
        async move {
            let head = read_head(&mut stream).await.to_ascii_lowercase();
            let body = if head.contains("transfer-encoding: chunked") {
                let mut raw = Vec::new();
                while !raw.ends_with(b"0\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    stream.read_exact(&mut byte).await.unwrap();
                    raw.push(byte[0]);
                }
                raw
            } else {
                let mut body = vec![0u8; content_length(&head)];
                stream.read_exact(&mut body).await.unwrap();
                body
            };
            let _ = heads_tx.send(head);
            let _ = stream.write_all(&ok(&String::from_utf8(body).unwrap())).await;
        }
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    let req = Request::post("/").header(HOST, "web.localhost").body(full("known length")).unwrap();
    assert_eq!(Reply::read(conn.send(req).await).await.body, "known length");
    let head = heads.recv().await.unwrap();
    assert!(head.contains("content-length: 12\r\n") && !head.contains("transfer-encoding"), "{head}");

    // Without a body, the framing follows what the client said: `Content-Length: 0` stays, nothing is added.
    let req =
        Request::post("/").header(HOST, "web.localhost").header(CONTENT_LENGTH, "0").body(full("")).unwrap();
    assert_eq!(Reply::read(conn.send(req).await).await.body, "");
    let head = heads.recv().await.unwrap();
    assert!(head.contains("content-length: 0\r\n") && !head.contains("transfer-encoding"), "{head}");
    let req = Request::get("/").header(HOST, "web.localhost").body(full("")).unwrap();
    assert_eq!(Reply::read(conn.send(req).await).await.body, "");
    let head = heads.recv().await.unwrap();
    assert!(!head.contains("content-length") && !head.contains("transfer-encoding"), "{head}");

    let (mut tx, body) = channel_body();
    let req = Request::put("/").header(HOST, "web.localhost").body(body).unwrap();
    let response = tokio::spawn(async move { Reply::read(conn.send(req).await).await });
    tx.send_data(Bytes::from_static(b"stream")).await.unwrap();
    tx.send_data(Bytes::from_static(b"ed")).await.unwrap();
    drop(tx);
    let reply = within("the streamed upload", response).await.unwrap();
    assert_eq!(reply.body, "6\r\nstream\r\n2\r\ned\r\n0\r\n\r\n", "chunks pass through as sent");
    let head = heads.recv().await.unwrap();
    assert!(head.contains("transfer-encoding: chunked\r\n") && !head.contains("content-length"), "{head}");
}

#[tokio::test]
async fn interim_100_continue_is_skipped() {
    let proxy = Proxy::start().await;
    let (endpoint, connections) = scripted(|_| {
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone".to_vec()
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..2 {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(HOST, "web.localhost")
            .header("expect", "100-continue")
            .body(full("data"))
            .unwrap();
        let reply = Reply::read(conn.send(req).await).await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (201, "done"));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_is_passed_on() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("refuser", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig").await;
        // Keep reading so the router's writes do not fail.
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    proxy.set(&web(&endpoint));

    let (mut tx, body) = channel_body();
    let req = Request::post("/").header(HOST, "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { conn.send(req).await.status() });
    tx.send_data(Bytes::from_static(b"some of it")).await.unwrap();
    // The upload is still open when the answer arrives.
    let status = within("the early answer", response).await.unwrap();
    assert_eq!(status, 413);
    drop(tx);
    eventually("in-flight to go back to 0", || endpoint.in_flight() == 0).await;
    assert_eq!(endpoint.idle_connections(), 0, "a connection whose request was cut short is not reused");
}

#[tokio::test]
async fn bytes_the_instance_sends_right_after_a_101_reach_the_client() {
    let proxy = Proxy::start().await;
    let (endpoint, _task) = raw_backend("eager", |mut stream: TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: eager\r\n\r\nhello",
            )
            .await;
        let mut echo = [0u8; 4];
        if stream.read_exact(&mut echo).await.is_ok() {
            let _ = stream.write_all(&echo).await;
        }
    })
    .await;
    proxy.set(&web(&endpoint));

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: web.localhost\r\nConnection: upgrade\r\nUpgrade: eager\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut early = [0u8; 5];
    within("the early bytes", stream.read_exact(&mut early)).await.unwrap();
    assert_eq!(&early, b"hello");
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    within("the echo", stream.read_exact(&mut echo)).await.unwrap();
    assert_eq!(&echo, b"ping");
}
