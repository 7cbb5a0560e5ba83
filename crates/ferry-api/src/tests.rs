//! The API through its router, with an in-memory store, the real command layer and a recording control
//! plane.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_command::{Commands, Dispatch};
use ferry_model::{ServiceId, Timestamp};
use ferry_store::Store;
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AppLogLine, LogSource, hash_token, router};

#[derive(Default)]
struct Recorder {
    queued: Mutex<Vec<ServiceId>>,
}

impl Dispatch for Recorder {
    fn queued(&self, service: &ServiceId) {
        self.queued.lock().unwrap().push(service.clone());
    }
}

impl LogSource for Recorder {
    fn logs(&self, _service: &ServiceId, tail: usize, _follow: bool) -> BoxStream<'static, AppLogLine> {
        let lines: Vec<AppLogLine> = (0..tail.min(2))
            .map(|i| AppLogLine {
                at: Timestamp(i as i64),
                instance: "0123456789abcdef".into(),
                stream: "stdout".into(),
                line: format!("line {i}"),
            })
            .collect();
        stream::iter(lines).boxed()
    }
}

const TOKEN: &str = "ferry_test_token";

struct Api {
    app: axum::Router,
    recorder: Arc<Recorder>,
}

impl Api {
    async fn new() -> Self {
        let store = Store::in_memory().unwrap();
        store.call(|db| db.insert_token("t1", "admin", &hash_token(TOKEN), Timestamp(0))).await.unwrap();
        let recorder = Arc::new(Recorder::default());
        let config = crate::test_config();
        let commands = Commands::new(store.clone(), recorder.clone());
        Self { app: router(store, commands, recorder.clone(), config), recorder }
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let req = crate::test_request(method, uri, token, body);
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn authed(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, uri, body, Some(TOKEN)).await
    }

    /// A request as given, with the token; the answer's status, content type and body.
    async fn raw(&self, req: axum::http::request::Builder, body: Body) -> (StatusCode, String, Value) {
        let req = req.header("authorization", format!("Bearer {TOKEN}")).body(body).unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, content_type, value)
    }
}

fn web() -> Value {
    json!({"name": "web", "source": {"image": {"identifier": "127.0.0.1:5000/web:v1"}}})
}

#[tokio::test]
async fn every_v1_route_needs_a_valid_token() {
    let api = Api::new().await;
    for (method, uri) in [
        ("GET", "/v1/services"),
        ("POST", "/v1/services"),
        ("GET", "/v1/services/web1"),
        ("DELETE", "/v1/services/web1"),
        ("GET", "/v1/services/web1/operations"),
        ("GET", "/v1/services/web1/logs"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/nothing-here"),
    ] {
        let (status, body) = api.call(method, uri, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(body["error"]["code"], "Unauthorized");
        let (status, _) = api.call(method, uri, None, Some("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} with a wrong token");
    }
    let (status, _) = api.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn create_describe_list_delete() {
    let api = Api::new().await;
    let mut req = web();
    req["name"] = json!("web-app");
    req["source"]["image"]["port"] = json!(3000);
    req["source"]["image"]["env"] = json!({"GREETING": "hi"});
    req["instance"] = json!({"cpu": "0.25 vCPU", "memory": "512"});
    let (status, body) = api.authed("POST", "/v1/services", Some(req)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let svc = &body["service"];
    assert_eq!(svc["name"], "web-app");
    assert_eq!(svc["status"], "OPERATION_IN_PROGRESS");
    assert_eq!(svc["url"], "http://web-app.localhost:8080");
    assert_eq!(svc["instance"], json!({"cpu": "0.25 vCPU", "memory": "0.5 GB"}));
    assert_eq!(svc["source"]["image"]["port"], 3000);
    assert_eq!(svc["health_check"]["protocol"], "TCP");
    assert_eq!(svc["health_check"]["unhealthy_threshold"], 5);
    assert_eq!(svc["protocol"], "http1", "the default protocol");
    assert_eq!(svc["request_timeout"], 300, "the default request timeout");
    assert_eq!(svc["id"].as_str().unwrap().len(), 32);
    let arn = svc["arn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:apprunner:local:000000000000:service/web-app/"), "{arn}");
    let op_id = body["operation_id"].as_str().unwrap().to_owned();
    assert_eq!(api.recorder.queued.lock().unwrap().len(), 1);

    let (status, list) = api.authed("GET", "/v1/services", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["services"][0]["name"], "web-app");

    let (status, described) = api.authed("GET", "/v1/services/WEB-APP", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(described["latest_operation"]["id"], op_id.as_str());
    assert_eq!(described["latest_operation"]["type"], "CREATE_SERVICE");
    assert_eq!(described["latest_operation"]["status"], "PENDING");

    let (status, ops) = api.authed("GET", "/v1/services/web-app/operations", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ops["operations"].as_array().unwrap().len(), 1);

    let (status, deleted) = api.authed("DELETE", "/v1/services/web-app", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let delete_op = deleted["operation_id"].as_str().unwrap().to_owned();
    // A second delete returns the same operation rather than queueing another.
    let (_, again) = api.authed("DELETE", "/v1/services/web-app", None).await;
    assert_eq!(again["operation_id"], delete_op.as_str());
    let (_, ops) = api.authed("GET", "/v1/services/web-app/operations", None).await;
    let kinds: Vec<_> = ops["operations"].as_array().unwrap().iter().map(|o| o["type"].clone()).collect();
    assert_eq!(kinds, [json!("DELETE_SERVICE"), json!("CREATE_SERVICE")], "newest first");

    let (status, detail) = api.authed("GET", &format!("/v1/operations/{delete_op}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["operation"]["status"], "PENDING");
}

#[tokio::test]
async fn bad_input_names_the_field_and_the_allowed_values() {
    let api = Api::new().await;
    let cases = [
        (json!({"name": "-web", "source": {"image": {"identifier": "web"}}}), "name", "1 to 40"),
        (json!({"name": "web1", "source": {}}), "source", "source.image"),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "Web:1"}}}),
            "source.image.identifier",
            "lower-case",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web", "port": 70000}}}),
            "source.image.port",
            "1 to 65535",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web", "env": {"PORT": "1"}}}}),
            "source.image.env.PORT",
            "reserved",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "instance": {"cpu": "3 vCPU"}}),
            "instance.cpu",
            "0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "instance": {"cpu": "1 vCPU", "memory": "8 GB"}}),
            "instance.memory",
            "2 GB, 3 GB or 4 GB",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "health_check": {"interval": 0}}),
            "health_check.interval",
            "1 to 20",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "health_check": {"protocol": "UDP"}}),
            "health_check.protocol",
            "TCP or HTTP",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "instances": 0}),
            "instances",
            "1 to 25",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "protocol": "grpc"}),
            "protocol",
            "http1 or http2",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "request_timeout": 0}),
            "request_timeout",
            "use 1 to 3600 seconds",
        ),
        (
            json!({"name": "web1", "source": {"image": {"identifier": "web"}}, "request_timeout": 3601}),
            "request_timeout",
            "3601 is out of range; use 1 to 3600 seconds",
        ),
    ];
    for (body, field, hint) in cases {
        let (status, resp) = api.authed("POST", "/v1/services", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["error"]["code"], "InvalidRequest");
        assert_eq!(resp["error"]["field"], field, "{body} -> {resp}");
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(message.contains(hint), "{body}: {message}");
    }
    // Malformed JSON and unknown fields are refused with the decoder's pointer to the problem.
    let (status, resp) = api
        .authed(
            "POST",
            "/v1/services",
            Some(json!({"name": "web1", "source": {"image": {"identifier": "web", "prot": 1}}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(resp["error"]["message"].as_str().unwrap().contains("prot"), "{resp}");
    assert!(api.recorder.queued.lock().unwrap().is_empty(), "nothing was queued");
    let (_, list) = api.authed("GET", "/v1/services", None).await;
    assert_eq!(list["services"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_taken_name_is_a_conflict_and_unknown_names_are_not_found() {
    let api = Api::new().await;
    assert_eq!(api.authed("POST", "/v1/services", Some(web())).await.0, StatusCode::CREATED);
    let mut again = web();
    again["name"] = json!("WEB");
    let (status, resp) = api.authed("POST", "/v1/services", Some(again)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(resp["error"]["field"], "name");
    let (status, resp) = api.authed("GET", "/v1/services/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(resp["error"]["message"].as_str().unwrap().contains("ferry service list"));
    let (status, _) = api.authed("GET", "/v1/operations/not-a-uuid", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logs_are_newline_delimited_json() {
    let api = Api::new().await;
    api.authed("POST", "/v1/services", Some(web())).await;
    let (status, body) = api.authed("GET", "/v1/services/web/logs?tail=2", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["line"], "line 1");
    assert_eq!(lines[1]["stream"], "stdout");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let api = Api::new().await;
    let (status, doc) = api.authed("GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/services",
        "/v1/services/{name}",
        "/v1/services/{name}/operations",
        "/v1/services/{name}/logs",
        "/v1/operations/{id}",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["CreateServiceRequest"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn updates_merge_into_the_current_spec_as_a_new_revision() {
    let api = Api::new().await;
    let mut req = web();
    req["source"]["image"]["env"] = json!({"A": "1", "B": "2"});
    api.authed("POST", "/v1/services", Some(req)).await;
    let patch = json!({"image": {"env": {"B": "3", "C": "4"}, "env_remove": ["A"], "port": 9000},
                       "instance": {"cpu": "2 vCPU"}, "health_check": {"grace_period": 30}});
    let (status, body) = api.authed("PATCH", "/v1/services/web", Some(patch)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let image = &body["service"]["source"]["image"];
    assert_eq!(image["env"], json!({"B": "3", "C": "4"}));
    assert_eq!(image["port"], 9000);
    assert_eq!(image["identifier"], "127.0.0.1:5000/web:v1", "unchanged members stay");
    assert_eq!(body["service"]["instance"], json!({"cpu": "2 vCPU", "memory": "4 GB"}));
    assert_eq!(body["service"]["health_check"]["grace_period"], 30);
    assert_eq!(body["service"]["status"], "OPERATION_IN_PROGRESS");

    let (_, revisions) = api.authed("GET", "/v1/services/web/revisions", None).await;
    let numbers: Vec<_> =
        revisions["revisions"].as_array().unwrap().iter().map(|r| r["number"].clone()).collect();
    assert_eq!(numbers, [json!(2), json!(1)]);
    let (_, ops) = api.authed("GET", "/v1/services/web/operations", None).await;
    assert_eq!(ops["operations"][0]["type"], "UPDATE_SERVICE");
    assert_eq!(ops["operations"][0]["status"], "PENDING", "queued behind the create");
    assert_eq!(ops["operations"][0]["trigger"], "SERVICE_UPDATE");

    let (status, resp) =
        api.authed("PATCH", "/v1/services/web", Some(json!({"image": {"env": {"PORT": "1"}}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(resp["error"]["field"], "image.env.PORT");
    let (status, resp) =
        api.authed("PATCH", "/v1/services/web", Some(json!({"health_check": {"grace_period": 4000}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(resp["error"]["field"], "health_check.grace_period");
}

#[tokio::test]
async fn protocol_and_request_timeout_are_set_at_create_and_changed_by_update() {
    let api = Api::new().await;
    let mut req = web();
    req["protocol"] = json!("HTTP2");
    req["request_timeout"] = json!(3600);
    let (status, body) = api.authed("POST", "/v1/services", Some(req)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["service"]["protocol"], "http2");
    assert_eq!(body["service"]["request_timeout"], 3600);

    let patch = json!({"request_timeout": 15});
    let (status, body) = api.authed("PATCH", "/v1/services/web", Some(patch)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["service"]["protocol"], "http2", "unchanged members stay");
    assert_eq!(body["service"]["request_timeout"], 15);
    let (_, revisions) = api.authed("GET", "/v1/services/web/revisions", None).await;
    let settings: Vec<_> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["protocol"].clone(), r["request_timeout"].clone()))
        .collect();
    assert_eq!(
        settings,
        [(json!("http2"), json!(15)), (json!("http2"), json!(3600))],
        "each revision keeps its own"
    );

    for (patch, field) in
        [(json!({"protocol": "http3"}), "protocol"), (json!({"request_timeout": -5}), "request_timeout")]
    {
        let (status, resp) = api.authed("PATCH", "/v1/services/web", Some(patch.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}");
        assert_eq!(resp["error"]["field"], field, "{patch} -> {resp}");
    }
    let (_, revisions) = api.authed("GET", "/v1/services/web/revisions", None).await;
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 2, "a refused update makes no revision");
}

#[tokio::test]
async fn illegal_transitions_are_refused_with_the_reason() {
    let api = Api::new().await;
    api.authed("POST", "/v1/services", Some(web())).await;
    // Nothing has served yet: nothing to pause, nothing to roll back to, nothing to resume.
    let (status, resp) = api.authed("POST", "/v1/services/web/pause", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(resp["error"]["code"], "InvalidState");
    assert!(resp["error"]["message"].as_str().unwrap().contains("nothing running to pause"), "{resp}");
    let (status, resp) = api.authed("POST", "/v1/services/web/rollback", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(resp["error"]["message"].as_str().unwrap().contains("no earlier revision"), "{resp}");
    let (status, _) = api.authed("POST", "/v1/services/web/resume", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, resp) = api.authed("POST", "/v1/services/web/rollback", Some(json!({"revision": 7}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(resp["error"]["field"], "revision");
    // A queued delete refuses everything else.
    api.authed("DELETE", "/v1/services/web", None).await;
    let (status, resp) = api.authed("POST", "/v1/services/web/deployments", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(resp["error"]["message"].as_str().unwrap().contains("being deleted"), "{resp}");
}

#[tokio::test]
async fn code_repository_sources_are_validated_and_shown_without_secrets() {
    let api = Api::new().await;
    let req = json!({"name": "src", "source": {"code_repository": {
        "repository_url": "/srv/git/app", "source_directory": "/services/api/",
        "env": {"A": "1"}, "credentials": {"username": "bot", "password": "s3cret"}}}});
    let (status, body) = api.authed("POST", "/v1/services", Some(req)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = &body["service"]["source"]["code_repository"];
    assert_eq!(code["branch"], "main");
    assert_eq!(code["source_directory"], "services/api");
    assert_eq!(code["configuration_source"], "REPOSITORY");
    assert_eq!(code["builder"], "auto");
    assert_eq!(code["credentials"], "basic");
    assert!(!body.to_string().contains("s3cret"), "the password is never returned");

    let req = json!({"name": "api-mode", "source": {"code_repository": {
        "repository_url": "https://git.example.com/o/r.git", "runtime": "PYTHON_311",
        "build_command": "pip install -r requirements.txt", "start_command": "python3 app.py"}}});
    let (status, body) = api.authed("POST", "/v1/services", Some(req)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["service"]["source"]["code_repository"]["configuration_source"], "API");
    assert_eq!(body["service"]["source"]["code_repository"]["runtime"], "python311");

    let code = |extra: Value| {
        let mut c = json!({"repository_url": "/srv/git/app"});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"name": "bad", "source": {"code_repository": c}})
    };
    let cases = [
        (
            json!({"name": "bad", "source": {"code_repository": {"repository_url": "-u evil"}}}),
            "source.code_repository.repository",
            "starts with '-'",
        ),
        (code(json!({"branch": "a..b"})), "source.code_repository.branch", "not a valid git branch"),
        (
            code(json!({"source_directory": "../x"})),
            "source.code_repository.source_directory",
            "leaves the repository",
        ),
        (code(json!({"runtime": "python2"})), "source.code_repository.runtime", "python3, python311"),
        (code(json!({"configuration_source": "API"})), "source.code_repository.runtime", "needs a runtime"),
        (code(json!({"builder": "make"})), "source.code_repository.builder", "auto, apprunner"),
        (
            code(json!({"credentials": {"username": "x"}})),
            "source.code_repository.credentials",
            "ssh_private_key",
        ),
        (
            json!({"name": "bad", "source": {"image": {"identifier": "web"}, "code_repository": {"repository_url": "/x"}}}),
            "source",
            "not both",
        ),
    ];
    for (body, field, hint) in cases {
        let (status, resp) = api.authed("POST", "/v1/services", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["error"]["field"], field, "{body} -> {resp}");
        assert!(resp["error"]["message"].as_str().unwrap().contains(hint), "{body}: {resp}");
    }

    // A code service cannot switch to an image, and the reverse.
    let (status, resp) =
        api.authed("PATCH", "/v1/services/src", Some(json!({"image": {"identifier": "web"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(resp["error"]["message"].as_str().unwrap().contains("cannot switch"), "{resp}");
    let (status, body) = api
        .authed("PATCH", "/v1/services/src", Some(json!({"code": {"branch": "dev", "env": {"B": "2"}}})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["service"]["source"]["code_repository"]["branch"], "dev");
    assert_eq!(body["service"]["source"]["code_repository"]["env"], json!({"A": "1", "B": "2"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_updates_are_all_queued_with_their_own_revision() {
    let api = Arc::new(Api::new().await);
    api.authed("POST", "/v1/services", Some(web())).await;
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let patch = json!({"image": {"env": {format!("V{i}"): "1"}}});
                api.authed("PATCH", "/v1/services/web", Some(patch)).await
            })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let (_, revisions) = api.authed("GET", "/v1/services/web/revisions", None).await;
    let revisions = revisions["revisions"].as_array().unwrap();
    let numbers: Vec<u64> = revisions.iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=11).rev().collect::<Vec<u64>>());
    assert_eq!(revisions[0]["env"].as_object().unwrap().len(), 10, "every update's change is in the last");
    let (_, ops) = api.authed("GET", "/v1/services/web/operations", None).await;
    assert_eq!(ops["operations"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn every_refusal_is_the_one_json_error_shape() {
    let api = Api::new().await;
    api.authed("POST", "/v1/services", Some(web())).await;
    let json_req = |method: &str, uri: &str| {
        Request::builder().method(method).uri(uri).header("content-type", "application/json")
    };
    let cases: Vec<(axum::http::request::Builder, Body, StatusCode, &str, Option<&str>)> = vec![
        (
            json_req("POST", "/v1/services/web/rollback"),
            Body::from(r#"{"revision": -1}"#),
            StatusCode::BAD_REQUEST,
            "not a revision number",
            Some("revision"),
        ),
        (
            json_req("POST", "/v1/services/web/rollback"),
            Body::from(r#"{"revision": "two"}"#),
            StatusCode::BAD_REQUEST,
            "not what this call takes",
            None,
        ),
        (
            Request::builder().uri("/v1/services/web/logs?tail=-1"),
            Body::empty(),
            StatusCode::BAD_REQUEST,
            "query string",
            None,
        ),
        (
            Request::builder().method("PUT").uri("/v1/services"),
            Body::empty(),
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT",
            None,
        ),
        (
            json_req("POST", "/v1/services"),
            Body::from(vec![b' '; 10 << 20]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than",
            None,
        ),
        (
            Request::builder().method("POST").uri("/v1/services").header("content-type", "text/plain"),
            Body::from(web().to_string()),
            StatusCode::BAD_REQUEST,
            "Content-Type: application/json",
            None,
        ),
        (
            json_req("PATCH", "/v1/services/web"),
            Body::from(json!({"image": {"env": {"MY VAR": "1"}}}).to_string()),
            StatusCode::BAD_REQUEST,
            "spaces or control characters",
            Some("image.env.MY VAR"),
        ),
        (
            json_req("PATCH", "/v1/services/web"),
            Body::from(json!({"image": {"start_command": "/app\u{0} --x"}}).to_string()),
            StatusCode::BAD_REQUEST,
            "control characters",
            Some("image.start_command"),
        ),
        (Request::builder().uri("/v1/services/%FF"), Body::empty(), StatusCode::BAD_REQUEST, "path", None),
    ];
    for (req, body, status, hint, field) in cases {
        let what = format!("{req:?}");
        let (got, content_type, resp) = api.raw(req, body).await;
        assert_eq!(got, status, "{what}: {resp}");
        assert_eq!(content_type, "application/json", "{what}");
        let message = resp["error"]["message"].as_str().unwrap_or_else(|| panic!("{what}: {resp}"));
        assert!(message.contains(hint), "{what}: {message}");
        assert_eq!(resp["error"]["field"].as_str(), field, "{what}: {resp}");
    }
    let (_, revisions) = api.authed("GET", "/v1/services/web/revisions", None).await;
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 1, "no refused call made a revision");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_callers_are_told_apart() {
    let api = Api::new().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let req = Request::builder().uri("/v1/services").header("authorization", format!("{scheme} {TOKEN}"));
        let resp = api.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
    // The CLI is a person at a terminal; anything else is a program.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/services")
        .header("content-type", "application/json")
        .header("user-agent", "ferry-cli/0.1.0");
    let (status, _, body) = api.raw(req, Body::from(web().to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, ops) = api.authed("GET", "/v1/services/web/operations", None).await;
    assert_eq!(ops["operations"][0]["triggered_by"], json!({"kind": "MANUAL"}));
    assert_eq!(ops["operations"][0]["trigger"], "SERVICE_CREATE");
    api.authed("POST", "/v1/services/web/deployments", None).await;
    let (_, ops) = api.authed("GET", "/v1/services/web/operations", None).await;
    assert_eq!(ops["operations"][0]["triggered_by"], json!({"kind": "API"}));
    assert_eq!(ops["operations"][0]["trigger"], "START_DEPLOYMENT");
}

/// `/v1/secrets`, and services that refer to secrets.
mod secrets;

/// `/v1/connections`, and services that build with them.
mod connections;
