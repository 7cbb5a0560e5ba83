//! Following one request for its route's [`ServiceMetrics`] and [`RequestLog`]: a [`Meter`], made when the
//! request first finds its route and kept in the request's future until its response head is ready.
//!
//! LIFECYCLE: routed (`Meter::start`: in flight from now; the arrival time read, and for a request log what
//! it will say of the request) → held, queued, forwarded: the meter waits in the request's future → the
//! response head is ready, whoever wrote it (`Meter::answered`: its status class and head latency counted) →
//! a body already in memory (the router's own answers, a small body read with the head) ends there: its
//! total latency is the head's, its bytes known, and the request is over (hyper writes it in the same turn).
//! A body still to come from the instance takes the meter along, boxed ([`Streaming`]: 8 bytes in every
//! response body rather than the meter's size), counts the bytes it hands to hyper, and ends the request
//! when it ends, fails or is dropped (hyper drops a body once it has ended; an abandoned one when its
//! connection goes). A request whose future is dropped before it had a head (its client went away while it
//! waited) only leaves the in-flight count, and its record says 499, as nginx says of a client that closed
//! first; its body bytes are not counted.
//!
//! A route with neither metrics nor a log has no meter: a request then pays a few tests of `None`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Request};

use crate::h2conn::BodyOutcome;
use crate::metrics::{RequestLog, RequestRecord, ServiceMetrics};
use crate::table::{Endpoint, ServiceRoute};

/// The status a request log records for a request whose client went away before it had an answer.
const CLIENT_CLOSED: u16 = 499;

/// One request, counted from its arrival to its response's end. Ended once: [`Meter::end`] takes what it
/// counts into, so the drop of an ended meter does nothing.
pub(crate) struct Meter {
    metrics: Option<Arc<ServiceMetrics>>,
    arrived: Instant,
    /// What the request log will say, if the route has one.
    log: Option<Box<Pending>>,
}

/// What a request log's record says of the request itself, kept from its arrival.
struct Pending {
    log: Arc<dyn RequestLog>,
    at: SystemTime,
    service: Arc<str>,
    method: Method,
    path: String,
    client: IpAddr,
    request_id: String,
    /// The response's, once it has one.
    status: u16,
    /// The instance that answered, once known.
    instance: Option<Arc<Endpoint>>,
}

/// The request body bytes taken from the client, told by the forwarding code to the meter: counted as they
/// went out over HTTP/1.1, read at the end from the body over HTTP/2 (whose upload may outlive the head).
#[derive(Debug, Default)]
pub(crate) struct Received {
    pub(crate) bytes: u64,
    pub(crate) h2: Option<BodyOutcome>,
}

impl Received {
    fn total(&self) -> u64 {
        self.bytes + self.h2.as_ref().map_or(0, BodyOutcome::bytes)
    }
}

/// A metered request whose response body is still being sent: it lives in the body.
pub(crate) struct Streaming {
    meter: Meter,
    received: Received,
    /// Response body bytes handed to hyper.
    sent: u64,
}

impl Streaming {
    /// Response body bytes handed to hyper.
    #[inline]
    pub(crate) fn sent(&mut self, bytes: usize) {
        self.sent += bytes as u64;
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let total = self.meter.arrived.elapsed();
        self.meter.end(Some(total), self.received.total(), self.sent);
    }
}

impl Meter {
    /// Whether requests of `route` are metered at all.
    #[inline(always)]
    pub(crate) fn wanted(route: &ServiceRoute) -> bool {
        route.metrics.is_some() || route.request_log.is_some()
    }

    /// Starts following a request of `route` that has just arrived from `client` (`Meter::wanted`). Out of
    /// line: it keeps the routing code that calls it small.
    #[inline(never)]
    pub(crate) fn start<B>(
        route: &ServiceRoute,
        req: &Request<B>,
        client: IpAddr,
        request_id: &HeaderValue,
    ) -> Meter {
        let arrived = Instant::now();
        if let Some(metrics) = &route.metrics {
            metrics.arrived();
        }
        let log = route.request_log.as_ref().map(|log| {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            Box::new(Pending {
                log: Arc::clone(log),
                at: SystemTime::now(),
                service: Arc::from(route.service.as_str()),
                method: req.method().clone(),
                path: cut(path, RequestRecord::MAX_PATH).to_owned(),
                client,
                // A request id is visible ASCII (`headers::is_sane_request_id`, or made by the router).
                request_id: request_id.to_str().unwrap_or_default().to_owned(),
                status: CLIENT_CLOSED,
                instance: None,
            })
        });
        Meter { metrics: route.metrics.clone(), arrived, log }
    }

    /// The response head is ready: counts it. A body already in memory (`whole`: `Some(its length)`) ends
    /// the request here; otherwise the request goes on in the body, as the [`Streaming`] returned.
    /// `instance` is the instance that answered, if any (asked only when a request log wants it).
    #[inline(never)]
    pub(crate) fn answered(
        mut self,
        status: u16,
        whole: Option<u64>,
        received: Received,
        instance: impl FnOnce() -> Option<Arc<Endpoint>>,
    ) -> Option<Box<Streaming>> {
        let head = self.arrived.elapsed();
        if let Some(log) = &mut self.log {
            log.status = status;
            log.instance = instance();
        }
        let Some(len) = whole else {
            if let Some(metrics) = &self.metrics {
                metrics.answered(status, head);
            }
            return Some(Box::new(Streaming { meter: self, received, sent: 0 }));
        };
        let received = received.total();
        if let Some(metrics) = self.metrics.take() {
            metrics.answered_whole(status, head, received, len);
        }
        self.end(Some(head), received, len);
        None
    }

    /// The request is over, `total` after its arrival (`None`: without an answer). Inline, the test for an
    /// ended meter: every meter's drop makes it.
    #[inline]
    fn end(&mut self, total: Option<Duration>, received: u64, sent: u64) {
        if self.metrics.is_some() || self.log.is_some() {
            self.count_end(total, received, sent);
        }
    }

    #[inline(never)]
    fn count_end(&mut self, total: Option<Duration>, received: u64, sent: u64) {
        if let Some(metrics) = self.metrics.take() {
            metrics.ended(total, received, sent);
        }
        if let Some(pending) = self.log.take() {
            let Pending { log, at, service, method, path, client, request_id, status, instance } = *pending;
            log.record(RequestRecord {
                at,
                service,
                instance: instance.map(|endpoint| Arc::from(endpoint.id())),
                method,
                path,
                status: if total.is_some() { status } else { CLIENT_CLOSED },
                duration: total.unwrap_or_else(|| self.arrived.elapsed()),
                bytes_in: received,
                bytes_out: sent,
                client,
                request_id,
            });
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // Ended already (a no-op), or dropped before its head: the client went away first.
        self.end(None, 0, 0);
    }
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").field("sent", &self.sent).finish_non_exhaustive()
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cut_on_a_character_boundary() {
        assert_eq!(cut("/short", 2048), "/short");
        assert_eq!(cut("/abcdef", 4), "/abc");
        // "é" is two bytes: a cut in its middle falls back before it.
        assert_eq!(cut("/aé", 3), "/a");
        assert_eq!(cut("/aé", 4), "/aé");
    }
}
