//! The router: unknown hosts, no ready instance, health-gated traffic, upgrades.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{Server, poll, testapp_image};

#[test]
fn unknown_hosts_get_404_and_a_starting_service_503_until_healthy() {
    let server = Server::start();
    let r = server.get("nothing-here", "/");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("no service is configured for host nothing-here.localhost"), "{}", r.body);

    // The app takes 1.5 s to listen: until its health check passes, the router says so instead of
    // sending it traffic.
    server.ferry_ok(&[
        "service",
        "create",
        "slow",
        "--image",
        &testapp_image(),
        "-e",
        "TESTAPP_START_DELAY_MS=1500",
    ]);
    let early = poll("the service's route", Duration::from_secs(20), || {
        let r = server.get("slow", "/");
        (r.status != 404).then_some(r)
    });
    assert!(early.status == 503 || early.status == 200, "{early:?}");
    if early.status == 503 {
        assert!(early.body.contains("has no ready instance"), "{}", early.body);
    }
    let mut statuses = Vec::new();
    poll("the service to answer", Duration::from_secs(30), || {
        let r = server.get("slow", "/");
        statuses.push(r.status);
        (r.status == 200).then_some(())
    });
    assert!(
        statuses.iter().all(|s| *s == 503 || *s == 200),
        "no request reached an unready instance: {statuses:?}"
    );
}

#[test]
fn upgraded_connections_and_http2_clients_pass_through_the_router() {
    let server = Server::start();
    server.ferry_ok(&["service", "create", "ws", "--image", &testapp_image(), "--wait"]);
    let mut s = TcpStream::connect(server.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: ws.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for message in [&b"ping"[..], b"and more bytes"] {
        s.write_all(message).unwrap();
        let mut echoed = vec![0u8; message.len()];
        s.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, message);
    }

    // A client speaking HTTP/2 with prior knowledge (h2c) on the same port gets the same answer.
    let http1 = server.get("ws", "/");
    assert_eq!(http1.status, 200);
    let port = server.http.port();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "--max-time", "10", "-w", "\n%{http_version} %{http_code}"])
        .args(["--resolve", &format!("ws.localhost:{port}:127.0.0.1")])
        .arg(format!("http://ws.localhost:{port}/"))
        .output()
        .expect("curl runs");
    let out = String::from_utf8_lossy(&out.stdout);
    let (body, status) = out.rsplit_once('\n').unwrap();
    assert_eq!(status, "2 200", "{out}");
    assert_eq!(body, http1.body);
}

#[test]
fn an_instance_that_turns_unhealthy_leaves_the_pool_and_is_replaced() {
    let server = Server::start();
    server.ferry_ok(&[
        "service",
        "create",
        "flaky",
        "--image",
        &testapp_image(),
        "--instances",
        "2",
        "--health-protocol",
        "http",
        "--health-path",
        "/healthz",
        "--health-interval",
        "1",
        "--unhealthy-threshold",
        "2",
        "--wait",
    ]);
    let d = server.describe("flaky");
    let sick = &d["instances"][0];
    let sick_container = sick["container_id"].as_str().unwrap().to_owned();
    let sick_host = sick_container[..12].to_owned(); // the app's instance name is its container's hostname
    let address = sick["address"].as_str().unwrap().parse().unwrap();
    // Straight to that one instance, not through the router.
    let r = crate::support::http(address, "POST", "flaky.localhost", "/healthz/fail", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");

    poll("the unhealthy instance to be replaced", Duration::from_secs(30), || {
        let d = server.describe("flaky");
        let instances = d["instances"].as_array()?;
        let ready = instances.iter().filter(|i| i["state"] == "READY").count();
        let gone = instances.iter().all(|i| i["container_id"] != sick_container.as_str());
        (ready == 2 && gone).then_some(())
    });
    assert!(!server.containers(true).contains(&sick_container), "the unhealthy container was removed");
    for _ in 0..20 {
        let r = server.get("flaky", "/");
        assert_eq!(r.status, 200);
        assert!(
            !r.body.contains(&format!("instance={sick_host}")),
            "the unhealthy instance got traffic: {}",
            r.body
        );
    }
}

#[test]
fn the_request_timeout_is_set_shown_and_bounds_only_the_wait_for_the_response_head() {
    let server = Server::start();
    let image = testapp_image();
    server.ferry_ok(&["service", "create", "timed", "--image", &image, "--request-timeout", "1", "--wait"]);
    let described = server.describe("timed");
    assert_eq!(described["request_timeout"], 1);
    assert_eq!(described["protocol"], "http1");
    let human = server.ferry_ok(&["service", "describe", "timed"]);
    assert!(human.contains("Request timeout 1s"), "{human}");
    assert!(human.contains("Protocol        http1"), "{human}");

    let late = server.get("timed", "/slow?ms=2500");
    assert_eq!(late.status, 504, "{late:?}");
    assert!(
        late.body.contains("the instance of service timed did not answer within the request timeout of 1 s"),
        "{}",
        late.body
    );
    // Five chunks 400 ms apart: the response lasts longer than the timeout and is not cut.
    let streamed = server.get("timed", "/stream?chunks=5&ms=400");
    assert_eq!(streamed.status, 200, "{streamed:?}");
    assert_eq!(streamed.body.lines().count(), 5, "{}", streamed.body);

    let refused = server.ferry(&["service", "update", "timed", "--request-timeout", "0"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("request_timeout") && stderr.contains("1 to 3600"), "{stderr}");

    server.ferry_ok(&["service", "update", "timed", "--request-timeout", "5", "--wait"]);
    assert_eq!(server.describe("timed")["request_timeout"], 5);
    poll("the new timeout in the router", Duration::from_secs(20), || {
        (server.get("timed", "/slow?ms=1500").status == 200).then_some(())
    });
}
