//! An instance that dies under load is replaced without a failed request: the router holds what it could not
//! send until the control plane publishes the replacement (the router's LIFECYCLE, step 4).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Load, Server, poll, testapp_image};

#[test]
fn the_only_instance_killed_under_load_is_replaced_and_no_request_fails() {
    let server = Server::start();
    server.ferry_ok(&[
        "service",
        "create",
        "phoenix",
        "--image",
        &testapp_image(),
        "--instances",
        "1",
        "--wait",
    ]);
    let before = server.containers(false);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(server.get("phoenix", "/").status, 200);

    let load = Load::start(server.http, "phoenix", 4);
    let killed = Instant::now();
    let out = Command::new("docker").args(["kill", &before[0]]).output().expect("docker kill runs");
    assert!(out.status.success(), "docker kill: {}", String::from_utf8_lossy(&out.stderr));

    // A new container, ready and serving through the router (the engine names a container's host after
    // the first 12 characters of its id, and the test app answers with its host name).
    let replacement = poll("a replacement container", Duration::from_secs(60), || {
        let now = server.containers(false);
        (now.len() == 1 && now != before).then(|| now[0].clone())
    });
    let instance = format!("instance={}", &replacement[..12]);
    poll("the replacement to serve", Duration::from_secs(60), || {
        server.get("phoenix", "/").body.contains(&instance).then_some(())
    });
    eprintln!("the replacement served {:?} after the kill", killed.elapsed());

    // Every request in flight, held or waiting for a new route completes before `stop` returns: the
    // report has the answer of each.
    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "{} of {} requests failed while the instance was replaced: {:?}\n{}",
        report.failures.len(),
        report.total,
        &report.failures[..report.failures.len().min(5)],
        server.log_text()
    );
    assert!(report.total > 10, "the load ran: {}", report.total);
}
