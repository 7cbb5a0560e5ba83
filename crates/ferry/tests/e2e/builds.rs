//! Building from source: git repositories with apprunner.yaml (Python, Node.js), a Dockerfile, a detected
//! language, a monorepo's subdirectory, and a broken build whose error reaches the user. The runtimes map
//! to an offline Debian image (`scripts/build-runtime-image`), as an air-gapped site would map them.

use serde_json::Value;

use crate::support::{Repo, Server, python_app, runtime_flags, runtime_image};

fn server() -> Server {
    let flags = runtime_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with(&flags)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn python() -> String {
    python_app(
        "\nMESSAGE = \"hello from python\"\n",
        r#"f"{MESSAGE} greeting={os.environ.get('GREETING', '')} port={os.environ['PORT']}\n""#,
    )
}

const PYTHON_YAML: &str = r#"version: 1.0
runtime: python311
build:
  commands:
    build:
      - pip3 install -r requirements.txt
      - python3 -c "print('compiled', open('app.py').read().count('MESSAGE'))"
  env:
    - name: BUILD_FLAVOR
      value: test
run:
  command: python3 app.py
  network:
    port: 8000
  env:
    - name: GREETING
      value: from-yaml
"#;

const NODE_APP: &str = r#"const http = require("http");
const fs = require("fs");
const built = fs.existsSync("built.txt") ? fs.readFileSync("built.txt", "utf8").trim() : "no";
http.createServer((req, res) => res.end(`hello from node built=${built} port=${process.env.PORT}\n`))
  .listen(Number(process.env.PORT), "0.0.0.0");
"#;

#[test]
fn a_python_app_with_apprunner_yaml_builds_serves_and_rebuilds_from_cache() {
    let server = server();
    let repo = Repo::new(&[
        ("apprunner.yaml", PYTHON_YAML),
        ("requirements.txt", "# stdlib only\n"),
        ("app.py", &python()),
    ]);
    let out = server.ferry(&["service", "create", "py", "--repo", &repo.path(), "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = stderr(&out);
    assert!(progress.contains("[Build]"), "build output is shown live: {progress}");
    assert!(progress.contains("apprunner.yaml (python311"), "{progress}");
    assert!(progress.contains("compiled 2"), "the build commands ran: {progress}");
    let r = server.get("py", "/");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body, "hello from python greeting=from-yaml port=8000\n",
        "port and env come from apprunner.yaml"
    );

    let d = server.describe("py");
    assert_eq!(d["source"]["code_repository"]["repository_url"], repo.path());
    let revisions: Value =
        serde_json::from_str(&server.ferry_ok(&["revisions", "py", "-o", "json"])).unwrap();
    let first_commit = revisions["revisions"][0]["commit"].as_str().unwrap().to_owned();
    assert_eq!(first_commit.len(), 40);

    // A one-line change to the code: rebuilt and deployed, the dependency install comes from the cache.
    let second =
        repo.commit(&[("app.py", &python().replace("hello from python", "hello again"))], "one line");
    let out = server.ferry(&["service", "deploy", "py", "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = stderr(&out);
    let lines: Vec<&str> = progress.lines().collect();
    let install =
        lines.iter().position(|l| l.contains("RUN pip3 install -r requirements.txt")).expect(&progress);
    assert!(
        lines[install..(install + 3).min(lines.len())].iter().any(|l| l.contains("Using cache")),
        "the dependency install was cached:\n{progress}"
    );
    assert!(server.get("py", "/").body.starts_with("hello again"));
    let revisions: Value =
        serde_json::from_str(&server.ferry_ok(&["revisions", "py", "-o", "json"])).unwrap();
    assert_eq!(revisions["revisions"][0]["commit"], second.as_str());
    assert_eq!(revisions["revisions"][0]["serving"], true);

    let build_log = server.ferry_ok(&["logs", "py", "--build"]);
    assert!(build_log.contains("Using cache"), "{build_log}");
}

#[test]
fn a_nodejs_app_with_apprunner_yaml_uses_the_revised_build_and_is_pushed_to_the_build_registry() {
    let mut flags = runtime_flags();
    let registry = format!("{}/ferry-builds", crate::support::registry());
    flags.extend(["--build-registry".to_owned(), registry.clone()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with(&flags);
    let yaml = "version: 1.0\nruntime: nodejs22\nbuild:\n  commands:\n    build:\n      - node -e \"require('fs').writeFileSync('built.txt', 'yes')\"\nrun:\n  command: node server.js\n";
    let repo = Repo::new(&[("apprunner.yaml", yaml), ("server.js", NODE_APP)]);
    let out = server.ferry(&["service", "create", "node", "--repo", &repo.path(), "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("revised build"), "{}", stderr(&out));
    let r = server.get("node", "/");
    assert_eq!(
        r.body, "hello from node built=yes port=8080\n",
        "/app of the build stage reached the run stage"
    );
}

#[test]
fn a_dockerfile_a_detected_language_and_a_monorepo_directory_build() {
    let server = server();
    let dockerfile =
        format!("FROM {}\nWORKDIR /srv\nCOPY app.py .\nCMD [\"python3\", \"app.py\"]\n", runtime_image());
    let repo = Repo::new(&[
        ("Dockerfile", &dockerfile),
        ("app.py", &python().replace("hello from python", "hello from a dockerfile")),
        ("services/api/package.json", r#"{"name": "api", "scripts": {"start": "node server.js"}}"#),
        ("services/api/server.js", NODE_APP),
        ("services/web/requirements.txt", ""),
        ("services/web/app.py", &python().replace("hello from python", "hello detected")),
    ]);
    server.ferry_ok(&["service", "create", "docker", "--repo", &repo.path(), "--wait"]);
    assert_eq!(server.get("docker", "/").body, "hello from a dockerfile greeting= port=8080\n");

    let out = server.ferry(&[
        "service",
        "create",
        "api",
        "--repo",
        &repo.path(),
        "--source-dir",
        "services/api",
        "--wait",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("detected nodejs"), "{}", stderr(&out));
    assert_eq!(server.get("api", "/").body, "hello from node built=no port=8080\n");

    let out = server.ferry(&[
        "service",
        "create",
        "web",
        "--repo",
        &repo.path(),
        "--source-dir",
        "/services/web/",
        "--wait",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("detected python"), "{}", stderr(&out));
    assert!(server.get("web", "/").body.starts_with("hello detected"));
}

#[test]
fn a_broken_build_fails_with_the_command_its_exit_code_and_its_output() {
    let server = server();
    let yaml = "version: 1.0\nruntime: python3\nbuild:\n  commands:\n    build:\n      - python3 -c \"print('about to fail'); raise SystemExit(3)\"\nrun:\n  command: python3 app.py\n";
    let repo = Repo::new(&[("apprunner.yaml", yaml), ("app.py", &python())]);
    let out = server.ferry(&["service", "create", "broken", "--repo", &repo.path(), "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let progress = stderr(&out);
    assert!(progress.contains("failed with exit code 3"), "{progress}");
    assert!(progress.contains("python3 -c"), "the failing command is named: {progress}");
    assert!(progress.contains("about to fail"), "its output is shown: {progress}");
    let d = server.describe("broken");
    assert_eq!(d["status"], "CREATE_FAILED");
    assert!(d["latest_operation"]["error"].as_str().unwrap().contains("exit code 3"), "{d}");

    // A malformed apprunner.yaml names its line; nothing detected says what was looked for.
    let bad = Repo::new(&[(
        "apprunner.yaml",
        "version: 1.0\nruntime: cobol\nbuild:\n  commands:\n    build: []\nrun:\n  command: x\n",
    )]);
    let out = server.ferry(&["service", "create", "badyaml", "--repo", &bad.path(), "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("apprunner.yaml line 2"), "{}", stderr(&out));
    let empty = Repo::new(&[("README.md", "nothing to build here\n")]);
    let out = server.ferry(&["service", "create", "empty", "--repo", &empty.path(), "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("requirements.txt") && stderr(&out).contains("package.json"),
        "{}",
        stderr(&out)
    );
    let out = server.ferry(&[
        "service",
        "create",
        "nobranch",
        "--repo",
        &empty.path(),
        "--branch",
        "dev",
        "--wait",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("dev"), "{}", stderr(&out));
}
