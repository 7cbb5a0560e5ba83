//! The control plane under pressure: concurrent changes, a locked database, a stalled engine, a
//! SIGTERM with a log stream open, and images a user tagged on the same engine.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, poll, registry, testapp_image};

/// Requests `GET /` to `service` through the router for `window`; returns the slowest answer's time and
/// how many answered 200.
fn slowest_request(server: &Server, service: &str, window: Duration) -> (Duration, usize) {
    let until = Instant::now() + window;
    let (mut slowest, mut ok) = (Duration::ZERO, 0);
    while Instant::now() < until {
        let sent = Instant::now();
        let r = server.get(service, "/");
        slowest = slowest.max(sent.elapsed());
        assert_eq!(r.status, 200, "{r:?}");
        ok += 1;
    }
    (slowest, ok)
}

#[test]
fn concurrent_updates_are_all_queued_each_with_its_own_revision() {
    let server = Server::start();
    server.ferry_ok(&["service", "create", "race", "--image", &testapp_image(), "--wait"]);
    let server = Arc::new(server);
    let updates: Vec<_> = (0..10)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || server.ferry(&["service", "update", "race", "-e", &format!("V{i}=1")]))
        })
        .collect();
    for update in updates {
        let out = update.join().unwrap();
        assert!(out.status.success(), "every update is queued: {}", String::from_utf8_lossy(&out.stderr));
    }
    let revisions: Value =
        serde_json::from_str(&server.ferry_ok(&["revisions", "race", "-o", "json"])).unwrap();
    let numbers: Vec<u64> =
        revisions["revisions"].as_array().unwrap().iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=11).rev().collect::<Vec<_>>());
    poll("the queue to drain", Duration::from_secs(120), || {
        let d = server.describe("race");
        (d["status"] == "RUNNING" && d["active_revision"] == 11).then_some(())
    });
    let env = &server.describe("race")["source"]["image"]["env"];
    assert_eq!(env.as_object().unwrap().len(), 10, "no change was lost: {env}");
}

/// While another process holds the database's write lock for longer than the store waits for it, the
/// control plane stalls (a deployment is under way, the apps write logs) but the router does not.
#[test]
fn a_locked_database_stalls_the_control_plane_but_not_the_router() {
    let server = Server::start();
    let image = testapp_image();
    server.ferry_ok(&["service", "create", "steady", "--image", &image, "--wait"]);
    server.ferry_ok(&["service", "create", "busy", "--image", &image, "--wait"]);
    let (before, _) = slowest_request(&server, "steady", Duration::from_millis(500));

    // A deployment whose instance takes a while to listen: the controller has state to write throughout.
    server.ferry_ok(&["service", "update", "busy", "-e", "TESTAPP_START_DELAY_MS=2000"]);
    let db = rusqlite::Connection::open(server.data_dir.path().join("ferry.db")).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (during, answered) = slowest_request(&server, "steady", Duration::from_secs(7));
    // The control plane was held up meanwhile: the deployment could not end while the lock was held.
    let d = server.describe("busy");
    assert_ne!(d["latest_operation"]["status"], "SUCCEEDED", "the deployment ended under the lock: {d}");
    db.execute_batch("COMMIT").unwrap();
    eprintln!(
        "slowest request: {before:?} before, {during:?} with the database locked ({answered} answered)"
    );
    assert!(
        during < Duration::from_secs(1),
        "a request waited {during:?} while the database was locked\n{}",
        server.log_text()
    );

    // Once the lock is gone the control plane carries on where it was.
    poll("the deployment to finish", Duration::from_secs(90), || {
        let d = server.describe("busy");
        (d["latest_operation"]["status"] == "SUCCEEDED").then_some(())
    });
    assert_eq!(server.get("busy", "/").status, 200);
}

/// A gate the test opens and closes: a stalled engine socket.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        while *closed {
            closed = self.opened.wait(closed).unwrap();
        }
    }
}

/// A proxy in front of the engine's socket that stops passing bytes while its gate is closed: the engine
/// as a control plane sees it when the engine hangs.
fn engine_proxy(dir: &Path, gate: Arc<Gate>) -> PathBuf {
    let path = dir.join("engine.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else { continue };
            for (mut from, mut to) in
                [(client.try_clone().unwrap(), engine.try_clone().unwrap()), (engine, client)]
            {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        gate.pass();
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    path
}

#[test]
fn a_stalled_engine_stalls_the_control_plane_but_not_the_router() {
    let sockets = tempfile::tempdir().unwrap();
    let gate = Arc::new(Gate::default());
    let socket = engine_proxy(sockets.path(), gate.clone());
    let server = Server::start_with(&["--docker-socket", socket.to_str().unwrap()]);
    let image = testapp_image();
    server.ferry_ok(&["service", "create", "steady", "--image", &image, "--wait"]);
    server.ferry_ok(&["service", "create", "busy", "--image", &image, "--wait"]);

    gate.set(true);
    // Work that needs the engine: a deployment (it cannot resolve, pull or start anything now).
    server.ferry_ok(&["service", "update", "busy", "-e", "STALLED=1"]);
    let (during, answered) = slowest_request(&server, "steady", Duration::from_secs(4));
    let d = server.describe("busy");
    assert_eq!(d["latest_operation"]["status"], "IN_PROGRESS", "the deployment waits on the engine: {d}");
    gate.set(false);
    eprintln!("slowest request with the engine stalled: {during:?} ({answered} answered)");
    assert!(during < Duration::from_secs(1), "a request waited {during:?} while the engine was stalled");

    poll("the deployment to finish", Duration::from_secs(90), || {
        let d = server.describe("busy");
        (d["latest_operation"]["status"] == "SUCCEEDED").then_some(())
    });
}

#[test]
fn sigterm_ends_the_server_within_its_grace_with_a_log_stream_open_and_apps_keep_running() {
    let mut server = Server::start_with(&["--shutdown-grace", "3"]);
    server.ferry_ok(&["service", "create", "chatty", "--image", &testapp_image(), "--wait"]);
    let mut follow = server.ferry_spawn(&["logs", "chatty", "--follow"]);
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("readable");
    assert!(first.contains("testapp"), "{first}");
    let running = server.containers(false);

    let took = server.terminate_within(Duration::from_secs(20));
    eprintln!("the server exited {took:?} after SIGTERM");
    // Within its grace (3 s) and the moment it then gives leftovers, not whenever the log stream ends.
    assert!(took < Duration::from_secs(8), "SIGTERM took {took:?} with a log stream open");
    let status =
        poll("`ferry logs --follow` to end", Duration::from_secs(10), || follow.try_wait().ok().flatten());
    assert!(status.success(), "the log stream ended cleanly: {status}");
    assert_eq!(server.containers(false), running, "the app keeps running");
    server.restart();
    assert_eq!(server.get("chatty", "/").status, 200);
}

#[test]
fn deleting_a_service_leaves_the_tags_a_user_made_on_the_engine() {
    let server = Server::start();
    let user_tag = format!("{}/ferry-user-image:{}", registry(), server.installation);
    let run = |args: &[&str]| {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // An image of the user's own, built on this engine: its only name is the user's tag.
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!("FROM {}\nLABEL ferry.test.user={}\n", testapp_image(), server.installation);
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", &user_tag, dir.path().to_str().unwrap()])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "docker build: {}", String::from_utf8_lossy(&out.stderr));
    run(&["push", &user_tag]);
    server.ferry_ok(&["service", "create", "mine", "--image", &user_tag, "--wait"]);
    server.ferry_ok(&["service", "delete", "mine", "--wait"]);
    let kept = Command::new("docker").args(["image", "inspect", &user_tag]).output().unwrap();
    assert!(kept.status.success(), "the user's tag {user_tag} is still on the engine");
    run(&["rmi", &user_tag]);
}
