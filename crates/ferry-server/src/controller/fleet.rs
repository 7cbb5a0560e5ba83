//! A service's instances: starting, adopting, watching, stopping. The states and their transitions are
//! described in `ferry_model::instance`.
//!
//! The fleet knows nothing of operations or routes: the service controller asks it to start and stop
//! instances, feeds it what happened to them, reads what is ready, and publishes. One ordering matters
//! here: a stopping instance must leave the router's table before it drains, so its stop task waits until
//! the controller says it has published a table without it ([`Fleet::published`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferry_model::{
    HealthCheckConfiguration, Instance, InstanceAddress, InstanceId, InstanceState, Revision, SecretValue,
    Service, ServiceId, Timestamp,
};
use ferry_plan::{CrashBackoff, HealthTracker, HealthVerdict, ObservedInstance, StopReason};
use ferry_router::Endpoint;
use ferry_runtime::{ContainerInfo, ContainerSpec, InstanceIdentity};
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::inbox::{Inbox, Msg};
use super::oplog::OpLog;
use super::shared::Shared;
use crate::health::{Probe, ProbeError};
use crate::logs::NewLine;

/// A starting instance is probed this often, so it can take traffic as soon as it listens; a failed probe
/// still counts only once per configured interval (see [`watch_health`]).
pub(crate) const STARTUP_PROBE: Duration = Duration::from_millis(100);

/// How long a stop waits to hear that its instance left the router's table before it drains anyway.
const UNPUBLISH_WAIT: Duration = Duration::from_secs(5);

/// An instance and the tasks that serve it. Dropping it ends its tasks (never its container).
pub(crate) struct Live {
    pub record: Instance,
    /// Present while the instance is Ready: its place in the router's pool.
    pub endpoint: Option<Arc<Endpoint>>,
    health: Option<AbortHandle>,
    logs: Option<AbortHandle>,
    /// A stop task is running for it.
    stopping: bool,
}

impl Live {
    fn new(record: Instance) -> Self {
        Self { record, endpoint: None, health: None, logs: None, stopping: false }
    }

    fn observed(&self) -> ObservedInstance {
        ObservedInstance {
            id: self.record.id.clone(),
            revision: self.record.revision,
            state: self.record.state,
            detail: self.record.detail.clone(),
            created_at: self.record.created_at,
        }
    }

    fn endpoint(&self) -> Option<Arc<Endpoint>> {
        let address = self.record.address.as_ref()?;
        Some(Endpoint::new(self.record.id.to_string(), address.endpoint))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        for task in [self.health.take(), self.logs.take()].into_iter().flatten() {
            task.abort();
        }
    }
}

/// Where an engine says a running container is.
fn placement(c: &ContainerInfo) -> Option<InstanceAddress> {
    c.address.map(|endpoint| InstanceAddress { node: c.node.clone(), endpoint, probe: c.network_address })
}

fn exit_detail(exit_code: Option<i64>, oom_killed: bool) -> String {
    match (exit_code, oom_killed) {
        (_, true) => "it ran out of memory and was killed (raise the instance's memory)".to_owned(),
        (Some(code), false) => format!("exited with code {code}"),
        (None, false) => "its container stopped".to_owned(),
    }
}

/// How to run an instance of a revision. `None` when the revision has nothing to run yet (code not built).
fn container_spec(
    service: &Service,
    revision: &Revision,
    instance: &InstanceId,
    secrets: &[(String, SecretValue)],
    internal_url: Option<&str>,
) -> Option<ContainerSpec> {
    let spec = &revision.spec;
    let config = revision.run_config()?;
    // Always the image id the pull or build recorded: never a tag, which could have moved since.
    let image = revision.image_id.clone()?;
    let mut env: Vec<(String, String)> =
        config.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    env.extend(secrets.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())));
    env.push(("PORT".to_owned(), config.port.to_string()));
    // Where this service reaches the others (private ones included): the router's internal listener.
    if let Some(url) = internal_url {
        env.push(("FERRY_INTERNAL_URL".to_owned(), url.to_owned()));
    }
    Some(ContainerSpec {
        identity: InstanceIdentity {
            service_name: service.name.clone(),
            service_id: service.id.clone(),
            revision: revision.number,
            instance_id: instance.clone(),
        },
        image,
        env,
        command: config.start_argv(),
        port: config.port,
        nano_cpus: spec.instance.cpu().nano_cpus(),
        memory_bytes: spec.instance.memory().bytes(),
        read_only_root: spec.read_only_root,
    })
}

pub(crate) struct Fleet {
    service: ServiceId,
    shared: Arc<Shared>,
    inbox: Inbox,
    instances: BTreeMap<InstanceId, Live>,
    backoff: CrashBackoff,
    /// Stops waiting for their instance to leave the router's table.
    unpublished: Vec<oneshot::Sender<()>>,
}

impl Fleet {
    pub(crate) fn new(service: ServiceId, shared: Arc<Shared>, inbox: Inbox) -> Self {
        Self {
            service,
            shared,
            inbox,
            instances: BTreeMap::new(),
            backoff: CrashBackoff::default(),
            unpublished: Vec::new(),
        }
    }

    /// The controller's inbox, for tasks that report to it.
    pub(crate) fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    pub(crate) fn observed(&self) -> Vec<ObservedInstance> {
        self.instances.values().map(Live::observed).collect()
    }

    /// The ready instances: id, revision and router endpoint.
    pub(crate) fn ready(&self) -> Vec<(InstanceId, u32, Arc<Endpoint>)> {
        self.instances
            .values()
            .filter_map(|l| l.endpoint.clone().map(|e| (l.record.id.clone(), l.record.revision, e)))
            .collect()
    }

    /// The ready instances and their containers, for the metrics sampler.
    pub(crate) fn ready_containers(&self) -> Vec<crate::metrics::ReadyInstance> {
        self.instances
            .values()
            .filter(|l| l.endpoint.is_some())
            .filter_map(|l| {
                let container = l.record.container_id.clone()?;
                Some(crate::metrics::ReadyInstance { instance: l.record.id.clone(), container })
            })
            .collect()
    }

    /// Whether any instance (in any state) runs `revision`.
    pub(crate) fn runs(&self, revision: u32) -> bool {
        self.instances.values().any(|l| l.record.revision == revision)
    }

    /// The revisions the instances run.
    pub(crate) fn revisions(&self) -> Vec<u32> {
        self.instances.values().map(|l| l.record.revision).collect()
    }

    /// The instances of `revision` that exited or failed their checks: id, container and why.
    pub(crate) fn failed(&self, revision: u32) -> Vec<(InstanceId, Option<String>, Option<String>)> {
        self.instances
            .values()
            .filter(|l| l.record.revision == revision)
            .filter(|l| matches!(l.record.state, InstanceState::Exited | InstanceState::Unhealthy))
            .map(|l| (l.record.id.clone(), l.record.container_id.clone(), l.record.detail.clone()))
            .collect()
    }

    /// Crash back-off: no instance starts before this time.
    pub(crate) fn start_not_before(&self, now: Timestamp) -> Option<Timestamp> {
        self.backoff.start_not_before(now)
    }

    /// The controller published a table: stops waiting for that may drain now.
    pub(crate) fn published(&mut self) {
        for tx in self.unpublished.drain(..) {
            let _ = tx.send(());
        }
    }

    /// Ends every instance's tasks (never its container): the controller is going away.
    pub(crate) fn clear(&mut self) {
        self.instances.clear();
    }

    /// Records an instance as it is now, for a restart and for `describe`; queued, in order, without
    /// waiting (the controller's own view is what it acts on).
    fn persist(&self, record: &Instance) {
        let record = record.clone();
        self.shared.store.submit("record an instance's state", move |db| db.put_instance(&record));
    }

    fn set_state(&mut self, id: &InstanceId, state: InstanceState, detail: Option<String>) {
        let now = self.shared.clock.now();
        let Some(live) = self.instances.get_mut(id) else { return };
        if live.record.state == state && live.record.detail == detail {
            return;
        }
        live.record.state = state;
        live.record.state_since = now;
        live.record.detail = detail;
        if state != InstanceState::Ready {
            live.endpoint = None;
        }
        let record = live.record.clone();
        self.persist(&record);
    }

    /// Takes over an instance found at start-up, keeping what it was doing.
    pub(crate) fn adopt(
        &mut self,
        mut row: Instance,
        container: Option<ContainerInfo>,
        check: HealthCheckConfiguration,
    ) {
        let id = row.id.clone();
        match &container {
            Some(c) if c.running => {
                row.container_id = Some(c.id.clone());
                if let Some(address) = placement(c) {
                    row.address = Some(address);
                }
            }
            Some(c) if row.state != InstanceState::Stopping => {
                row.container_id = Some(c.id.clone());
                row.state = InstanceState::Exited;
                row.detail = Some(exit_detail(c.exit_code, c.oom_killed));
            }
            None if row.state == InstanceState::Stopping || row.container_id.is_none() => {
                // Its stop finished, or its start never got as far as a container.
                self.shared.store.submit("delete an instance's row", move |db| db.delete_instance(&id));
                return;
            }
            None => {
                row.state = InstanceState::Exited;
                row.detail = Some("its container is gone".to_owned());
            }
            Some(_) => {}
        }
        self.persist(&row);
        let state = row.state;
        let mut live = Live::new(row);
        if container.as_ref().is_some_and(|c| c.running) && state.is_live() {
            let resume = (state == InstanceState::Ready).then_some(HealthVerdict::Healthy);
            self.watch(&mut live, check, resume);
            if state == InstanceState::Ready {
                live.endpoint = live.endpoint();
            }
        }
        tracing::info!(service = %self.service, instance = %id, state = %state, "instance adopted");
        self.instances.insert(id, live);
    }

    /// Starts the health and log tasks of a running instance.
    fn watch(&self, live: &mut Live, check: HealthCheckConfiguration, resume: Option<HealthVerdict>) {
        let (Some(address), Some(container)) =
            (live.record.address.clone(), live.record.container_id.clone())
        else {
            return;
        };
        let id = live.record.id.clone();
        let (probe, inbox) = (self.shared.probe.clone(), self.inbox.clone());
        let health = tokio::spawn(watch_health(id.clone(), address.probe, check, resume, probe, inbox));
        live.health = Some(health.abort_handle());
        let logs = tokio::spawn(follow_logs(self.shared.clone(), self.service.clone(), id, container));
        live.logs = Some(logs.abort_handle());
    }

    /// Starts one instance of `revision`. A container that does not start is an instance that exited
    /// (and counts towards the back-off); only a store failure is an error.
    pub(crate) async fn start(
        &mut self,
        service: &Service,
        revision: &Revision,
        log: &OpLog,
    ) -> Result<(), crate::Error> {
        let now = self.shared.clock.now();
        let id = InstanceId::generate();
        let secrets = super::secrets::resolve(&self.shared.store, revision).await?;
        let internal = self.shared.settings.internal_url.as_deref();
        let Some(spec) =
            container_spec(service, revision, &id, secrets.as_deref().unwrap_or_default(), internal)
        else {
            return Err(crate::Error::Internal(format!(
                "revision {} of {} has no image to run",
                revision.number, service.name
            )));
        };
        let mut record = Instance {
            id: id.clone(),
            service_id: self.service.clone(),
            revision: revision.number,
            state: InstanceState::Starting,
            container_id: None,
            address: None,
            created_at: now,
            state_since: now,
            detail: None,
        };
        // The row exists before the container, so a crash in between leaves nothing ferry cannot find.
        let row = record.clone();
        self.shared.store.call(move |db| db.put_instance(&row)).await?;
        let cfg = &revision.spec;
        let port = spec.port;
        log.note(&format!(
            "Starting instance {id} of revision {}: {}, {}, port {port}",
            revision.number,
            cfg.instance.cpu(),
            cfg.instance.memory(),
        ));
        let started = match secrets {
            Ok(_) => self
                .shared
                .runtime
                .run(&spec)
                .await
                .map_err(|e| format!("the engine could not start it: {e}")),
            Err(missing) => Err(missing),
        };
        match started {
            Ok(info) => {
                record.container_id = Some(info.id.clone());
                record.address = placement(&info);
                if record.address.is_none() {
                    record.state = InstanceState::Exited;
                    record.detail = Some(exit_detail(info.exit_code, info.oom_killed));
                }
            }
            Err(why) => {
                record.state = InstanceState::Exited;
                record.detail = Some(why);
            }
        }
        self.persist(&record);
        let mut live = Live::new(record);
        if live.record.state == InstanceState::Starting {
            let check = &cfg.health_check;
            let target = match check.protocol {
                ferry_model::HealthCheckProtocol::Tcp => format!("[Port: '{port}']"),
                ferry_model::HealthCheckProtocol::Http => {
                    format!("[Path: '{}'], [Port: '{port}']", check.path)
                }
            };
            let at = live.record.address.as_ref().map(|a| a.endpoint.to_string()).unwrap_or_default();
            log.note(&format!(
                "Instance {id} is up at {at}; performing health check on protocol `{}` {target}.",
                check.protocol.as_str()
            ));
            self.watch(&mut live, check.clone(), None);
        } else {
            log.note(&format!(
                "Instance {id} did not start: {}",
                live.record.detail.as_deref().unwrap_or("")
            ));
            self.backoff.failed(now);
        }
        self.instances.insert(id, live);
        Ok(())
    }

    /// Takes an instance out of the pool and stops it in the background: once the router's table no longer
    /// has it and its requests have drained.
    pub(crate) fn stop(&mut self, id: &InstanceId, reason: StopReason) {
        let (drain, grace) = (self.shared.settings.drain_timeout, self.shared.settings.stop_grace);
        let Some(live) = self.instances.get(id) else { return };
        let endpoint = live.endpoint.clone();
        let detail = live.record.detail.clone();
        self.set_state(id, InstanceState::Stopping, detail);
        let Some(live) = self.instances.get_mut(id) else { return };
        if let Some(h) = live.health.take() {
            h.abort();
        }
        live.stopping = true;
        tracing::info!(service = %self.service, instance = %id, ?reason, "stopping instance");
        let container = live.record.container_id.clone();
        let (unpublished, wait) = oneshot::channel();
        self.unpublished.push(unpublished);
        let (runtime, inbox, id) = (self.shared.runtime.clone(), self.inbox.clone(), id.clone());
        tokio::spawn(async move {
            // Out of the router's table before draining starts, so no new request can pick it.
            let _ = tokio::time::timeout(UNPUBLISH_WAIT, wait).await;
            if let Some(endpoint) = endpoint {
                drained(&endpoint, drain).await;
            }
            let result = match container {
                Some(c) => match runtime.stop(&c, grace).await {
                    Ok(()) => runtime.remove(&c).await,
                    Err(e) => Err(e),
                },
                None => Ok(()),
            };
            inbox.send(Msg::Stopped { instance: id, result }).await;
        });
    }

    /// Starts stops again for instances whose stop failed (or was cut by a restart).
    pub(crate) fn retry_stops(&mut self) {
        let again: Vec<InstanceId> = self
            .instances
            .values()
            .filter(|l| l.record.state == InstanceState::Stopping && !l.stopping)
            .map(|l| l.record.id.clone())
            .collect();
        for id in again {
            self.stop(&id, StopReason::Failed);
        }
    }

    /// Looks at every container again, in case an event was missed.
    pub(crate) async fn resync(&mut self, log: &OpLog) {
        let watched: Vec<(InstanceId, String)> = self
            .instances
            .values()
            .filter(|l| l.record.state.is_live())
            .filter_map(|l| l.record.container_id.clone().map(|c| (l.record.id.clone(), c)))
            .collect();
        for (id, container) in watched {
            match self.shared.runtime.inspect(&container).await {
                Ok(Some(c)) if c.running => {}
                Ok(Some(c)) => self.exited(&id, exit_detail(c.exit_code, c.oom_killed), log).await,
                Ok(None) => self.exited(&id, "its container is gone".to_owned(), log).await,
                Err(e) => {
                    tracing::warn!(instance = %id, error = %e, "cannot inspect an instance's container")
                }
            }
        }
    }

    async fn exited(&mut self, id: &InstanceId, detail: String, log: &OpLog) {
        let live = self.instances.get(id).is_some_and(|l| l.record.state.is_live());
        if !live {
            return;
        }
        log.note(&format!("Instance {id} stopped: {detail}"));
        self.set_state(id, InstanceState::Exited, Some(detail));
        self.backoff.failed(self.shared.clock.now());
    }

    /// Takes in what happened to an instance. Returns whether an instance's container went (so a retired
    /// revision's image may go too).
    pub(crate) async fn handle(&mut self, msg: Msg, log: &OpLog) -> bool {
        match msg {
            Msg::Nudge | Msg::Resync | Msg::Demand => {}
            Msg::Health { instance, verdict, detail } => {
                let Some(state) = self.instances.get(&instance).map(|l| l.record.state) else { return false };
                match verdict {
                    HealthVerdict::Healthy if state == InstanceState::Starting => {
                        self.set_state(&instance, InstanceState::Ready, None);
                        if let Some(live) = self.instances.get_mut(&instance) {
                            live.endpoint = live.endpoint();
                        }
                        self.backoff.ready(self.shared.clock.now());
                        log.note(&format!("Instance {instance} is healthy."));
                    }
                    HealthVerdict::Unhealthy if state.is_live() => {
                        log.note(&format!("Instance {instance} is unhealthy: {detail}"));
                        self.set_state(&instance, InstanceState::Unhealthy, Some(detail));
                        self.backoff.failed(self.shared.clock.now());
                    }
                    _ => {}
                }
            }
            Msg::Exited { instance, exit_code } => {
                let container = self.instances.get(&instance).and_then(|l| l.record.container_id.clone());
                let oom = match container {
                    Some(c) => {
                        matches!(self.shared.runtime.inspect(&c).await, Ok(Some(info)) if info.oom_killed)
                    }
                    None => false,
                };
                self.exited(&instance, exit_detail(exit_code, oom), log).await;
            }
            Msg::Stopped { instance, result: Ok(()) } => {
                self.instances.remove(&instance);
                self.shared.store.submit("delete an instance's row", move |db| db.delete_instance(&instance));
                return true;
            }
            Msg::Stopped { instance, result: Err(e) } => {
                tracing::warn!(instance = %instance, error = %e, "stopping an instance failed; will retry");
                if let Some(live) = self.instances.get_mut(&instance) {
                    live.stopping = false;
                }
            }
        }
        false
    }
}

/// Waits until nothing uses the endpoint any more, or `limit` passes. A request that read the table just
/// before the endpoint left it counts itself in a moment later: the short settle covers it.
async fn drained(endpoint: &Endpoint, limit: Duration) {
    const SETTLE: Duration = Duration::from_millis(50);
    let deadline = Instant::now() + limit.max(SETTLE);
    tokio::time::sleep(SETTLE).await;
    while endpoint.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Probes an instance until the task is aborted, reporting each change of verdict to its controller.
///
/// A starting instance is probed every [`STARTUP_PROBE`] so it can take traffic as soon as it listens, but
/// a failed probe counts only once per configured interval: the time an app gets to start is App Runner's
/// (`UnhealthyThreshold × Interval`), while a fast app is ready in milliseconds. Once the instance has a
/// verdict, probes run every interval. During the check's grace period (from the instance's start) failed
/// probes do not count at all. `addr` is the instance's own address on its network; without one, every
/// check fails with [`ProbeError::NoAddress`].
pub(crate) async fn watch_health(
    instance: InstanceId,
    addr: Option<SocketAddr>,
    check: HealthCheckConfiguration,
    resume: Option<HealthVerdict>,
    probe: Arc<dyn Probe>,
    inbox: Inbox,
) {
    let mut tracker = match resume {
        Some(v) => HealthTracker::resume(check.healthy_threshold, check.unhealthy_threshold, v),
        None => HealthTracker::new(check.healthy_threshold, check.unhealthy_threshold),
    };
    let interval = Duration::from_secs(u64::from(check.interval));
    // The grace period runs from the instance's start; an adopted instance is past it.
    let grace =
        if resume.is_some() { Duration::ZERO } else { Duration::from_secs(u64::from(check.grace_period)) };
    let grace_until = Instant::now() + grace;
    let mut last_counted_failure: Option<Instant> = None;
    loop {
        let result = match addr {
            Some(addr) => probe.check(addr, &check).await,
            None => Err(ProbeError::NoAddress),
        };
        let passed = result.is_ok();
        let in_grace = Instant::now() < grace_until;
        let counts = passed
            || (!in_grace
                && (tracker.verdict().is_some()
                    || last_counted_failure.is_none_or(|t| t.elapsed() >= interval)));
        if counts {
            if !passed {
                last_counted_failure = Some(Instant::now());
            }
            let failures_before = tracker.failures();
            if let Some(verdict) = tracker.record(passed) {
                let detail = match &result {
                    Ok(()) => "health check passed".to_owned(),
                    Err(e) => format!("{} health checks in a row failed; the last: {e}", failures_before + 1),
                };
                if !inbox.send(Msg::Health { instance: instance.clone(), verdict, detail }).await {
                    return; // the controller is gone
                }
            }
        }
        let pause = if tracker.verdict().is_none() { STARTUP_PROBE } else { interval };
        tokio::time::sleep(pause).await;
    }
}

/// How many application log lines are written in one batch at most, and how long a batch waits for more
/// once it has its first line: a chatty app's lines reach the file in a few batches a second instead of one
/// hand-over to the blocking pool per line, which would crowd the router's threads.
const LOG_BATCH: usize = 512;
const LOG_BATCH_WAIT: Duration = Duration::from_millis(25);

/// Copies an instance's output into the service's log until the container stops.
async fn follow_logs(shared: Arc<Shared>, service: ServiceId, instance: InstanceId, container: String) {
    let from = instance.clone();
    let since =
        shared.store.call(move |db| db.log_cursor(&from)).await.ok().flatten().map(|t| t.plus_millis(1));
    let mut lines = shared.runtime.follow_logs(&container, since);
    let mut cursor: Option<Timestamp> = None;
    let name = instance.to_string();
    // Queued, not awaited: a restart goes on from the last batch written, at most a batch twice.
    let save = |at: Timestamp| {
        let instance = instance.clone();
        shared
            .store
            .submit("record where an instance's log was read to", move |db| db.set_log_cursor(&instance, at));
    };
    let mut ended = false;
    while !ended {
        let Some(first) = lines.next().await else { break };
        let mut batch = vec![first];
        let until = Instant::now() + LOG_BATCH_WAIT;
        while batch.len() < LOG_BATCH {
            match tokio::time::timeout_at(until, lines.next()).await {
                Ok(Some(item)) => batch.push(item),
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let mut new = Vec::with_capacity(batch.len());
        for item in batch {
            match item {
                Ok(l) => {
                    cursor = Some(l.at);
                    new.push(NewLine {
                        at: l.at,
                        instance: name.clone(),
                        stream: l.stream.as_str(),
                        line: l.line,
                    });
                }
                Err(e) => {
                    tracing::debug!(instance = %instance, error = %e, "log stream ended");
                    ended = true;
                    break;
                }
            }
        }
        shared.logs.append(&service, new).await;
        if let Some(at) = cursor.take() {
            save(at);
        }
    }
}
