//! Fixtures and the headers each host sends with them, signed as the host signs.

#![allow(dead_code)] // each test binary uses its own share
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use ferry_hooks::{CommitInfo, GitHost, Push, hmac_hex, sign_github};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

pub const SECRET: &[u8] = b"It's a Secret to Everybody";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture changed by `edit`, serialised again.
pub fn tweak(name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&fixture(name)).unwrap();
    edit(&mut value);
    serde_json::to_vec_pretty(&value).unwrap()
}

pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

pub fn github(event: &str, body: &[u8]) -> HeaderMap {
    headers(&[
        ("Content-Type", "application/json"),
        ("User-Agent", "GitHub-Hookshot/2b2e1d3"),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Hook-ID", "483920162"),
        ("X-Hub-Signature", "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6"),
        ("X-Hub-Signature-256", &sign_github(SECRET, body)),
    ])
}

/// What Gitea 1.2x sends: its own headers, Gogs' and GitHub's.
pub fn gitea(event: &str, body: &[u8]) -> HeaderMap {
    let sig = hmac_hex(SECRET, body);
    headers(&[
        ("Content-Type", "application/json"),
        ("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
        ("X-Gitea-Event", event),
        ("X-Gitea-Event-Type", event),
        ("X-Gitea-Signature", &sig),
        ("X-Gogs-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
        ("X-Gogs-Event", event),
        ("X-Gogs-Event-Type", event),
        ("X-Gogs-Signature", &sig),
        ("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567"),
        ("X-Hub-Signature-256", &format!("sha256={sig}")),
        ("X-GitHub-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Event-Type", event),
    ])
}

/// What Forgejo sends: Gitea's headers and its own.
pub fn forgejo(event: &str, body: &[u8]) -> HeaderMap {
    let mut map = gitea(event, body);
    let sig = hmac_hex(SECRET, body);
    map.extend(headers(&[("X-Forgejo-Event", event), ("X-Forgejo-Signature", &sig)]));
    map
}

pub fn gitlab(event: &str, token: &str) -> HeaderMap {
    headers(&[
        ("Content-Type", "application/json"),
        ("User-Agent", "GitLab/17.0.0"),
        ("X-Gitlab-Event", event),
        ("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"),
        ("X-Gitlab-Instance", "https://gitlab.example.com"),
        ("X-Gitlab-Token", token),
        ("Idempotency-Key", "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"),
    ])
}

pub fn bitbucket(event: &str, body: &[u8]) -> HeaderMap {
    headers(&[
        ("Content-Type", "application/json"),
        ("User-Agent", "Bitbucket-Webhooks/2.0"),
        ("X-Event-Key", event),
        ("X-Request-UUID", "3c5ed9c5-9a9b-4b5c-8a0e-1f2e3d4c5b6a"),
        ("X-Hook-UUID", "7d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"),
        ("X-Attempt-Number", "1"),
        ("X-Hub-Signature", &sign_github(SECRET, body)),
    ])
}

pub fn commit(id: &str, author: Option<&str>, subject: Option<&str>) -> CommitInfo {
    CommitInfo { id: id.into(), author: author.map(Into::into), subject: subject.map(Into::into) }
}

pub fn push(host: GitHost, git_ref: &str, after: Option<&str>) -> Push {
    Push {
        host,
        git_ref: git_ref.into(),
        branch: git_ref.strip_prefix("refs/heads/").map(Into::into),
        after: after.map(Into::into),
        head: None,
        paths: None,
    }
}

pub fn paths(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|p| p.to_string()).collect())
}
