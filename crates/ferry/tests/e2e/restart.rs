//! Restart safety: after `kill -9` the server comes back, adopts the containers that still run, serves
//! them at once and has lost nothing.

use std::time::{Duration, Instant};

use crate::support::{Server, poll, testapp_image};

#[test]
fn a_killed_server_serves_the_same_containers_after_a_restart() {
    let mut server = Server::start();
    server.ferry_ok(&[
        "service",
        "create",
        "keep",
        "--image",
        &testapp_image(),
        "--instances",
        "2",
        "--wait",
    ]);
    assert_eq!(server.get("keep", "/").status, 200);
    let before = server.containers(false);
    assert_eq!(before.len(), 2);
    let ops_before = server.ferry_ok(&["operations", "keep", "-o", "json"]);

    server.kill();
    // The apps keep running while the control plane is down.
    assert_eq!(server.containers(false), before);

    let restarted = Instant::now();
    server.restart();
    // The router serves the adopted instances as soon as it listens: no new health check is needed.
    let r = server.get("keep", "/");
    assert_eq!(r.status, 200, "the first request after the restart: {r:?}\n{}", server.log_text());
    eprintln!("first 200 after restart: {:?}", restarted.elapsed());

    assert_eq!(server.containers(false), before, "the same containers, not restarted ones");
    let d = server.describe("keep");
    assert_eq!(d["status"], "RUNNING");
    let mut ids: Vec<String> = d["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["container_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, before);
    assert_eq!(
        server.ferry_ok(&["operations", "keep", "-o", "json"]),
        ops_before,
        "nothing in the store was lost"
    );

    // And the adopted service is still managed: a crash is noticed and replaced.
    let r = crate::support::http(server.http, "POST", "keep.localhost", "/exit?code=9", &[], b"");
    assert_eq!(r.status, 200);
    poll("the crashed instance to be replaced", Duration::from_secs(30), || {
        let now = server.containers(false);
        (now.len() == 2 && now != before).then_some(())
    });
    poll("two ready instances again", Duration::from_secs(30), || {
        let d = server.describe("keep");
        let ready = d["instances"].as_array()?.iter().filter(|i| i["state"] == "READY").count();
        (ready == 2).then_some(())
    });
}

#[test]
fn a_server_stopped_by_sigterm_leaves_apps_running_and_adopts_them_again() {
    let mut server = Server::start();
    server.ferry_ok(&["service", "create", "calm", "--image", &testapp_image(), "--wait"]);
    let before = server.containers(false);
    server.terminate();
    assert_eq!(server.containers(false), before, "a clean shutdown leaves the apps running");
    server.restart();
    assert_eq!(server.get("calm", "/").status, 200);
    assert_eq!(server.containers(false), before);
}
