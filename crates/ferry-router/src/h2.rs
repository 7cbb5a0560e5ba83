//! The upstream HTTP/2 client, for services whose instances speak h2c (HTTP/2 over cleartext with prior
//! knowledge), such as gRPC servers.
//!
//! The shared connection each request takes a stream of is the instance's `H2Conn` (`h2conn.rs`).
//!
//! A request on a connection that turns out to be closed before any of it went out is sent once more on a new
//! connection to the same instance; if that connection cannot be made either, nothing was sent and the caller
//! may try another instance. Once hyper took the request, it is never sent again.
//!
//! The request is converted to HTTP/2's form: hop-by-hop headers go (except `te: trailers`, which gRPC
//! needs), `:scheme` and `:authority` come from the client's host, and the forwarding headers are set as the
//! HTTP/1.1 path sets them (`codec.rs`). The response's trailers come back as the body's last frame; to a
//! client speaking HTTP/1.1, hyper writes them only in a chunked response, only if the request said
//! `TE: trailers`, and only those named by the response's `Trailer` header: a gRPC response that names none is
//! given gRPC's.

use std::io;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use tracing::debug;

use crate::balance::second_choice;
use crate::body::ProxyBody;
use crate::error::{ClientError, ProxyError, upstream_reason};
use crate::h2conn::H2Body;
use crate::headers::{
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REAL_IP, X_REQUEST_ID, client_ip,
    strip_hop_by_hop, write_forwarded,
};
use crate::listen::Peer;
use crate::router::Router;
use crate::table::{Endpoint, InFlight, ServiceRoute};

/// The trailers a gRPC response carries (gRPC over HTTP/2), declared for HTTP/1.1 clients when the instance
/// declared none.
static GRPC_TRAILERS: HeaderValue =
    HeaderValue::from_static("grpc-status, grpc-message, grpc-status-details-bin");

/// How sending to an instance failed.
pub(crate) enum Failure {
    /// Nothing was sent: the request comes back, to be tried on another instance.
    Unsent(ProxyError, Box<Request<H2Body>>),
    Sent(ProxyError),
}

impl Router {
    /// Sends `req` over HTTP/2 to the instance of `route` chosen for it, or to a second one if connecting to
    /// the first failed, and returns the response as soon as its head arrived. Should neither connection be
    /// made (or there be no second instance), the request comes back unsent, for the caller to route again.
    pub(crate) async fn exchange_h2(
        &self,
        route: &ServiceRoute,
        mut in_flight: InFlight,
        req: Request<H2Body>,
    ) -> Result<Response<ProxyBody>, Failure> {
        let response = match self.send_h2(route, in_flight.endpoint(), req).await {
            Ok(response) => response,
            Err(Failure::Sent(err)) => return Err(Failure::Sent(err)),
            Err(Failure::Unsent(err, req)) => {
                in_flight = match second_choice(route, in_flight, err) {
                    Ok(second) => second,
                    Err(err) => return Err(Failure::Unsent(err, req)),
                };
                self.send_h2(route, in_flight.endpoint(), *req).await?
            }
        };
        let (mut parts, body) = response.into_parts();
        h2_response_headers(&mut parts.headers);
        // hyper's server writes HTTP/1.x from this; a 1.0 client gets 1.0.
        parts.version = Version::HTTP_11;
        Ok(Response::from_parts(parts, ProxyBody::h2(body, in_flight)))
    }

    async fn send_h2(
        &self,
        route: &ServiceRoute,
        endpoint: &Arc<Endpoint>,
        mut req: Request<H2Body>,
    ) -> Result<Response<Incoming>, Failure> {
        let timeout = self.config.connect_timeout;
        // Set by the body if the client's upload passes the router's limit: the stream then fails, and the
        // client is told why (413) rather than blaming the instance.
        let outcome = req.body().outcome();
        let connect_failed = |err: io::Error, req: Request<H2Body>| {
            Failure::Unsent(ProxyError::from_client(&route.service, ClientError::Connect(err)), Box::new(req))
        };
        let mut sender = match endpoint.h2.sender(endpoint.addr(), timeout).await {
            Ok(sender) => sender,
            Err(err) => return Err(connect_failed(err, req)),
        };
        let mut resent = false;
        loop {
            let mut err = match sender.try_send_request(req).await {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            match err.take_message() {
                // The connection closed before the request went out: once more, on a new connection.
                Some(back) if !resent => {
                    debug!(endpoint = endpoint.id(), "http/2 connection was closed; sending on a new one");
                    resent = true;
                    req = back;
                    sender = match endpoint.h2.sender(endpoint.addr(), timeout).await {
                        Ok(sender) => sender,
                        Err(err) => return Err(connect_failed(err, req)),
                    };
                }
                _ if outcome.over_limit() => {
                    let limit = self.config.max_body_bytes.unwrap_or_default();
                    return Err(Failure::Sent(ProxyError::BodyTooLarge { limit }));
                }
                // The client's upload broke (it reset its stream, or went away): its fault, not the instance's.
                _ if outcome.client_failed() => {
                    return Err(Failure::Sent(ProxyError::Downstream { source: err.into_error().into() }));
                }
                _ => {
                    let err = err.into_error();
                    let reason = upstream_reason(&err);
                    let err = ClientError::Recv { reason, source: err.into() };
                    return Err(Failure::Sent(ProxyError::from_client(&route.service, err)));
                }
            }
        }
    }
}

/// The client's request in HTTP/2 form, with the forwarding headers set.
pub(crate) fn h2_request(
    req: Request<Incoming>,
    peer: Peer,
    host: &HeaderValue,
    request_id: &HeaderValue,
    body_limit: Option<u64>,
) -> Result<Request<H2Body>, ProxyError> {
    let (mut parts, body) = req.into_parts();
    let body = H2Body::new(body, body_limit);
    let headers = &mut parts.headers;
    let trailers = accepts_trailers(headers);
    // Upgrades do not exist in HTTP/2: an upgrade request goes on as a plain request.
    strip_hop_by_hop(headers, false);
    if trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    // `:authority` carries the host in HTTP/2.
    headers.remove(header::HOST);
    // What the router saw, whatever the client said (`headers.rs`): `insert` replaces the client's.
    let mut ip = [0u8; 64];
    let ip = client_ip(peer.addr, &mut ip);
    let mut forwarded = Vec::with_capacity(96);
    write_forwarded(&mut forwarded, ip, peer.scheme, host.as_bytes());
    // An address is a valid value, and so is `Forwarded` made of it, a scheme and a valid value quoted.
    let ip = HeaderValue::from_bytes(ip).map_err(|_| ProxyError::InvalidHost)?;
    let forwarded =
        HeaderValue::from_maybe_shared(bytes::Bytes::from(forwarded)).map_err(|_| ProxyError::InvalidHost)?;
    headers.insert(&X_FORWARDED_FOR, ip.clone());
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(peer.scheme.as_str()));
    headers.insert(&X_FORWARDED_HOST, host.clone());
    headers.insert(&X_REAL_IP, ip);
    headers.insert(header::FORWARDED, forwarded);
    headers.insert(&X_REQUEST_ID, request_id.clone());
    let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(host.as_bytes())
        .path_and_query(path)
        .build()
        .map_err(|_| ProxyError::InvalidTarget)?;
    parts.version = Version::HTTP_2;
    Ok(Request::from_parts(parts, body))
}

/// Whether the client said it accepts trailers (`TE: trailers`, among other codings or alone).
fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(header::TE).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("trailers")))
        })
    })
}

/// Removes hop-by-hop headers from an HTTP/2 response (it should have none) but keeps the `Trailer`
/// declaration, or declares gRPC's trailers for a gRPC response, so an HTTP/1.1 client can be sent them.
fn h2_response_headers(headers: &mut HeaderMap) {
    let declared: Vec<HeaderValue> = headers.get_all(header::TRAILER).iter().cloned().collect();
    strip_hop_by_hop(headers, false);
    if declared.is_empty() {
        if is_grpc(headers) {
            headers.insert(header::TRAILER, GRPC_TRAILERS.clone());
        }
    } else {
        for value in declared {
            headers.append(header::TRAILER, value);
        }
    }
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn trailers_are_accepted_only_when_named() {
        assert!(accepts_trailers(&map(&[("te", "trailers")])));
        assert!(accepts_trailers(&map(&[("te", "gzip;q=0.5, Trailers")])));
        assert!(accepts_trailers(&map(&[("te", "gzip"), ("te", "trailers")])));
        assert!(!accepts_trailers(&map(&[("te", "gzip")])));
        assert!(!accepts_trailers(&HeaderMap::new()));
    }

    #[test]
    fn responses_keep_or_gain_a_trailer_declaration() {
        let mut declared = map(&[("trailer", "x-checksum"), ("connection", "close"), ("x-a", "1")]);
        h2_response_headers(&mut declared);
        assert_eq!(declared.get("trailer").map(HeaderValue::as_bytes), Some(&b"x-checksum"[..]));
        assert!(!declared.contains_key("connection"));

        let mut grpc = map(&[("content-type", "application/grpc+proto")]);
        h2_response_headers(&mut grpc);
        assert_eq!(grpc["trailer"], GRPC_TRAILERS);

        let mut plain = map(&[("content-type", "text/plain")]);
        h2_response_headers(&mut plain);
        assert!(!plain.contains_key("trailer"));
    }
}
