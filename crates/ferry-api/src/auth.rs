//! Bearer-token authentication and authorization for everything under `/v1`.
//!
//! Three things happen before a handler runs, in this order:
//! 1. **The failure limit.** An address that failed to authenticate [`MAX_FAILURES`] times within
//!    [`FAILURE_WINDOW`] gets 429 with `Retry-After` until the window ends, without its token being
//!    looked at (so guessing is not merely slowed but stopped). Successful requests are not counted.
//! 2. **The token.** Only SHA-256 hashes are stored; the request's token is hashed and looked up. A
//!    missing or unknown token is 401 with one message whatever the reason (it never says whether a
//!    token exists); a known but expired token is 401 saying it expired (only its holder can learn
//!    that). Every failure is logged once with the peer's address and the reason, never the token. A
//!    request without a bearer header that the web console vouches for ([`ConsoleSession`]: a live
//!    session cookie, and the CSRF header if it changes anything) is looked up by its session's token hash
//!    in the same way.
//! 3. **The scope.** [`required_scope`] is the one place that says which scope each call needs; a token
//!    whose scope is below it gets 403 naming the scope needed.
//!
//! Scopes are ordered, each allowing what the one before allows and more:
//!
//! | call | read-only | deploy | admin |
//! |---|---|---|---|
//! | `GET`/`HEAD` anything but `/v1/tokens` (services, revisions, operations, logs, auto scaling, registries, secret names) | yes | yes | yes |
//! | `POST`/`PATCH`/`PUT`/`DELETE` under `/v1/services` (create, update, deploy, roll back, pause, resume, delete, webhook), `/v1/operations`, `/v1/autoscaling` | 403 | yes | yes |
//! | writing under `/v1/registries`, `/v1/secrets` and `/v1/connections` (credentials, as secrets are) | 403 | 403 | yes |
//! | anything under `/v1/tokens`, reads included | 403 | 403 | yes |
//!
//! A deploy token can refer services to secrets by name (and an app it deploys can read them), so the
//! deploy scope keeps secrets from being set or deleted, not from being used. So with connections: a deploy
//! token can point a service that names one at any repository URL, and the build sends that host the
//! connection's credentials; give deploy tokens only to those trusted with the connections' credentials.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferry_model::Timestamp;
use ferry_store::TokenRecord;

use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind, hash_token};

/// What a token may do. Ordered: each scope allows everything the ones below it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    ReadOnly,
    Deploy,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::ReadOnly, Scope::Deploy, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadOnly => "read-only",
            Scope::Deploy => "deploy",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

/// The scope a call needs: the API's whole authorization matrix (see the module's documentation).
pub fn required_scope(method: &Method, path: &str) -> Scope {
    let collection = path.strip_prefix("/v1/").unwrap_or(path).split('/').next().unwrap_or_default();
    match collection {
        "tokens" | "access-keys" => Scope::Admin,
        _ if method == Method::GET || method == Method::HEAD => Scope::ReadOnly,
        // Credentials, as secrets are: a deploy token can name a connection, not make or drop one.
        "registries" | "secrets" | "connections" => Scope::Admin,
        _ => Scope::Deploy,
    }
}

/// Failed authentications an address may make within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses the limiter remembers at most; past it, windows that ended are forgotten first, then the
/// oldest.
const MAX_TRACKED: usize = 10_000;
/// How often a token's `last_used_at` is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The authentication state shared by every request: the failure limiter and when each token's use
/// was last written.
pub(crate) struct Guard {
    pub(crate) failures: FailureLimiter,
    touched: Mutex<HashMap<String, Instant>>,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            failures: FailureLimiter::new(MAX_FAILURES, FAILURE_WINDOW, MAX_TRACKED),
            touched: Mutex::new(HashMap::new()),
        }
    }
}

impl Guard {
    /// Whether the token's use should be written now (at most once per [`TOUCH_EVERY`]).
    fn due(&self, token_id: &str, now: Instant) -> bool {
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        match touched.get(token_id) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                // Bounded by the tokens that exist; a revoked token's entry is dropped with the rest.
                if touched.len() >= MAX_TRACKED {
                    touched.clear();
                }
                touched.insert(token_id.to_owned(), now);
                true
            }
        }
    }
}

/// Counts failed authentications per address in fixed windows. IPv6 addresses count per /64, the
/// block one host usually holds.
pub(crate) struct FailureLimiter {
    windows: Mutex<HashMap<IpAddr, Window>>,
    max_failures: u32,
    window: Duration,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl FailureLimiter {
    pub(crate) fn new(max_failures: u32, window: Duration, capacity: usize) -> Self {
        Self { windows: Mutex::new(HashMap::new()), max_failures, window, capacity: capacity.max(1) }
    }

    /// `Some(wait)` when `ip` has used up its failures and must wait that long.
    pub(crate) fn refused(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = windows.get(&key(ip))?;
        let ends = w.started + self.window;
        (w.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts a failure; true when it is the one that reaches the limit.
    pub(crate) fn fail(&self, ip: IpAddr, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let ip = key(ip);
        if !windows.contains_key(&ip) && windows.len() >= self.capacity {
            windows.retain(|_, w| now < w.started + self.window);
            if windows.len() >= self.capacity {
                let oldest = windows.iter().min_by_key(|(_, w)| w.started).map(|(ip, _)| *ip);
                if let Some(oldest) = oldest {
                    windows.remove(&oldest);
                }
            }
        }
        let w = windows.entry(ip).or_insert(Window { started: now, failures: 0 });
        if now >= w.started + self.window {
            *w = Window { started: now, failures: 0 };
        }
        w.failures = w.failures.saturating_add(1);
        w.failures == self.max_failures
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A request the web console (`ferry-console`) vouches for: it carried a live session cookie and, if it
/// changes anything, that session's CSRF header. The console puts this in the request's extensions
/// (which no client can set) and the request is then authenticated as the session's token, found by its
/// hash as a bearer token is, so revocation, expiry and the token's scope apply unchanged. A bearer
/// header, when present, wins.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The SHA-256 (hex) of the token the session was signed in with, as stored.
    pub token_hash: String,
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched in any case (RFC 9110
/// §11.1: authentication schemes are case-insensitive).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(crate) async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The server serves the API with connect info; a request without it came from inside the process
    // (tests calling the router directly) and has no address to count failures against.
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let now = Instant::now();
    if let Some(wait) = peer.and_then(|p| state.auth.failures.refused(p.ip(), now)) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::debug!(peer = ?peer, retry_after = secs, "API request refused: too many failed authentications");
        let mut resp = ApiError::new(
            ErrorKind::TooManyRequests,
            format!(
                "too many failed authentications from this address; try again in {secs} s with a valid token"
            ),
        )
        .into_response();
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    // Owned before the lookup's await: a request body is not `Sync`, so no reference to it may be held
    // across an await in a `Send` future.
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let session = req.extensions().get::<ConsoleSession>().map(|s| s.token_hash.clone());
    let refusal = match authenticate(&state, header.as_deref(), session).await {
        Ok(token) => match authorize(&token, req.method(), req.uri().path()) {
            Ok(()) => {
                if state.auth.due(&token.id, now) {
                    let (store, id, at) = (state.store.clone(), token.id.clone(), Timestamp::now());
                    // Off the request's path: the write queues behind the store's other calls.
                    tokio::spawn(async move {
                        if let Err(e) = store.call(move |db| db.touch_token(&id, at)).await {
                            tracing::debug!(error = %e, "cannot note a token's use");
                        }
                    });
                }
                return next.run(req).await;
            }
            Err(forbidden) => return forbidden.into_response(),
        },
        Err(refusal) => refusal,
    };
    let Refusal { reason, error } = refusal;
    if matches!(error.kind, ErrorKind::Unauthorized) {
        tracing::warn!(
            peer = %peer.map_or_else(|| "in-process".to_owned(), |p| p.to_string()),
            method = %req.method(),
            path = req.uri().path(),
            reason,
            "API authentication failed"
        );
        if let Some(p) = peer
            && state.auth.failures.fail(p.ip(), now)
        {
            tracing::warn!(
                peer = %p.ip(),
                failures = MAX_FAILURES,
                window_secs = FAILURE_WINDOW.as_secs(),
                "too many failed authentications; refusing this address until its window ends"
            );
        }
    }
    error.into_response()
}

struct Refusal {
    /// For the log.
    reason: String,
    error: ApiError,
}

async fn authenticate(
    state: &AppState,
    header: Option<&str>,
    session: Option<String>,
) -> Result<TokenRecord, Refusal> {
    // Only hashes are stored, so the lookup compares hashes; the secret itself is never compared.
    let hash = match (header.and_then(bearer), session) {
        (Some(token), _) => hash_token(token),
        (None, Some(session_hash)) => session_hash,
        (None, None) => {
            return Err(Refusal {
                reason: "no bearer token".to_owned(),
                error: ApiError::new(
                    ErrorKind::Unauthorized,
                    "this API needs `Authorization: Bearer <token>`; the admin token is in the server's \
                 data directory (admin-token), and `ferry login` saves it for the CLI",
                ),
            });
        }
    };
    let found = state
        .store
        .call(move |db| db.token_by_hash(&hash))
        .await
        .map_err(|e| Refusal { reason: "the store failed".to_owned(), error: e.into() })?;
    let Some(found) = found else {
        return Err(Refusal {
            reason: "unknown token".to_owned(),
            error: ApiError::new(ErrorKind::Unauthorized, "the token is not valid for this server"),
        });
    };
    if found.expired(Timestamp::now()) {
        let at = found.expires_at.map(rfc3339).unwrap_or_default();
        return Err(Refusal {
            reason: format!("token {:?} expired at {at}", found.name),
            error: ApiError::new(
                ErrorKind::Unauthorized,
                format!(
                    "the token {:?} expired at {at}; ask an admin for a new one (`ferry token create`)",
                    found.name
                ),
            ),
        });
    }
    Ok(found)
}

fn authorize(token: &TokenRecord, method: &Method, path: &str) -> Result<(), ApiError> {
    let needed = required_scope(method, path);
    // A scope the store holds but this build does not know allows nothing.
    let has = Scope::parse(&token.scope);
    if has.is_some_and(|has| has >= needed) {
        return Ok(());
    }
    let above: Vec<&str> = Scope::ALL.into_iter().filter(|s| *s >= needed).map(Scope::as_str).collect();
    Err(ApiError::new(
        ErrorKind::Forbidden,
        format!(
            "the token {:?} has scope {}; {method} {path} needs scope {}",
            token.name,
            token.scope,
            above.join(" or ")
        ),
    )
    .with_field("scope"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_matched_in_any_case() {
        for header in ["Bearer t0k", "bearer t0k", "BEARER  t0k ", " Bearer t0k"] {
            assert_eq!(bearer(header), Some("t0k"), "{header:?}");
        }
        for header in ["Basic t0k", "Bearer", "Bearer ", "Bearert0k", "t0k"] {
            assert_eq!(bearer(header), None, "{header:?}");
        }
    }

    #[test]
    fn the_limiter_refuses_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60), 100);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert!(!limiter.fail(a, t0));
        assert!(!limiter.fail(a, t0 + Duration::from_secs(1)));
        assert_eq!(limiter.refused(a, t0 + Duration::from_secs(2)), None, "two of three");
        assert!(limiter.fail(a, t0 + Duration::from_secs(2)), "the third reaches the limit");
        assert_eq!(limiter.refused(a, t0 + Duration::from_secs(20)), Some(Duration::from_secs(40)));
        assert_eq!(
            limiter.refused(b, t0 + Duration::from_secs(20)),
            None,
            "other addresses are not affected"
        );
        assert_eq!(limiter.refused(a, t0 + Duration::from_secs(60)), None, "the window ended");
        assert!(!limiter.fail(a, t0 + Duration::from_secs(61)), "a new window counts from one");
    }

    #[test]
    fn the_limiter_remembers_a_bounded_number_of_addresses() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let ip = |i: u8| IpAddr::from([10, 0, 0, i]);
        limiter.fail(ip(1), t0);
        limiter.fail(ip(1), t0);
        for i in 2..=3 {
            limiter.fail(ip(i), t0 + Duration::from_secs(u64::from(i)));
        }
        limiter.fail(ip(4), t0 + Duration::from_secs(4));
        assert_eq!(limiter.tracked(), 3);
        assert_eq!(limiter.refused(ip(1), t0 + Duration::from_secs(5)), None, "the oldest was forgotten");
        // Ended windows go first.
        limiter.fail(ip(5), t0 + Duration::from_secs(100));
        assert_eq!(limiter.tracked(), 1);
        // IPv6 counts per /64.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        limiter.fail(v6("2001:db8::1"), t0 + Duration::from_secs(100));
        assert!(limiter.fail(v6("2001:db8::2"), t0 + Duration::from_secs(100)));
        assert!(limiter.refused(v6("2001:db8::ffff"), t0 + Duration::from_secs(101)).is_some());
    }

    #[test]
    fn the_matrix_orders_scopes_and_keeps_tokens_for_admins() {
        use Scope::*;
        for (method, path, needed) in [
            (Method::GET, "/v1/services", ReadOnly),
            (Method::HEAD, "/v1/services/web", ReadOnly),
            (Method::GET, "/v1/registries", ReadOnly),
            (Method::GET, "/v1/secrets", ReadOnly),
            (Method::POST, "/v1/services", Deploy),
            (Method::PATCH, "/v1/services/web", Deploy),
            (Method::POST, "/v1/services/web/webhook", Deploy),
            (Method::DELETE, "/v1/autoscaling/fast", Deploy),
            (Method::POST, "/v1/registries", Admin),
            (Method::PUT, "/v1/secrets/db", Admin),
            (Method::GET, "/v1/connections", ReadOnly),
            (Method::POST, "/v1/connections", Admin),
            (Method::DELETE, "/v1/connections/gh-main", Admin),
            (Method::PUT, "/v1/connections/gh-main/credentials", Admin),
            (Method::GET, "/v1/tokens", Admin),
            (Method::POST, "/v1/tokens", Admin),
            (Method::DELETE, "/v1/tokens/ci", Admin),
            (Method::GET, "/v1/access-keys", Admin),
            (Method::POST, "/v1/access-keys", Admin),
            (Method::DELETE, "/v1/access-keys/AKIAABCDEFGHIJKLMNOP", Admin),
        ] {
            assert_eq!(required_scope(&method, path), needed, "{method} {path}");
        }
        assert!(ReadOnly < Deploy && Deploy < Admin);
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("Admin"), None);
    }
}
