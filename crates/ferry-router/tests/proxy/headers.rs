//! Behaviour 6: what the instance receives and what the client gets back.

use std::collections::HashSet;

use http::header::HOST;
use http::{Request, Response, Version};

use crate::support::*;

#[tokio::test]
async fn the_instance_gets_forwarded_headers_without_hop_by_hop_ones() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let req = Request::get("/path?x=1")
        .header(HOST, "Web.localhost:8080")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "for this hop only")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("trailer", "x-checksum")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-real-ip", "203.0.113.10")
        .header("forwarded", "for=203.0.113.11;proto=https")
        .header("x-custom", "kept")
        .body(empty())
        .unwrap();
    let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
    assert_eq!(reply.status, 200);

    let seen = backend.next_seen().await;
    assert_eq!(seen.method, http::Method::GET);
    assert_eq!(seen.uri, "/path?x=1", "origin form: path and query only");
    assert_eq!(seen.version, Version::HTTP_11);
    let h = &seen.headers;
    assert_eq!(h["host"], "Web.localhost:8080", "the client's host is kept");
    // What the router saw, never what the client claimed.
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "Web.localhost:8080");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http;host=\"Web.localhost:8080\"");
    for name in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        assert_eq!(h.get_all(name).iter().count(), 1, "one {name}");
    }
    assert_eq!(h["x-custom"], "kept");
    for gone in ["connection", "x-secret", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"] {
        assert!(!h.contains_key(gone), "{gone} must not reach the instance");
    }
    let id = h["x-request-id"].to_str().unwrap();
    assert!(is_generated_id(id), "{id}");
    assert_eq!(reply.request_id(), id, "the response echoes the id the instance saw");
}

#[tokio::test]
async fn a_sane_client_request_id_is_kept_and_an_insane_one_replaced() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    let mut conn = Conn::open(proxy.addr).await;

    let sane = "client-id_42.abc";
    let req =
        Request::get("/").header(HOST, "web.localhost").header("x-request-id", sane).body(empty()).unwrap();
    let reply = Reply::read(conn.send(req).await).await;
    assert_eq!(reply.request_id(), sane);
    assert_eq!(backend.next_seen().await.headers["x-request-id"], sane);

    for insane in ["x".repeat(201), "has spaces".to_owned(), String::new()] {
        let req = Request::get("/")
            .header(HOST, "web.localhost")
            .header("x-request-id", &insane)
            .body(empty())
            .unwrap();
        let reply = Reply::read(conn.send(req).await).await;
        assert!(is_generated_id(reply.request_id()), "{insane:?} → {}", reply.request_id());
        assert_eq!(backend.next_seen().await.headers["x-request-id"], reply.request_id());
    }
}

#[tokio::test]
async fn generated_request_ids_are_unique() {
    let proxy = Proxy::start().await;
    let backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    let mut conn = Conn::open(proxy.addr).await;

    let mut ids = HashSet::new();
    for _ in 0..50 {
        let reply = conn.get("web.localhost", "/").await;
        assert!(ids.insert(reply.request_id().to_owned()), "duplicate id");
    }
    // Router answers get ids too.
    let reply = conn.get("nope.localhost", "/").await;
    assert!(ids.insert(reply.request_id().to_owned()));
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_from_responses() {
    let proxy = Proxy::start().await;
    let backend = Backend::start("web-1", |_req| async move {
        Response::builder()
            .header("connection", "x-internal")
            .header("x-internal", "for this hop only")
            .header("keep-alive", "timeout=5")
            .header("proxy-connection", "keep-alive")
            .header("trailer", "x-checksum")
            .header("upgrade", "h2c")
            .header("x-request-id", "instance-made")
            .header("x-kept", "yes")
            .body(full("hello"))
            .unwrap()
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let reply = conn.get("web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"));
    assert_eq!(reply.header("x-kept"), Some("yes"));
    for gone in ["connection", "x-internal", "keep-alive", "proxy-connection", "trailer", "upgrade"] {
        assert!(!reply.headers.contains_key(gone), "{gone} must not reach the client");
    }
    assert!(is_generated_id(reply.request_id()), "the router's id wins: {}", reply.request_id());
    // The instance's `Connection` did not close the client's connection.
    assert_eq!(conn.get("web.localhost", "/").await.status, 200);
}

/// Issue 12: `Connection: Host` removed `Host` from the request the instance got; `Connection` must not
/// remove what the router sets or needs either.
#[tokio::test]
async fn connection_cannot_remove_host_or_the_forwarding_headers() {
    let proxy = Proxy::start().await;
    let mut backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    let req = Request::get("/")
        .header(HOST, "web.localhost")
        .header("connection", "Host, X-Forwarded-For, forwarded, x-real-ip, x-request-id, x-secret")
        .header("x-secret", "for this hop only")
        .body(empty())
        .unwrap();
    let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let h = backend.next_seen().await.headers;
    assert_eq!(h["host"], "web.localhost");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http;host=web.localhost");
    assert!(h.contains_key("x-request-id"));
    assert!(!h.contains_key("x-secret"), "other named headers still go");
}
