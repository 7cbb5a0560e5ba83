//! The ACME client: configuration, and the account kept on disk and reused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use instant_acme::{Account, AccountCredentials, NewAccount};
use sha2::{Digest, Sha256};

use crate::files::{self, Mode};
use crate::{AcmeError, http};

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous rate limits: for trying a setup out).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Where and how to ask for certificates.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The ACME server's directory URL (HTTPS).
    pub directory_url: String,
    /// CA certificates (PEM) trusted for the directory's TLS besides the system's: for a private ACME server.
    pub ca_bundle_pem: Option<String>,
    /// Given to the CA as `mailto:` contact for expiry and policy mail; optional.
    pub contact_email: Option<String>,
    /// How long one order may wait for the CA to validate its names, and then again for the certificate.
    pub timeout: Duration,
    /// How long one request to the ACME server may take to answer.
    pub request_timeout: Duration,
}

impl AcmeConfig {
    /// A configuration for `directory_url` with no extra CA, no contact, a 3-minute timeout per order and 30
    /// seconds per request.
    pub fn new(directory_url: impl Into<String>) -> AcmeConfig {
        AcmeConfig {
            directory_url: directory_url.into(),
            ca_bundle_pem: None,
            contact_email: None,
            timeout: Duration::from_secs(180),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// An ACME client for one directory. Its account is created on first use and kept in
/// `<dir>/acme/account-<hash of the directory URL>.json` (0600), so every later order, in this process or after a
/// restart, uses the same account (the CA's rate limits and its mail go to one account).
pub struct Acme {
    pub(crate) config: AcmeConfig,
    account_path: PathBuf,
    account: tokio::sync::Mutex<Option<Account>>,
}

impl std::fmt::Debug for Acme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acme").field("directory_url", &self.config.directory_url).finish_non_exhaustive()
    }
}

impl Acme {
    /// A client for `config`, keeping its account under `dir`. Checks the URL and the CA bundle; contacts no one.
    pub fn new(dir: &Path, config: AcmeConfig) -> Result<Acme, AcmeError> {
        if !config.directory_url.starts_with("https://") {
            return Err(AcmeError::DirectoryUrl { url: config.directory_url.clone() });
        }
        http::client(config.ca_bundle_pem.as_deref(), config.request_timeout)?;
        let hash = hex::encode(&Sha256::digest(config.directory_url.as_bytes())[..8]);
        let account_path = dir.join("acme").join(format!("account-{hash}.json"));
        Ok(Acme { config, account_path, account: tokio::sync::Mutex::new(None) })
    }

    /// The file that keeps this directory's account credentials.
    pub fn account_path(&self) -> &Path {
        &self.account_path
    }

    /// The account's URL at the CA, creating the account if there is none yet.
    pub async fn account_id(&self) -> Result<String, AcmeError> {
        Ok(self.account().await?.id().to_owned())
    }

    /// The account: cached, else loaded from its file, else created on the server and saved.
    pub(crate) async fn account(&self) -> Result<Account, AcmeError> {
        let mut cached = self.account.lock().await;
        if let Some(account) = cached.as_ref() {
            return Ok(account.clone());
        }
        let account = match files::read_optional(&self.account_path)? {
            Some(json) => {
                let credentials: AccountCredentials =
                    serde_json::from_str(&json).map_err(|e| AcmeError::Corrupt {
                        path: self.account_path.clone(),
                        reason: format!("{e}: remove the file to register a new account"),
                    })?;
                let builder = Account::builder_with_http(http::client(
                    self.config.ca_bundle_pem.as_deref(),
                    self.config.request_timeout,
                )?);
                builder.from_credentials(credentials).await?
            }
            None => self.create_account().await?,
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    /// Registers a new account and saves its credentials, replacing any saved before (used when the CA no longer
    /// knows the saved one, e.g. a test CA that was restarted).
    pub(crate) async fn create_account(&self) -> Result<Account, AcmeError> {
        let contact = self.config.contact_email.as_ref().map(|email| format!("mailto:{email}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new =
            NewAccount { contact: &contacts, terms_of_service_agreed: true, only_return_existing: false };
        let builder = Account::builder_with_http(http::client(
            self.config.ca_bundle_pem.as_deref(),
            self.config.request_timeout,
        )?);
        let (account, credentials) = builder.create(&new, self.config.directory_url.clone(), None).await?;
        let json = serde_json::to_vec(&credentials).map_err(|e| AcmeError::Certificate(e.to_string()))?;
        files::write_atomic(&self.account_path, &json, Mode::Private)?;
        tracing::info!(directory = %self.config.directory_url, account = account.id(), "acme account registered");
        Ok(account)
    }

    /// Forgets the cached account and registers a new one.
    pub(crate) async fn replace_account(&self) -> Result<Account, AcmeError> {
        let mut cached = self.account.lock().await;
        let account = self.create_account().await?;
        *cached = Some(account.clone());
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_does_not_answer_fails_the_request() {
        // Accepts connections and never answers (not even the TLS handshake).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let mut config = AcmeConfig::new(format!("https://127.0.0.1:{port}/dir"));
        config.request_timeout = Duration::from_millis(300);
        let acme = Acme::new(dir.path(), config).unwrap();
        let started = std::time::Instant::now();
        let err = acme.account_id().await.unwrap_err();
        assert!(err.to_string().contains("did not answer within"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let mut config = AcmeConfig::new("https://127.0.0.1:1/dir");
        config.ca_bundle_pem = Some("not a certificate".into());
        let err = Acme::new(std::path::Path::new("/x"), config).unwrap_err();
        assert!(matches!(err, AcmeError::CaBundle(_)), "{err}");
    }
}
