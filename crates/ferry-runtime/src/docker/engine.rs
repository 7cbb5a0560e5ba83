//! The driver's context: how to reach the engine ([`DockerOptions`]) and the connection made with them
//! ([`Engine`]).
//!
//! A leaf of the driver: the modules that talk to the engine (containers, images, pulls, pushes,
//! builds, logs, events) each take an `&Engine` and import nothing from one another except the leaves
//! (`engine`, `error`, `registry`); `mod.rs` composes them into the [`Runtime`](crate::Runtime)
//! implementation. Nothing here knows those modules.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::SystemInfo;
use bollard::{API_DEFAULT_VERSION, Docker};

use super::error::{self, timed};
use crate::{EngineInfo, Result, RuntimeError};

/// How to reach the engine and how to configure the containers it runs.
#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// The engine's unix socket.
    pub socket: PathBuf,
    /// The bound on each call to the engine (a stop gets its grace period on top; pulls, builds and
    /// pushes are bounded by their callers).
    pub call_timeout: Duration,
    /// Containers log through Docker's default json-file driver, rotated at this size (Docker's syntax).
    pub log_max_size: String,
    /// How many rotated log files each container keeps.
    pub log_max_files: u32,
    /// The installation this driver works for: written on every container as `ferry.owner`, and the
    /// only containers it lists and reports events about.
    pub owner: String,
    /// Where each service's network gets its subnet.
    pub network_pool: super::subnet::NetworkPool,
    /// `/etc/hosts` lines of every container, as the engine takes them (`name:address`, where the address
    /// may be `host-gateway`): how apps find the router's internal listener.
    pub extra_hosts: Vec<String>,
}

impl Default for DockerOptions {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/var/run/docker.sock"),
            call_timeout: Duration::from_secs(30),
            log_max_size: "10m".to_owned(),
            log_max_files: 3,
            owner: "ferry".to_owned(),
            network_pool: super::subnet::NetworkPool::default(),
            extra_hosts: Vec::new(),
        }
    }
}

/// bollard's per-request header timeout, in seconds: effectively off, since calls are bounded here.
const BOLLARD_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// A connection to the engine and the options it was made with. Cheap to clone; clones share one
/// connection pool.
#[derive(Debug, Clone)]
pub(super) struct Engine {
    pub(super) docker: Docker,
    pub(super) options: Arc<DockerOptions>,
    /// The engine's name (its host name), read at connect: the node every container runs on.
    pub(super) node: Arc<str>,
    /// The host's CPU count (0 if the engine does not say), read at connect, for capping CPU limits.
    pub(super) cpus: u32,
    /// Held while a service's network is looked up and made or removed, so two runs never make two
    /// networks of one name (engines before Docker 25 allow that).
    pub(super) networks: Arc<tokio::sync::Mutex<()>>,
}

impl Engine {
    /// Connects to the engine on `options.socket` and agrees on an API version with it.
    pub(super) async fn connect(options: DockerOptions) -> Result<Self> {
        let socket = options.socket.display().to_string();
        let hint = "start the docker engine (e.g. `systemctl start docker` or `dockerd`)";
        if !options.socket.exists() {
            return Err(RuntimeError::Unavailable(format!(
                "there is no docker engine socket at {socket}; {hint}"
            )));
        }
        let docker =
            Docker::connect_with_unix(&socket, BOLLARD_TIMEOUT_SECS, API_DEFAULT_VERSION).map_err(|e| {
                RuntimeError::Unavailable(format!("cannot use {socket}: {}; {hint}", error::message(&e)))
            })?;
        // bollard speaks its newest API version unless told otherwise; older engines (20.10 speaks 1.41)
        // refuse that with "client version is too new", so ask the engine for its version first.
        let negotiate = async {
            docker.negotiate_version().await.map_err(|e| {
                RuntimeError::Unavailable(format!(
                    "cannot talk to the docker engine at {socket}: {}; {hint}",
                    error::message(&e)
                ))
            })
        };
        let docker = timed(options.call_timeout, "the version negotiation", negotiate).await?;
        // Neither the host's name nor its CPU count changes while the engine runs: ask once.
        let call = async { docker.info().await.map_err(error::engine) };
        let info = timed(options.call_timeout, "an info request", call).await?;
        let node: Arc<str> = match info.name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.into(),
            _ => "local".into(),
        };
        let cpus = engine_info(&info).cpus;
        tracing::info!(
            socket = %socket, api_version = %docker.client_version(), node = %node,
            "connected to the docker engine"
        );
        Ok(Self { docker, options: Arc::new(options), node, cpus, networks: Arc::default() })
    }

    pub(super) fn call_timeout(&self) -> Duration {
        self.options.call_timeout
    }

    pub(super) async fn info(&self) -> Result<EngineInfo> {
        let call = async { self.docker.info().await.map_err(error::engine) };
        let info = timed(self.call_timeout(), "an info request", call).await?;
        Ok(engine_info(&info))
    }
}

fn engine_info(info: &SystemInfo) -> EngineInfo {
    EngineInfo {
        version: info.server_version.clone().unwrap_or_default(),
        cpus: info.ncpu.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        memory_bytes: info.mem_total.unwrap_or(0),
        rootless: info
            .security_options
            .iter()
            .flatten()
            .any(|o| o.split(',').any(|kv| kv == "name=rootless")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rootless_engine_says_so_among_its_security_options() {
        let info = |options: &[&str]| SystemInfo {
            security_options: Some(options.iter().map(|o| o.to_string()).collect()),
            ..Default::default()
        };
        assert!(engine_info(&info(&["name=seccomp,profile=builtin", "name=rootless"])).rootless);
        assert!(!engine_info(&info(&["name=seccomp,profile=builtin", "name=cgroupns"])).rootless);
        assert!(!engine_info(&SystemInfo::default()).rootless);
    }
}
