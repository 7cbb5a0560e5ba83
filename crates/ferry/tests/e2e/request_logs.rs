//! Request logs: a line per request the router answered, for services that have them on (all of them or
//! every n-th), read with `ferry logs NAME --requests`; and ferry's own log as JSON lines.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, poll, testapp_image};

/// The service's request log as `ferry logs NAME --requests -o json` prints it.
fn records(server: &Server, name: &str) -> Vec<Value> {
    let out = server.ferry_ok(&["logs", name, "--requests", "--tail", "1000", "-o", "json"]);
    out.lines().map(|l| serde_json::from_str(l).expect("a record per line")).collect()
}

#[test]
fn request_logs_are_kept_per_service_as_set_and_the_server_logs_json() {
    let server = Server::start_with(&["--log-format", "json"]);
    let image = testapp_image();
    let create = |name: &str, logs: &str| {
        server.ferry_ok(&[
            "service",
            "create",
            name,
            "--image",
            &image,
            "--port",
            "8080",
            "--request-logs",
            logs,
            "--wait",
        ]);
    };
    create("logged", "on");
    create("quiet", "off");
    create("sampled", "1/2");
    let d = server.describe("logged");
    assert_eq!(d["request_logs"], "on", "{d}");
    let instance = d["instances"][0]["id"].as_str().expect("an instance").to_owned();
    let human = server.ferry_ok(&["service", "describe", "sampled"]);
    assert!(human.contains("Request logs") && human.contains("1/2"), "{human}");

    for path in ["/", "/headers", "/no-such-page?x=1"] {
        server.get("logged", path);
        server.get("quiet", path);
    }
    let logged = poll("three request records", Duration::from_secs(20), || {
        let r = records(&server, "logged");
        (r.len() >= 3).then_some(r)
    });
    assert_eq!(logged.len(), 3, "{logged:?}");
    let seen: Vec<(&str, u64)> =
        logged.iter().map(|r| (r["path"].as_str().unwrap(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(seen, [("/", 200), ("/headers", 200), ("/no-such-page?x=1", 404)]);
    for r in &logged {
        assert_eq!(r["service"], "logged", "{r}");
        assert_eq!(r["instance"], instance.as_str(), "{r}");
        assert_eq!(r["revision"], 1, "{r}");
        assert_eq!(r["method"], "GET", "{r}");
        assert_eq!(r["client"], "127.0.0.1", "{r}");
        assert!(
            r["time"].as_str().unwrap().ends_with('Z') && r["duration_ms"].as_f64().unwrap() >= 0.0,
            "{r}"
        );
        assert!(!r["request_id"].as_str().unwrap().is_empty(), "{r}");
    }
    assert!(logged[0]["bytes_out"].as_u64().unwrap() > 0, "{:?}", logged[0]);
    // For people: a line per request.
    let human = server.ferry_ok(&["logs", "logged", "--requests"]);
    assert!(human.lines().nth(2).is_some_and(|l| l.contains(" GET /no-such-page?x=1 404 ")), "{human}");

    for i in 0..20 {
        assert_eq!(server.get("sampled", &format!("/?n={i}")).status, 200);
    }
    // Every second request is kept: ten of twenty.
    let sampled = poll("ten sampled records", Duration::from_secs(20), || {
        let r = records(&server, "sampled");
        (r.len() >= 10).then_some(r)
    });
    // The quiet service had its requests long before: it has no record, and the sampled one no more.
    assert_eq!(records(&server, "quiet").len(), 0);
    let paths: Vec<&Value> = sampled.iter().map(|r| &r["path"]).collect();
    assert_eq!(records(&server, "sampled").len(), 10, "{paths:?}");

    // Turned off by an update: the new revision's requests are not kept.
    server.ferry_ok(&["service", "update", "logged", "--request-logs", "off", "--wait"]);
    assert_eq!(server.describe("logged")["request_logs"], "off");
    assert_eq!(server.get("logged", "/after-off").status, 404);
    server.get("sampled", "/last");
    poll("the sampled service's next record", Duration::from_secs(20), || {
        (records(&server, "sampled").len() == 11).then_some(())
    });
    assert_eq!(records(&server, "logged").len(), 3, "nothing after the update");

    // ferry's own log is JSON lines.
    let log = server.log_text();
    let first: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).take(5).collect();
    assert!(first.len() >= 3, "{log}");
    for line in first {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}
