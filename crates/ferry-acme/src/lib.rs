//! Certificates for ferry's router: issued by an ACME server (RFC 8555, e.g. Let's Encrypt) or by a local CA that
//! ferry makes itself, kept on disk, and renewed in time.
//!
//! This crate knows no router and no store: [`Acme::issue`] puts challenge answers in place through a
//! [`Responder`] the caller implements (ferry's router answers HTTP-01 and TLS-ALPN-01 itself; a [`DnsHook`] command
//! sets DNS-01 TXT records), and returns an [`Issued`] chain and key that the caller installs and stores in a
//! [`CertStore`]. When to renew and when to retry are pure decisions ([`renew_at`], [`retry_after`]) that take
//! the time as a parameter.
//!
//! # Files (all under the directory the caller gives, ferry's data directory)
//! - `local-ca/ca.pem` and `local-ca/ca-key.pem` (0600): the local CA's root, made once ([`LocalCa`]).
//! - `acme/account-<hash of the directory URL>.json` (0600): the ACME account's key and URL, one per directory,
//!   registered on first use and reused after.
//! - `certs/<name>/fullchain.pem`, `key.pem` (0600), `meta.json`: each certificate ([`CertStore`]). Every file is
//!   written to a temporary file and renamed, so a reader never sees half of one.
//!
//! # LIFECYCLE of an order ([`Acme::issue`])
//! 1. **Account**: loaded from its file, or registered and saved. A CA that no longer knows the saved account
//!    (`accountDoesNotExist`, e.g. a restarted test CA) gets a new one, once.
//! 2. **New order** for the names. Each name gets an authorization; one already valid (the CA remembers a recent
//!    validation) is skipped.
//! 3. **Challenges**: for each pending authorization, the challenge of the chosen [`Method`] is answered through
//!    the responder (HTTP-01: token and key authorization; TLS-ALPN-01: a certificate built here, see
//!    [`tls_alpn01_cert`]; DNS-01: the TXT value), then the CA is told it is ready.
//! 4. **Validation**: the order is polled (250 ms doubling to 5 s, bounded by [`AcmeConfig::timeout`]) until it is
//!    ready, or invalid: then the failed challenge's problem document becomes [`AcmeError::Validation`], naming
//!    the domain and carrying the CA's words.
//! 5. **Cleanup**: every answer that was set is cleared, whatever happened in 3 and 4.
//! 6. **Finalize** with a CSR for a fresh P-256 key, poll until the certificate is issued, download the chain.
//!
//! Nothing is stored by `issue`: the caller saves the result (and records a failure to retry after
//! [`retry_after`]).

mod challenge;
mod client;
mod error;
mod files;
mod http;
mod local_ca;
mod order;
mod renew;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use challenge::{DnsHook, Method, Responder, TlsAlpnCert, tls_alpn01_cert};
pub use client::{Acme, AcmeConfig, LETS_ENCRYPT, LETS_ENCRYPT_STAGING};
pub use error::{AcmeError, BoxError, Problem};
pub use local_ca::LocalCa;
pub use order::Progress;
pub use renew::{renew_at, renewal_due, retry_after};
pub use store::{CertStore, Issued};

/// Checks the names of one certificate: at least one; each a DNS name of lowercase letters, digits and `-` in
/// dot-separated labels, optionally starting with `*.`.
pub fn validate_names(names: &[String]) -> Result<(), AcmeError> {
    if names.is_empty() {
        return Err(AcmeError::InvalidName {
            name: String::new(),
            reason: "a certificate needs at least one name",
        });
    }
    for name in names {
        let invalid = |reason| Err(AcmeError::InvalidName { name: name.clone(), reason });
        let host = name.strip_prefix("*.").unwrap_or(name);
        if host.is_empty() || name.len() > 253 {
            return invalid("a DNS name has 1 to 253 characters");
        }
        for label in host.split('.') {
            if label.is_empty() || label.len() > 63 {
                return invalid("each dot-separated label has 1 to 63 characters");
            }
            if !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return invalid("use lowercase letters, digits and '-' (a wildcard only as a leading '*.')");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return invalid("a label cannot start or end with '-'");
            }
        }
        if names.iter().filter(|other| *other == name).count() > 1 {
            return invalid("listed twice");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let ok = |names: &[&str]| validate_names(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert!(ok(&["app.example.com", "*.example.com", "localhost", "x-1.test"]).is_ok());
        for bad in
            [&[][..], &[""], &["*."], &["a..b"], &["A.example"], &["a.*.b"], &["-a.b"], &["a b"], &["x", "x"]]
        {
            assert!(matches!(ok(bad), Err(AcmeError::InvalidName { .. })), "{bad:?}");
        }
    }
}
