//! Secrets: set from standard input, injected into the app's environment, and nowhere else to be found:
//! not in an API answer, the server's log, an operation's log, the database's files or the container's
//! labels. And the data directory is ferry's alone, even when it was made loose before ferry ran.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, message_of, poll, python_app, testapp_image};

const FIRST: &str = "first-s3cr3t-Zq81";
const SECOND: &str = "second-s3cr3t-Kx27";

fn set(server: &Server, name: &str, value: &str) -> String {
    // `echo` adds a newline; the CLI takes it off.
    let out = server.ferry_input(&["secret", "set", name], format!("{value}\n").as_bytes());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn serves(server: &Server, message: &str) {
    poll(&format!("the app to show {message}"), Duration::from_secs(30), || {
        (message_of(&server.get("web", "/").body) == message).then_some(())
    });
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every place a value could leak to that a user or an operator can read, as text.
fn everything_shown(server: &Server, container: &str) -> Vec<(String, String)> {
    let mut shown = Vec::new();
    for args in [
        vec!["service", "describe", "web", "-o", "json"],
        vec!["service", "list", "-o", "json"],
        vec!["revisions", "web", "-o", "json"],
        vec!["operations", "web", "-o", "json"],
        vec!["secret", "list", "-o", "json"],
        vec!["logs", "web", "--tail", "1000"],
    ] {
        shown.push((args.join(" "), server.ferry_ok(&args)));
    }
    let ops: Value = serde_json::from_str(&server.ferry_ok(&["operations", "web", "-o", "json"])).unwrap();
    for op in ops["operations"].as_array().unwrap() {
        let id = op["id"].as_str().unwrap();
        shown.push((
            format!("operation {id}"),
            server.ferry_ok(&["operations", "web", "--id", id, "-o", "json"]),
        ));
    }
    shown.push(("the server's log".to_owned(), server.log_text()));
    let labels = Command::new("docker")
        .args(["inspect", "-f", "{{json .Config.Labels}}", container])
        .output()
        .unwrap();
    shown.push(("the container's labels".to_owned(), String::from_utf8_lossy(&labels.stdout).into_owned()));
    for file in ["ferry.db", "ferry.db-wal"] {
        let bytes = std::fs::read(server.data_dir.path().join(file)).unwrap_or_default();
        shown.push((file.to_owned(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    shown
}

#[test]
fn a_secret_reaches_the_app_and_nothing_else() {
    let mut server = Server::start();
    let out = set(&server, "app-message", FIRST);
    assert!(out.contains("secret app-message created"), "{out}");

    let image = testapp_image();
    let args =
        ["service", "create", "web", "--image", &image, "--secret", "TESTAPP_MESSAGE=app-message", "--wait"];
    server.ferry_ok(&args);
    serves(&server, FIRST);
    let d = server.describe("web");
    assert_eq!(d["source"]["image"]["secrets"]["TESTAPP_MESSAGE"], "app-message", "{d}");
    let container = d["instances"][0]["container_id"].as_str().unwrap().to_owned();
    // The engine has it in the container's environment (whoever may talk to the engine can read it).
    let env =
        Command::new("docker").args(["inspect", "-f", "{{json .Config.Env}}", &container]).output().unwrap();
    assert!(String::from_utf8_lossy(&env.stdout).contains(&format!("TESTAPP_MESSAGE={FIRST}")));

    // A new value reaches the app with the next deployment.
    let out = set(&server, "app-message", SECOND);
    assert!(out.contains("secret app-message updated") && out.contains("used by web"), "{out}");
    server.ferry_ok(&["service", "deploy", "web", "--wait"]);
    serves(&server, SECOND);
    let container = server.describe("web")["instances"][0]["container_id"].as_str().unwrap().to_owned();

    // In use: not deleted without --force.
    let refused = server.ferry(&["secret", "delete", "app-message"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("used by web"), "{refused:?}");
    let list = server.ferry_ok(&["secret", "list"]);
    assert!(list.contains("app-message") && list.contains("web"), "{list}");

    for (what, text) in everything_shown(&server, &container) {
        for value in [FIRST, SECOND] {
            assert!(!text.contains(value), "{what} shows a secret's value:\n{text}");
        }
    }

    // A data directory someone loosened is made private again at start, and says so.
    let dir = server.data_dir.path().to_owned();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("ferry.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    server.restart();
    assert_eq!(mode(&dir), 0o700);
    for file in ["ferry.db", "ferry.db-wal", "secret.key", "admin-token"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    assert!(server.log_text().contains("made private"), "{}", server.log_text());
    assert_eq!(std::fs::read(dir.join("secret.key")).unwrap().len(), 32);
    serves(&server, SECOND);
}

fn app() -> String {
    python_app("", r#"f"token={os.environ.get('API_TOKEN', '')}\n""#)
}

const YAML: &str = r#"version: 1.0
runtime: python311
build:
  commands:
    build:
      - echo "building with token=[$API_TOKEN]"
run:
  command: python3 app.py
  network:
    port: 8000
  secrets:
    - name: API_TOKEN
      value-from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token"
"#;

/// `run.secrets` in apprunner.yaml: a deployment fails, saying what to do, while the secret is missing;
/// once set, the app gets it and the build never did.
#[test]
fn apprunner_yaml_run_secrets_reach_the_app_but_not_the_build() {
    let flags = crate::support::runtime_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with(&flags);
    let repo = crate::support::Repo::new(&[
        ("apprunner.yaml", YAML),
        ("requirements.txt", "\n"),
        ("app.py", &app()),
    ]);
    let failed = server.ferry(&["service", "create", "py", "--repo", &repo.path(), "--wait"]);
    assert!(!failed.status.success());
    let ops: Value = serde_json::from_str(&server.ferry_ok(&["operations", "py", "-o", "json"])).unwrap();
    let error = ops["operations"][0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.contains(
            "secret api-token, referred to by API_TOKEN, does not exist: ferry secret set api-token"
        ),
        "{ops}"
    );

    set(&server, "api-token", FIRST);
    server.ferry_ok(&["service", "deploy", "py", "--wait"]);
    poll("the app to show its secret", Duration::from_secs(30), || {
        (server.get("py", "/").body == format!("token={FIRST}\n")).then_some(())
    });
    let build = server.ferry_ok(&["logs", "py", "--build"]);
    assert!(build.contains("echo \"building with token=[$API_TOKEN]\""), "{build}");
    assert!(!build.contains(FIRST), "the build has no secrets: {build}");
    assert!(!server.log_text().contains(FIRST));
}
