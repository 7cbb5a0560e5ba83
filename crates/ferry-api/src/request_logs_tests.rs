//! The request log setting on create, update and describe, and the request log read through the logs route.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_command::{Commands, Dispatch};
use ferry_model::{ServiceId, Timestamp};
use ferry_store::Store;
use ferry_wire::RequestLogView;
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AppLogLine, LogSource, hash_token, router};

const TOKEN: &str = "ferry_test_token";

/// Answers each service's request log with two records, and remembers what it was asked.
#[derive(Default)]
struct Records {
    asked: Mutex<Vec<(usize, bool)>>,
}

impl Dispatch for Records {
    fn queued(&self, _service: &ServiceId) {}
}

impl LogSource for Records {
    fn logs(&self, _: &ServiceId, _: usize, _: bool) -> BoxStream<'static, AppLogLine> {
        stream::empty().boxed()
    }

    fn request_logs(&self, _: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, RequestLogView> {
        self.asked.lock().unwrap().push((tail, follow));
        let record = |status: u16, path: &str| RequestLogView {
            time: "2026-12-06T02:20:01.123Z".into(),
            service: "web".into(),
            revision: Some(1),
            instance: Some("i-abc".into()),
            method: "GET".into(),
            path: path.into(),
            status,
            duration_ms: 3.2,
            bytes_in: 0,
            bytes_out: 512,
            client: "127.0.0.1".into(),
            request_id: "req-1".into(),
        };
        stream::iter([record(200, "/orders"), record(404, "/nope")]).boxed()
    }
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, String) {
    let mut req =
        Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {TOKEN}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn the_setting_is_given_kept_changed_and_refused_when_wrong() {
    let store = Store::in_memory().unwrap();
    store.call(|db| db.insert_token("t1", "admin", &hash_token(TOKEN), Timestamp(0))).await.unwrap();
    let records = Arc::new(Records::default());
    let commands = Commands::new(store.clone(), records.clone());
    let app = router(store, commands, records.clone(), crate::test_config());
    let image = json!({"image": {"identifier": "127.0.0.1:5000/web:v1"}});

    let (status, _) =
        call(&app, "POST", "/v1/services", Some(json!({"name": "quiet", "source": image}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, quiet) = call(&app, "GET", "/v1/services/quiet", None).await;
    assert_eq!(json_of(&quiet)["request_logs"], "off", "off by default");

    let create = json!({"name": "web", "source": image, "request_logs": "1/10"});
    assert_eq!(call(&app, "POST", "/v1/services", Some(create)).await.0, StatusCode::CREATED);
    let (_, web) = call(&app, "GET", "/v1/services/web", None).await;
    assert_eq!(json_of(&web)["request_logs"], "1/10");
    let (status, _) = call(&app, "PATCH", "/v1/services/web", Some(json!({"request_logs": "on"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, web) = call(&app, "GET", "/v1/services/web", None).await;
    assert_eq!(json_of(&web)["request_logs"], "on");

    let (status, err) = call(&app, "PATCH", "/v1/services/web", Some(json!({"request_logs": "1/0"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let err = json_of(&err);
    assert_eq!(err["error"]["field"], "request_logs", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("1/N"), "{err}");

    // The request log: newline-delimited records, as the source gives them.
    let (status, body) =
        call(&app, "GET", "/v1/services/web/logs?requests=true&tail=5&follow=true", None).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<RequestLogView> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines.iter().map(|r| (r.status, r.path.as_str())).collect::<Vec<_>>(),
        [(200, "/orders"), (404, "/nope")]
    );
    assert_eq!(records.asked.lock().unwrap().as_slice(), [(5, true)]);
    // Without `requests`, the application log (none here).
    let (status, body) = call(&app, "GET", "/v1/services/web/logs", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let (status, _) = call(&app, "GET", "/v1/services/nope/logs?requests=true", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
