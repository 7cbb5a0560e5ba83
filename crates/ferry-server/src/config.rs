//! The server's configuration: raw values from a file, the environment and flags, validated into
//! [`ServerConfig`] before any port is bound or file touched.
//!
//! Precedence, lowest first: the defaults below; the config file (`--config FILE`, TOML, keys as the
//! flags with `_` for `-`, runtime images under `[runtime_images]`); the `FERRY_*` environment variables;
//! the command-line flags. (The binary's clap definitions carry the flag and variable names and fold the
//! last two together.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_build::RuntimeImages;
use serde::Deserialize;

/// Values as given, before validation. Every field of the file is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub data_dir: Option<PathBuf>,
    pub api_listen: Option<String>,
    pub http_listen: Option<String>,
    pub domain: Option<String>,
    /// The port in service URLs, when it differs from the router's (behind a port forward).
    pub public_port: Option<u16>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub deploy_timeout: Option<u64>,
    pub stop_grace: Option<u64>,
    pub drain_timeout: Option<u64>,
    pub keep_revisions: Option<u32>,
    pub max_connections: Option<u64>,
    pub max_header_size: Option<u64>,
    pub max_body_size: Option<u64>,
    pub build_timeout: Option<u64>,
    pub max_builds: Option<usize>,
    /// Where built images are pushed (`registry/prefix`); none keeps them on the engine only.
    pub build_registry: Option<String>,
    /// Runtime name → image, on top of the defaults.
    #[serde(default)]
    pub runtime_images: BTreeMap<String, String>,
    pub shutdown_grace: Option<u64>,
    pub docker_socket: Option<PathBuf>,
    pub log: Option<String>,
    /// `text` (the default) or `json`: ferry's own log, one JSON object per line.
    pub log_format: Option<String>,
    /// Seconds between two looks at a watched branch or tag (0: never poll, webhooks only).
    pub poll_interval: Option<u64>,
    pub poll_concurrency: Option<usize>,
    /// Seconds between two samples of every service's metrics (the history's resolution).
    pub metrics_interval: Option<u64>,
    /// The host, on the router's listener, where git hosts and registries send their webhooks.
    pub hooks_host: Option<String>,
    /// Seconds the router holds a request for an instance or for room before it answers 503.
    pub hold_timeout: Option<u64>,
    /// The autoscaler's knobs (seconds, fractions, rates).
    pub scale_stable_window: Option<u64>,
    pub scale_panic_window: Option<u64>,
    pub scale_to_zero_grace: Option<u64>,
    pub scale_target_utilization: Option<f64>,
    pub scale_panic_threshold: Option<f64>,
    pub scale_max_up_rate: Option<f64>,
    pub scale_max_down_rate: Option<f64>,
    pub scale_down_delay: Option<u64>,
    /// The IPv4 prefix services' networks get their subnets from.
    pub network_pool: Option<String>,
    /// Where services reach each other through the router (`off`: nowhere, no private services).
    pub internal_listen: Option<String>,
    /// HTTPS: see `HttpsConfig` (`https.rs`).
    pub https_listen: Option<String>,
    pub https_public_port: Option<u16>,
    pub https_redirect: Option<bool>,
    pub hsts_max_age: Option<u64>,
    pub default_certificates: Option<String>,
    pub acme_directory: Option<String>,
    pub acme_ca_file: Option<PathBuf>,
    pub acme_email: Option<String>,
    pub acme_dns_hook: Option<PathBuf>,
    /// The API over HTTPS: a PEM certificate chain and its PEM private key.
    pub api_tls_cert: Option<PathBuf>,
    pub api_tls_key: Option<PathBuf>,
    /// Serve the API in clear on a non-loopback address (something else encrypts it).
    pub api_insecure: Option<bool>,
}

impl RawConfig {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err("config", format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text)
            .map_err(|e| err("config", format!("{} is not a valid config file: {e}", path.display())))
    }

    /// `other`'s values where it has them, else ours (runtime images merge, `other` winning per key).
    pub fn overlay(mut self, other: RawConfig) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            data_dir,
            api_listen,
            http_listen,
            domain,
            public_port,
            region,
            account,
            deploy_timeout,
            stop_grace,
            drain_timeout,
            keep_revisions,
            max_connections,
            max_header_size,
            max_body_size,
            build_timeout,
            max_builds,
            build_registry,
            shutdown_grace,
            docker_socket,
            log,
            log_format,
            poll_interval,
            poll_concurrency,
            metrics_interval,
            hooks_host,
            hold_timeout,
            scale_stable_window,
            scale_panic_window,
            scale_to_zero_grace,
            scale_target_utilization,
            scale_panic_threshold,
            scale_max_up_rate,
            scale_max_down_rate,
            scale_down_delay,
            network_pool,
            internal_listen,
            https_listen,
            https_public_port,
            https_redirect,
            hsts_max_age,
            default_certificates,
            acme_directory,
            acme_ca_file,
            acme_email,
            acme_dns_hook,
            api_tls_cert,
            api_tls_key,
            api_insecure
        );
        self.runtime_images.extend(other.runtime_images);
        self
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
    /// How long a deployment may take to become healthy (App Runner allows 5 minutes). Default 300 s.
    pub deploy_timeout: Duration,
    /// How long an instance gets between SIGTERM and SIGKILL when ferry stops it. Default 10 s.
    pub stop_grace: Duration,
    /// How long a retiring instance gets to finish its requests and close its WebSockets. Default 30 s.
    pub drain_timeout: Duration,
    /// How many of each service's newest revisions keep their images on the engine. Default 5.
    pub keep_revisions: u32,
    /// Client connections the router keeps open at most; more wait in the listen backlog. Default 20,000.
    pub max_connections: usize,
    /// Largest request head (request line and headers) the router accepts, in bytes; larger gets 431.
    /// Default 64 KiB.
    pub max_header_size: usize,
    /// Largest request body the router accepts, in bytes; larger gets 413. Default: no limit.
    pub max_body_size: Option<u64>,
    /// How long one build may take, fetch included. Default 20 minutes.
    pub build_timeout: Duration,
    /// How many builds run at once; more wait their turn. Default 2.
    pub max_builds: usize,
    pub build_registry: Option<String>,
    pub runtime_images: RuntimeImages,
    /// How long a SIGTERM'd server waits for open requests, log streams and tunnels. Default 30 s.
    pub shutdown_grace: Duration,
    /// The Docker engine's socket. Default: `DOCKER_HOST` if it names a unix socket, else
    /// `/var/run/docker.sock`.
    pub docker_socket: PathBuf,
    pub log: String,
    pub log_format: LogFormat,
    /// How often watched branches and tags are asked for their newest version; `None`: never.
    pub poll_interval: Option<Duration>,
    /// How many of those looks run at once.
    pub poll_concurrency: usize,
    /// How often every service's metrics are sampled for their history (`ferry metrics`, the console's
    /// charts); an hour of samples is kept. Default 10 s.
    pub metrics_interval: Duration,
    /// Where webhooks and registry notifications arrive: a host the router answers itself.
    pub hooks_host: String,
    /// How long the router holds a request for an instance (scale from zero, a replaced instance) or for
    /// room (every instance at its max concurrency) before it answers 503.
    pub hold_timeout: Duration,
    /// The autoscaler's knobs; each service's sizes and max concurrency replace those in it.
    pub scaling: ferry_plan::autoscale::ScalingConfig,
    /// Where each service's network gets its subnet (a /26 each).
    pub network_pool: ferry_runtime::docker::NetworkPool,
    /// The router's internal listener (services calling services, private ones included); `None`: off.
    pub internal_listen: Option<SocketAddr>,
    /// The router's HTTPS listener and where its certificates come from; `None`: plain HTTP only.
    pub https: Option<crate::https::HttpsConfig>,
    /// The API's certificate; `None`: the API speaks plain HTTP (only on loopback unless
    /// `--api-insecure`).
    pub api_tls: Option<crate::api_server::ApiTls>,
}

#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

/// How ferry writes its own log (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format), for log collectors.
    Json,
}

pub(crate) fn err(field: &'static str, message: impl Into<String>) -> ConfigError {
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

/// The engine's socket when none is given: `DOCKER_HOST` if it is `unix://…` (rootless Docker sets it),
/// else Docker's default.
fn default_docker_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

fn within(
    field: &'static str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
) -> Result<u64, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(err(field, format!("{value} is out of range; use {} to {} {unit}", range.start(), range.end())))
    }
}

pub(crate) fn is_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.split('.').all(|l| {
            !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-')
        })
}

impl RawConfig {
    pub fn validate(self) -> Result<ServerConfig, ConfigError> {
        let addr = |field: &'static str, v: Option<&str>, default: &str| -> Result<SocketAddr, ConfigError> {
            let v = v.unwrap_or(default);
            v.parse()
                .map_err(|_| err(field, format!("{v:?} is not an address; use IP:PORT, e.g. 127.0.0.1:8080")))
        };
        let api_listen = addr("api-listen", self.api_listen.as_deref(), "127.0.0.1:7700")?;
        let http_listen = addr("http-listen", self.http_listen.as_deref(), "127.0.0.1:8080")?;
        let given_domain = self.domain.unwrap_or_else(|| "localhost".to_owned());
        let domain = given_domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !is_domain(&domain) {
            return Err(err(
                "domain",
                format!("{given_domain:?} is not a domain name; use e.g. localhost or apps.example.com"),
            ));
        }
        let region = self.region.unwrap_or_else(|| "local".to_owned());
        // At most 63 characters: App Runner's ARN pattern allows no more, so ferry would refuse its own ARNs.
        if region.is_empty()
            || region.len() > 63
            || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err(
                "region",
                "use 1 to 63 lower-case letters, digits and '-', e.g. local or eu-west-1",
            ));
        }
        let account = self.account.unwrap_or_else(|| "000000000000".to_owned());
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("account", "an account id is 12 digits, e.g. 000000000000"));
        }
        let secs = Duration::from_secs;
        let deploy_timeout =
            within("deploy-timeout", self.deploy_timeout.unwrap_or(300), 10..=3600, "seconds")?;
        let stop_grace = within("stop-grace", self.stop_grace.unwrap_or(10), 0..=600, "seconds")?;
        let drain_timeout = within("drain-timeout", self.drain_timeout.unwrap_or(30), 0..=3600, "seconds")?;
        let keep_revisions =
            within("keep-revisions", u64::from(self.keep_revisions.unwrap_or(5)), 1..=1000, "")?;
        let max_connections =
            within("max-connections", self.max_connections.unwrap_or(20_000), 1..=10_000_000, "")?;
        let max_header_size =
            within("max-header-size", self.max_header_size.unwrap_or(65_536), 8192..=1_048_576, "bytes")?;
        // 0 means no limit, as in the flag's help.
        let max_body_size = self.max_body_size.filter(|&size| size > 0);
        let build_timeout =
            within("build-timeout", self.build_timeout.unwrap_or(1200), 10..=86_400, "seconds")?;
        let max_builds = within("max-builds", self.max_builds.unwrap_or(2) as u64, 1..=64, "")?;
        let build_registry = match self.build_registry.map(|r| r.trim().trim_end_matches('/').to_owned()) {
            Some(r) if ferry_model::ImageRef::parse(&format!("{r}/service:tag")).is_err() || r.is_empty() => {
                return Err(err(
                    "build-registry",
                    format!("{r:?} is not a registry path; use e.g. 127.0.0.1:5000/ferry-builds"),
                ));
            }
            other => other,
        };
        let mut runtime_images = RuntimeImages::defaults();
        for (key, image) in &self.runtime_images {
            runtime_images.set(key, image).map_err(|e| err("runtime-image", e.message))?;
        }
        let shutdown_grace = within("shutdown-grace", self.shutdown_grace.unwrap_or(30), 0..=600, "seconds")?;
        let docker_socket = self.docker_socket.unwrap_or_else(default_docker_socket);
        let log = self.log.unwrap_or_else(|| "info".to_owned());
        let log_format = match self.log_format.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(err("log-format", format!("{other:?} is not a log format; use text or json")));
            }
        };
        let public_port = self.public_port.unwrap_or(http_listen.port());
        let poll_interval = match self.poll_interval.unwrap_or(60) {
            0 => None,
            n => Some(secs(within("poll-interval", n, 1..=86_400, "seconds (0: never)")?)),
        };
        let poll_concurrency =
            within("poll-concurrency", self.poll_concurrency.unwrap_or(4) as u64, 1..=256, "")?;
        let metrics_interval =
            secs(within("metrics-interval", self.metrics_interval.unwrap_or(10), 1..=300, "seconds")?);
        let hooks_host = match self.hooks_host {
            Some(host) => {
                let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
                if !is_domain(&host) {
                    return Err(err(
                        "hooks-host",
                        format!("{host:?} is not a host name; use e.g. ferry.{domain}"),
                    ));
                }
                host
            }
            None => format!("ferry.{domain}"),
        };
        let hold_timeout =
            secs(within("hold-timeout", self.hold_timeout.unwrap_or(60), 1..=3600, "seconds")?);
        let d = ferry_plan::autoscale::ScalingConfig::default();
        let stable_window = self.scale_stable_window.map_or(d.stable_window, secs);
        let scaling = ferry_plan::autoscale::ScalingConfig {
            stable_window,
            panic_window: self.scale_panic_window.map_or(d.panic_window, secs),
            scale_to_zero_grace: self.scale_to_zero_grace.map_or(d.scale_to_zero_grace, secs),
            target_utilization: self.scale_target_utilization.unwrap_or(d.target_utilization),
            panic_threshold: self.scale_panic_threshold.unwrap_or(d.panic_threshold),
            max_scale_up_rate: self.scale_max_up_rate.unwrap_or(d.max_scale_up_rate),
            max_scale_down_rate: self.scale_max_down_rate.unwrap_or(d.max_scale_down_rate),
            // The delay that damps flapping load: a fifth of the stable window unless given.
            scale_down_delay: self
                .scale_down_delay
                .map_or(d.scale_down_delay.min(secs(stable_window.as_secs() / 5)), secs),
            ..d
        };
        scaling
            .validate()
            .map_err(|e| err("scale", format!("{e}; see `ferry server --help` for the --scale-* flags")))?;
        let network_pool = match self.network_pool {
            None => ferry_runtime::docker::NetworkPool::default(),
            Some(text) => text
                .parse::<ferry_runtime::docker::Ipv4Net>()
                .and_then(ferry_runtime::docker::NetworkPool::new)
                .map_err(|e| err("network-pool", e))?,
        };
        let internal_listen = match self.internal_listen.as_deref().map(str::trim) {
            Some("off") => None,
            other => Some(
                addr("internal-listen", other, "0.0.0.0:7780")
                    .map_err(|e| ConfigError { message: format!("{}, or off", e.message), ..e })?,
            ),
        };
        let https = crate::https::HttpsConfig::validate(
            crate::https::RawHttps {
                listen: self.https_listen,
                public_port: self.https_public_port,
                redirect: self.https_redirect,
                hsts_max_age: self.hsts_max_age,
                default_certificates: self.default_certificates,
                acme_directory: self.acme_directory,
                acme_ca_file: self.acme_ca_file,
                acme_email: self.acme_email,
                acme_dns_hook: self.acme_dns_hook,
            },
            &domain,
        )?;
        let api_tls = crate::api_server::ApiTls::validate(
            api_listen,
            self.api_tls_cert.as_deref(),
            self.api_tls_key.as_deref(),
            self.api_insecure.unwrap_or(false),
        )?;
        Ok(ServerConfig {
            data_dir: self.data_dir.unwrap_or_else(default_data_dir),
            api_listen,
            http_listen,
            domain,
            public_port,
            region,
            account,
            deploy_timeout: secs(deploy_timeout),
            stop_grace: secs(stop_grace),
            drain_timeout: secs(drain_timeout),
            keep_revisions: keep_revisions as u32,
            max_connections: max_connections as usize,
            max_header_size: max_header_size as usize,
            max_body_size,
            build_timeout: secs(build_timeout),
            max_builds: max_builds as usize,
            build_registry,
            runtime_images,
            shutdown_grace: secs(shutdown_grace),
            docker_socket,
            log,
            log_format,
            poll_interval,
            poll_concurrency: poll_concurrency as usize,
            metrics_interval,
            hooks_host,
            hold_timeout,
            scaling,
            network_pool,
            internal_listen,
            https,
            api_tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawConfig {
        RawConfig { data_dir: Some("/tmp/x".into()), ..Default::default() }
    }

    #[test]
    fn the_autoscalers_knobs_have_defaults_and_are_checked_together() {
        let c = raw().validate().unwrap();
        assert_eq!(c.scaling, ferry_plan::autoscale::ScalingConfig::default());
        let c = RawConfig { scale_stable_window: Some(10), scale_to_zero_grace: Some(6), ..raw() }
            .validate()
            .unwrap();
        assert_eq!(c.scaling.stable_window, Duration::from_secs(10));
        assert_eq!(c.scaling.scale_down_delay, Duration::from_secs(2), "a fifth of the stable window");
        for bad in [
            RawConfig { scale_panic_window: Some(120), ..raw() },
            RawConfig { scale_target_utilization: Some(1.5), ..raw() },
            RawConfig { scale_max_down_rate: Some(0.5), ..raw() },
        ] {
            let e = bad.validate().unwrap_err();
            assert_eq!(e.field, "scale", "{e:?}");
        }
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        assert_eq!(raw().validate().unwrap().log_format, LogFormat::Text);
        let c = RawConfig { log_format: Some("JSON".into()), ..raw() }.validate().unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        let e = RawConfig { log_format: Some("xml".into()), ..raw() }.validate().unwrap_err();
        assert_eq!(
            (e.field, e.message.as_str()),
            ("log-format", "\"xml\" is not a log format; use text or json")
        );
    }

    #[test]
    fn defaults_validate_and_bad_values_name_the_flag() {
        let c = raw().validate().unwrap();
        assert_eq!(c.http_listen.port(), 8080);
        assert_eq!(c.public_port, 8080);
        assert_eq!(c.domain, "localhost");
        assert_eq!(c.deploy_timeout, Duration::from_secs(300));
        assert_eq!(c.runtime_images.get("python311"), Some("python:3.11-slim"));
        let e = RawConfig { http_listen: Some("8080".into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.field, "http-listen");
        let e = RawConfig { domain: Some("bad domain".into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.field, "domain");
        let e = RawConfig { account: Some("123".into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.field, "account");
        let e = RawConfig { region: Some("a".repeat(64)), ..raw() }.validate().unwrap_err();
        assert_eq!(e.field, "region");
        assert!(RawConfig { region: Some("a".repeat(63)), ..raw() }.validate().is_ok());
        let e = RawConfig { deploy_timeout: Some(5), ..raw() }.validate().unwrap_err();
        assert_eq!(e.to_string(), "deploy-timeout: 5 is out of range; use 10 to 3600 seconds");
        let e = RawConfig { runtime_images: BTreeMap::from([("cobol".into(), "x".into())]), ..raw() }
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "runtime-image");
        let c = RawConfig { domain: Some("Apps.Example.COM.".into()), ..raw() }.validate().unwrap();
        assert_eq!(c.domain, "apps.example.com");
    }

    #[test]
    fn router_limits_have_defaults_ranges_and_zero_for_no_body_limit() {
        let c = raw().validate().unwrap();
        assert_eq!((c.max_connections, c.max_header_size, c.max_body_size), (20_000, 65_536, None));
        let e = RawConfig { max_header_size: Some(1024), ..raw() }.validate().unwrap_err();
        assert_eq!(e.to_string(), "max-header-size: 1024 is out of range; use 8192 to 1048576 bytes");
        let e = RawConfig { max_connections: Some(0), ..raw() }.validate().unwrap_err();
        assert_eq!(e.field, "max-connections");
        let c = RawConfig { max_body_size: Some(0), ..raw() }.validate().unwrap();
        assert_eq!(c.max_body_size, None);
        let c = RawConfig { max_body_size: Some(10 << 20), ..raw() }.validate().unwrap();
        assert_eq!(c.max_body_size, Some(10 << 20));
    }

    #[test]
    fn the_file_sits_under_the_environment_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(
            &path,
            "domain = \"apps.example.com\"\nkeep_revisions = 3\n[runtime_images]\npython311 = \"registry.local/python:3.11\"\nnodejs22 = \"registry.local/node:22\"\n",
        )
        .unwrap();
        let file = RawConfig::from_file(&path).unwrap();
        let flags = RawConfig {
            keep_revisions: Some(7),
            runtime_images: BTreeMap::from([("nodejs22".into(), "other/node:22".into())]),
            ..Default::default()
        };
        let c = raw().overlay(file).overlay(flags).validate().unwrap();
        assert_eq!(c.domain, "apps.example.com", "from the file");
        assert_eq!(c.keep_revisions, 7, "the flag wins");
        assert_eq!(c.runtime_images.get("python311"), Some("registry.local/python:3.11"));
        assert_eq!(c.runtime_images.get("nodejs22"), Some("other/node:22"));

        std::fs::write(&path, "domian = \"typo\"\n").unwrap();
        let e = RawConfig::from_file(&path).unwrap_err();
        assert!(e.message.contains("domian"), "{e}");
    }
}
