//! The router's own answers to gRPC clients: a gRPC client reads the status of a call from `grpc-status`, not
//! from the HTTP status, and takes a plain-text 503 for a broken server. So a request whose `content-type`
//! starts with `application/grpc` gets every answer the router makes itself (no such host, paused, no room,
//! upstream failed, timeout, body too large...) as a gRPC "Trailers-Only" response: HTTP 200, the gRPC
//! content type, `grpc-status` and a percent-encoded `grpc-message` among the headers, and no body (over
//! HTTP/2, one HEADERS frame that ends the stream).
//!
//! The code follows gRPC's HTTP-to-gRPC status mapping (`doc/http-grpc-status-mapping.md`: 404
//! UNIMPLEMENTED, 502/503/504 UNAVAILABLE, 400 INTERNAL, anything else UNKNOWN), except that a timeout is
//! DEADLINE_EXCEEDED, which says what happened, and a limit passed is RESOURCE_EXHAUSTED.

use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The flavour of gRPC a request speaks, by its `content-type`; the answer uses the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grpc {
    /// `application/grpc`, `application/grpc+proto`...: gRPC itself, over HTTP/2.
    Native,
    /// `application/grpc-web`, `application/grpc-web+proto`: gRPC-Web, binary.
    Web,
    /// `application/grpc-web-text`: gRPC-Web, base64.
    WebText,
}

impl Grpc {
    /// The flavour a request with this `content-type` speaks, `None` for anything but gRPC.
    pub(crate) fn of(content_type: &HeaderValue) -> Option<Grpc> {
        let rest = content_type.as_bytes().strip_prefix(b"application/grpc")?;
        Some(if rest.starts_with(b"-web-text") {
            Grpc::WebText
        } else if rest.starts_with(b"-web") {
            Grpc::Web
        } else {
            Grpc::Native
        })
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Grpc::Native => "application/grpc",
            Grpc::Web => "application/grpc-web",
            Grpc::WebText => "application/grpc-web-text",
        })
    }

    /// The headers of a Trailers-Only answer (HTTP 200, no body) that fails the call with the gRPC code for
    /// `status` and `message`.
    pub(crate) fn trailers_only(self, headers: &mut HeaderMap, status: StatusCode, message: &str) {
        headers.insert(CONTENT_TYPE, self.content_type());
        headers.insert(&GRPC_STATUS, HeaderValue::from(code(status)));
        headers.insert(&GRPC_MESSAGE, percent_encode(message));
    }
}

/// gRPC status codes (`grpc/include/grpcpp/support/status_code_enum.h`).
mod codes {
    pub(super) const UNKNOWN: u16 = 2;
    pub(super) const DEADLINE_EXCEEDED: u16 = 4;
    pub(super) const PERMISSION_DENIED: u16 = 7;
    pub(super) const RESOURCE_EXHAUSTED: u16 = 8;
    pub(super) const UNIMPLEMENTED: u16 = 12;
    pub(super) const INTERNAL: u16 = 13;
    pub(super) const UNAVAILABLE: u16 = 14;
    pub(super) const UNAUTHENTICATED: u16 = 16;
}

/// The gRPC code a client should see for an answer the router would give with `status`.
fn code(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 => codes::INTERNAL,
        401 => codes::UNAUTHENTICATED,
        403 => codes::PERMISSION_DENIED,
        404 => codes::UNIMPLEMENTED,
        408 | 504 => codes::DEADLINE_EXCEEDED,
        413 | 431 => codes::RESOURCE_EXHAUSTED,
        429 | 502 | 503 => codes::UNAVAILABLE,
        _ => codes::UNKNOWN,
    }
}

/// `grpc-message` as gRPC over HTTP/2 says: UTF-8, with every byte outside printable ASCII, and `%`,
/// written `%XX`.
fn percent_encode(message: &str) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
    // Printable ASCII only, which is always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flavour_comes_from_the_content_type() {
        let cases = [
            ("application/grpc", Some(Grpc::Native)),
            ("application/grpc+proto", Some(Grpc::Native)),
            ("application/grpc-web", Some(Grpc::Web)),
            ("application/grpc-web+proto", Some(Grpc::Web)),
            ("application/grpc-web-text+proto", Some(Grpc::WebText)),
            ("application/json", None),
            ("text/plain", None),
            ("", None),
        ];
        for (content_type, want) in cases {
            assert_eq!(Grpc::of(&HeaderValue::from_static(content_type)), want, "{content_type:?}");
        }
    }

    #[test]
    fn http_statuses_map_to_grpc_codes() {
        let cases = [
            (400, 13),
            (401, 16),
            (403, 7),
            (404, 12),
            (408, 4),
            (413, 8),
            (429, 14),
            (431, 8),
            (502, 14),
            (503, 14),
            (504, 4),
            (500, 2),
            (418, 2),
        ];
        for (status, want) in cases {
            assert_eq!(code(StatusCode::from_u16(status).expect("a status")), want, "{status}");
        }
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("service web is paused"), "service web is paused");
        assert_eq!(percent_encode("100% done\n"), "100%25 done%0A");
        assert_eq!(percent_encode("café ☕"), "caf%C3%A9 %E2%98%95");
    }

    #[test]
    fn a_trailers_only_answer_has_the_grpc_headers() {
        let mut headers = HeaderMap::new();
        Grpc::Web.trailers_only(&mut headers, StatusCode::SERVICE_UNAVAILABLE, "ferry: no room");
        assert_eq!(headers["content-type"], "application/grpc-web");
        assert_eq!(headers["grpc-status"], "14");
        assert_eq!(headers["grpc-message"], "ferry: no room");
    }
}
