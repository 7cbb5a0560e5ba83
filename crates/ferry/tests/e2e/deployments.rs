//! Deployments: revisions, zero-downtime rollout, automatic and manual rollback, pause and resume, all
//! under constant load through the router.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Load, Server, engine_has_image, message_of, poll, testapp_image, testapp_variant};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn op_status(server: &Server, name: &str) -> (String, String) {
    let ops: Value = serde_json::from_str(&server.ferry_ok(&["operations", name, "-o", "json"])).unwrap();
    let latest = &ops["operations"][0];
    (latest["status"].as_str().unwrap_or("").to_owned(), latest["error"].as_str().unwrap_or("").to_owned())
}

/// Polls the router until the service answers with `message` (and only with it, 10 times in a row).
fn serves(server: &Server, name: &str, message: &str) {
    poll(&format!("{name} to serve {message}"), Duration::from_secs(20), || {
        (0..10).all(|_| message_of(&server.get(name, "/").body) == message).then_some(())
    });
}

#[test]
fn rollout_rollback_pause_and_resume_under_load_lose_no_request() {
    let server = Server::start_with(&["--drain-timeout", "5"]);
    let image = testapp_image();
    let health = [
        "--health-protocol",
        "http",
        "--health-path",
        "/healthz",
        "--health-interval",
        "1",
        "--unhealthy-threshold",
        "2",
    ];
    let mut create =
        vec!["service", "create", "app", "--image", &image, "-e", "TESTAPP_MESSAGE=v1", "--wait"];
    create.extend(health);
    server.ferry_ok(&create);
    serves(&server, "app", "v1");

    let load = Load::start(server.http, "app", 3);

    // v1 → v2: new instances start beside the old, traffic moves when they are healthy, the old drain.
    let out = server.ferry_ok(&["service", "update", "app", "-e", "TESTAPP_MESSAGE=v2", "--wait"]);
    assert!(out.contains("app is RUNNING on revision 2"), "{out}");
    serves(&server, "app", "v2");

    // v3 never gets healthy: it is rolled back automatically, v2 keeps serving, and --wait says so.
    let out = server.ferry(&[
        "service",
        "update",
        "app",
        "-e",
        "TESTAPP_MESSAGE=v3",
        "-e",
        "TESTAPP_UNHEALTHY=1",
        "--wait",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rolled-back deployment is a failure for --wait: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("ROLLBACK_SUCCEEDED"), "{}", stderr(&out));
    assert!(stderr(&out).contains("GET /healthz answered 500"), "the reason is in the log: {}", stderr(&out));
    let (status, error) = op_status(&server, "app");
    assert_eq!(status, "ROLLBACK_SUCCEEDED");
    assert!(error.contains("health check"), "{error}");
    let d = server.describe("app");
    assert_eq!(d["status"], "RUNNING");
    assert_eq!(d["active_revision"], 2);
    assert_eq!(
        d["source"]["image"]["env"]["TESTAPP_MESSAGE"], "v2",
        "the configuration is back to what serves"
    );
    assert!(d["instances"].as_array().unwrap().iter().all(|i| i["revision"] == 2), "{d}");

    // Manual rollback to revision 1, from the image already on the engine.
    let out = server.ferry_ok(&["service", "rollback", "app", "--to", "1", "--wait"]);
    assert!(out.contains("on revision 1"), "{out}");
    serves(&server, "app", "v1");

    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "{} of {} requests failed during the rollouts: {:?}",
        report.failures.len(),
        report.total,
        &report.failures[..report.failures.len().min(5)]
    );
    assert!(report.saw("v1") && report.saw("v2"), "{:?}", report.seen);
    assert!(!report.saw("v3"), "the unhealthy revision never got traffic: {:?}", report.seen);
    assert!(report.total > 100, "the load ran: {}", report.total);

    let revisions: Value =
        serde_json::from_str(&server.ferry_ok(&["revisions", "app", "-o", "json"])).unwrap();
    let numbers: Vec<u64> =
        revisions["revisions"].as_array().unwrap().iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(revisions["revisions"][2]["serving"], true);
    assert!(revisions["revisions"][0]["activated_at"].is_null(), "revision 3 never served");
    let human = server.ferry_ok(&["revisions", "app"]);
    assert!(human.contains("serving") && human.contains("never served"), "{human}");

    // Pause: nothing runs, the router says why.
    server.ferry_ok(&["service", "pause", "app", "--wait"]);
    assert_eq!(server.describe("app")["status"], "PAUSED");
    let r = server.get("app", "/");
    assert_eq!(r.status, 503);
    assert!(r.body.contains("paused"), "{}", r.body);
    assert!(server.containers(true).is_empty(), "a paused service runs nothing");
    // Deploying while paused is refused with a clear error.
    let out = server.ferry(&["service", "deploy", "app"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("paused: resume it first"), "{}", stderr(&out));
    let out = server.ferry(&["service", "pause", "app"]);
    assert!(stderr(&out).contains("already paused"), "{}", stderr(&out));

    // Resume: the last revision comes back, without a rebuild.
    server.ferry_ok(&["service", "resume", "app", "--wait"]);
    serves(&server, "app", "v1");
    assert_eq!(server.describe("app")["active_revision"], 1);
}

#[test]
fn an_instance_that_crashes_after_becoming_healthy_is_replaced() {
    let server = Server::start();
    server.ferry_ok(&[
        "service",
        "create",
        "crash",
        "--image",
        &testapp_image(),
        "-e",
        "TESTAPP_MESSAGE=v1",
        "--wait",
    ]);
    server.ferry_ok(&["service", "update", "crash", "-e", "TESTAPP_MESSAGE=v4", "--wait"]);
    serves(&server, "crash", "v4");
    let before = server.containers(false);
    let r = crate::support::http(server.http, "POST", "crash.localhost", "/exit?code=3", &[], b"");
    assert_eq!(r.status, 200);
    poll("a new instance of v4", Duration::from_secs(30), || {
        let now = server.containers(false);
        (now.len() == 1 && now != before && message_of(&server.get("crash", "/").body) == "v4").then_some(())
    });
    let d = server.describe("crash");
    assert_eq!(d["active_revision"], 2);
    assert_eq!(d["status"], "RUNNING");
}

#[test]
fn a_second_change_while_one_deploys_is_queued_and_runs_after_it() {
    let server = Server::start();
    server.ferry_ok(&["service", "create", "queue", "--image", &testapp_image(), "--wait"]);
    // The first change takes a while to come up, so the second arrives while it deploys.
    server.ferry_ok(&[
        "service",
        "update",
        "queue",
        "-e",
        "TESTAPP_START_DELAY_MS=1500",
        "-e",
        "TESTAPP_MESSAGE=slow",
    ]);
    let queued: Value = serde_json::from_str(&server.ferry_ok(&[
        "service",
        "update",
        "queue",
        "-e",
        "TESTAPP_MESSAGE=last",
        "-o",
        "json",
    ]))
    .unwrap();
    let ops: Value = serde_json::from_str(&server.ferry_ok(&["operations", "queue", "-o", "json"])).unwrap();
    assert_eq!(ops["operations"][0]["id"], queued["operation_id"]);
    assert_eq!(ops["operations"][0]["status"], "PENDING", "{ops}");
    assert_eq!(ops["operations"][1]["status"], "IN_PROGRESS", "{ops}");

    serves(&server, "queue", "last");
    let ops: Value = serde_json::from_str(&server.ferry_ok(&["operations", "queue", "-o", "json"])).unwrap();
    let statuses: Vec<&str> =
        ops["operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    // The second change was made on top of the first.
    assert_eq!(server.describe("queue")["source"]["image"]["env"]["TESTAPP_START_DELAY_MS"], "1500");
}

#[test]
fn old_revisions_images_are_pruned_and_a_rollback_pulls_them_again() {
    let server = Server::start_with(&["--keep-revisions", "2"]);
    let images: Vec<String> = ["p1", "p2", "p3"].iter().map(|v| testapp_variant(v)).collect();
    server.ferry_ok(&[
        "service",
        "create",
        "prune",
        "--image",
        &images[0],
        "-e",
        "TESTAPP_MESSAGE=p1",
        "--wait",
    ]);
    // The image as ferry pulled it: by the digest its tag resolved to.
    let first_id = {
        let digest = server.describe("prune")["image_digest"].as_str().unwrap().to_owned();
        let pulled = format!("{}@{digest}", images[0].rsplit_once(':').unwrap().0);
        let out = std::process::Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Id}}", &pulled])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(first_id.starts_with("sha256:"), "{first_id:?}");
    server.ferry_ok(&[
        "service",
        "update",
        "prune",
        "--image",
        &images[1],
        "-e",
        "TESTAPP_MESSAGE=p2",
        "--wait",
    ]);
    assert!(engine_has_image(&first_id), "two revisions are kept");
    server.ferry_ok(&[
        "service",
        "update",
        "prune",
        "--image",
        &images[2],
        "-e",
        "TESTAPP_MESSAGE=p3",
        "--wait",
    ]);
    assert!(
        !engine_has_image(&first_id),
        "the third deployment pruned revision 1's image:\n{}",
        server.log_text()
    );
    let revisions: Value =
        serde_json::from_str(&server.ferry_ok(&["revisions", "prune", "-o", "json"])).unwrap();
    assert_eq!(revisions["revisions"][2]["image_pruned"], true);

    // Rolling back to it pulls it again, by the digest it was deployed with.
    let out = server.ferry(&["service", "rollback", "prune", "--to", "1", "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ferry-testapp-variant:p1-") && stderr(&out).contains("@sha256:"),
        "pulled by digest: {}",
        stderr(&out)
    );
    serves(&server, "prune", "p1");
}

#[test]
fn a_grace_period_lets_a_slow_starter_deploy() {
    let server = Server::start();
    let slow = [
        "--image",
        "",
        "-e",
        "TESTAPP_START_DELAY_MS=2500",
        "--health-interval",
        "1",
        "--unhealthy-threshold",
        "1",
    ];
    let image = testapp_image();
    let with = |name: &'static str, extra: &[&'static str]| {
        let mut args = vec!["service", "create", name];
        args.extend(slow);
        args[4] = &image;
        args.extend(extra);
        args.push("--wait");
        server.ferry(&args)
    };
    let out = with("impatient", &[]);
    assert_eq!(out.status.code(), Some(1), "without a grace period the slow start fails: {}", stderr(&out));
    let out = with("patient", &["--health-grace-period", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.get("patient", "/").status, 200);
}

#[test]
fn an_open_websocket_keeps_working_while_its_old_instance_drains() {
    use std::io::{Read, Write};
    let server = Server::start_with(&["--drain-timeout", "4"]);
    server.ferry_ok(&[
        "service",
        "create",
        "ws",
        "--image",
        &testapp_image(),
        "-e",
        "TESTAPP_MESSAGE=v1",
        "--wait",
    ]);
    let mut ws = std::net::TcpStream::connect(server.http).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ws.write_all(b"GET /ws HTTP/1.1\r\nHost: ws.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        ws.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let echo = |ws: &mut std::net::TcpStream, msg: &[u8]| -> bool {
        let mut back = vec![0u8; msg.len()];
        ws.write_all(msg).is_ok() && ws.read_exact(&mut back).is_ok() && back == msg
    };
    assert!(echo(&mut ws, b"before"));

    let started = std::time::Instant::now();
    server.ferry_ok(&["service", "update", "ws", "-e", "TESTAPP_MESSAGE=v2", "--wait"]);
    serves(&server, "ws", "v2");
    // New requests go to v2, and the WebSocket opened on v1 still works while v1 drains.
    assert!(echo(&mut ws, b"during the drain"), "the upgraded connection was cut by the rollout");
    // The drain ends at its timeout: the old instance stops and its connections close.
    let mut buf = [0u8; 16];
    let closed = matches!(ws.read(&mut buf), Ok(0) | Err(_));
    assert!(closed, "the old instance's connection closes when the drain times out");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "not before the drain timeout: {:?}",
        started.elapsed()
    );
}
