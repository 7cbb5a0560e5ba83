//! Behaviour 15: the router serves any `Listener`, and tells instances the listener's scheme in
//! `X-Forwarded-Proto`, whatever the client claimed.

use std::net::SocketAddr;

use ferry_router::{Handshake, Listener, Protocol, RouterConfig, Scheme, ServiceRoute};
use http::header::HOST;
use http::{Request, Response};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// A TCP listener whose clients speak HTTPS, as a TLS listener's will: the bytes here are plain, which is
/// all the router sees of a TLS connection once it is decrypted.
struct Https(TcpListener);

impl Listener for Https {
    type Io = TcpStream;
    type Conn = TcpStream;

    fn accept(&mut self) -> impl Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send {
        self.0.accept()
    }

    fn handshake(
        &self,
        io: TcpStream,
        timeout: std::time::Duration,
    ) -> impl Future<Output = std::io::Result<Handshake<TcpStream>>> + Send + 'static {
        self.0.handshake(io, timeout)
    }

    fn scheme(&self) -> Scheme {
        Scheme::Https
    }

    fn inherit_nodelay(&self) -> bool {
        self.0.inherit_nodelay()
    }

    fn set_nodelay(io: &TcpStream) -> std::io::Result<()> {
        <TcpListener as Listener>::set_nodelay(io)
    }
}

async fn https_proxy() -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    Proxy::with_listener(RouterConfig::default(), Https(listener), addr)
}

/// Sends one request claiming `X-Forwarded-Proto: gopher`; returns what the instance was told.
async fn forwarded_proto(proxy: &Proxy, backend: &mut Backend) -> String {
    let req = Request::get("/")
        .header(HOST, "web.localhost")
        .header("x-forwarded-proto", "gopher")
        .body(empty())
        .unwrap();
    let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = backend.next_seen().await;
    seen.headers
        .get_all("x-forwarded-proto")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(",")
}

fn hello(
    id: &'static str,
) -> impl Fn(Request<hyper::body::Incoming>) -> std::future::Ready<Response<TestBody>> {
    move |_req| std::future::ready(Response::new(full(id)))
}

#[tokio::test]
async fn an_https_listener_tells_http1_instances_https() {
    let proxy = https_proxy().await;
    let mut backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    assert_eq!(forwarded_proto(&proxy, &mut backend).await, "https");
}

#[tokio::test]
async fn an_https_listener_tells_h2c_instances_https() {
    let proxy = https_proxy().await;
    let mut backend = Backend::start_h2("g1", hello("g1")).await;
    let route =
        serving_with("web", &[&backend.endpoint], Protocol::Http2, ServiceRoute::DEFAULT_REQUEST_TIMEOUT);
    proxy.set(&[("web.localhost", route)]);
    assert_eq!(forwarded_proto(&proxy, &mut backend).await, "https");
}

#[tokio::test]
async fn a_tcp_listener_tells_instances_http_over_either_protocol() {
    let proxy = Proxy::start().await;
    let mut http1 = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&http1.endpoint]))]);
    assert_eq!(forwarded_proto(&proxy, &mut http1).await, "http");

    let mut h2c = Backend::start_h2("g1", hello("g1")).await;
    let route = serving_with("web", &[&h2c.endpoint], Protocol::Http2, ServiceRoute::DEFAULT_REQUEST_TIMEOUT);
    proxy.set(&[("web.localhost", route)]);
    assert_eq!(forwarded_proto(&proxy, &mut h2c).await, "http");
}

#[tokio::test]
async fn an_https_listener_serves_http2_clients_too() {
    let proxy = https_proxy().await;
    let mut backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut h2 = h2_connect(proxy.addr).await;
    let request = Request::get("http://web.localhost/").body(empty()).unwrap();
    let reply = Reply::read(within("a response", h2.send_request(request)).await.unwrap()).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
    assert_eq!(backend.next_seen().await.headers["x-forwarded-proto"], "https");
}
