//! Test support (feature `testing`): a real ACME server, Debian's `pebble`, with `pebble-challtestsrv` as its DNS
//! (every name resolves to 127.0.0.1; TXT records set over its management API), and challenge servers that answer
//! HTTP-01 and TLS-ALPN-01 on 127.0.0.1 for a test that has no router of its own.
//!
//! ```text
//! let servers = ChallengeServers::start().await?;
//! let pebble = Pebble::start(PebbleOptions::new(servers.http_port(), servers.tls_port())).await?;
//! let acme = Acme::new(dir, pebble.acme_config())?;
//! acme.issue(&names, Method::Http01, &servers, &|_| {}).await?;
//! ```
//!
//! Every process is started on free ports of 127.0.0.1 and killed when its owner is dropped.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

use crate::http::{self, ring_provider};
use crate::{AcmeConfig, BoxError, DnsHook, Responder, TlsAlpnCert};

/// How long pebble and challtestsrv get to come up.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// What the test's pebble validates against.
#[derive(Debug, Clone)]
pub struct PebbleOptions {
    /// The port pebble's HTTP-01 validation connects to (on 127.0.0.1, where every name resolves).
    pub http_port: u16,
    /// The port pebble's TLS-ALPN-01 validation connects to.
    pub tls_port: u16,
    /// The lifetime of the certificates pebble issues (its default is about five years); short ones test renewal.
    pub cert_validity: Option<Duration>,
}

impl PebbleOptions {
    pub fn new(http_port: u16, tls_port: u16) -> PebbleOptions {
        PebbleOptions { http_port, tls_port, cert_validity: None }
    }
}

/// A running pebble (`/usr/bin/pebble`) and pebble-challtestsrv, killed on drop.
pub struct Pebble {
    dir: tempfile::TempDir,
    _pebble: Child,
    _challtestsrv: Child,
    directory_url: String,
    management_url: String,
    challtestsrv_url: String,
    dns: SocketAddr,
    ca_pem: String,
}

impl Pebble {
    /// Starts challtestsrv (DNS on a free port, every A query answered 127.0.0.1, no AAAA) and pebble using it,
    /// with `PEBBLE_VA_NOSLEEP=1` and `PEBBLE_WFE_NONCEREJECT=0`; returns once pebble's directory answers.
    pub async fn start(options: PebbleOptions) -> Result<Pebble, BoxError> {
        let dir = tempfile::tempdir()?;
        let dns = SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_and_tcp_port()?));
        let challtestsrv_port = free_tcp_port()?;
        let challtestsrv = Command::new("pebble-challtestsrv")
            .args(["-dns01", &dns.to_string(), "-management", &format!("127.0.0.1:{challtestsrv_port}")])
            .args([
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .stdin(Stdio::null())
            .stdout(log_file(dir.path(), "challtestsrv.log")?)
            .stderr(log_file(dir.path(), "challtestsrv.log")?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting pebble-challtestsrv (apt-get install pebble): {e}"))?;

        let (ca_pem, cert_pem, key_pem) = listener_certificate()?;
        std::fs::write(dir.path().join("cert.pem"), cert_pem)?;
        std::fs::write(dir.path().join("key.pem"), key_pem)?;
        let (port, management_port) = (free_tcp_port()?, free_tcp_port()?);
        let mut config = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": options.http_port,
            "tlsPort": options.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(validity) = options.cert_validity {
            config["certificateValidityPeriod"] = validity.as_secs().into();
        }
        let config_path = dir.path().join("pebble-config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&serde_json::json!({ "pebble": config }))?)?;
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.to_string(), "-strict=false"])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log_file(dir.path(), "pebble.log")?)
            .stderr(log_file(dir.path(), "pebble.log")?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting pebble (apt-get install pebble): {e}"))?;

        let mut this = Pebble {
            directory_url: format!("https://127.0.0.1:{port}/dir"),
            management_url: format!("https://127.0.0.1:{management_port}"),
            challtestsrv_url: format!("http://127.0.0.1:{challtestsrv_port}"),
            dir,
            _pebble: pebble,
            _challtestsrv: challtestsrv,
            dns,
            ca_pem,
        };
        this.wait_ready().await?;
        Ok(this)
    }

    async fn wait_ready(&mut self) -> Result<(), BoxError> {
        let client = http::client(Some(&self.ca_pem), Duration::from_secs(5))?;
        let challtestsrv = self.challtestsrv_url.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let exited = [
                ("pebble", self._pebble.try_wait()?),
                ("pebble-challtestsrv", self._challtestsrv.try_wait()?),
            ];
            if let Some((name, Some(status))) = exited.iter().find(|(_, status)| status.is_some()) {
                return Err(format!("{name} exited ({status}):\n{}", self.logs()).into());
            }
            let directory = matches!(http::get(client.as_ref(), &self.directory_url).await, Ok((200, _)));
            if directory && tokio::net::TcpStream::connect(&challtestsrv).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("pebble was not ready within {START_DEADLINE:?}:\n{}", self.logs()).into()
                );
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// pebble's ACME directory, `https://127.0.0.1:<port>/dir`.
    pub fn directory_url(&self) -> &str {
        &self.directory_url
    }

    /// The CA of pebble's own HTTPS listener (not of the certificates it issues: see [`Pebble::root_pem`]).
    pub fn ca_bundle_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client configuration for this pebble, with a 30-second timeout.
    pub fn acme_config(&self) -> AcmeConfig {
        let mut config = AcmeConfig::new(self.directory_url.clone());
        config.ca_bundle_pem = Some(self.ca_pem.clone());
        config.timeout = Duration::from_secs(30);
        config
    }

    /// The root that the certificates pebble issues chain to (it makes a new one each start).
    pub async fn root_pem(&self) -> Result<String, BoxError> {
        let client = http::client(Some(&self.ca_pem), Duration::from_secs(5))?;
        let url = format!("{}/roots/0", self.management_url);
        match http::get(client.as_ref(), &url).await? {
            (200, body) => Ok(String::from_utf8(body)?),
            (status, _) => Err(format!("GET {url}: {status}").into()),
        }
    }

    /// challtestsrv's management API (`POST /set-txt`, `/clear-txt`, `/add-a`, …).
    pub fn challtestsrv_url(&self) -> &str {
        &self.challtestsrv_url
    }

    /// challtestsrv's DNS server, which pebble resolves with.
    pub fn dns_address(&self) -> SocketAddr {
        self.dns
    }

    /// Writes a DNS hook script (`set|clear <record> <value>`, see [`DnsHook`]) that sets TXT records in
    /// challtestsrv with curl, and returns the hook.
    pub fn dns_hook(&self, dir: &Path) -> Result<DnsHook, BoxError> {
        let script = format!(
            r#"#!/bin/sh
# A DNS hook for tests: TXT records go to pebble-challtestsrv, which pebble resolves with.
case "$1" in
  set) path=set-txt; body="{{\"host\":\"$2.\",\"value\":\"$3\"}}" ;;
  clear) path=clear-txt; body="{{\"host\":\"$2.\"}}" ;;
  *) echo "unknown action: $1" >&2; exit 2 ;;
esac
exec curl --silent --show-error --fail --max-time 10 -X POST -d "$body" "{}/$path"
"#,
            self.challtestsrv_url
        );
        let path: PathBuf = dir.join("dns-hook.sh");
        std::fs::write(&path, script)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(DnsHook::new(path))
    }

    /// What pebble and challtestsrv printed, for a failing test's message.
    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("--- pebble ---\n{}\n--- challtestsrv ---\n{}", read("pebble.log"), read("challtestsrv.log"))
    }
}

/// A CA and a certificate for pebble's listener (`localhost` and `127.0.0.1`): (CA PEM, cert PEM, key PEM).
fn listener_certificate() -> Result<(String, String, String), BoxError> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "pebble listener test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

fn log_file(dir: &Path, name: &str) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name))
}

/// A port free now on 127.0.0.1 for a process that takes its port as an argument (it cannot be given a socket).
fn free_tcp_port() -> std::io::Result<u16> {
    Ok(StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// A port free for both UDP and TCP (a DNS server binds both).
fn free_udp_and_tcp_port() -> std::io::Result<u16> {
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        if StdTcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no port free for both UDP and TCP"))
}

/// HTTP-01 and TLS-ALPN-01 answered on 127.0.0.1 from what was set through [`Responder`]: what ferry's router
/// does, for tests of this crate. The servers stop when this is dropped.
pub struct ChallengeServers {
    http_port: u16,
    tls_port: u16,
    answers: Arc<Answers>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Answers {
    http: Mutex<HashMap<String, String>>,
    alpn: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl ChallengeServers {
    pub async fn start() -> std::io::Result<ChallengeServers> {
        let answers = Arc::new(Answers::default());
        let http = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let tls = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let (http_port, tls_port) = (http.local_addr()?.port(), tls.local_addr()?.port());
        let provider = ring_provider();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(AlpnResolver(answers.clone())));
        config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let tasks =
            vec![tokio::spawn(serve_http(http, answers.clone())), tokio::spawn(serve_tls(tls, acceptor))];
        Ok(ChallengeServers { http_port, tls_port, answers, tasks })
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// How many answers are set (0 once an order cleared what it set).
    pub fn answers_set(&self) -> usize {
        lock(&self.answers.http).len() + lock(&self.answers.alpn).len()
    }
}

impl Drop for ChallengeServers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Responder for ChallengeServers {
    async fn set_http01(&self, token: &str, key_authorization: &str) -> Result<(), BoxError> {
        lock(&self.answers.http).insert(token.to_owned(), key_authorization.to_owned());
        Ok(())
    }
    async fn clear_http01(&self, token: &str) -> Result<(), BoxError> {
        lock(&self.answers.http).remove(token);
        Ok(())
    }
    async fn set_tls_alpn01(&self, domain: &str, cert: &TlsAlpnCert) -> Result<(), BoxError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone()));
        let key = ring_provider().key_provider.load_private_key(key)?;
        let certified = CertifiedKey::new(vec![CertificateDer::from(cert.cert_der.clone())], key);
        lock(&self.answers.alpn).insert(domain.to_owned(), Arc::new(certified));
        Ok(())
    }
    async fn clear_tls_alpn01(&self, domain: &str) -> Result<(), BoxError> {
        lock(&self.answers.alpn).remove(domain);
        Ok(())
    }
}

async fn serve_http(listener: TcpListener, answers: Arc<Answers>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let answers = answers.clone();
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let path = line.split_whitespace().nth(1).unwrap_or_default();
            let answer = path
                .strip_prefix("/.well-known/acme-challenge/")
                .and_then(|token| lock(&answers.http).get(token).cloned());
            let response = match answer {
                Some(body) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

async fn serve_tls(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
    while let Ok((stream, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        // The validation ends with the handshake; the connection is then closed.
        tokio::spawn(async move {
            if let Ok(mut tls) = acceptor.accept(stream).await {
                let _ = tls.shutdown().await;
            }
        });
    }
}

/// Picks the challenge certificate by SNI, only for handshakes offering `acme-tls/1`.
#[derive(Debug)]
struct AlpnResolver(Arc<Answers>);

impl ResolvesServerCert for AlpnResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offers_acme = hello.alpn().is_some_and(|mut protocols| protocols.any(|p| p == b"acme-tls/1"));
        if !offers_acme {
            return None;
        }
        lock(&self.0.alpn).get(hello.server_name()?).cloned()
    }
}
