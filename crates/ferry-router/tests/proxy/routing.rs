//! Behaviour 1 and 2: routing by host, and the router's own answers (404, 400, 503).

use ferry_router::RouteTarget;

use crate::support::*;

#[tokio::test]
async fn routes_by_host_ignoring_case_port_and_trailing_dot() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    let api = Backend::hello("api-1").await;
    proxy.set(&[
        ("web.localhost", serving("web", &[&web.endpoint])),
        ("api.localhost", serving("api", &[&api.endpoint])),
    ]);

    for host in
        ["web.localhost", "WEB.LocalHost", "web.localhost:8080", "web.localhost.", "Web.Localhost.:80"]
    {
        let reply = fetch(proxy.addr, host, "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"), "host {host:?}");
        assert!(is_generated_id(reply.request_id()));
    }
    let reply = fetch(proxy.addr, "api.localhost", "/").await;
    assert_eq!(reply.body, "api-1");
    assert_eq!((web.hits(), api.hits()), (5, 1));
}

#[tokio::test]
async fn absolute_form_target_routes_by_its_authority() {
    let proxy = Proxy::start().await;
    let mut web = Backend::hello("web-1").await;
    let api = Backend::hello("api-1").await;
    proxy.set(&[
        ("web.localhost", serving("web", &[&web.endpoint])),
        ("api.localhost", serving("api", &[&api.endpoint])),
    ]);

    // RFC 9112 §3.2.2: the target's authority wins over `Host`, and the instance sees it as `Host`.
    let response = raw(
        proxy.addr,
        "GET http://web.localhost:8080/p?q=1 HTTP/1.1\r\nHost: api.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("web-1"), "{response}");
    let seen = web.next_seen().await;
    assert_eq!(seen.uri, "/p?q=1", "the instance gets the origin form");
    assert_eq!(seen.headers["host"], "web.localhost:8080");
    assert_eq!(api.hits(), 0);

    // Without any `Host` header at all.
    let response = raw(proxy.addr, "GET http://web.localhost/ HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(response.ends_with("web-1"), "{response}");
}

#[tokio::test]
async fn unknown_host_is_404_with_a_short_text_body() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let reply = fetch(proxy.addr, "Nope.Localhost:8080", "/").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, "ferry: no service is configured for host nope.localhost\n");
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(is_generated_id(reply.request_id()));
    assert_eq!(web.hits(), 0);
}

#[tokio::test]
async fn missing_or_duplicate_host_is_400() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    for request in [
        "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: web.localhost\r\nHost: other.localhost\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: :80\r\nConnection: close\r\n\r\n",
    ] {
        let response = raw(proxy.addr, request).await;
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request\r\n") || response.starts_with("HTTP/1.0 400"),
            "{response}"
        );
        assert!(response.contains("x-request-id: "), "{response}");
    }
    let response = raw(proxy.addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(response.ends_with("\r\n\r\nferry: the request has no host\n"), "{response}");
    assert_eq!(web.hits(), 0);
}

#[tokio::test]
async fn connect_method_is_refused() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint]))]);

    let response = raw(
        proxy.addr,
        "CONNECT web.localhost:443 HTTP/1.1\r\nHost: web.localhost:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{response}");
    assert_eq!(web.hits(), 0);
}

#[tokio::test]
async fn paused_service_is_503() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", route("web", RouteTarget::Paused))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "ferry: service web is paused\n");
    assert!(is_generated_id(reply.request_id()));
    assert_eq!(web.hits(), 0);
}

#[tokio::test]
async fn service_without_instances_is_503() {
    let proxy = Proxy::start().await;
    proxy.set(&[("web.localhost", serving("web", &[]))]);

    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "ferry: service web has no ready instance\n");
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(is_generated_id(reply.request_id()));
}

/// Answers with what it saw, as the router's own handler (ACME's HTTP-01 challenge answers will be one).
struct Echo;

impl ferry_router::InternalHandler for Echo {
    fn handle(
        &self,
        req: http::Request<hyper::body::Incoming>,
    ) -> std::pin::Pin<Box<dyn Future<Output = http::Response<bytes::Bytes>> + Send + '_>> {
        Box::pin(async move {
            let host = req.headers()["host"].to_str().unwrap().to_owned();
            let line = format!("{} {} for {host}", req.method(), req.uri().path());
            http::Response::builder()
                .status(http::StatusCode::ACCEPTED)
                .header("content-type", "text/plain")
                .body(bytes::Bytes::from(line))
                .unwrap()
        })
    }
}

#[tokio::test]
async fn an_internal_target_is_answered_by_the_router_itself() {
    let proxy = Proxy::start().await;
    let web = Backend::hello("web-1").await;
    let internal = route("acme", RouteTarget::Internal(std::sync::Arc::new(Echo)));
    proxy.set(&[("web.localhost", serving("web", &[&web.endpoint])), ("acme.localhost", internal)]);

    let reply = fetch(proxy.addr, "acme.localhost", "/.well-known/acme-challenge/token").await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.body, "GET /.well-known/acme-challenge/token for acme.localhost");
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert!(is_generated_id(reply.request_id()), "the router adds the request id");
    assert_eq!(fetch(proxy.addr, "web.localhost", "/").await.body, "web-1", "other hosts are unaffected");
    assert_eq!(web.hits(), 1);
}

/// One route under several hosts serves all of them, from the same endpoints and their in-flight counts.
#[tokio::test]
async fn one_route_serves_several_hosts_and_shares_its_instances() {
    let proxy = Proxy::start().await;
    let release = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let slow_or_hello = |id: &'static str| {
        let release = std::sync::Arc::clone(&release);
        move |req: http::Request<hyper::body::Incoming>| {
            let release = std::sync::Arc::clone(&release);
            async move {
                if req.uri().path() == "/slow" {
                    release.acquire().await.unwrap().forget();
                }
                http::Response::new(full(id))
            }
        }
    };
    let a = Backend::start("a", slow_or_hello("a")).await;
    let b = Backend::start("b", slow_or_hello("b")).await;
    let web = serving("web", &[&a.endpoint, &b.endpoint]);
    proxy.set(&[("web.localhost", std::sync::Arc::clone(&web)), ("www.example.com", web)]);

    // A slow request through one host keeps one instance busy...
    let addr = proxy.addr;
    let slow = tokio::spawn(async move { fetch(addr, "web.localhost", "/slow").await });
    eventually("one instance to be busy", || a.endpoint.in_flight() + b.endpoint.in_flight() == 1).await;
    let idle = if a.endpoint.in_flight() == 0 { "a" } else { "b" };
    // ...and the other host sees it busy: every request goes to the idle one.
    for _ in 0..8 {
        let reply = fetch(proxy.addr, "www.example.com", "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, idle));
    }
    release.add_permits(1);
    assert_eq!(within("the slow request", slow).await.unwrap().status, 200);
}
