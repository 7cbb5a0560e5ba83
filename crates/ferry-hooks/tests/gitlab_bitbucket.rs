//! GitLab and Bitbucket (Cloud and Server) deliveries, from fixtures shaped as the hosts send them.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use ferry_hooks::{GitEvent, GitHost, HookError, Push, verify_git};
use serde_json::{Value, json};
use support::*;

const TOKEN: &str = "It's a Secret to Everybody";
const GITLAB_HEAD: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const CLOUD_HEAD: &str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

fn gitlab_main() -> Push {
    Push {
        head: Some(commit(GITLAB_HEAD, Some("GitLab dev user"), Some("fixed readme"))),
        paths: paths(&[
            "README.md",
            "docs/old.md",
            "services/web/locale/ca.po",
            "services/web/locale/index.txt",
        ]),
        ..push(GitHost::GitLab, "refs/heads/main", Some(GITLAB_HEAD))
    }
}

#[test]
fn gitlab_deliveries() {
    let on_branch = tweak("gitlab_push.json", |v| v["ref"] = json!("refs/heads/review/x"));
    let truncated = tweak("gitlab_push.json", |v| v["total_commits_count"] = json!(31));
    let deleted = tweak("gitlab_push.json", |v| {
        v["after"] = json!("0".repeat(40));
        v["checkout_sha"] = Value::Null;
        v["commits"] = json!([]);
        v["total_commits_count"] = json!(0);
    });
    let head_elsewhere = tweak("gitlab_push.json", |v| {
        v["commits"].as_array_mut().unwrap().truncate(1);
        v["total_commits_count"] = json!(1);
    });
    let cases: Vec<(&str, Vec<u8>, &str, GitEvent)> = vec![
        ("push to main", fixture("gitlab_push.json"), "Push Hook", GitEvent::Push(gitlab_main())),
        (
            "push to another branch",
            on_branch,
            "Push Hook",
            GitEvent::Push(Push {
                git_ref: "refs/heads/review/x".into(),
                branch: Some("review/x".into()),
                ..gitlab_main()
            }),
        ),
        (
            "truncated commit list",
            truncated,
            "Push Hook",
            GitEvent::Push(Push { paths: None, ..gitlab_main() }),
        ),
        (
            "tag push",
            fixture("gitlab_tag_push.json"),
            "Tag Push Hook",
            GitEvent::Push(push(
                GitHost::GitLab,
                "refs/tags/v1.0.0",
                Some("82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"),
            )),
        ),
        (
            "branch deleted",
            deleted,
            "Push Hook",
            GitEvent::Push(push(GitHost::GitLab, "refs/heads/main", None)),
        ),
        (
            "head commit not listed",
            head_elsewhere,
            "Push Hook",
            GitEvent::Push(Push {
                head: None,
                paths: paths(&["services/web/locale/ca.po", "services/web/locale/index.txt"]),
                ..gitlab_main()
            }),
        ),
        (
            "merge request",
            b"{}".to_vec(),
            "Merge Request Hook",
            GitEvent::Ignored("Merge Request Hook".into()),
        ),
    ];
    for (name, body, event, want) in cases {
        assert_eq!(verify_git(&gitlab(event, TOKEN), &body, SECRET), Ok(want), "{name}");
    }
}

#[test]
fn gitlab_tokens_must_match_exactly() {
    let body = fixture("gitlab_push.json");
    for token in
        ["wrong", "It's a Secret to Everybod", "It's a Secret to Everybody!", "it's a secret to everybody"]
    {
        let got = verify_git(&gitlab("Push Hook", token), &body, SECRET);
        assert_eq!(got, Err(HookError::Unauthenticated("gitlab: wrong token")), "{token}");
    }
    let mut headers = gitlab("Push Hook", TOKEN);
    headers.remove("x-gitlab-token");
    assert_eq!(verify_git(&headers, &body, SECRET), Err(HookError::Unauthenticated("gitlab: missing token")));
}

fn cloud_main() -> Push {
    Push {
        head: Some(commit(CLOUD_HEAD, Some("Ada Lovelace"), Some("web: cache the catalogue"))),
        ..push(GitHost::Bitbucket, "refs/heads/main", Some(CLOUD_HEAD))
    }
}

#[test]
fn bitbucket_cloud_deliveries() {
    let on_branch = tweak("bitbucket_cloud_push.json", |v| {
        v["push"]["changes"][0]["new"]["name"] = json!("feature/prices");
    });
    let tag = tweak("bitbucket_cloud_push.json", |v| {
        let change = &mut v["push"]["changes"][0];
        change["old"] = Value::Null;
        change["new"]["type"] = json!("tag");
        change["new"]["name"] = json!("v1.4.0");
    });
    let deleted = tweak("bitbucket_cloud_push.json", |v| {
        v["push"]["changes"][0]["new"] = Value::Null;
        v["push"]["changes"][0]["closed"] = json!(true);
    });
    let tag_then_branch = tweak("bitbucket_cloud_push.json", |v| {
        let mut tag = v["push"]["changes"][0].clone();
        tag["new"]["type"] = json!("tag");
        tag["new"]["name"] = json!("v9");
        tag["old"] = Value::Null;
        v["push"]["changes"].as_array_mut().unwrap().insert(0, tag);
    });
    let no_raw = tweak("bitbucket_cloud_push.json", |v| {
        v["push"]["changes"][0]["new"]["target"]["author"]["raw"] = Value::Null;
    });
    let cases: Vec<(&str, Vec<u8>, &str, GitEvent)> = vec![
        ("push to main", fixture("bitbucket_cloud_push.json"), "repo:push", GitEvent::Push(cloud_main())),
        (
            "push to another branch",
            on_branch,
            "repo:push",
            GitEvent::Push(Push {
                git_ref: "refs/heads/feature/prices".into(),
                branch: Some("feature/prices".into()),
                ..cloud_main()
            }),
        ),
        (
            "tag push",
            tag,
            "repo:push",
            GitEvent::Push(Push { git_ref: "refs/tags/v1.4.0".into(), branch: None, ..cloud_main() }),
        ),
        (
            "branch deleted",
            deleted,
            "repo:push",
            GitEvent::Push(push(GitHost::Bitbucket, "refs/heads/main", None)),
        ),
        ("the branch change wins", tag_then_branch, "repo:push", GitEvent::Push(cloud_main())),
        (
            "author from the account",
            no_raw,
            "repo:push",
            GitEvent::Push(Push {
                head: Some(commit(CLOUD_HEAD, Some("Ada L."), Some("web: cache the catalogue"))),
                ..cloud_main()
            }),
        ),
        (
            "pull request",
            b"{}".to_vec(),
            "pullrequest:created",
            GitEvent::Ignored("pullrequest:created".into()),
        ),
    ];
    for (name, body, event, want) in cases {
        assert_eq!(verify_git(&bitbucket(event, &body), &body, SECRET), Ok(want), "{name}");
    }
}

#[test]
fn bitbucket_server_deliveries() {
    let to = "178864a7d521b6f5e720b386b2c2b0ef8563e0dc";
    let main =
        Push { head: Some(commit(to, None, None)), ..push(GitHost::Bitbucket, "refs/heads/main", Some(to)) };
    let tag = tweak("bitbucket_server_refs_changed.json", |v| {
        v["changes"][0]["ref"] = json!({"id": "refs/tags/v1", "displayId": "v1", "type": "TAG"});
        v["changes"][0]["refId"] = json!("refs/tags/v1");
        v["changes"][0]["type"] = json!("ADD");
        v["changes"][0]["fromHash"] = json!("0".repeat(40));
    });
    let deleted = tweak("bitbucket_server_refs_changed.json", |v| {
        v["changes"][0]["type"] = json!("DELETE");
        v["changes"][0]["toHash"] = json!("0".repeat(40));
    });
    let cases: Vec<(&str, Vec<u8>, &str, GitEvent)> = vec![
        (
            "push to main",
            fixture("bitbucket_server_refs_changed.json"),
            "repo:refs_changed",
            GitEvent::Push(main.clone()),
        ),
        (
            "tag push",
            tag,
            "repo:refs_changed",
            GitEvent::Push(Push { git_ref: "refs/tags/v1".into(), branch: None, ..main.clone() }),
        ),
        (
            "branch deleted",
            deleted,
            "repo:refs_changed",
            GitEvent::Push(push(GitHost::Bitbucket, "refs/heads/main", None)),
        ),
        ("test connection", br#"{"test": true}"#.to_vec(), "diagnostics:ping", GitEvent::Ping),
    ];
    for (name, body, event, want) in cases {
        assert_eq!(verify_git(&bitbucket(event, &body), &body, SECRET), Ok(want), "{name}");
    }
}

#[test]
fn authenticated_nonsense_is_malformed() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no changes", br#"{"push": {"changes": []}}"#.to_vec()),
        ("no push", b"{}".to_vec()),
        (
            "mercurial-era ref",
            tweak("bitbucket_cloud_push.json", |v| {
                v["push"]["changes"][0]["new"]["type"] = json!("bookmark")
            }),
        ),
        (
            "short hash",
            tweak("bitbucket_cloud_push.json", |v| {
                v["push"]["changes"][0]["new"]["target"]["hash"] = json!("0d1a26e")
            }),
        ),
        (
            "no target",
            tweak("bitbucket_cloud_push.json", |v| v["push"]["changes"][0]["new"]["target"] = Value::Null),
        ),
    ];
    for (name, body) in cases {
        let got = verify_git(&bitbucket("repo:push", &body), &body, SECRET);
        assert!(matches!(got, Err(HookError::Malformed(_))), "{name}: {got:?}");
    }
    let body = fixture("gitlab_push.json");
    let body = String::from_utf8(body).unwrap().replace(GITLAB_HEAD, "da15608");
    let got = verify_git(&gitlab("Push Hook", TOKEN), body.as_bytes(), SECRET);
    assert!(matches!(got, Err(HookError::Malformed(_))), "{got:?}");
}
