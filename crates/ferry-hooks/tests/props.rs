//! Whatever arrives, correctly signed or not, nothing panics and every answer is well formed.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use ferry_hooks::{GitEvent, HookError, parse_registry_events, verify_git};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::*;

/// Signed headers for `body` as each host would send them, with `event` as the event name.
fn senders(event: &str, body: &[u8]) -> Vec<http::HeaderMap> {
    let secret = std::str::from_utf8(SECRET).unwrap();
    vec![
        github(event, body),
        gitea(event, body),
        forgejo(event, body),
        gitlab(event, secret),
        bitbucket(event, body),
    ]
}

const EVENTS: &[&str] = &["push", "ping", "Push Hook", "Tag Push Hook", "repo:push", "repo:refs_changed"];

/// JSON values that look like pushes more often than chance would: the keys hosts use, ids that are
/// sometimes valid, and nesting.
fn json_ish() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "ref",
        "before",
        "after",
        "deleted",
        "forced",
        "created",
        "head_commit",
        "commits",
        "id",
        "message",
        "author",
        "name",
        "raw",
        "user",
        "display_name",
        "added",
        "removed",
        "modified",
        "size",
        "total_commits",
        "total_commits_count",
        "checkout_sha",
        "title",
        "push",
        "changes",
        "new",
        "old",
        "type",
        "target",
        "hash",
        "refId",
        "fromHash",
        "toHash",
        "displayId",
        "events",
        "action",
        "tag",
        "digest",
        "mediaType",
        "repository",
        "request",
        "host",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "[0-9a-fA-F]{38,42}".prop_map(Value::from),
        Just(json!("0".repeat(40))),
        "refs/(heads|tags)/[a-z./_-]{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["branch", "tag", "BRANCH", "TAG", "DELETE", "UPDATE", "push"])
            .prop_map(Value::from),
        prop::sample::select(vec![
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.index.v1+json",
        ])
        .prop_map(Value::from),
        "sha256:[0-9a-f]{62,66}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>()
            )),
        ]
    })
}

/// Every JSON pointer in `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out))
        }
        _ => {}
    }
    out.push(at);
}

const FIXTURES: &[&str] = &[
    "github_push.json",
    "github_tag.json",
    "gitea_push.json",
    "gitlab_push.json",
    "gitlab_tag_push.json",
    "bitbucket_cloud_push.json",
    "bitbucket_server_refs_changed.json",
    "registry_events.json",
];

fn check(result: &Result<GitEvent, HookError>) {
    if let Ok(GitEvent::Push(push)) = result {
        assert!(push.git_ref.starts_with("refs/"));
        for id in push.after.iter().chain(push.head.as_ref().map(|h| &h.id)) {
            assert_eq!(id.len(), 40);
            assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
        if let Some(subject) = push.head.as_ref().and_then(|h| h.subject.as_ref()) {
            assert!(subject.chars().count() <= 200 && !subject.contains('\n'));
        }
        if let Some(paths) = &push.paths {
            assert!(paths.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn signed_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), event in prop::sample::select(EVENTS)) {
        for headers in senders(event, &body) {
            check(&verify_git(&headers, &body, SECRET));
        }
    }

    #[test]
    fn signed_json_never_panics(value in json_ish(), event in prop::sample::select(EVENTS)) {
        let body = serde_json::to_vec(&value).unwrap();
        for headers in senders(event, &body) {
            check(&verify_git(&headers, &body, SECRET));
        }
    }

    #[test]
    fn fixtures_with_a_field_replaced_never_panic(
        name in prop::sample::select(FIXTURES),
        at in any::<prop::sample::Index>(),
        replacement in json_ish(),
        event in prop::sample::select(EVENTS),
    ) {
        let mut value: Value = serde_json::from_slice(&fixture(name)).unwrap();
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        if let Some(slot) = value.pointer_mut(&all[at.index(all.len())]) {
            *slot = replacement;
        }
        let body = serde_json::to_vec(&value).unwrap();
        for headers in senders(event, &body) {
            check(&verify_git(&headers, &body, SECRET));
        }
        let _ = parse_registry_events(&body);
    }

    #[test]
    fn fixtures_with_a_byte_changed_never_panic(
        name in prop::sample::select(FIXTURES),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        event in prop::sample::select(EVENTS),
    ) {
        let mut body = fixture(name);
        let i = at.index(body.len());
        body[i] = byte;
        for headers in senders(event, &body) {
            check(&verify_git(&headers, &body, SECRET));
        }
    }

    #[test]
    fn unsigned_bodies_are_refused(body in prop::collection::vec(any::<u8>(), 0..256), event in prop::sample::select(EVENTS)) {
        for headers in senders(event, &body) {
            let got = verify_git(&headers, &body, b"a different secret");
            prop_assert!(matches!(got, Err(HookError::Unauthenticated(_))));
        }
    }

    #[test]
    fn registry_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), value in json_ish()) {
        let _ = parse_registry_events(&body);
        let envelope = serde_json::to_vec(&json!({ "events": [value.clone(), value.clone()] })).unwrap();
        if let Ok(pushed) = parse_registry_events(&envelope) {
            for p in pushed {
                prop_assert!(p.digest.starts_with("sha256:") && p.digest.len() == 71);
                prop_assert!(!p.tag.is_empty() && !p.repository.is_empty());
            }
        }
        let _ = parse_registry_events(&serde_json::to_vec(&value).unwrap());
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for depth in [100, 10_000, 200_000] {
        let body =
            format!(r#"{{"ref": "refs/heads/main", "x": {}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        for headers in senders("push", body.as_bytes()) {
            let _ = verify_git(&headers, body.as_bytes(), SECRET);
        }
        let envelope = format!(r#"{{"events": [{}{}]}}"#, "{\"a\":".repeat(depth), "}".repeat(depth));
        let _ = parse_registry_events(envelope.as_bytes());
    }
}
