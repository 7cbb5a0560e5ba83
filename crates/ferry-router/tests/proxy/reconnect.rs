//! Behaviour 4b: a request none of which could be sent (connecting to its instances failed) waits for the
//! table to give its host another route, up to `reconnect_wait`, and goes where that route says; 502 past it.
//!
//! The pauses of about 200 ms before a table is published are the behaviour under test: they make sure the
//! request has failed to connect (refused at once on 127.0.0.1) and is waiting when the table comes.

use std::sync::Arc;
use std::time::Duration;

use ferry_router::{Endpoint, Protocol, RouteTarget, RouterConfig, Waiting};
use http::header::HOST;
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::time::Instant;

use crate::support::*;

/// How long the request has to fail to connect and begin to wait.
const SETTLE: Duration = Duration::from_millis(200);

/// A router whose `web.localhost` goes to an instance that refuses connections (it died), with the default
/// wait for a new table (5 s: longer than any of these tests waits for one).
async fn dead_instance_proxy(protocol: Protocol) -> (Proxy, Arc<Endpoint>) {
    let proxy = Proxy::start().await;
    let dead = Endpoint::new("dead", closed_port().await);
    proxy.set(&[("web.localhost", serving_with("web", &[&dead], protocol, WAIT))]);
    (proxy, dead)
}

#[tokio::test]
async fn a_request_to_a_dead_instance_is_served_by_the_instance_the_next_table_gives() {
    let (proxy, dead) = dead_instance_proxy(Protocol::Http1).await;
    let live = Backend::hello("live").await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/replaced").await });
    tokio::time::sleep(SETTLE).await;
    assert!(!request.is_finished(), "the request waits for a new table instead of failing");
    assert_eq!(dead.in_flight(), 0, "the dead instance no longer counts the request");

    let published = Instant::now();
    proxy.set(&[("web.localhost", serving("web", &[&live.endpoint]))]);
    let reply = within("the waiting request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "live"));
    assert!(
        published.elapsed() < Duration::from_secs(2),
        "served once the table came: {:?}",
        published.elapsed()
    );
    assert_eq!((live.hits(), live.endpoint.in_flight()), (1, 0));
}

#[tokio::test]
async fn without_a_new_table_the_request_gets_its_502_after_the_wait() {
    let wait = Duration::from_millis(400);
    let proxy = Proxy::with_config(RouterConfig { reconnect_wait: wait, ..RouterConfig::default() }).await;
    let dead = Endpoint::new("dead", closed_port().await);
    let route = serving("web", &[&dead]);
    proxy.set(&[("web.localhost", Arc::clone(&route))]);

    let started = Instant::now();
    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    // Another host changes; this one keeps the very route it failed by: still no new route for it.
    let other = Backend::hello("other").await;
    proxy.set(&[("web.localhost", route), ("api.localhost", serving("api", &[&other.endpoint]))]);
    let reply = within("the 502", request).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body, "ferry: the instance of service web failed to answer (connection refused)\n");
    assert!(elapsed >= wait, "answered after {elapsed:?}, before the wait of {wait:?}");
    assert!(elapsed < wait + Duration::from_secs(2), "answered after {elapsed:?}, long after the wait");
    assert_eq!(dead.in_flight(), 0);
}

#[tokio::test]
async fn a_table_that_came_while_the_request_was_connecting_is_used_at_once() {
    // The instance's connection hangs until the connect timeout; the new table comes meanwhile. The request
    // does not wait for yet another one (the wait is far longer than the test).
    let (stuck, _listener, _fillers) = unaccepting_listener().await;
    let connect_timeout = Duration::from_millis(500);
    let proxy = Proxy::with_config(RouterConfig {
        connect_timeout,
        reconnect_wait: WAIT * 2,
        ..RouterConfig::default()
    })
    .await;
    let stuck = Endpoint::new("stuck", stuck);
    proxy.set(&[("web.localhost", serving("web", &[&stuck]))]);
    let live = Backend::hello("live").await;

    let started = Instant::now();
    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(connect_timeout / 5).await;
    proxy.set(&[("web.localhost", serving("web", &[&live.endpoint]))]);
    let reply = within("the request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "live"));
    assert!(started.elapsed() < connect_timeout + Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_new_table_that_waits_holds_the_request_until_an_instance_is_published() {
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http1).await;
    let live = Backend::hello("replacement").await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    let waiting = Waiting::new(WAIT);
    proxy.set(&[("web.localhost", route("web", RouteTarget::Waiting(Arc::clone(&waiting))))]);
    eventually("the request to be held", || waiting.held() == 1).await;
    assert_eq!(waiting.demand(), 1, "a held request signals demand like any other");
    assert!(!request.is_finished());

    proxy.set(&[("web.localhost", serving("web", &[&live.endpoint]))]);
    let reply = within("the held request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "replacement"));
    assert_eq!(waiting.held(), 0);
}

#[tokio::test]
async fn the_hold_starts_when_the_request_is_held_and_ends_in_its_503() {
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http1).await;
    let hold = Duration::from_millis(300);

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    let held_at = Instant::now();
    let waiting = Waiting::new(hold);
    proxy.set(&[("web.localhost", route("web", RouteTarget::Waiting(Arc::clone(&waiting))))]);
    let reply = within("the held request", request).await.unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "ferry: no instance of service web became ready within 300 ms\n");
    assert!(held_at.elapsed() >= hold, "held for {:?} only", held_at.elapsed());
    assert_eq!((waiting.held(), waiting.demand()), (0, 1));
}

#[tokio::test]
async fn a_held_request_whose_new_instance_died_too_waits_again_and_is_served() {
    let proxy = Proxy::start().await;
    let waiting = Waiting::new(WAIT);
    proxy.set(&[("web.localhost", route("web", RouteTarget::Waiting(Arc::clone(&waiting))))]);
    let dead = Endpoint::new("dead", closed_port().await);
    let live = Backend::hello("third time").await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    eventually("the request to be held", || waiting.held() == 1).await;
    // The instance it is released to is gone before the request reaches it...
    proxy.set(&[("web.localhost", serving("web", &[&dead]))]);
    eventually("the request to leave the hold", || waiting.held() == 0).await;
    tokio::time::sleep(SETTLE).await;
    assert!(!request.is_finished(), "the request waits for a new table again");
    // ...and the control plane holds requests again, then publishes a third instance.
    proxy.set(&[("web.localhost", route("web", RouteTarget::Waiting(Arc::clone(&waiting))))]);
    eventually("the request to be held again", || waiting.held() == 1).await;
    proxy.set(&[("web.localhost", serving("web", &[&live.endpoint]))]);
    let reply = within("the request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "third time"));
    assert_eq!((waiting.held(), waiting.demand()), (0, 2));
}

#[tokio::test]
async fn a_request_body_taken_before_the_failed_connect_reaches_the_new_instance_once() {
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http1).await;
    let echo = Backend::start("echo", |req: Request<hyper::body::Incoming>| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Response::new(full(body))
    })
    .await;

    let (mut tx, body) = channel_body();
    let request = Request::post("/upload").header(HOST, "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(request).await).await });
    tx.send_data(bytes::Bytes::from_static(b"before the failure, ")).await.unwrap();
    tokio::time::sleep(SETTLE).await;
    proxy.set(&[("web.localhost", serving("web", &[&echo.endpoint]))]);
    tx.send_data(bytes::Bytes::from_static(b"after it")).await.unwrap();
    drop(tx);
    let reply = within("the upload", response).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "before the failure, after it"));
    assert_eq!(echo.hits(), 1);
}

#[tokio::test]
async fn a_request_follows_its_host_to_a_pause_or_away() {
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http1).await;
    let addr = proxy.addr;

    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    proxy.set(&[("web.localhost", route("web", RouteTarget::Paused))]);
    let reply = within("the request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (503, "ferry: service web is paused\n"));

    let (proxy, _dead) = dead_instance_proxy(Protocol::Http1).await;
    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    proxy.set(&[]);
    let reply = within("the request", request).await.unwrap();
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test]
async fn an_h2c_request_to_a_dead_instance_is_served_by_the_next_one() {
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http2).await;
    let live = Backend::start_h2("g-live", |_req| async { Response::new(full("alive over h2c")) }).await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    assert!(!request.is_finished());
    proxy.set(&[("web.localhost", serving_with("web", &[&live.endpoint], Protocol::Http2, WAIT))]);
    let reply = within("the request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "alive over h2c"));

    // An HTTP/2 client's request takes the same path.
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http2).await;
    let mut h2 = h2_connect(proxy.addr).await;
    let call = Request::get("http://web.localhost/").body(empty()).unwrap();
    let response = tokio::spawn(async move { h2.send_request(call).await.unwrap() });
    tokio::time::sleep(SETTLE).await;
    let waiting = Waiting::new(WAIT);
    proxy.set(&[("web.localhost", route("web", RouteTarget::Waiting(Arc::clone(&waiting))))]);
    eventually("the request to be held", || waiting.held() == 1).await;
    proxy.set(&[("web.localhost", serving_with("web", &[&live.endpoint], Protocol::Http2, WAIT))]);
    let response = within("the request", response).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = within("the body", response.into_body().collect()).await.unwrap().to_bytes();
    assert_eq!(body, "alive over h2c");
}

#[tokio::test]
async fn a_new_route_of_another_protocol_cannot_take_the_request_as_it_is() {
    let wait = Duration::from_millis(300);
    let proxy = Proxy::with_config(RouterConfig { reconnect_wait: wait, ..RouterConfig::default() }).await;
    let dead = Endpoint::new("dead", closed_port().await);
    proxy.set(&[("web.localhost", serving("web", &[&dead]))]);
    let h2_only = Backend::start_h2("h2", |_req| async { Response::new(full("h2")) }).await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE / 2).await;
    proxy.set(&[("web.localhost", serving_with("web", &[&h2_only.endpoint], Protocol::Http2, WAIT))]);
    let reply = within("the request", request).await.unwrap();
    assert_eq!(reply.status, 502, "the request was written for HTTP/1.1: {}", reply.body);
    assert_eq!(h2_only.hits(), 0);
}

/// The connect failures of a service whose instances keep dying do not keep a request for ever.
#[tokio::test]
async fn a_request_is_routed_again_a_bounded_number_of_times() {
    let (proxy, _dead) = dead_instance_proxy(Protocol::Http1).await;
    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    let mut tables = 0;
    while !request.is_finished() {
        assert!(tables < 10, "the request is still routed again after {tables} new tables");
        tokio::time::sleep(SETTLE / 2).await;
        let dead = Endpoint::new("dead again", closed_port().await);
        proxy.set(&[("web.localhost", serving("web", &[&dead]))]);
        tables += 1;
    }
    let reply = request.await.unwrap();
    assert_eq!(reply.status, 502);
    assert!(tables >= 3, "gave up after {tables} tables");
}

/// An instance behind a port proxy that still accepts connections though the app behind it is gone (Docker's
/// `docker-proxy`): every connection is accepted and closed without a byte of answer.
async fn accepting_but_dead() -> (Arc<Endpoint>, tokio::task::JoinHandle<()>) {
    raw_backend("docker-proxy", |stream: tokio::net::TcpStream| async move { drop(stream) }).await
}

#[tokio::test]
async fn a_get_that_a_new_connection_closed_on_unanswered_is_served_by_the_next_table() {
    let proxy = Proxy::start().await;
    let (dead, _task) = accepting_but_dead().await;
    proxy.set(&[("web.localhost", serving("web", &[&dead]))]);
    let live = Backend::hello("live").await;

    let addr = proxy.addr;
    let request = tokio::spawn(async move { fetch(addr, "web.localhost", "/").await });
    tokio::time::sleep(SETTLE).await;
    assert!(!request.is_finished(), "the request waits for a new table instead of failing");
    assert_eq!(dead.in_flight(), 0, "the dead instance no longer counts the request");

    proxy.set(&[("web.localhost", serving("web", &[&live.endpoint]))]);
    let reply = within("the waiting request", request).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "live"));
    assert_eq!((live.hits(), live.endpoint.in_flight()), (1, 0));
}

#[tokio::test]
async fn a_post_with_a_body_that_got_no_answer_is_a_502_at_once() {
    // The wait for a new table is longer than the test: the POST must not take it (the app may have seen it).
    let proxy = Proxy::start().await;
    let (dead, _task) = accepting_but_dead().await;
    proxy.set(&[("web.localhost", serving("web", &[&dead]))]);

    let started = Instant::now();
    let request = Request::post("/").header(HOST, "web.localhost").body(full("data")).unwrap();
    let reply =
        within("the 502", async { Reply::read(Conn::open(proxy.addr).await.send(request).await).await })
            .await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(started.elapsed() < Duration::from_secs(2), "answered after {:?}", started.elapsed());
    assert_eq!(dead.in_flight(), 0);
}

#[tokio::test]
async fn a_get_that_got_no_answer_without_a_new_table_gets_its_502_after_the_wait() {
    let wait = Duration::from_millis(400);
    let proxy = Proxy::with_config(RouterConfig { reconnect_wait: wait, ..RouterConfig::default() }).await;
    let (dead, _task) = accepting_but_dead().await;
    proxy.set(&[("web.localhost", serving("web", &[&dead]))]);

    let started = Instant::now();
    let reply = within("the 502", fetch(proxy.addr, "web.localhost", "/")).await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 502);
    assert!(
        [
            "ferry: the instance of service web failed to answer (connection closed before the response)\n",
            "ferry: the instance of service web failed to answer (connection reset)\n",
        ]
        .contains(&reply.body.as_str()),
        "{}",
        reply.body
    );
    assert!(elapsed >= wait, "answered after {elapsed:?}, before the wait of {wait:?}");
    assert!(elapsed < wait + Duration::from_secs(2), "answered after {elapsed:?}, long after the wait");
    assert_eq!(dead.in_flight(), 0);
}
