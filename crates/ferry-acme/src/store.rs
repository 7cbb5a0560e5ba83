//! Issued certificates and where they are kept: `<dir>/certs/<name>/{fullchain.pem,key.pem,meta.json}`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use x509_parser::extensions::GeneralName;

use crate::AcmeError;
use crate::files::{self, Mode};

/// A certificate chain with its private key, as issued by an ACME server or the local CA.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The DNS names of the leaf's subjectAltName, in its order (wildcards as `*.example.com`).
    pub names: Vec<String>,
    /// Leaf first, then the intermediates, PEM.
    pub chain_pem: String,
    /// The leaf's private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The leaf's validity.
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl std::fmt::Debug for Issued {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("names", &self.names)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// Reads the names and validity from the chain's first certificate (the leaf).
    pub fn from_pem(chain_pem: String, key_pem: String) -> Result<Issued, AcmeError> {
        let leaf = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .next()
            .ok_or_else(|| AcmeError::Certificate("no certificate in the PEM chain".into()))?
            .map_err(|e| AcmeError::Certificate(format!("reading the PEM chain: {e}")))?;
        let info = leaf_info(&leaf)?;
        Ok(Issued {
            names: info.names,
            chain_pem,
            key_pem,
            not_before: info.not_before,
            not_after: info.not_after,
        })
    }

    /// The chain as DER, leaf first (what a TLS server configuration takes).
    pub fn chain_der(&self) -> Result<Vec<CertificateDer<'static>>, AcmeError> {
        CertificateDer::pem_slice_iter(self.chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AcmeError::Certificate(format!("reading the PEM chain: {e}")))
    }
}

struct LeafInfo {
    names: Vec<String>,
    not_before: SystemTime,
    not_after: SystemTime,
}

fn leaf_info(der: &[u8]) -> Result<LeafInfo, AcmeError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| AcmeError::Certificate(format!("parsing the leaf certificate: {e}")))?;
    let validity = cert.validity();
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(AcmeError::Certificate(format!("reading the subjectAltName: {e}"))),
    };
    Ok(LeafInfo {
        names,
        not_before: from_unix(validity.not_before.timestamp()),
        not_after: from_unix(validity.not_after.timestamp()),
    })
}

pub(crate) fn from_unix(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after),
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()),
    }
}

pub(crate) fn to_unix(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// What `meta.json` holds: the certificate's facts without parsing it (for listings and for people).
/// The PEM files stay the truth: [`CertStore::load`] reads them.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    names: Vec<String>,
    /// Unix seconds.
    not_before: i64,
    not_after: i64,
}

/// Certificates on disk, one directory per name: `<dir>/certs/<name>/fullchain.pem`, `key.pem` and
/// `meta.json` (all 0600), each replaced atomically (temporary file and rename).
///
/// The key is written before the chain, so a crash between the two leaves a chain that does not match its key only
/// for a certificate that was being replaced; [`CertStore::load`] refuses a pair whose key is missing.
#[derive(Debug, Clone)]
pub struct CertStore {
    root: PathBuf,
}

impl CertStore {
    /// The store under `dir` (ferry's certificate directory); nothing is created until [`CertStore::save`].
    pub fn new(dir: &Path) -> CertStore {
        CertStore { root: dir.join("certs") }
    }

    /// The directory of one certificate.
    pub fn path(&self, name: &str) -> Result<PathBuf, AcmeError> {
        validate_name(name)?;
        Ok(self.root.join(name))
    }

    /// The certificate stored as `name`, `None` when there is none.
    pub fn load(&self, name: &str) -> Result<Option<Issued>, AcmeError> {
        let dir = self.path(name)?;
        let chain_path = dir.join("fullchain.pem");
        let Some(chain_pem) = files::read_optional(&chain_path)? else {
            return Ok(None);
        };
        let key_path = dir.join("key.pem");
        let key_pem = files::read_optional(&key_path)?.ok_or_else(|| AcmeError::Corrupt {
            path: key_path,
            reason: "missing: the chain has no key".into(),
        })?;
        Issued::from_pem(chain_pem, key_pem)
            .map(Some)
            .map_err(|e| AcmeError::Corrupt { path: chain_path, reason: e.to_string() })
    }

    /// Stores `issued` as `name`, replacing what was there.
    pub fn save(&self, name: &str, issued: &Issued) -> Result<(), AcmeError> {
        let dir = self.path(name)?;
        files::create_dir(&dir)?;
        let meta = Meta {
            names: issued.names.clone(),
            not_before: to_unix(issued.not_before),
            not_after: to_unix(issued.not_after),
        };
        let meta = serde_json::to_vec_pretty(&meta).map_err(|e| AcmeError::Certificate(e.to_string()))?;
        files::write_atomic(&dir.join("key.pem"), issued.key_pem.as_bytes(), Mode::Private)?;
        files::write_atomic(&dir.join("fullchain.pem"), issued.chain_pem.as_bytes(), Mode::Private)?;
        files::write_atomic(&dir.join("meta.json"), &meta, Mode::Private)?;
        tracing::info!(name, names = ?issued.names, "certificate stored");
        Ok(())
    }

    /// Removes the certificate stored as `name`; removing one that is not there is not an error.
    pub fn remove(&self, name: &str) -> Result<(), AcmeError> {
        let dir = self.path(name)?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AcmeError::io(dir)(e)),
        }
    }

    /// The names of every stored certificate, sorted.
    pub fn list(&self) -> Result<Vec<String>, AcmeError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AcmeError::io(&self.root)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(AcmeError::io(&self.root))?;
            if let Some(name) = entry.file_name().to_str()
                && validate_name(name).is_ok()
                && entry.path().join("fullchain.pem").exists()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// A stored name is one path component: letters, digits, `.`, `-`, `_` and `*` (for wildcards), not starting with
/// a dot.
fn validate_name(name: &str) -> Result<(), AcmeError> {
    let invalid = |reason| Err(AcmeError::InvalidName { name: name.to_owned(), reason });
    if name.is_empty() || name.len() > 255 {
        return invalid("a certificate name has 1 to 255 characters");
    }
    if name.starts_with('.') {
        return invalid("a certificate name cannot start with a dot");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'*')) {
        return invalid("a certificate name has only letters, digits, '.', '-', '_' and '*'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalCa;

    #[test]
    fn save_load_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        let issued = ca.issue(&["app.example.test".into(), "*.app.example.test".into()]).unwrap();
        let store = CertStore::new(dir.path());
        assert_eq!(store.load("app.example.test").unwrap(), None);

        store.save("app.example.test", &issued).unwrap();
        let loaded = store.load("app.example.test").unwrap().expect("stored");
        assert_eq!(loaded, issued);
        assert_eq!(loaded.names, ["app.example.test", "*.app.example.test"]);
        assert_eq!(store.list().unwrap(), ["app.example.test"]);

        let cert_dir = store.path("app.example.test").unwrap();
        let meta: Meta = serde_json::from_slice(&fs::read(cert_dir.join("meta.json")).unwrap()).unwrap();
        assert_eq!(meta.not_after, to_unix(issued.not_after));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |f: &str| fs::metadata(cert_dir.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode("key.pem"), 0o600);
            assert_eq!(mode("fullchain.pem"), 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(&cert_dir).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 3, "no temporary files left: {leftovers:?}");

        store.remove("app.example.test").unwrap();
        assert_eq!(store.load("app.example.test").unwrap(), None);
        store.remove("app.example.test").unwrap();
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        let store = CertStore::new(Path::new("/nonexistent"));
        for name in ["", "..", "../x", "a/b", ".hidden", "a b"] {
            assert!(matches!(store.load(name), Err(AcmeError::InvalidName { .. })), "{name:?}");
        }
        assert!(store.path("*.wild.example.test").is_ok());
    }

    #[test]
    fn a_chain_without_its_key_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        let store = CertStore::new(dir.path());
        store.save("x.test", &ca.issue(&["x.test".into()]).unwrap()).unwrap();
        fs::remove_file(store.path("x.test").unwrap().join("key.pem")).unwrap();
        let err = store.load("x.test").unwrap_err();
        assert!(err.to_string().contains("the chain has no key"), "{err}");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let err = Issued::from_pem("not a pem".into(), String::new()).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
    }
}
