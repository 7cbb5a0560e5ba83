//! The fake's in-memory engine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use ferry_model::{ServiceId, Timestamp};
use tokio::sync::{Semaphore, mpsc};

use super::store::{ImageStore, User};
use super::{FAKE_EPOCH, fake_address};
use crate::{
    ContainerInfo, ContainerSpec, ContainerStats, EngineInfo, LogLine, LogStream, Result, RuntimeEvent,
    labels,
};

/// The first port the fake hands out, as Docker's ephemeral range starts.
const FIRST_PORT: u16 = 32768;

#[derive(Debug)]
pub(super) struct State {
    pub(super) calls: Vec<super::Call>,
    pub(super) unavailable: Option<String>,
    pub(super) info: EngineInfo,
    /// Image reference → the message its pulls fail with.
    pub(super) pull_failures: HashMap<String, String>,
    /// (tag prefix, failure) for builds, the latest first to match.
    pub(super) build_failures: Vec<(String, BuildFailure)>,
    /// Tag → the message its pushes fail with.
    pub(super) push_failures: HashMap<String, String>,
    /// Resolves wait for a permit of this before they answer ([`super::FakeRuntime::hold_resolves`]).
    pub(super) resolve_gate: Option<Arc<Semaphore>>,
    /// (image, script), the latest first to match.
    pub(super) scripts: Vec<(String, Script)>,
    /// (image, the addresses its containers report while they run), the latest first to match.
    pub(super) addresses: Vec<(String, Addresses)>,
    /// By id; ids sort in the order containers were made.
    pub(super) containers: BTreeMap<String, FakeContainer>,
    /// The services whose network exists.
    pub(super) networks: BTreeSet<ServiceId>,
    /// Open `follow_logs` streams, by container id.
    pub(super) followers: Vec<(String, mpsc::UnboundedSender<LogLine>)>,
    /// Which references name which images, what was removed, and what was pushed.
    pub(super) images: ImageStore,
    /// Open `events` streams.
    pub(super) subscribers: Vec<mpsc::UnboundedSender<Result<RuntimeEvent>>>,
    /// What `stats` answers per container while it runs ([`super::FakeRuntime::set_stats`]).
    pub(super) stats: HashMap<String, ContainerStats>,
    next_container: u32,
    next_port: u16,
    clock: Timestamp,
}

impl Default for State {
    fn default() -> Self {
        Self {
            calls: Vec::new(),
            unavailable: None,
            info: EngineInfo { version: "fake".to_owned(), cpus: 4, memory_bytes: 8 << 30, rootless: false },
            pull_failures: HashMap::new(),
            build_failures: Vec::new(),
            push_failures: HashMap::new(),
            resolve_gate: None,
            scripts: Vec::new(),
            addresses: Vec::new(),
            containers: BTreeMap::new(),
            networks: BTreeSet::new(),
            followers: Vec::new(),
            subscribers: Vec::new(),
            stats: HashMap::new(),
            next_container: 1,
            next_port: FIRST_PORT,
            images: ImageStore::default(),
            clock: FAKE_EPOCH,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Script {
    FailRun(String),
    ExitOnStart { exit_code: i64, lines: Vec<(LogStream, String)> },
}

/// What a container reports while it runs, in place of `127.0.0.1:<its port>` for both.
#[derive(Debug, Clone, Copy)]
pub(super) struct Addresses {
    pub(super) published: Option<SocketAddr>,
    pub(super) network: Option<SocketAddr>,
}

/// How a scripted build fails: the lines it writes first, the command and its exit code.
#[derive(Debug, Clone)]
pub(super) struct BuildFailure {
    pub(super) command: String,
    pub(super) exit_code: i64,
    pub(super) lines: Vec<String>,
}

#[derive(Debug)]
pub(super) struct FakeContainer {
    pub(super) info: ContainerInfo,
    pub(super) spec: ContainerSpec,
    /// The image the container was created from, as the engine holds on to it whatever happens to
    /// the reference it was run with.
    pub(super) image_id: String,
    pub(super) logs: Vec<LogLine>,
}

impl FakeContainer {
    /// The container as [`ImageStore::remove`] weighs it.
    pub(super) fn user(&self) -> User<'_> {
        User { container_id: &self.info.id, image_id: &self.image_id, running: self.info.running }
    }
}

impl State {
    /// The latest script for an image, given by any of its names.
    pub(super) fn script_for(&self, image: &str) -> Option<Script> {
        latest(&self.images, &self.scripts, image).cloned()
    }

    /// Whether a container of `service` (running or not) is still on its network.
    pub(super) fn uses_network(&self, service: &ServiceId) -> bool {
        self.containers.values().any(|c| &c.spec.identity.service_id == service)
    }

    /// A new running container for `spec`.
    pub(super) fn create(&mut self, spec: &ContainerSpec) -> ContainerInfo {
        let id = format!("fake-{:04}", self.next_container);
        let image_id = self.images.id_of(&spec.image);
        self.next_container += 1;
        // Every container takes the next port, whether it reports that port or scripted addresses.
        let port = self.next_port;
        self.next_port = self.next_port.checked_add(1).unwrap_or(FIRST_PORT);
        let addresses = latest(&self.images, &self.addresses, &spec.image)
            .copied()
            .unwrap_or(Addresses { published: Some(fake_address(port)), network: Some(fake_address(port)) });
        let info = ContainerInfo {
            id: id.clone(),
            name: labels::container_name(&spec.identity),
            identity: Some(spec.identity.clone()),
            running: true,
            exit_code: None,
            oom_killed: false,
            error: None,
            node: super::FAKE_NODE.to_owned(),
            address: addresses.published,
            network_address: addresses.network,
        };
        self.containers
            .insert(id, FakeContainer { info: info.clone(), spec: spec.clone(), image_id, logs: Vec::new() });
        info
    }

    /// Ends a running container: its log streams end and every event stream hears of it. `false` if
    /// it was not running.
    pub(super) fn stop(&mut self, id: &str, exit_code: i64, oom_killed: bool) -> bool {
        let Some(container) = self.containers.get_mut(id) else {
            return false;
        };
        if !container.info.running {
            return false;
        }
        let info = &mut container.info;
        info.running = false;
        info.exit_code = Some(exit_code);
        info.oom_killed = oom_killed;
        info.address = None;
        info.network_address = None;
        let event = RuntimeEvent::Died {
            container_id: id.to_owned(),
            identity: info.identity.clone(),
            exit_code: Some(exit_code),
        };
        self.followers.retain(|(follower, _)| follower != id);
        self.subscribers.retain(|tx| tx.send(Ok(event.clone())).is_ok());
        true
    }

    /// Appends a line to a container's log and to its followers; `false` if there is no such container.
    pub(super) fn write_log(&mut self, id: &str, stream: LogStream, line: &str) -> bool {
        let Some(container) = self.containers.get_mut(id) else {
            return false;
        };
        let line = LogLine { at: self.clock, stream, line: line.to_owned() };
        self.clock = self.clock.plus_millis(1);
        container.logs.push(line.clone());
        self.followers.retain(|(follower, tx)| follower != id || tx.send(line.clone()).is_ok());
        true
    }
}

/// The latest entry of `list` for `image`: scripted for it as written, or for another name of the same
/// image (a reference and the id its pull returned, a tag and its digest, a build's tag and its id).
fn latest<'a, T>(images: &ImageStore, list: &'a [(String, T)], image: &str) -> Option<&'a T> {
    let id = images.id_of(image);
    list.iter().rev().find(|(key, _)| key == image || images.id_of(key) == id).map(|(_, t)| t)
}

/// `sha256:` and 64 hex digits, derived from `salt` and `text` (FNV-1a, chained; not a real hash of
/// anything, only stable and distinct).
pub(super) fn fake_sha256(salt: &str, text: &str) -> String {
    fake_sha256_of(salt, &[text.as_bytes()])
}

/// [`fake_sha256`] of several byte strings, a zero byte between each two (one string hashes as
/// `fake_sha256` of it).
pub(super) fn fake_sha256_of(salt: &str, parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::from("sha256:");
    let text = || {
        parts
            .iter()
            .enumerate()
            .flat_map(|(i, part)| (i > 0).then_some(0).into_iter().chain(part.iter().copied()))
    };
    for round in 0..4u8 {
        for byte in salt.bytes().chain([0, round]).chain(text()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
    }
    out
}
