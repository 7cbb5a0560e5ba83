//! The route table: what becomes of the requests for each host (its route's [`RouteTarget`]: instances, a
//! pause, a wait for an instance, or the router's own answer).
//!
//! The control plane builds a fresh [`RouteTable`] whenever a service's set of ready instances changes and
//! hands it to [`Router::set_routes`](crate::Router::set_routes). A table is immutable once it is shared, so the
//! request path reads it without a lock. What lives longer than one table is the [`Endpoint`]: the control plane
//! keeps one `Arc<Endpoint>` per instance and puts the same `Arc` into every table it builds, so the in-flight
//! count of an instance is not reset by a route change, and neither is its pool of idle connections. The same
//! goes for a [`Waiting`] and a [`Capacity`]: one per service, kept across tables, so their counts and queues
//! are not reset.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::capacity::Capacity;
use crate::h2conn::H2Conn;
use crate::metrics::{RequestLog, ServiceMetrics};
use crate::pool::Pool;
use crate::waiting::Waiting;

/// One instance the router can send requests to.
#[derive(Debug)]
pub struct Endpoint {
    id: String,
    addr: SocketAddr,
    /// Idle keep-alive connections to the instance.
    pub(crate) pool: Pool,
    /// The shared HTTP/2 connection to the instance, for services that speak h2c.
    pub(crate) h2: H2Conn,
    /// Requests whose response body is still being sent, plus open upgraded connections. Incremented and
    /// decremented only through [`InFlight`], so every increment has exactly one decrement.
    in_flight: AtomicUsize,
}

impl Endpoint {
    pub fn new(id: impl Into<String>, addr: SocketAddr) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            id: id.into(),
            addr,
            pool: Pool::default(),
            h2: H2Conn::default(),
            in_flight: AtomicUsize::new(0),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests (and upgraded connections) currently using this endpoint.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Idle keep-alive connections to this instance, ready for the next request.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle()
    }
}

/// Counts one request (or upgraded connection) against an endpoint for as long as it lives.
///
/// Invariant: created only by [`InFlight::start`] or [`InFlight::try_start`], which increment; dropping
/// decrements. Moving the guard into the response body or the tunnel task is how the count follows the work.
#[derive(Debug)]
pub(crate) struct InFlight {
    endpoint: Arc<Endpoint>,
    /// The limit the request was admitted under: told when the slot is given back, to wake a queued request.
    capacity: Option<Arc<Capacity>>,
}

impl InFlight {
    /// Counts a request of a route without a [`Capacity`].
    pub(crate) fn start(endpoint: &Arc<Endpoint>) -> InFlight {
        endpoint.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { endpoint: Arc::clone(endpoint), capacity: None }
    }

    /// Counts a request of a route with a [`Capacity`], if the endpoint has room under it: never past the limit,
    /// however many requests try at once.
    pub(crate) fn try_start(endpoint: &Arc<Endpoint>, capacity: &Arc<Capacity>) -> Option<InFlight> {
        let max = capacity.max_concurrency();
        // SeqCst, pairing with `Capacity::enter` and `Capacity::released` (see `capacity.rs`).
        endpoint
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1))
            .ok()?;
        Some(InFlight { endpoint: Arc::clone(endpoint), capacity: Some(Arc::clone(capacity)) })
    }

    pub(crate) fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // SeqCst: the slot must be seen given back before `released` looks for queued requests.
        self.endpoint.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some(capacity) = &self.capacity {
            capacity.released();
        }
    }
}

/// How the router speaks to a service's instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1, one request at a time per pooled connection.
    #[default]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c), one multiplexed connection per instance: for gRPC.
    Http2,
}

/// Where the requests for one service go.
///
/// One route may be inserted under several hosts (`web.localhost`, `www.example.com`): they then share it, and
/// with it its endpoints and their in-flight counts.
pub struct ServiceRoute {
    /// The service's name, used in error responses and logs.
    pub service: String,
    pub target: RouteTarget,
    /// What the instances speak.
    pub protocol: Protocol,
    /// How long an instance may take to send the response head (504 after that). Bodies, event streams and
    /// upgraded connections are never cut by it, and neither is the time a request was held by a
    /// [`RouteTarget::Waiting`] or queued by its [`Capacity`]: it starts once the request is sent to an
    /// instance.
    pub request_timeout: Duration,
    /// The most requests each instance takes at once, and the queue in front of them (`None`: no limit).
    /// Requests that find every instance at it wait for room instead of being sent ([`Capacity`]).
    pub capacity: Option<Arc<Capacity>>,
    /// Requests over plain HTTP for a host the router has a certificate for get `308 Permanent Redirect` to
    /// the same URL over HTTPS (at `RouterConfig::https_port`), whatever their method; ACME HTTP-01
    /// challenges excepted. A host still waiting for its certificate is served over HTTP. Not for
    /// [`RouteTarget::Internal`] routes.
    pub https_redirect: bool,
    /// Responses over HTTPS carry `Strict-Transport-Security: max-age=<this>` (RFC 6797: never over plain
    /// HTTP).
    pub hsts: Option<u32>,
    /// Where the route's requests are counted (`None`: not counted). One per service, kept across tables like
    /// a [`Capacity`]. A request is counted by the route it first found: held, queued or routed again, it
    /// stays with that one.
    pub metrics: Option<Arc<ServiceMetrics>>,
    /// Where a record of each of the route's requests goes when its response ends (`None`: no record, and
    /// nothing of one is built).
    pub request_log: Option<Arc<dyn RequestLog>>,
}

impl std::fmt::Debug for ServiceRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRoute")
            .field("service", &self.service)
            .field("target", &self.target)
            .field("protocol", &self.protocol)
            .field("request_timeout", &self.request_timeout)
            .field("capacity", &self.capacity)
            .field("https_redirect", &self.https_redirect)
            .field("hsts", &self.hsts)
            .field("metrics", &self.metrics.is_some())
            .field("request_log", &self.request_log.is_some())
            .finish()
    }
}

impl ServiceRoute {
    /// The request timeout ferry gives a service unless told otherwise.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

    /// The instances requests go to: none unless the target is [`RouteTarget::Instances`].
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        match &self.target {
            RouteTarget::Instances(endpoints) => endpoints,
            _ => &[],
        }
    }
}

/// What becomes of a request for a service.
pub enum RouteTarget {
    /// The ready instances. Empty: 503, the service has no ready instance.
    Instances(Vec<Arc<Endpoint>>),
    /// App Runner's paused service: 503 until it is resumed.
    Paused,
    /// No instance is ready but one is expected: requests are held until a later table gives their host
    /// something else (instances, most likely), for at most the [`Waiting::hold`], then answered 503. Each held
    /// request signals demand to the control plane ([`Waiting::demanded`]).
    Waiting(Arc<Waiting>),
    /// Answered by the router itself.
    Internal(Arc<dyn InternalHandler>),
}

impl std::fmt::Debug for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteTarget::Instances(endpoints) => f.debug_tuple("Instances").field(endpoints).finish(),
            RouteTarget::Paused => f.write_str("Paused"),
            RouteTarget::Waiting(waiting) => f.debug_tuple("Waiting").field(waiting).finish(),
            RouteTarget::Internal(_) => f.write_str("Internal"),
        }
    }
}

/// The router's own answer to the requests of a host, such as ACME HTTP-01 challenges.
///
/// The router sends back the response it returns, with the request's `X-Request-Id` added like to every
/// response. The request arrives as the client sent it, body unread. The handler runs on the request path:
/// it should answer promptly (the route's request timeout does not bound it).
pub trait InternalHandler: Send + Sync + 'static {
    fn handle(&self, req: Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Bytes>> + Send + '_>>;
}

/// Host name → service route. Keys are normalised by `normalize_host` on insert and on lookup.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: HashMap<String, Arc<ServiceRoute>>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// `host` is a full host name such as `web.localhost`; matched case-insensitively, port and trailing dot
    /// ignored. A later insert for the same host replaces the earlier one. One route may go in under several
    /// hosts: they share it.
    pub fn insert(&mut self, host: &str, route: Arc<ServiceRoute>) {
        self.routes.insert(normalize_host(host).into_owned(), route);
    }

    /// The route for `host`, normalised the same way as [`RouteTable::insert`].
    pub fn get(&self, host: &str) -> Option<&Arc<ServiceRoute>> {
        self.get_normalized(&normalize_host(host))
    }

    /// The route for a host already passed through `normalize_host`.
    ///
    /// A name without a route of its own takes its wildcard's (`a.example.com` → `*.example.com`): one label
    /// deep, as a wildcard certificate covers. Looked for only when the exact name misses.
    pub(crate) fn get_normalized(&self, name: &str) -> Option<&Arc<ServiceRoute>> {
        self.routes.get(name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.routes.get(&format!("*.{parent}"))
        })
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The (normalised) hosts and their routes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<ServiceRoute>)> {
        self.routes.iter().map(|(host, route)| (host.as_str(), route))
    }
}

/// Lower-cases `host` and strips a `:port` and one trailing dot; borrows when nothing needs to change, which is
/// the common case on the request path.
///
/// IPv6 literals keep their brackets: `[::1]:8080` → `[::1]`.
pub(crate) fn normalize_host(host: &str) -> Cow<'_, str> {
    // Byte scans: host names are short, and `str::find` costs more to set up than these take to run.
    let bytes = host.as_bytes();
    let mut end = if bytes.first() == Some(&b'[') {
        bytes.iter().position(|&b| b == b']').map_or(bytes.len(), |close| close + 1)
    } else {
        bytes.iter().rposition(|&b| b == b':').unwrap_or(bytes.len())
    };
    if end > 0 && bytes[end - 1] == b'.' {
        end -= 1;
    }
    // `end` is at an ASCII byte (or the end), so on a character boundary.
    let trimmed = host.get(..end).unwrap_or(host);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_host_lowercases_and_strips_port_and_trailing_dot() {
        let cases = [
            ("web.localhost", "web.localhost"),
            ("Web.LocalHost", "web.localhost"),
            ("web.localhost:8080", "web.localhost"),
            ("web.localhost.", "web.localhost"),
            ("WEB.localhost.:80", "web.localhost"),
            ("[::1]:8080", "[::1]"),
            ("[::1]", "[::1]"),
            ("127.0.0.1:3000", "127.0.0.1"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_host(input), want, "input {input:?}");
        }
    }

    #[test]
    fn normalize_host_borrows_when_already_normal() {
        assert!(matches!(normalize_host("web.localhost:80"), Cow::Borrowed("web.localhost")));
        assert!(matches!(normalize_host("Web.localhost"), Cow::Owned(_)));
    }

    #[test]
    fn table_matches_case_insensitively_and_ignores_port() {
        let mut table = RouteTable::new();
        assert!(table.is_empty());
        let route = Arc::new(ServiceRoute {
            service: "web".into(),
            target: RouteTarget::Instances(vec![]),
            protocol: Protocol::Http1,
            request_timeout: ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
            capacity: None,
            https_redirect: false,
            hsts: None,
            metrics: None,
            request_log: None,
        });
        table.insert("Web.Localhost.", Arc::clone(&route));
        assert_eq!(table.len(), 1);
        let found = table.get("web.localhost:9000").expect("route is found");
        assert!(Arc::ptr_eq(found, &route));
        assert!(table.get("WEB.LOCALHOST").is_some());
        assert!(table.get("api.localhost").is_none());
        assert_eq!(table.iter().map(|(host, _)| host).collect::<Vec<_>>(), ["web.localhost"]);

        // A wildcard covers one label, and an exact name wins over it.
        let mut wild = RouteTable::new();
        wild.insert("*.example.com", Arc::clone(&route));
        assert!(wild.get("a.example.com").is_some());
        assert!(wild.get("A.Example.com:443").is_some());
        assert!(wild.get("a.b.example.com").is_none());
        assert!(wild.get("example.com").is_none());

        // One route under a second host: the same route, not a copy.
        table.insert("www.example.com", Arc::clone(&route));
        assert_eq!(table.len(), 2);
        assert!(Arc::ptr_eq(table.get("WWW.example.com").expect("second host"), &route));
    }

    #[test]
    fn in_flight_guard_counts_up_and_down() {
        let endpoint = Endpoint::new("i-1", "127.0.0.1:1".parse().expect("valid address"));
        assert_eq!(endpoint.addr().to_string(), "127.0.0.1:1");
        let first = InFlight::start(&endpoint);
        let second = InFlight::start(&endpoint);
        assert_eq!(endpoint.in_flight(), 2);
        drop(first);
        assert_eq!(endpoint.in_flight(), 1);
        drop(second);
        assert_eq!(endpoint.in_flight(), 0);
    }

    #[test]
    fn endpoint_keeps_its_id_and_address_and_starts_without_connections() {
        let endpoint = Endpoint::new("i-6", "[::1]:8080".parse().expect("valid address"));
        assert_eq!(endpoint.addr().to_string(), "[::1]:8080");
        assert_eq!(endpoint.id(), "i-6");
        assert_eq!(endpoint.idle_connections(), 0);
    }
}
