//! Behaviour 17: the router's own answers reach gRPC clients as gRPC errors ("Trailers-Only": HTTP 200,
//! `grpc-status` and `grpc-message` in the headers, no body); other clients keep the plain-text answers.

use std::sync::Arc;
use std::time::Duration;

use ferry_router::{Capacity, Protocol, RouteTarget};
use http::header::CONTENT_TYPE;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::Semaphore;

use crate::support::*;

/// A gRPC call as a gRPC client makes it: HTTP/2 with prior knowledge, `content-type: application/grpc`.
fn grpc_call(host: &str) -> Request<TestBody> {
    Request::post(format!("http://{host}/echo.Echo/Say"))
        .header(CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .body(full(&b"\0\0\0\0\0"[..]))
        .unwrap()
}

/// What a gRPC client reads of a Trailers-Only answer.
#[derive(Debug, PartialEq, Eq)]
struct GrpcError {
    status: String,
    message: String,
}

/// Checks that `response` is a Trailers-Only gRPC answer (200, gRPC content type, nothing after the headers)
/// and returns its status and message.
async fn grpc_error(response: Response<Incoming>) -> GrpcError {
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/grpc");
    assert!(headers.contains_key("x-request-id"));
    let body = within("the end of the stream", response.into_body().collect()).await.unwrap();
    assert!(body.trailers().is_none(), "the status travels in the headers");
    assert!(body.to_bytes().is_empty(), "a Trailers-Only answer has no body");
    let text = |name: &str| headers[name].to_str().unwrap().to_owned();
    GrpcError { status: text("grpc-status"), message: text("grpc-message") }
}

fn error(status: u8, message: &str) -> GrpcError {
    GrpcError { status: status.to_string(), message: message.to_owned() }
}

#[tokio::test]
async fn a_call_to_an_unknown_host_is_unimplemented() {
    let proxy = Proxy::start().await;
    let mut h2 = h2_connect(proxy.addr).await;
    let response = within("an answer", h2.send_request(grpc_call("nowhere.localhost"))).await.unwrap();
    assert_eq!(
        grpc_error(response).await,
        error(12, "ferry: no service is configured for host nowhere.localhost")
    );
}

#[tokio::test]
async fn a_call_to_a_paused_service_is_unavailable() {
    let proxy = Proxy::start().await;
    proxy.set(&[("grpc.localhost", route("grpc", RouteTarget::Paused))]);
    let mut h2 = h2_connect(proxy.addr).await;
    let response = within("an answer", h2.send_request(grpc_call("grpc.localhost"))).await.unwrap();
    assert_eq!(grpc_error(response).await, error(14, "ferry: service grpc is paused"));
}

#[tokio::test]
async fn a_call_the_instance_does_not_answer_in_time_is_deadline_exceeded() {
    let proxy = Proxy::start().await;
    let backend = Backend::start_h2("never", |_req| std::future::pending::<Response<TestBody>>()).await;
    let timeout = Duration::from_millis(300);
    proxy.set(&[("grpc.localhost", serving_with("grpc", &[&backend.endpoint], Protocol::Http2, timeout))]);
    let mut h2 = h2_connect(proxy.addr).await;
    let response = within("an answer", h2.send_request(grpc_call("grpc.localhost"))).await.unwrap();
    assert_eq!(
        grpc_error(response).await,
        error(4, "ferry: the instance of service grpc did not answer within the request timeout of 300 ms")
    );
}

#[tokio::test]
async fn a_call_whose_instance_refuses_connections_is_unavailable() {
    // No wait for a new table: that is `reconnect.rs`'s.
    let proxy = Proxy::with_config(ferry_router::RouterConfig {
        reconnect_wait: Duration::ZERO,
        ..ferry_router::RouterConfig::default()
    })
    .await;
    let gone = ferry_router::Endpoint::new("gone", closed_port().await);
    proxy.set(&[("grpc.localhost", serving_with("grpc", &[&gone], Protocol::Http2, WAIT))]);
    let mut h2 = h2_connect(proxy.addr).await;
    let response = within("an answer", h2.send_request(grpc_call("grpc.localhost"))).await.unwrap();
    let error = grpc_error(response).await;
    assert_eq!(error.status, "14");
    assert!(error.message.starts_with("ferry: the instance of service grpc failed to answer"), "{error:?}");
}

#[tokio::test]
async fn a_call_beyond_the_queue_is_unavailable() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let gate = Arc::clone(&release);
    let backend = Backend::start_h2("busy", move |_req| {
        let gate = Arc::clone(&gate);
        async move {
            gate.acquire().await.unwrap().forget();
            Response::new(empty())
        }
    })
    .await;
    let capacity = Capacity::new(1, 0, WAIT);
    proxy.set(&[(
        "grpc.localhost",
        serving_limited("grpc", &[&backend.endpoint], Protocol::Http2, &capacity),
    )]);
    let h2 = h2_connect(proxy.addr).await;
    let first = tokio::spawn({
        let mut h2 = h2.clone();
        async move { h2.send_request(grpc_call("grpc.localhost")).await.unwrap().status() }
    });
    eventually("the first call to reach the instance", || backend.hits() == 1).await;

    let response = within("an answer", h2.clone().send_request(grpc_call("grpc.localhost"))).await.unwrap();
    assert_eq!(
        grpc_error(response).await,
        error(
            14,
            "ferry: every instance of service grpc is at its max concurrency (1) and the queue is full (0 waiting)"
        )
    );
    release.add_permits(1);
    assert_eq!(within("the first call", first).await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_call_with_a_body_over_the_limit_is_resource_exhausted() {
    let proxy = Proxy::with_config(ferry_router::RouterConfig {
        max_body_bytes: Some(4),
        ..ferry_router::RouterConfig::default()
    })
    .await;
    let backend = Backend::start_h2("grpc-1", |_req| async { Response::new(empty()) }).await;
    proxy.set(&[("grpc.localhost", serving_with("grpc", &[&backend.endpoint], Protocol::Http2, WAIT))]);
    let mut h2 = h2_connect(proxy.addr).await;
    // Five bytes, announced by their length: refused before routing.
    let response = within("an answer", h2.send_request(grpc_call("grpc.localhost"))).await.unwrap();
    assert_eq!(
        grpc_error(response).await,
        error(8, "ferry: the request body is larger than the limit of 4 bytes")
    );
    assert_eq!(backend.hits(), 0);
}

#[tokio::test]
async fn grpc_web_and_http1_clients_get_grpc_errors_in_their_own_content_type() {
    let proxy = Proxy::start().await;
    let request = Request::post("/svc/Method")
        .header("host", "nowhere.localhost")
        .header(CONTENT_TYPE, "application/grpc-web+proto")
        .body(empty())
        .unwrap();
    let reply = Reply::read(Conn::open(proxy.addr).await.send(request).await).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/grpc-web"));
    assert_eq!(reply.header("grpc-status"), Some("12"));
    assert_eq!(
        reply.header("grpc-message"),
        Some("ferry: no service is configured for host nowhere.localhost")
    );
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn other_clients_still_get_plain_text() {
    let proxy = Proxy::start().await;
    proxy.set(&[("web.localhost", route("web", RouteTarget::Paused))]);

    let mut h2 = h2_connect(proxy.addr).await;
    let request =
        Request::get("http://web.localhost/").header(CONTENT_TYPE, "application/json").body(empty()).unwrap();
    let reply = Reply::read(within("an answer", h2.send_request(request)).await.unwrap()).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (503, "ferry: service web is paused\n"));
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(reply.header("grpc-status").is_none());

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (503, "ferry: service web is paused\n"));
    assert!(reply.header("grpc-status").is_none());
}

#[tokio::test]
async fn an_answer_from_the_instance_is_passed_on_untouched() {
    let proxy = Proxy::start().await;
    let backend = Backend::start_h2("grpc-1", |_req| async {
        Response::builder()
            .header(CONTENT_TYPE, "application/grpc")
            .header("grpc-status", "5")
            .header("grpc-message", "not found")
            .body(empty())
            .unwrap()
    })
    .await;
    proxy.set(&[(
        "grpc.localhost",
        serving_with(
            "grpc",
            &[&backend.endpoint],
            Protocol::Http2,
            ferry_router::ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
        ),
    )]);
    let mut h2 = h2_connect(proxy.addr).await;
    let response = within("an answer", h2.send_request(grpc_call("grpc.localhost"))).await.unwrap();
    assert_eq!(grpc_error(response).await, error(5, "not found"));
}
