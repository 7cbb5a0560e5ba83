//! Console sessions: what a signed-in browser holds instead of its token.
//!
//! Signing in exchanges a token for a random 256-bit session id, sent back as an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when the API is served over TLS), so the token itself is never
//! kept by the page: not in a URL, not in the DOM, not in storage its script can read. The server maps
//! the id, in memory only, to the token's hash, name and scope, and to a CSRF token that the page
//! learns from `GET /console/session` (a same-origin read no other site can make) and must send as
//! `X-CSRF-Token` with every request that changes something. A session ends when the user signs out,
//! after [`SESSION_LIFETIME`], when its token expires, or when the server restarts; a revoked token's
//! sessions stop working at once, because every API request looks the token up by its hash again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferry_model::Timestamp;

/// How long a session lasts at most, however long its token does.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions held at most; past it, ended ones are forgotten first, then the oldest.
const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins an address may make within [`SIGN_IN_WINDOW`] (the API's own limit does not see them).
pub const MAX_SIGN_IN_FAILURES: u32 = 10;
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The SHA-256 (hex) of the token, as the store keeps it.
    pub token_hash: String,
    pub token_name: String,
    pub scope: String,
    pub csrf: String,
    token_expires_at: Option<Timestamp>,
    ends: Instant,
}

/// Every live session, by id, plus the sign-in failure counts.
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Sessions {
    /// Opens a session for a token already checked; returns its id (the cookie's value).
    pub fn open(
        &self,
        token_hash: String,
        token_name: String,
        scope: String,
        token_expires_at: Option<Timestamp>,
        now: Instant,
    ) -> (String, Session) {
        let id = random_hex();
        let session = Session {
            token_hash,
            token_name,
            scope,
            csrf: random_hex(),
            token_expires_at,
            ends: now + SESSION_LIFETIME,
        };
        let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        if by_id.len() >= MAX_SESSIONS {
            by_id.retain(|_, s| now < s.ends);
            if by_id.len() >= MAX_SESSIONS {
                let oldest = by_id.iter().min_by_key(|(_, s)| s.ends).map(|(id, _)| id.clone());
                if let Some(oldest) = oldest {
                    by_id.remove(&oldest);
                }
            }
        }
        by_id.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session with this id; an ended one is forgotten.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        let session = by_id.get(id)?;
        if now >= session.ends || session.token_expires_at.is_some_and(|at| at <= Timestamp::now()) {
            by_id.remove(id);
            return None;
        }
        Some(session.clone())
    }

    pub fn close(&self, id: &str) -> bool {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner()).remove(id).is_some()
    }

    /// `Some(wait)` when `ip` failed to sign in too often and must wait that long.
    pub fn refused(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (started, count) = failures.get(&ip)?;
        let ends = *started + SIGN_IN_WINDOW;
        (*count >= MAX_SIGN_IN_FAILURES && now < ends).then(|| ends - now)
    }

    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_SESSIONS {
            failures.retain(|_, (started, _)| now < *started + SIGN_IN_WINDOW);
        }
        let w = failures.entry(ip).or_insert((now, 0));
        if now >= w.0 + SIGN_IN_WINDOW {
            *w = (now, 0);
        }
        w.1 = w.1.saturating_add(1);
    }
}

/// 256 random bits, in hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    // Without the operating system's random numbers no session can be safe; there is no fallback.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    hex::encode(bytes)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_after_their_lifetime_and_on_close() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let (id, s) = sessions.open("h".into(), "admin".into(), "admin".into(), None, t0);
        assert_eq!(id.len(), 64);
        assert_ne!(id, s.csrf);
        assert!(sessions.get(&id, t0 + Duration::from_secs(60)).is_some());
        assert!(sessions.get(&id, t0 + SESSION_LIFETIME).is_none(), "ended");
        let (id, _) = sessions.open("h".into(), "admin".into(), "admin".into(), None, t0);
        assert!(sessions.close(&id));
        assert!(sessions.get(&id, t0).is_none());
        assert!(sessions.get("nope", t0).is_none());
    }

    #[test]
    fn a_session_ends_with_its_token() {
        let sessions = Sessions::default();
        let past = Timestamp::from_millis(1_000);
        let (id, _) = sessions.open("h".into(), "ci".into(), "deploy".into(), Some(past), Instant::now());
        assert!(sessions.get(&id, Instant::now()).is_none());
    }

    #[test]
    fn sign_in_failures_are_limited_per_address() {
        let sessions = Sessions::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..MAX_SIGN_IN_FAILURES {
            assert!(sessions.refused(ip, t0).is_none());
            sessions.failed(ip, t0);
        }
        assert!(sessions.refused(ip, t0 + Duration::from_secs(1)).is_some());
        assert!(sessions.refused(ip, t0 + SIGN_IN_WINDOW).is_none());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
