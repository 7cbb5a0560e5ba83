//! Behaviour 16: a service's `Capacity` (App Runner's MaxConcurrency) — requests beyond it wait in a bounded
//! queue, for a bounded time, for an instance with room, instead of being refused; past the wait, or beyond the
//! queue, 503 saying why.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferry_router::{Capacity, Protocol, RouteTarget, Waiting};
use http::{Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::support::*;

/// A backend that answers each request with its id and path once the test adds a permit to `release`.
async fn gated_backend(id: &str, release: &Arc<Semaphore>) -> Backend {
    let (name, release) = (id.to_owned(), Arc::clone(release));
    Backend::start(id, move |req| {
        let id = name.clone();
        let release = Arc::clone(&release);
        async move {
            release.acquire().await.unwrap().forget();
            Response::new(full(format!("{id} {}", req.uri().path())))
        }
    })
    .await
}

/// Starts `GET path` on a connection of its own; the reply comes back through the handle.
fn spawn_fetch(proxy: &Proxy, path: &str) -> tokio::task::JoinHandle<Reply> {
    let (addr, path) = (proxy.addr, path.to_owned());
    tokio::spawn(async move { fetch(addr, "web.localhost", &path).await })
}

/// The scenario of the issue: two requests at a time, 200 ms each, six at once. The pause is the behaviour under
/// test (requests that take time fill the instance).
#[tokio::test]
async fn requests_beyond_the_max_concurrency_queue_and_are_all_served() {
    let proxy = Proxy::start().await;
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (backend_now, backend_most) = (Arc::clone(&now), Arc::clone(&most));
    let web = Backend::start("web-1", move |_req| {
        let (now, most) = (Arc::clone(&backend_now), Arc::clone(&backend_most));
        async move {
            most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Response::new(full("done"))
        }
    })
    .await;
    let capacity = Capacity::new(2, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);

    let requests: Vec<_> = (0..6).map(|i| spawn_fetch(&proxy, &format!("/{i}"))).collect();
    eventually("four requests to queue", || capacity.queued() == 4).await;
    assert_eq!(web.endpoint.in_flight(), 2);
    for request in requests {
        let reply = within("a request", request).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "done"));
    }
    assert_eq!(web.hits(), 6);
    assert_eq!(most.load(Ordering::SeqCst), 2, "the instance never had more than its max concurrency");
    assert_eq!(capacity.queued(), 0);
    eventually("the instance to be released", || web.endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn beyond_the_queue_limit_the_client_gets_503_saying_why() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 1, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);

    let first = spawn_fetch(&proxy, "/first");
    eventually("the first request to reach the instance", || web.hits() == 1).await;
    let second = spawn_fetch(&proxy, "/second");
    eventually("the second request to queue", || capacity.queued() == 1).await;

    let reply = fetch(proxy.addr, "web.localhost", "/third").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        "ferry: every instance of service web is at its max concurrency (1) and the queue is full (1 waiting)\n"
    );
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(is_generated_id(reply.request_id()));

    release.add_permits(2);
    assert_eq!(within("the first request", first).await.unwrap().body, "web-1 /first");
    assert_eq!(within("the queued request", second).await.unwrap().body, "web-1 /second");
    assert_eq!(web.hits(), 2, "the refused request never reached the instance");
}

#[tokio::test]
async fn without_a_queue_every_request_beyond_the_limit_gets_503_at_once() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 0, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);

    let first = spawn_fetch(&proxy, "/first");
    eventually("the first request to reach the instance", || web.hits() == 1).await;
    let reply = fetch(proxy.addr, "web.localhost", "/second").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("the queue is full (0 waiting)"), "{}", reply.body);
    release.add_permits(1);
    assert_eq!(within("the first request", first).await.unwrap().status, 200);
}

#[tokio::test]
async fn past_the_wait_the_queued_client_gets_503_saying_why() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 4, Duration::from_millis(200));
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);

    let first = spawn_fetch(&proxy, "/first");
    eventually("the first request to reach the instance", || web.hits() == 1).await;
    let reply = fetch(proxy.addr, "web.localhost", "/late").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        "ferry: every instance of service web is at its max concurrency (1); none had room within 200 ms\n"
    );
    assert_eq!(capacity.queued(), 0);

    release.add_permits(1);
    assert_eq!(within("the first request", first).await.unwrap().status, 200);
    // Room again: the next request goes straight through.
    release.add_permits(1);
    assert_eq!(fetch(proxy.addr, "web.localhost", "/next").await.body, "web-1 /next");
}

#[tokio::test]
async fn a_new_instance_takes_the_queued_requests_at_once() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let busy = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&busy.endpoint], Protocol::Http1, &capacity))]);

    let first = spawn_fetch(&proxy, "/first");
    eventually("the first request to reach the instance", || busy.hits() == 1).await;
    let queued: Vec<_> = (0..3).map(|i| spawn_fetch(&proxy, &format!("/queued-{i}"))).collect();
    eventually("three requests to queue", || capacity.queued() == 3).await;

    // The control plane scales out: a second instance, under the same capacity.
    let fresh = Backend::hello("web-2").await;
    let route = serving_limited("web", &[&busy.endpoint, &fresh.endpoint], Protocol::Http1, &capacity);
    proxy.set(&[("web.localhost", route)]);
    for request in queued {
        let reply = within("a queued request", request).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-2"));
    }
    assert_eq!((busy.hits(), fresh.hits(), capacity.queued()), (1, 3, 0));
    assert!(!first.is_finished(), "the first instance is still busy");
    release.add_permits(1);
    assert_eq!(within("the first request", first).await.unwrap().status, 200);
}

#[tokio::test]
async fn queued_requests_are_served_in_the_order_they_came() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let mut web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);

    let mut requests = vec![spawn_fetch(&proxy, "/0")];
    eventually("the first request to reach the instance", || web.hits() == 1).await;
    for i in 1..5 {
        requests.push(spawn_fetch(&proxy, &format!("/{i}")));
        eventually("the request to queue", || capacity.queued() == i).await;
    }
    release.add_permits(5);
    for (i, request) in requests.into_iter().enumerate() {
        assert_eq!(within("a request", request).await.unwrap().body, format!("web-1 /{i}"));
        assert_eq!(web.next_seen().await.uri, format!("/{i}").as_str());
    }
}

#[tokio::test]
async fn a_request_goes_to_any_instance_with_room_when_the_two_drawn_have_none() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let backends = [
        gated_backend("a", &release).await,
        gated_backend("b", &release).await,
        gated_backend("c", &release).await,
    ];
    let endpoints: Vec<_> = backends.iter().map(|b| &b.endpoint).collect();
    let capacity = Capacity::new(1, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &endpoints, Protocol::Http1, &capacity))]);

    for round in 0..10 {
        // Three requests fill the three instances whatever the random draws: none queues.
        let requests: Vec<_> = (0..3).map(|i| spawn_fetch(&proxy, &format!("/{i}"))).collect();
        let hits = || backends.iter().map(Backend::hits).sum::<usize>();
        eventually("three requests to reach the instances", || hits() == 3 * (round + 1)).await;
        assert_eq!(capacity.queued(), 0);
        assert!(backends.iter().all(|b| b.endpoint.in_flight() == 1));
        release.add_permits(3);
        for request in requests {
            assert_eq!(within("a request", request).await.unwrap().status, 200);
        }
        eventually("the instances to be released", || backends.iter().all(|b| b.endpoint.in_flight() == 0))
            .await;
    }
}

#[tokio::test]
async fn the_saturation_signal_fires_when_a_request_must_queue() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);
    let signalled = tokio::spawn({
        let capacity = Arc::clone(&capacity);
        async move { capacity.saturated().await }
    });

    let first = spawn_fetch(&proxy, "/first");
    eventually("the first request to reach the instance", || web.hits() == 1).await;
    assert!(!signalled.is_finished(), "a request with room is no saturation");
    let second = spawn_fetch(&proxy, "/second");
    within("the saturation signal", signalled).await.unwrap();
    release.add_permits(2);
    for request in [first, second] {
        assert_eq!(within("a request", request).await.unwrap().status, 200);
    }
}

#[tokio::test]
async fn a_queued_client_that_goes_away_leaves_the_queue_and_passes_its_turn_on() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity))]);

    let first = spawn_fetch(&proxy, "/first");
    eventually("the first request to reach the instance", || web.hits() == 1).await;
    let mut gone = TcpStream::connect(proxy.addr).await.unwrap();
    gone.write_all(b"GET /gone HTTP/1.1\r\nHost: web.localhost\r\n\r\n").await.unwrap();
    eventually("the request to queue", || capacity.queued() == 1).await;
    let behind = spawn_fetch(&proxy, "/behind");
    eventually("the second request to queue", || capacity.queued() == 2).await;
    drop(gone);
    eventually("the request that went away to leave the queue", || capacity.queued() == 1).await;

    release.add_permits(2);
    assert_eq!(within("the first request", first).await.unwrap().status, 200);
    assert_eq!(within("the request behind", behind).await.unwrap().body, "web-1 /behind");
    assert_eq!(web.hits(), 2, "the request that went away never reached the instance");
}

#[tokio::test]
async fn http2_clients_and_instances_queue_alike() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let release_h2 = Arc::clone(&release);
    let web = Backend::start_h2("grpc-1", move |_req| {
        let release = Arc::clone(&release_h2);
        async move {
            release.acquire().await.unwrap().forget();
            Response::new(full("grpc-1"))
        }
    })
    .await;
    let capacity = Capacity::new(1, 10, WAIT);
    proxy.set(&[("web.localhost", serving_limited("web", &[&web.endpoint], Protocol::Http2, &capacity))]);

    let h2 = h2_connect(proxy.addr).await;
    let requests: Vec<_> = (0..3)
        .map(|i| {
            let mut h2 = h2.clone();
            tokio::spawn(async move {
                let request = Request::get(format!("http://web.localhost/{i}")).body(empty()).unwrap();
                Reply::read(h2.send_request(request).await.unwrap()).await
            })
        })
        .collect();
    eventually("two requests to queue", || capacity.queued() == 2).await;
    assert_eq!(web.endpoint.in_flight(), 1);
    release.add_permits(3);
    for request in requests {
        let reply = within("a request", request).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "grpc-1"));
    }
}

#[tokio::test]
async fn a_held_request_whose_host_gets_busy_instances_queues_for_room() {
    let proxy = Proxy::start().await;
    let release = Arc::new(Semaphore::new(0));
    let web = gated_backend("web-1", &release).await;
    let capacity = Capacity::new(1, 10, WAIT);
    let limited = serving_limited("web", &[&web.endpoint], Protocol::Http1, &capacity);
    proxy.set(&[("web.localhost", Arc::clone(&limited))]);
    let busy = spawn_fetch(&proxy, "/busy");
    eventually("the first request to reach the instance", || web.hits() == 1).await;

    // The service waits for an instance (say, a replacement): a request is held...
    let waiting = Waiting::new(WAIT);
    proxy.set(&[("web.localhost", route("web", RouteTarget::Waiting(Arc::clone(&waiting))))]);
    let held = spawn_fetch(&proxy, "/held");
    eventually("the request to be held", || waiting.held() == 1).await;
    // ...and the instance it gets is still busy: it queues for room, and has it when the first one ends.
    proxy.set(&[("web.localhost", limited)]);
    eventually("the held request to queue", || capacity.queued() == 1 && waiting.held() == 0).await;
    release.add_permits(2);
    assert_eq!(within("the first request", busy).await.unwrap().body, "web-1 /busy");
    assert_eq!(within("the held request", held).await.unwrap().body, "web-1 /held");
}
