//! ferry's web console, served by `ferry server` on the API's listener.
//!
//! The console is a small single-page app in plain HTML, CSS and JavaScript (`assets/`), built into
//! the binary with `include_str!`: no build step, nothing fetched from elsewhere, so it works with no
//! internet. It calls the same `/v1` API as the CLI, authenticated by a session cookie instead of a
//! bearer token (see `session.rs` for why and how); [`mount`] wraps the API's router so that a `/v1`
//! request with a live session cookie is vouched for ([`ferry_api::ConsoleSession`]) and then goes
//! through the API's own authentication and scope checks unchanged.
//!
//! Routes: `/` redirects to `/console/`; `/console/` and its assets; `/console/session` (`POST` signs
//! in with a token, `GET` tells the page its CSRF token and who it is, `DELETE` signs out). Every
//! console response carries a Content-Security-Policy that allows only the console's own files.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, REFERRER_POLICY, RETRY_AFTER,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferry_api::{ApiError, ConsoleSession, ErrorKind};
use ferry_model::Timestamp;
use ferry_store::Store;

mod assets;
mod session;

pub use session::{MAX_SIGN_IN_FAILURES, SESSION_LIFETIME, SIGN_IN_WINDOW, Sessions};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "ferry_console";
/// The header a cookie-authenticated request that changes something must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// What console pages may load and do: only the console's own files, no inline script or style, no
/// framing, and forms and `fetch` only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// How the console is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleConfig {
    /// The API listener speaks TLS: the cookie gets `Secure`.
    pub secure: bool,
}

#[derive(Clone)]
struct Console {
    store: Store,
    sessions: Arc<Sessions>,
    config: ConsoleConfig,
}

/// The API's router with the console added: its pages and session routes, and the cookie check in
/// front of `/v1`.
pub fn mount(api: Router, store: Store, config: ConsoleConfig) -> Router {
    let console = Console { store, sessions: Arc::default(), config };
    let pages = Router::new()
        .route("/", get(|| async { redirect("/console/") }))
        .route("/console", get(|| async { redirect("/console/") }))
        .route("/console/", get(assets::index))
        .route("/console/{file}", get(assets::file))
        .route("/console/session", get(whoami).post(sign_in).delete(sign_out))
        .with_state(console.clone())
        .layer(axum::middleware::from_fn(security_headers));
    api.merge(pages).layer(axum::middleware::from_fn_with_state(console, vouch))
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::FOUND, [(LOCATION, HeaderValue::from_static(to))]).into_response()
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The session id in the request's cookies, if any.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
}

fn mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's `Origin`, if it has one, is this server (the host it was sent to). Browsers
/// send `Origin` with every cross-site `POST`, so this stops another site signing a browser in.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let (Ok(origin), Some(host)) = (origin.to_str(), headers.get(HOST).and_then(|h| h.to_str().ok())) else {
        return false;
    };
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    authority.eq_ignore_ascii_case(host)
}

/// In front of `/v1`: a request without a bearer token but with a live session cookie is vouched for,
/// if, when it changes anything, it carries the session's CSRF token. Anything else passes untouched
/// to the API, whose authentication then answers as it does for any client.
async fn vouch(State(console): State<Console>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/v1/") || req.headers().contains_key(AUTHORIZATION) {
        return next.run(req).await;
    }
    let Some(session) = session_id(req.headers()).and_then(|id| console.sessions.get(&id, Instant::now()))
    else {
        return next.run(req).await;
    };
    if mutating(req.method()) {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !session::same_secret(sent, &session.csrf) || !same_origin(req.headers()) {
            tracing::warn!(
                method = %req.method(),
                path = req.uri().path(),
                token = %session.token_name,
                "console request refused: no valid CSRF token"
            );
            return ApiError::new(
                ErrorKind::Forbidden,
                "a request made with the console's session cookie that changes something needs the \
                 session's X-CSRF-Token header (from GET /console/session); reload the console",
            )
            .with_field("X-CSRF-Token")
            .into_response();
        }
    }
    req.extensions_mut().insert(ConsoleSession { token_hash: session.token_hash });
    next.run(req).await
}

#[derive(serde::Serialize)]
struct SessionView<'a> {
    csrf: &'a str,
    token_name: &'a str,
    scope: &'a str,
}

fn session_json(s: &session::Session) -> Response {
    let body = SessionView { csrf: &s.csrf, token_name: &s.token_name, scope: &s.scope };
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn signed_out() -> Response {
    ApiError::new(ErrorKind::Unauthorized, "not signed in; sign in with a token").into_response()
}

/// `GET /console/session`: who the browser is signed in as, and its CSRF token.
async fn whoami(State(console): State<Console>, headers: HeaderMap) -> Response {
    match session_id(&headers).and_then(|id| console.sessions.get(&id, Instant::now())) {
        Some(s) => session_json(&s),
        None => signed_out(),
    }
}

/// The token from a sign-in body: JSON `{"token": "..."}` or a form's `token=...`.
fn token_of(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let token = if json {
        #[derive(serde::Deserialize)]
        struct SignIn {
            token: String,
        }
        serde_json::from_slice::<SignIn>(body).ok()?.token
    } else {
        let body = std::str::from_utf8(body).ok()?;
        let value = body.split('&').find_map(|pair| pair.strip_prefix("token="))?;
        percent_decode(value)?
    };
    let token = token.trim().to_owned();
    (!token.is_empty()).then_some(token)
}

fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// `POST /console/session`: checks the token as the API does (by its hash, honouring expiry) and
/// sets the session cookie. A form post is redirected to the console; a JSON post gets the session.
async fn sign_in(State(console): State<Console>, req: Request) -> Response {
    let peer: Option<IpAddr> = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let now = Instant::now();
    if let Some(wait) = peer.and_then(|ip| console.sessions.refused(ip, now)) {
        let secs = wait.as_secs().max(1);
        let mut resp = ApiError::new(
            ErrorKind::TooManyRequests,
            format!("too many failed sign-ins from this address; try again in {secs} s"),
        )
        .into_response();
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    let (parts, body) = req.into_parts();
    if !same_origin(&parts.headers) {
        return ApiError::new(ErrorKind::Forbidden, "sign in from the console's own page").into_response();
    }
    let form = !parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let Ok(body): Result<Bytes, _> = axum::body::to_bytes(body, 64 * 1024).await else {
        return ApiError::new(ErrorKind::InvalidRequest, "the sign-in body is too large").into_response();
    };
    let Some(token) = token_of(&parts.headers, &body) else {
        return ApiError::new(ErrorKind::InvalidRequest, "give the token to sign in with")
            .with_field("token")
            .into_response();
    };
    let hash = ferry_api::hash_token(&token);
    let lookup = hash.clone();
    let found = match console.store.call(move |db| db.token_by_hash(&lookup)).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "console sign-in: the store failed");
            return ApiError::new(ErrorKind::Internal, "the server cannot check tokens now; try again")
                .into_response();
        }
    };
    let refusal = match &found {
        None => Some("the token is not valid for this server".to_owned()),
        Some(t) if t.expired(Timestamp::now()) => {
            Some(format!("the token {:?} has expired; ask an admin for a new one", t.name))
        }
        Some(_) => None,
    };
    let (Some(record), None) = (found, refusal.as_ref()) else {
        tracing::warn!(peer = ?peer, reason = refusal.as_deref().unwrap_or_default(), "console sign-in failed");
        if let Some(ip) = peer {
            console.sessions.failed(ip, now);
        }
        let message = refusal.unwrap_or_default();
        return ApiError::new(ErrorKind::Unauthorized, message).with_field("token").into_response();
    };
    let (id, session) = console.sessions.open(hash, record.name, record.scope, record.expires_at, now);
    tracing::info!(token = %session.token_name, scope = %session.scope, peer = ?peer, "console signed in");
    let mut cookie = format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    );
    if console.config.secure {
        cookie.push_str("; Secure");
    }
    let mut resp = if form { redirect("/console/") } else { session_json(&session) };
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            resp.headers_mut().insert(SET_COOKIE, v);
        }
        // The cookie is ASCII hex and fixed words; it always makes a header value.
        Err(_) => return ApiError::new(ErrorKind::Internal, "cannot set the session cookie").into_response(),
    }
    resp
}

/// `DELETE /console/session`: ends the session (with its CSRF token, so no other site can sign a
/// browser out) and clears the cookie.
async fn sign_out(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers)
        && let Some(s) = console.sessions.get(&id, Instant::now())
    {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !session::same_secret(sent, &s.csrf) {
            return ApiError::new(
                ErrorKind::Forbidden,
                "signing out needs the session's X-CSRF-Token header",
            )
            .with_field("X-CSRF-Token")
            .into_response();
        }
        console.sessions.close(&id);
        tracing::info!(token = %s.token_name, "console signed out");
    }
    let mut cookie = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if console.config.secure {
        cookie.push_str("; Secure");
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests;
