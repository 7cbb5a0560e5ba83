//! The [`Router`]: its configuration and the current route table. (Connections to instances are pooled per
//! [`Endpoint`](crate::Endpoint): see `pool.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, OwnedSemaphorePermit};

use crate::headers::RequestIds;
use crate::https::Http01Challenges;
use crate::table::RouteTable;
use crate::tls::Certificates;

#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// Upper bound on connecting to an instance.
    pub connect_timeout: Duration,
    /// How long a request none of which could be sent (connecting to its instance failed, and to the one
    /// other tried, if any) waits for the table to give its host another route, before it is answered 502.
    /// An instance that died is usually still in the table until the control plane learns of it; its
    /// requests then go where the next table says (a replacement, or held for one) instead of failing.
    /// `Duration::ZERO`: 502 at once, unless a newer table came while the request was connecting. Default
    /// 5 s.
    pub reconnect_wait: Duration,
    /// Upper bound on reading a request's headers from a client (slow-client defence). It also bounds how long
    /// an idle keep-alive connection waits for its next request.
    pub header_read_timeout: Duration,
    /// How long `serve` lets open connections finish after shutdown is requested.
    pub shutdown_grace: Duration,
    /// Open client connections at most; beyond that, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Upper bound on a request's head (request line and headers) in bytes; beyond it the client gets 431.
    /// At least 8 KiB.
    pub max_header_bytes: usize,
    /// Upper bound on the number of header lines of an HTTP/1.1 request; beyond it the client gets 431.
    pub max_headers: usize,
    /// Upper bound on a request body in bytes (`None`: no limit); beyond it the client gets 413.
    pub max_body_bytes: Option<u64>,
    /// Upper bound on a TLS handshake, counted from the accept (slow-client defence for HTTPS listeners).
    pub tls_handshake_timeout: Duration,
    /// The public port of the HTTPS listener, for the `Location` of redirects to HTTPS
    /// ([`ServiceRoute::https_redirect`](crate::ServiceRoute::https_redirect)). `None` or 443: no port in it.
    pub https_port: Option<u16>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            connect_timeout: Duration::from_secs(5),
            reconnect_wait: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_connections: 20_000,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: None,
            tls_handshake_timeout: Duration::from_secs(10),
            https_port: None,
        }
    }
}

/// The reverse proxy. Cheap to share: one per process, behind an `Arc`, serving any number of listeners.
pub struct Router {
    pub(crate) config: RouterConfig,
    /// The current routes. Read on every request with `load` (no lock, no refcount on the fast path); replaced
    /// whole by `set_routes`.
    routes: ArcSwap<RouteTable>,
    /// Notified by every `set_routes`, for the requests that wait (`park.rs`: held by a
    /// [`RouteTarget::Waiting`], queued, or whose instances could not be connected to) to route again. Only
    /// they wait on it; the request path never touches it.
    ///
    /// [`RouteTarget::Waiting`]: crate::RouteTarget::Waiting
    changed: Notify,
    pub(crate) request_ids: RequestIds,
    /// What the HTTPS listeners serve; the control plane changes it.
    certificates: Certificates,
    /// ACME HTTP-01 answers, served on plain HTTP for any host.
    pub(crate) http01: Http01Challenges,
    /// Client connections open now, over all `serve` calls: each counted by its [`OpenConnection`].
    open: AtomicUsize,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("config", &self.config)
            .field("routes", &self.routes.load().len())
            .finish()
    }
}

impl Router {
    pub fn new(config: RouterConfig) -> Arc<Router> {
        Arc::new(Router {
            config,
            routes: ArcSwap::from_pointee(RouteTable::new()),
            changed: Notify::new(),
            request_ids: RequestIds::new(),
            certificates: Certificates::new(),
            http01: Http01Challenges::new(),
            open: AtomicUsize::new(0),
        })
    }

    /// The certificates the router's TLS listeners serve (give a clone to [`TlsListener::new`]); set or
    /// replace one at any time, and the next handshake gets it.
    ///
    /// [`TlsListener::new`]: crate::TlsListener::new
    pub fn certificates(&self) -> &Certificates {
        &self.certificates
    }

    /// The ACME HTTP-01 challenges the router answers on plain HTTP.
    pub fn http01(&self) -> &Http01Challenges {
        &self.http01
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Atomically replaces the routes. In-flight requests and open keep-alive/upgraded connections are
    /// unaffected: requests already routed hold their own `Arc<ServiceRoute>`, and a connection is not tied to
    /// any table. Requests that wait (held for a waiting service, queued, or not sent because connecting
    /// failed) route again with the new table.
    pub fn set_routes(&self, table: RouteTable) {
        self.routes.store(Arc::new(table));
        self.changed.notify_waiters();
    }

    /// The current routes.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.routes.load_full()
    }

    /// Client connections open now, on all the listeners this router serves: from their accept (TLS handshake
    /// included) until they close, an upgraded connection until its tunnel closes.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Completes at the next `set_routes` after it was created (not polled: a table stored between its creation
    /// and its first poll still wakes it).
    pub(crate) fn routes_changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// Reads the current table for the duration of `f` without touching its reference count.
    ///
    /// Always inline: on every request's path (`proxy.rs`'s `route`), and as a call of its own, which it became
    /// once the rare paths of `park.rs` called it too, it costs every request about 20 instructions more.
    #[inline(always)]
    pub(crate) fn with_routes<T>(&self, f: impl FnOnce(&RouteTable) -> T) -> T {
        f(&self.routes.load())
    }
}

/// One open client connection: its permit against `max_connections`, and its place in
/// [`Router::open_connections`], both given back when it is dropped (with the connection, or with the last
/// tunnel it became).
#[derive(Debug)]
pub(crate) struct OpenConnection {
    router: Arc<Router>,
    _permit: OwnedSemaphorePermit,
}

impl OpenConnection {
    pub(crate) fn new(router: &Arc<Router>, permit: OwnedSemaphorePermit) -> OpenConnection {
        router.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection { router: Arc::clone(router), _permit: permit }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.router.open.fetch_sub(1, Ordering::Relaxed);
    }
}
