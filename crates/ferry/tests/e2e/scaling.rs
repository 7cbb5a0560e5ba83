//! Request-driven autoscaling on real containers: a load step scales out with no failed request and back
//! in after it, MinSize 0 goes to zero and serves the next request and a burst of first requests, and
//! auto scaling configurations are shared and shown. The windows are shortened by server flags so the
//! tests take seconds, not minutes.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Load, Server, http, poll, testapp_image};

/// Short windows: a decision every second over 6 s (panic: 2 s), zero after 6 idle seconds.
const FAST: &[&str] = &[
    "--scale-stable-window",
    "6",
    "--scale-panic-window",
    "2",
    "--scale-to-zero-grace",
    "6",
    "--hold-timeout",
    "30",
];

fn ready(server: &Server, service: &str) -> usize {
    let s = server.describe(service);
    s["instances"].as_array().unwrap().iter().filter(|i| i["state"] == "READY").count()
}

fn running(server: &Server, service: &str) -> usize {
    server.describe(service)["instances"].as_array().unwrap().len()
}

/// A service of the test app that takes 2 requests per instance and scales between 1 and `max`.
fn create_elastic(server: &Server, name: &str, max: &str) {
    let image = testapp_image();
    server.ferry_ok(&[
        "service",
        "create",
        name,
        "--image",
        &image,
        "-e",
        "TESTAPP_QUIET=1",
        "--max-concurrency",
        "2",
        "--min-size",
        "1",
        "--max-size",
        max,
        "--wait",
    ]);
}

#[test]
fn a_load_step_scales_out_with_no_failed_request_and_back_in_after_it() {
    let server = Server::start_with(FAST);
    create_elastic(&server, "elastic", "4");
    assert_eq!(ready(&server, "elastic"), 1);
    let described = server.describe("elastic");
    assert_eq!(described["autoscaling"]["max_concurrency"], 2, "{described}");

    // Eight clients, each request 300 ms: 8 concurrent against 2 per instance wants 4 instances (at 70 %
    // utilisation, more than the maximum); requests beyond the capacity wait in the router.
    let running_load = Load::start_on(server.http, "elastic", "/slow?ms=300", 8);
    poll("the service to scale out to 4 ready instances", Duration::from_secs(60), || {
        (ready(&server, "elastic") == 4).then_some(())
    });
    let report = running_load.stop();
    let (ok, failed) = (report.total - report.failures.len(), report.failures);
    assert!(ok > 0);
    assert!(failed.is_empty(), "no request failed while scaling out: {failed:?}");
    let reason = server.describe("elastic")["autoscaling"]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(!reason.is_empty(), "the decision says why");
    let log = server.ferry_ok(&["logs", "elastic", "--tail", "500"]);
    assert!(log.contains("scaling to 4 instances"), "each decision is in the service's log: {log}");

    // No load: back to the minimum, each retiring instance drained first.
    poll("the service to scale back in to 1", Duration::from_secs(90), || {
        (running(&server, "elastic") == 1).then_some(())
    });
    assert_eq!(http(server.http, "GET", "elastic.localhost", "/", &[], b"").status, 200);
}

#[test]
fn min_size_zero_goes_to_zero_and_the_next_request_and_a_burst_are_held_and_served() {
    let server = Server::start_with(FAST);
    let image = testapp_image();
    server.ferry_ok(&[
        "service",
        "create",
        "sleepy",
        "--image",
        &image,
        "--min-size",
        "0",
        "--max-size",
        "3",
        "--max-concurrency",
        "10",
        "--wait",
    ]);
    poll("the service to scale to zero", Duration::from_secs(60), || {
        (running(&server, "sleepy") == 0).then_some(())
    });
    let described = server.describe("sleepy");
    assert_eq!(described["status"], "RUNNING", "{described}");
    assert_eq!(described["instances_desired"], 0, "{described}");

    // The next request is held while an instance starts, then served.
    let r = http(server.http, "GET", "sleepy.localhost", "/", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    poll("zero again", Duration::from_secs(60), || (running(&server, "sleepy") == 0).then_some(()));

    // A burst of first requests at zero: every one is held and served.
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let addr = server.http;
            std::thread::spawn(move || http(addr, "GET", "sleepy.localhost", "/slow?ms=100", &[], b"").status)
        })
        .collect();
    let statuses: Vec<u16> = burst.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // A paused service is not woken by traffic.
    server.ferry_ok(&["service", "pause", "sleepy", "--wait"]);
    let r = http(server.http, "GET", "sleepy.localhost", "/", &[], b"");
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(running(&server, "sleepy"), 0);
}

#[test]
fn auto_scaling_configurations_are_revisioned_shared_and_shown() {
    let server = Server::start();
    let made: Value = serde_json::from_str(&server.ferry_ok(&[
        "autoscaling",
        "create",
        "burst",
        "--max-concurrency",
        "50",
        "--min-size",
        "0",
        "--max-size",
        "5",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!((made["name"].as_str(), made["revision"].as_u64()), (Some("burst"), Some(1)));
    assert!(made["arn"].as_str().unwrap().ends_with(":autoscalingconfiguration/burst/1"), "{made}");
    let image = testapp_image();
    server.ferry_ok(&["service", "create", "shared", "--image", &image, "--autoscaling", "burst", "--wait"]);
    let described = server.describe("shared");
    assert_eq!(described["autoscaling"]["configuration"], "burst/1", "{described}");
    let listed = server.ferry_ok(&["autoscaling", "list"]);
    assert!(listed.contains("DefaultConfiguration (default)") && listed.contains("shared"), "{listed}");
    // In use: refused, with who uses it.
    let out = server.ferry(&["autoscaling", "delete", "burst"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shared"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fixed count instead.
    server.ferry_ok(&["service", "update", "shared", "--instances", "2", "--wait"]);
    assert!(server.describe("shared")["autoscaling"].is_null());
    assert_eq!(ready(&server, "shared"), 2);
    poll("the old instance to retire", Duration::from_secs(30), || {
        (running(&server, "shared") == 2).then_some(())
    });
    server.ferry_ok(&["autoscaling", "delete", "burst"]);
}

#[test]
fn a_rollout_at_n_instances_under_load_brings_up_enough_and_fails_no_request() {
    let server = Server::start_with(FAST);
    create_elastic(&server, "busy", "3");
    let running_load = Load::start_on(server.http, "busy", "/slow?ms=200", 6);
    poll("the service to scale out to 3", Duration::from_secs(60), || {
        (ready(&server, "busy") == 3).then_some(())
    });
    // A new revision under the same load comes up at the size the load wants, then takes over.
    server.ferry_ok(&["service", "update", "busy", "-e", "ROUND=2", "--wait"]);
    let described = server.describe("busy");
    let new_revision = described["active_revision"].as_u64().unwrap();
    let on_new = described["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["revision"].as_u64() == Some(new_revision) && i["state"] == "READY")
        .count();
    assert_eq!(on_new, 3, "{described}");
    let report = running_load.stop();
    let (ok, failed) = (report.total - report.failures.len(), report.failures);
    assert!(ok > 0);
    assert!(failed.is_empty(), "no request failed during the rollout: {failed:?}");
}

#[test]
fn a_scaled_out_service_keeps_its_instances_across_a_server_crash() {
    let mut server = Server::start_with(FAST);
    create_elastic(&server, "steady", "3");
    let running_load = Load::start_on(server.http, "steady", "/slow?ms=200", 6);
    poll("the service to scale out to 3", Duration::from_secs(60), || {
        (ready(&server, "steady") == 3).then_some(())
    });
    let before = server.containers(false);
    server.kill();
    server.restart();
    // The adopted instances keep serving the load, and the autoscaler's first decisions after the restart
    // (which know little of the load yet) take none away.
    let decided = server.describe("steady")["autoscaling"]["decided_at"].as_str().map(str::to_owned);
    poll("a decision after the restart", Duration::from_secs(30), || {
        let now = server.describe("steady")["autoscaling"]["decided_at"].as_str().map(str::to_owned);
        (now.is_some() && now != decided).then_some(())
    });
    assert_eq!(server.containers(false), before, "the same containers");
    let states: Vec<Value> = server.describe("steady")["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].clone())
        .collect();
    assert_eq!(states, vec![Value::from("READY"); 3], "none taken out of service");
    let report = running_load.stop();
    let (ok, failed) = (report.total - report.failures.len(), report.failures);
    assert!(ok > 0);
    // Requests in flight when the server died were cut with it; none failed after it was back.
    assert!(failed.iter().all(|(status, _)| *status == 0), "{failed:?}");
}
