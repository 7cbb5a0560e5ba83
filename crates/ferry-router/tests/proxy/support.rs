//! Test harness: a router on 127.0.0.1:0, small hyper backends it proxies to, and clients.
//!
//! Nothing here sleeps to synchronise: tests wait on channels or poll a condition with a deadline.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ferry_router::{
    Capacity, Endpoint, Listener, Protocol, RouteTable, RouteTarget, Router, RouterConfig, ServiceRoute,
};
use http::header::HOST;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type TestBody = BoxBody<Bytes, BoxError>;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> TestBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body fed by the test through the returned sender; dropping the sender ends it.
pub fn channel_body() -> (http_body_util::channel::Sender<Bytes, BoxError>, TestBody) {
    let (tx, body) = http_body_util::channel::Channel::<Bytes, BoxError>::new(4);
    (tx, body.boxed())
}

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Polls `condition` until it holds, failing the test after [`WAIT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A router serving on a fresh local port.
pub struct Proxy {
    pub router: Arc<Router>,
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        Proxy::with_config(RouterConfig::default()).await
    }

    pub async fn with_config(config: RouterConfig) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Proxy::with_listener(config, listener, addr)
    }

    /// A router serving on `listener`, which accepts connections to `addr`.
    pub fn with_listener(config: RouterConfig, listener: impl Listener, addr: SocketAddr) -> Proxy {
        Proxy::with_router(Router::new(config), listener, addr)
    }

    /// `router` serving on `listener`, which accepts connections to `addr`.
    pub fn with_router(router: Arc<Router>, listener: impl Listener, addr: SocketAddr) -> Proxy {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(Arc::clone(&router).serve(listener, shutdown.clone()));
        Proxy { router, addr, shutdown, task: Some(task) }
    }

    /// Replaces the routes with `routes`.
    pub fn set(&self, routes: &[(&str, Arc<ServiceRoute>)]) {
        self.router.set_routes(table(routes));
    }

    /// Requests shutdown; returns the serve task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        self.shutdown.cancel();
        self.task.take().expect("shut down once")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn table(routes: &[(&str, Arc<ServiceRoute>)]) -> RouteTable {
    let mut table = RouteTable::new();
    for (host, route) in routes {
        table.insert(host, Arc::clone(route));
    }
    table
}

/// A route to `target`, over HTTP/1.1 with the default request timeout.
pub fn route(service: &str, target: RouteTarget) -> Arc<ServiceRoute> {
    route_with(service, target, Protocol::Http1, ServiceRoute::DEFAULT_REQUEST_TIMEOUT)
}

pub fn route_with(
    service: &str,
    target: RouteTarget,
    protocol: Protocol,
    request_timeout: Duration,
) -> Arc<ServiceRoute> {
    Arc::new(ServiceRoute {
        service: service.to_owned(),
        target,
        protocol,
        request_timeout,
        capacity: None,
        https_redirect: false,
        hsts: None,
        metrics: None,
        request_log: None,
    })
}

fn instances(endpoints: &[&Arc<Endpoint>]) -> RouteTarget {
    RouteTarget::Instances(endpoints.iter().map(|e| Arc::clone(e)).collect())
}

/// A route to instances, with its protocol and request timeout given.
pub fn serving_with(
    service: &str,
    endpoints: &[&Arc<Endpoint>],
    protocol: Protocol,
    request_timeout: Duration,
) -> Arc<ServiceRoute> {
    route_with(service, instances(endpoints), protocol, request_timeout)
}

pub fn serving(service: &str, endpoints: &[&Arc<Endpoint>]) -> Arc<ServiceRoute> {
    route(service, instances(endpoints))
}

/// A route to instances that take at most `capacity`'s max concurrency each.
pub fn serving_limited(
    service: &str,
    endpoints: &[&Arc<Endpoint>],
    protocol: Protocol,
    capacity: &Arc<Capacity>,
) -> Arc<ServiceRoute> {
    Arc::new(ServiceRoute {
        service: service.to_owned(),
        target: instances(endpoints),
        protocol,
        request_timeout: ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
        capacity: Some(Arc::clone(capacity)),
        https_redirect: false,
        hsts: None,
        metrics: None,
        request_log: None,
    })
}

/// What a backend received, minus the body.
#[derive(Debug)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
}

/// The protocols a test backend speaks.
#[derive(Clone, Copy)]
enum Speaks {
    Http1,
    Http2,
    Both,
}

/// A hyper server standing in for an instance: HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
pub struct Backend {
    pub endpoint: Arc<Endpoint>,
    hits: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    /// Wakes every open connection's task, which then drops its connection.
    drop_connections: Arc<Notify>,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: JoinHandle<()>,
}

impl Backend {
    /// A backend whose every answer is `200` with its id as the body.
    pub async fn hello(id: &str) -> Backend {
        let body = id.to_owned();
        Backend::start(id, move |_req| {
            let body = body.clone();
            async move { Response::new(full(body)) }
        })
        .await
    }

    pub async fn start<H, F>(id: &str, handler: H) -> Backend
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Response<TestBody>> + Send + 'static,
    {
        Backend::serve(id, Speaks::Http1, handler).await
    }

    /// A backend speaking HTTP/1.1 (with upgrades) and h2c with prior knowledge on the same port, as most
    /// HTTP/2-capable application servers do.
    pub async fn start_both<H, F>(id: &str, handler: H) -> Backend
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Response<TestBody>> + Send + 'static,
    {
        Backend::serve(id, Speaks::Both, handler).await
    }

    /// A backend speaking HTTP/2 only (h2c with prior knowledge), like a gRPC server.
    pub async fn start_h2<H, F>(id: &str, handler: H) -> Backend
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Response<TestBody>> + Send + 'static,
    {
        Backend::serve(id, Speaks::Http2, handler).await
    }

    async fn serve<H, F>(id: &str, protocol: Speaks, handler: H) -> Backend
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Response<TestBody>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = Endpoint::new(id, listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let handler = Arc::new(handler);
        let task_hits = Arc::clone(&hits);
        let connections = Arc::new(AtomicUsize::new(0));
        let drop_connections = Arc::new(Notify::new());
        let (task_connections, task_drop) = (Arc::clone(&connections), Arc::clone(&drop_connections));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                task_connections.fetch_add(1, Ordering::SeqCst);
                let dropped = Arc::clone(&task_drop);
                let (handler, hits, seen_tx) =
                    (Arc::clone(&handler), Arc::clone(&task_hits), seen_tx.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let _ = seen_tx.send(Seen {
                        method: req.method().clone(),
                        uri: req.uri().clone(),
                        version: req.version(),
                        headers: req.headers().clone(),
                    });
                    let response = handler(req);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                tokio::spawn(async move {
                    let dropped = dropped.notified();
                    match protocol {
                        Speaks::Http1 => {
                            let conn = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades();
                            tokio::select! { _ = conn => {}, () = dropped => {} }
                        }
                        Speaks::Http2 => {
                            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), service);
                            tokio::select! { _ = conn => {}, () = dropped => {} }
                        }
                        Speaks::Both => {
                            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                            tokio::select! { _ = conn => {}, () = dropped => {} }
                        }
                    }
                });
            }
        });
        Backend { endpoint, hits, connections, drop_connections, seen, task }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Closes every connection open now, as an instance restarting its server would.
    pub fn drop_connections(&self) {
        self.drop_connections.notify_waiters();
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The next request this backend received, waiting for it if needed.
    pub async fn next_seen(&mut self) -> Seen {
        within("the backend to receive a request", self.seen.recv()).await.expect("backend is running")
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP server that handles each connection with `behaviour`: for instances that do not speak HTTP properly.
pub async fn raw_backend<H, F>(id: &str, behaviour: H) -> (Arc<Endpoint>, JoinHandle<()>)
where
    H: Fn(TcpStream) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Endpoint::new(id, listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(behaviour(stream));
        }
    });
    (endpoint, task)
}

/// Reads from `stream` until the end of a request head (`\r\n\r\n`) and returns it.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = within("a message head", stream.read(&mut byte)).await.unwrap();
        assert_eq!(n, 1, "connection closed inside a head: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// An address nothing listens on: bound, then released.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A listener whose backlog is full and which never accepts: the kernel drops further SYNs, so a connect to it
/// hangs until the caller's timeout. Keep the listener and the fillers alive for as long as the address is used.
pub async fn unaccepting_listener() -> (SocketAddr, TcpListener, Vec<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(err)) => panic!("filling the backlog failed: {err}"),
            Err(_) => break,
        }
        assert!(fillers.len() < 64, "the backlog never filled");
    }
    (addr, listener, fillers)
}

/// One HTTP/1.1 client connection to the router; every request on it reuses the same TCP connection.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<TestBody>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn.with_upgrades());
        Conn { sender }
    }

    pub async fn send(&mut self, req: Request<TestBody>) -> Response<Incoming> {
        self.try_send(req).await.unwrap()
    }

    pub async fn try_send(&mut self, req: Request<TestBody>) -> hyper::Result<Response<Incoming>> {
        within("the connection to be ready", self.sender.ready()).await?;
        within("a response", self.sender.send_request(req)).await
    }

    pub async fn get(&mut self, host: &str, path: &str) -> Reply {
        Reply::read(self.send(get(host, path)).await).await
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// One HTTP/2 client connection (h2c with prior knowledge) to the router.
pub async fn h2_connect(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<TestBody> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

pub fn get(host: &str, path: &str) -> Request<TestBody> {
    Request::get(path).header(HOST, host).body(empty()).unwrap()
}

/// `GET path` with `Host: host` on a fresh connection.
pub async fn fetch(addr: SocketAddr, host: &str, path: &str) -> Reply {
    Conn::open(addr).await.get(host, path).await
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn read(response: Response<Incoming>) -> Reply {
        let (parts, body) = response.into_parts();
        let body = within("a response body", body.collect()).await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The request id the router put on this response.
    pub fn request_id(&self) -> &str {
        self.header("x-request-id").expect("every response carries x-request-id")
    }
}

pub fn is_generated_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes `request` on a fresh connection and reads until the router closes it.
pub async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    within("the router to close the connection", stream.read_to_end(&mut out)).await.unwrap();
    String::from_utf8(out).unwrap()
}
