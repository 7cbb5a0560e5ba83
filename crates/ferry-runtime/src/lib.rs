//! The container runtime seam.
//!
//! ferry's control plane talks to containers only through [`Runtime`]: its [`Images`] (pull,
//! resolve, build, push, remove) and its [`Instances`] (run, inspect, stop, logs, events). The Docker driver
//! ([`docker::DockerRuntime`], on bollard) is the real implementation; [`fake::FakeRuntime`] records
//! calls and plays scripted outcomes for unit tests. A distributed engine (Docker Swarm mode, say) can
//! be added later behind the same traits. Only this crate knows Docker's API, its label names and its
//! error texts.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use ferry_model::{ImageRef, InstanceId, RegistryCredentials, ServiceId, ServiceName, Timestamp};
use futures_util::stream::BoxStream;

pub mod docker;
pub mod fake;
mod labels;

/// Which instance of which service a container is. The driver writes it as labels on the container
/// and reads it back when listing, which is how ferry adopts its containers after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceIdentity {
    pub service_name: ServiceName,
    pub service_id: ServiceId,
    pub revision: u32,
    pub instance_id: InstanceId,
}

/// What to run. The driver publishes `port` on 127.0.0.1 only, on an ephemeral host port, and runs the
/// container hardened whatever the spec says: a short list of capabilities, no privilege gained through
/// set-user-id files, a limit on processes, never privileged, nothing of the host mounted (the Docker
/// driver's `create_body` says which and why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub identity: InstanceIdentity,
    /// The image to run: an image id (`sha256:…`) as returned by [`Images::pull`], or a reference.
    pub image: String,
    pub env: Vec<(String, String)>,
    /// Replaces the image's `CMD` when set; the `ENTRYPOINT` stays.
    pub command: Option<Vec<String>>,
    /// The container port the app listens on.
    pub port: u16,
    /// CPU limit in billionths of a CPU.
    pub nano_cpus: i64,
    /// Memory limit in bytes (swap is not allowed beyond it).
    pub memory_bytes: i64,
    /// The image's files cannot be changed: the app writes only to a small `/tmp` in memory. Off by
    /// default: many images write to their own directories (caches, pid files).
    pub read_only_root: bool,
}

/// A container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// `None` for containers without ferry's labels (never returned by [`Instances::list`]).
    pub identity: Option<InstanceIdentity>,
    pub running: bool,
    /// Set once the container has stopped.
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// The engine's error for a container that could not start, if any.
    pub error: Option<String>,
    /// The engine node the container runs on. The Docker driver is one engine on one host: the engine's
    /// name (its host name, `local` if it reports none), read once at connect, the same for every
    /// container. A distributed engine (Swarm mode, say) reports the node each task runs on.
    pub node: String,
    /// Where the router reaches the app: its port published on `127.0.0.1:<host port>`, while running.
    pub address: Option<SocketAddr>,
    /// The container's own address and the app's port on its service's network, while running. Health
    /// checks use it: a userland port proxy (the engine's default) accepts connections on the published
    /// port even when the app does not listen, which would make every TCP check pass.
    pub network_address: Option<SocketAddr>,
}

/// The result of a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The engine's image id (`sha256:…` of the image config): what to run.
    pub image_id: String,
    /// The registry's manifest digest (`sha256:…`) for the requested repository, when the engine knows one.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One line a container wrote, without its trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the engine received it.
    pub at: Timestamp,
    pub stream: LogStream,
    pub line: String,
}

/// What a running container uses, as the engine counts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerStats {
    /// CPU time its processes have used since it started, in seconds (all cores together): a rate over two
    /// samples is the CPU it uses.
    pub cpu_seconds_total: f64,
    /// Memory it uses now, less the page cache the kernel can take back (what `docker stats` shows).
    pub memory_bytes: u64,
}

/// Something that happened to a ferry container, from the engine's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEvent {
    /// The container stopped (by itself, by a kill, or by an out-of-memory kill).
    Died { container_id: String, identity: Option<InstanceIdentity>, exit_code: Option<i64> },
}

/// Facts about the engine, for limits and the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub version: String,
    pub cpus: u32,
    pub memory_bytes: i64,
    /// The engine runs without root (rootless Docker): its containers' own addresses are not reachable
    /// from the host, where ferry's health checks come from.
    pub rootless: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the container engine is not reachable: {0}")]
    Unavailable(String),
    #[error("image {image} could not be pulled: {message}")]
    Pull { image: String, message: String },
    /// A reference that could not be looked up in its registry. The Docker driver's message ends with
    /// what to check: that the tag exists, that the registry is reachable, or the credentials.
    #[error("image {image} could not be resolved to a digest: {message}")]
    Resolve { image: String, message: String },
    #[error("image {image} could not be pushed: {message}")]
    Push { image: String, message: String },
    /// An image build that the builder ended with an error: a failing command, a Dockerfile it could not
    /// read, a base image it could not get.
    #[error("the build failed: {message}")]
    Build {
        /// The builder's message, as it gave it.
        message: String,
        /// The command that failed, when the builder says (`pip install -r requirements.txt`), without the
        /// shell it ran in.
        command: Option<String>,
        /// The failed command's exit code, when the builder says.
        exit_code: Option<i64>,
    },
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("the container engine refused: {0}")]
    Engine(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// What an engine does with images: build them, send them to a registry and get them from one, and
/// look after the ones it holds. Nothing here runs or touches a container.
///
/// An image is named either by a reference (`127.0.0.1:5000/web:v1`, `web@sha256:…`) or by the
/// engine's id (`sha256:…` of the image's config); references are names the engine keeps for an id,
/// and several may name one image.
///
/// Every call is bounded in time by the driver, except pulls, builds and pushes, which their callers
/// bound.
#[async_trait]
pub trait Images: Send + Sync + 'static {
    /// Pulls `image` (with `credentials` for a private registry), calling `progress` with a short
    /// human-readable line now and then (at most a few times a second).
    ///
    /// (`for<'a>` is spelled out: `async_trait` would otherwise tie the `&str` to the call's lifetime,
    /// and an implementation could not pass a line it has just formatted.)
    async fn pull(
        &self,
        image: &ImageRef,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<PulledImage>;

    /// The manifest digest (`sha256:…`) `image` names in its registry now, without pulling it: the
    /// digest the reference carries, without asking anything, or else the registry's answer for its tag
    /// (`latest` if it has none), with `credentials` for a private registry. A failed look-up is a
    /// [`RuntimeError::Resolve`] naming the image.
    ///
    /// ferry resolves a tag once and then pulls `name@digest` only: the engine never gets a tag from
    /// ferry, so what ferry later removes (`name@digest`) can never be a tag a user made, and every
    /// instance of a revision runs the same image even if the tag moves.
    async fn resolve(&self, image: &ImageRef, credentials: Option<&RegistryCredentials>) -> Result<String>;

    /// Builds an image with the engine's (classic) builder from a tar build context, tags it `tag`, and
    /// returns the engine's image id (`sha256:…`). `progress` gets each line of the builder's output as it
    /// comes (without trailing newline).
    ///
    /// The driver puts no time limit on a build: the caller bounds it. Dropping the future ends the build
    /// (the engine stops a build whose client went away, and removes its containers).
    async fn build_image(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<String>;

    /// Pushes a local tag (`127.0.0.1:5000/web:v1`) to its registry, with `credentials` for a private one,
    /// calling `progress` with a short line now and then (at most a few times a second, plus a final
    /// one). Returns the manifest digest (`sha256:…`) the registry reported, when it reported one.
    ///
    /// Like a pull, a push has no time limit in the driver: the caller bounds it.
    async fn push_image(
        &self,
        tag: &str,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<Option<String>>;

    /// Removes an image by id, or one of its names (a reference: `name@digest`, `name:tag`), to free disk
    /// space. A name goes alone while other names still point at the image (so removing the
    /// `name@digest` ferry pulled never removes a tag someone made); the image goes with its last name.
    /// Removing what is already gone succeeds. Removing an image, or its last name (for this, a tag and
    /// the digests of its repository count as one name), while a container was created from it is an
    /// [`RuntimeError::Engine`] error, and everything stays.
    async fn remove_image(&self, image: &str) -> Result<()>;

    /// Whether the engine has the image (by id or reference), i.e. a container could start from it
    /// without a pull.
    async fn image_exists(&self, image: &str) -> Result<bool>;
}

/// What an engine does with ferry's instances, one container each: run one, look at them, stop and
/// remove them, read what they write, and hear when they die. Only containers that carry this
/// installation's labels are listed or reported.
///
/// Every call is bounded in time by the driver. Calls are idempotent where they can be: removing or
/// stopping a container that is already gone succeeds.
#[async_trait]
pub trait Instances: Send + Sync + 'static {
    /// Creates and starts a container. If it cannot start, nothing is left behind and the error carries
    /// the engine's message.
    ///
    /// Each service's containers share a network of their own, made by the service's first run: they
    /// reach each other but no other service's containers (the Docker driver: a user-defined bridge).
    async fn run(&self, spec: &ContainerSpec) -> Result<ContainerInfo>;

    /// Frees what the engine keeps for a service beyond its containers (its network), once none of its
    /// containers is left; call it when the service is deleted. Releasing what is gone, or still in use
    /// (it is then left), succeeds.
    async fn release_service(&self, service: &ServiceId) -> Result<()>;

    /// [`release_service`](Self::release_service) for every service of this installation not in `keep`
    /// (the services that still exist): what a deletion could not release (the engine was away) goes at
    /// the next start. Returns how many were released.
    async fn release_services_except(&self, keep: &[ServiceId]) -> Result<usize>;

    async fn inspect(&self, container_id: &str) -> Result<Option<ContainerInfo>>;

    /// Every container that carries ferry's labels, running or not.
    async fn list(&self) -> Result<Vec<ContainerInfo>>;

    /// What the container uses now; `None` when it is gone or not running.
    async fn stats(&self, container_id: &str) -> Result<Option<ContainerStats>>;

    /// Sends SIGTERM, then SIGKILL after `grace`.
    async fn stop(&self, container_id: &str, grace: Duration) -> Result<()>;

    /// Removes the container (killing it if it still runs).
    async fn remove(&self, container_id: &str) -> Result<()>;

    /// The last `lines` lines the container wrote, oldest first.
    async fn tail_logs(&self, container_id: &str, lines: usize) -> Result<Vec<LogLine>>;

    /// The container's output from `since` on (everything if `None`), following until it stops.
    ///
    /// A line is yielded when its `at` is at or after `since`; to go on after a line seen before, pass
    /// its `at` plus one millisecond.
    fn follow_logs(
        &self,
        container_id: &str,
        since: Option<Timestamp>,
    ) -> BoxStream<'static, Result<LogLine>>;

    /// Events about ferry's containers, from now on. The stream ends if the engine goes away.
    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent>>;
}

/// A container engine: its [`Images`] and its [`Instances`], and what it says about itself.
///
/// Callers hold an `Arc<dyn Runtime>` and bring the halves they call into scope
/// (`use ferry_runtime::{Images, Instances, Runtime}`); a part that needs only one half can take an
/// `Arc<dyn Images>` or an `Arc<dyn Instances>`, to which an `Arc<dyn Runtime>` converts.
#[async_trait]
pub trait Runtime: Images + Instances {
    async fn info(&self) -> Result<EngineInfo>;
}
