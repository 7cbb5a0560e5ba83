//! Connections: a service builds from a private repository with a connection's credentials, read at each
//! build. The repository is served over HTTP with Basic auth: a bare repository behind `git http-backend`
//! (git's smart HTTP, as git hosts serve it), run by a python3 `http.server` (stdlib only) that answers
//! 401 without the right user and password. (Smart HTTP, because that is what a private host speaks; a
//! dumb-HTTP host, fetched whole, is ferry-build's git tests' concern.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::support::{Repo, Server, python_app, runtime_flags, runtime_image};

const USER: &str = "ferry-bot";
const PASSWORD: &str = "pw-e2e-correct-horse";
const WRONG: &str = "pw-e2e-wrong-battery";

/// Serves the repositories under argv[1] through `git http-backend` to requests with `Authorization:
/// Basic base64(argv[2]:argv[3])`, 401 to others; prints its port.
const GIT_HOST: &str = r#"
import base64, http.server, os, subprocess, sys
root, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

class Handler(http.server.BaseHTTPRequestHandler):
    def git(self):
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER=user,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)),
                   HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
                   GIT_PROTOCOL=self.headers.get("Git-Protocol", ""))
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = git

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A private git host on 127.0.0.1, stopped when dropped.
struct GitHost {
    child: Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl GitHost {
    /// Serves a bare copy of `repo` as `/app.git`.
    fn serve(repo: &Repo) -> Self {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("app.git");
        git(&["clone", "-q", "--bare", &repo.path(), bare.to_str().unwrap()]);
        let mut child = Command::new("python3")
            .args(["-c", GIT_HOST, root.path().to_str().unwrap(), USER, PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the git host printed {line:?}"));
        Self { child, port, _root: root }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/app.git", self.port)
    }
}

impl Drop for GitHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git(args: &[&str]) {
    let out = Command::new("git").args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn app() -> String {
    python_app("", r#""hello from a private repository\n""#)
}

#[test]
fn a_private_repository_builds_with_its_connections_credentials() {
    let flags = runtime_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with(&flags);
    let dockerfile =
        format!("FROM {}\nWORKDIR /srv\nCOPY app.py .\nCMD [\"python3\", \"app.py\"]\n", runtime_image());
    let repo = Repo::new(&[("Dockerfile", &dockerfile), ("app.py", &app())]);
    let host = GitHost::serve(&repo);

    let made = server.ferry_ok(&["connection", "create", "private-git"]);
    assert!(made.contains("PENDING_HANDSHAKE"), "{made}");

    // No credentials yet: the build says how to give them.
    let url = host.url();
    let create = ["service", "create", "private", "--repo", &url, "--connection", "private-git", "--wait"];
    let out = server.ferry(&create);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "connection private-git has no credentials yet: run `ferry connection credentials private-git`"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.describe("private")["source"]["code_repository"]["connection"], "private-git");

    // Wrong credentials: authentication failed, and the password is nowhere in what the user reads.
    let credentials = ["connection", "credentials", "private-git", "--username", USER];
    let out = server.ferry_input(&credentials, format!("{WRONG}\n").as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.ferry(&["service", "deploy", "private", "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("authentication failed"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(WRONG), "the password is shown: {}", stderr(&out));

    // The right ones: the next deployment builds and serves, the service untouched.
    let out = server.ferry_input(&credentials, PASSWORD.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("used by private"), "{out:?}");
    let out = server.ferry(&["service", "deploy", "private", "--wait"]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), server.log_text());
    let r = server.get("private", "/");
    assert_eq!((r.status, r.body.as_str()), (200, "hello from a private repository\n"), "{r:?}");

    let list: Value = serde_json::from_str(&server.ferry_ok(&["connection", "list", "-o", "json"])).unwrap();
    let connection = &list["connections"][0];
    assert_eq!(
        (&connection["name"], &connection["provider"], &connection["status"], &connection["services"]),
        (
            &Value::from("private-git"),
            &Value::from("GIT"),
            &Value::from("AVAILABLE"),
            &serde_json::json!(["private"])
        )
    );
    let table = server.ferry_ok(&["connection", "list"]);
    assert!(
        table.contains("USED BY") && table.contains("AVAILABLE") && table.contains("private\n"),
        "{table}"
    );

    // In use: kept, naming the service.
    let out = server.ferry(&["connection", "delete", "private-git"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("used by private"), "{}", stderr(&out));

    // Nothing the user or the operator reads holds a password.
    let ops = server.ferry_ok(&["operations", "private", "-o", "json"]);
    let ids: Value = serde_json::from_str(&ops).unwrap();
    let mut logs = server.log_text() + &server.ferry_ok(&["logs", "private", "--build"]) + &list.to_string();
    for op in ids["operations"].as_array().unwrap() {
        logs += &server.ferry_ok(&["operations", "private", "--id", op["id"].as_str().unwrap()]);
    }
    assert!(logs.contains("authentication failed"), "the operations' logs were read");
    for secret in [PASSWORD, WRONG] {
        assert!(!logs.contains(secret), "{secret} is in a log");
    }

    // Deleted anyway: the next build says the connection is gone.
    server.ferry_ok(&["connection", "delete", "private-git", "--force"]);
    let out = server.ferry(&["service", "deploy", "private", "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("connection private-git no longer exists"), "{}", stderr(&out));
}
