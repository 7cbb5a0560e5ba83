//! A service's instances: starting, adopting, watching, stopping. The states and their transitions are
//! described in `ferry_model::instance`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferry_model::{Instance, InstanceId, InstanceState, Revision, Service, Timestamp};
use ferry_plan::{HealthVerdict, InstanceView, StopReason};
use ferry_router::Endpoint;
use ferry_runtime::{ContainerInfo, ContainerSpec, InstanceIdentity};
use futures_util::StreamExt;
use tokio::task::AbortHandle;

use super::service::ServiceController;
use super::{Msg, Shared};
use crate::Error;

/// An instance and the tasks that serve it. Dropping it ends its tasks (never its container).
pub(crate) struct Live {
    pub record: Instance,
    /// Present while the instance is Ready: its place in the router's pool.
    pub endpoint: Option<Arc<Endpoint>>,
    health: Option<AbortHandle>,
    logs: Option<AbortHandle>,
    /// Where health checks go: the container's own address when the engine reports one (see
    /// `ContainerInfo::network_address`), else the published one.
    probe: Option<SocketAddr>,
    /// A stop task is running for it.
    stopping: bool,
}

impl Live {
    fn new(record: Instance) -> Self {
        Self { record, endpoint: None, health: None, logs: None, probe: None, stopping: false }
    }

    pub(super) fn view(&self) -> InstanceView {
        InstanceView {
            id: self.record.id.clone(),
            revision: self.record.revision,
            state: self.record.state,
            detail: self.record.detail.clone(),
            created_at: self.record.created_at,
        }
    }

    fn address(&self) -> Option<SocketAddr> {
        self.record.address.as_deref().and_then(|a| a.parse().ok())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        for task in [self.health.take(), self.logs.take()].into_iter().flatten() {
            task.abort();
        }
    }
}

/// How to run an instance of a revision. `None` when the revision has nothing to run yet (code not built).
fn container_spec(service: &Service, revision: &Revision, instance: &InstanceId) -> Option<ContainerSpec> {
    let spec = &revision.spec;
    let config = revision.run_config()?;
    let image = revision.image_id.clone().or_else(|| spec.source.image().map(|i| i.image.to_string()))?;
    let mut env: Vec<(String, String)> =
        config.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    env.push(("PORT".to_owned(), config.port.to_string()));
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
    })
}

impl ServiceController {
    fn set_state(&mut self, id: &InstanceId, state: InstanceState, detail: Option<String>) {
        let Some(live) = self.instances.get_mut(id) else { return };
        if live.record.state == state && live.record.detail == detail {
            return;
        }
        live.record.state = state;
        live.record.state_since = Timestamp::now();
        live.record.detail = detail;
        if state != InstanceState::Ready {
            live.endpoint = None;
        }
        if let Err(e) = self.shared.store.put_instance(&live.record) {
            tracing::warn!(instance = %id, error = %e, "cannot record an instance's state");
        }
    }

    fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(Timestamp::now());
    }

    /// Takes over an instance found at start-up, keeping what it was doing.
    pub(super) fn adopt_instance(&mut self, mut row: Instance, container: Option<ContainerInfo>) {
        let id = row.id.clone();
        match &container {
            Some(c) if c.running => {
                row.container_id = Some(c.id.clone());
                if let Some(addr) = c.address {
                    row.address = Some(addr.to_string());
                }
            }
            Some(c) if row.state != InstanceState::Stopping => {
                row.container_id = Some(c.id.clone());
                row.state = InstanceState::Exited;
                row.detail = Some(exit_detail(c.exit_code, c.oom_killed));
            }
            None if row.state == InstanceState::Stopping || row.container_id.is_none() => {
                // Its stop finished, or its start never got as far as a container.
                let _ = self.shared.store.delete_instance(&id);
                return;
            }
            None => {
                row.state = InstanceState::Exited;
                row.detail = Some("its container is gone".to_owned());
            }
            Some(_) => {}
        }
        let _ = self.shared.store.put_instance(&row);
        let state = row.state;
        let mut live = Live::new(row);
        live.probe = container.as_ref().and_then(|c| c.network_address);
        if container.as_ref().is_some_and(|c| c.running) && state.is_live() {
            let resume = (state == InstanceState::Ready).then_some(HealthVerdict::Healthy);
            self.watch(&mut live, resume);
            if state == InstanceState::Ready {
                live.endpoint = live.address().map(|a| Endpoint::new(id.to_string(), a));
            }
        }
        tracing::info!(service = %self.service_name, instance = %id, state = %state, "instance adopted");
        self.instances.insert(id, live);
    }

    /// Starts the health and log tasks of a running instance.
    fn watch(&self, live: &mut Live, resume: Option<HealthVerdict>) {
        let (Some(addr), Some(container)) = (live.address(), live.record.container_id.clone()) else {
            return;
        };
        let check = self.revisions.get(&live.record.revision).map(|r| r.spec.health_check.clone());
        let check = check.unwrap_or_else(|| {
            self.shared
                .store
                .revision(&self.id, live.record.revision)
                .ok()
                .flatten()
                .map(|r| r.spec.health_check)
                .unwrap_or_default()
        });
        let id = live.record.id.clone();
        let health = tokio::spawn(crate::health::watch(id.clone(), addr, check, resume, self.tx.clone()));
        live.health = Some(health.abort_handle());
        let logs = tokio::spawn(follow_logs(self.shared.clone(), self.id.clone(), id, container));
        live.logs = Some(logs.abort_handle());
    }

    pub(super) async fn start_instance(&mut self, service: &Service, number: u32) -> Result<(), Error> {
        let Some(revision) = self.revision(number)? else {
            return Err(Error::Internal(format!("revision {number} of {} is missing", service.name)));
        };
        let now = Timestamp::now();
        let id = InstanceId::generate();
        let mut record = Instance {
            id: id.clone(),
            service_id: self.id.clone(),
            revision: number,
            state: InstanceState::Starting,
            container_id: None,
            address: None,
            created_at: now,
            state_since: now,
            detail: None,
        };
        let Some(spec) = container_spec(service, &revision, &id) else {
            return Err(Error::Internal(format!(
                "revision {number} of {} has no image to run",
                service.name
            )));
        };
        // The row exists before the container, so a crash in between leaves nothing ferry cannot find.
        self.shared.store.put_instance(&record)?;
        let cfg = &revision.spec;
        let port = spec.port;
        self.note(&format!(
            "Starting instance {id} of revision {number}: {}, {}, port {port}",
            cfg.instance.cpu(),
            cfg.instance.memory(),
        ));
        let mut probe = None;
        match self.shared.runtime.run(&spec).await {
            Ok(info) => {
                probe = info.network_address;
                record.container_id = Some(info.id.clone());
                record.address = info.address.map(|a| a.to_string());
                if info.address.is_none() {
                    record.state = InstanceState::Exited;
                    record.detail = Some(exit_detail(info.exit_code, info.oom_killed));
                }
            }
            Err(e) => {
                record.state = InstanceState::Exited;
                record.detail = Some(format!("the engine could not start it: {e}"));
            }
        }
        self.shared.store.put_instance(&record)?;
        let mut live = Live::new(record);
        live.probe = probe;
        if live.record.state == InstanceState::Starting {
            let check = &cfg.health_check;
            let target = match check.protocol {
                ferry_model::HealthCheckProtocol::Tcp => format!("[Port: '{port}']"),
                ferry_model::HealthCheckProtocol::Http => {
                    format!("[Path: '{}'], [Port: '{port}']", check.path)
                }
            };
            self.note(&format!(
                "Instance {id} is up at {}; performing health check on protocol `{}` {target}.",
                live.record.address.as_deref().unwrap_or("?"),
                check.protocol.as_str()
            ));
            self.watch(&mut live, None);
        } else {
            self.note(&format!(
                "Instance {id} did not start: {}",
                live.record.detail.as_deref().unwrap_or("")
            ));
            self.failed();
        }
        self.instances.insert(id, live);
        Ok(())
    }

    /// Takes an instance out of the pool and stops it in the background, after its requests drain.
    pub(super) fn stop_instance(&mut self, id: &InstanceId, reason: StopReason) {
        let (drain, grace) = (self.shared.settings.drain_timeout, self.shared.settings.stop_grace);
        let endpoint = self.instances.get(id).and_then(|l| l.endpoint.clone());
        let detail = self.instances.get(id).and_then(|l| l.record.detail.clone());
        self.set_state(id, InstanceState::Stopping, detail);
        // Out of the router's table before draining starts, so no new request can pick it.
        self.publish();
        let Some(live) = self.instances.get_mut(id) else { return };
        if let Some(h) = live.health.take() {
            h.abort();
        }
        live.stopping = true;
        tracing::info!(service = %self.service_name, instance = %id, ?reason, "stopping instance");
        let container = live.record.container_id.clone();
        let (runtime, tx, id) = (self.shared.runtime.clone(), self.tx.clone(), id.clone());
        tokio::spawn(async move {
            if let Some(endpoint) = endpoint {
                drained(&endpoint, drain).await;
            }
            let result = match container {
                Some(c) => match runtime.stop(&c, grace).await {
                    Ok(()) => runtime.remove(&c).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                None => Ok(()),
            };
            let _ = tx.send(Msg::Stopped { instance: id, result }).await;
        });
    }

    /// Starts stops again for instances whose stop failed.
    pub(super) fn retry_stops(&mut self) {
        let again: Vec<InstanceId> = self
            .instances
            .values()
            .filter(|l| l.record.state == InstanceState::Stopping && !l.stopping)
            .map(|l| l.record.id.clone())
            .collect();
        for id in again {
            self.stop_instance(&id, StopReason::Failed);
        }
    }

    /// Looks at every container again, in case an event was missed.
    pub(super) async fn resync(&mut self) {
        let watched: Vec<(InstanceId, String)> = self
            .instances
            .values()
            .filter(|l| l.record.state.is_live())
            .filter_map(|l| l.record.container_id.clone().map(|c| (l.record.id.clone(), c)))
            .collect();
        for (id, container) in watched {
            match self.shared.runtime.inspect(&container).await {
                Ok(Some(c)) if c.running => {}
                Ok(Some(c)) => self.exited(&id, exit_detail(c.exit_code, c.oom_killed)),
                Ok(None) => self.exited(&id, "its container is gone".to_owned()),
                Err(e) => {
                    tracing::warn!(instance = %id, error = %e, "cannot inspect an instance's container")
                }
            }
        }
    }

    fn exited(&mut self, id: &InstanceId, detail: String) {
        let live = self.instances.get(id).is_some_and(|l| l.record.state.is_live());
        if !live {
            return;
        }
        self.note(&format!("Instance {id} stopped: {detail}"));
        self.set_state(id, InstanceState::Exited, Some(detail));
        self.failed();
    }

    pub(super) async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Nudge => {}
            Msg::Health { instance, verdict, detail } => {
                let Some(state) = self.instances.get(&instance).map(|l| l.record.state) else { return };
                match verdict {
                    HealthVerdict::Healthy if state == InstanceState::Starting => {
                        self.set_state(&instance, InstanceState::Ready, None);
                        if let Some(live) = self.instances.get_mut(&instance) {
                            live.endpoint = live.address().map(|a| Endpoint::new(instance.to_string(), a));
                        }
                        self.failures = 0;
                        self.note(&format!("Instance {instance} is healthy."));
                    }
                    HealthVerdict::Unhealthy if state.is_live() => {
                        self.note(&format!("Instance {instance} is unhealthy: {detail}"));
                        self.set_state(&instance, InstanceState::Unhealthy, Some(detail));
                        self.failed();
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
                self.exited(&instance, exit_detail(exit_code, oom));
            }
            Msg::Stopped { instance, result } => match result {
                Ok(()) => {
                    self.instances.remove(&instance);
                    if let Err(e) = self.shared.store.delete_instance(&instance) {
                        tracing::warn!(instance = %instance, error = %e, "cannot delete an instance's row");
                    }
                    // Its container held its image; a retired revision's image may go now.
                    self.prune_images().await;
                }
                Err(e) => {
                    tracing::warn!(instance = %instance, error = %e, "stopping an instance failed; will retry");
                    if let Some(live) = self.instances.get_mut(&instance) {
                        live.stopping = false;
                    }
                }
            },
        }
    }
}

fn exit_detail(exit_code: Option<i64>, oom_killed: bool) -> String {
    match (exit_code, oom_killed) {
        (_, true) => "it ran out of memory and was killed (raise the instance's memory)".to_owned(),
        (Some(code), false) => format!("exited with code {code}"),
        (None, false) => "its container stopped".to_owned(),
    }
}

/// Waits until nothing uses the endpoint any more, or `limit` passes. A request that read the table just
/// before the endpoint left it counts itself in a moment later: the short settle covers it.
async fn drained(endpoint: &Endpoint, limit: Duration) {
    const SETTLE: Duration = Duration::from_millis(50);
    let deadline = tokio::time::Instant::now() + limit.max(SETTLE);
    tokio::time::sleep(SETTLE).await;
    while endpoint.in_flight() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copies an instance's output into the service's log until the container stops.
async fn follow_logs(
    shared: Arc<Shared>,
    service: ferry_model::ServiceId,
    instance: InstanceId,
    container: String,
) {
    let since = shared.store.log_cursor(&instance).ok().flatten().map(|t| t.plus_millis(1));
    let mut lines = shared.runtime.follow_logs(&container, since);
    let mut cursor: Option<Timestamp> = None;
    let mut saved = tokio::time::Instant::now();
    let name = instance.to_string();
    while let Some(item) = lines.next().await {
        match item {
            Ok(l) => {
                shared.logs.append(&service, l.at, &name, l.stream.as_str(), &l.line);
                cursor = Some(l.at);
                if saved.elapsed() >= Duration::from_secs(1) {
                    let _ = shared.store.set_log_cursor(&instance, l.at);
                    saved = tokio::time::Instant::now();
                }
            }
            Err(e) => {
                tracing::debug!(instance = %instance, error = %e, "log stream ended");
                break;
            }
        }
    }
    if let Some(at) = cursor {
        let _ = shared.store.set_log_cursor(&instance, at);
    }
}
