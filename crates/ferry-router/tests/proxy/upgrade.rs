//! Behaviour 7: upgrades are forwarded and, on 101, the two connections are joined.

use http::header::{CONNECTION, UPGRADE};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Answers an upgrade request with 101 and then echoes every byte; anything else gets a plain 200.
async fn echo_on_upgrade(mut req: Request<Incoming>) -> Response<TestBody> {
    if !req.headers().contains_key(UPGRADE) {
        return Response::new(full("no upgrade"));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = on_upgrade.await.unwrap();
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let _ = tokio::io::copy(&mut reader, &mut writer).await;
        let _ = writer.shutdown().await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "echo")
        .body(empty())
        .unwrap()
}

async fn echo_round_trip(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    within("the echo", stream.read_exact(&mut back)).await.unwrap();
    assert_eq!(back, message);
}

#[tokio::test]
async fn an_upgraded_connection_tunnels_raw_bytes_both_ways() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::start("ws", echo_on_upgrade).await;
    let endpoint = backend.endpoint.clone();
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /chat HTTP/1.1\r\nHost: web.localhost\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 switching protocols\r\n"), "{head}");
    assert!(head.contains("\r\nupgrade: echo\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(head.contains("\r\nx-request-id: "), "{head}");

    let seen = backend.next_seen().await;
    assert_eq!(seen.headers["connection"], "upgrade");
    assert_eq!(seen.headers["upgrade"], "echo");

    echo_round_trip(&mut stream, b"ping").await;
    assert_eq!(endpoint.in_flight(), 1, "an open tunnel counts as in flight");

    // Removing the route does not touch the open tunnel.
    proxy.set(&[]);
    echo_round_trip(&mut stream, &[0, 1, 2, 255, b'\r', b'\n']).await;

    // Closing our side closes the tunnel both ways.
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("the tunnel to close", stream.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    eventually("the tunnel to stop counting", || endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn an_upgrade_the_instance_declines_is_a_plain_response() {
    let proxy = Proxy::start().await;
    let backend = Backend::start("plain", |_req| async move { Response::new(full("no upgrade here")) }).await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let req = Request::get("/")
        .header("host", "web.localhost")
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "echo")
        .body(empty())
        .unwrap();
    let reply = Reply::read(conn.send(req).await).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "no upgrade here"));
    assert_eq!(conn.get("web.localhost", "/").await.status, 200, "the connection is still usable");
    assert_eq!(backend.endpoint.in_flight(), 0);
}

#[tokio::test]
async fn a_tunnel_is_not_cut_by_the_request_timeout() {
    let timeout = std::time::Duration::from_millis(200);
    let proxy = Proxy::start().await;
    let backend = Backend::start("ws", echo_on_upgrade).await;
    let route = serving_with("web", &[&backend.endpoint], ferry_router::Protocol::Http1, timeout);
    proxy.set(&[("web.localhost", route)]);

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    for message in [&b"first"[..], b"second"] {
        // The pause is the behaviour under test: the tunnel idles for longer than the timeout.
        tokio::time::sleep(timeout * 2).await;
        echo_round_trip(&mut stream, message).await;
    }
}

#[tokio::test]
async fn an_upgraded_connection_still_counts_against_the_connection_cap() {
    let proxy = Proxy::with_config(ferry_router::RouterConfig {
        max_connections: 1,
        ..ferry_router::RouterConfig::default()
    })
    .await;
    let backend = Backend::start("ws", echo_on_upgrade).await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut tunnel = TcpStream::connect(proxy.addr).await.unwrap();
    tunnel
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_head(&mut tunnel).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    echo_round_trip(&mut tunnel, b"hello").await;

    // The tunnel holds the only permit: a second client waits in the backlog.
    let mut second = TcpStream::connect(proxy.addr).await.unwrap();
    second.write_all(b"GET / HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let early =
        tokio::time::timeout(std::time::Duration::from_millis(300), second.read_to_end(&mut out)).await;
    assert!(early.is_err(), "served beyond the cap: {}", String::from_utf8_lossy(&out));

    // Closing the tunnel frees the permit.
    drop(tunnel);
    within("the waiting client to be served", second.read_to_end(&mut out)).await.unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out));
}

fn h2c_route(
    endpoint: &std::sync::Arc<ferry_router::Endpoint>,
) -> std::sync::Arc<ferry_router::ServiceRoute> {
    serving_with(
        "grpc",
        &[endpoint],
        ferry_router::Protocol::Http2,
        ferry_router::ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
    )
}

/// Asks `host` to upgrade to the echo protocol; returns the connection and the response head, lower-cased.
async fn ask_upgrade(proxy: &Proxy, host: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let request =
        format!("GET /chat HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await.to_ascii_lowercase();
    (stream, head)
}

/// A service that speaks h2c to its instances still takes WebSockets: the upgrade goes to the same port as
/// HTTP/1.1, while its ordinary requests keep going as HTTP/2.
#[tokio::test]
async fn an_upgrade_to_an_http2_service_goes_to_the_instance_as_http1() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::start_both("both", echo_on_upgrade).await;
    proxy.set(&[("grpc.localhost", h2c_route(&backend.endpoint))]);

    let (mut stream, head) = ask_upgrade(&proxy, "grpc.localhost").await;
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    let seen = backend.next_seen().await;
    assert_eq!(seen.version, http::Version::HTTP_11);
    assert_eq!(seen.headers["upgrade"], "echo");
    echo_round_trip(&mut stream, b"over http/1.1").await;

    let reply = fetch(proxy.addr, "grpc.localhost", "/plain").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "no upgrade"));
    assert_eq!(backend.next_seen().await.version, http::Version::HTTP_2, "plain requests stay on HTTP/2");
}

/// An instance that speaks only HTTP/2 cannot take the upgrade: the client gets a 502, not a hang.
#[tokio::test]
async fn an_upgrade_to_an_http2_only_instance_is_a_502() {
    let proxy = Proxy::start().await;
    let backend = Backend::start_h2("h2only", echo_on_upgrade).await;
    proxy.set(&[("grpc.localhost", h2c_route(&backend.endpoint))]);

    let (_stream, head) = ask_upgrade(&proxy, "grpc.localhost").await;
    assert!(head.starts_with("http/1.1 502 "), "{head}");
    assert_eq!(backend.endpoint.in_flight(), 0);
}

/// An upgrade to a service that waits for an instance is held like any request, and tunnels once served.
#[tokio::test]
async fn a_held_upgrade_is_tunnelled_once_its_host_has_an_instance() {
    let proxy = Proxy::start().await;
    let waiting = ferry_router::Waiting::new(WAIT);
    let held = route("web", ferry_router::RouteTarget::Waiting(std::sync::Arc::clone(&waiting)));
    proxy.set(&[("web.localhost", held)]);
    let backend = Backend::start("ws", echo_on_upgrade).await;

    let asked = tokio::spawn({
        let addr = proxy.addr;
        async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /chat HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
                .await
                .unwrap();
            let head = read_head(&mut stream).await.to_ascii_lowercase();
            (stream, head)
        }
    });
    eventually("the upgrade to be held", || waiting.held() == 1).await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    let (mut stream, head) = within("the held upgrade", asked).await.unwrap();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    echo_round_trip(&mut stream, b"after the hold").await;
    assert_eq!(backend.endpoint.in_flight(), 1, "the tunnel counts against its instance");
}
