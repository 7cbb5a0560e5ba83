//! How ferry's router talks to a service's instances: the protocol, and how long a request may wait for its
//! answer. Both are ferry's additions: App Runner speaks HTTP/1.1 only and cuts every request at 120 s.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// What the router speaks to the instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum UpstreamProtocol {
    /// HTTP/1.1, App Runner's only choice.
    #[default]
    #[serde(rename = "http1")]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c), for gRPC servers and other HTTP/2-only apps.
    #[serde(rename = "http2")]
    Http2,
}

impl UpstreamProtocol {
    /// Accepts `http1` and `http2` in any case, and the spellings `http/1.1`, `http/2` and `h2c`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http1" | "http/1.1" => Ok(Self::Http1),
            "http2" | "http/2" | "h2c" => Ok(Self::Http2),
            _ => Err(ValidationError::new(
                "protocol",
                format!("{s:?} is not a protocol; use http1 or http2 (HTTP/2 cleartext, for gRPC)"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "http1",
            Self::Http2 => "http2",
        }
    }
}

impl fmt::Display for UpstreamProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long an instance may take to start answering a request (its response head), in seconds. Past it the
/// client gets 504. A response that has started is never cut: streams, server-sent events and WebSockets
/// last as long as they last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RequestTimeout(u32);

impl RequestTimeout {
    pub const MIN_SECS: u32 = 1;
    pub const MAX_SECS: u32 = 3600;
    /// Five minutes: more than App Runner's fixed 120 s, for slow reports and uploads.
    pub const DEFAULT_SECS: u32 = 300;

    pub fn from_secs(secs: i64) -> Result<Self, ValidationError> {
        u32::try_from(secs)
            .ok()
            .filter(|s| (Self::MIN_SECS..=Self::MAX_SECS).contains(s))
            .map(Self)
            .ok_or_else(|| {
                ValidationError::new(
                    "request_timeout",
                    format!("{secs} is out of range; use {} to {} seconds", Self::MIN_SECS, Self::MAX_SECS),
                )
            })
    }

    pub fn secs(self) -> u32 {
        self.0
    }
}

impl Default for RequestTimeout {
    fn default() -> Self {
        Self(Self::DEFAULT_SECS)
    }
}

impl TryFrom<u32> for RequestTimeout {
    type Error = ValidationError;
    fn try_from(secs: u32) -> Result<Self, Self::Error> {
        Self::from_secs(i64::from(secs))
    }
}

impl From<RequestTimeout> for u32 {
    fn from(t: RequestTimeout) -> u32 {
        t.0
    }
}

impl fmt::Display for RequestTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_in_their_spellings() {
        for (input, want) in [
            ("http1", UpstreamProtocol::Http1),
            ("HTTP1", UpstreamProtocol::Http1),
            ("http/1.1", UpstreamProtocol::Http1),
            ("http2", UpstreamProtocol::Http2),
            (" HTTP/2 ", UpstreamProtocol::Http2),
            ("h2c", UpstreamProtocol::Http2),
        ] {
            assert_eq!(UpstreamProtocol::parse(input).unwrap(), want, "{input}");
        }
        for bad in ["", "http", "h2", "grpc", "http3"] {
            let err = UpstreamProtocol::parse(bad).unwrap_err();
            assert_eq!(err.field, "protocol");
            assert!(err.message.contains("http1 or http2"), "{}", err.message);
        }
        assert_eq!(UpstreamProtocol::default(), UpstreamProtocol::Http1);
        assert_eq!(serde_json::to_value(UpstreamProtocol::Http2).unwrap(), "http2");
    }

    #[test]
    fn request_timeouts_are_1_to_3600_seconds() {
        assert_eq!(RequestTimeout::default().secs(), 300);
        for ok in [1, 120, 300, 3600] {
            assert_eq!(RequestTimeout::from_secs(ok).unwrap().secs(), u32::try_from(ok).unwrap());
        }
        for bad in [0, -1, 3601, i64::from(u32::MAX) + 1] {
            let err = RequestTimeout::from_secs(bad).unwrap_err();
            assert_eq!(err.field, "request_timeout");
            assert_eq!(err.message, format!("{bad} is out of range; use 1 to 3600 seconds"));
        }
        assert!(serde_json::from_str::<RequestTimeout>("0").is_err(), "a stored value is checked too");
        assert_eq!(serde_json::from_str::<RequestTimeout>("60").unwrap().secs(), 60);
    }
}
