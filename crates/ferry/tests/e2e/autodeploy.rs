//! Automatic deployments with real clients only: `git push` to a bare repository, push webhooks signed as
//! GitHub, GitLab and Gitea sign them (and forged ones), `docker push` to a real registry, noticed through
//! the registry's own notifications and through polling.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Response, Server, http, message_of, poll, registry, testapp_image};
use std::time::Duration;

const DEPLOYED: Duration = Duration::from_secs(120);

/// A bare repository that a working clone pushes to with `git push`, the way a developer's machine pushes
/// to a git host. Services build from its `file://` URL.
struct Upstream {
    bare: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Upstream {
    /// The repository with one commit: a Dockerfile that runs the test app saying `message`.
    fn new(message: &str) -> Self {
        let up = Self { bare: tempfile::tempdir().unwrap(), work: tempfile::tempdir().unwrap() };
        git(up.bare.path(), &["init", "-q", "--bare", "-b", "main"]);
        git(up.work.path(), &["init", "-q", "-b", "main"]);
        git(up.work.path(), &["config", "user.name", "Ada Lovelace"]);
        git(up.work.path(), &["config", "user.email", "ada@ferry.invalid"]);
        git(up.work.path(), &["remote", "add", "origin", &up.url()]);
        up.push(message, &[]);
        up
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.path().display())
    }

    /// Commits a Dockerfile saying `message` (plus `extra` files) and pushes it; returns the commit.
    fn push(&self, message: &str, extra: &[(&str, &str)]) -> String {
        self.push_to("main", message, extra)
    }

    fn push_to(&self, branch: &str, message: &str, extra: &[(&str, &str)]) -> String {
        let dockerfile = format!("FROM {}\nENV TESTAPP_MESSAGE={message}\n", testapp_image());
        self.push_files(branch, &[&[("Dockerfile", dockerfile.as_str())], extra].concat(), message)
    }

    fn push_files(&self, branch: &str, files: &[(&str, &str)], subject: &str) -> String {
        for (path, text) in files {
            let path = self.work.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        git(self.work.path(), &["checkout", "-q", "-B", branch]);
        git(self.work.path(), &["add", "-A"]);
        git(self.work.path(), &["commit", "-q", "--allow-empty", "-m", subject]);
        git(self.work.path(), &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")]);
        git(self.work.path(), &["rev-parse", "HEAD"])
    }
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Polls until the service answers with `message`.
fn wait_for_message(server: &Server, service: &str, message: &str) {
    poll(&format!("{service} to answer {message}"), DEPLOYED, || {
        (message_of(&server.get(service, "/").body) == message).then_some(())
    });
}

fn operations(server: &Server, service: &str) -> Vec<Value> {
    let out = server.ferry_ok(&["operations", service, "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["operations"].as_array().unwrap().clone()
}

/// The service's push webhook: its path on the hooks host and its secret.
fn webhook(server: &Server, service: &str) -> (String, String) {
    let hook: Value =
        serde_json::from_str(&server.ferry_ok(&["service", "webhook", service, "-o", "json"])).unwrap();
    let url = hook["url"].as_str().unwrap();
    let path = url.split_once("/git/").map(|(_, id)| format!("/git/{id}")).unwrap();
    assert!(url.starts_with("http://ferry.localhost:"), "{url}");
    (path, hook["secret"].as_str().unwrap().to_owned())
}

/// Sends a webhook to the hooks host through the router, as a git host would.
fn deliver(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http(server.http, "POST", "ferry.localhost", path, &all, body)
}

fn commit_json(id: &str, subject: &str) -> Value {
    json!({
        "id": id,
        "message": format!("{subject}\n\nMore words."),
        "title": subject,
        "timestamp": "2026-12-05T10:00:00Z",
        "author": { "name": "Ada Lovelace", "email": "ada@ferry.invalid", "username": "ada" },
        "added": [], "removed": [], "modified": ["Dockerfile"],
    })
}

fn github_push(branch: &str, before: &str, after: &str, subject: &str) -> Vec<u8> {
    let commit = commit_json(after, subject);
    let body = json!({
        "ref": format!("refs/heads/{branch}"), "before": before, "after": after,
        "created": false, "deleted": false, "forced": false,
        "commits": [commit], "head_commit": commit,
        "repository": { "full_name": "ada/app" }, "pusher": { "name": "ada" },
    });
    serde_json::to_vec(&body).unwrap()
}

fn gitlab_push(before: &str, after: &str, subject: &str) -> Vec<u8> {
    let body = json!({
        "object_kind": "push", "event_name": "push", "ref": "refs/heads/main",
        "before": before, "after": after, "checkout_sha": after, "user_name": "Ada Lovelace",
        "total_commits_count": 1, "commits": [commit_json(after, subject)],
        "project": { "path_with_namespace": "ada/app" },
    });
    serde_json::to_vec(&body).unwrap()
}

fn gitea_push(before: &str, after: &str, subject: &str) -> Vec<u8> {
    let commit = commit_json(after, subject);
    let body = json!({
        "ref": "refs/heads/main", "before": before, "after": after, "total_commits": 1,
        "commits": [commit], "head_commit": commit, "repository": { "full_name": "ada/app" },
    });
    serde_json::to_vec(&body).unwrap()
}

#[test]
fn a_git_push_is_deployed_by_polling() {
    let server = Server::start_with(&["--poll-interval", "1"]);
    let up = Upstream::new("v1");
    server.ferry_ok(&["service", "create", "polled", "--repo", &up.url(), "--wait"]);
    wait_for_message(&server, "polled", "v1");
    assert_eq!(server.describe("polled")["auto_deploy"], true, "on by default for a repository");

    let pushed = up.push("v2", &[]);
    wait_for_message(&server, "polled", "v2");
    let ops = operations(&server, "polled");
    let push = &ops[0];
    assert_eq!(push["type"], "START_DEPLOYMENT");
    assert_eq!(push["triggered_by"]["kind"], "GIT_PUSH", "{push}");
    assert_eq!(push["triggered_by"]["commit"], pushed.as_str());
    assert_eq!(push["triggered_by"]["via"], "poll");
    let described = server.describe("polled");
    let watch = &described["watch"];
    assert_eq!(watch["watching"], "branch main");
    assert_eq!(watch["seen"], pushed.as_str());
    assert!(watch["checked_at"].is_string(), "{watch}");
    let table = server.ferry_ok(&["operations", "polled"]);
    assert!(table.contains(&format!("push {} (poll)", &pushed[..12])), "{table}");
    // Nothing new: no more deployments.
    let before = operations(&server, "polled").len();
    let checked = watch["checked_at"].as_str().unwrap().to_owned();
    poll("another look at the branch", Duration::from_secs(30), || {
        (server.describe("polled")["watch"]["checked_at"].as_str() != Some(&checked)).then_some(())
    });
    assert_eq!(operations(&server, "polled").len(), before, "an unchanged branch deploys nothing");
}

#[test]
fn push_webhooks_signed_as_github_gitlab_and_gitea_deploy_at_once_and_forged_ones_are_refused() {
    // No polling: only the webhooks can deploy.
    let server = Server::start_with(&["--poll-interval", "0"]);
    let up = Upstream::new("v1");
    server.ferry_ok(&["service", "create", "hooked", "--repo", &up.url(), "--wait"]);
    wait_for_message(&server, "hooked", "v1");
    let (path, secret) = webhook(&server, "hooked");
    let human = server.ferry_ok(&["service", "webhook", "hooked"]);
    assert!(human.contains(&secret) && human.contains("GitLab"), "{human}");

    // Forged, unsigned, signed with another secret, or for no such hook: 401, all alike, nothing deployed.
    let head = git(up.work.path(), &["rev-parse", "HEAD"]);
    let fake = "f".repeat(40);
    let body = github_push("main", &head, &fake, "forged");
    let wrong = ferry_hooks::sign_github(b"not the secret", &body);
    let right = ferry_hooks::sign_github(secret.as_bytes(), &body);
    let refusals = [
        deliver(&server, &path, &[("x-github-event", "push"), ("x-hub-signature-256", &wrong)], &body),
        deliver(&server, &path, &[("x-github-event", "push")], &body),
        deliver(&server, &path, &[("x-github-event", "push"), ("x-hub-signature-256", "sha256=00")], &body),
        deliver(&server, &path, &[("x-gitlab-event", "Push Hook"), ("x-gitlab-token", "guess")], &body),
        deliver(
            &server,
            "/git/0123456789abcdef0123456789abcdef",
            &[("x-github-event", "push"), ("x-hub-signature-256", &right)],
            &body,
        ),
    ];
    for r in &refusals {
        assert_eq!(r.status, 401, "{r:?}");
        assert_eq!(r.body, refusals[0].body, "a refusal never tells more than another");
    }
    assert_eq!(operations(&server, "hooked").len(), 1, "nothing unauthenticated starts a build");
    assert!(server.log_text().contains("webhook refused"), "a refusal is logged");

    // GitHub: signed with the secret.
    let c2 = up.push("v2", &[]);
    let body = github_push("main", &head, &c2, "Say v2");
    let sig = ferry_hooks::sign_github(secret.as_bytes(), &body);
    let r = deliver(&server, &path, &[("x-github-event", "push"), ("x-hub-signature-256", &sig)], &body);
    assert_eq!(r.status, 202, "{r:?}");
    assert!(r.body.contains("\"deploying\""), "{r:?}");
    wait_for_message(&server, "hooked", "v2");
    let op = &operations(&server, "hooked")[0];
    assert_eq!(op["triggered_by"]["commit"], c2.as_str());
    assert_eq!(op["triggered_by"]["via"], "webhook");
    assert_eq!(op["triggered_by"]["author"], "Ada Lovelace");
    assert_eq!(op["triggered_by"]["subject"], "Say v2");
    // The same delivery again (a replay) changes nothing: that commit already runs.
    let r = deliver(&server, &path, &[("x-github-event", "push"), ("x-hub-signature-256", &sig)], &body);
    assert_eq!((r.status, r.body.contains("\"current\"")), (200, true), "{r:?}");

    // GitLab: the secret as its token.
    let c3 = up.push("v3", &[]);
    let body = gitlab_push(&c2, &c3, "Say v3");
    let r = deliver(&server, &path, &[("x-gitlab-event", "Push Hook"), ("x-gitlab-token", &secret)], &body);
    assert_eq!(r.status, 202, "{r:?}");
    wait_for_message(&server, "hooked", "v3");

    // Gitea: a bare hex signature.
    let c4 = up.push("v4", &[]);
    let body = gitea_push(&c3, &c4, "Say v4");
    let sig = ferry_hooks::hmac_hex(secret.as_bytes(), &body);
    let r = deliver(&server, &path, &[("x-gitea-event", "push"), ("x-gitea-signature", &sig)], &body);
    assert_eq!(r.status, 202, "{r:?}");
    wait_for_message(&server, "hooked", "v4");

    // A push to another branch is recorded and ignored, with the reason.
    let other = up.push_to("feature", "nope", &[]);
    let body = github_push("feature", &c4, &other, "Elsewhere");
    let sig = ferry_hooks::sign_github(secret.as_bytes(), &body);
    let r = deliver(&server, &path, &[("x-github-event", "push"), ("x-hub-signature-256", &sig)], &body);
    assert_eq!(r.status, 202, "{r:?}");
    assert!(r.body.contains("\"ignored\"") && r.body.contains("branch feature"), "{r:?}");
    let reason = server.describe("hooked")["watch"]["ignored_reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("branch feature") && reason.contains("branch main"), "{reason}");
    assert_eq!(message_of(&server.get("hooked", "/").body), "v4");

    // A rotated webhook: the old URL and secret stop working at once.
    let rotated: Value =
        serde_json::from_str(&server.ferry_ok(&["service", "webhook", "hooked", "--rotate", "-o", "json"]))
            .unwrap();
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    let r = deliver(&server, &path, &[("x-gitea-event", "push"), ("x-gitea-signature", &sig)], &body);
    assert_eq!(r.status, 401, "{r:?}");
}

#[test]
fn three_pushes_during_one_deployment_end_with_the_newest_live_and_a_failed_push_rolls_back() {
    let server = Server::start_with(&["--poll-interval", "0"]);
    let up = Upstream::new("v1");
    server.ferry_ok(&["service", "create", "busy", "--repo", &up.url(), "--wait"]);
    let (path, secret) = webhook(&server, "busy");
    let send = |before: &str, after: &str, subject: &str| {
        let body = github_push("main", before, after, subject);
        let sig = ferry_hooks::sign_github(secret.as_bytes(), &body);
        deliver(&server, &path, &[("x-github-event", "push"), ("x-hub-signature-256", &sig)], &body)
    };
    let head = git(up.work.path(), &["rev-parse", "HEAD"]);

    // The first push deploys an app that takes three seconds to start; two more arrive meanwhile.
    let slow = format!("FROM {}\nENV TESTAPP_MESSAGE=slow TESTAPP_START_DELAY_MS=3000\n", testapp_image());
    let c1 = up.push_files("main", &[("Dockerfile", &slow)], "slow start");
    let r = send(&head, &c1, "slow start");
    assert!(r.body.contains("\"deploying\""), "{r:?}");
    let c2 = up.push("second", &[]);
    let r = send(&c1, &c2, "second");
    assert!(r.body.contains("\"queued\""), "a push during a deployment waits for it: {r:?}");
    let c3 = up.push("third", &[]);
    let r = send(&c2, &c3, "third");
    assert!(r.body.contains("\"queued\""), "{r:?}");

    wait_for_message(&server, "busy", "third");
    let commits: Vec<String> = operations(&server, "busy")
        .iter()
        .filter_map(|o| o["triggered_by"]["commit"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(commits, vec![c3.clone(), c1.clone()], "the newest of the queued pushes deploys, once");

    // A push that cannot build fails and rolls back; the next push still deploys.
    let broken = up.push_files("main", &[("Dockerfile", "FROM scratch\nRUN false\n")], "broken");
    assert!(send(&c3, &broken, "broken").body.contains("\"deploying\""));
    poll("the broken push to fail", DEPLOYED, || {
        let op = operations(&server, "busy")[0].clone();
        (op["status"] != "IN_PROGRESS" && op["status"] != "PENDING").then_some(op)
    });
    assert_eq!(message_of(&server.get("busy", "/").body), "third", "the service kept serving");
    assert_eq!(server.describe("busy")["status"], "RUNNING");
    let fixed = up.push("fixed", &[]);
    assert!(send(&broken, &fixed, "fixed").body.contains("\"deploying\""));
    wait_for_message(&server, "busy", "fixed");
}

/// Builds the test app saying `message` as `image` and pushes it, the way a CI system pushes a release.
fn push_image(image: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    // The label keeps this image apart from another test's with the same message: no shared build cache,
    // so one test's `docker rmi` never takes the image another is about to tag or push.
    let dockerfile =
        format!("FROM {}\nENV TESTAPP_MESSAGE={message}\nLABEL ferry.test.image={image}\n", testapp_image());
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for args in [vec!["build", "-q", "-t", image, dir.path().to_str().unwrap()], vec!["push", "-q", image]] {
        let out = Command::new("docker").args(&args).env("DOCKER_BUILDKIT", "0").output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The tag leaves the engine, as on a CI machine: what ferry runs of it is what ferry pulled. (The engine
    // refuses while ferry already runs the image, when a notification beat this line: that is fine too.)
    let _ = Command::new("docker").args(["rmi", image]).output();
}

/// A repository name no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[test]
fn a_docker_push_under_the_watched_tag_is_deployed_by_polling() {
    let server = Server::start_with(&["--poll-interval", "1"]);
    let image = format!("{}/{}:live", registry(), unique("ferry-autodeploy-poll"));
    push_image(&image, "one");
    server.ferry_ok(&["service", "create", "pulled", "--image", &image, "--auto-deploy", "--wait"]);
    wait_for_message(&server, "pulled", "one");

    push_image(&image, "two");
    wait_for_message(&server, "pulled", "two");
    let op = &operations(&server, "pulled")[0];
    assert_eq!(op["triggered_by"]["kind"], "IMAGE_PUSH", "{op}");
    assert_eq!(op["triggered_by"]["via"], "poll");
    let digest = op["triggered_by"]["image_digest"].as_str().unwrap().to_owned();
    let described = server.describe("pulled");
    assert_eq!(described["image_digest"], digest.as_str(), "exactly the digest pushed runs");
    assert_eq!(described["watch"]["watching"], "tag live");
}

#[test]
fn an_image_service_does_not_follow_its_tag_unless_asked() {
    let server = Server::start_with(&["--poll-interval", "1"]);
    let image = format!("{}/{}:live", registry(), unique("ferry-autodeploy-off"));
    push_image(&image, "one");
    server.ferry_ok(&["service", "create", "still", "--image", &image, "--wait"]);
    server.ferry_ok(&["service", "create", "follows", "--image", &image, "--auto-deploy", "--wait"]);
    assert_eq!(server.describe("still")["auto_deploy"], false, "off by default for an image");
    push_image(&image, "two");
    // Once the service that follows the tag has the new image, the poller has seen it: the other did not
    // deploy it.
    wait_for_message(&server, "follows", "two");
    assert_eq!(message_of(&server.get("still", "/").body), "one");
    assert_eq!(operations(&server, "still").len(), 1);
    // Switched on later, it deploys what the tag points at now.
    server.ferry_ok(&["service", "update", "still", "--auto-deploy", "--wait"]);
    assert_eq!(server.describe("still")["auto_deploy"], true);
    wait_for_message(&server, "still", "two");
}

/// A Docker Distribution registry of this test's own, configured to notify ferry's hooks host.
struct NotifyingRegistry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl NotifyingRegistry {
    fn start(port: u16, hooks_url: &str, token: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: {addr}\n\
             notifications:\n  endpoints:\n    - name: ferry\n      url: {hooks_url}\n      headers:\n        \
             Authorization: [\"Bearer {token}\"]\n      timeout: 10s\n      threshold: 5\n      backoff: 1s\n",
            root = dir.path().join("data").display()
        );
        let path = dir.path().join("config.yml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .expect("docker-registry (scripts/setup installs it)");
        poll("the test registry to answer", Duration::from_secs(20), || {
            (http(addr.parse().unwrap(), "GET", &addr, "/v2/", &[], b"").status == 200).then_some(())
        });
        Self { child, addr, _dir: dir }
    }
}

impl Drop for NotifyingRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_docker_push_is_deployed_through_the_registrys_notification() {
    // No polling, and the hooks host is the address the registry reaches ferry's router at.
    let server = Server::start_with(&["--poll-interval", "0", "--hooks-host", "127.0.0.1"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = format!("127.0.0.1:{port}");
    let hook: Value =
        serde_json::from_str(&server.ferry_ok(&["registry", "add", &host, "-o", "json"])).unwrap();
    let token = hook["token"].as_str().unwrap();
    assert_eq!(token.len(), 64, "{hook}");
    let url = hook["url"].as_str().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:{}/registry", server.http.port()));
    let listed = server.ferry_ok(&["registry", "list"]);
    assert!(listed.contains(&host) && !listed.contains(token), "the token is shown once: {listed}");
    let reg = NotifyingRegistry::start(port, url, token);

    let image = format!("{}/notified:live", reg.addr);
    push_image(&image, "one");
    server.ferry_ok(&["service", "create", "notified", "--image", &image, "--auto-deploy", "--wait"]);
    wait_for_message(&server, "notified", "one");
    push_image(&image, "two");
    let deployed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for_message(&server, "notified", "two")
    }));
    if deployed.is_err() {
        panic!(
            "the notified push was not deployed\noperations: {:#?}\nserver log:\n{}\nregistry log:\n{}",
            operations(&server, "notified"),
            server.log_text(),
            std::fs::read_to_string(reg._dir.path().join("registry.log")).unwrap_or_default()
        );
    }
    let op = &operations(&server, "notified")[0];
    assert_eq!(op["triggered_by"]["kind"], "IMAGE_PUSH", "{op}");
    assert_eq!(op["triggered_by"]["via"], "notification");
    assert_eq!(server.describe("notified")["image_digest"], op["triggered_by"]["image_digest"]);

    // A notification with another token is refused.
    let r = http(server.http, "POST", "127.0.0.1", "/registry", &[("authorization", "Bearer nope")], b"{}");
    assert_eq!(r.status, 401, "{r:?}");
}
