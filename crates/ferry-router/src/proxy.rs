//! One request through the router: route, pick, forward, and turn the outcome into a response.
//! See the LIFECYCLE in the crate docs for the whole path.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use tracing::debug;

use crate::balance::{Turn, first_choice, second_choice};
use crate::body::ProxyBody;
use crate::client::{Budget, Outbound, exchange};
use crate::codec::{RequestFraming, RequestHead, ResponseHead};
use crate::error::{Chain, ProxyError};
use crate::grpc::Grpc;
use crate::h2::{Failure, h2_request};
use crate::h2conn::H2Body;
use crate::headers::{X_REQUEST_ID, is_hop_by_hop, is_sane_request_id, is_upgrade, strip_hop_by_hop};
use crate::https::{hsts_value, redirect_to_https};
use crate::listen::{Peer, Scheme};
use crate::meter::{Meter, Received};
use crate::park::{Form, MAX_REROUTES, NotYet, Parked, Place, Reroute, Unsent, at_capacity, parked};
use crate::pool::Conn;
use crate::router::Router;
use crate::table::{InFlight, InternalHandler, Protocol, RouteTarget, ServiceRoute, normalize_host};
use crate::upgrade::Tunnels;
use crate::waiting::Waiting;

/// Room for a typical request head, so writing it rarely reallocates. Below 1 KiB, glibc serves it from its
/// per-thread cache.
const HEAD_CAPACITY: usize = 512;

/// A response head from an instance, the connection its body follows on, whether the whole request went out,
/// and the in-flight guard of the instance.
struct Answer {
    head: ResponseHead,
    conn: Conn,
    request_sent: bool,
    in_flight: InFlight,
}

/// A request as far as it goes without waiting: its id, how the router's own answer to it is written, and
/// either what to send or why it cannot be sent yet.
///
/// Holds nothing that shares hyper's read buffer (see [`Router::start`]), except for a request that waits or
/// that the router answers itself: both are rare, and both need the request whole.
pub(crate) struct Started {
    request_id: HeaderValue,
    /// Over HTTPS, the route's `Strict-Transport-Security` max-age.
    hsts: Option<u32>,
    /// A gRPC client's: the router's own answers are gRPC errors (`grpc.rs`).
    grpc: Option<Grpc>,
    forward: Result<Prepared, NotYet<Unrouted>>,
    /// The request's meter, if its route counts it or logs it.
    meter: Option<Meter>,
}

/// A routed request, ready for the protocol its service speaks (with its instance chosen and counted), or for
/// the router's own handler.
enum Prepared {
    Http1(Forward),
    Http2 {
        route: Arc<ServiceRoute>,
        in_flight: InFlight,
        req: Request<Incoming>,
        peer: Peer,
        host: HeaderValue,
    },
    Internal {
        handler: Arc<dyn InternalHandler>,
        req: Request<Incoming>,
    },
    /// Answered by the router at once: an HTTP-01 challenge, a redirect to HTTPS. Boxed: rare, and inline it
    /// would grow every request's `Prepared`.
    Answered(Box<Response<ProxyBody>>),
}

/// A request not yet sent anywhere, waiting (`park.rs`), with what [`Router::prepare`] needs to route it again.
struct Unrouted {
    req: Request<Incoming>,
    peer: Peer,
    request_id: HeaderValue,
    /// The host already found (`Scan::host`), and the rest of what [`Scan`] found.
    scan: Scan<HeaderValue>,
}

impl Reroute for Unrouted {
    type Routed = Prepared;

    fn route(self, router: &Router, turn: Turn) -> Result<Prepared, NotYet<Unrouted>> {
        // Already metered, if at all, by the route it first found.
        router.prepare(self.req, self.peer, &self.request_id, self.scan, turn, None)
    }
}

/// A routed request with its head written for the instance.
struct Forward {
    route: Arc<ServiceRoute>,
    /// The instance it goes to first, counted.
    in_flight: InFlight,
    method: Method,
    /// The request head for the instance: origin form, forwarding headers set, hop-by-hop ones gone.
    head: Vec<u8>,
    body: Incoming,
    chunked: bool,
    /// The client's side of an upgrade it asked for.
    client_upgrade: Option<OnUpgrade>,
    /// The request's header map, emptied: the response's headers go into it. hyper keeps each response's
    /// map for the next request it reads, so the same map goes round without being allocated again.
    spare: HeaderMap,
}

impl Router {
    /// The part of serving a request that never waits: route it and write its head for the instance.
    ///
    /// Run as hyper hands the request over, before hyper polls the connection again: the request's target and
    /// headers share hyper's read buffer, and hyper reads from the client while the request is in flight (to
    /// notice a client that goes away). Were they still alive then, every request would cost hyper a fresh
    /// 8 KiB buffer; released here, it reuses the one it has.
    pub(crate) fn start(&self, req: Request<Incoming>, peer: Peer) -> Started {
        let scan = Scan::of(req.headers());
        let request_id = match scan.request_id {
            // A copy, not a clone: a clone would share hyper's read buffer until the response is sent.
            Some(id) if is_sane_request_id(id) => {
                HeaderValue::from_bytes(id.as_bytes()).unwrap_or_else(|_| self.request_ids.next())
            }
            _ => self.request_ids.next(),
        };
        let scan = scan.into_owned();
        let grpc = scan.grpc;
        let mut meter = None;
        let forward = self.prepare(req, peer, &request_id, scan, Turn::New, Some(&mut meter));
        let hsts = match (&forward, peer.scheme) {
            (_, Scheme::Http) => None,
            (Ok(Prepared::Http1(forward)), Scheme::Https) => forward.route.hsts,
            (Ok(Prepared::Http2 { route, .. }), Scheme::Https) => route.hsts,
            (_, Scheme::Https) => None,
        };
        Started { request_id, hsts, grpc, forward, meter }
    }

    /// Serves a started request: forwards it and passes the answer on. Never fails: every error becomes a short
    /// `text/plain` response (a gRPC error for a gRPC client). Every response carries the request's
    /// `X-Request-Id`. A metered request's meter counts the head and goes into the body (`meter.rs`).
    pub(crate) async fn finish(&self, started: Started, tunnels: &Tunnels) -> Response<ProxyBody> {
        let Started { request_id, hsts, grpc, forward, mut meter } = started;
        let mut received = Received::default();
        let outcome = match forward {
            Ok(Prepared::Http1(forward)) => self.forward(forward, tunnels, &mut received).await,
            Ok(Prepared::Http2 { route, in_flight, req, peer, host }) => {
                match h2_request(req, peer, &host, &request_id, self.config.max_body_bytes) {
                    Ok(req) => {
                        // Taken whether or not the request is metered: one reference count, on a path that
                        // is boxed anyway.
                        received.h2 = Some(req.body().outcome());
                        // Boxed: HTTP/2's client futures are large, and inline they would more than double
                        // the size of every request's future (7.7 KiB instead of 3.6), which hyper moves per
                        // request.
                        Box::pin(self.forward_h2(route, in_flight, req, &host)).await
                    }
                    Err(err) => Err(err),
                }
            }
            Ok(Prepared::Internal { handler, req }) => Ok(internal_response(handler.handle(req).await)),
            Ok(Prepared::Answered(response)) => Ok(*response),
            Err(NotYet::Failed(err)) => Err(err),
            // Boxed (the wait, and the rest of the request after it): waiting requests are rare, and inline
            // their futures would grow every request's. What comes back is the whole answer, request id included,
            // and counted: the meter goes along.
            Err(NotYet::Parked(parked)) => {
                let meter = meter.take();
                Ok(Box::pin(self.finish_parked(parked, &request_id, grpc, tunnels, meter)).await)
            }
        };
        let mut response = match outcome {
            Ok(response) => response,
            Err(err) => {
                debug!(
                    request_id = ?request_id,
                    status = err.status().as_u16(),
                    source = ?err.source_side(),
                    error = %Chain(&err),
                    "request failed"
                );
                error_response(&err, grpc)
            }
        };
        response.headers_mut().insert(&X_REQUEST_ID, request_id);
        if let Some(max_age) = hsts {
            response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, hsts_value(max_age));
        }
        if let Some(meter) = meter {
            let body = response.body();
            let streaming =
                meter.answered(response.status().as_u16(), body.whole(), received, || body.endpoint());
            if let Some(streaming) = streaming {
                response.body_mut().set_meter(streaming);
            }
        }
        response
    }

    /// Routes the request and prepares it for what its route's target says: for instances, one is chosen (and
    /// the request counted against it) and the head is written; a waiting target has it held, and instances
    /// all at their capacity have it queued (either given back as [`NotYet::Parked`]). What is returned for an
    /// instance owns its bytes: the target, the headers and the host are dropped here.
    ///
    /// A waiting request comes back here whenever it is woken, with its `turn` in the queue. Inlined into
    /// [`Router::start`]: as a call of its own, its answer would be copied on the way back, on every request.
    ///
    /// `meter`, on a request's first routing only: where its [`Meter`] goes if its route counts or logs it.
    #[inline(always)]
    fn prepare(
        &self,
        mut req: Request<Incoming>,
        peer: Peer,
        request_id: &HeaderValue,
        scan: Scan<HeaderValue>,
        turn: Turn,
        meter: Option<&mut Option<Meter>>,
    ) -> Result<Prepared, NotYet<Unrouted>> {
        if req.method() == Method::CONNECT {
            return Err(ProxyError::InvalidTarget.into());
        }
        if let Some(limit) = self.config.max_body_bytes
            && req.body().size_hint().lower() > limit
        {
            return Err(ProxyError::BodyTooLarge { limit }.into());
        }
        // ACME HTTP-01 challenges: for any host, before routing (and so before any redirect).
        if peer.scheme == Scheme::Http
            && let Some(answer) = self.http01.answer(req.method(), req.uri())
        {
            return Ok(Prepared::Answered(Box::new(answer)));
        }
        let host = request_host(&mut req, scan.host)?;
        let route = self.route(&host)?;
        if let Some(meter) = meter
            && Meter::wanted(&route)
        {
            *meter = Some(Meter::start(&route, &req, peer.addr, request_id));
        }
        // Only a host the HTTPS listener has a certificate for is sent there (a custom domain waiting for
        // its certificate keeps being served over plain HTTP).
        if route.https_redirect
            && peer.scheme == Scheme::Http
            && !matches!(route.target, RouteTarget::Internal(_))
            && host
                .to_str()
                .is_ok_and(|h| self.certificates().get(&crate::table::normalize_host(h)).is_some())
        {
            return Ok(Prepared::Answered(Box::new(self.redirect(&host, req.uri()))));
        }
        match &route.target {
            RouteTarget::Instances(_) => {}
            RouteTarget::Paused => return Err(ProxyError::Paused { service: route.service.clone() }.into()),
            RouteTarget::Waiting(waiting) => {
                let scan = Scan { host: Ok(host), ..scan };
                return Err(hold(waiting, &route, req, peer, request_id, scan));
            }
            RouteTarget::Internal(handler) => {
                return Ok(Prepared::Internal { handler: Arc::clone(handler), req });
            }
        }
        let Some(in_flight) = first_choice(&route, turn)? else {
            let scan = Scan { host: Ok(host), ..scan };
            return Err(queue(&route, req, peer, request_id, scan));
        };
        let Scan { hop_by_hop, content_length, .. } = scan;
        // Upgrades exist in HTTP/1.1 only; an HTTP/1.0 "upgrade" is forwarded as a plain request.
        // Both need hop-by-hop headers, which most requests do not have.
        let upgrade = hop_by_hop && req.version() == Version::HTTP_11 && is_upgrade(req.headers());
        // The HTTP/2 client takes the request as it is (`h2.rs`). An upgrade (a WebSocket) has no HTTP/2 form
        // but RFC 8441's extended CONNECT, which few application servers implement; servers that take h2c with
        // prior knowledge nearly all take HTTP/1.1 on the same port, so it goes there as HTTP/1.1. An instance
        // that speaks only HTTP/2 answers it with bytes that are no HTTP/1.1 response: 502.
        if route.protocol == Protocol::Http2 && !upgrade {
            return Ok(Prepared::Http2 { route, in_flight, req, peer, host });
        }
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let mut headers = parts.headers;
        if hop_by_hop {
            strip_hop_by_hop(&mut headers, upgrade);
        }
        let framing = request_framing(&body, content_length);
        let head = RequestHead {
            method: &parts.method,
            target: parts.uri.path_and_query().map_or("/", PathAndQuery::as_str),
            headers: &headers,
            peer,
            host: &host,
            request_id,
            framing,
        };
        let mut bytes = Vec::with_capacity(HEAD_CAPACITY);
        head.write(&mut bytes);
        headers.clear();
        Ok(Prepared::Http1(Forward {
            route,
            in_flight,
            method: parts.method,
            head: bytes,
            body,
            chunked: framing == RequestFraming::Chunked,
            client_upgrade,
            spare: headers,
        }))
    }

    /// Waits until the request can be sent (see [`Router::park`]), then finishes it as the table of that moment
    /// says; past the wait, 503.
    async fn finish_parked(
        &self,
        parked: Box<Parked<Unrouted>>,
        request_id: &HeaderValue,
        grpc: Option<Grpc>,
        tunnels: &Tunnels,
        meter: Option<Meter>,
    ) -> Response<ProxyBody> {
        let forward = self.park(parked).await.map_err(NotYet::Failed);
        // Never parked again (`park` returns only once the request stops waiting), so this recursion ends here:
        // should connecting fail, the request waits again inside `forward` (`resend`), not through here.
        let started = Started { request_id: request_id.clone(), hsts: None, grpc, forward, meter };
        Box::pin(self.finish(started, tunnels)).await
    }

    async fn forward(
        &self,
        forward: Forward,
        tunnels: &Tunnels,
        received: &mut Received,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let Forward { route, in_flight, method, head, mut body, chunked, client_upgrade, spare } = forward;
        let budget = Budget::new(self.config.max_body_bytes);
        let mut out = Outbound::new(head, &method, &mut body, chunked, spare, budget);

        let answer = timed(&route, within_timeout(&route, self.send(&route, in_flight, &mut out)).await);
        let answer = match answer {
            Ok(answer) => Ok((route, answer)),
            // Boxed, with every failure: rare, and inline its future would grow every request's.
            Err(err) => {
                let form = if client_upgrade.is_some() { Form::Upgrade } else { Form::Http1 };
                Box::pin(self.resend(route, &mut out, form, err)).await
            }
        };
        // The body is through by the head (or cut short by an early answer, or the failure).
        received.bytes = out.received();
        let (route, Answer { head, conn, request_sent, in_flight }) = answer?;
        let ResponseHead { parts: mut response, framing, keep_alive } = head;

        if response.status == StatusCode::SWITCHING_PROTOCOLS {
            let Some(client_upgrade) = client_upgrade else {
                return Err(ProxyError::upstream(
                    &route.service,
                    "unexpected 101 response",
                    UnexpectedUpgrade,
                ));
            };
            let body = ProxyBody::upgraded(Arc::clone(in_flight.endpoint()));
            tunnels.spawn(client_upgrade, conn, in_flight);
            strip_hop_by_hop(&mut response.headers, true);
            response.version = Version::HTTP_11;
            return Ok(Response::from_parts(response, body));
        }

        strip_hop_by_hop(&mut response.headers, false);
        // hyper's server writes only HTTP/1.x and adapts 1.1 to a 1.0 client itself.
        response.version = Version::HTTP_11;
        // A connection whose request was cut short by an early answer cannot carry another request.
        let body = ProxyBody::upstream(conn, framing, keep_alive && request_sent, in_flight);
        Ok(Response::from_parts(response, body))
    }

    /// What becomes of a request whose sending by `route` failed with `err`: a request none of which was sent
    /// (connecting failed), or that may be sent again (no answer at all on a new connection, `client.rs`), waits for its host's route to change, is routed again by the new one and sent
    /// again (`park.rs`), as often as that allows; any other failure is the answer. Returns the route that
    /// took the request, and its answer.
    async fn resend(
        &self,
        mut route: Arc<ServiceRoute>,
        out: &mut Outbound<'_>,
        form: Form,
        mut err: ProxyError,
    ) -> Result<(Arc<ServiceRoute>, Answer), ProxyError> {
        let mut reroutes = 0;
        loop {
            match err {
                // Still uploading when time ran out: the client is the slow side.
                ProxyError::Timeout { after, .. } if out.upload_unfinished() => {
                    return Err(ProxyError::SlowUpload { after });
                }
                err if !err.retry_safe() || reroutes == MAX_REROUTES => return Err(err),
                _ => {}
            }
            reroutes += 1;
            // The host the head was written for: the request kept no other copy of it.
            let Some(name) = out.routed_host().map(|host| normalize_host(host).into_owned()) else {
                return Err(err);
            };
            let in_flight;
            (route, in_flight) = self.reroute(Unsent { name, form, err }, &route).await?;
            err = match timed(&route, within_timeout(&route, self.send(&route, in_flight, out)).await) {
                Ok(answer) => return Ok((route, answer)),
                Err(err) => err,
            };
        }
    }

    /// Forwards the request over HTTP/2 to the instance chosen for it (or a second one, see `h2.rs`), bounded
    /// by the route's request timeout. A request none of which was sent is routed again as [`Router::resend`]
    /// says.
    async fn forward_h2(
        &self,
        mut route: Arc<ServiceRoute>,
        mut in_flight: InFlight,
        mut req: Request<H2Body>,
        host: &HeaderValue,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let mut reroutes = 0;
        loop {
            let (err, back) = match within_timeout(&route, self.exchange_h2(&route, in_flight, req)).await {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(Failure::Unsent(err, back))) if reroutes < MAX_REROUTES => (err, back),
                Ok(Err(Failure::Sent(err) | Failure::Unsent(err, _))) => return Err(err),
                Err(elapsed) => return timed(&route, Err(elapsed)),
            };
            reroutes += 1;
            let Some(name) = host.to_str().ok().map(|host| normalize_host(host).into_owned()) else {
                return Err(err);
            };
            // Boxed: rare, and inline it would grow every HTTP/2 request's future.
            (route, in_flight) =
                Box::pin(self.reroute(Unsent { name, form: Form::Http2, err }, &route)).await?;
            req = *back;
        }
    }

    /// The redirect of a request for `host` to HTTPS.
    #[cold]
    #[inline(never)]
    fn redirect(&self, host: &HeaderValue, uri: &http::Uri) -> Response<ProxyBody> {
        // `route` found the host, so it is text.
        let host = normalize_host(host.to_str().unwrap_or_default());
        redirect_to_https(&host, uri, self.config.https_port)
    }

    /// Looks `host` up in the current table. The table guard lives only for this call.
    ///
    /// Inline: holding a request made it a second caller, and as a call it costs every request more (callgrind).
    #[inline]
    fn route(&self, host: &HeaderValue) -> Result<Arc<ServiceRoute>, ProxyError> {
        let host = host.to_str().map_err(|_| ProxyError::InvalidHost)?;
        let name = normalize_host(host);
        if name.is_empty() {
            return Err(ProxyError::InvalidHost);
        }
        self.with_routes(|table| table.get_normalized(&name).cloned())
            .ok_or_else(|| ProxyError::UnknownHost { host: name.into_owned() })
    }

    /// Sends the request to the instance chosen for it (`in_flight`), or to a second one if connecting to the
    /// first failed.
    ///
    /// A retry writes the same bytes: the head does not depend on the instance, and the body frames taken from
    /// the client so far are still in `out` (nothing was sent).
    async fn send(
        &self,
        route: &ServiceRoute,
        mut in_flight: InFlight,
        out: &mut Outbound<'_>,
    ) -> Result<Answer, ProxyError> {
        let mut retried = false;
        out.take_ready_frames().await.map_err(|err| ProxyError::from_client(&route.service, err))?;
        // One call site for both attempts: two would each keep a slot for the exchange in this future.
        loop {
            match exchange(in_flight.endpoint(), self.config.connect_timeout, out).await {
                Ok((head, conn, request_sent)) => return Ok(Answer { head, conn, request_sent, in_flight }),
                Err(err) => match ProxyError::from_client(&route.service, err) {
                    err if !retried && err.retry_safe() => {
                        in_flight = second_choice(route, in_flight, err)?;
                        retried = true;
                    }
                    err => return Err(err),
                },
            }
        }
    }
}

/// Bounds `forward` (sending a request and waiting for the response head) by the route's request timeout; its
/// output goes through [`timed`]. The response body, and the tunnel of an upgrade, come after it and are not
/// bounded by it.
///
/// Not an `async fn` doing both: one would hold `forward` twice (as its argument and inside the timeout), and
/// this future is inline in every request's.
fn within_timeout<F: Future>(route: &ServiceRoute, forward: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(route.request_timeout, forward)
}

/// The outcome of a [`within_timeout`] future: running out of time is [`ProxyError::Timeout`].
fn timed<T>(
    route: &ServiceRoute,
    outcome: Result<Result<T, ProxyError>, tokio::time::error::Elapsed>,
) -> Result<T, ProxyError> {
    outcome.unwrap_or_else(|_| {
        Err(ProxyError::Timeout { service: route.service.clone(), after: route.request_timeout })
    })
}

/// A request for `route`, whose service waits for an instance: to hold. Out of line: rare, and it moves the
/// request.
#[cold]
#[inline(never)]
fn hold(
    waiting: &Arc<Waiting>,
    route: &ServiceRoute,
    req: Request<Incoming>,
    peer: Peer,
    request_id: &HeaderValue,
    scan: Scan<HeaderValue>,
) -> NotYet<Unrouted> {
    let request = Unrouted { req, peer, request_id: request_id.clone(), scan };
    parked(Place::Held(Arc::clone(waiting)), route, request)
}

/// A request for `route` whose instances are all at its capacity: to queue.
#[cold]
#[inline(never)]
fn queue(
    route: &ServiceRoute,
    req: Request<Incoming>,
    peer: Peer,
    request_id: &HeaderValue,
    scan: Scan<HeaderValue>,
) -> NotYet<Unrouted> {
    at_capacity(route, Unrouted { req, peer, request_id: request_id.clone(), scan })
}

/// How the body goes to the instance, as hyper's client framed it: no body stays without framing (unless the
/// client sent `Content-Length: 0`), a known length is sent as `Content-Length`, anything else chunked.
fn request_framing(body: &Incoming, content_length: bool) -> RequestFraming {
    if body.is_end_stream() {
        return if content_length { RequestFraming::Length(0) } else { RequestFraming::None };
    }
    match body.size_hint().exact() {
        Some(len) => RequestFraming::Length(len),
        None => RequestFraming::Chunked,
    }
}

/// The host the client asked for, as sent: the authority of an absolute-form target, else the one `Host`.
///
/// RFC 9112 §3.2.2: a server must use an absolute-form target's authority and ignore `Host`. The router then
/// rewrites `Host` to that authority, so the instance sees the name the request was routed by.
///
/// `host` is the `Host` header, as [`Scan`] found it.
fn request_host(
    req: &mut Request<Incoming>,
    host: Result<HeaderValue, ProxyError>,
) -> Result<HeaderValue, ProxyError> {
    if let Some(authority) = req.uri().authority() {
        let authority = authority.as_str();
        // Drop any `user:password@`: it is not part of the host and must not travel in `Host`.
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = HeaderValue::from_str(host).map_err(|_| ProxyError::InvalidHost)?;
        req.headers_mut().insert(header::HOST, host.clone());
        return Ok(host);
    }
    host
}

/// What the router needs to know of a request's headers, found in one pass over them rather than a lookup
/// each.
struct Scan<V> {
    /// The first `X-Request-Id`.
    request_id: Option<V>,
    /// The one `Host`: missing or repeated is an error.
    host: Result<V, ProxyError>,
    /// Whether any hop-by-hop header is present (an upgrade needs two).
    hop_by_hop: bool,
    content_length: bool,
    /// What the `content-type` says of gRPC.
    grpc: Option<Grpc>,
}

impl Scan<&HeaderValue> {
    fn of(headers: &HeaderMap) -> Scan<&HeaderValue> {
        let mut scan = Scan {
            request_id: None,
            host: Err(ProxyError::MissingHost),
            hop_by_hop: false,
            content_length: false,
            grpc: None,
        };
        for (name, value) in headers {
            if name == header::HOST {
                scan.host = match scan.host {
                    Err(ProxyError::MissingHost) => Ok(value),
                    _ => Err(ProxyError::InvalidHost),
                };
            } else if name == header::CONTENT_LENGTH {
                scan.content_length = true;
            } else if name == header::CONTENT_TYPE {
                scan.grpc = Grpc::of(value);
            } else if name == X_REQUEST_ID {
                scan.request_id = scan.request_id.or(Some(value));
            } else if is_hop_by_hop(name) {
                scan.hop_by_hop = true;
            }
        }
        scan
    }

    /// The same, owning its host (the request id is no longer needed).
    fn into_owned(self) -> Scan<HeaderValue> {
        Scan {
            request_id: None,
            host: self.host.cloned(),
            hop_by_hop: self.hop_by_hop,
            content_length: self.content_length,
            grpc: self.grpc,
        }
    }
}

/// The response of the router's own handler, as hyper's server takes it.
fn internal_response(response: Response<bytes::Bytes>) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    // hyper's server writes HTTP/1.x from this; a 1.0 client gets 1.0.
    parts.version = Version::HTTP_11;
    Response::from_parts(parts, ProxyBody::bytes(body))
}

/// The router's own answer to a failed request: a short text, or for a gRPC client a gRPC error.
fn error_response(err: &ProxyError, grpc: Option<Grpc>) -> Response<ProxyBody> {
    if let Some(grpc) = grpc {
        return grpc_error_response(err, grpc);
    }
    let mut response = Response::new(ProxyBody::text(format!("ferry: {err}\n")));
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    // The body may echo the client's host name; never let a browser sniff it into HTML.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A gRPC "Trailers-Only" answer: 200, no body, the status in the headers (`grpc.rs`).
#[cold]
#[inline(never)]
fn grpc_error_response(err: &ProxyError, grpc: Grpc) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::empty());
    grpc.trailers_only(response.headers_mut(), err.status(), &format!("ferry: {err}"));
    response
}

/// The instance switched protocols for a request that did not ask to.
#[derive(Debug, thiserror::Error)]
#[error("the instance answered 101 to a request without upgrade")]
struct UnexpectedUpgrade;
