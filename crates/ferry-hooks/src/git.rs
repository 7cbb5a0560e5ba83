//! Which git host sent a webhook, whether it knew the secret, and what it asks for.
//!
//! The host is recognised by its event header, Gitea and Forgejo first: they also send GitHub's
//! `X-GitHub-Event` and `X-Hub-Signature-256` (and a SHA-1 `X-Hub-Signature`) for compatibility. Then:
//!
//! | host | event header | proof |
//! |---|---|---|
//! | Gitea / Forgejo | `X-Gitea-Event` / `X-Forgejo-Event` | `X-Gitea-Signature` / `X-Forgejo-Signature`: hex HMAC-SHA256 of the body |
//! | GitLab | `X-Gitlab-Event` | `X-Gitlab-Token`: the secret itself |
//! | Bitbucket Cloud and Server | `X-Event-Key` | `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>` |
//! | GitHub | `X-GitHub-Event` | `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` |
//!
//! Gitea's form content type signs the JSON rather than the body it sends, so only the JSON content type
//! verifies there; configure every host to send JSON.

use http::HeaderMap;

use crate::secret::{hex_signature_matches, token_matches};
use crate::{GitEvent, GitHost, HookError, bitbucket, github, gitlab};

/// Characters of an unknown event's name kept in [`GitEvent::Ignored`].
const MAX_EVENT_NAME_CHARS: usize = 100;

/// Why a signature was refused, per host, for the server log.
struct Refusals {
    missing: &'static str,
    malformed: &'static str,
    wrong: &'static str,
}

const GITEA: Refusals = Refusals {
    missing: "gitea: missing signature",
    malformed: "gitea: signature is not 64 hex digits",
    wrong: "gitea: wrong signature",
};
const BITBUCKET: Refusals = Refusals {
    missing: "bitbucket: missing signature",
    malformed: "bitbucket: signature is not sha256=<64 hex digits>",
    wrong: "bitbucket: wrong signature",
};
const GITHUB: Refusals = Refusals {
    missing: "github: missing signature",
    malformed: "github: signature is not sha256=<64 hex digits>",
    wrong: "github: wrong signature",
};

/// Verifies a git host's webhook against `secret` and, only once it checks out, parses it.
///
/// An empty `secret` verifies nothing: anyone can compute an HMAC with an empty key.
pub fn verify_git(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<GitEvent, HookError> {
    if secret.is_empty() {
        return Err(HookError::Unauthenticated("no webhook secret is configured"));
    }
    if let Some(event) = header(headers, "x-forgejo-event").or_else(|| header(headers, "x-gitea-event")) {
        let signature =
            header(headers, "x-forgejo-signature").or_else(|| header(headers, "x-gitea-signature"));
        check(signature, None, body, secret, &GITEA)?;
        return match event {
            "push" => github::parse_push(GitHost::Gitea, body).map(GitEvent::Push),
            other => Ok(ignored(other)),
        };
    }
    if let Some(event) = header(headers, "x-gitlab-event") {
        let token =
            headers.get("x-gitlab-token").ok_or(HookError::Unauthenticated("gitlab: missing token"))?;
        if !token_matches(secret, token.as_bytes()) {
            return Err(HookError::Unauthenticated("gitlab: wrong token"));
        }
        return match event {
            "Push Hook" | "Tag Push Hook" => gitlab::parse_push(body).map(GitEvent::Push),
            other => Ok(ignored(other)),
        };
    }
    if let Some(event) = header(headers, "x-event-key") {
        check(header(headers, "x-hub-signature"), Some("sha256"), body, secret, &BITBUCKET)?;
        return match event {
            "repo:push" => bitbucket::parse_cloud(body).map(GitEvent::Push),
            "repo:refs_changed" => bitbucket::parse_server(body).map(GitEvent::Push),
            "diagnostics:ping" => Ok(GitEvent::Ping),
            other => Ok(ignored(other)),
        };
    }
    if let Some(event) = header(headers, "x-github-event") {
        check(header(headers, "x-hub-signature-256"), Some("sha256"), body, secret, &GITHUB)?;
        return match event {
            "push" => github::parse_push(GitHost::GitHub, body).map(GitEvent::Push),
            "ping" => Ok(GitEvent::Ping),
            other => Ok(ignored(other)),
        };
    }
    Err(HookError::Unauthenticated("no known git host's event header"))
}

/// A header's value when it is present, visible ASCII and not blank.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then_some(value)
}

/// Checks a signature header's value: 64 hex digits in either case, after `<algorithm>=` when
/// `algorithm` is given (matched in either case).
fn check(
    value: Option<&str>,
    algorithm: Option<&str>,
    body: &[u8],
    secret: &[u8],
    refusals: &Refusals,
) -> Result<(), HookError> {
    let value = value.ok_or(HookError::Unauthenticated(refusals.missing))?;
    let hex = match algorithm {
        None => value,
        Some(want) => match value.split_once('=') {
            Some((got, hex)) if got.eq_ignore_ascii_case(want) => hex,
            _ => return Err(HookError::Unauthenticated(refusals.malformed)),
        },
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HookError::Unauthenticated(refusals.malformed));
    }
    if !hex_signature_matches(secret, body, hex) {
        return Err(HookError::Unauthenticated(refusals.wrong));
    }
    Ok(())
}

fn ignored(event: &str) -> GitEvent {
    GitEvent::Ignored(event.chars().take(MAX_EVENT_NAME_CHARS).collect())
}
