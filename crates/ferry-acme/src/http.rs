//! The HTTPS client that talks to the ACME directory: the system's roots plus the operator's CA bundle.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::AcmeError;

/// An HTTPS-only client trusting the system's roots and the certificates of `ca_bundle_pem` (for a private ACME
/// server such as step-ca, or pebble in tests). With a bundle, an empty or missing system store is fine. A request
/// whose answer (headers) does not come within `timeout` fails, so a hung server cannot hold an order forever.
pub(crate) fn client(
    ca_bundle_pem: Option<&str>,
    timeout: Duration,
) -> Result<Box<dyn HttpClient>, AcmeError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(bundle) = ca_bundle_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(bundle.as_bytes()) {
            let cert = cert.map_err(|e| AcmeError::CaBundle(e.to_string()))?;
            roots.add(cert).map_err(|e| AcmeError::CaBundle(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(AcmeError::CaBundle(
                "no certificate in it: give a PEM file of CA certificates".into(),
            ));
        }
    }
    let native = rustls_native_certs::load_native_certs();
    let (system, _ignored) = roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        return Err(AcmeError::CaBundle(
            "the system has no CA certificates (install ca-certificates) and no CA bundle was given".into(),
        ));
    }
    tracing::debug!(system, "acme client roots loaded");
    let provider = ring_provider();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::CaBundle(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, BodyWrapper<_>>(connector);
    Ok(Box::new(Timed { inner: client, timeout }))
}

/// A client whose every request fails after `timeout`.
struct Timed<C> {
    inner: C,
    timeout: Duration,
}

impl<C: HttpClient> HttpClient for Timed<C> {
    fn request(
        &self,
        request: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let (response, timeout) = (self.inner.request(request), self.timeout);
        Box::pin(async move {
            tokio::time::timeout(timeout, response).await.unwrap_or_else(|_| {
                Err(instant_acme::Error::Other(
                    format!("the ACME server did not answer within {timeout:?}").into(),
                ))
            })
        })
    }
}

/// rustls' ring provider: the project's choice (aws-lc-rs is too slow to build here), deprecated upstream only for
/// lacking post-quantum key exchange.
pub(crate) fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// GETs `url` with `client` and returns the status and body (for the test support).
#[cfg(feature = "testing")]
pub(crate) async fn get(client: &dyn HttpClient, url: &str) -> Result<(u16, Vec<u8>), AcmeError> {
    let request = http::Request::get(url)
        .body(BodyWrapper::default())
        .map_err(|e| AcmeError::Protocol(instant_acme::Error::Http(e)))?;
    let mut response = client.request(request).await.map_err(AcmeError::Protocol)?;
    let body =
        response.body.into_bytes().await.map_err(|e| AcmeError::Protocol(instant_acme::Error::Other(e)))?;
    Ok((response.parts.status.as_u16(), body.to_vec()))
}
