//! The hooks host through its router: git webhooks and registry notifications, set up through `/v1`, with
//! an in-memory store, the real command layer and a recording control plane. Operations are ended by
//! hand, as the controller would end them.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_command::{Commands, Dispatch};
use ferry_model::{
    Operation, OperationStatus, Revision, ServiceId, ServiceStatus, SourceWatch, Timestamp, Trigger, Via,
};
use ferry_store::{Store, StoreError};
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AppLogLine, LogSource, MAX_HOOK_BODY, hash_token, hooks_router, router};

#[derive(Default)]
struct Recorder(Mutex<Vec<ServiceId>>);

impl Dispatch for Recorder {
    fn queued(&self, service: &ServiceId) {
        self.0.lock().unwrap().push(service.clone());
    }
}

impl LogSource for Recorder {
    fn logs(&self, _: &ServiceId, _: usize, _: bool) -> BoxStream<'static, AppLogLine> {
        stream::empty().boxed()
    }
}

const TOKEN: &str = "ferry_test_token";
type Headers = Vec<(&'static str, String)>;
const UNAUTHENTICATED: &str = r#"{"message":"webhook not authenticated"}"#;

struct Harness {
    api: axum::Router,
    hooks: axum::Router,
    store: Store,
    recorder: Arc<Recorder>,
}

/// What the store holds of one service: its operations and revisions newest first, and its watch.
struct State {
    operations: Vec<Operation>,
    revisions: Vec<Revision>,
    watch: SourceWatch,
}

impl Harness {
    async fn new() -> Self {
        let store = Store::in_memory().unwrap();
        store.call(|db| db.insert_token("t1", "admin", &hash_token(TOKEN), Timestamp(0))).await.unwrap();
        let recorder = Arc::new(Recorder::default());
        let config = crate::test_config();
        let commands = Commands::new(store.clone(), recorder.clone());
        Self {
            api: router(store.clone(), commands.clone(), recorder.clone(), config),
            hooks: hooks_router(store.clone(), commands),
            store,
            recorder,
        }
    }

    async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn v1(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        let req = req.header("authorization", format!("Bearer {TOKEN}"));
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let (status, text) = Self::send(&self.api, req.body(body).unwrap()).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A POST to the hooks host: the status and the body as sent (to compare 401s byte for byte).
    async fn hook(
        &self,
        uri: &str,
        headers: &[(&str, String)],
        body: impl Into<Body>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder().method("POST").uri(uri);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        Self::send(&self.hooks, req.body(body.into()).unwrap()).await
    }

    /// A hook that must be answered `want`'s status and result; the whole answer.
    async fn answers(
        &self,
        uri: &str,
        hs: &[(&str, String)],
        body: &[u8],
        want: (StatusCode, &str),
    ) -> Value {
        let (status, text) = self.hook(uri, hs, body.to_vec()).await;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert_eq!((status, answer["result"].as_str()), (want.0, Some(want.1)), "{answer}");
        answer
    }

    /// A GitHub-signed hook that must be answered `want`'s status and result; the whole answer.
    async fn github(
        &self,
        path: &str,
        secret: &str,
        event: &str,
        body: &[u8],
        want: (StatusCode, &str),
    ) -> Value {
        self.answers(path, &github(event, secret, body), body, want).await
    }

    /// Creates a service through `/v1` and lets its create operation end: it is RUNNING.
    async fn create(&self, req: Value) -> ServiceId {
        let (status, body) = self.v1("POST", "/v1/services", Some(req)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = ServiceId::parse(body["service"]["id"].as_str().unwrap()).unwrap();
        self.settle(&id).await;
        id
    }

    /// Ends the service's operations successfully.
    async fn settle(&self, id: &ServiceId) {
        let id = id.clone();
        self.store
            .call(move |db| {
                let now = Timestamp::now();
                for mut op in db.unfinished_operations(&id)? {
                    (op.status, op.ended_at, op.updated_at) = (OperationStatus::Succeeded, Some(now), now);
                    db.update_operation(&op)?;
                }
                db.set_service_status(&id, ServiceStatus::Running, now)
            })
            .await
            .unwrap();
    }

    async fn state(&self, id: &ServiceId) -> State {
        let id = id.clone();
        self.store
            .call(move |db| {
                Ok::<_, StoreError>(State {
                    operations: db.operations(&id, 100)?,
                    revisions: db.revisions(&id)?,
                    watch: db.watch(&id)?,
                })
            })
            .await
            .unwrap()
    }

    /// The service's webhook: its path on the hooks host and its secret.
    async fn webhook(&self, name: &str, body: Option<Value>) -> (String, String) {
        let (status, view) = self.v1("POST", &format!("/v1/services/{name}/webhook"), body).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        let url = view["url"].as_str().unwrap();
        let path = url.strip_prefix("http://ferry.localhost:8080").unwrap_or_else(|| panic!("{url}"));
        (path.to_owned(), view["secret"].as_str().unwrap().to_owned())
    }
}

fn shop(source_directory: Option<&str>) -> Value {
    let mut code = json!({"repository_url": "https://git.example.com/acme/shop.git", "branch": "main"});
    if let Some(dir) = source_directory {
        code["source_directory"] = json!(dir);
    }
    json!({"name": "shop", "source": {"code_repository": code}})
}

fn sha(c: char) -> String {
    c.to_string().repeat(40)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A GitHub (and Gitea) push of one commit to `git_ref`, changing `paths`.
fn github_push(git_ref: &str, after: &str, paths: &[&str]) -> Vec<u8> {
    let commit = json!({"id": after, "message": "web: render prices\n\nCloses #12",
        "author": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "added": [], "removed": [], "modified": paths});
    let body = json!({"ref": git_ref, "before": sha('6'), "after": after, "created": false, "deleted": false,
        "forced": false, "commits": [commit.clone()], "total_commits": 1, "head_commit": commit});
    body.to_string().into_bytes()
}

fn gitlab_push(after: &str) -> Vec<u8> {
    let body = json!({"object_kind": "push", "ref": "refs/heads/main", "before": sha('6'), "after": after,
        "checkout_sha": after, "total_commits_count": 1, "commits": [{"id": after,
        "message": "fixed readme\n", "title": "fixed readme", "author": {"name": "Jordi Mallach"},
        "added": [], "modified": ["README.md"], "removed": []}]});
    body.to_string().into_bytes()
}

fn github(event: &str, secret: &str, body: &[u8]) -> Headers {
    vec![
        ("x-github-event", event.to_owned()),
        ("x-hub-signature-256", ferry_hooks::sign_github(secret.as_bytes(), body)),
        ("content-type", "application/json".to_owned()),
    ]
}

/// A push's trigger: its commit, author and subject.
fn git_push_trigger(c: &str, a: &str, s: &str) -> Trigger {
    Trigger::GitPush { commit: c.into(), author: Some(a.into()), subject: Some(s.into()), via: Via::Webhook }
}

#[tokio::test]
async fn a_webhook_is_made_once_shown_again_and_rotated() {
    let h = Harness::new().await;
    h.create(shop(None)).await;
    let (path, secret) = h.webhook("shop", None).await;
    let hook_id = path.strip_prefix("/git/").unwrap_or_else(|| panic!("{path}"));
    assert!(is_hex(hook_id, 32), "{hook_id}");
    assert!(is_hex(&secret, 64), "{secret}");
    let (_, view) = h.v1("POST", "/v1/services/shop/webhook", None).await;
    assert_eq!(view["content_type"], "application/json");
    assert_eq!(h.webhook("SHOP", None).await, (path.clone(), secret.clone()), "the same, by any case");
    assert_eq!(h.webhook("shop", Some(json!({"rotate": false}))).await, (path.clone(), secret.clone()));

    let (new_path, new_secret) = h.webhook("shop", Some(json!({"rotate": true}))).await;
    assert_ne!(new_path, path);
    assert_ne!(new_secret, secret);
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let (status, body) = h.hook(&path, &github("ping", &secret, ping), ping.to_vec()).await;
    assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, UNAUTHENTICATED), "the old hook is gone");
    let (status, body) = h.hook(&new_path, &github("ping", &secret, ping), ping.to_vec()).await;
    assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, UNAUTHENTICATED), "and the old secret");
    h.github(&new_path, &new_secret, "ping", ping, (StatusCode::OK, "pong")).await;

    let (status, _) = h.v1("POST", "/v1/services/nope/webhook", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signed_pushes_from_github_gitlab_and_gitea_deploy_their_commit() {
    let h = Harness::new().await;
    let id = h.create(shop(None)).await;
    let (path, secret) = h.webhook("shop", None).await;

    let body = github_push("refs/heads/main", &sha('a'), &["app.py"]);
    let answer = h.github(&path, &secret, "push", &body, (StatusCode::ACCEPTED, "deploying")).await;
    let s = h.state(&id).await;
    assert_eq!(answer["operation"], s.operations[0].id.to_string());
    assert_eq!(s.operations[0].trigger, git_push_trigger(&sha('a'), "Ada Lovelace", "web: render prices"));
    assert_eq!(s.revisions[0].source_commit, Some(sha('a')));
    // Another push while it deploys waits for it.
    let body = github_push("refs/heads/main", &sha('b'), &["app.py"]);
    let answer = h.github(&path, &secret, "push", &body, (StatusCode::ACCEPTED, "queued")).await;
    assert!(answer["reason"].as_str().unwrap().contains(&s.operations[0].id.to_string()), "{answer}");
    h.settle(&id).await;

    let body = gitlab_push(&sha('c'));
    let headers = [("x-gitlab-event", "Push Hook".to_owned()), ("x-gitlab-token", secret.clone())];
    h.answers(&path, &headers, &body, (StatusCode::ACCEPTED, "deploying")).await;
    let s = h.state(&id).await;
    assert_eq!(s.operations[0].trigger, git_push_trigger(&sha('c'), "Jordi Mallach", "fixed readme"));
    h.settle(&id).await;

    // Gitea signs with a bare hex HMAC (and sends GitHub's headers too, which are not what counts).
    let body = github_push("refs/heads/main", &sha('d'), &["app.py"]);
    let headers = [
        ("x-gitea-event", "push".to_owned()),
        ("x-gitea-signature", ferry_hooks::hmac_hex(secret.as_bytes(), &body)),
        ("x-github-event", "push".to_owned()),
    ];
    h.answers(&path, &headers, &body, (StatusCode::ACCEPTED, "deploying")).await;
    let s = h.state(&id).await;
    assert_eq!(s.operations[0].trigger, git_push_trigger(&sha('d'), "Ada Lovelace", "web: render prices"));
    h.answers(&path, &headers, &body, (StatusCode::OK, "current")).await;
    let commits: Vec<_> = s.revisions.iter().filter_map(|r| r.source_commit.clone()).collect();
    assert_eq!(commits, [sha('d'), sha('c'), sha('a')], "b was overtaken by c before it could deploy");
    assert_eq!(h.recorder.0.lock().unwrap().len(), 4, "the create and three pushes");
}

#[tokio::test]
async fn unauthenticated_webhooks_get_one_bare_401_and_change_nothing() {
    let h = Harness::new().await;
    let id = h.create(shop(None)).await;
    let (path, secret) = h.webhook("shop", None).await;
    let body = github_push("refs/heads/main", &sha('a'), &["app.py"]);
    let signed = github("push", &secret, &body);
    let with = |name: &'static str, value: String| {
        let mut headers: Vec<_> = signed.iter().filter(|(n, _)| *n != name).cloned().collect();
        headers.push((name, value));
        headers
    };
    let other_secret = ferry_hooks::sign_github(ferry_hooks::generate_secret().as_bytes(), &body);
    let unknown = format!("/git/{}", "0".repeat(32));
    let (sig, gitlab) = (signed[1].1.clone(), ("x-gitlab-event", "Push Hook".to_owned()));
    let cases: Vec<(&str, &str, Headers)> = vec![
        ("forged", &path, with("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))),
        ("missing", &path, signed.iter().filter(|(n, _)| *n != "x-hub-signature-256").cloned().collect()),
        ("another secret", &path, with("x-hub-signature-256", other_secret)),
        ("not hex", &path, with("x-hub-signature-256", "sha256=secret".to_owned())),
        ("the secret itself", &path, with("x-hub-signature-256", secret.clone())),
        ("no event header", &path, vec![("x-hub-signature-256", sig.clone())]),
        ("gitlab, wrong token", &path, vec![gitlab.clone(), ("x-gitlab-token", "x".into())]),
        ("gitlab, no token", &path, vec![gitlab]),
        ("gitea, prefixed", &path, vec![("x-gitea-event", "push".into()), ("x-gitea-signature", sig)]),
        ("unknown hook id", &unknown, signed.clone()),
    ];
    for (what, uri, headers) in cases {
        let (status, answer) = h.hook(uri, &headers, body.clone()).await;
        assert_eq!((status, answer.as_str()), (StatusCode::UNAUTHORIZED, UNAUTHENTICATED), "{what}");
    }
    let s = h.state(&id).await;
    assert_eq!(
        (s.operations.len(), s.revisions.len(), h.recorder.0.lock().unwrap().len()),
        (1, 1, 1),
        "nothing was queued"
    );
    assert_eq!(s.watch, SourceWatch::new(id), "nothing was recorded");
    // The real thing still works.
    let (status, _) = h.hook(&path, &signed, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn pushes_that_do_not_concern_the_service_are_ignored_with_the_reason() {
    let h = Harness::new().await;
    let id = h.create(shop(Some("services/web"))).await;
    let (path, secret) = h.webhook("shop", None).await;
    let mut deleted: Value = serde_json::from_slice(&github_push("refs/heads/main", &sha('0'), &[])).unwrap();
    deleted["deleted"] = json!(true);
    let web = &["services/web/app.py"][..];
    let cases = [
        (github_push("refs/heads/dev", &sha('a'), web), vec!["branch dev", "branch main"]),
        (
            github_push("refs/heads/main", &sha('b'), &["services/api/x.py", "README.md"]),
            vec!["services/web"],
        ),
        (github_push("refs/tags/v1.4.0", &sha('c'), web), vec!["refs/tags/v1.4.0", "main"]),
        (deleted.to_string().into_bytes(), vec!["deleted"]),
    ];
    for (body, words) in cases {
        let answer = h.github(&path, &secret, "push", &body, (StatusCode::ACCEPTED, "ignored")).await;
        let reason = answer["reason"].as_str().unwrap();
        assert!(words.iter().all(|w| reason.contains(w)), "{words:?} in {reason}");
        let ignored = h.state(&id).await.watch.ignored.unwrap();
        assert_eq!(ignored.reason, reason, "the watch says why");
    }
    // Other events are answered and not recorded.
    let answer = h.github(&path, &secret, "issues", b"{}", (StatusCode::ACCEPTED, "ignored")).await;
    assert!(answer["reason"].as_str().unwrap().contains("issues"), "{answer}");
    // A signed body that is not a push is the sender's to fix.
    h.github(&path, &secret, "push", b"[1]", (StatusCode::BAD_REQUEST, "ignored")).await;
    let s = h.state(&id).await;
    assert_eq!((s.operations.len(), s.watch.seen), (1, None), "none deployed or seen");

    let body = github_push("refs/heads/main", &sha('e'), &["README.md", "services/web/app.py"]);
    h.github(&path, &secret, "push", &body, (StatusCode::ACCEPTED, "deploying")).await;

    // An image service has no git webhook: it follows its tag.
    h.create(json!({"name": "web", "source": {"image": {"identifier": "127.0.0.1:5000/web:v1"}}})).await;
    let (status, error) = h.v1("POST", "/v1/services/web/webhook", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("ferry registry add"), "{error}");
}

#[tokio::test]
async fn a_ping_is_answered_and_bodies_over_the_limit_are_refused() {
    let h = Harness::new().await;
    let id = h.create(shop(None)).await;
    let (path, secret) = h.webhook("shop", None).await;
    let ping = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let answer = h.github(&path, &secret, "ping", ping, (StatusCode::OK, "pong")).await;
    assert_eq!(answer, json!({"result": "pong"}));

    let at_limit = vec![b' '; MAX_HOOK_BODY];
    let (status, _) = h.hook(&path, &github("push", "wrong", &at_limit), at_limit).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a body at the limit is read");
    let over = vec![b' '; MAX_HOOK_BODY + 1];
    let (status, _) = h.hook(&path, &github("push", &secret, &over), over.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = h.hook("/registry", &[("authorization", "Bearer x".into())], over).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = h.hook("/elsewhere", &[], "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h.state(&id).await.operations.len(), 1);
}

fn image(name: &str, identifier: &str, auto_deploy: bool) -> Value {
    json!({"name": name, "source": {"image": {"identifier": identifier}}, "auto_deploy": auto_deploy})
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A registry's envelope for `docker push 127.0.0.1:5000/<repository>:<tag>`: a layer, then the manifest.
fn envelope(repository: &str, tag: &str, digest: &str) -> Vec<u8> {
    let request = json!({"host": "127.0.0.1:5000", "method": "PUT"});
    let layer = json!({"mediaType": "application/octet-stream", "digest": self::digest('f'),
        "repository": repository});
    let manifest = json!({"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": digest, "repository": repository, "tag": tag});
    let body = json!({"events": [
        {"id": "e0", "action": "push", "target": layer, "request": request},
        {"id": "e1", "action": "push", "target": manifest, "request": request},
    ]});
    body.to_string().into_bytes()
}

fn bearer(token: &str) -> Headers {
    vec![("authorization", format!("Bearer {token}"))]
}

#[tokio::test]
async fn a_registry_notification_deploys_the_digest_for_the_services_that_follow_the_tag() {
    let h = Harness::new().await;
    let (status, view) = h.v1("POST", "/v1/registries", Some(json!({"host": "127.0.0.1:5000/"}))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["host"], "127.0.0.1:5000", "as image references name it");
    assert_eq!(view["url"], "http://ferry.localhost:8080/registry");
    let token = view["token"].as_str().unwrap().to_owned();
    assert!(is_hex(&token, 64), "{token}");
    let (_, list) = h.v1("GET", "/v1/registries", None).await;
    assert_eq!(list["registries"][0]["host"], "127.0.0.1:5000");
    assert!(list["registries"][0].get("token").is_none(), "the token is shown once: {list}");

    let web = h.create(image("web", "127.0.0.1:5000/acme/web:v1", true)).await;
    let other_tag = h.create(image("v2", "127.0.0.1:5000/acme/web:v2", true)).await;
    let manual = h.create(image("manual", "127.0.0.1:5000/acme/web:v1", false)).await;
    let elsewhere = h.create(image("elsewhere", "registry.example.com/acme/web:v1", true)).await;
    let body = envelope("acme/web", "v1", &digest('1'));
    let answer = h.answers("/registry", &bearer(&token), &body, (StatusCode::OK, "deploying")).await;
    assert_eq!(answer, json!({"result": "deploying", "reason": "push events: 1, deployments: 1"}));

    let s = h.state(&web).await;
    assert_eq!(s.operations.len(), 2);
    assert_eq!(s.operations[0].trigger, Trigger::ImagePush { digest: digest('1'), via: Via::Notification });
    assert_eq!(s.revisions[0].image_digest, Some(digest('1')));
    let s = h.state(&manual).await;
    assert_eq!(s.operations.len(), 1, "automatic deployments are off");
    assert_eq!(s.watch.seen.map(|x| x.version.to_string()), Some(digest('1')), "but the push is recorded");
    for id in [&other_tag, &elsewhere] {
        let s = h.state(id).await;
        assert_eq!((s.operations.len(), s.watch.seen), (1, None), "another tag or registry");
    }
    assert_eq!(h.recorder.0.lock().unwrap().len(), 5, "four creates and one push");

    // Redelivered, it changes nothing.
    h.answers("/registry", &bearer(&token), &body, (StatusCode::OK, "recorded")).await;
    assert_eq!(h.state(&web).await.operations.len(), 2);
}

#[tokio::test]
async fn registry_notifications_need_the_token_and_the_registry_can_be_removed() {
    let h = Harness::new().await;
    let (_, view) = h.v1("POST", "/v1/registries", Some(json!({"host": "127.0.0.1:5000"}))).await;
    let token = view["token"].as_str().unwrap().to_owned();
    let web = h.create(image("web", "127.0.0.1:5000/acme/web:v1", true)).await;
    let body = envelope("acme/web", "v1", &digest('1'));
    let refused = [
        vec![],
        bearer("wrong"),
        bearer(&token.to_uppercase()),
        vec![("authorization", format!("Basic {token}"))],
        vec![("authorization", token.clone())],
    ];
    for headers in refused {
        let (status, answer) = h.hook("/registry", &headers, body.clone()).await;
        assert_eq!((status, answer.as_str()), (StatusCode::UNAUTHORIZED, UNAUTHENTICATED), "{headers:?}");
    }
    assert_eq!(h.state(&web).await.watch, SourceWatch::new(web.clone()), "nothing recorded");

    // Not understood, and answered 2xx all the same: a registry would retry it for ever.
    for bad in [&b"not json"[..], br#"{"nope": 1}"#, &envelope("Acme/Web", "v1", &digest('1'))] {
        h.answers("/registry", &bearer(&token), bad, (StatusCode::OK, "ignored")).await;
    }
    h.answers("/registry", &bearer(&token), br#"{"events": []}"#, (StatusCode::OK, "recorded")).await;
    assert_eq!(h.state(&web).await.operations.len(), 1);

    let (status, _) = h.v1("DELETE", "/v1/registries/127.0.0.1%3A5000", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = h.hook("/registry", &bearer(&token), body).await;
    assert_eq!((status, answer.as_str()), (StatusCode::UNAUTHORIZED, UNAUTHENTICATED));
    let (status, _) = h.v1("DELETE", "/v1/registries/127.0.0.1%3A5000", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for host in ["", "not a host", "https://registry.example.com", "registry.example.com/acme"] {
        let (status, answer) = h.v1("POST", "/v1/registries", Some(json!({"host": host}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host:?}: {answer}");
        assert_eq!(answer["error"]["field"], "host", "{host:?}: {answer}");
    }
    let (_, list) = h.v1("GET", "/v1/registries", None).await;
    assert_eq!(list["registries"], json!([]));
}
