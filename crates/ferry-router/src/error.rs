//! Proxy errors: where each came from, whether a retry is safe, and the response the client gets.
//!
//! After Pingora: an error knows its [`ErrorSource`] (so logs and metrics can tell a broken instance from a
//! broken client) and whether retrying it on another instance is safe. The only safe retry elsewhere is one where
//! nothing reached the instance: the connection to it could not be made. Once any byte of a request is written,
//! the instance may have acted on it, and a retry could apply a non-idempotent request twice; the one exception
//! is an idempotent, bodiless request that a new connection closed on without a byte of answer (an instance gone
//! behind a port proxy that still accepts), which counts as a failed connect. (`client.rs` also retries within
//! one instance, on a fresh connection, when a pooled one turns out to be closed: see its notes.)

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use http::StatusCode;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Why an exchange with an instance failed (`client.rs`, `h2.rs`), and what had happened by then.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// Connecting failed: nothing was sent.
    Connect(io::Error),
    /// Writing the request to the instance failed.
    Send(io::Error),
    /// No usable response head came back.
    Recv { reason: &'static str, source: BoxError },
    /// An idempotent, bodiless request (`client.rs`'s replay rule) whose new connection was closed or reset
    /// before any byte of an answer: safe to send again elsewhere.
    Unanswered { reason: &'static str, source: io::Error },
    /// Reading the request body from the client failed.
    Downstream(hyper::Error),
    /// The client's body grew past the router's limit (bytes): the rest is not read.
    TooLarge(u64),
}

/// Which side of the proxy an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorSource {
    /// The instance: refused, reset, timed out or answered something that is not HTTP.
    Upstream,
    /// The client: a request the router cannot route, or a body it stopped sending.
    Downstream,
    /// The router itself or its configuration (a paused service, no ready instance).
    Internal,
}

/// Why a request could not be proxied. The `Display` text is what the client reads after `ferry: `.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the request has no host")]
    MissingHost,
    #[error("the request has more than one host or an invalid one")]
    InvalidHost,
    /// CONNECT, or a target that cannot be sent on in origin form.
    #[error("the request target is not supported")]
    InvalidTarget,
    /// The request body is (or announced it would be) larger than the router accepts (`max_body_bytes`).
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("no service is configured for host {host}")]
    UnknownHost { host: String },
    #[error("service {service} is paused")]
    Paused { service: String },
    #[error("service {service} has no ready instance")]
    NoInstance { service: String },
    /// A request held for a service that waited for an instance, and none became ready within the hold.
    #[error("no instance of service {service} became ready within {}", Secs(*.after))]
    NotReady { service: String, after: Duration },
    /// Every instance of the service was at its [`Capacity`](crate::Capacity)'s max concurrency, and none had
    /// room within the capacity's wait.
    #[error(
        "every instance of service {service} is at its max concurrency ({max_concurrency}); none had room within {}",
        Secs(*.after)
    )]
    NoRoom { service: String, max_concurrency: usize, after: Duration },
    /// Every instance of the service was at its max concurrency, and as many requests as may wait already did.
    #[error(
        "every instance of service {service} is at its max concurrency ({max_concurrency}) and the queue is full ({queue_limit} waiting)"
    )]
    QueueFull { service: String, max_concurrency: usize, queue_limit: usize },
    /// Connecting to the instance failed, so the request was not sent; or a new connection to it ended without
    /// a byte of answer to an idempotent, bodiless request (`client.rs`). Either is safe to retry elsewhere.
    #[error("the instance of service {service} failed to answer ({reason})")]
    Connect {
        service: String,
        reason: &'static str,
        #[source]
        source: BoxError,
    },
    /// The request was (maybe partly) sent and the instance did not answer properly: never retried.
    #[error("the instance of service {service} failed to answer ({reason})")]
    Upstream {
        service: String,
        reason: &'static str,
        #[source]
        source: BoxError,
    },
    /// The instance did not send its response head within the service's request timeout. Never retried: the
    /// instance may be acting on the request.
    #[error("the instance of service {service} did not answer within the request timeout of {}", Secs(*.after))]
    Timeout { service: String, after: Duration },
    /// The client was still sending its body when the service's request timeout ran out: the slow side is
    /// the client, not the instance.
    #[error("the request body did not arrive within the request timeout of {}", Secs(*.after))]
    SlowUpload { after: Duration },
    /// Reading the request body from the client failed while it was being sent on.
    #[error("the request body could not be read from the client")]
    Downstream {
        #[source]
        source: BoxError,
    },
}

impl ProxyError {
    pub fn source_side(&self) -> ErrorSource {
        match self {
            ProxyError::MissingHost
            | ProxyError::InvalidHost
            | ProxyError::InvalidTarget
            | ProxyError::UnknownHost { .. }
            | ProxyError::BodyTooLarge { .. }
            | ProxyError::SlowUpload { .. }
            | ProxyError::Downstream { .. } => ErrorSource::Downstream,
            ProxyError::Paused { .. }
            | ProxyError::NoInstance { .. }
            | ProxyError::NotReady { .. }
            | ProxyError::NoRoom { .. }
            | ProxyError::QueueFull { .. } => ErrorSource::Internal,
            ProxyError::Connect { .. } | ProxyError::Upstream { .. } | ProxyError::Timeout { .. } => {
                ErrorSource::Upstream
            }
        }
    }

    /// Whether the request may be sent to another instance: true only when none of it was sent, or an
    /// idempotent, bodiless request got no answer at all on a new connection (see [`ProxyError::Connect`]).
    pub fn retry_safe(&self) -> bool {
        matches!(self, ProxyError::Connect { .. })
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::MissingHost
            | ProxyError::InvalidHost
            | ProxyError::InvalidTarget
            | ProxyError::Downstream { .. } => StatusCode::BAD_REQUEST,
            ProxyError::UnknownHost { .. } => StatusCode::NOT_FOUND,
            ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::SlowUpload { .. } => StatusCode::REQUEST_TIMEOUT,
            ProxyError::Paused { .. }
            | ProxyError::NoInstance { .. }
            | ProxyError::NotReady { .. }
            | ProxyError::NoRoom { .. }
            | ProxyError::QueueFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Connect { .. } | ProxyError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Classifies a failure of the upstream client (connect or exchange).
    pub(crate) fn from_client(service: &str, err: ClientError) -> ProxyError {
        let service = service.to_owned();
        match err {
            ClientError::Connect(err) => {
                let reason = match err.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connection refused",
                    std::io::ErrorKind::TimedOut => "connect timed out",
                    _ => "connect failed",
                };
                ProxyError::Connect { service, reason, source: err.into() }
            }
            ClientError::Send(err) => {
                ProxyError::Upstream { service, reason: io_reason(&err), source: err.into() }
            }
            ClientError::Recv { reason, source } => ProxyError::Upstream { service, reason, source },
            // Retried as a connect failure is; past its retries, the same 502 as any request without an answer.
            ClientError::Unanswered { reason, source } => {
                ProxyError::Connect { service, reason, source: source.into() }
            }
            // The body being sent is the client's: the client went away or sent a broken body.
            ClientError::Downstream(err) => ProxyError::Downstream { source: err.into() },
            ClientError::TooLarge(limit) => ProxyError::BodyTooLarge { limit },
        }
    }

    /// An instance misbehaving in a way the router itself noticed, such as a 101 nobody asked for.
    pub(crate) fn upstream(service: &str, reason: &'static str, source: impl Into<BoxError>) -> ProxyError {
        ProxyError::Upstream { service: service.to_owned(), reason, source: source.into() }
    }
}

/// A timeout for people: `300 s`, or `250 ms` below a second or when not whole seconds.
struct Secs(Duration);

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} ms", self.0.as_millis())
        }
    }
}

/// Displays an error and its sources, `: `-separated, for the one log line that records a failure.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}

/// A short, stable description of why an exchange with an instance failed.
pub(crate) fn upstream_reason(err: &(dyn StdError + 'static)) -> &'static str {
    if let Some(hyper_err) = find::<hyper::Error>(err) {
        if hyper_err.is_parse() {
            return "malformed response";
        }
        if hyper_err.is_timeout() {
            return "timed out";
        }
        if hyper_err.is_incomplete_message() {
            return "connection closed before the response";
        }
        if hyper_err.is_canceled() || hyper_err.is_closed() {
            return "connection closed";
        }
    }
    match find_io_kind(err) {
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset",
        Some(std::io::ErrorKind::BrokenPipe) => "connection closed",
        Some(std::io::ErrorKind::TimedOut) => "timed out",
        _ => "upstream error",
    }
}

/// A short, stable description of a failed read or write on a connection to an instance.
pub(crate) fn io_reason(err: &std::io::Error) -> &'static str {
    upstream_reason(err)
}

/// The first error of type `T` in the chain starting at `err` (itself included).
fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}

fn find_io_kind(err: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    find::<std::io::Error>(err).map(std::io::Error::kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> BoxError {
        Box::new(std::io::Error::from(kind))
    }

    #[test]
    fn statuses_sources_and_retry_safety() {
        let service = || "web".to_owned();
        let cases: Vec<(ProxyError, StatusCode, ErrorSource, bool, &str)> = vec![
            (
                ProxyError::MissingHost,
                StatusCode::BAD_REQUEST,
                ErrorSource::Downstream,
                false,
                "the request has no host",
            ),
            (
                ProxyError::UnknownHost { host: "x.localhost".into() },
                StatusCode::NOT_FOUND,
                ErrorSource::Downstream,
                false,
                "no service is configured for host x.localhost",
            ),
            (
                ProxyError::Paused { service: service() },
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorSource::Internal,
                false,
                "service web is paused",
            ),
            (
                ProxyError::NoInstance { service: service() },
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorSource::Internal,
                false,
                "service web has no ready instance",
            ),
            (
                ProxyError::NotReady { service: service(), after: Duration::from_secs(30) },
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorSource::Internal,
                false,
                "no instance of service web became ready within 30 s",
            ),
            (
                ProxyError::NoRoom {
                    service: service(),
                    max_concurrency: 10,
                    after: Duration::from_secs(10),
                },
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorSource::Internal,
                false,
                "every instance of service web is at its max concurrency (10); none had room within 10 s",
            ),
            (
                ProxyError::QueueFull { service: service(), max_concurrency: 2, queue_limit: 1 },
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorSource::Internal,
                false,
                "every instance of service web is at its max concurrency (2) and the queue is full (1 waiting)",
            ),
            (
                ProxyError::Connect {
                    service: service(),
                    reason: "connection refused",
                    source: io(std::io::ErrorKind::ConnectionRefused),
                },
                StatusCode::BAD_GATEWAY,
                ErrorSource::Upstream,
                true,
                "the instance of service web failed to answer (connection refused)",
            ),
            (
                ProxyError::upstream("web", "connection reset", io(std::io::ErrorKind::ConnectionReset)),
                StatusCode::BAD_GATEWAY,
                ErrorSource::Upstream,
                false,
                "the instance of service web failed to answer (connection reset)",
            ),
            (
                ProxyError::Timeout { service: service(), after: Duration::from_secs(300) },
                StatusCode::GATEWAY_TIMEOUT,
                ErrorSource::Upstream,
                false,
                "the instance of service web did not answer within the request timeout of 300 s",
            ),
            (
                ProxyError::Timeout { service: service(), after: Duration::from_millis(250) },
                StatusCode::GATEWAY_TIMEOUT,
                ErrorSource::Upstream,
                false,
                "the instance of service web did not answer within the request timeout of 250 ms",
            ),
            (
                ProxyError::Downstream { source: io(std::io::ErrorKind::UnexpectedEof) },
                StatusCode::BAD_REQUEST,
                ErrorSource::Downstream,
                false,
                "the request body could not be read from the client",
            ),
        ];
        for (err, status, source, retry, message) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.source_side(), source, "{err:?}");
            assert_eq!(err.retry_safe(), retry, "{err:?}");
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn chain_shows_every_source() {
        let err = ProxyError::upstream("web", "connection reset", io(std::io::ErrorKind::ConnectionReset));
        assert_eq!(
            Chain(&err).to_string(),
            "the instance of service web failed to answer (connection reset): connection reset"
        );
    }

    #[test]
    fn reasons_follow_the_io_error_in_the_chain() {
        assert_eq!(upstream_reason(&*io(std::io::ErrorKind::ConnectionReset)), "connection reset");
        assert_eq!(upstream_reason(&*io(std::io::ErrorKind::Other)), "upstream error");
    }
}
