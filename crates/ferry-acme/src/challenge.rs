//! The challenges: how the ACME server is shown that we control a name, and who puts each answer in place.

use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::{AcmeError, BoxError};

/// How the ACME server validates a name (RFC 8555 section 8, RFC 8737).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `http://<domain>/.well-known/acme-challenge/<token>` on port 80 answers the key authorization.
    Http01,
    /// A TLS connection to `<domain>:443` offering ALPN `acme-tls/1` gets a special self-signed certificate.
    TlsAlpn01,
    /// A TXT record `_acme-challenge.<domain>` holds the key authorization's digest; the only method for wildcards.
    Dns01,
}

impl Method {
    /// The challenge type's name in the protocol (`http-01`, `tls-alpn-01`, `dns-01`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Http01 => "http-01",
            Method::TlsAlpn01 => "tls-alpn-01",
            Method::Dns01 => "dns-01",
        }
    }

    pub(crate) fn challenge_type(self) -> instant_acme::ChallengeType {
        match self {
            Method::Http01 => instant_acme::ChallengeType::Http01,
            Method::TlsAlpn01 => instant_acme::ChallengeType::TlsAlpn01,
            Method::Dns01 => instant_acme::ChallengeType::Dns01,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The certificate a server presents to a TLS-ALPN-01 validation (RFC 8737): self-signed, the domain as its only
/// subjectAltName, and the critical `acmeIdentifier` extension (1.3.6.1.5.5.7.1.31) holding the SHA-256 of the key
/// authorization. Serve it only on connections that offer ALPN `acme-tls/1` for that SNI name.
#[derive(Clone)]
pub struct TlsAlpnCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    /// PKCS#8.
    pub key_der: Vec<u8>,
}

impl fmt::Debug for TlsAlpnCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAlpnCert").finish_non_exhaustive()
    }
}

/// Builds the TLS-ALPN-01 certificate for `domain` from the challenge's key authorization.
pub fn tls_alpn01_cert(domain: &str, key_authorization: &str) -> Result<TlsAlpnCert, AcmeError> {
    let digest = Sha256::digest(key_authorization.as_bytes());
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec![domain.to_owned()])?;
    params.distinguished_name = DistinguishedName::new();
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(&digest)];
    let cert = params.self_signed(&key)?;
    Ok(TlsAlpnCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// Who puts challenge answers where the ACME server will look, and takes them away after.
///
/// ferry's router answers HTTP-01 and TLS-ALPN-01 itself; DNS-01 goes through a [`DnsHook`]. An implementation
/// supports the methods it can and leaves the others to their default, which refuses with a clear error. `set_*`
/// returns once the answer is served (the order asks for validation right after); `clear_*` failures are logged
/// by the caller and do not fail an order.
#[async_trait]
pub trait Responder: Send + Sync {
    /// Serve `key_authorization` at `/.well-known/acme-challenge/<token>` over plain HTTP, for any host.
    async fn set_http01(&self, token: &str, key_authorization: &str) -> Result<(), BoxError> {
        let _ = (token, key_authorization);
        Err(unsupported(Method::Http01))
    }
    async fn clear_http01(&self, token: &str) -> Result<(), BoxError> {
        let _ = token;
        Ok(())
    }
    /// Present `cert` to TLS connections for SNI `domain` that offer ALPN `acme-tls/1`.
    async fn set_tls_alpn01(&self, domain: &str, cert: &TlsAlpnCert) -> Result<(), BoxError> {
        let _ = (domain, cert);
        Err(unsupported(Method::TlsAlpn01))
    }
    async fn clear_tls_alpn01(&self, domain: &str) -> Result<(), BoxError> {
        let _ = domain;
        Ok(())
    }
    /// Add the TXT record `_acme-challenge.<domain>` with `value` (`domain` without any `*.`), visible to the CA's
    /// resolvers when this returns. A name and its wildcard share the record name with two values: add, never
    /// replace.
    async fn set_dns01(&self, domain: &str, value: &str) -> Result<(), BoxError> {
        let _ = (domain, value);
        Err(unsupported(Method::Dns01))
    }
    /// Remove the TXT value `value` of `_acme-challenge.<domain>`.
    async fn clear_dns01(&self, domain: &str, value: &str) -> Result<(), BoxError> {
        let _ = (domain, value);
        Ok(())
    }
}

fn unsupported(method: Method) -> BoxError {
    format!("{method} is not available here: choose another validation method").into()
}

/// DNS-01 through a command the operator provides, for any DNS provider.
///
/// The contract: ferry runs `<command> set <record> <value>` to add the TXT value `<value>` to `<record>` (e.g.
/// `_acme-challenge.example.com`, no trailing dot) and `<command> clear <record> <value>` to remove that value. The
/// command exits 0 once the record is visible to public resolvers (it waits for propagation itself), non-zero on
/// failure with the reason on standard error (shown to the user; keep secrets out of it). It must add, not
/// replace: a name and its wildcard put two values on one record. It runs with ferry's environment, without a
/// shell, and is killed after [`DnsHook::timeout`] (default 5 minutes).
#[derive(Debug, Clone)]
pub struct DnsHook {
    pub command: PathBuf,
    pub timeout: Duration,
}

impl DnsHook {
    pub fn new(command: impl Into<PathBuf>) -> DnsHook {
        DnsHook { command: command.into(), timeout: Duration::from_secs(300) }
    }

    async fn run(&self, action: &str, domain: &str, value: &str) -> Result<(), BoxError> {
        let record = format!("_acme-challenge.{domain}");
        let mut child = tokio::process::Command::new(&self.command)
            .args([action, &record, value])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("running the DNS hook {}: {e}", self.command.display()))?;
        let mut stderr = child.stderr.take();
        let outcome = tokio::time::timeout(self.timeout, async {
            let mut text = Vec::new();
            if let Some(stderr) = stderr.as_mut() {
                // Bounded: a chatty hook cannot fill memory.
                let _ = stderr.take(16 * 1024).read_to_end(&mut text).await;
            }
            (child.wait().await, text)
        })
        .await;
        let (status, text) = outcome.map_err(|_| {
            format!(
                "the DNS hook {} {action} {record} did not finish within {:?}",
                self.command.display(),
                self.timeout
            )
        })?;
        let status = status.map_err(|e| format!("waiting for the DNS hook: {e}"))?;
        if status.success() {
            tracing::info!(action, record, "dns hook done");
            return Ok(());
        }
        let said = String::from_utf8_lossy(&text).trim().to_owned();
        Err(format!("the DNS hook {} {action} {record} failed ({status}): {said}", self.command.display())
            .into())
    }
}

#[async_trait]
impl Responder for DnsHook {
    async fn set_dns01(&self, domain: &str, value: &str) -> Result<(), BoxError> {
        self.run("set", domain, value).await
    }
    async fn clear_dns01(&self, domain: &str, value: &str) -> Result<(), BoxError> {
        self.run("clear", domain, value).await
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn script(dir: &std::path::Path, body: &str) -> PathBuf {
        let path = dir.join("hook");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn the_hook_gets_action_record_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let hook = DnsHook::new(script(dir.path(), &format!("echo \"$@\" >> {}", log.display())));
        hook.set_dns01("wild.example.test", "abc").await.unwrap();
        hook.clear_dns01("wild.example.test", "abc").await.unwrap();
        let calls = std::fs::read_to_string(log).unwrap();
        assert_eq!(
            calls,
            "set _acme-challenge.wild.example.test abc\nclear _acme-challenge.wild.example.test abc\n"
        );
    }

    #[tokio::test]
    async fn a_failing_hook_reports_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let hook = DnsHook::new(script(dir.path(), "echo 'zone not found' >&2; exit 3"));
        let err = hook.set_dns01("example.test", "v").await.unwrap_err().to_string();
        assert!(err.contains("zone not found") && err.contains("exit status: 3"), "{err}");
    }

    #[tokio::test]
    async fn a_hanging_hook_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut hook = DnsHook::new(script(dir.path(), "exec sleep 30"));
        hook.timeout = Duration::from_millis(200);
        let err = hook.set_dns01("example.test", "v").await.unwrap_err().to_string();
        assert!(err.contains("did not finish"), "{err}");
    }

    #[tokio::test]
    async fn a_hook_does_not_answer_http() {
        let hook = DnsHook::new("/bin/true");
        let err = hook.set_http01("t", "k").await.unwrap_err().to_string();
        assert!(err.contains("http-01 is not available"), "{err}");
    }

    #[test]
    fn the_alpn_certificate_carries_the_digest() {
        let cert = tls_alpn01_cert("app.example.test", "token.thumb").unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert.cert_der).unwrap();
        let oid = x509_parser::der_parser::oid!(1.3.6.1.5.5.7.1.31);
        let ext = parsed.get_extension_unique(&oid).unwrap().expect("acmeIdentifier");
        assert!(ext.critical);
        // An OCTET STRING (0x04, length 32) of the digest.
        let digest = Sha256::digest(b"token.thumb");
        assert_eq!(&ext.value[..2], &[0x04, 32]);
        assert_eq!(&ext.value[2..], digest.as_slice());
        let san = parsed.subject_alternative_name().unwrap().expect("san");
        assert_eq!(format!("{:?}", san.value.general_names), "[DNSName(\"app.example.test\")]");
    }
}
