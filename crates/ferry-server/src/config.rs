//! The server's configuration: raw values from flags and environment, validated into [`ServerConfig`]
//! before any port is bound or file touched.
//!
//! Precedence: a command-line flag, else its `FERRY_*` environment variable, else the default below
//! (the binary's clap definitions carry the flag and variable names).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Values as given, before validation.
#[derive(Debug, Clone)]
pub struct RawConfig {
    pub data_dir: Option<PathBuf>,
    pub api_listen: String,
    pub http_listen: String,
    pub domain: String,
    /// The port in service URLs, when it differs from the router's (behind a port forward).
    pub public_port: Option<u16>,
    pub region: String,
    pub account: String,
    pub deploy_timeout_secs: u64,
    pub stop_grace_secs: u64,
    pub drain_timeout_secs: u64,
    pub keep_revisions: u32,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            data_dir: None,
            api_listen: "127.0.0.1:7700".to_owned(),
            http_listen: "127.0.0.1:8080".to_owned(),
            domain: "localhost".to_owned(),
            public_port: None,
            region: "local".to_owned(),
            account: "000000000000".to_owned(),
            deploy_timeout_secs: 300,
            stop_grace_secs: 10,
            drain_timeout_secs: 30,
            keep_revisions: 5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub api_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub domain: String,
    pub public_port: u16,
    pub region: String,
    pub account: String,
    /// How long a deployment may take to become healthy (App Runner allows 5 minutes).
    pub deploy_timeout: Duration,
    /// How long an instance gets between SIGTERM and SIGKILL when ferry stops it.
    pub stop_grace: Duration,
    /// How long a retiring instance gets to finish its requests and close its WebSockets.
    pub drain_timeout: Duration,
    /// How many of each service's newest revisions keep their images on the engine.
    pub keep_revisions: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { field, message: message.into() }
}

/// The data directory when none is given: `/var/lib/ferry` for root, else `$XDG_DATA_HOME/ferry` or
/// `~/.local/share/ferry`.
pub fn default_data_dir() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let is_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if is_root {
        return PathBuf::from("/var/lib/ferry");
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("ferry");
    }
    match home {
        Some(h) => h.join(".local/share/ferry"),
        None => PathBuf::from("/var/lib/ferry"),
    }
}

impl RawConfig {
    pub fn validate(self) -> Result<ServerConfig, ConfigError> {
        let addr = |field: &'static str, v: &str| -> Result<SocketAddr, ConfigError> {
            v.parse()
                .map_err(|_| err(field, format!("{v:?} is not an address; use IP:PORT, e.g. 127.0.0.1:8080")))
        };
        let api_listen = addr("api-listen", &self.api_listen)?;
        let http_listen = addr("http-listen", &self.http_listen)?;
        let domain = self.domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain_ok = !domain.is_empty()
            && domain.len() <= 200
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
            });
        if !domain_ok {
            return Err(err(
                "domain",
                format!("{:?} is not a domain name; use e.g. localhost or apps.example.com", self.domain),
            ));
        }
        if self.region.is_empty()
            || !self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err("region", "use lower-case letters, digits and '-', e.g. local or eu-west-1"));
        }
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("account", "an account id is 12 digits, e.g. 000000000000"));
        }
        if !(10..=3600).contains(&self.deploy_timeout_secs) {
            return Err(err("deploy-timeout", "use 10 to 3600 seconds"));
        }
        if self.stop_grace_secs > 600 {
            return Err(err("stop-grace", "use 0 to 600 seconds"));
        }
        if self.drain_timeout_secs > 3600 {
            return Err(err("drain-timeout", "use 0 to 3600 seconds"));
        }
        if !(1..=1000).contains(&self.keep_revisions) {
            return Err(err("keep-revisions", "use 1 to 1000"));
        }
        let public_port = self.public_port.unwrap_or(http_listen.port());
        Ok(ServerConfig {
            data_dir: self.data_dir.unwrap_or_else(default_data_dir),
            api_listen,
            http_listen,
            domain,
            public_port,
            region: self.region,
            account: self.account,
            deploy_timeout: Duration::from_secs(self.deploy_timeout_secs),
            stop_grace: Duration::from_secs(self.stop_grace_secs),
            drain_timeout: Duration::from_secs(self.drain_timeout_secs),
            keep_revisions: self.keep_revisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_the_flag() {
        let c = RawConfig { data_dir: Some("/tmp/x".into()), ..Default::default() }.validate().unwrap();
        assert_eq!(c.http_listen.port(), 8080);
        assert_eq!(c.public_port, 8080);
        assert_eq!(c.domain, "localhost");
        let e = RawConfig { http_listen: "8080".into(), ..Default::default() }.validate().unwrap_err();
        assert_eq!(e.field, "http-listen");
        let e = RawConfig { domain: "bad domain".into(), ..Default::default() }.validate().unwrap_err();
        assert_eq!(e.field, "domain");
        let e = RawConfig { account: "123".into(), ..Default::default() }.validate().unwrap_err();
        assert_eq!(e.field, "account");
        let c = RawConfig { domain: "Apps.Example.COM.".into(), ..Default::default() }.validate().unwrap();
        assert_eq!(c.domain, "apps.example.com");
    }
}
