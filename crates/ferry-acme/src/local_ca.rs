//! A certificate authority of ferry's own, for names no public CA will certify (`*.localhost`) and for tests.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};

use crate::files::{self, Mode};
use crate::{AcmeError, Issued};

/// How long the root lives: long enough never to be renewed in practice (whoever trusts it would have to again).
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a leaf lives: what an ACME CA gives, so renewal is exercised the same way.
const LEAF_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// Leaves are dated a little in the past so a client whose clock is slightly behind accepts them.
const BACKDATE: Duration = Duration::from_secs(3600);

/// ferry's local CA: an ECDSA P-256 root made once in `<dir>/local-ca/` (`ca.pem`, and `ca-key.pem` mode 0600)
/// and reused, which signs leaves on demand.
pub struct LocalCa {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA kept under `dir`, or makes one (CN `ferry local CA <host> <id>`) when there is none.
    pub fn load_or_create(dir: &Path) -> Result<LocalCa, AcmeError> {
        let ca_dir = dir.join("local-ca");
        let cert_path = ca_dir.join("ca.pem");
        let key_path = ca_dir.join("ca-key.pem");
        match (files::read_optional(&cert_path)?, files::read_optional(&key_path)?) {
            (Some(ca_pem), Some(key_pem)) => Self::load(ca_pem, &key_pem, &key_path),
            (None, None) => Self::create(&cert_path, &key_path),
            (Some(_), None) => Err(AcmeError::Corrupt {
                path: key_path,
                reason: "missing beside ca.pem: remove ca.pem to make a new local CA".into(),
            }),
            (None, Some(_)) => Err(AcmeError::Corrupt {
                path: cert_path,
                reason: "missing beside ca-key.pem: remove ca-key.pem to make a new local CA".into(),
            }),
        }
    }

    fn load(ca_pem: String, key_pem: &str, key_path: &Path) -> Result<LocalCa, AcmeError> {
        let corrupt = |path: &Path, e: rcgen::Error| AcmeError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let key = KeyPair::from_pem(key_pem).map_err(|e| corrupt(key_path, e))?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, key)
            .map_err(|e| corrupt(&key_path.with_file_name("ca.pem"), e))?;
        Ok(LocalCa { ca_pem, issuer })
    }

    fn create(cert_path: &Path, key_path: &Path) -> Result<LocalCa, AcmeError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        // A short id from the key tells two installations on one host apart in a trust store.
        let id = hex::encode(&Sha256::digest(key.public_key_raw())[..4]);
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "ferry");
        name.push(DnType::CommonName, format!("ferry local CA {} {id}", host_name()));

        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = (now - BACKDATE).into();
        params.not_after = (now + CA_LIFETIME).into();
        let cert = params.self_signed(&key)?;

        let ca_pem = cert.pem();
        files::write_atomic(key_path, key.serialize_pem().as_bytes(), Mode::Private)?;
        files::write_atomic(cert_path, ca_pem.as_bytes(), Mode::Private)?;
        tracing::info!(path = %cert_path.display(), "local CA created");
        Ok(LocalCa { ca_pem, issuer: Issuer::new(params, key) })
    }

    /// The root certificate, PEM: what `curl --cacert` and a browser's trust store take.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A leaf for `names` (DNS names, wildcards allowed), valid 90 days, with a fresh P-256 key; the chain is the leaf
    /// then the root.
    pub fn issue(&self, names: &[String]) -> Result<Issued, AcmeError> {
        crate::validate_names(names)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let now = SystemTime::now();
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, names[0].clone());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = (now - BACKDATE).into();
        params.not_after = (now + LEAF_LIFETIME).into();
        let cert = params.signed_by(&key, &self.issuer)?;
        Issued::from_pem(format!("{}{}", cert.pem(), self.ca_pem), key.serialize_pem())
    }
}

/// The machine's name for the CA's common name, `localhost` when it cannot be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::*;

    /// Verifies `issued` for `host` against `ca_pem` the way a TLS client does.
    fn verify(ca_pem: &str, issued: &Issued, host: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
        let provider = crate::http::ring_provider();
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        let chain = issued.chain_der().unwrap();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now()).map(|_| ())
    }

    #[test]
    fn issues_leaves_that_verify_against_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        let started = Instant::now();
        let issued = ca.issue(&["app.localhost".into(), "*.app.localhost".into()]).unwrap();
        println!("one local CA issue took {:?}", started.elapsed());

        verify(ca.ca_pem(), &issued, "app.localhost").unwrap();
        verify(ca.ca_pem(), &issued, "x.app.localhost").unwrap();
        assert!(verify(ca.ca_pem(), &issued, "other.localhost").is_err());
        let lifetime = issued.not_after.duration_since(issued.not_before).unwrap();
        assert_eq!(lifetime, LEAF_LIFETIME + BACKDATE);
    }

    #[test]
    fn the_root_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalCa::load_or_create(dir.path()).unwrap();
        let second = LocalCa::load_or_create(dir.path()).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        // A leaf of the reloaded CA verifies against the root made the first time.
        verify(first.ca_pem(), &second.issue(&["a.localhost".into()]).unwrap(), "a.localhost").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                std::fs::metadata(dir.path().join("local-ca/ca-key.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = LocalCa::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(
            verify(other.ca_pem(), &first.issue(&["a.localhost".into()]).unwrap(), "a.localhost").is_err()
        );
    }

    #[test]
    fn a_lone_root_without_its_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        LocalCa::load_or_create(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join("local-ca/ca-key.pem")).unwrap();
        let err = LocalCa::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("remove ca.pem"), "{err}");
    }

    #[test]
    fn bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        assert!(matches!(ca.issue(&[]), Err(AcmeError::InvalidName { .. })));
        assert!(matches!(ca.issue(&["a b".into()]), Err(AcmeError::InvalidName { .. })));
    }
}
