//! Helpers for the Docker tests: the test image, a local registry, cleanup guards, polling.
//!
//! The docker CLI is used here, beside the driver, to set things up and to check what the driver did
//! independently of the driver's own parsing.

use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use ferry_model::{InstanceId, ServiceId, ServiceName};
use ferry_runtime::{ContainerSpec, InstanceIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// The test app; see its header for what it does.
const APP_SOURCE: &str = include_str!("../testapp/app.c");
const DOCKERFILE: &str = "FROM scratch\nCOPY app /app\nEXPOSE 80\nENTRYPOINT [\"/app\"]\nCMD [\"serve\"]\n";
/// The port the app listens on in these tests.
pub const APP_PORT: u16 = 8080;
/// How long anything the tests wait for may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Runs the docker CLI; its stdout, trimmed, or an error with its stderr.
pub fn docker(args: &[&str]) -> anyhow::Result<String> {
    docker_with_stdin(args, None)
}

pub fn docker_with_stdin(args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    let mut child = Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run the docker cli")?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `docker inspect` of one object, as JSON.
pub fn inspect_json(id: &str) -> anyhow::Result<serde_json::Value> {
    let text = docker(&["inspect", id])?;
    let mut all: Vec<serde_json::Value> = serde_json::from_str(&text)?;
    all.pop().context("docker inspect printed nothing")
}

/// The test image, built once per run (and not at all if an image of this source exists).
pub fn test_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        build_test_image().expect("the test image builds (needs gcc with static libc and docker)")
    })
}

fn build_test_image() -> anyhow::Result<String> {
    let tag = format!("ferry-runtime-test:{:016x}", fnv1a(&[APP_SOURCE, DOCKERFILE]));
    if docker(&["image", "inspect", &tag]).is_ok() {
        return Ok(tag);
    }
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("app.c"), APP_SOURCE)?;
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE)?;
    let gcc = Command::new("gcc")
        .args(["-static", "-O2", "-o", "app", "app.c"])
        .current_dir(dir.path())
        .output()
        .context("cannot run gcc")?;
    if !gcc.status.success() {
        bail!("gcc: {}", String::from_utf8_lossy(&gcc.stderr));
    }
    docker(&["build", "-q", "-t", &tag, &dir.path().display().to_string()])?;
    Ok(tag)
}

/// The offline runtime image (Debian with a shell, python3 and node) from `scripts/build-runtime-image`,
/// for builds that need a shell. The engine may have it already; if not, the script builds it (about
/// two minutes: it needs root and Debian's mirror) unless the registry has it, and then it is pulled.
pub fn runtime_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        runtime_image_here().expect("the runtime image is there (see scripts/build-runtime-image --help)")
    })
}

fn runtime_image_here() -> anyhow::Result<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-runtime-image");
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&script).args(args).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!("{} {}: {}", script.display(), args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let reference = run(&["--print"])?;
    if docker(&["image", "inspect", &reference]).is_err() {
        run(&[])?;
        if docker(&["image", "inspect", &reference]).is_err() {
            docker(&["pull", &reference])?;
        }
    }
    Ok(reference)
}

/// A build context: `files` (path, content) in a tar, as the engine takes it.
pub fn tar_context(files: &[(&str, &str)]) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    for (path, content) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    let out = Command::new("tar").arg("-C").arg(dir.path()).args(["-cf", "-", "."]).output()?;
    if !out.status.success() {
        bail!("tar: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out.stdout)
}

/// An image of its own (the test image plus a layer no other image has), tagged `tag`: pulling it
/// downloads something, and removing it touches no other test.
pub fn unique_image(tag: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("nonce"), InstanceId::generate().as_str())?;
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {}\nCOPY nonce /nonce\n", test_image()))?;
    docker(&["build", "-q", "-t", tag, &dir.path().display().to_string()])?;
    Ok(())
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

thread_local! {
    /// The services this thread's test made identities for: [`Cleanup`] removes their networks (a
    /// `#[tokio::test]` runs on its own thread, its guard too).
    static SERVICES: std::cell::RefCell<Vec<ServiceId>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A unique identity for a test's container, of a service of its own.
pub fn identity(service: &str, revision: u32) -> InstanceIdentity {
    let service_id = ServiceId::generate();
    SERVICES.with_borrow_mut(|s| s.push(service_id.clone()));
    InstanceIdentity {
        service_name: ServiceName::parse(service).expect("a valid test service name"),
        service_id,
        revision,
        instance_id: InstanceId::generate(),
    }
}

/// The test app, listening on [`APP_PORT`], with half a CPU and 64 MiB.
pub fn spec(service: &str, env: &[(&str, &str)]) -> ContainerSpec {
    let mut all = vec![("PORT".to_owned(), APP_PORT.to_string())];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ContainerSpec {
        identity: identity(service, 1),
        image: test_image().to_owned(),
        env: all,
        command: None,
        port: APP_PORT,
        nano_cpus: 500_000_000,
        memory_bytes: 64 << 20,
        read_only_root: false,
    }
}

/// Removes the containers, their services' networks, and the images a test made, whether it passed
/// or not (a poisoned lock is still cleaned up: the guard runs while a failed test unwinds).
#[derive(Default)]
pub struct Cleanup {
    containers: Mutex<Vec<String>>,
    images: Mutex<Vec<String>>,
}

impl Cleanup {
    pub fn container(&self, id_or_name: &str) {
        self.containers.lock().unwrap_or_else(PoisonError::into_inner).push(id_or_name.to_owned());
    }

    pub fn image(&self, reference: &str) {
        self.images.lock().unwrap_or_else(PoisonError::into_inner).push(reference.to_owned());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in self.containers.get_mut().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = docker(&["rm", "-f", "-v", &id]);
        }
        for service in SERVICES.take() {
            let filter = format!("label=ferry.service-id={service}");
            for network in docker(&["network", "ls", "-q", "--filter", &filter]).unwrap_or_default().lines() {
                let _ = docker(&["network", "rm", network]);
            }
        }
        for image in self.images.get_mut().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = docker(&["rmi", "-f", &image]);
        }
    }
}

/// A registry on 127.0.0.1 with basic auth, stopped when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// The docker CLI's configuration for it (logged in), apart from the user's.
    cli_config: String,
    _dir: tempfile::TempDir,
}

pub const REGISTRY_USER: &str = "ferry";
pub const REGISTRY_PASSWORD: &str = "ferry-test-password";
/// bcrypt (cost 4) of [`REGISTRY_PASSWORD`].
const HTPASSWD: &str = "ferry:$2b$04$2zNBTN78d7zn3si6K8OdDOCQ/vEM2jpMdDBaqKQdp/5.r76HhuTRS\n";

impl Registry {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let host = format!("127.0.0.1:{port}");
        let root = dir.path();
        std::fs::write(root.join("htpasswd"), HTPASSWD)?;
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {data}\n\
             http:\n  addr: {host}\nauth:\n  htpasswd:\n    realm: ferry-test\n    path: {htpasswd}\n",
            data = root.join("data").display(),
            htpasswd = root.join("htpasswd").display(),
        );
        std::fs::write(root.join("config.yml"), config)?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(root.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("registry.log"))?)
            .spawn()
            .context("cannot start docker-registry (the Debian package of the same name)")?;
        let cli_config = root.join("cli").display().to_string();
        let registry = Self { child, host, cli_config, _dir: dir };
        let addr: SocketAddr = registry.host.parse()?;
        eventually("the registry to answer", || async move {
            Ok(http_get(addr, "/v2/").await.ok().filter(|r| r.contains("401")))
        })
        .await?;
        docker_with_stdin(
            &[
                "--config",
                &registry.cli_config,
                "login",
                "-u",
                REGISTRY_USER,
                "--password-stdin",
                &registry.host,
            ],
            Some(REGISTRY_PASSWORD),
        )?;
        Ok(registry)
    }

    /// The digest the registry has for `repository:tag` (its `Docker-Content-Digest` for the schema 2
    /// manifest), asked with curl.
    pub fn manifest_digest(&self, repository: &str, tag: &str) -> anyhow::Result<String> {
        let url = format!("http://{}/v2/{repository}/manifests/{tag}", self.host);
        let out = Command::new("curl")
            .args(["-fsSI", "--max-time", "10", "-u", &format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}")])
            .args(["-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", &url])
            .output()
            .context("cannot run curl")?;
        if !out.status.success() {
            bail!("curl -I {url}: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let headers = String::from_utf8_lossy(&out.stdout);
        headers
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_owned())
            })
            .with_context(|| format!("no Docker-Content-Digest from {url}: {headers}"))
    }

    /// Pushes a local image as `reference` (in this registry); the pushed manifest's digest.
    pub fn push(&self, local: &str, reference: &str) -> anyhow::Result<String> {
        docker(&["tag", local, reference])?;
        docker(&["--config", &self.cli_config, "push", reference])?;
        let pushed = inspect_json(reference)?;
        let digests = pushed["RepoDigests"].as_array().context("no RepoDigests")?;
        let name = reference.rsplit_once(':').map_or(reference, |(name, _)| name);
        digests
            .iter()
            .filter_map(|d| d.as_str()?.split_once('@'))
            .find(|(n, _)| *n == name)
            .map(|(_, digest)| digest.to_owned())
            .context("the push left no digest")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET: the whole response, status line included.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        anyhow::Ok(response)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .context("the app did not answer within 5s")?
}

/// Polls `check` until it gives a value, for at most [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("gave up waiting for {what} after {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `next` on a stream, for at most [`DEADLINE`].
pub async fn next_within<S: futures_util::Stream + Unpin>(
    stream: &mut S,
    what: &str,
) -> anyhow::Result<Option<S::Item>> {
    use futures_util::StreamExt;
    tokio::time::timeout(DEADLINE, stream.next()).await.with_context(|| format!("gave up waiting for {what}"))
}
