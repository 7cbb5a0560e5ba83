//! The metrics routes through the API's router: the history's JSON as the console reads it, its bounds,
//! the Prometheus text and its content type, and the tokens each needs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use ferry_command::{Commands, Dispatch};
use ferry_model::{ServiceId, Timestamp};
use ferry_store::{NewToken, Store};
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AppLogLine, LogSource, MetricsHistory, MetricsSample, MetricsSource, hash_token, router};

const ADMIN: &str = "ferry_admin";
const READ: &str = "ferry_reader";

struct Quiet;

impl Dispatch for Quiet {
    fn queued(&self, _service: &ServiceId) {}
}

impl LogSource for Quiet {
    fn logs(&self, _service: &ServiceId, _tail: usize, _follow: bool) -> BoxStream<'static, AppLogLine> {
        stream::empty().boxed()
    }
}

/// Two samples for every service, and the minutes each history call asked for.
#[derive(Default)]
struct Scripted {
    asked: Mutex<Vec<(ServiceId, u32)>>,
}

impl MetricsSource for Scripted {
    fn history(&self, service: &ServiceId, minutes: u32) -> MetricsHistory {
        self.asked.lock().unwrap().push((service.clone(), minutes));
        let quiet = MetricsSample { instances: 1, ..MetricsSample::empty(Timestamp(1_796_523_000_000)) };
        let busy = MetricsSample {
            at: Timestamp(1_796_523_010_000),
            responses: [0, 11, 0, 0, 1],
            p50_seconds: Some(0.0031),
            p99_seconds: Some(0.0402),
            in_flight: 2,
            instances: 2,
            cpu_percent: Some(3.5),
            memory_bytes: Some(12_345_678),
        };
        MetricsHistory { interval: Duration::from_secs(10), points: vec![quiet, busy] }
    }

    fn prometheus(&self) -> String {
        "# HELP ferry_up Always 1.\n# TYPE ferry_up gauge\nferry_up 1\n".to_owned()
    }
}

struct Api {
    app: axum::Router,
    metrics: Arc<Scripted>,
}

impl Api {
    async fn new() -> Self {
        let store = Store::in_memory().unwrap();
        store
            .call(|db| {
                db.insert_token("t-admin", "admin", &hash_token(ADMIN), Timestamp(0))?;
                let hash = hash_token(READ);
                db.create_token(&NewToken {
                    id: "reader",
                    name: "reader",
                    hash: &hash,
                    scope: "read-only",
                    created_at: Timestamp(0),
                    expires_at: None,
                })
            })
            .await
            .unwrap();
        let metrics = Arc::new(Scripted::default());
        let mut config = crate::test_config();
        config.metrics = metrics.clone();
        let commands = Commands::new(store.clone(), Arc::new(Quiet));
        Self { app: router(store, commands, Arc::new(Quiet), config), metrics }
    }

    /// The status, content type and body of a call.
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String, String) {
        let req = crate::test_request(method, uri, token, body);
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn create_web(&self) {
        let web = json!({"name": "web", "source": {"image": {"identifier": "127.0.0.1:5000/web:v1"}}});
        let (status, _, body) = self.call("POST", "/v1/services", Some(ADMIN), Some(web)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test]
async fn a_services_history_is_the_json_the_console_reads() {
    let api = Api::new().await;
    api.create_web().await;
    let (status, content_type, body) =
        api.call("GET", "/v1/services/web/metrics?minutes=15", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        value,
        json!({"interval_seconds": 10, "points": [
            {"at": "2026-12-06T02:10:00.000Z", "requests": 0, "errors": 0, "status": {}, "p50_ms": null,
             "p99_ms": null, "in_flight": 0, "instances": 1, "cpu_percent": null, "memory_bytes": null},
            {"at": "2026-12-06T02:10:10.000Z", "requests": 12, "errors": 1, "status": {"2xx": 11, "5xx": 1},
             "p50_ms": 3.1, "p99_ms": 40.2, "in_flight": 2, "instances": 2, "cpu_percent": 3.5,
             "memory_bytes": 12345678}
        ]})
    );
    let (status, _, _) = api.call("GET", "/v1/services/web/metrics", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK);
    let asked: Vec<u32> = api.metrics.asked.lock().unwrap().iter().map(|(_, m)| *m).collect();
    assert_eq!(asked, vec![15, 60], "minutes as asked, else the hour");
}

#[tokio::test]
async fn a_history_needs_a_known_service_and_minutes_within_the_hour() {
    let api = Api::new().await;
    let (status, _, body) = api.call("GET", "/v1/services/nope/metrics", Some(READ), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("NotFound"), "{body}");
    api.create_web().await;
    for minutes in ["0", "61", "-1"] {
        let uri = format!("/v1/services/web/metrics?minutes={minutes}");
        let (status, _, body) = api.call("GET", &uri, Some(READ), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{minutes}: {body}");
        assert!(body.contains("use 1 to 60"), "{body}");
    }
    let (status, _, body) = api.call("GET", "/v1/services/web/metrics?minutes=ten", Some(READ), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(api.metrics.asked.lock().unwrap().is_empty(), "nothing was asked of the source");
}

#[tokio::test]
async fn prometheus_scrapes_the_text_format_with_a_read_only_token() {
    let api = Api::new().await;
    let (status, content_type, body) = api.call("GET", "/metrics", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.ends_with("ferry_up 1\n"), "{body}");
    for token in [None, Some("wrong")] {
        let (status, _, _) = api.call("GET", "/metrics", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        let (status, _, _) = api.call("GET", "/v1/services/web/metrics", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
}
