//! Plain HTTP's part in HTTPS: ACME HTTP-01 answers (RFC 8555 §8.3), redirects to HTTPS, and the
//! `Strict-Transport-Security` header (RFC 6797) of responses over HTTPS.
//!
//! On a plain listener, a request is first checked for an HTTP-01 challenge (any host, known or not: the
//! ACME server asks for the domain being validated, which may have no route yet), then routed; a route with
//! [`ServiceRoute::https_redirect`](crate::ServiceRoute::https_redirect) answers 308 to its `https://` URL
//! once the host has a certificate.
//! Over HTTPS, a route's [`hsts`](crate::ServiceRoute::hsts) is added to its responses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode, Uri};

use crate::body::ProxyBody;

/// Where ACME servers ask for HTTP-01 key authorizations.
pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";

/// The ACME HTTP-01 challenges the router answers, by token. Cheap to clone: clones share one set.
#[derive(Clone, Default)]
pub struct Http01Challenges {
    inner: Arc<Challenges>,
}

#[derive(Default)]
struct Challenges {
    /// Whether any token is set: the only thing every request reads, and almost always false.
    any: AtomicBool,
    tokens: ArcSwap<HashMap<String, Bytes>>,
    /// Held by `set` and `remove`, so `any` always says what the last of them left.
    writer: Mutex<()>,
}

impl std::fmt::Debug for Http01Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http01Challenges").field("tokens", &self.inner.tokens.load().len()).finish()
    }
}

impl Http01Challenges {
    pub fn new() -> Http01Challenges {
        Http01Challenges::default()
    }

    /// Answers `GET /.well-known/acme-challenge/<token>` with `key_authorization`, on every plain listener and
    /// for every host, until removed.
    pub fn set(&self, token: &str, key_authorization: &str) {
        let value = Bytes::copy_from_slice(key_authorization.as_bytes());
        let _writer = self.inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.inner.tokens.rcu(|tokens| {
            let mut tokens = HashMap::clone(tokens);
            tokens.insert(token.to_owned(), value.clone());
            tokens
        });
        self.inner.any.store(true, Ordering::Release);
    }

    pub fn remove(&self, token: &str) {
        let _writer = self.inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut tokens = HashMap::clone(&self.inner.tokens.load());
        tokens.remove(token);
        self.inner.any.store(!tokens.is_empty(), Ordering::Release);
        self.inner.tokens.store(Arc::new(tokens));
    }

    /// The answer to a request for a challenge that is set; `None` for any other request (the usual case: one
    /// atomic load).
    #[inline]
    pub(crate) fn answer(&self, method: &Method, uri: &Uri) -> Option<Response<ProxyBody>> {
        if !self.inner.any.load(Ordering::Acquire) {
            return None;
        }
        self.lookup(method, uri)
    }

    #[cold]
    #[inline(never)]
    fn lookup(&self, method: &Method, uri: &Uri) -> Option<Response<ProxyBody>> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let token = uri.path().strip_prefix(HTTP01_PREFIX)?;
        let key_authorization = self.inner.tokens.load().get(token)?.clone();
        let mut response = Response::new(ProxyBody::bytes(key_authorization));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Some(response)
    }
}

/// `308 Permanent Redirect` to the same path and query at `https://host[:port]`: the method and body are kept
/// by the client (unlike 301), and nothing of the request is read. `host` is normalised (no port).
#[cold]
#[inline(never)]
pub(crate) fn redirect_to_https(host: &str, uri: &Uri, https_port: Option<u16>) -> Response<ProxyBody> {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = if target.starts_with('/') { target } else { "/" };
    let location = match https_port {
        None | Some(443) => format!("https://{host}{target}"),
        Some(port) => format!("https://{host}:{port}{target}"),
    };
    let mut response = Response::new(ProxyBody::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    // The host passed routing and the path came from a parsed URI, so this is a valid value; if not, no header
    // (and the client sees a redirect without a target rather than a panic).
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The `Strict-Transport-Security` value for `max_age` seconds.
pub(crate) fn hsts_value(max_age: u32) -> HeaderValue {
    // Digits and ASCII: always a valid value.
    HeaderValue::from_str(&format!("max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("max-age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_answer_only_their_tokens_and_only_while_set() {
        let challenges = Http01Challenges::new();
        let uri = |s: &str| s.parse::<Uri>().expect("valid uri");
        let get = |uri: &Uri| challenges.answer(&Method::GET, uri);
        assert!(get(&uri("/.well-known/acme-challenge/abc")).is_none());
        challenges.set("abc", "abc.thumb");
        challenges.set("def", "def.thumb");
        let answer = get(&uri("/.well-known/acme-challenge/abc")).expect("set");
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[header::CONTENT_TYPE], "text/plain");
        assert!(get(&uri("http://any.example/.well-known/acme-challenge/def")).is_some());
        assert!(get(&uri("/.well-known/acme-challenge/abcd")).is_none());
        assert!(get(&uri("/.well-known/acme-challenge/")).is_none());
        assert!(get(&uri("/abc")).is_none());
        assert!(challenges.answer(&Method::POST, &uri("/.well-known/acme-challenge/abc")).is_none());
        challenges.remove("abc");
        assert!(get(&uri("/.well-known/acme-challenge/abc")).is_none());
        assert!(challenges.inner.any.load(Ordering::Relaxed), "def is still set");
        challenges.remove("def");
        challenges.remove("never-set");
        assert!(!challenges.inner.any.load(Ordering::Relaxed), "none left: the fast path skips the lookup");
    }

    #[test]
    fn redirects_keep_path_and_query_and_name_the_port_unless_443() {
        let cases = [
            ("web.example", "/a/b?c=d&e", None, "https://web.example/a/b?c=d&e"),
            ("web.example", "/", Some(443), "https://web.example/"),
            ("web.example", "/x?y", Some(8443), "https://web.example:8443/x?y"),
            ("[::1]", "/", Some(8443), "https://[::1]:8443/"),
            ("web.example", "http://web.example:8080/p?q", None, "https://web.example/p?q"),
            ("web.example", "*", None, "https://web.example/"),
        ];
        for (host, target, port, want) in cases {
            let response = redirect_to_https(host, &target.parse().expect("valid uri"), port);
            assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
            assert_eq!(response.headers()[header::LOCATION], want, "{host} {target} {port:?}");
        }
    }

    #[test]
    fn hsts_values() {
        assert_eq!(hsts_value(31_536_000), "max-age=31536000");
        assert_eq!(hsts_value(0), "max-age=0");
    }
}
