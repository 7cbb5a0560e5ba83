//! Behaviour 10: clients speaking HTTP/2 with prior knowledge (h2c) on the same port as HTTP/1.1.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use crate::support::*;

async fn read(response: Response<Incoming>) -> (StatusCode, Version, String) {
    let (parts, body) = response.into_parts();
    let body = within("a response body", body.collect()).await.unwrap().to_bytes();
    (parts.status, parts.version, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn an_http2_client_is_served_on_the_http1_port() {
    let proxy = Proxy::start().await;
    let mut web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let mut h2 = h2_connect(proxy.addr).await;
    let request = Request::get("http://web.localhost/path?q=1").body(empty()).unwrap();
    let response = within("a response", h2.send_request(request)).await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(read(response).await, (StatusCode::OK, Version::HTTP_2, "web-1".to_owned()));

    // The instance gets plain HTTP/1.1, with the authority as Host and the usual forwarding headers.
    let seen = web.next_seen().await;
    assert_eq!(seen.version, Version::HTTP_11);
    assert_eq!(seen.uri, "/path?q=1");
    assert_eq!(seen.headers["host"], "web.localhost");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");

    // The same port still speaks HTTP/1.1.
    assert_eq!(fetch(proxy.addr, "web.localhost", "/").await.body, "web-1");
}

#[tokio::test]
async fn http2_streams_share_one_connection_concurrently() {
    const STREAMS: usize = 8;
    let proxy = Proxy::start().await;
    // Every request waits until all of them have arrived: only concurrent streams can finish.
    let all_arrived = Arc::new(Barrier::new(STREAMS));
    let web = Backend::start("web-1", move |req| {
        let all_arrived = Arc::clone(&all_arrived);
        async move {
            all_arrived.wait().await;
            Response::new(full(req.uri().path().to_owned()))
        }
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let h2 = h2_connect(proxy.addr).await;
    let requests = (0..STREAMS).map(|i| {
        let mut h2 = h2.clone();
        tokio::spawn(async move {
            let request = Request::get(format!("http://web.localhost/{i}")).body(empty()).unwrap();
            read(h2.send_request(request).await.unwrap()).await
        })
    });
    let replies = within("every stream", futures_join(requests.collect())).await;
    for (i, (status, _, body)) in replies.into_iter().enumerate() {
        assert_eq!((status, body), (StatusCode::OK, format!("/{i}")));
    }
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn an_http2_request_body_streams_to_the_instance() {
    let proxy = Proxy::start().await;
    let web = Backend::start("web-1", |req| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Response::new(full(format!("{} bytes", body.len())))
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let mut h2 = h2_connect(proxy.addr).await;
    // Without a content-length: the router sends it on chunked.
    let (tx, body) = channel_body();
    let request = Request::post("http://web.localhost/upload").body(body).unwrap();
    let response = tokio::spawn(async move { read(h2.send_request(request).await.unwrap()).await });
    let mut tx = tx;
    for _ in 0..16 {
        tx.send_data(Bytes::from(vec![b'x'; 4096])).await.unwrap();
    }
    drop(tx);
    let (status, _, body) = within("the response", response).await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "65536 bytes"));
}

#[tokio::test]
async fn the_routers_own_answers_reach_http2_clients() {
    let proxy = Proxy::start().await;
    let mut h2 = h2_connect(proxy.addr).await;
    let request = Request::get("http://nowhere.localhost/").body(empty()).unwrap();
    let (status, _, body) = read(within("a response", h2.send_request(request)).await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("nowhere.localhost"), "{body}");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let proxy = Proxy::with_config(ferry_router::RouterConfig {
        header_read_timeout: std::time::Duration::from_millis(300),
        ..ferry_router::RouterConfig::default()
    })
    .await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(conn);
    let request = Request::get("http://web.localhost/").body(empty()).unwrap();
    let (status, _, body) = read(within("a response", h2.send_request(request)).await.unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "web-1"));

    // No stream for a whole idle period: the router sends GOAWAY and the connection ends.
    within("the idle connection to be closed", conn).await.unwrap().unwrap();
    assert!(h2.is_closed());
}

#[tokio::test]
async fn cookies_an_http2_client_splits_reach_the_instance_as_one_line() {
    let proxy = Proxy::start().await;
    let mut web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let mut h2 = h2_connect(proxy.addr).await;
    let request = Request::get("http://web.localhost/")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(empty())
        .unwrap();
    let (status, _, _) = read(within("a response", h2.send_request(request)).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let seen = web.next_seen().await;
    let cookies: Vec<_> = seen.headers.get_all("cookie").iter().collect();
    assert_eq!(cookies, ["a=1; b=2"]);
}

/// A stream whose first write sends a single byte: the client's first segment is a strict prefix of `PRI`.
struct OneByteFirst {
    io: TcpStream,
    first: bool,
}

impl tokio::io::AsyncRead for OneByteFirst {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for OneByteFirst {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let take = if std::mem::take(&mut self.first) { buf.len().min(1) } else { buf.len() };
        std::pin::Pin::new(&mut self.io).poll_write(cx, &buf[..take])
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn an_http2_preface_split_after_its_first_byte_is_still_http2() {
    let proxy = Proxy::start().await;
    let backend = Backend::hello("a").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let io = OneByteFirst { io: stream, first: true };
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await.unwrap();
    tokio::spawn(conn);
    let response = within("an answer", sender.send_request(get("web.localhost", "/"))).await.unwrap();
    assert_eq!(read(response).await, (StatusCode::OK, Version::HTTP_2, "a".to_owned()));
}

/// Requests that arrive together with the connection's first bytes are all served, in order.
#[tokio::test]
async fn pipelined_http1_requests_in_the_first_segment_are_all_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = Proxy::start().await;
    let backend =
        Backend::start("a", |req| async move { Response::new(full(req.uri().path().to_owned())) }).await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /one HTTP/1.1\r\nHost: web.localhost\r\n\r\n\
              GET /two HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    within("both answers", stream.read_to_end(&mut out)).await.unwrap();
    let out = String::from_utf8_lossy(&out);
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{out}");
    let (one, two) = (out.find("\r\n\r\n/one").unwrap(), out.find("\r\n\r\n/two").unwrap());
    assert!(one < two, "{out}");
}

/// A client that closes after a fragment of a request line gets nothing and costs nothing.
#[tokio::test]
async fn a_client_that_closes_after_a_fragment_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = Proxy::start().await;
    for fragment in [&b"P"[..], b"GE"] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(fragment).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut out = Vec::new();
        within("the router to close", stream.read_to_end(&mut out)).await.unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    }
    let reply = fetch(proxy.addr, "nowhere.localhost", "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "the router still serves");
}
