//! The Docker driver: [`Runtime`] over the engine's HTTP API on its local socket, through bollard.
//!
//! Every call is bounded by [`DockerOptions::call_timeout`] here, not by bollard: bollard's own timeout
//! only covers the wait for response headers and is shared by all calls (a stop with a long grace would
//! trip it), so it is set out of the way. Pulls are bounded by their caller; log and event streams run
//! as long as they are read. Builds and pushes are bounded by their caller too.

mod build;
mod container;
mod error;
mod events;
mod logs;
mod pull;
mod push;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::{API_DEFAULT_VERSION, Docker};
use ferry_model::{ImageRef, RegistryCredentials, Timestamp};
use futures_util::stream::BoxStream;
use tokio::sync::OnceCell;

use crate::{
    ContainerInfo, ContainerSpec, EngineInfo, LogLine, PulledImage, Result, Runtime, RuntimeError,
    RuntimeEvent,
};
use error::timed;

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
}

impl Default for DockerOptions {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/var/run/docker.sock"),
            call_timeout: Duration::from_secs(30),
            log_max_size: "10m".to_owned(),
            log_max_files: 3,
            owner: "ferry".to_owned(),
        }
    }
}

/// bollard's per-request header timeout, in seconds: effectively off, since calls are bounded here.
const BOLLARD_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// The Docker driver. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    options: Arc<DockerOptions>,
    /// The host's CPU count, read once, for capping CPU limits.
    cpus: Arc<OnceCell<u32>>,
}

impl DockerRuntime {
    /// Connects to the engine on its default socket and agrees on an API version with it.
    pub async fn connect() -> Result<Self> {
        Self::connect_with(DockerOptions::default()).await
    }

    pub async fn connect_with(options: DockerOptions) -> Result<Self> {
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
        tracing::info!(socket = %socket, api_version = %docker.client_version(), "connected to the docker engine");
        Ok(Self { docker, options: Arc::new(options), cpus: Arc::new(OnceCell::new()) })
    }

    /// The engine API version agreed on at connect time (`1.41` for Docker 20.10).
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    fn call_timeout(&self) -> Duration {
        self.options.call_timeout
    }

    async fn engine_info(&self) -> Result<EngineInfo> {
        let call = async { self.docker.info().await.map_err(error::engine) };
        let info = timed(self.call_timeout(), "an info request", call).await?;
        Ok(EngineInfo {
            version: info.server_version.unwrap_or_default(),
            cpus: info.ncpu.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            memory_bytes: info.mem_total.unwrap_or(0),
        })
    }

    /// The host's CPU count (0 if the engine does not say), asked once.
    async fn host_cpus(&self) -> Result<u32> {
        self.cpus.get_or_try_init(|| async { Ok(self.engine_info().await?.cpus) }).await.copied()
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn info(&self) -> Result<EngineInfo> {
        self.engine_info().await
    }

    async fn pull(
        &self,
        image: &ImageRef,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<PulledImage> {
        self.pull_image(image, credentials, progress).await
    }

    async fn build_image(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<String> {
        self.build_from_context(context, dockerfile, tag, progress).await
    }

    async fn push_image(
        &self,
        tag: &str,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<Option<String>> {
        self.push_tag(tag, credentials, progress).await
    }

    async fn run(&self, spec: &ContainerSpec) -> Result<ContainerInfo> {
        self.run_container(spec).await
    }

    async fn inspect(&self, container_id: &str) -> Result<Option<ContainerInfo>> {
        self.inspect_container(container_id).await
    }

    async fn list(&self) -> Result<Vec<ContainerInfo>> {
        self.list_containers().await
    }

    async fn stop(&self, container_id: &str, grace: Duration) -> Result<()> {
        self.stop_container(container_id, grace).await
    }

    async fn remove(&self, container_id: &str) -> Result<()> {
        self.remove_container(container_id).await
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        self.remove_image_by_ref(image).await
    }

    async fn image_exists(&self, image: &str) -> Result<bool> {
        self.image_is_present(image).await
    }

    async fn tail_logs(&self, container_id: &str, lines: usize) -> Result<Vec<LogLine>> {
        self.tail_container_logs(container_id, lines).await
    }

    fn follow_logs(
        &self,
        container_id: &str,
        since: Option<Timestamp>,
    ) -> BoxStream<'static, Result<LogLine>> {
        self.follow_container_logs(container_id, since)
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent>> {
        self.event_stream()
    }
}
