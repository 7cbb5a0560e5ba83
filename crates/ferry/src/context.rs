//! Finding the server: which API URL and token a client command uses.
//!
//! Precedence: `--api-url`/`--token` (or `FERRY_API_URL`/`FERRY_TOKEN`), then the file `ferry login`
//! wrote, then a server on this machine: `http://127.0.0.1:7700` with the token from its data
//! directory's `admin-token`, when this user can read it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ferry_client::{Client, Trust};
use serde::{Deserialize, Serialize};

use crate::cli::Global;

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:7700";

#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub api_url: String,
    pub token: String,
    /// The CA certificates (PEM) `ferry login --ca-file` pinned for this URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// `$XDG_CONFIG_HOME/ferry/config.json`, or `~/.config/ferry/config.json`.
pub fn config_path() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("ferry/config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/ferry/config.json"))
}

pub fn load_saved() -> Option<Saved> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(saved: &Saved) -> Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = config_path().context("cannot tell where to save: neither HOME nor XDG_CONFIG_HOME is set")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(serde_json::to_string_pretty(saved)?.as_bytes())?;
    Ok(path)
}

fn local_admin_token() -> Option<String> {
    let dir = std::env::var_os("FERRY_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(ferry_server::config::default_data_dir);
    let token = std::fs::read_to_string(dir.join(ferry_server::ADMIN_TOKEN_FILE)).ok()?;
    Some(token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The client for the server the user means.
pub fn client(global: &Global) -> Result<Client> {
    let saved = load_saved();
    let url = global
        .api_url
        .clone()
        .or_else(|| saved.as_ref().map(|s| s.api_url.clone()))
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let token = global
        .token
        .clone()
        .or_else(|| saved.as_ref().filter(|s| s.api_url == url).map(|s| s.token.clone()))
        .or_else(|| (url == DEFAULT_API_URL).then(local_admin_token).flatten());
    let Some(token) = token else {
        bail!(
            "no API token for {url}: set FERRY_TOKEN, pass --token, or run `ferry login --url {url} --token-file \
             <server's DATA_DIR/admin-token>`"
        );
    };
    let trust = match (&global.ca_file, saved.as_ref().filter(|s| s.api_url == url)) {
        (Some(path), _) => Trust::ca_file(path)?,
        (None, Some(Saved { ca_pem: Some(pem), .. })) => Trust::Pinned {
            source: "the CA saved by `ferry login`".to_owned(),
            pem: pem.clone().into_bytes(),
        },
        _ => Trust::System,
    };
    let client = Client::with_trust(&url, &token, &trust)?;
    warn_if_clear(&client);
    Ok(client)
}

/// Says so when the token is about to cross the network unencrypted.
pub fn warn_if_clear(client: &Client) {
    if client.sends_token_in_clear() {
        eprintln!(
            "warning: {} is plain HTTP to another machine: the token crosses the network in clear; serve the \
             API over HTTPS (ferry server --api-tls-cert/--api-tls-key) and use an https:// URL",
            client.base_url()
        );
    }
}
