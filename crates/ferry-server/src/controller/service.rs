//! One service's controller: the reconcile loop.
//!
//! Whatever wakes it, the controller reads the service and its current operation from the store, turns
//! them into a [`Goal`], and carries out what `ferry_plan::plan` says about its instances. What each kind
//! of operation means is in `operation.rs`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ferry_model::{
    Instance, InstanceId, Operation, OperationStatus, OperationType, RequestTimeout, Revision, Service,
    ServiceId, ServiceStatus, Timestamp, UpstreamProtocol,
};
use ferry_plan::{Action, Goal, InstanceView};
use ferry_router::{Endpoint, Protocol, RouteState, ServiceRoute};
use ferry_runtime::ContainerInfo;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::instance::Live;
use super::{Msg, Shared};
use crate::Error;

/// What was last published to the router, to publish again only on a change.
#[derive(PartialEq, Eq)]
struct Published {
    instances: Vec<InstanceId>,
    paused: bool,
    protocol: UpstreamProtocol,
    timeout: RequestTimeout,
}

/// What the loop does after a reconcile.
pub(super) enum Step {
    /// Reconcile again at once: the state moved on (an operation started, ended or changed phase).
    Again,
    /// Wait for a message, a resync, or this time.
    WaitUntil(Option<Timestamp>),
    /// The service is gone; end the controller.
    Exit,
}

pub(crate) struct ServiceController {
    pub(super) id: ServiceId,
    pub(super) shared: Arc<Shared>,
    pub(super) tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    pub(super) instances: BTreeMap<InstanceId, Live>,
    pub(super) revisions: HashMap<u32, Revision>,
    /// The operation in progress, for log lines about instances.
    pub(super) current_op: Option<Operation>,
    /// Consecutive instance failures, for crash back-off.
    pub(super) failures: u32,
    pub(super) last_failure: Option<Timestamp>,
    pub(super) host: String,
    pub(super) service_name: String,
    /// The router answers "paused" for this service.
    pub(super) paused: bool,
    published: Option<Published>,
    /// The protocol of the endpoints last published: kept while any ready instance speaks it (see `publish`).
    serving_protocol: UpstreamProtocol,
    resync_due: bool,
}

impl ServiceController {
    pub(super) fn adopt(
        id: ServiceId,
        shared: Arc<Shared>,
        tx: mpsc::Sender<Msg>,
        rx: mpsc::Receiver<Msg>,
        adopted: Vec<(Instance, Option<ContainerInfo>)>,
    ) -> Self {
        let mut this = Self {
            id,
            shared,
            tx,
            rx,
            instances: BTreeMap::new(),
            revisions: HashMap::new(),
            current_op: None,
            failures: 0,
            last_failure: None,
            host: String::new(),
            service_name: String::new(),
            paused: false,
            published: None,
            serving_protocol: UpstreamProtocol::default(),
            resync_due: false,
        };
        if let Ok(Some(service)) = this.shared.store.service(&this.id) {
            this.learn(&service);
        }
        for (row, container) in adopted {
            this.adopt_instance(row, container);
        }
        this.publish();
        this
    }

    fn learn(&mut self, service: &Service) {
        self.host = format!("{}.{}", service.name.host_label(), self.shared.settings.domain);
        self.service_name = service.name.to_string();
        if service.status == ServiceStatus::Paused {
            self.paused = true;
        }
    }

    pub(super) async fn run(mut self) {
        let resync = self.shared.settings.resync;
        loop {
            let step = match self.reconcile().await {
                Ok(step) => step,
                Err(e) => {
                    tracing::warn!(service = %self.service_name, error = %e, "reconcile failed; retrying");
                    Step::WaitUntil(Some(Timestamp::now().plus_millis(2_000)))
                }
            };
            self.publish();
            let wake = match step {
                Step::Exit => break,
                Step::Again => continue,
                Step::WaitUntil(at) => at,
            };
            let mut deadline = Instant::now() + resync;
            if let Some(at) = wake {
                let ms = at.millis_since(Timestamp::now()).max(0) as u64;
                deadline = deadline.min(Instant::now() + Duration::from_millis(ms));
            }
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => break,
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg).await;
                    while let Ok(msg) = self.rx.try_recv() {
                        self.handle(msg).await;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => self.resync_due = true,
            }
        }
        // Containers keep running when the controller ends (shutdown, or the service is gone after its
        // delete): dropping the instances only ends their health and log tasks.
        self.instances.clear();
    }

    async fn reconcile(&mut self) -> Result<Step, Error> {
        if std::mem::take(&mut self.resync_due) {
            self.resync().await;
        }
        self.retry_stops();
        let store = self.shared.store.clone();
        let Some(service) = store.service(&self.id)? else { return Ok(Step::Exit) };
        if service.status == ServiceStatus::Deleted {
            return Ok(Step::Exit);
        }
        self.learn(&service);
        let op = store.current_operation(&self.id)?;
        self.current_op = op.clone();
        let goal = match &op {
            Some(op) if op.kind != OperationType::DeleteService && self.delete_is_queued(op)? => {
                self.end_operation(
                    op,
                    OperationStatus::Failed,
                    "cancelled: the service is being deleted",
                    true,
                )?;
                return Ok(Step::Again);
            }
            Some(op) if op.status == OperationStatus::RollbackInProgress => {
                match self.rollback_goal(&service, op)? {
                    Some(goal) => goal,
                    None => return Ok(Step::Again),
                }
            }
            Some(op) if op.deploys() => match self.deploy_goal(&service, op).await? {
                Some(goal) => goal,
                None => return Ok(Step::Again),
            },
            Some(op) if op.kind == OperationType::PauseService => {
                self.begin(op)?;
                self.paused = true;
                Goal::Stop
            }
            Some(op) if op.kind == OperationType::DeleteService => {
                self.begin(op)?;
                Goal::Stop
            }
            Some(op) => {
                let why = format!("{} is not supported by this ferry", op.kind);
                self.end_operation(op, OperationStatus::Failed, &why, true)?;
                return Ok(Step::Again);
            }
            None => self.steady_goal(&service)?,
        };

        let views: Vec<InstanceView> = self.instances.values().map(Live::view).collect();
        let mut wake = None;
        for action in ferry_plan::plan(&goal, &views, Timestamp::now()) {
            match action {
                Action::Start { revision } => self.start_instance(&service, revision).await?,
                Action::Stop { id, reason } => self.stop_instance(&id, reason),
                Action::DeploySucceeded => {
                    if let Some(op) = &op {
                        self.deploy_succeeded(op).await?;
                    }
                    return Ok(Step::Again);
                }
                Action::DeployFailed { reason } => {
                    if let Some(op) = &op {
                        self.deploy_failed(&service, op, &reason).await?;
                    }
                    return Ok(Step::Again);
                }
                Action::AllStopped => match op.as_ref().map(|o| o.kind) {
                    Some(OperationType::DeleteService) => {
                        if let Some(op) = &op {
                            self.deleted(op).await?;
                        }
                        return Ok(Step::Exit);
                    }
                    Some(OperationType::PauseService) => {
                        if let Some(op) = &op {
                            self.paused_done(op)?;
                        }
                        return Ok(Step::Again);
                    }
                    _ => {}
                },
                Action::WakeAt(at) => wake = Some(wake.map_or(at, |w: Timestamp| w.min(at))),
            }
        }
        Ok(Step::WaitUntil(wake))
    }

    /// What runs when no operation is in progress: the active revision while RUNNING, nothing otherwise.
    fn steady_goal(&mut self, service: &Service) -> Result<Goal, Error> {
        let active = match (service.status, service.active_revision) {
            (ServiceStatus::Running, Some(n)) => self.revision(n)?,
            _ => None,
        };
        self.paused = service.status == ServiceStatus::Paused;
        let Some(revision) = active else { return Ok(Goal::Stop) };
        // Crash back-off: 1 s after the first failure, doubling up to a minute.
        let start_not_before = self.last_failure.filter(|_| self.failures > 0).map(|at| {
            let backoff = 1_000i64.saturating_mul(1 << self.failures.saturating_sub(1).min(6));
            at.plus_millis(backoff.min(60_000))
        });
        Ok(Goal::Run {
            revision: revision.number,
            count: revision.spec.instances,
            deploy: None,
            start_not_before,
        })
    }

    pub(super) fn revision(&mut self, number: u32) -> Result<Option<Revision>, Error> {
        if let Some(r) = self.revisions.get(&number).filter(|r| r.image_id.is_some()) {
            return Ok(Some(r.clone()));
        }
        let r = self.shared.store.revision(&self.id, number)?;
        if let Some(r) = &r {
            self.revisions.insert(number, r.clone());
        }
        Ok(r)
    }

    fn delete_is_queued(&self, current: &Operation) -> Result<bool, Error> {
        let ops = self.shared.store.operations(&self.id, 20)?;
        Ok(ops
            .iter()
            .any(|o| o.id != current.id && o.kind == OperationType::DeleteService && !o.status.is_terminal()))
    }

    /// Publishes the service's pool to the router when it changed.
    ///
    /// Protocol and request timeout belong to revisions, and during a deployment the ready instances may run
    /// two revisions. One route has one protocol, so the route keeps the protocol it was serving with, and only
    /// the instances that speak it, for as long as any ready instance does; then it switches to the newest
    /// revision's. A deployment that changes the protocol thus moves traffic over when the old instances leave
    /// the pool, which is after every new one is ready. The timeout is that of the newest revision published.
    pub(super) fn publish(&mut self) {
        if self.host.is_empty() {
            return;
        }
        let ready: Vec<(InstanceId, u32, Arc<Endpoint>)> = self
            .instances
            .values()
            .filter_map(|l| l.endpoint.clone().map(|e| (l.record.id.clone(), l.record.revision, e)))
            .collect();
        let mut settings: HashMap<u32, (UpstreamProtocol, RequestTimeout)> = HashMap::new();
        for &(_, number, _) in &ready {
            if let Entry::Vacant(slot) = settings.entry(number) {
                let spec = self.revision(number).ok().flatten().map(|r| r.spec);
                slot.insert(spec.map(|s| (s.protocol, s.request_timeout)).unwrap_or_default());
            }
        }
        let revisions: Vec<u32> = ready.iter().map(|(_, n, _)| *n).collect();
        let (protocol, timeout) = route_settings(&revisions, &settings, self.serving_protocol);
        let speaks = |number: &u32| settings.get(number).map(|s| s.0).unwrap_or_default();
        let chosen: Vec<&(InstanceId, u32, Arc<Endpoint>)> =
            ready.iter().filter(|(_, n, _)| speaks(n) == protocol).collect();
        let key = Published {
            instances: chosen.iter().map(|(id, _, _)| id.clone()).collect(),
            paused: self.paused,
            protocol,
            timeout,
        };
        if self.published.as_ref() == Some(&key) {
            return;
        }
        let route = ServiceRoute {
            service: self.service_name.clone(),
            state: if self.paused { RouteState::Paused } else { RouteState::Serving },
            endpoints: chosen.iter().map(|(_, _, e)| Arc::clone(e)).collect(),
            protocol: match protocol {
                UpstreamProtocol::Http1 => Protocol::Http1,
                UpstreamProtocol::Http2 => Protocol::Http2,
            },
            request_timeout: Duration::from_secs(u64::from(timeout.secs())),
        };
        self.shared.routes.publish(&self.id, &self.host, Some(route));
        self.serving_protocol = protocol;
        self.published = Some(key);
    }

    /// Takes the service out of the router for good.
    pub(super) fn unpublish(&mut self) {
        self.shared.routes.publish(&self.id, &self.host, None);
        self.published = Some(Published {
            instances: Vec::new(),
            paused: self.paused,
            protocol: self.serving_protocol,
            timeout: RequestTimeout::default(),
        });
        self.host.clear();
    }
}

/// The protocol and request timeout of a service's route, from the revisions its ready instances run (one
/// entry per instance) and what each revision says: the protocol served so far while some instance still
/// speaks it, else the newest revision's; the timeout of the newest revision that speaks the chosen protocol.
/// Only the instances that speak the chosen protocol are published.
fn route_settings(
    ready: &[u32],
    settings: &HashMap<u32, (UpstreamProtocol, RequestTimeout)>,
    serving: UpstreamProtocol,
) -> (UpstreamProtocol, RequestTimeout) {
    let of = |number: &u32| settings.get(number).copied().unwrap_or_default();
    let protocol = if ready.iter().any(|n| of(n).0 == serving) {
        serving
    } else {
        ready.iter().max().map_or(serving, |n| of(n).0)
    };
    let timeout = ready.iter().filter(|n| of(n).0 == protocol).max().map(|n| of(n).1).unwrap_or_default();
    (protocol, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_keeps_its_protocol_while_an_instance_speaks_it_then_takes_the_newest() {
        use UpstreamProtocol::{Http1, Http2};
        let secs = |s: i64| RequestTimeout::from_secs(s).expect("in range");
        let settings: HashMap<u32, (UpstreamProtocol, RequestTimeout)> =
            [(1, (Http1, secs(300))), (2, (Http1, secs(10))), (3, (Http2, secs(60)))].into();
        let cases: [(&[u32], UpstreamProtocol, (UpstreamProtocol, RequestTimeout)); 7] = [
            // Nothing ready: nothing changes.
            (&[], Http1, (Http1, RequestTimeout::default())),
            (&[1], Http1, (Http1, secs(300))),
            // Same protocol, new timeout: the newest revision's timeout as soon as it is ready.
            (&[1, 1, 2], Http1, (Http1, secs(10))),
            // Switching to HTTP/2: the old instances keep serving over HTTP/1.1 until they leave...
            (&[2, 3, 3], Http1, (Http1, secs(10))),
            // ...then the new ones take over.
            (&[3, 3], Http1, (Http2, secs(60))),
            (&[3], Http2, (Http2, secs(60))),
            // A rollback to HTTP/1.1 works the same way round.
            (&[1, 3], Http2, (Http2, secs(60))),
        ];
        for (ready, serving, want) in cases {
            assert_eq!(route_settings(ready, &settings, serving), want, "ready {ready:?}, serving {serving}");
        }
        // A restart adopts HTTP/2 instances while it remembers nothing: they are served over HTTP/2.
        assert_eq!(route_settings(&[3], &settings, Http1), (Http2, secs(60)));
    }
}
