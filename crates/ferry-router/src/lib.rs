//! ferry's data plane: an HTTP/1.1 reverse proxy that routes each request by its host to a ready instance of a
//! service.
//!
//! The control plane owns the truth about services and instances; it builds an immutable [`RouteTable`] and
//! swaps it in with [`Router::set_routes`]. The router only reads the current table (through `ArcSwap`, no lock)
//! and keeps serving the last one it was given if the control plane goes away. It knows nothing of SQL, Docker or
//! the API: an instance is an address.
//!
//! # LIFECYCLE of a request
//!
//! 1. **accept** ([`Router::serve`]): a TCP connection is accepted, `TCP_NODELAY` set, and served by hyper's
//!    HTTP/1.1 server with upgrades enabled and a header read timeout.
//! 2. **route** (`proxy.rs`): the host comes from the absolute-form URI or the `Host` header; it is normalised
//!    and looked up in the current table. The table guard is dropped right away: the request holds only its
//!    `Arc<ServiceRoute>`, so a table swap never waits on and never disturbs a request. Unknown host → 404,
//!    paused service → 503, no instance → 503.
//! 3. **pick** (`balance.rs`): two random instances, the one with fewer requests in flight wins. Its in-flight
//!    count goes up (an `InFlight` guard).
//! 4. **forward** (`proxy.rs`, `headers.rs`): hop-by-hop headers removed, `X-Forwarded-*` and `X-Request-Id`
//!    set, the request sent on a pooled connection. If the connection cannot be made, nothing was sent and one
//!    other instance is tried; any later failure is a 502, never a retry.
//! 5. **stream** (`body.rs`): the response head goes back at once and its body is streamed frame by frame; the
//!    request body likewise. An upgrade (101) instead joins the two connections in a tunnel task
//!    (`upgrade.rs`).
//! 6. **count down**: the `InFlight` guard lives in the response body (or the tunnel) and is dropped when the
//!    body ends, fails or is abandoned by the client (or the tunnel closes).

mod balance;
mod body;
mod error;
mod headers;
mod proxy;
mod router;
mod serve;
mod table;
mod upgrade;

pub use error::{ErrorSource, ProxyError};
pub use router::{Router, RouterConfig};
pub use table::{Endpoint, RouteState, RouteTable, ServiceRoute};
