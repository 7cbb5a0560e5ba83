//! Behaviour 14: a service that waits for an instance (`RouteTarget::Waiting`) has its requests held until a
//! table gives its host instances (or anything else), up to the hold; each held request signals demand.

use std::sync::Arc;
use std::time::Duration;

use ferry_router::{Protocol, RouteTarget, RouterConfig, ServiceRoute, Waiting};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

fn waiting_route(waiting: &Arc<Waiting>) -> Arc<ServiceRoute> {
    route("web", RouteTarget::Waiting(Arc::clone(waiting)))
}

/// A router whose `web.localhost` waits, with a hold long enough that only the test ends it.
async fn waiting_proxy() -> (Proxy, Arc<Waiting>) {
    let proxy = Proxy::start().await;
    let waiting = Waiting::new(WAIT);
    proxy.set(&[("web.localhost", waiting_route(&waiting))]);
    (proxy, waiting)
}

#[tokio::test]
async fn a_held_request_is_served_once_a_table_gives_its_host_an_instance() {
    let (proxy, waiting) = waiting_proxy().await;
    let mut web = Backend::hello("web-1").await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/first").await });
    eventually("the request to be held", || waiting.held() == 1).await;
    assert_eq!(waiting.demand(), 1);
    assert_eq!(web.hits(), 0);

    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);
    let reply = within("the held request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
    assert!(is_generated_id(reply.request_id()));
    assert_eq!(web.next_seen().await.uri, "/first");
    assert_eq!((waiting.held(), waiting.demand()), (0, 1), "demand counts every request ever held");
}

#[tokio::test]
async fn a_burst_of_held_requests_is_served_whole() {
    const BURST: usize = 32;
    let (proxy, waiting) = waiting_proxy().await;
    let web = Backend::hello("web-1").await;

    let addr = proxy.addr;
    let requests: Vec<_> = (0..BURST)
        .map(|i| tokio::spawn(async move { fetch(addr, "web.localhost", &format!("/{i}")).await }))
        .collect();
    eventually("the whole burst to be held", || waiting.held() == BURST).await;

    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);
    for request in requests {
        let reply = within("a held request", request).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
    }
    assert_eq!(web.hits(), BURST);
    assert_eq!((waiting.held(), waiting.demand()), (0, BURST as u64));
}

#[tokio::test]
async fn past_the_hold_the_client_gets_503_saying_why() {
    let proxy = Proxy::start().await;
    let waiting = Waiting::new(Duration::from_millis(200));
    proxy.set(&[("web.localhost", waiting_route(&waiting))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "ferry: no instance of service web became ready within 200 ms\n");
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(is_generated_id(reply.request_id()));
    assert_eq!((waiting.held(), waiting.demand()), (0, 1));
}

#[tokio::test]
async fn a_held_http2_client_request_is_served() {
    let (proxy, waiting) = waiting_proxy().await;
    let web = Backend::hello("web-1").await;

    let mut h2 = h2_connect(proxy.addr).await;
    let request = Request::get("http://web.localhost/").body(empty()).unwrap();
    let response = tokio::spawn(async move { h2.send_request(request).await.unwrap() });
    eventually("the request to be held", || waiting.held() == 1).await;

    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);
    let response = within("the held request", response).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = within("the body", response.into_body().collect()).await.unwrap().to_bytes();
    assert_eq!(body, "web-1");
}

#[tokio::test]
async fn a_held_request_follows_its_host_to_a_pause_or_away() {
    let (proxy, waiting) = waiting_proxy().await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    eventually("the request to be held", || waiting.held() == 1).await;
    proxy.set(&[("web.localhost", route("web", RouteTarget::Paused))]);
    let reply = within("the held request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (503, "ferry: service web is paused\n"));

    proxy.set(&[("web.localhost", waiting_route(&waiting))]);
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    eventually("the second request to be held", || waiting.held() == 1).await;
    proxy.set(&[]);
    let reply = within("the held request", request).await.unwrap();
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(waiting.held(), 0);
}

#[tokio::test]
async fn a_held_request_keeps_waiting_through_unrelated_changes_and_moves_to_another_waiting() {
    let (proxy, first) = waiting_proxy().await;
    let web = Backend::hello("web-1").await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    eventually("the request to be held", || first.held() == 1).await;
    // Another host changes; this one still waits, now for another service's `Waiting`.
    let second = Waiting::new(WAIT);
    proxy.set(&[
        ("web.localhost", route("other", RouteTarget::Waiting(Arc::clone(&second)))),
        ("api.localhost", serving("api", &[&web.endpoint])),
    ]);
    eventually("the request to be held by the other waiting", || second.held() == 1).await;
    assert_eq!((first.held(), first.demand(), second.demand()), (0, 1, 1));
    assert!(!request.is_finished());

    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);
    let reply = within("the held request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
    assert_eq!(second.held(), 0);
}

#[tokio::test]
async fn the_demand_signal_fires_on_the_first_held_request() {
    let (proxy, waiting) = waiting_proxy().await;
    assert!(
        tokio::time::timeout(Duration::ZERO, waiting.demanded()).await.is_err(),
        "no demand before any request"
    );
    let signalled = tokio::spawn({
        let waiting = Arc::clone(&waiting);
        async move { waiting.demanded().await }
    });

    let addr = proxy.addr;
    let _request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    within("the demand signal", signalled).await.unwrap();
    assert_eq!(waiting.demand(), 1);
}

#[tokio::test]
async fn a_client_that_goes_away_while_held_is_no_longer_counted() {
    let (proxy, waiting) = waiting_proxy().await;

    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    client.write_all(b"GET / HTTP/1.1\r\nHost: web.localhost\r\n\r\n").await.unwrap();
    eventually("the request to be held", || waiting.held() == 1).await;
    drop(client);
    eventually("the held request to be dropped", || waiting.held() == 0).await;

    let mut h2 = h2_connect(proxy.addr).await;
    let request = Request::get("http://web.localhost/").body(empty()).unwrap();
    let response = tokio::spawn(async move { h2.send_request(request).await });
    eventually("the http/2 request to be held", || waiting.held() == 1).await;
    // Dropping the task drops the client's connection.
    response.abort();
    eventually("the held http/2 request to be dropped", || waiting.held() == 0).await;
    assert_eq!(waiting.demand(), 2);
}

/// The pauses are the behaviour under test: a request held for longer than the request timeout and than the
/// header read timeout is still served, and its request timeout starts once it is routed.
#[tokio::test]
async fn the_hold_uses_neither_the_request_timeout_nor_the_header_read_timeout() {
    let timeout = Duration::from_millis(300);
    let proxy =
        Proxy::with_config(RouterConfig { header_read_timeout: timeout, ..RouterConfig::default() }).await;
    let waiting = Waiting::new(WAIT);
    let held = route_with("web", RouteTarget::Waiting(Arc::clone(&waiting)), Protocol::Http1, timeout);
    proxy.set(&[("web.localhost", held)]);
    let web = Backend::start("web-1", move |_req| async move {
        tokio::time::sleep(timeout / 2).await;
        Response::new(full("late but in time"))
    })
    .await;

    let mut conn = Conn::open(proxy.addr).await;
    let request = tokio::spawn(async move { (conn.get("web.localhost", "/").await, conn) });
    eventually("the request to be held", || waiting.held() == 1).await;
    tokio::time::sleep(timeout * 2).await;
    proxy.set(&[("web.localhost", serving_with("web", &[&web.endpoint], Protocol::Http1, timeout))]);
    let (reply, mut conn) = within("the held request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "late but in time"));
    assert_eq!(conn.get("web.localhost", "/").await.status, 200, "the connection stays usable");
}

#[tokio::test]
async fn a_held_request_is_held_with_its_body_unread() {
    let (proxy, waiting) = waiting_proxy().await;
    let web = Backend::start("web-1", |req: Request<hyper::body::Incoming>| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Response::new(full(body))
    })
    .await;

    let (mut tx, body) = channel_body();
    let request = Request::post("/").header("host", "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(request).await).await });
    tx.send_data(bytes::Bytes::from_static(b"sent while held, ")).await.unwrap();
    eventually("the request to be held", || waiting.held() == 1).await;

    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);
    tx.send_data(bytes::Bytes::from_static(b"sent once routed")).await.unwrap();
    drop(tx);
    let reply = within("the held request", response).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "sent while held, sent once routed"));
}
