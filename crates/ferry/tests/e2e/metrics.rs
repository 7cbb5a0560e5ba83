//! Metrics: a real Prometheus (Debian's `prometheus`) scrapes ferry's `/metrics` with the admin token and
//! gives a service's request counts back through its HTTP API; `ferry metrics -o json` shows the same
//! requests, with the instance's CPU and memory from the engine.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, http, poll, testapp_image};

/// A Prometheus server on 127.0.0.1 scraping one target every second; killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target`'s `/metrics` with `token` (from a credentials file, as an operator would).
    fn start(target: SocketAddr, token: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let token_file = dir.path().join("ferry-token");
        std::fs::write(&token_file, token).expect("token file");
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: ferry\n    metrics_path: /metrics\n\
                 \x20   authorization:\n      credentials_file: {}\n\
                 \x20   static_configs:\n      - targets: ['{target}']\n",
                token_file.display()
            ),
        )
        .expect("config");
        // Prometheus cannot say which port it took when given port 0: take a free one and hand it over.
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus runs (scripts/setup installs Debian's prometheus)");
        let mut prometheus = Self { child, addr, dir };
        poll("Prometheus to be ready", Duration::from_secs(60), || {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", prometheus.log());
            }
            (http(addr, "GET", "127.0.0.1", "/-/ready", &[], b"").status == 200).then_some(())
        });
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The value of an instant query's only series, if it has one.
    fn query(&self, query: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", encode(query));
        let r = http(self.addr, "GET", "127.0.0.1", &path, &[], b"");
        let body: Value = serde_json::from_str(&r.body).ok()?;
        let value = body["data"]["result"].get(0)?["value"][1].as_str()?.to_owned();
        value.parse().ok()
    }

    /// The health of the scrape of ferry, as Prometheus' targets page says (`up`, `down`, `unknown`), with
    /// its last error.
    fn target(&self) -> String {
        let r = http(self.addr, "GET", "127.0.0.1", "/api/v1/targets", &[], b"");
        let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
        let t = &body["data"]["activeTargets"][0];
        format!("{} {}", t["health"], t["lastError"])
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter's value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_a_services_requests_and_ferry_metrics_shows_them() {
    let server = Server::start_with(&["--metrics-interval", "1"]);
    server.ferry_ok(&["service", "create", "counted", "--image", &testapp_image(), "--wait"]);
    // Through the router: 7 answers from the app, 2 of its 404s, and a 503 it gives when asked.
    for _ in 0..7 {
        assert_eq!(server.get("counted", "/").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(server.get("counted", "/no-such-page").status, 404);
    }
    assert_eq!(server.get("counted", "/status/503").status, 503);

    let prometheus = Prometheus::start(server.api, &server.token);
    let series = |code: &str| format!("ferry_http_requests_total{{service=\"counted\",code=\"{code}\"}}");
    poll("Prometheus to have scraped ferry's counts", Duration::from_secs(60), || {
        (prometheus.query(&series("2xx")) == Some(7.0)).then_some(())
    });
    assert_eq!(prometheus.query(&series("4xx")), Some(2.0), "the app's 404s");
    assert_eq!(prometheus.query(&series("5xx")), Some(1.0));
    assert_eq!(prometheus.query("ferry_service_instances{service=\"counted\"}"), Some(1.0));
    let head = "ferry_http_response_head_duration_seconds_count{service=\"counted\"}";
    assert_eq!(prometheus.query(head), Some(10.0), "every response's head was timed");
    assert!(prometheus.target().starts_with("\"up\""), "{}", prometheus.target());

    // The history: the same ten requests within a minute, and the engine's figures for the instance.
    let points = poll("ferry metrics to show the requests", Duration::from_secs(60), || {
        let json = server.ferry_ok(&["metrics", "counted", "--minutes", "5", "-o", "json"]);
        let view: Value = serde_json::from_str(&json).expect("metrics json");
        assert_eq!(view["interval_seconds"], 1);
        let points = view["points"].as_array().cloned().unwrap_or_default();
        let sum = |field: &str| points.iter().map(|p| p[field].as_u64().unwrap_or(0)).sum::<u64>();
        let measured = points.last().is_some_and(|p| p["cpu_percent"].is_number());
        (sum("requests") == 10 && sum("errors") == 1 && measured).then_some(points)
    });
    let memory = "ferry_instance_memory_bytes{service=\"counted\"}";
    let engine =
        poll("the engine's figures in Prometheus", Duration::from_secs(30), || prometheus.query(memory));
    assert!(engine > 0.0, "the instance uses some memory: {engine}");
    let last = points.last().expect("a point");
    assert_eq!(last["instances"], 1);
    assert!(last["memory_bytes"].as_u64().is_some_and(|b| b > 0), "{last}");
    let busy: Vec<&Value> = points.iter().filter(|p| p["requests"].as_u64() > Some(0)).collect();
    assert!(busy.iter().all(|p| p["p50_ms"].is_number() && p["p99_ms"].is_number()), "{busy:?}");
    let human = server.ferry_ok(&["metrics", "counted", "--minutes", "5"]);
    assert!(human.contains("requests") && human.contains("MINUTE"), "{human}");
    // An unknown service is refused as the rest of the CLI refuses it.
    let unknown = server.ferry(&["metrics", "nothing-here"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", String::from_utf8_lossy(&unknown.stderr));
}
