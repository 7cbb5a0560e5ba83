//! GitHub and Gitea / Forgejo deliveries, from fixtures shaped as the hosts send them.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use ferry_hooks::{GitEvent, GitHost, HookError, Push, verify_git};
use serde_json::{Value, json};
use support::*;

const HEAD: &str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

fn github_main() -> Push {
    Push {
        head: Some(commit(HEAD, Some("Grace Hopper"), Some("api: drop the v0 routes"))),
        paths: paths(&[
            "README.md",
            "services/api/routes.py",
            "services/api/v0.py",
            "services/web/app.py",
            "services/web/locale.py",
        ]),
        ..push(GitHost::GitHub, "refs/heads/main", Some(HEAD))
    }
}

fn gitea_main(host_headers: fn(&str, &[u8]) -> http::HeaderMap) -> (http::HeaderMap, Vec<u8>) {
    let body = fixture("gitea_push.json");
    (host_headers("push", &body), body)
}

fn gitea_expected() -> Push {
    Push {
        head: Some(commit(HEAD, Some("Ada Lovelace"), Some("web: cache the catalogue"))),
        paths: paths(&["services/web/catalogue.py"]),
        ..push(GitHost::Gitea, "refs/heads/main", Some(HEAD))
    }
}

#[test]
fn github_deliveries() {
    let on_branch = tweak("github_push.json", |v| v["ref"] = json!("refs/heads/feature/prices"));
    let upper = tweak("github_push.json", |v| v["after"] = json!(HEAD.to_uppercase()));
    let forced = tweak("github_push.json", |v| v["forced"] = json!(true));
    let created = tweak("github_push.json", |v| {
        v["created"] = json!(true);
        v["before"] = json!("0".repeat(40));
    });
    let no_files = tweak("github_push.json", |v| {
        for c in v["commits"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().retain(|k, _| !["added", "removed", "modified"].contains(&k.as_str()));
        }
    });
    let many = tweak("github_push.json", |v| {
        let one = v["commits"][1].clone();
        v["commits"] = Value::Array(vec![one; 2048]);
    });
    let sized = tweak("github_push.json", |v| v["size"] = json!(25));
    let cases: Vec<(&str, Vec<u8>, &str, GitEvent)> = vec![
        ("push to main", fixture("github_push.json"), "push", GitEvent::Push(github_main())),
        (
            "push to another branch",
            on_branch,
            "push",
            GitEvent::Push(Push {
                git_ref: "refs/heads/feature/prices".into(),
                branch: Some("feature/prices".into()),
                ..github_main()
            }),
        ),
        ("ids are lowercased", upper, "push", GitEvent::Push(github_main())),
        (
            "annotated tag: after is the tag, head the commit",
            fixture("github_tag.json"),
            "push",
            GitEvent::Push(Push {
                head: Some(commit(HEAD, Some("Grace Hopper"), Some("api: drop the v0 routes"))),
                ..push(GitHost::GitHub, "refs/tags/v1.4.0", Some("5c4a1e5a0b2f7d3c9e8f1a2b3c4d5e6f7a8b9c0d"))
            }),
        ),
        (
            "branch deleted",
            fixture("github_delete.json"),
            "push",
            GitEvent::Push(push(GitHost::GitHub, "refs/heads/feature/prices", None)),
        ),
        ("force push: paths unknown", forced, "push", GitEvent::Push(Push { paths: None, ..github_main() })),
        (
            "created branch: paths unknown",
            created,
            "push",
            GitEvent::Push(Push { paths: None, ..github_main() }),
        ),
        ("commits without files", no_files, "push", GitEvent::Push(Push { paths: None, ..github_main() })),
        ("2048 commits: maybe cut", many, "push", GitEvent::Push(Push { paths: None, ..github_main() })),
        ("size beyond the list", sized, "push", GitEvent::Push(Push { paths: None, ..github_main() })),
        ("ping", fixture("github_ping.json"), "ping", GitEvent::Ping),
        ("another event", b"{}".to_vec(), "pull_request", GitEvent::Ignored("pull_request".into())),
        ("delete event", b"{}".to_vec(), "delete", GitEvent::Ignored("delete".into())),
    ];
    for (name, body, event, want) in cases {
        assert_eq!(verify_git(&github(event, &body), &body, SECRET), Ok(want), "{name}");
    }
}

#[test]
fn gitea_and_forgejo_deliveries() {
    for (name, sender) in [("gitea", gitea as fn(&str, &[u8]) -> http::HeaderMap), ("forgejo", forgejo)] {
        let (headers, body) = gitea_main(sender);
        assert_eq!(verify_git(&headers, &body, SECRET), Ok(GitEvent::Push(gitea_expected())), "{name}");
    }

    let truncated = tweak("gitea_push.json", |v| v["total_commits"] = json!(7));
    let before_1_17 = tweak("gitea_push.json", |v| {
        v.as_object_mut().unwrap().remove("total_commits");
    });
    let tag = tweak("gitea_push.json", |v| {
        v["ref"] = json!("refs/tags/v2.0.0");
        v["before"] = json!("0".repeat(40));
    });
    let zero_after = tweak("gitea_push.json", |v| {
        v["after"] = json!("0".repeat(40));
        v["head_commit"] = Value::Null;
        v["commits"] = json!([]);
        v["total_commits"] = json!(0);
    });
    let cases: Vec<(&str, Vec<u8>, &str, GitEvent)> = vec![
        (
            "truncated commit list",
            truncated,
            "push",
            GitEvent::Push(Push { paths: None, ..gitea_expected() }),
        ),
        ("no total_commits", before_1_17, "push", GitEvent::Push(Push { paths: None, ..gitea_expected() })),
        (
            "tag push",
            tag,
            "push",
            GitEvent::Push(Push {
                git_ref: "refs/tags/v2.0.0".into(),
                branch: None,
                paths: None,
                ..gitea_expected()
            }),
        ),
        ("deleted ref", zero_after, "push", GitEvent::Push(push(GitHost::Gitea, "refs/heads/main", None))),
        (
            "gitea sends deletions as their own event",
            br#"{"ref":"feature/x","ref_type":"branch","pusher_type":"user"}"#.to_vec(),
            "delete",
            GitEvent::Ignored("delete".into()),
        ),
    ];
    for (name, body, event, want) in cases {
        assert_eq!(verify_git(&gitea(event, &body), &body, SECRET), Ok(want), "{name}");
    }
}

#[test]
fn gitea_headers_win_over_the_github_ones_it_also_sends() {
    let (mut headers, body) = gitea_main(gitea);
    // A Gitea delivery says GitHub too; it must still parse as Gitea, with Gitea's truncation rules.
    assert_eq!(headers["x-github-event"], "push");
    assert_eq!(
        verify_git(&headers, &body, SECRET)
            .map(|e| matches!(e, GitEvent::Push(p) if p.host == GitHost::Gitea)),
        Ok(true)
    );
    // With a wrong Gitea signature, the valid GitHub-style one beside it does not let it in.
    headers.insert("x-gitea-signature", "00".repeat(32).parse().unwrap());
    assert!(matches!(verify_git(&headers, &body, SECRET), Err(HookError::Unauthenticated(_))));
}

#[test]
fn authenticated_nonsense_is_malformed() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"hello".to_vec()),
        ("form encoded", b"payload=%7B%7D".to_vec()),
        ("no ref", tweak("github_push.json", |v| v["ref"] = Value::Null)),
        ("short ref", tweak("github_push.json", |v| v["ref"] = json!("main"))),
        ("ref with ..", tweak("github_push.json", |v| v["ref"] = json!("refs/heads/a..b"))),
        ("short after", tweak("github_push.json", |v| v["after"] = json!("0d1a26e"))),
        ("no after", tweak("github_push.json", |v| v["after"] = Value::Null)),
        ("bad before", tweak("github_push.json", |v| v["before"] = json!("xyz"))),
        ("bad head id", tweak("github_push.json", |v| v["head_commit"]["id"] = json!("nope"))),
        ("bad commit id", tweak("github_push.json", |v| v["commits"][0]["id"] = json!(42))),
        ("sha-256 repository", tweak("github_push.json", |v| v["after"] = json!("a".repeat(64)))),
        ("commits not a list", tweak("github_push.json", |v| v["commits"] = json!({}))),
    ];
    for (name, body) in cases {
        let got = verify_git(&github("push", &body), &body, SECRET);
        assert!(matches!(got, Err(HookError::Malformed(_))), "{name}: {got:?}");
    }
}
