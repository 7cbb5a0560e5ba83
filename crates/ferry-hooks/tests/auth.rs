//! Refusals: every way a signature can be missing or wrong is `Unauthenticated`, decided before the body
//! is read.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use ferry_hooks::{GitEvent, HookError, hmac_hex, sign_github, verify_git};
use http::HeaderMap;
use support::*;

fn refused(headers: &HeaderMap, body: &[u8]) -> &'static str {
    match verify_git(headers, body, SECRET) {
        Err(HookError::Unauthenticated(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// `headers` with `name` set to `value`, or removed when `value` is `None`.
fn with(mut headers: HeaderMap, name: &'static str, value: Option<&str>) -> HeaderMap {
    match value {
        Some(v) => {
            headers.insert(name, v.parse().unwrap());
        }
        None => {
            headers.remove(name);
        }
    }
    headers
}

#[test]
fn bad_github_and_bitbucket_signatures() {
    let body = fixture("github_push.json");
    let right = hmac_hex(SECRET, &body);
    let other_secret = sign_github(b"another secret", &body);
    let other_body = sign_github(SECRET, b"{}");
    let upper = format!("sha256={}", right.to_uppercase());
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "missing signature"),
        ("empty", Some(String::new()), "missing signature"),
        ("another secret", Some(other_secret), "wrong signature"),
        ("another body", Some(other_body), "wrong signature"),
        ("sha1 prefix", Some(format!("sha1={right}")), "is not sha256="),
        ("no prefix", Some(right.clone()), "is not sha256="),
        ("odd hex", Some(format!("sha256={}", &right[..63])), "is not sha256="),
        ("short", Some(format!("sha256={}", &right[..62])), "is not sha256="),
        ("long", Some(format!("sha256={right}00")), "is not sha256="),
        ("not hex", Some(format!("sha256={}", "zz".repeat(32))), "is not sha256="),
    ];
    for (name, value, why) in cases {
        let github_headers = with(github("push", &body), "x-hub-signature-256", value.as_deref());
        assert!(refused(&github_headers, &body).contains(why), "github {name}");
        let bitbucket_headers = with(bitbucket("repo:push", &body), "x-hub-signature", value.as_deref());
        assert!(refused(&bitbucket_headers, &body).contains(why), "bitbucket {name}");
    }
    // Hex in either case and `SHA256=` are accepted.
    let headers = with(github("push", &body), "x-hub-signature-256", Some(&upper));
    assert!(matches!(verify_git(&headers, &body, SECRET), Ok(GitEvent::Push(_))));
    let headers = with(github("push", &body), "x-hub-signature-256", Some(&format!("SHA256={right}")));
    assert!(matches!(verify_git(&headers, &body, SECRET), Ok(GitEvent::Push(_))));
}

#[test]
fn bad_gitea_signatures() {
    let body = fixture("gitea_push.json");
    let right = hmac_hex(SECRET, &body);
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "gitea: missing signature"),
        ("another secret", Some(hmac_hex(b"another secret", &body)), "gitea: wrong signature"),
        ("github style", Some(format!("sha256={right}")), "gitea: signature is not 64 hex digits"),
        ("odd hex", Some(right[..63].to_owned()), "gitea: signature is not 64 hex digits"),
    ];
    for (name, value, why) in cases {
        let headers = with(gitea("push", &body), "x-gitea-signature", value.as_deref());
        // Gitea also sends a valid `X-Hub-Signature-256`; it must not stand in for its own.
        assert_eq!(refused(&headers, &body), why, "{name}");
    }
    let upper = with(gitea("push", &body), "x-gitea-signature", Some(&right.to_uppercase()));
    assert!(matches!(verify_git(&upper, &body, SECRET), Ok(GitEvent::Push(_))));
    // Forgejo's own signature is read first, Gitea's when it is missing.
    let wrong = hmac_hex(b"another secret", &body);
    let forgejo_wrong = with(forgejo("push", &body), "x-forgejo-signature", Some(&wrong));
    assert_eq!(refused(&forgejo_wrong, &body), "gitea: wrong signature");
    let forgejo_only_gitea = with(forgejo("push", &body), "x-forgejo-signature", None);
    assert!(matches!(verify_git(&forgejo_only_gitea, &body, SECRET), Ok(GitEvent::Push(_))));
}

#[test]
fn nothing_is_parsed_before_it_is_verified() {
    let body = b"this is not json";
    let headers = with(github("push", body), "x-hub-signature-256", Some(&sign_github(b"nope", body)));
    assert_eq!(refused(&headers, body), "github: wrong signature");
    let headers = with(gitlab("Push Hook", "nope"), "content-type", Some("application/json"));
    assert_eq!(refused(&headers, body), "gitlab: wrong token");
}

#[test]
fn unknown_senders_and_missing_secrets_are_refused() {
    let body = fixture("github_push.json");
    let plain = headers(&[
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", &sign_github(SECRET, &body)),
    ]);
    assert_eq!(refused(&plain, &body), "no known git host's event header");
    let gogs_only = headers(&[("X-Gogs-Event", "push"), ("X-Gogs-Signature", &hmac_hex(SECRET, &body))]);
    assert_eq!(refused(&gogs_only, &body), "no known git host's event header");
    for headers in
        [github("push", &body), gitea("push", &body), gitlab("Push Hook", ""), bitbucket("repo:push", &body)]
    {
        let got = verify_git(&headers, &body, b"");
        assert_eq!(got, Err(HookError::Unauthenticated("no webhook secret is configured")));
    }
}

#[test]
fn refusals_display_without_the_secret() {
    let body = fixture("github_push.json");
    let headers = with(github("push", &body), "x-hub-signature-256", None);
    let err = verify_git(&headers, &body, SECRET).unwrap_err();
    assert_eq!(err.to_string(), "webhook not authenticated: github: missing signature");
    assert!(!err.to_string().contains("Secret"));
}
