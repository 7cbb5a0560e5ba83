//! The end-to-end harness: a real `ferry server` process on a real Docker engine, a real registry on
//! 127.0.0.1, and the test app image built offline from `tests/testapp`.
//!
//! Each test starts its own server with its own data directory and ports picked by the kernel; its
//! containers carry its own installation label, so tests running side by side never touch each other's
//! containers. Dropping the harness kills the server and removes its containers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// The registry the tests push to and ferry pulls from (`FERRY_TEST_REGISTRY`, default 127.0.0.1:5000).
pub fn registry() -> String {
    std::env::var("FERRY_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".to_owned())
}

/// Polls `check` until it returns `Some`, or panics with `what` after `limit`.
pub fn poll<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        #[allow(clippy::disallowed_methods)] // the pause between two polls of a deadline-bounded wait
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The test app's image in the registry, built and pushed once per version of its source (the tag is a
/// hash of it). Concurrent test processes serialise on a lock file; later ones find it pushed.
pub fn testapp_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE.get_or_init(build_testapp).clone()
}

fn build_testapp() -> String {
    let root = repo_root();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![root.join("tests/testapp")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read testapp dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    // FNV-1a over paths and contents: stable across runs and machines.
    let mut hash: u64 = 0xcbf29ce484222325;
    for f in &files {
        let bytes = [
            f.strip_prefix(&root).unwrap_or(f).to_string_lossy().as_bytes().to_vec(),
            std::fs::read(f).expect("read"),
        ]
        .concat();
        for b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }
    let tag = format!("{hash:016x}");
    let image = format!("{}/ferry-testapp:{tag}", registry());
    let manifest = format!("http://{}/v2/ferry-testapp/manifests/{tag}", registry());
    let script = format!(
        "curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' {manifest} \
         || {}/scripts/build-image ferry-testapp {image} --push",
        root.display()
    );
    let lock = std::env::temp_dir().join("ferry-testapp-image.lock");
    let out = run(Command::new("flock").arg(&lock).args(["sh", "-c", &script]));
    assert!(
        out.status.success(),
        "building the test app image failed (is the registry up? scripts/setup starts it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    image
}

/// A running `ferry server`.
pub struct Server {
    child: Option<Child>,
    pub data_dir: tempfile::TempDir,
    pub api: SocketAddr,
    pub http: SocketAddr,
    /// The router's HTTPS listener, when started with `--https-listen`.
    pub https: Option<SocketAddr>,
    /// The router's internal listener (services calling services); kept across restarts like the others.
    pub internal: SocketAddr,
    pub installation: String,
    pub token: String,
    log: PathBuf,
    extra: Vec<String>,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `ferry server` flags.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), extra)
    }

    /// Starts a server whose router listens on `http` (for tests whose other parts must know its port
    /// before it starts, such as an ACME CA that validates there).
    pub fn start_on(http: SocketAddr, extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut server = Self {
            child: None,
            api: "127.0.0.1:0".parse().expect("addr"),
            http,
            https: None,
            internal: "0.0.0.0:0".parse().expect("addr"),
            installation: String::new(),
            token: String::new(),
            log: data_dir.path().join("server.log"),
            data_dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        server
    }

    /// Starts the server process (again), on the same ports once they are known.
    fn spawn(&mut self) {
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let mut child = Command::new(FERRY)
            .args(["server", "--data-dir"])
            .arg(self.data_dir.path())
            .args(["--api-listen", &self.api.to_string(), "--http-listen", &self.http.to_string()])
            .args(["--internal-listen", &self.internal.to_string()])
            .args(["--stop-grace", "2", "--log", "info,ferry_server=debug"])
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn ferry server");
        let stdout = child.stdout.take().expect("stdout");
        self.child = Some(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the server did not start:\n{}", self.log_text()));
            if let Some(addr) = line.strip_prefix("ferry: internal on ") {
                self.internal = addr.trim().parse().expect("internal addr");
            }
            if let Some(addr) = line.strip_prefix("ferry: https on ") {
                self.https = Some(addr.trim().parse().expect("https addr"));
            }
            if let Some(id) = line.strip_prefix("ferry: installation ") {
                self.installation = id.trim().to_owned();
            }
            let api_line = line
                .strip_prefix("ferry: api on http://")
                .or_else(|| line.strip_prefix("ferry: api on https://"));
            if let Some(rest) = api_line {
                // "ferry: api on http(s)://127.0.0.1:PORT, apps on http://*.localhost:PORT"
                let (api, apps) = rest.split_once(", apps on http://*.localhost:").expect("ready line");
                self.api = api.parse().expect("api addr");
                self.http = SocketAddr::from(([127, 0, 0, 1], apps.trim().parse().expect("router port")));
                break;
            }
        }
        self.token = std::fs::read_to_string(self.data_dir.path().join("admin-token"))
            .expect("admin token")
            .trim()
            .to_owned();
    }

    /// `kill -9`, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for the process to exit by itself.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let status = c.wait().expect("wait for the server");
            assert!(status.success(), "a SIGTERM'd server exits cleanly: {status}\n{}", self.log_text());
        }
    }

    /// SIGTERM, and wait up to `limit` for the process to exit by itself; returns how long it took.
    pub fn terminate_within(&mut self, limit: Duration) -> Duration {
        let mut child = self.child.take().expect("a running server");
        let sent = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = poll("the server to exit after SIGTERM", limit, || child.try_wait().ok().flatten());
        assert!(status.success(), "a SIGTERM'd server exits cleanly: {status}\n{}", self.log_text());
        sent.elapsed()
    }

    /// The CLI against this server, started and left running (for `logs --follow`).
    pub fn ferry_spawn(&self, args: &[&str]) -> Child {
        Command::new(FERRY)
            .args(args)
            .env("FERRY_API_URL", format!("http://{}", self.api))
            .env("FERRY_TOKEN", &self.token)
            .env("HOME", self.data_dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferry")
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the CLI against this server.
    pub fn ferry(&self, args: &[&str]) -> Output {
        run(Command::new(FERRY)
            .args(args)
            .env("FERRY_API_URL", format!("http://{}", self.api))
            .env("FERRY_TOKEN", &self.token)
            .env("HOME", self.data_dir.path()))
    }

    /// Runs the CLI with `input` on its standard input (a pipe, not a terminal).
    pub fn ferry_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new(FERRY)
            .args(args)
            .env("FERRY_API_URL", format!("http://{}", self.api))
            .env("FERRY_TOKEN", &self.token)
            .env("HOME", self.data_dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferry");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input).expect("write stdin");
        child.wait_with_output().expect("wait for ferry")
    }

    /// Runs the CLI and returns its stdout, panicking with its output if it failed.
    pub fn ferry_ok(&self, args: &[&str]) -> String {
        let out = self.ferry(args);
        assert!(
            out.status.success(),
            "ferry {args:?} failed ({}):\n{}\n{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn describe(&self, name: &str) -> Value {
        serde_json::from_str(&self.ferry_ok(&["service", "describe", name, "-o", "json"]))
            .expect("describe json")
    }

    /// A request through the router for `<service>.localhost`.
    pub fn get(&self, service: &str, path: &str) -> Response {
        http(self.http, "GET", &format!("{service}.localhost"), path, &[], b"")
    }

    /// The ids of this server's containers, running or not.
    pub fn containers(&self, all: bool) -> Vec<String> {
        let filter = format!("label=ferry.owner={}", self.installation);
        let mut cmd = Command::new("docker");
        cmd.args(["ps", "-q", "--no-trunc", "--filter", &filter]);
        if all {
            cmd.arg("-a");
        }
        let out = run(&mut cmd);
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
        ids.sort();
        ids
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if !self.installation.is_empty() {
            for id in self.containers(true) {
                let _ = Command::new("docker").args(["rm", "-f", &id]).output();
            }
            // And its services' networks (one each), which the engine has room for only so many of.
            let filter = format!("label=ferry.owner={}", self.installation);
            let networks = Command::new("docker").args(["network", "ls", "-q", "--filter", &filter]).output();
            if let Ok(out) = networks {
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("docker").args(["network", "rm", id]).output();
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end. Status 0 means
/// the connection failed.
pub fn http(
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let attempt = || -> std::io::Result<Response> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(parse_response(&raw))
    };
    attempt().unwrap_or(Response { status: 0, headers: Vec::new(), body: String::new() })
}

fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let chunked =
        headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Response { status, headers, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Constant load through the router: threads sending `GET /` one after another until stopped, counting
/// every answer by the message the app gave (`TESTAPP_MESSAGE`) and keeping every failure.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<LoadReport>>,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub total: usize,
    /// Answers other than 200, with their body.
    pub failures: Vec<(u16, String)>,
    /// Messages in the order they were first seen, with how often.
    pub seen: Vec<(String, usize)>,
}

impl LoadReport {
    fn count(&mut self, message: &str) {
        match self.seen.iter_mut().find(|(m, _)| m == message) {
            Some((_, n)) => *n += 1,
            None => self.seen.push((message.to_owned(), 1)),
        }
    }

    fn merge(&mut self, other: LoadReport) {
        self.total += other.total;
        self.failures.extend(other.failures);
        for (m, n) in other.seen {
            for _ in 0..n {
                self.count(&m);
            }
        }
    }

    pub fn saw(&self, message: &str) -> bool {
        self.seen.iter().any(|(m, _)| m == message)
    }
}

/// The `message=` the test app put in a body.
pub fn message_of(body: &str) -> String {
    body.split("message=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("").to_owned()
}

impl Load {
    pub fn start(router: SocketAddr, service: &str, threads: usize) -> Self {
        Self::start_on(router, service, "/", threads)
    }

    /// The same, sending `GET path`.
    pub fn start_on(router: SocketAddr, service: &str, path: &str, threads: usize) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let host = format!("{service}.localhost");
        let threads = (0..threads)
            .map(|_| {
                let (stop, host, path) = (stop.clone(), host.clone(), path.to_owned());
                std::thread::spawn(move || {
                    let mut report = LoadReport::default();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let r = http(router, "GET", &host, &path, &[], b"");
                        report.total += 1;
                        if r.status == 200 {
                            report.count(&message_of(&r.body));
                        } else {
                            report.failures.push((r.status, r.body));
                        }
                    }
                    report
                })
            })
            .collect();
        Self { stop, threads }
    }

    pub fn stop(self) -> LoadReport {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut all = LoadReport::default();
        for t in self.threads {
            all.merge(t.join().expect("load thread"));
        }
        all
    }
}

/// A copy of the test app's image that differs only by a label, so it has its own id and digest; built
/// and pushed once per variant name and app version. Like an image a CI system pushed from elsewhere, it
/// is in the registry only: the engine keeps no tag of it, so what is on the engine of it is what ferry
/// pulled.
pub fn testapp_variant(variant: &str) -> String {
    let base = testapp_image();
    let tag = base.rsplit(':').next().unwrap_or("latest");
    let image = format!("{}/ferry-testapp-variant:{variant}-{tag}", registry());
    let manifest = format!("http://{}/v2/ferry-testapp-variant/manifests/{variant}-{tag}", registry());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {base}\nLABEL ferry.test.variant={variant}\n"),
    )
    .expect("Dockerfile");
    let script = format!(
        "(curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' {manifest} \
          || (DOCKER_BUILDKIT=0 docker build -q -t {image} {dir} >/dev/null && docker push {image} >/dev/null)) \
         && (docker rmi {image} >/dev/null 2>&1; true)",
        dir = dir.path().display()
    );
    let lock = std::env::temp_dir().join("ferry-testapp-image.lock");
    let out = run(Command::new("flock").arg(&lock).args(["sh", "-c", &script]));
    assert!(out.status.success(), "building {image} failed: {}", String::from_utf8_lossy(&out.stderr));
    image
}

/// Whether the engine has an image, by id or reference.
pub fn engine_has_image(image: &str) -> bool {
    run(Command::new("docker").args(["image", "inspect", image])).status.success()
}

/// The offline base image the build tests map runtimes to (Debian with python3, pip and node), built
/// once by `scripts/build-runtime-image` and cached in the registry.
pub fn runtime_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = repo_root().join("scripts/build-runtime-image");
            let lock = std::env::temp_dir().join("ferry-runtime-image.lock");
            let out = run(Command::new("flock").arg(&lock).arg(&script).arg("--push"));
            assert!(
                out.status.success(),
                "building the runtime image failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let out = run(Command::new(&script).arg("--print"));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .clone()
}

/// The `ferry server` flags that map every runtime the tests use to the offline runtime image.
pub fn runtime_flags() -> Vec<String> {
    let image = runtime_image();
    ["python3", "python311", "nodejs18", "nodejs22", "static"]
        .iter()
        .flat_map(|r| ["--runtime-image".to_owned(), format!("{r}={image}")])
        .collect()
}

/// A web app on Python's standard library (code builds cannot download packages here): `prelude` runs
/// first, and every GET answers the Python string expression `body` (an f-string may read the
/// environment through `os`), on `$PORT`.
pub fn python_app(prelude: &str, body: &str) -> String {
    format!(
        r#"import os, http.server
{prelude}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {body}.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"#
    )
}

/// A git repository in a temporary directory, on branch `main`.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let repo = Self { dir: tempfile::tempdir().expect("tempdir") };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "ferry tests"]);
        repo.git(&["config", "user.email", "tests@ferry.invalid"]);
        // A file unique to this repository, so the engine's layer cache from earlier test runs never
        // stands in for the steps after the source is copied.
        let id = format!("{:?}", std::time::SystemTime::now());
        let mut files = files.to_vec();
        files.push((".test-run", &id));
        repo.commit(&files, "first");
        repo
    }

    pub fn path(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = run(Command::new("git").arg("-C").arg(self.dir.path()).args(args));
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Writes the files and commits them; returns the commit.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let path = self.dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, content).expect("write");
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}
