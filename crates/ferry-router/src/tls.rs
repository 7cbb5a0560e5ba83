//! HTTPS: the certificates the router serves, chosen by SNI ([`Certificates`]), and a [`TlsListener`] that
//! terminates TLS for [`Router::serve`](crate::Router::serve).
//!
//! The control plane (ACME, a local CA, files) decides which certificate a host gets and swaps it in with
//! [`Certificates::set`]; the next handshake sees it, with no restart and no effect on open connections. The
//! listener's rustls configuration is built once and reads the current set through `ArcSwap` on every
//! handshake.
//!
//! LIFECYCLE of a TLS connection: accepted by the listener (the accept loop does nothing more: a client that
//! never sends its ClientHello must not stall the others) → in the connection's own task, the handshake, bounded
//! by `RouterConfig::tls_handshake_timeout`: the SNI host picks the certificate (an exact name before a
//! `*.` wildcard of one label; none → the handshake fails) → ALPN: `h2` gets the HTTP/2 server, `http/1.1`
//! the HTTP/1.1 one, none the sniffing `serve` does for plain TCP → served like a plain connection. A
//! ClientHello that offers `acme-tls/1` (RFC 8737) gets the TLS-ALPN-01 challenge certificate of its host
//! instead (none → the handshake fails), and the connection is closed once the handshake is done, never
//! carrying HTTP.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::debug;

use crate::listen::{Alpn, Handshake, Listener, Scheme};

/// The ALPN protocol of TLS-ALPN-01 challenges (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// TLS sessions remembered for resumption by id (TLS 1.2 clients without tickets); tickets need no memory.
const SESSION_CACHE: usize = 4096;

/// A certificate or key that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate found in the PEM chain: expected at least one `BEGIN CERTIFICATE` block")]
    NoCertificate,
    #[error("the PEM certificate chain is malformed")]
    CertificatePem(#[source] rustls::pki_types::pem::Error),
    #[error(
        "no private key found in the PEM key: expected a `BEGIN PRIVATE KEY`, `BEGIN EC PRIVATE KEY` or `BEGIN RSA PRIVATE KEY` block"
    )]
    NoKey,
    #[error("the PEM private key is malformed")]
    KeyPem(#[source] rustls::pki_types::pem::Error),
    #[error("the private key is not a supported type (ECDSA P-256/P-384, Ed25519 or RSA)")]
    UnsupportedKey(#[source] rustls::Error),
    #[error(
        "the private key does not belong to the first certificate of the chain: check the key file matches the certificate"
    )]
    KeyMismatch(#[source] rustls::Error),
    #[error(transparent)]
    Config(#[from] rustls::Error),
}

/// Reads a certificate chain (leaf first) and its private key, both PEM, into what the router serves.
pub fn certified_key_from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::CertificatePem)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey,
        err => TlsError::KeyPem(err),
    })?;
    let key = ring::sign::any_supported_type(&key).map_err(TlsError::UnsupportedKey)?;
    let certified = CertifiedKey::new(chain, key);
    // Only a proven mismatch is refused: a certificate webpki cannot parse to compare (a TLS-ALPN-01 one, whose
    // critical acmeIdentifier extension it does not know) is the client's to judge.
    match certified.keys_match() {
        Err(err @ rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch(err))
        }
        _ => Ok(certified),
    }
}

/// The certificates the TLS listeners serve, by host name. Cheap to clone: clones share one set.
///
/// Keys are host names, matched case-insensitively and without a trailing dot. `*.example.com` is a wildcard
/// for exactly one more label (`a.example.com`; not `a.b.example.com`, nor `example.com`); an exact name wins
/// over a wildcard. Writers copy the set and swap the copy in: changes are rare, handshakes many.
#[derive(Clone, Default)]
pub struct Certificates {
    set: Arc<ArcSwap<CertSet>>,
}

#[derive(Clone, Default)]
struct CertSet {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// By the parent domain: `*.example.com` is under `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// TLS-ALPN-01 challenge certificates, by exact host.
    alpn: HashMap<String, Arc<CertifiedKey>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").field("hosts", &self.hosts()).finish()
    }
}

/// Lower case, without one trailing dot.
fn normalize(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

impl Certificates {
    pub fn new() -> Certificates {
        Certificates::default()
    }

    /// Serves `key` for `host` (`*.example.com` for a wildcard) from the next handshake on, replacing what
    /// `host` had.
    pub fn set(&self, host: &str, key: Arc<CertifiedKey>) {
        let host = normalize(host);
        self.set.rcu(|set| {
            let mut set = CertSet::clone(set);
            match host.strip_prefix("*.") {
                Some(parent) => set.wildcard.insert(parent.to_owned(), Arc::clone(&key)),
                None => set.exact.insert(host.clone(), Arc::clone(&key)),
            };
            set
        });
    }

    /// Stops serving a certificate for `host` (as it was given to [`Certificates::set`]).
    pub fn remove(&self, host: &str) {
        let host = normalize(host);
        self.set.rcu(|set| {
            let mut set = CertSet::clone(set);
            match host.strip_prefix("*.") {
                Some(parent) => set.wildcard.remove(parent),
                None => set.exact.remove(&host),
            };
            set
        });
    }

    /// The hosts with a certificate, wildcards as `*.parent`, sorted.
    pub fn hosts(&self) -> Vec<String> {
        let set = self.set.load();
        let mut hosts: Vec<String> = set
            .exact
            .keys()
            .cloned()
            .chain(set.wildcard.keys().map(|parent| format!("*.{parent}")))
            .collect();
        hosts.sort_unstable();
        hosts
    }

    /// The certificate a handshake for `host` gets: its own, else its parent's wildcard.
    pub fn get(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        let host = normalize(host);
        let set = self.set.load();
        if let Some(key) = set.exact.get(&host) {
            return Some(Arc::clone(key));
        }
        let (label, parent) = host.split_once('.')?;
        if label.is_empty() || label == "*" {
            return None;
        }
        set.wildcard.get(parent).cloned()
    }

    /// Serves `key` to handshakes for `host` that offer ALPN `acme-tls/1` (a TLS-ALPN-01 challenge, RFC 8737),
    /// until removed.
    pub fn set_alpn_challenge(&self, host: &str, key: Arc<CertifiedKey>) {
        let host = normalize(host);
        self.set.rcu(|set| {
            let mut set = CertSet::clone(set);
            set.alpn.insert(host.clone(), Arc::clone(&key));
            set
        });
    }

    pub fn remove_alpn_challenge(&self, host: &str) {
        let host = normalize(host);
        self.set.rcu(|set| {
            let mut set = CertSet::clone(set);
            set.alpn.remove(&host);
            set
        });
    }

    fn alpn_challenge(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        self.set.load().alpn.get(&normalize(host)).cloned()
    }
}

/// Picks the certificate of each handshake from [`Certificates`].
#[derive(Debug)]
struct Resolve(Certificates);

impl ResolvesServerCert for Resolve {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(host) = hello.server_name() else {
            // Scanners and clients that connect by address: routine, not worth more than debug.
            debug!("TLS handshake without SNI refused");
            return None;
        };
        let acme = hello.alpn().is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        let key = if acme { self.0.alpn_challenge(host) } else { self.0.get(host) };
        if key.is_none() {
            debug!(host, acme, "TLS handshake for a host without a certificate refused");
        }
        key
    }
}

/// The rustls configuration of the TLS listeners: TLS 1.3 and 1.2 (ring), ALPN `acme-tls/1`, `h2`,
/// `http/1.1`, and session resumption (tickets, and ids for TLS 1.2 clients without them), so that clients
/// that reconnect for every request skip most of the handshake's cost.
pub fn server_config(certificates: Certificates) -> Result<Arc<ServerConfig>, TlsError> {
    // ring, as everywhere in ferry (aws-lc-rs is slow to build); rustls deprecates its provider for having no
    // post-quantum key exchange, which ring does not offer.
    #[allow(deprecated)]
    let provider = ring::default_provider();
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolve(certificates)));
    // The server's order decides: `acme-tls/1` first, so a challenge is answered as one.
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec(), b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = ring::Ticketer::new()?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(Arc::new(config))
}

/// HTTPS on TCP: HTTP/1.1 and HTTP/2 chosen by ALPN, certificates by SNI from a [`Certificates`].
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, certificates: Certificates) -> Result<TlsListener, TlsError> {
        Ok(TlsListener { tcp, acceptor: TlsAcceptor::from(server_config(certificates)?) })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl Listener for TlsListener {
    type Io = TcpStream;
    type Conn = TlsStream<TcpStream>;

    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        self.tcp.accept()
    }

    fn handshake(
        &self,
        io: TcpStream,
        timeout: Duration,
    ) -> impl Future<Output = io::Result<Handshake<Self::Conn>>> + Send + 'static {
        let accept = self.acceptor.accept(io);
        async move {
            let tls = tokio::time::timeout(timeout, accept)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
            let alpn = match tls.get_ref().1.alpn_protocol() {
                Some(b"h2") => Alpn::Http2,
                Some(b"http/1.1") => Alpn::Http1,
                Some(ACME_TLS_ALPN) => {
                    // RFC 8737 §3: the challenge is in the certificate; no application data follows.
                    let mut tls = tls;
                    let close = tokio::io::AsyncWriteExt::shutdown(&mut tls);
                    let _ = tokio::time::timeout(timeout, close).await;
                    return Ok(Handshake::Done);
                }
                _ => Alpn::None,
            };
            Ok(Handshake::Http { conn: tls, alpn })
        }
    }

    fn scheme(&self) -> Scheme {
        Scheme::Https
    }

    fn inherit_nodelay(&self) -> bool {
        socket2::SockRef::from(&self.tcp).set_tcp_nodelay(true).is_ok()
    }

    fn set_nodelay(io: &TcpStream) -> io::Result<()> {
        io.set_nodelay(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label_and_exact_names_win() {
        let certs = Certificates::new();
        let key = |n: u8| Arc::new(CertifiedKey::new(vec![CertificateDer::from(vec![n])], dummy_key()));
        certs.set("*.Example.com.", key(1));
        certs.set("a.example.com", key(2));
        let got = |host: &str| certs.get(host).map(|k| k.cert[0].as_ref()[0]);
        assert_eq!(got("a.example.com"), Some(2));
        assert_eq!(got("B.example.com."), Some(1));
        assert_eq!(got("a.b.example.com"), None);
        assert_eq!(got("example.com"), None);
        assert_eq!(got(".example.com"), None);
        assert_eq!(got("*.example.com"), None);
        assert_eq!(certs.hosts(), ["*.example.com", "a.example.com"]);
        certs.remove("*.example.com");
        assert_eq!(got("b.example.com"), None);
        assert_eq!(certs.hosts(), ["a.example.com"]);
    }

    #[test]
    fn pem_errors_say_what_is_wrong() {
        assert!(matches!(certified_key_from_pem(b"", b""), Err(TlsError::NoCertificate)));
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(certified_key_from_pem(cert.as_bytes(), b"nothing"), Err(TlsError::NoKey)));
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            certified_key_from_pem(cert.as_bytes(), key.as_bytes()),
            Err(TlsError::UnsupportedKey(_))
        ));
    }

    /// A signing key for tests of the map alone, never used to sign.
    fn dummy_key() -> Arc<dyn rustls::sign::SigningKey> {
        #[derive(Debug)]
        struct Never;
        impl rustls::sign::SigningKey for Never {
            fn choose_scheme(&self, _: &[rustls::SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
                None
            }
            fn algorithm(&self) -> rustls::SignatureAlgorithm {
                rustls::SignatureAlgorithm::ECDSA
            }
        }
        Arc::new(Never)
    }
}
