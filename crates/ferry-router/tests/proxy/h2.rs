//! Behaviour 11: services that speak HTTP/2 (h2c, prior knowledge) get their requests over HTTP/2, on one
//! connection per instance shared by concurrent requests, with trailers passed back.

use std::sync::Arc;

use bytes::Bytes;
use ferry_router::{Protocol, ServiceRoute};
use http::header::{CONTENT_TYPE, HOST, TE};
use http::{HeaderMap, HeaderValue, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::Barrier;

use crate::support::*;

fn h2_route(endpoints: &[&Arc<ferry_router::Endpoint>]) -> Arc<ServiceRoute> {
    serving_with("grpc", endpoints, Protocol::Http2, ServiceRoute::DEFAULT_REQUEST_TIMEOUT)
}

/// Answers like a gRPC server: echoes the request body as the message, then `grpc-status: 0` as a trailer.
async fn grpc_echo(req: Request<Incoming>) -> Response<TestBody> {
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let (mut tx, reply) = channel_body();
    tokio::spawn(async move {
        tx.send_data(Bytes::from_static(b"echo: ")).await.unwrap();
        tx.send_data(body).await.unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        trailers.insert("grpc-message", HeaderValue::from_static("fine"));
        tx.send_trailers(trailers).await.unwrap();
    });
    Response::builder().header(CONTENT_TYPE, "application/grpc").body(reply).unwrap()
}

#[tokio::test]
async fn an_h2c_instance_gets_http2_and_the_client_gets_the_body_and_the_trailers() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::start_h2("g1", grpc_echo).await;
    proxy.set(&[("grpc.localhost", h2_route(&[&backend.endpoint]))]);

    let req = Request::post("/echo.Echo/Say?x=1")
        .header(HOST, "grpc.localhost:8080")
        .header(TE, "trailers")
        .header(CONTENT_TYPE, "application/grpc")
        .header("connection", "keep-alive")
        .header("x-forwarded-for", "10.0.0.1")
        .body(full("ping"))
        .unwrap();
    let response = Conn::open(proxy.addr).await.send(req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert!(response.headers().contains_key("x-request-id"));
    let collected = within("the body", response.into_body().collect()).await.unwrap();
    let trailers =
        collected.trailers().cloned().expect("trailers reach an HTTP/1.1 client that asked for them");
    assert_eq!(collected.to_bytes(), "echo: ping");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "fine");

    let seen = backend.next_seen().await;
    assert_eq!(seen.version, Version::HTTP_2);
    assert_eq!(seen.uri.to_string(), "http://grpc.localhost:8080/echo.Echo/Say?x=1");
    assert_eq!(seen.headers["te"], "trailers", "gRPC needs te: trailers");
    assert!(!seen.headers.contains_key("connection"));
    assert!(!seen.headers.contains_key("host"), "the host travels as :authority");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1", "the client's is replaced");
    assert_eq!(seen.headers["x-real-ip"], "127.0.0.1");
    assert_eq!(seen.headers["forwarded"], "for=127.0.0.1;proto=http;host=\"grpc.localhost:8080\"");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-host"], "grpc.localhost:8080");
    assert!(is_generated_id(seen.headers["x-request-id"].to_str().unwrap()));
}

#[tokio::test]
async fn a_client_that_does_not_accept_trailers_still_gets_the_body() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::start_h2("g1", grpc_echo).await;
    proxy.set(&[("grpc.localhost", h2_route(&[&backend.endpoint]))]);

    let req = Request::post("/").header(HOST, "grpc.localhost").body(full("no te")).unwrap();
    let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "echo: no te");
    assert!(!backend.next_seen().await.headers.contains_key("te"));
}

#[tokio::test]
async fn concurrent_requests_share_one_connection_and_a_closed_one_is_replaced() {
    const REQUESTS: usize = 8;
    let proxy = Proxy::start().await;
    // Every request waits until all of them have arrived: they are in flight together.
    let barrier = Arc::new(Barrier::new(REQUESTS));
    let backend = Backend::start_h2("g1", move |req| {
        let barrier = Arc::clone(&barrier);
        async move {
            if req.uri().path() == "/together" {
                barrier.wait().await;
            }
            Response::new(full("ok"))
        }
    })
    .await;
    proxy.set(&[("grpc.localhost", h2_route(&[&backend.endpoint]))]);

    let addr = proxy.addr;
    let requests: Vec<_> = (0..REQUESTS)
        .map(|_| tokio::spawn(async move { fetch(addr, "grpc.localhost", "/together").await }))
        .collect();
    for request in requests {
        let reply = within("a concurrent request", request).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok"));
    }
    assert_eq!(backend.connections(), 1, "one HTTP/2 connection carries every request");
    assert_eq!(backend.hits(), REQUESTS);

    // The instance closes the connection; the next request opens a new one.
    backend.drop_connections();
    let reply = fetch(addr, "grpc.localhost", "/again").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok"));
    assert_eq!(backend.connections(), 2);
}

#[tokio::test]
async fn a_refused_h2_connection_is_retried_on_another_instance() {
    let proxy = Proxy::start().await;
    let dead = ferry_router::Endpoint::new("dead", closed_port().await);
    let backend = Backend::start_h2("g2", |_req| async { Response::new(full("alive")) }).await;
    proxy.set(&[("grpc.localhost", h2_route(&[&dead, &backend.endpoint]))]);
    for _ in 0..4 {
        let reply = fetch(proxy.addr, "grpc.localhost", "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "alive"));
    }
}

#[tokio::test]
async fn an_http1_only_instance_behind_an_http2_route_is_a_502() {
    let proxy = Proxy::start().await;
    let backend = Backend::hello("h1").await;
    proxy.set(&[("grpc.localhost", h2_route(&[&backend.endpoint]))]);
    let reply = within("the 502", fetch(proxy.addr, "grpc.localhost", "/")).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.starts_with("ferry: the instance of service grpc failed to answer"), "{}", reply.body);
}

#[tokio::test]
async fn a_streamed_upload_past_the_body_limit_is_413_on_an_h2c_route_too() {
    let proxy = Proxy::with_config(ferry_router::RouterConfig {
        max_body_bytes: Some(1024),
        ..ferry_router::RouterConfig::default()
    })
    .await;
    let backend = Backend::start_h2("g1", grpc_echo).await;
    proxy.set(&[("grpc.localhost", h2_route(&[&backend.endpoint]))]);

    // Within the limit, streamed without a length: served.
    let (mut tx, body) = channel_body();
    let req = Request::post("/up").header(HOST, "grpc.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(req).await).await });
    tx.send_data(Bytes::from(vec![b'x'; 1024])).await.unwrap();
    drop(tx);
    let reply = within("the response", response).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.len()), (200, 6 + 1024));

    // Past it: cut, and the client is told why.
    let (mut tx, body) = channel_body();
    let req = Request::post("/up").header(HOST, "grpc.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(req).await).await });
    for _ in 0..4 {
        if tx.send_data(Bytes::from(vec![b'x'; 512])).await.is_err() {
            break;
        }
    }
    let reply = within("the response", response).await.unwrap();
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.body.contains("larger than the limit of 1024 bytes"), "{}", reply.body);
    drop(tx);
}
