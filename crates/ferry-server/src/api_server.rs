//! Serving the API: plain HTTP on loopback, HTTPS (rustls, ring) when given a certificate.
//!
//! The rule: the API carries bearer tokens, so it listens off loopback only over TLS, unless the operator
//! says `--api-insecure` (something else, a VPN or a TLS proxy, encrypts the traffic). Either way every
//! request carries the peer's address ([`ConnectInfo`]), which the API's failed-authentication limit
//! counts by. Over TLS, each connection's handshake runs in the connection's own task, bounded by
//! [`HANDSHAKE_TIMEOUT`], so a slow or silent client never holds up the accept loop; on shutdown the
//! listener closes, open connections are asked to finish (HTTP/1 after the request in flight, HTTP/2
//! with GOAWAY) and the caller bounds the wait by the grace.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::{ConfigError, err};

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The API's certificate, loaded and checked at configuration time.
#[derive(Debug, Clone)]
pub struct ApiTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub config: Arc<rustls::ServerConfig>,
}

impl ApiTls {
    /// Checks the API's TLS flags against its address: both files or neither, and no plain HTTP off
    /// loopback unless `insecure`.
    pub fn validate(
        listen: SocketAddr,
        cert: Option<&Path>,
        key: Option<&Path>,
        insecure: bool,
    ) -> Result<Option<ApiTls>, ConfigError> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(ApiTls {
                config: server_config(cert, key)?,
                cert: cert.to_owned(),
                key: key.to_owned(),
            })),
            (Some(_), None) => {
                Err(err("api-tls-key", "--api-tls-cert needs --api-tls-key (its private key, PEM)"))
            }
            (None, Some(_)) => {
                Err(err("api-tls-cert", "--api-tls-key needs --api-tls-cert (the certificate, PEM)"))
            }
            (None, None) if listen.ip().is_loopback() || insecure => Ok(None),
            (None, None) => Err(err(
                "api-listen",
                format!(
                    "{listen} is not a loopback address, and without TLS the API's tokens would cross the \
                     network in clear; give --api-tls-cert FILE and --api-tls-key FILE (PEM) to serve it over \
                     HTTPS, or --api-insecure if something else encrypts the traffic (a VPN, a TLS proxy)"
                ),
            )),
        }
    }

    /// `https` or `http`, for the API's URL.
    pub fn scheme(tls: Option<&ApiTls>) -> &'static str {
        if tls.is_some() { "https" } else { "http" }
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| err("api-tls-cert", format!("cannot read certificates from {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(err(
            "api-tls-cert",
            format!("{} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)", cert.display()),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        err("api-tls-key", format!("cannot read a private key (PEM) from {}: {e}", key.display()))
    })?;
    // ring, not aws-lc-rs (slow to build here); rustls deprecates ring's provider only for lacking
    // post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("api-tls-cert", format!("cannot set up TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| {
            err(
                "api-tls-key",
                format!("{} and {} do not make a usable pair: {e}", cert.display(), key.display()),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `api` on `listener` until `shutdown`, then lets open connections finish (the caller bounds
/// how long by aborting the task). Over TLS, a client gets `handshake_timeout` (normally
/// [`HANDSHAKE_TIMEOUT`]) to finish its handshake.
pub(crate) async fn serve(
    listener: TcpListener,
    api: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let Some(tls) = tls else {
        return axum::serve(listener, api.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted: keep serving.
                    tracing::debug!(error = %e, "the API cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, api, shutdown) = (acceptor.clone(), api.clone(), shutdown.clone());
        connections.spawn(async move {
            let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(peer = %peer, error = %e, "API TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(peer = %peer, "API TLS handshake timed out");
                    return;
                }
            };
            let service =
                hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    api.clone().oneshot(req)
                });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %peer, error = %e, "API connection ended with an error");
                    }
                    return;
                }
                () = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn off_loopback_the_api_needs_tls_or_an_explicit_insecure() {
        assert!(ApiTls::validate(addr("127.0.0.1:7700"), None, None, false).unwrap().is_none());
        assert!(ApiTls::validate(addr("[::1]:7700"), None, None, false).unwrap().is_none());
        let e = ApiTls::validate(addr("0.0.0.0:7700"), None, None, false).unwrap_err();
        assert_eq!(e.field, "api-listen");
        assert!(e.message.contains("--api-tls-cert") && e.message.contains("--api-insecure"), "{e}");
        assert!(ApiTls::validate(addr("0.0.0.0:7700"), None, None, true).unwrap().is_none());
        let e = ApiTls::validate(addr("127.0.0.1:7700"), Some(Path::new("c.pem")), None, false).unwrap_err();
        assert_eq!(e.field, "api-tls-key");
    }

    #[test]
    fn certificate_files_are_checked_when_the_config_is() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let tls = ApiTls::validate(addr("0.0.0.0:7700"), Some(&cert_path), Some(&key_path), false).unwrap();
        assert!(tls.is_some());
        let e = ApiTls::validate(addr("0.0.0.0:7700"), Some(&key_path), Some(&key_path), false).unwrap_err();
        assert_eq!(e.field, "api-tls-cert", "{e}");
        let e =
            ApiTls::validate(addr("0.0.0.0:7700"), Some(&cert_path), Some(&cert_path), false).unwrap_err();
        assert_eq!(e.field, "api-tls-key", "{e}");
    }

    /// A certificate for 127.0.0.1 and a client config that trusts it.
    fn pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let server = server_config(&cert_path, &key_path).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (server, Arc::new(client))
    }

    #[tokio::test]
    async fn https_requests_carry_the_peer_and_silent_clients_are_cut_after_the_handshake_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const TIMEOUT: Duration = Duration::from_millis(300);
        let (server_tls, client_tls) = pair();
        let api = axum::Router::new().route(
            "/peer",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, api, Some(server_tls), TIMEOUT, shutdown.clone()));

        // A client that never starts its handshake holds nothing up, and is cut after the timeout.
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(client_tls).connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&local.to_string()), "the handler sees the peer's address: {answer}");

        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(TIMEOUT * 20, silent.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the silent client is closed: {read:?}");
        assert!(started.elapsed() >= TIMEOUT / 2, "{:?}", started.elapsed());

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("serve ends").unwrap().unwrap();
    }
}
