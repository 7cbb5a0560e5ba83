//! HTTPS to the API: rustls (ring) over hyper's connection, trusting either the system's certificate
//! store or, when the user pins one, only the CA certificates in a PEM file.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::ClientError;

pub(crate) type Http = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Whom the client trusts for `https://` URLs.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// The operating system's certificate store.
    #[default]
    System,
    /// Only these CA certificates (PEM), e.g. a private CA's: `ferry login --ca-file`.
    Pinned {
        /// Where they came from, for messages.
        source: String,
        pem: Vec<u8>,
    },
}

impl Trust {
    /// Reads a PEM file of CA certificates to pin.
    pub fn ca_file(path: &std::path::Path) -> Result<Self, ClientError> {
        let pem = std::fs::read(path).map_err(|e| {
            ClientError::Certificate(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        Ok(Trust::Pinned { source: path.display().to_string(), pem })
    }
}

fn roots(trust: &Trust, https: bool) -> Result<rustls::RootCertStore, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    match trust {
        // An http:// client never verifies a certificate: the system store is not read for it.
        Trust::System if !https => {}
        Trust::System => {
            // Certificates the system store holds but rustls cannot parse are skipped, as browsers do.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
        Trust::Pinned { source, pem } => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(pem).collect::<Result<_, _>>().map_err(|e| {
                    ClientError::Certificate(format!("{source} is not a PEM file of certificates: {e}"))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ClientError::Certificate(format!(
                    "{source} holds no CA certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
                )));
            }
        }
    }
    Ok(roots)
}

/// A hyper client for `http://` and `https://` URLs (`https`: whether the API's URL is one).
pub(crate) fn http_client(trust: &Trust, https: bool) -> Result<Http, ClientError> {
    // ring, not aws-lc-rs (slow to build here); rustls deprecates ring's provider only for lacking
    // post-quantum key exchange, which the API's own certificates do not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Certificate(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots(trust, https)?)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    http.set_nodelay(true);
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(HyperClient::builder(TokioExecutor::new()).build(connector))
}

/// The certificate problem behind a failed connection, if that is what failed it.
pub(crate) fn certificate_error(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    match find_rustls(err)? {
        tls @ (rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::UnsupportedNameType) => Some(tls.to_string()),
        _ => None,
    }
}

/// The TLS error in `err`'s chain: hyper-rustls wraps it in an I/O error inside another, whose
/// `source()` skips them, so each I/O error is opened too.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
    if let Some(found) = inner.and_then(|inner| find_rustls(inner)) {
        return Some(found);
    }
    err.source().and_then(find_rustls)
}

/// Whether `host` (from a URL) is this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
