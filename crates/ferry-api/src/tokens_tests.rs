//! Tokens through the API's router: scopes, expiry, the failure limit, and `/v1/tokens` itself.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode};
use ferry_command::{Commands, Dispatch};
use ferry_model::{ServiceId, Timestamp};
use ferry_store::{NewToken, Store};
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AppLogLine, LogSource, hash_token, openapi_json, router};

struct Quiet;

impl Dispatch for Quiet {
    fn queued(&self, _service: &ServiceId) {}
}

impl LogSource for Quiet {
    fn logs(&self, _service: &ServiceId, _tail: usize, _follow: bool) -> BoxStream<'static, AppLogLine> {
        stream::empty().boxed()
    }
}

const ADMIN: &str = "ferry_admin";
const DEPLOY: &str = "ferry_deploy";
const READ: &str = "ferry_read";
const EXPIRED: &str = "ferry_expired";

struct Api {
    app: axum::Router,
    store: Store,
}

impl Api {
    async fn new() -> Self {
        let store = Store::in_memory().unwrap();
        store
            .call(|db| {
                db.insert_token("t-admin", "admin", &hash_token(ADMIN), Timestamp(0))?;
                for (name, secret, scope, expires_at) in [
                    ("deployer", DEPLOY, "deploy", None),
                    ("reader", READ, "read-only", None),
                    ("old", EXPIRED, "admin", Some(Timestamp(1_000))),
                ] {
                    let hash = hash_token(secret);
                    let created_at = Timestamp(0);
                    db.create_token(&NewToken {
                        id: name,
                        name,
                        hash: &hash,
                        scope,
                        created_at,
                        expires_at,
                    })?;
                }
                Ok::<_, ferry_store::StoreError>(())
            })
            .await
            .unwrap();
        let quiet = Arc::new(Quiet);
        let config = crate::test_config();
        let commands = Commands::new(store.clone(), quiet.clone());
        Self { app: router(store.clone(), commands, quiet, config), store }
    }

    /// A request from `peer` (as the server's connect info gives it), with `token` if any.
    async fn call(
        &self,
        method: &Method,
        uri: &str,
        body: Option<Value>,
        token: Option<&str>,
        peer: &str,
    ) -> (StatusCode, Option<String>, Value) {
        let req = crate::test_request(method, uri, token, body);
        let mut req = req;
        req.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, retry, value)
    }

    async fn as_(&self, token: &str, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, value) = self.call(&method, uri, body, Some(token), "127.0.0.1:40000").await;
        (status, value)
    }
}

/// The scope each route needs, written out independently of `auth::required_scope`: every route of the
/// OpenAPI document must be here, so a new route makes this test fail until its scope is decided.
fn expected(method: &str, path: &str) -> Option<&'static str> {
    let read = "read-only";
    Some(match (method, path) {
        (_, p) if p.starts_with("/v1/tokens") || p.starts_with("/v1/access-keys") => "admin",
        ("get", _) => read,
        ("post" | "patch" | "delete", "/v1/services" | "/v1/services/{name}") => "deploy",
        (
            "post",
            "/v1/services/{name}/deployments"
            | "/v1/services/{name}/rollback"
            | "/v1/services/{name}/pause"
            | "/v1/services/{name}/resume"
            | "/v1/services/{name}/webhook",
        ) => "deploy",
        ("post" | "delete", "/v1/services/{name}/domains" | "/v1/services/{name}/domains/{domain}") => {
            "deploy"
        }
        (
            "post" | "delete",
            "/v1/autoscaling" | "/v1/autoscaling/{name}" | "/v1/autoscaling/{name}/default",
        ) => "deploy",
        ("post" | "delete", "/v1/registries" | "/v1/registries/{host}") => "admin",
        (_, p) if p.starts_with("/v1/secrets") => "admin",
        ("put" | "post" | "delete", path) if path.starts_with("/v1/connections") => "admin",
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_answers_each_scope_as_the_matrix_says() {
    let api = Api::new().await;
    let doc = openapi_json();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let needed = expected(method, path)
                .unwrap_or_else(|| panic!("{method} {path}: decide its scope in auth.rs and add it here"));
            let uri = path
                .replace("{name}", "web")
                .replace("{id}", "op-1")
                .replace("{host}", "127.0.0.1:5000")
                .replace("{domain}", "www.example.com");
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            for (token, scope) in [(READ, "read-only"), (DEPLOY, "deploy"), (ADMIN, "admin")] {
                let allowed = match needed {
                    "read-only" => true,
                    "deploy" => scope != "read-only",
                    _ => scope == "admin",
                };
                let (status, value) = api.as_(token, m.clone(), &uri, body.clone()).await;
                if allowed {
                    assert!(
                        status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                        "{method} {path} as {scope}: {status} {value}"
                    );
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {scope}: {value}");
                    assert_eq!(value["error"]["code"], "Forbidden");
                    let message = value["error"]["message"].as_str().unwrap();
                    assert!(message.contains(&format!("needs scope {needed}")), "{message}");
                    assert!(message.contains(&format!("has scope {scope}")), "{message}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} calls checked");
}

#[tokio::test]
async fn an_expired_token_is_told_so_and_an_unknown_one_is_not_told_anything() {
    let api = Api::new().await;
    let (status, value) = api.as_(EXPIRED, Method::GET, "/v1/services", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let message = value["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"old\" expired at 1970-01-01T00:00:01.000Z"), "{message}");
    let (status, value) = api.as_("ferry_nope", Method::GET, "/v1/services", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(value["error"]["message"], "the token is not valid for this server");
}

#[tokio::test]
async fn failed_authentications_are_limited_per_address_and_then_not_even_checked() {
    let api = Api::new().await;
    let get = Method::GET;
    for i in 0..crate::MAX_FAILURES {
        let (status, retry, _) = api.call(&get, "/v1/services", None, Some("guess"), "10.0.0.1:5000").await;
        assert_eq!((status, retry), (StatusCode::UNAUTHORIZED, None), "failure {i}");
    }
    // The limit is reached: even the right token is not looked at from this address.
    let (status, retry, value) = api.call(&get, "/v1/services", None, Some(ADMIN), "10.0.0.1:5001").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{value}");
    assert_eq!(value["error"]["code"], "TooManyRequests");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    let (status, _, _) = api.call(&get, "/v1/services", None, None, "10.0.0.1:5002").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "no token: refused the same");
    // Other addresses, and successes, are not affected.
    let (status, _, _) = api.call(&get, "/v1/services", None, Some(ADMIN), "10.0.0.2:5000").await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..crate::MAX_FAILURES * 2 {
        let (status, _, _) = api.call(&get, "/v1/services", None, Some(READ), "10.0.0.3:5000").await;
        assert_eq!(status, StatusCode::OK);
    }
    // A refused scope is not a failed authentication.
    for _ in 0..crate::MAX_FAILURES * 2 {
        let (status, _, _) = api.call(&Method::POST, "/v1/tokens", None, Some(READ), "10.0.0.4:5000").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn admins_create_list_and_revoke_tokens_whose_secret_is_shown_once() {
    let api = Api::new().await;
    let (status, made) = api
        .as_(
            ADMIN,
            Method::POST,
            "/v1/tokens",
            Some(json!({"name": "ci", "scope": "deploy", "expires_in_seconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let secret = made["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ferry_") && secret.len() > 60, "{secret}");
    assert_eq!(made["scope"], "deploy");
    assert!(made["expires_at"].is_string() && made["expired"] == false);

    let (status, _) = api.as_(&secret, Method::POST, "/v1/services", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the new token may deploy (and the body is wrong)");
    let (status, _) = api.as_(&secret, Method::GET, "/v1/tokens", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, list) = api.as_(ADMIN, Method::GET, "/v1/tokens", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        list["tokens"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "ci", "deployer", "old", "reader"]);
    assert!(list["tokens"].as_array().unwrap().iter().all(|t| t.get("token").is_none()), "no secrets");
    assert_eq!(list["tokens"][3]["expired"], true);
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains(&hash_token(&secret)));

    for (body, field) in [
        (json!({"name": "ci", "scope": "deploy"}), "name"),
        (json!({"name": "bad name", "scope": "deploy"}), "name"),
        (json!({"name": "x", "scope": "root"}), "scope"),
        (json!({"name": "x", "scope": "admin", "expires_in_seconds": 0}), "expires_in_seconds"),
    ] {
        let (status, value) = api.as_(ADMIN, Method::POST, "/v1/tokens", Some(body.clone())).await;
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT, "{body}: {status}");
        assert_eq!(value["error"]["field"], field, "{body}: {value}");
    }

    let (status, _) = api.as_(ADMIN, Method::DELETE, "/v1/tokens/ci", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.as_(&secret, Method::GET, "/v1/services", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token stops working at once");
    let (status, _) = api.as_(ADMIN, Method::DELETE, "/v1/tokens/ci", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_tokens_use_is_noted_off_the_request_path() {
    let api = Api::new().await;
    let (status, _) = api.as_(READ, Method::GET, "/v1/services", None).await;
    assert_eq!(status, StatusCode::OK);
    let hash = hash_token(READ);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let hash = hash.clone();
        let used = api.store.call(move |db| db.token_by_hash(&hash)).await.unwrap().unwrap().last_used_at;
        if let Some(at) = used {
            assert!(at.0 > 0);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the token's use was never noted");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
