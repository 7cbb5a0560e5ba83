//! ferry's data plane: a reverse proxy that routes each request by its host to a ready instance of a service.
//! Clients speak HTTP/1.1 or HTTP/2 with prior knowledge (h2c) on a plain port, and HTTP/1.1 or HTTP/2 chosen
//! by ALPN over TLS on an HTTPS port ([`TlsListener`], certificates by SNI from [`Certificates`]); the router
//! speaks HTTP/1.1 or h2c to the instance, as the service's route says.
//!
//! The control plane owns the truth about services and instances; it builds an immutable [`RouteTable`] and
//! swaps it in with [`Router::set_routes`]. The router only reads the current table (through `ArcSwap`, no lock)
//! and keeps serving the last one it was given if the control plane goes away. It knows nothing of SQL, Docker or
//! the API: an instance is an address. A host's route says what becomes of its requests ([`RouteTarget`]):
//! they go to its instances, get 503 while the service is paused, are held while it waits for an instance
//! ([`Waiting`]), or are answered by the router itself ([`InternalHandler`]). One route may serve several hosts.
//! A route may bound the requests each instance takes at once ([`Capacity`], App Runner's MaxConcurrency):
//! beyond it, requests wait in a bounded queue for room rather than being refused.
//!
//! # LIFECYCLE of a request
//!
//! 1. **accept** ([`Router::serve`]): a connection is accepted from a [`Listener`] (at most `max_connections`
//!    open; a `TcpListener`'s with `TCP_NODELAY` inherited from it). In the connection's own task, never in the
//!    accept loop, the listener's handshake runs ([`Listener::handshake`]: nothing for TCP; for TLS, bounded by
//!    `tls_handshake_timeout`, the certificate picked by SNI, and a TLS-ALPN-01 challenge answered and closed
//!    there, `tls.rs`). ALPN's choice, if any, picks the server; otherwise the first bytes are read (and
//!    handed on): the HTTP/2 preface gets hyper's HTTP/2 server, anything else its HTTP/1.1 server with
//!    upgrades, a header read timeout and a bound on the head's size (431). A body announced larger than `max_body_bytes` is refused
//!    with 413 before routing. The listener's [`Scheme`] is what instances are told in `X-Forwarded-Proto`.
//!    The request's headers are read once (`proxy.rs`'s `Scan`): among them a gRPC `content-type`, which makes
//!    every answer the router gives itself, at any step below, a gRPC error (`grpc.rs`: HTTP 200, `grpc-status`
//!    and `grpc-message` in the headers, no body) instead of a short `text/plain` one.
//! 2. **route** (`proxy.rs`, `https.rs`): on a plain listener, a `GET` for an ACME HTTP-01 token that is set
//!    ([`Http01Challenges`]) is answered first, whatever the host (one atomic load when none is set). The host
//!    comes from the absolute-form URI or the `Host` header; it is normalised and looked up in the current
//!    table. On a plain listener, a route with `https_redirect` answers 308 to its `https://` URL when the
//!    host has a certificate (nothing of the request read); over HTTPS, a route's `hsts` goes on every response to its requests. The table guard is dropped right away: the request holds only its
//!    `Arc<ServiceRoute>`, so a table swap never waits on and never disturbs a request. Unknown host → 404,
//!    paused service → 503, no instance → 503, internal target → its handler's answer. A waiting target holds
//!    the request, body unread: it counts as demand on the [`Waiting`] (which wakes the control plane), and
//!    is routed again after every `set_routes` until its host has something else (instances: on to 3), or 503
//!    once the first `Waiting`'s hold has passed. A client that goes away while held is dropped with it.
//! 3. **pick** (`balance.rs`, still as hyper hands the request over): two random instances, the one with fewer
//!    requests in flight wins. Its in-flight count goes up (an `InFlight` guard). Under a [`Capacity`], only
//!    an instance below its max concurrency is taken (the winner, else any with room; the count goes up by a
//!    compare-and-swap, never past the limit), and only if no request is queued already (roughly first come,
//!    first served). Otherwise the request is queued, body unread (`capacity.rs`): at once 503 if the queue is full;
//!    else it waits, and tries again whenever a request on one of the service's instances ends (the one
//!    queued longest is woken) or a table is set (it is routed again, so a new instance takes it at once),
//!    until it has an instance (on to 4) or the capacity's wait has passed (503). Finding no room signals
//!    the control plane ([`Capacity::saturated`]). A client that goes away while queued is dropped with it.
//!    A held request whose host gets instances that are all busy queues in turn.
//! 4. **forward** (`proxy.rs`, `headers.rs`, `codec.rs`, `client.rs`, `pool.rs`): hop-by-hop headers removed;
//!    the request head is written once into one buffer, in origin form, with the client's `Host`, the
//!    forwarding headers (`X-Forwarded-For`, `-Proto`, `-Host`, `X-Real-IP`, `Forwarded`: what the router saw,
//!    the client's own dropped; a `Connection` header cannot remove them, nor `Host`) and `X-Request-Id` set,
//!    and the body frames the client already sent appended. Routing
//!    and writing the head happen as hyper hands the request over, before its future is first polled, so the
//!    request's borrowed bytes go back to hyper's read buffer at once (`Router::start`). The exchange runs
//!    inside the request's own task: an idle connection is taken from the endpoint's pool (or one is opened),
//!    the buffer written in one write, the rest of the body streamed (`Content-Length` or chunked) while
//!    watching for an early answer, and the response head parsed with `httparse`, 1xx interim answers skipped.
//!    If the connection cannot be made, nothing was sent and one other instance is tried (so is an idempotent,
//!    bodiless request that a new connection closed or reset without a byte of answer, as `docker-proxy` does
//!    for a container that is gone). If that cannot be
//!    made either (or there is no other), the request waits for the table to give its host another route, at
//!    most `reconnect_wait` (else 502), and goes where that route says, as in 2 and 3: held, queued, or sent
//!    again to an instance chosen then (`park.rs`; an instance that died is usually still in the table
//!    until the control plane learns of it). A pooled connection found closed is replaced by a fresh one to
//!    the same instance when that is safe (see `client.rs`); any other failure is a 502, never a retry. A
//!    service whose route says [`Protocol::Http2`] takes `h2.rs` instead: the request, converted to HTTP/2's
//!    form, goes on a stream of the instance's one shared h2c connection (`h2conn.rs`: opened on first use,
//!    replaced when closed), with the same retry rules; only an upgrade request stays on HTTP/1.1, to the
//!    same port. Either way, the route's `request_timeout` bounds everything from here up to the response
//!    head, from each time the request is sent (a hold, a queue or a wait for a new route is not counted):
//!    past it the client gets a 504 and the exchange is dropped (its connection closed, or its stream reset). A
//!    body streamed past `max_body_bytes` is cut there and answered 413.
//! 5. **stream** (`body.rs`, `decode.rs`): the response head goes back at once and the body is read straight
//!    from the instance's connection by its framing (`Content-Length`, chunked, or until close), each read
//!    passed on as it arrives; a body that came whole with the head is passed on at once and its connection
//!    pooled right away. The connection goes back to the pool only when the body ended cleanly and both sides
//!    keep it alive; a body the instance cuts short fails the client's response instead of ending it. An
//!    upgrade (101) instead joins the client's connection and the instance's (with any bytes it sent after the
//!    101) in a tunnel task (`upgrade.rs`). An HTTP/2 body is passed on frame by frame, trailers included.
//!    Neither a body nor a tunnel is bounded by the request timeout.
//! 6. **count down**: the `InFlight` guard lives in the response body (or the tunnel) and is dropped when the
//!    body ends, fails or is abandoned by the client (or the tunnel closes). An abandoned body closes its
//!    connection. Under a [`Capacity`], dropping it also wakes one queued request, if any is queued (one
//!    load otherwise).
//!
//! **Counting** (`metrics.rs`, `meter.rs`): a request whose route (the first it found, in 2) has
//! [`ServiceMetrics`] is counted in flight from then, held or queued included; its response head, the
//! router's own answers included, is counted by status class with its latency from arrival; its body's end
//! (or abandonment, or the 101 of an upgrade: a tunnel's bytes are not counted; a body in memory with its
//! head ends there) counts the total latency and the body bytes each way, and ends it in flight. A route's
//! [`RequestLog`] gets one [`RequestRecord`] then (status 499 for a client gone before its answer). A route
//! with neither costs a request a few tests of `None` and 32 bytes in its future (BENCHMARKS.md).
//!
//! # Modules
//!
//! Each module uses only modules before it in this order, lowest first (a test keeps it so): `listen` (where
//! client connections come from), `tls` (HTTPS: certificates and the TLS listener), `error`, `grpc` (the
//! router's own answers to gRPC clients), `pool` and `h2conn` (connections to instances), `waiting` and
//! `capacity` (requests that wait for an instance, or for room on one), `metrics` (what is counted of a
//! service's requests), `table` (routes and endpoints, which hold those connections), `balance` (which
//! instance), `headers`, `codec`, `decode`, `meter` (one request followed for its metrics and request log),
//! `body`, `https` (HTTP-01 answers, redirects to HTTPS, HSTS), `client` (HTTP/1.1 to an instance), `router`,
//! `park` (requests that wait to be routed again), `upgrade`, `h2` (HTTP/2 to an instance), `proxy` (one
//! request), `serve` (connections from clients).

mod balance;
mod body;
mod capacity;
mod client;
mod codec;
mod decode;
mod error;
mod grpc;
mod h2;
mod h2conn;
mod headers;
mod https;
mod listen;
mod meter;
mod metrics;
mod park;
mod pool;
mod proxy;
mod router;
mod serve;
mod table;
mod tls;
mod upgrade;
mod waiting;

pub use capacity::Capacity;
pub use error::{ErrorSource, ProxyError};
pub use https::{HTTP01_PREFIX, Http01Challenges};
pub use listen::{Alpn, Handshake, Listener, Scheme};
pub use metrics::{
    HistogramSnapshot, LATENCY_BOUNDS, MetricsSnapshot, RequestLog, RequestRecord, ServiceMetrics,
};
pub use router::{Router, RouterConfig};
pub use table::{Endpoint, InternalHandler, Protocol, RouteTable, RouteTarget, ServiceRoute};
pub use tls::{ACME_TLS_ALPN, Certificates, TlsError, TlsListener, certified_key_from_pem, server_config};
pub use waiting::Waiting;

#[cfg(test)]
mod tests {
    /// The module order of the crate docs, lowest first.
    const LAYERS: &[&str] = &[
        "listen", "tls", "error", "grpc", "pool", "h2conn", "waiting", "capacity", "metrics", "table",
        "balance", "headers", "codec", "decode", "meter", "body", "https", "client", "router", "park",
        "upgrade", "h2", "proxy", "serve",
    ];

    /// The modules `code` names through `crate::`: in `crate::a::…`, or each of `crate::{a::…, b}`.
    fn crate_refs(code: &str) -> Vec<&str> {
        fn ident(s: &str) -> &str {
            let s = s.trim_start();
            let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
            &s[..end]
        }
        let mut refs = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            match rest.strip_prefix('{') {
                Some(group) => {
                    refs.extend(group[..group.find('}').unwrap_or(group.len())].split(',').map(ident))
                }
                None => refs.push(ident(rest)),
            }
        }
        refs
    }

    #[test]
    fn modules_use_only_modules_below_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if file == "lib" {
                continue;
            }
            // `codec_tests.rs` is part of `codec`.
            let module = file.strip_suffix("_tests").unwrap_or(&file).to_owned();
            let rank = LAYERS.iter().position(|m| *m == module);
            let rank =
                rank.unwrap_or_else(|| panic!("module {module} is missing from LAYERS and the crate docs"));
            let text = std::fs::read_to_string(&path).unwrap();
            // Doc links and comments may name any module; code may not.
            let code =
                text.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
            for used in crate_refs(&code) {
                let Some(used_rank) = LAYERS.iter().position(|m| *m == used) else { continue };
                assert!(used_rank <= rank, "{module} uses {used}, which is above it");
            }
            seen.push(module);
        }
        for module in LAYERS {
            assert!(seen.iter().any(|m| m == module), "{module} is in LAYERS but has no file");
        }
    }
}
