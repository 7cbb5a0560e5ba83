//! The main path: create a service from an image, reach it through the router, look at it, delete it.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, poll, testapp_image};

#[test]
fn create_serve_describe_log_and_delete_a_service() {
    let server = Server::start();
    let image = testapp_image();
    let out = server.ferry_ok(&[
        "service",
        "create",
        "web",
        "--image",
        &image,
        "--port",
        "8080",
        "-e",
        "TESTAPP_MESSAGE=hello e2e",
        "--cpu",
        "0.5 vCPU",
        "--memory",
        "1 GB",
        "--wait",
    ]);
    assert!(out.contains("web is RUNNING on revision 1 at http://web.localhost:"), "{out}");

    // Output into a pipe whose reader has gone (`ferry … | head`) ends the command quietly, no panic.
    let mut child = server.ferry_spawn(&["service", "describe", "web"]);
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(matches!(done.status.code(), Some(0 | 141)), "{:?}: {stderr}", done.status);

    // Through ferry's router, by Host.
    let r = server.get("web", "/");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("message=hello e2e"), "{}", r.body);
    assert!(r.body.contains("port=8080"), "PORT is injected: {}", r.body);
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));

    // The router tells the app who asked.
    let headers = server.get("web", "/headers").body;
    assert!(headers.contains("x-forwarded-for: 127.0.0.1"), "{headers}");
    assert!(headers.contains("x-forwarded-proto: http"), "{headers}");
    assert!(headers.contains("x-forwarded-host: web.localhost"), "{headers}");
    assert!(headers.contains("x-request-id: "), "{headers}");

    let list = server.ferry_ok(&["service", "list"]);
    assert!(list.contains("web") && list.contains("RUNNING"), "{list}");
    let listed: Value = serde_json::from_str(&server.ferry_ok(&["service", "list", "-o", "json"])).unwrap();
    assert_eq!(listed["services"][0]["name"], "web");

    let d = server.describe("web");
    assert_eq!(d["name"], "web");
    assert_eq!(d["status"], "RUNNING");
    assert_eq!(d["url"], format!("http://web.localhost:{}", server.http.port()));
    assert!(d["image_digest"].as_str().is_some_and(|s| s.starts_with("sha256:") && s.len() == 71), "{d}");
    assert_eq!(d["instances"].as_array().unwrap().len(), 1);
    assert_eq!(d["instances"][0]["state"], "READY");
    assert_eq!(d["instance"]["cpu"], "0.5 vCPU");

    // The size is enforced as the container's limits, and the port is published on loopback only.
    let container = d["instances"][0]["container_id"].as_str().unwrap().to_owned();
    let inspect = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{json .HostConfig.PortBindings}}",
            &container,
        ])
        .output()
        .unwrap();
    let inspect = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.starts_with("500000000 1073741824 "), "{inspect}");
    assert!(inspect.contains(r#""HostIp":"127.0.0.1""#), "{inspect}");

    // Operations, newest first, with the deployment's log.
    let ops: Value = serde_json::from_str(&server.ferry_ok(&["operations", "web", "-o", "json"])).unwrap();
    assert_eq!(ops["operations"][0]["type"], "CREATE_SERVICE");
    assert_eq!(ops["operations"][0]["status"], "SUCCEEDED");

    // The application log has the app's own lines, stdout and stderr.
    let logs = poll("the request to show in the logs", Duration::from_secs(10), || {
        let logs = server.ferry_ok(&["logs", "web"]);
        logs.contains("GET /headers").then_some(logs)
    });
    assert!(logs.contains("testapp listening on"), "{logs}");
    assert!(logs.contains("testapp stderr check"), "{logs}");

    let out = server.ferry_ok(&["service", "delete", "web", "--wait"]);
    assert!(out.contains("web is deleted"), "{out}");
    assert!(server.containers(true).is_empty(), "nothing is left running");
    assert_eq!(server.get("web", "/").status, 404);
    let out = server.ferry(&["service", "describe", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no service is named"));
}

#[test]
fn logs_follow_shows_new_lines_as_they_are_written() {
    let server = Server::start();
    server.ferry_ok(&["service", "create", "follow", "--image", &testapp_image(), "--wait"]);
    let mut child = std::process::Command::new(crate::support::FERRY)
        .args(["logs", "follow", "--follow", "--tail", "0"])
        .env("FERRY_API_URL", format!("http://{}", server.api))
        .env("FERRY_TOKEN", &server.token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Requests made after `logs --follow` started show up in it.
    let line = poll("a followed log line", Duration::from_secs(20), || {
        server.get("follow", "/status/207");
        rx.try_recv().ok().filter(|l| l.contains("/status/207"))
    });
    assert!(line.contains("GET /status/207 207"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn requests_are_balanced_over_the_ready_instances() {
    let server = Server::start();
    server.ferry_ok(&[
        "service",
        "create",
        "pool",
        "--image",
        &testapp_image(),
        "--instances",
        "2",
        "--wait",
    ]);
    let d = server.describe("pool");
    let ready = d["instances"].as_array().unwrap().iter().filter(|i| i["state"] == "READY").count();
    assert_eq!(ready, 2, "{d}");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let body = server.get("pool", "/").body;
        let instance =
            body.split("instance=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("").to_owned();
        seen.insert(instance);
    }
    assert_eq!(seen.len(), 2, "both instances answered: {seen:?}");
}
