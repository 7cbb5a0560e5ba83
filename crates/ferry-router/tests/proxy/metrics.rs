//! Behaviour 21: a route's `ServiceMetrics` count its requests (by status class, latency, bytes, in flight)
//! and its `RequestLog` gets one record per request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferry_router::{
    MetricsSnapshot, Protocol, RequestLog, RequestRecord, RouteTarget, RouterConfig, ServiceMetrics,
    ServiceRoute, Waiting,
};
use http::header::{CONNECTION, HOST, UPGRADE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::support::*;

/// A request log that keeps every record.
#[derive(Default)]
struct Kept(Mutex<Vec<RequestRecord>>);

impl RequestLog for Kept {
    fn record(&self, record: RequestRecord) {
        self.0.lock().unwrap().push(record);
    }
}

impl Kept {
    fn records(&self) -> Vec<RequestRecord> {
        self.0.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A route to `target` counted by `metrics` and logged to `log`.
fn counted(
    target: RouteTarget,
    protocol: Protocol,
    metrics: Option<&Arc<ServiceMetrics>>,
    log: Option<&Arc<Kept>>,
) -> Arc<ServiceRoute> {
    Arc::new(ServiceRoute {
        service: "web".to_owned(),
        target,
        protocol,
        request_timeout: ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
        capacity: None,
        https_redirect: false,
        hsts: None,
        metrics: metrics.cloned(),
        request_log: log.map(|log| Arc::clone(log) as Arc<dyn RequestLog>),
    })
}

fn instances(backend: &Backend) -> RouteTarget {
    RouteTarget::Instances(vec![Arc::clone(&backend.endpoint)])
}

/// `GET /ok` → 200 "hello"; `POST /echo` → 200 with the body sent; `/missing` → 404 "nope"; `/fail` → 500.
async fn app(req: Request<Incoming>) -> Response<TestBody> {
    let status = match req.uri().path() {
        "/echo" => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            return Response::new(full(body));
        }
        "/missing" => return Response::builder().status(404).body(full("nope")).unwrap(),
        "/fail" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => return Response::new(full("hello")),
    };
    Response::builder().status(status).body(empty()).unwrap()
}

fn post(host: &str, path: &str, body: &'static str) -> Request<TestBody> {
    Request::post(path).header(HOST, host).body(full(body)).unwrap()
}

/// Waits for the counts to settle: nothing in flight. A body's end is counted when hyper drops it, which may
/// come a moment after the client read its last byte.
async fn settled(metrics: &ServiceMetrics) -> MetricsSnapshot {
    eventually("no request in flight", || metrics.snapshot().in_flight == 0).await;
    metrics.snapshot()
}

#[tokio::test]
async fn responses_are_counted_by_class_with_their_latency_and_bytes() {
    let proxy =
        Proxy::with_config(RouterConfig { reconnect_wait: Duration::ZERO, ..Default::default() }).await;
    let backend = Backend::start("web-1", app).await;
    let (web, gone, paused) = (ServiceMetrics::new(), ServiceMetrics::new(), ServiceMetrics::new());
    let dead = ferry_router::Endpoint::new("dead-1", closed_port().await);
    proxy.set(&[
        ("web.localhost", counted(instances(&backend), Protocol::Http1, Some(&web), None)),
        ("gone.localhost", counted(RouteTarget::Instances(vec![dead]), Protocol::Http1, Some(&gone), None)),
        ("paused.localhost", counted(RouteTarget::Paused, Protocol::Http1, Some(&paused), None)),
    ]);
    let mut conn = Conn::open(proxy.addr).await;

    assert_eq!(conn.get("web.localhost", "/ok").await.body, "hello");
    let echoed = Reply::read(conn.send(post("web.localhost", "/echo", "eleven byte")).await).await;
    assert_eq!(echoed.body, "eleven byte");
    assert_eq!(conn.get("web.localhost", "/missing").await.status, StatusCode::NOT_FOUND);
    assert_eq!(conn.get("web.localhost", "/fail").await.status, StatusCode::INTERNAL_SERVER_ERROR);
    // An unknown host has no route: it is nobody's to count.
    assert_eq!(conn.get("nowhere.localhost", "/").await.status, StatusCode::NOT_FOUND);

    let snapshot = settled(&web).await;
    assert_eq!(snapshot.responses, [0, 2, 0, 1, 1]);
    assert_eq!((snapshot.bytes_in, snapshot.bytes_out), (11, 5 + 11 + 4));
    assert_eq!(snapshot.head_latency.count, 4);
    assert_eq!(snapshot.total_latency.count, 4);
    assert_eq!(snapshot.head_latency.counts.len(), snapshot.head_latency.bounds.len() + 1);
    assert_eq!(snapshot.head_latency.counts.iter().sum::<u64>(), 4);
    assert!(snapshot.head_latency.sum_seconds > 0.0);
    assert!(snapshot.total_latency.sum_seconds >= snapshot.head_latency.sum_seconds);

    // The router's own answers on a route are the route's: 502 (its instance refuses) and 503 (paused), their
    // text bodies included.
    let bad_gateway = conn.get("gone.localhost", "/").await;
    assert_eq!(bad_gateway.status, StatusCode::BAD_GATEWAY);
    let snapshot = settled(&gone).await;
    assert_eq!(snapshot.responses, [0, 0, 0, 0, 1]);
    assert_eq!(snapshot.bytes_out, bad_gateway.body.len() as u64);
    assert_eq!(snapshot.total_latency.count, 1);
    assert_eq!(conn.get("paused.localhost", "/").await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(settled(&paused).await.responses, [0, 0, 0, 0, 1]);
    assert_eq!(web.snapshot().responses, [0, 2, 0, 1, 1], "other routes' requests are not web's");
}

/// A backend that answers every request with a body the test feeds: each body's sender comes out of the
/// returned channel.
async fn streaming_backend(
    protocol: Protocol,
) -> (Backend, mpsc::UnboundedReceiver<http_body_util::channel::Sender<Bytes, BoxError>>) {
    let (senders_tx, senders) = mpsc::unbounded_channel();
    let handler = move |_req| {
        let (tx, body) = channel_body();
        senders_tx.send(tx).unwrap();
        async move { Response::new(body) }
    };
    let backend = match protocol {
        Protocol::Http1 => Backend::start("web-1", handler).await,
        Protocol::Http2 => Backend::start_h2("web-1", handler).await,
    };
    (backend, senders)
}

/// In flight from arrival to the body's end; head latency at the head, total latency at the end.
async fn a_streamed_body_is_in_flight_until_it_ends(protocol: Protocol) {
    let proxy = Proxy::start().await;
    let (backend, mut senders) = streaming_backend(protocol).await;
    let metrics = ServiceMetrics::new();
    proxy.set(&[("web.localhost", counted(instances(&backend), protocol, Some(&metrics), None))]);

    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(get("web.localhost", "/stream")).await;
    let mut body_tx = within("the backend's body", senders.recv()).await.unwrap();
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.in_flight, 1);
    assert_eq!((snapshot.responses[1], snapshot.head_latency.count), (1, 1));
    assert_eq!(snapshot.total_latency.count, 0, "the body has not ended");

    body_tx.send_data(Bytes::from_static(b"part one,")).await.unwrap();
    body_tx.send_data(Bytes::from_static(b" part two")).await.unwrap();
    drop(body_tx);
    assert_eq!(Reply::read(response).await.body, "part one, part two");
    let snapshot = settled(&metrics).await;
    assert_eq!(snapshot.total_latency.count, 1);
    assert_eq!(snapshot.bytes_out, 18);

    // A body the client abandons ends there.
    let mut response = conn.send(get("web.localhost", "/stream")).await;
    let mut body_tx = within("the backend's body", senders.recv()).await.unwrap();
    body_tx.send_data(Bytes::from_static(b"first")).await.unwrap();
    let frame = within("the first frame", response.body_mut().frame()).await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "first");
    assert_eq!(metrics.snapshot().in_flight, 1);
    drop((response, conn));
    let snapshot = settled(&metrics).await;
    assert_eq!(snapshot.responses[1], 2);
    assert_eq!(snapshot.total_latency.count, 2, "an abandoned body counts at its drop");
    assert_eq!(snapshot.bytes_out, 18 + 5);
}

#[tokio::test]
async fn a_streamed_http1_body_is_in_flight_until_it_ends() {
    a_streamed_body_is_in_flight_until_it_ends(Protocol::Http1).await;
}

#[tokio::test]
async fn a_streamed_http2_body_is_in_flight_until_it_ends() {
    a_streamed_body_is_in_flight_until_it_ends(Protocol::Http2).await;
}

#[tokio::test]
async fn request_bodies_to_http2_instances_are_counted() {
    let proxy = Proxy::start().await;
    let backend = Backend::start_h2("web-1", app).await;
    let (metrics, log) = (ServiceMetrics::new(), Arc::new(Kept::default()));
    proxy
        .set(&[("web.localhost", counted(instances(&backend), Protocol::Http2, Some(&metrics), Some(&log)))]);

    let reply =
        Reply::read(Conn::open(proxy.addr).await.send(post("web.localhost", "/echo", "to h2")).await).await;
    assert_eq!(reply.body, "to h2");
    let snapshot = settled(&metrics).await;
    assert_eq!((snapshot.bytes_in, snapshot.bytes_out, snapshot.responses[1]), (5, 5, 1));
    eventually("the record", || log.len() == 1).await;
    let record = &log.records()[0];
    assert_eq!((record.bytes_in, record.bytes_out, record.status), (5, 5, 200));
    assert_eq!(record.instance.as_deref(), Some("web-1"));
}

#[tokio::test]
async fn a_held_request_is_counted_once_and_in_flight_while_held() {
    let proxy = Proxy::start().await;
    let backend = Backend::hello("web-1").await;
    let (metrics, log) = (ServiceMetrics::new(), Arc::new(Kept::default()));
    let waiting = Waiting::new(WAIT);
    let target = RouteTarget::Waiting(Arc::clone(&waiting));
    proxy.set(&[("web.localhost", counted(target, Protocol::Http1, Some(&metrics), Some(&log)))]);

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/held").await });
    eventually("the request to be held", || waiting.held() == 1).await;
    let snapshot = metrics.snapshot();
    assert_eq!((snapshot.in_flight, snapshot.responses, snapshot.head_latency.count), (1, [0; 5], 0));

    proxy
        .set(&[("web.localhost", counted(instances(&backend), Protocol::Http1, Some(&metrics), Some(&log)))]);
    assert_eq!(within("the held request", request).await.unwrap().body, "web-1");
    let snapshot = settled(&metrics).await;
    assert_eq!(snapshot.responses, [0, 1, 0, 0, 0]);
    assert_eq!((snapshot.head_latency.count, snapshot.total_latency.count), (1, 1));
    eventually("the answer's record", || log.records().iter().any(|r| r.status == 200)).await;
    // Routed twice (held, then sent), recorded once: any record of the first routing would be in by now.
    let records = log.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].instance.as_deref(), Some("web-1"));
    assert_eq!(records[0].path, "/held");
}

#[tokio::test]
async fn a_request_log_gets_one_record_per_request_and_none_when_off() {
    let proxy =
        Proxy::with_config(RouterConfig { reconnect_wait: Duration::ZERO, ..Default::default() }).await;
    let backend = Backend::start("web-1", app).await;
    let log = Arc::new(Kept::default());
    let dead = ferry_router::Endpoint::new("dead-1", closed_port().await);
    proxy.set(&[
        ("web.localhost", counted(instances(&backend), Protocol::Http1, None, Some(&log))),
        ("gone.localhost", counted(RouteTarget::Instances(vec![dead]), Protocol::Http1, None, Some(&log))),
        // Counted but not logged: nothing of its requests reaches the log.
        (
            "quiet.localhost",
            counted(instances(&backend), Protocol::Http1, Some(&ServiceMetrics::new()), None),
        ),
    ]);
    let mut conn = Conn::open(proxy.addr).await;

    // First, so that their records, were there any, would be in before the next requests' (one connection:
    // a request is read only once the one before it has ended).
    for _ in 0..3 {
        assert_eq!(conn.get("quiet.localhost", "/ok").await.body, "hello");
    }
    let request = Request::post("/echo?x=1").header(HOST, "web.localhost").header("x-request-id", "req-42");
    let echoed = Reply::read(conn.send(request.body(full("payload")).unwrap()).await).await;
    assert_eq!(echoed.body, "payload");
    let missing = conn.get("web.localhost", "/missing").await;
    let bad_gateway = conn.get("gone.localhost", "/x").await;
    assert_eq!(bad_gateway.status, StatusCode::BAD_GATEWAY);
    eventually("three records", || log.len() == 3).await;
    drop(conn);

    let records = log.records();
    let echo = records.iter().find(|r| r.path == "/echo?x=1").expect("the echo's record");
    assert_eq!((echo.method.clone(), echo.status, echo.bytes_in, echo.bytes_out), (Method::POST, 200, 7, 7));
    assert_eq!(&*echo.service, "web");
    assert_eq!(echo.instance.as_deref(), Some("web-1"));
    assert_eq!(echo.request_id, "req-42");
    assert_eq!(echo.client, std::net::IpAddr::from([127, 0, 0, 1]));
    assert!(echo.duration > Duration::ZERO);
    assert!(echo.at <= std::time::SystemTime::now());

    let missing_record = records.iter().find(|r| r.path == "/missing").expect("the 404's record");
    assert_eq!((missing_record.status, missing_record.bytes_out), (404, 4));
    assert_eq!(missing_record.request_id, missing.request_id());

    let gone = records.iter().find(|r| r.path == "/x").expect("the 502's record");
    assert_eq!((gone.status, gone.instance.as_deref()), (502, None), "the router answered it");
    assert_eq!(gone.bytes_out, bad_gateway.body.len() as u64);
    assert_eq!(gone.request_id, bad_gateway.request_id());
    assert_eq!(records.len(), 3, "none for the route without a log");
}

#[tokio::test]
async fn an_upgrade_is_counted_at_its_101() {
    let proxy = Proxy::start().await;
    let backend = Backend::start("ws-1", |mut req: Request<Incoming>| async move {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let upgraded = on_upgrade.await.unwrap();
            let (mut reader, mut writer) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(CONNECTION, "upgrade")
            .header(UPGRADE, "echo")
            .body(empty())
            .unwrap()
    })
    .await;
    let (metrics, log) = (ServiceMetrics::new(), Arc::new(Kept::default()));
    proxy
        .set(&[("web.localhost", counted(instances(&backend), Protocol::Http1, Some(&metrics), Some(&log)))]);

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 101"));
    // The tunnel's bytes are not counted; the request is over at its 101.
    let snapshot = settled(&metrics).await;
    assert_eq!(snapshot.responses, [1, 0, 0, 0, 0]);
    assert_eq!((snapshot.head_latency.count, snapshot.total_latency.count), (1, 1));
    eventually("the record", || log.len() == 1).await;
    let record = &log.records()[0];
    assert_eq!((record.status, record.instance.as_deref()), (101, Some("ws-1")));
    assert_eq!(proxy.router.open_connections(), 1, "the tunnel is an open connection");
    drop(stream);
    eventually("the tunnel to close", || proxy.router.open_connections() == 0).await;
}

#[tokio::test]
async fn open_connections_follows_clients() {
    let proxy = Proxy::start().await;
    let backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    assert_eq!(proxy.router.open_connections(), 0);
    let mut first = Conn::open(proxy.addr).await;
    let mut second = Conn::open(proxy.addr).await;
    first.get("web.localhost", "/").await;
    second.get("web.localhost", "/").await;
    assert_eq!(proxy.router.open_connections(), 2);
    drop(first);
    eventually("the first connection to close", || proxy.router.open_connections() == 1).await;
    drop(second);
    eventually("both to close", || proxy.router.open_connections() == 0).await;
}
