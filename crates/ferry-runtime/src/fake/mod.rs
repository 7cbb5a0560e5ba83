//! A recording fake [`Runtime`] for other crates' unit tests.
//!
//! Containers and images live in memory. Every trait call is recorded as a [`Call`], a refused one
//! too. Outcomes can be scripted (failing pulls and resolves per reference as written, resolves held
//! until the test lets them answer, builds per tag prefix, pushes per tag; per image, failing runs, apps
//! that exit right after they start, and the addresses containers report) or played on a container (a
//! death, log lines). A script per image applies to each name of the image: the reference it was
//! written for, the id a pull or a build of it returned, its `name@digest`.
//!
//! Everything is deterministic:
//! - container ids are `fake-0001`, `fake-0002`, …; the n-th container takes port 32767 + n (back to
//!   32768 after 65535) and reports `127.0.0.1:<that port>` as both of its addresses while it runs,
//!   unless [`FakeRuntime::set_addresses`] scripted others; every container runs on [`FAKE_NODE`];
//! - log lines are dated by a logical clock that starts at [`FAKE_EPOCH`] and moves one millisecond a
//!   line;
//! - a digest is a hash of the reference as written ([`FakeRuntime::digest`]); pulls, resolves and
//!   pushes report it, and a reference that carries a digest reports that one (a resolve of it asks
//!   nothing, so no script fails it);
//! - an image id is a hash of the digest a pull reports ([`FakeRuntime::image_id`]): a pull of `web:v1`
//!   and one of `web@<digest of web:v1>` give one image. A pull of a tag or digest the fake pushed gives
//!   the image pushed; a build's id is a hash of its tag and context ([`FakeRuntime::built_image_id`]).
//!
//! Images are kept as the engine keeps them: references (`name:tag`, `name@digest`) naming image ids.
//! A pull by tag names the image by the tag and by `name@digest`, a pull by digest by `name@digest`
//! only, a build by its tag, and a push adds `name@digest` for the tag.
//! [`remove_image`](crate::Images::remove_image) follows Docker's rules without force. By id: refused while a container was created from the image, or while
//! names of more than one repository point at it; otherwise the image goes with all its names. By
//! reference: refused while a container was created from the image and the reference is its only name
//! (a tag with digests of its own repository counts as one); otherwise only that reference goes (a tag
//! that was its repository's last on the image takes that repository's digests along), and the image
//! goes with its last name. Images and references the fake never made exist until removed, so a test
//! need not pull what it runs; such a reference stands for the image a pull of it would give.
//!
//! Like the Docker driver, a service's first run gives it a network ([`FakeRuntime::networks`]), which
//! goes when the service is released once none of its containers is left (stopped ones count).
//!
//! Like Docker, a stop or a kill is a death: `stop` ends a running container with exit code 143 (SIGTERM
//! through the init process) and `remove` of a running one with 137; both emit [`RuntimeEvent::Died`].

mod images;
mod state;
mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use ferry_model::{ImageRef, ServiceId, Timestamp};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use tokio::sync::mpsc;

use crate::{
    ContainerInfo, ContainerSpec, ContainerStats, EngineInfo, Instances, LogLine, LogStream, Result, Runtime,
    RuntimeError, RuntimeEvent, labels,
};
use state::{Addresses, FakeContainer, Script, State};

/// When the fake's logical clock starts (2023-11-14T22:13:20Z), in milliseconds since the epoch.
pub const FAKE_EPOCH: Timestamp = Timestamp(1_700_000_000_000);

/// The node every fake container runs on.
pub const FAKE_NODE: &str = "fake-node";

/// The exit code of a container stopped with SIGTERM, as the engine reports it.
pub const EXIT_STOPPED: i64 = 143;
/// The exit code of a container killed with SIGKILL (a forced remove, an out-of-memory kill).
pub const EXIT_KILLED: i64 = 137;

/// One call made to the fake through [`Runtime`], with what identifies its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Info,
    /// The image reference as written (`127.0.0.1:5000/web:v1`).
    Pull(String),
    /// The image reference as written.
    Resolve(String),
    /// A build: the Dockerfile's path in the context, the tag, and the context's size in bytes.
    BuildImage {
        dockerfile: String,
        tag: String,
        context_len: usize,
    },
    /// A push of a tag, with or without credentials.
    PushImage {
        tag: String,
        with_credentials: bool,
    },
    Run(ContainerSpec),
    ReleaseService(ServiceId),
    /// The services kept.
    ReleaseServicesExcept(Vec<ServiceId>),
    Inspect(String),
    List,
    Stats(String),
    /// A container id and the grace period.
    Stop(String, Duration),
    Remove(String),
    RemoveImage(String),
    ImageExists(String),
    TailLogs(String, usize),
    FollowLogs(String, Option<Timestamp>),
    Events,
}

/// See the [module docs](self).
#[derive(Debug, Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
}

impl FakeRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    // --- what happened ---

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls so far, forgetting them.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.lock().calls)
    }

    /// Every container, running or not, in the order they were made (no call is recorded).
    pub fn containers(&self) -> Vec<ContainerInfo> {
        self.lock().containers.values().map(|c| c.info.clone()).collect()
    }

    /// The services that have a network: made by their first run, gone when released while none of
    /// their containers is left (no call is recorded).
    pub fn networks(&self) -> Vec<ServiceId> {
        self.lock().networks.iter().cloned().collect()
    }

    /// The spec a container was run with.
    pub fn spec(&self, container_id: &str) -> Option<ContainerSpec> {
        self.lock().containers.get(container_id).map(|c| c.spec.clone())
    }

    /// The image id a pull of `reference` returns, unless the fake pushed its tag or digest (a pull
    /// then gives the pushed image): `sha256:` and 64 hex digits derived from the manifest digest the
    /// pull reports, the one `reference` carries or else [`digest`](Self::digest) of it. So a pull of
    /// `web:v1` and one of `web@<digest of web:v1>` give one image, as on an engine.
    pub fn image_id(reference: &str) -> String {
        match ImageRef::parse(reference).ok().as_ref().and_then(ImageRef::digest) {
            Some(digest) => state::fake_sha256("id", digest),
            None => state::fake_sha256("id", &Self::digest(reference)),
        }
    }

    /// The digest a pull, a resolve or a push of `reference` reports (unless it names one itself):
    /// `sha256:` and 64 hex digits derived from the reference as written.
    pub fn digest(reference: &str) -> String {
        state::fake_sha256("digest", reference)
    }

    // --- scripts ---

    /// Pulls of `image` (the reference as written) fail with `message`, and so do look-ups of it
    /// ([`Images::resolve`](crate::Images::resolve)): a registry that refuses the one refuses the other.
    pub fn fail_pulls(&self, image: &str, message: &str) {
        self.lock().pull_failures.insert(image.to_owned(), message.to_owned());
    }

    /// Runs of `image` (a reference or an id; any name of the same image matches) fail with `message`,
    /// leaving nothing behind, as when the engine cannot start a container.
    pub fn fail_runs(&self, image: &str, message: &str) {
        self.lock().scripts.push((image.to_owned(), Script::FailRun(message.to_owned())));
    }

    /// Containers of `image` (any name of it, as for [`fail_runs`](Self::fail_runs)) write `lines` and
    /// exit with `exit_code` right after they start: `run` succeeds but returns a stopped container, and
    /// a `Died` is sent.
    pub fn exit_on_start(&self, image: &str, exit_code: i64, lines: &[(LogStream, &str)]) {
        let lines = lines.iter().map(|(stream, line)| (*stream, (*line).to_owned())).collect();
        self.lock().scripts.push((image.to_owned(), Script::ExitOnStart { exit_code, lines }));
    }

    /// Containers of `image` (any name of it, as for [`fail_runs`](Self::fail_runs)) report these
    /// addresses while they run: `published` as their [`address`](ContainerInfo::address), `network` as
    /// their [`network_address`](ContainerInfo::network_address), `None` for none. Others report
    /// `127.0.0.1:<their port>` for both. Like every script, the latest that matches wins; unlike the
    /// others, it also applies to [`add_container`](Self::add_container).
    pub fn set_addresses(&self, image: &str, published: Option<SocketAddr>, network: Option<SocketAddr>) {
        self.lock().addresses.push((image.to_owned(), Addresses { published, network }));
    }

    /// Every call fails with [`RuntimeError::Unavailable`] and event streams end, until called with
    /// `None`.
    pub fn set_unavailable(&self, message: Option<&str>) {
        let mut state = self.lock();
        state.unavailable = message.map(str::to_owned);
        if state.unavailable.is_some() {
            state.subscribers.clear();
        }
    }

    /// What `info` answers (4 CPUs and 8 GiB unless set).
    pub fn set_info(&self, info: EngineInfo) {
        self.lock().info = info;
    }

    // --- plays on containers ---

    /// A running container exits with `exit_code`, as if the app ended; `false` if it was not running.
    pub fn die(&self, container_id: &str, exit_code: i64) -> bool {
        self.lock().stop(container_id, exit_code, false)
    }

    /// A running container is killed for exceeding its memory limit (exit code 137).
    pub fn oom_kill(&self, container_id: &str) -> bool {
        self.lock().stop(container_id, EXIT_KILLED, true)
    }

    /// What [`stats`](Instances::stats) answers for the container while it runs (zero CPU time and
    /// memory unless set; `None` once it stops).
    pub fn set_stats(&self, container_id: &str, stats: ContainerStats) {
        self.lock().stats.insert(container_id.to_owned(), stats);
    }

    /// A container writes `lines`; `false` if there is no such container.
    pub fn write_logs(&self, container_id: &str, stream: LogStream, lines: &[&str]) -> bool {
        let mut state = self.lock();
        lines.iter().all(|line| state.write_log(container_id, stream, line))
    }

    /// A container that exists before the test starts (e.g. one to adopt after a restart), running or
    /// exited with code 0; no call is recorded, and of the scripts only
    /// [`set_addresses`](Self::set_addresses) applies.
    pub fn add_container(&self, spec: &ContainerSpec, running: bool) -> ContainerInfo {
        let mut state = self.lock();
        let info = state.create(spec);
        if !running {
            state.stop(&info.id, 0, false);
        }
        state.containers.get(&info.id).map_or(info, |c| c.info.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; go on with the state as is.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `call`, then fails if the engine is scripted as unavailable.
    fn enter(&self, call: Call) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        state.calls.push(call);
        match &state.unavailable {
            Some(message) => Err(RuntimeError::Unavailable(message.clone())),
            None => Ok(state),
        }
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn info(&self) -> Result<EngineInfo> {
        Ok(self.enter(Call::Info)?.info.clone())
    }
}

#[async_trait]
impl Instances for FakeRuntime {
    async fn run(&self, spec: &ContainerSpec) -> Result<ContainerInfo> {
        let mut state = self.enter(Call::Run(spec.clone()))?;
        let name = labels::container_name(&spec.identity);
        if state.containers.values().any(|c| c.info.name == name) {
            return Err(RuntimeError::Engine(format!(
                "Conflict. The container name \"/{name}\" is already in use by another container"
            )));
        }
        // As in the Docker driver, the network is made before the container (which may then fail).
        state.networks.insert(spec.identity.service_id.clone());
        let script = state.script_for(&spec.image);
        if let Some(Script::FailRun(message)) = &script {
            return Err(RuntimeError::Engine(message.clone()));
        }
        let info = state.create(spec);
        if let Some(Script::ExitOnStart { exit_code, lines }) = script {
            for (stream, line) in &lines {
                state.write_log(&info.id, *stream, line);
            }
            state.stop(&info.id, exit_code, false);
        }
        Ok(state.containers.get(&info.id).map_or(info, |c| c.info.clone()))
    }

    async fn release_service(&self, service: &ServiceId) -> Result<()> {
        let mut state = self.enter(Call::ReleaseService(service.clone()))?;
        if !state.uses_network(service) {
            state.networks.remove(service);
        }
        Ok(())
    }

    async fn release_services_except(&self, keep: &[ServiceId]) -> Result<usize> {
        let mut state = self.enter(Call::ReleaseServicesExcept(keep.to_vec()))?;
        let gone: Vec<ServiceId> =
            state.networks.iter().filter(|s| !keep.contains(s) && !state.uses_network(s)).cloned().collect();
        for service in &gone {
            state.networks.remove(service);
        }
        Ok(gone.len())
    }

    async fn inspect(&self, container_id: &str) -> Result<Option<ContainerInfo>> {
        let state = self.enter(Call::Inspect(container_id.to_owned()))?;
        Ok(state.containers.get(container_id).map(|c| c.info.clone()))
    }

    async fn list(&self) -> Result<Vec<ContainerInfo>> {
        let state = self.enter(Call::List)?;
        Ok(state.containers.values().map(|c| c.info.clone()).collect())
    }

    async fn stats(&self, container_id: &str) -> Result<Option<ContainerStats>> {
        let state = self.enter(Call::Stats(container_id.to_owned()))?;
        let running = state.containers.get(container_id).is_some_and(|c| c.info.running);
        let zero = ContainerStats { cpu_seconds_total: 0.0, memory_bytes: 0 };
        Ok(running.then(|| state.stats.get(container_id).copied().unwrap_or(zero)))
    }

    async fn stop(&self, container_id: &str, grace: Duration) -> Result<()> {
        self.enter(Call::Stop(container_id.to_owned(), grace))?.stop(container_id, EXIT_STOPPED, false);
        Ok(())
    }

    async fn remove(&self, container_id: &str) -> Result<()> {
        let mut state = self.enter(Call::Remove(container_id.to_owned()))?;
        state.stop(container_id, EXIT_KILLED, false);
        state.containers.remove(container_id);
        Ok(())
    }

    async fn tail_logs(&self, container_id: &str, lines: usize) -> Result<Vec<LogLine>> {
        let state = self.enter(Call::TailLogs(container_id.to_owned(), lines))?;
        let container = state
            .containers
            .get(container_id)
            .ok_or_else(|| RuntimeError::NotFound(container_id.to_owned()))?;
        Ok(container.logs[container.logs.len().saturating_sub(lines)..].to_vec())
    }

    fn follow_logs(
        &self,
        container_id: &str,
        since: Option<Timestamp>,
    ) -> BoxStream<'static, Result<LogLine>> {
        let mut state = match self.enter(Call::FollowLogs(container_id.to_owned(), since)) {
            Ok(state) => state,
            Err(err) => return stream::once(async move { Err(err) }).boxed(),
        };
        let Some(FakeContainer { info, logs, .. }) = state.containers.get(container_id) else {
            let err = RuntimeError::NotFound(container_id.to_owned());
            return stream::once(async move { Err(err) }).boxed();
        };
        let past: Vec<Result<LogLine>> =
            logs.iter().filter(|l| since.is_none_or(|since| l.at >= since)).cloned().map(Ok).collect();
        let live = if info.running {
            let (tx, rx) = mpsc::unbounded_channel();
            state.followers.push((container_id.to_owned(), tx));
            receiver_stream(rx).map(Ok).boxed()
        } else {
            stream::empty().boxed()
        };
        stream::iter(past).chain(live).boxed()
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent>> {
        let mut state = match self.enter(Call::Events) {
            Ok(state) => state,
            Err(err) => return stream::once(async move { Err(err) }).boxed(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        state.subscribers.push(tx);
        receiver_stream(rx)
    }
}

fn receiver_stream<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> BoxStream<'static, T> {
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
}

fn fake_address(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

#[cfg(test)]
mod tests;
