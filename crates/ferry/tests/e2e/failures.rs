//! Bad input gets a clear error naming the field; a deployment that cannot work ends CREATE_FAILED with
//! the reason and the app's own last words, and leaves nothing running.

use serde_json::Value;

use crate::support::{Server, registry, testapp_image};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn invalid_input_is_refused_with_the_field_and_the_allowed_values() {
    let server = Server::start();
    let image = testapp_image();
    let cases: &[(&[&str], &str)] = &[
        (&["service", "create", "_bad", "--image", &image], "name"),
        (&["service", "create", "my.app", "--image", &image], "1 to 40 letters"),
        (
            &["service", "create", "web", "--image", &image, "--cpu", "3 vCPU"],
            "0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU",
        ),
        (
            &["service", "create", "web", "--image", &image, "--cpu", "1 vCPU", "--memory", "8 GB"],
            "1 vCPU goes with 2 GB, 3 GB or 4 GB",
        ),
        (&["service", "create", "web", "--image", &image, "--port", "70000"], "source.image.port"),
        (&["service", "create", "web", "--image", "Not/An:Image:Ref"], "source.image.identifier"),
        (&["service", "create", "web", "--image", &image, "-e", "PORT=1"], "PORT is reserved"),
        (&["service", "create", "web", "--image", &image, "--health-protocol", "udp"], "TCP or HTTP"),
        (
            &["service", "create", "web", "--image", &image, "--health-interval", "30"],
            "health_check.interval",
        ),
        // Refused by the CLI itself, before it asks the server.
        (&["service", "create", "web", "--image", &image, "-e", "NOEQUALS"], "is not NAME=VALUE"),
        (
            &["service", "create", "web", "--repo", "/srv/git/x", "--git-ssh-key", "/nonexistent/key"],
            "cannot read the SSH key /nonexistent/key",
        ),
        (&["service", "create", "web", "--image", &image, "-e", "MY VAR=1"], "spaces or control characters"),
    ];
    for (args, expected) in cases {
        let out = server.ferry(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    // The same input straight to the API: 400 with the field, and without a token: 401.
    let r = crate::support::http(
        server.api,
        "POST",
        "localhost",
        "/v1/services",
        &[("authorization", &format!("Bearer {}", server.token)), ("content-type", "application/json")],
        br#"{"name":"web","source":{"image":{"identifier":"web","port":0}}}"#,
    );
    assert_eq!(r.status, 400);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"]["field"], "source.image.port");
    let r = crate::support::http(server.api, "GET", "localhost", "/v1/services", &[], b"");
    assert_eq!(r.status, 401);
    let r = crate::support::http(
        server.api,
        "GET",
        "localhost",
        "/v1/services",
        &[("authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(r.status, 401);

    let list: Value = serde_json::from_str(&server.ferry_ok(&["service", "list", "-o", "json"])).unwrap();
    assert_eq!(list["services"], Value::Array(vec![]), "nothing was created");
    assert!(server.containers(true).is_empty());
}

#[test]
fn a_container_that_exits_fails_the_create_with_its_output() {
    let server = Server::start();
    let out = server.ferry(&[
        "service",
        "create",
        "crashy",
        "--image",
        &testapp_image(),
        "-e",
        "TESTAPP_EXIT_CODE=3",
        "--wait",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let progress = stderr(&out);
    assert!(progress.contains("exited with code 3"), "{progress}");
    assert!(progress.contains("testapp: exiting with code 3 on purpose"), "the app's stdout: {progress}");
    assert!(progress.contains("testapp: fatal: configured to exit"), "the app's stderr: {progress}");

    let d = server.describe("crashy");
    assert_eq!(d["status"], "CREATE_FAILED");
    assert_eq!(d["latest_operation"]["status"], "FAILED");
    assert!(d["latest_operation"]["error"].as_str().unwrap().contains("exited with code 3"));
    let op = d["latest_operation"]["id"].as_str().unwrap();
    let log = server.ferry_ok(&["operations", "crashy", "--id", op]);
    assert!(log.contains("testapp: exiting with code 3 on purpose"), "{log}");
    crate::support::poll("the failed instance to be removed", std::time::Duration::from_secs(20), || {
        server.containers(true).is_empty().then_some(())
    });
    assert_eq!(server.get("crashy", "/").status, 503, "a failed service has no instance to serve");

    // A failed service can be deleted, and its name used again.
    server.ferry_ok(&["service", "delete", "crashy", "--wait"]);
    server.ferry_ok(&["service", "create", "crashy", "--image", &testapp_image(), "--wait"]);
    assert_eq!(server.get("crashy", "/").status, 200);
}

#[test]
fn an_image_that_cannot_be_pulled_fails_the_create_with_the_engines_error() {
    let server = Server::start();
    let missing = format!("{}/ferry-no-such-image:v404", registry());
    let out = server.ferry(&["service", "create", "ghost", "--image", &missing, "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("could not be pulled"), "{}", stderr(&out));
    assert!(stderr(&out).contains("ferry-no-such-image"), "{}", stderr(&out));
    assert_eq!(server.describe("ghost")["status"], "CREATE_FAILED");
    assert!(server.containers(true).is_empty());
}

#[test]
fn an_instance_that_never_gets_healthy_fails_the_create() {
    let server = Server::start();
    let out = server.ferry(&[
        "service",
        "create",
        "sick",
        "--image",
        &testapp_image(),
        "-e",
        "TESTAPP_UNHEALTHY=1",
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
    assert_eq!(out.status.code(), Some(1));
    let progress = stderr(&out);
    assert!(progress.contains("GET /healthz answered 500"), "{progress}");
    assert!(progress.contains("GET /healthz 500"), "the app's own log lines: {progress}");
    assert_eq!(server.describe("sick")["status"], "CREATE_FAILED");
    crate::support::poll("the unhealthy instance to be removed", std::time::Duration::from_secs(20), || {
        server.containers(true).is_empty().then_some(())
    });
}
