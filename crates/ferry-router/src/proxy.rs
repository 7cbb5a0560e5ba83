//! One request through the router: route, pick, forward, and turn the outcome into a response.
//! See the LIFECYCLE in the crate docs for the whole path.

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{self, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use tracing::debug;

use crate::balance::pick;
use crate::body::{ProxyBody, RequestBody};
use crate::error::{Chain, ProxyError};
use crate::headers::{X_REQUEST_ID, is_sane_request_id, is_upgrade, set_forwarded, strip_hop_by_hop};
use crate::router::Router;
use crate::table::{Endpoint, InFlight, RouteState, ServiceRoute, normalize_host};
use crate::upgrade::Tunnels;

/// What is sent to an instance besides the body; kept apart from `Request` so a retry can rebuild it.
struct Head {
    method: Method,
    path: PathAndQuery,
    headers: HeaderMap,
}

impl Router {
    /// Serves one request. Never fails: every error becomes a short `text/plain` response. Every response
    /// carries the request's `X-Request-Id`.
    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        client: IpAddr,
        tunnels: &Tunnels,
    ) -> Response<ProxyBody> {
        let request_id = match req.headers().get(&X_REQUEST_ID) {
            Some(id) if is_sane_request_id(id) => id.clone(),
            _ => self.request_ids.next(),
        };
        let mut response = match self.proxy(req, client, &request_id, tunnels).await {
            Ok(response) => response,
            Err(err) => {
                debug!(
                    request_id = ?request_id,
                    status = err.status().as_u16(),
                    source = ?err.source_side(),
                    error = %Chain(&err),
                    "request failed"
                );
                error_response(&err)
            }
        };
        response.headers_mut().insert(&X_REQUEST_ID, request_id);
        response
    }

    async fn proxy(
        &self,
        mut req: Request<Incoming>,
        client: IpAddr,
        request_id: &HeaderValue,
        tunnels: &Tunnels,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        if req.method() == Method::CONNECT {
            return Err(ProxyError::InvalidTarget);
        }
        let host = request_host(&mut req)?;
        let route = self.route(&host)?;
        if route.state == RouteState::Paused {
            return Err(ProxyError::Paused { service: route.service.clone() });
        }

        // Upgrades exist in HTTP/1.1 only; an HTTP/1.0 "upgrade" is forwarded as a plain request.
        let upgrade = req.version() == Version::HTTP_11 && is_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers, upgrade);
        set_forwarded(&mut headers, client, &host);
        headers.insert(&X_REQUEST_ID, request_id.clone());
        let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let head = Head { method: parts.method, path, headers };

        let (mut response, in_flight) = self.send(&route, head, body).await?;

        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let Some(client_upgrade) = client_upgrade else {
                return Err(ProxyError::upstream(
                    &route.service,
                    "unexpected 101 response",
                    UnexpectedUpgrade,
                ));
            };
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            tunnels.spawn(client_upgrade, upstream_upgrade, in_flight);
            let (mut parts, _empty) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers, true);
            parts.version = Version::HTTP_11;
            return Ok(Response::from_parts(parts, ProxyBody::empty()));
        }

        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers, false);
        // hyper's server writes only HTTP/1.x and adapts 1.1 to a 1.0 client itself.
        parts.version = Version::HTTP_11;
        Ok(Response::from_parts(parts, ProxyBody::upstream(body, in_flight)))
    }

    /// Looks `host` up in the current table. The table guard lives only for this call.
    fn route(&self, host: &HeaderValue) -> Result<Arc<ServiceRoute>, ProxyError> {
        let host = host.to_str().map_err(|_| ProxyError::InvalidHost)?;
        let name = normalize_host(host);
        if name.is_empty() {
            return Err(ProxyError::InvalidHost);
        }
        self.with_routes(|table| table.get(&name).cloned())
            .ok_or_else(|| ProxyError::UnknownHost { host: name.into_owned() })
    }

    /// Sends the request to one instance, or to a second one if connecting to the first failed.
    ///
    /// Returns the response head with the in-flight guard of the instance that answered. The retry needs the
    /// head and body again: the head is cloned up front and the body comes back through its reclaim channel,
    /// which works only if the first attempt never read it (true when the connection was never made).
    async fn send(
        &self,
        route: &ServiceRoute,
        head: Head,
        body: Incoming,
    ) -> Result<(Response<Incoming>, InFlight), ProxyError> {
        let endpoints = &route.endpoints;
        let Some(first) = pick(endpoints, None) else {
            return Err(ProxyError::NoInstance { service: route.service.clone() });
        };
        if endpoints.len() == 1 {
            return self.send_to(route, &endpoints[first], head, RequestBody::new(body)).await;
        }

        let retry_head =
            Head { method: head.method.clone(), path: head.path.clone(), headers: head.headers.clone() };
        let (body, mut reclaim) = RequestBody::reclaimable(body);
        let err = match self.send_to(route, &endpoints[first], head, body).await {
            Ok(answer) => return Ok(answer),
            Err(err) if err.retry_safe() => err,
            Err(err) => return Err(err),
        };
        let (Some(second), Ok(body)) = (pick(endpoints, Some(first)), reclaim.try_recv()) else {
            return Err(err);
        };
        debug!(
            service = %route.service,
            failed = endpoints[first].id(),
            retry = endpoints[second].id(),
            error = %Chain(&err),
            "retrying on another instance"
        );
        self.send_to(route, &endpoints[second], retry_head, RequestBody::new(body)).await
    }

    async fn send_to(
        &self,
        route: &ServiceRoute,
        endpoint: &Arc<Endpoint>,
        head: Head,
        body: RequestBody,
    ) -> Result<(Response<Incoming>, InFlight), ProxyError> {
        let in_flight = InFlight::start(endpoint);
        let mut req = Request::new(body);
        *req.method_mut() = head.method;
        *req.uri_mut() = upstream_uri(endpoint, head.path)?;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = head.headers;
        match self.client.request(req).await {
            Ok(response) => Ok((response, in_flight)),
            Err(err) => Err(ProxyError::from_client(&route.service, err)),
        }
    }
}

/// The host the client asked for, as sent: the authority of an absolute-form target, else the one `Host`.
///
/// RFC 9112 §3.2.2: a server must use an absolute-form target's authority and ignore `Host`. The router then
/// rewrites `Host` to that authority, so the instance sees the name the request was routed by.
fn request_host(req: &mut Request<Incoming>) -> Result<HeaderValue, ProxyError> {
    if let Some(authority) = req.uri().authority() {
        let authority = authority.as_str();
        // Drop any `user:password@`: it is not part of the host and must not travel in `Host`.
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = HeaderValue::from_str(host).map_err(|_| ProxyError::InvalidHost)?;
        req.headers_mut().insert(header::HOST, host.clone());
        return Ok(host);
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => Ok(host.clone()),
        (None, _) => Err(ProxyError::MissingHost),
        (Some(_), Some(_)) => Err(ProxyError::InvalidHost),
    }
}

/// `http://<instance address><path>`: hyper's pooled client needs the authority to pick a connection and sends
/// the request line in origin form (path and query only); `Host` stays the client's.
fn upstream_uri(endpoint: &Endpoint, path: PathAndQuery) -> Result<Uri, ProxyError> {
    let mut parts = uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(endpoint.authority().clone());
    parts.path_and_query = Some(path);
    Uri::from_parts(parts).map_err(|_| ProxyError::InvalidTarget)
}

fn error_response(err: &ProxyError) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::text(format!("ferry: {err}\n")));
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    // The body may echo the client's host name; never let a browser sniff it into HTML.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The instance switched protocols for a request that did not ask to.
#[derive(Debug, thiserror::Error)]
#[error("the instance answered 101 to a request without upgrade")]
struct UnexpectedUpgrade;
