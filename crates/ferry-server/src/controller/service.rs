//! One service's controller: the reconcile loop and what it does with operations.
//!
//! LIFECYCLE of an operation, as this controller drives it:
//!
//! ```text
//! PENDING ──(oldest unfinished of its service)──► IN_PROGRESS ──► SUCCEEDED
//!                                                     │
//!                                                     └─────────► FAILED (reason + last log lines)
//! ```
//!
//! Operations of one service run one at a time, oldest first; a delete queued behind a deployment
//! cancels the deployment rather than waiting for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ferry_model::{
    Instance, InstanceId, InstanceState, Operation, OperationStatus, OperationType, Revision, Service,
    ServiceId, ServiceStatus, Timestamp,
};
use ferry_plan::{Action, Goal, InstanceView, reconcile::Deploy};
use ferry_router::{RouteState, ServiceRoute};
use ferry_runtime::ContainerInfo;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::instance::Live;
use super::{Msg, Shared};
use crate::Error;

/// What the loop does after a reconcile.
pub(super) enum Step {
    /// Reconcile again at once: the state moved on (an operation ended).
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
    published: Option<Vec<InstanceId>>,
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
            published: None,
            resync_due: false,
        };
        if let Ok(Some(service)) = this.shared.store.service(&this.id) {
            this.learn_names(&service);
        }
        for (row, container) in adopted {
            this.adopt_instance(row, container);
        }
        this.publish();
        this
    }

    fn learn_names(&mut self, service: &Service) {
        self.host = format!("{}.{}", service.name.host_label(), self.shared.settings.domain);
        self.service_name = service.name.to_string();
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
        self.learn_names(&service);
        let op = store.current_operation(&self.id)?;
        self.current_op = op.clone();
        let goal = match &op {
            Some(op) if op.kind == OperationType::CreateService => {
                if self.delete_is_queued(op)? {
                    let why = "cancelled: the service is being deleted";
                    self.event(op, why);
                    self.end_operation(op, OperationStatus::Failed, why)?;
                    return Ok(Step::Again);
                }
                let op = self.begin(op, "SERVICE_CREATE")?;
                let Some(number) = op.revision else {
                    self.end_operation(&op, OperationStatus::Failed, "the operation names no revision")?;
                    return Ok(Step::Again);
                };
                let revision = match self.revision(number)? {
                    Some(r) if r.image_id.is_some() => r,
                    Some(r) => match self.pull(&op, r).await? {
                        Ok(r) => r,
                        Err(reason) => {
                            self.deploy_failed(&service, &op, &reason).await?;
                            return Ok(Step::Again);
                        }
                    },
                    None => {
                        self.end_operation(
                            &op,
                            OperationStatus::Failed,
                            "the revision to deploy is missing",
                        )?;
                        return Ok(Step::Again);
                    }
                };
                let started = op.started_at.unwrap_or_else(Timestamp::now);
                let timeout = self.shared.settings.deploy_timeout.as_millis() as i64;
                Goal::Run {
                    revision: number,
                    count: revision.spec.instances,
                    deploy: Some(Deploy { deadline: started.plus_millis(timeout) }),
                    start_not_before: None,
                }
            }
            Some(op) if op.kind == OperationType::DeleteService => {
                self.begin(op, "SERVICE_DELETE")?;
                Goal::Stop
            }
            Some(op) => {
                let why = format!("{} is not supported by this ferry", op.kind);
                self.event(op, &why);
                self.end_operation(op, OperationStatus::Failed, &why)?;
                return Ok(Step::Again);
            }
            None => self.steady_goal(&service)?,
        };

        let views: Vec<InstanceView> = self.instances.values().map(Live::view).collect();
        let now = Timestamp::now();
        let mut wake = None;
        for action in ferry_plan::plan(&goal, &views, now) {
            match action {
                Action::Start { revision } => self.start_instance(&service, revision).await?,
                Action::Stop { id, reason } => self.stop_instance(&id, reason),
                Action::DeploySucceeded => {
                    if let Some(op) = &op {
                        self.deploy_succeeded(op)?;
                    }
                    return Ok(Step::Again);
                }
                Action::DeployFailed { reason } => {
                    if let Some(op) = &op {
                        self.deploy_failed(&service, op, &reason).await?;
                    }
                    return Ok(Step::Again);
                }
                Action::AllStopped => {
                    if let Some(op) = op.as_ref().filter(|o| o.kind == OperationType::DeleteService) {
                        self.deleted(op)?;
                        return Ok(Step::Exit);
                    }
                }
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

    /// Moves a pending operation to IN_PROGRESS (once) and returns it as it now is.
    fn begin(&mut self, op: &Operation, trigger: &str) -> Result<Operation, Error> {
        if op.status != OperationStatus::Pending {
            return Ok(op.clone());
        }
        let now = Timestamp::now();
        let mut op = op.clone();
        op.status = OperationStatus::InProgress;
        op.started_at = Some(now);
        op.updated_at = now;
        self.shared.store.update_operation(&op)?;
        self.current_op = Some(op.clone());
        let what = if op.kind == OperationType::DeleteService { "Deletion" } else { "Deployment" };
        self.event(&op, &format!("{what} with ID : {} started. Triggering event : {trigger}", op.id));
        Ok(op)
    }

    pub(super) fn event(&self, op: &Operation, message: &str) {
        tracing::info!(service = %self.service_name, operation = %op.id, "{message}");
        if let Err(e) = self.shared.store.append_event(&op.id, Timestamp::now(), message) {
            tracing::warn!(operation = %op.id, error = %e, "cannot record an operation event");
        }
    }

    /// Logs a line to the operation in progress, if there is one.
    pub(super) fn note(&self, message: &str) {
        match &self.current_op {
            Some(op) if op.status == OperationStatus::InProgress => self.event(op, message),
            _ => tracing::info!(service = %self.service_name, "{message}"),
        }
    }

    fn end_operation(&mut self, op: &Operation, status: OperationStatus, error: &str) -> Result<(), Error> {
        let now = Timestamp::now();
        let mut op = op.clone();
        op.status = status;
        op.ended_at = Some(now);
        op.updated_at = now;
        if !status.is_success() {
            op.error = Some(error.to_owned());
        }
        self.shared.store.update_operation(&op)?;
        self.current_op = None;
        Ok(())
    }

    async fn pull(&mut self, op: &Operation, revision: Revision) -> Result<Result<Revision, String>, Error> {
        let source = &revision.spec.source;
        self.event(op, &format!("Pulling image {}", source.image));
        let store = self.shared.store.clone();
        let op_id = op.id.clone();
        let progress = move |line: &str| {
            let _ = store.append_event(&op_id, Timestamp::now(), line);
        };
        let pull = self.shared.runtime.pull(&source.image, source.credentials.as_ref(), &progress);
        let pulled = match tokio::time::timeout(self.shared.settings.deploy_timeout, pull).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Ok(Err(e.to_string())),
            Err(_) => {
                return Ok(Err(format!("pulling {} took longer than the deployment timeout", source.image)));
            }
        };
        self.shared.store.set_revision_image(
            &self.id,
            revision.number,
            pulled.digest.as_deref(),
            &pulled.image_id,
        )?;
        let shown = pulled.digest.as_deref().unwrap_or(&pulled.image_id);
        self.event(op, &format!("Successfully pulled image {} ({shown})", source.image));
        let revision = Revision { image_digest: pulled.digest, image_id: Some(pulled.image_id), ..revision };
        self.revisions.insert(revision.number, revision.clone());
        Ok(Ok(revision))
    }

    fn deploy_succeeded(&mut self, op: &Operation) -> Result<(), Error> {
        let now = Timestamp::now();
        if let Some(n) = op.revision {
            self.shared.store.set_active_revision(&self.id, n, now)?;
        }
        self.shared.store.set_service_status(&self.id, ServiceStatus::Running, now)?;
        self.event(op, "Health check is successful. Routing traffic to application.");
        self.event(op, "Deployment completed successfully.");
        self.event(op, "Service status is set to RUNNING.");
        self.end_operation(op, OperationStatus::Succeeded, "")
    }

    async fn deploy_failed(&mut self, service: &Service, op: &Operation, reason: &str) -> Result<(), Error> {
        self.event(op, &format!("Deployment failed: {reason}"));
        // The failing instances' own words, before their containers are removed.
        let failed: Vec<(InstanceId, Option<String>, Option<String>)> = self
            .instances
            .values()
            .filter(|l| Some(l.record.revision) == op.revision)
            .filter(|l| matches!(l.record.state, InstanceState::Exited | InstanceState::Unhealthy))
            .map(|l| (l.record.id.clone(), l.record.container_id.clone(), l.record.detail.clone()))
            .collect();
        for (id, container, detail) in failed {
            if let Some(detail) = detail {
                self.event(op, &format!("Instance {id}: {detail}"));
            }
            let Some(container) = container else { continue };
            match self.shared.runtime.tail_logs(&container, 20).await {
                Ok(lines) if lines.is_empty() => {
                    self.event(op, &format!("Instance {id} wrote nothing to stdout or stderr."))
                }
                Ok(lines) => {
                    self.event(op, &format!("Last lines written by instance {id}:"));
                    for l in lines {
                        self.event(op, &format!("  {} | {}", l.stream.as_str(), l.line));
                    }
                }
                Err(e) => self.event(op, &format!("The logs of instance {id} cannot be read: {e}")),
            }
        }
        self.event(op, &format!("Deployment with ID : {} failed.", op.id));
        if op.kind == OperationType::CreateService {
            self.shared.store.set_service_status(&self.id, ServiceStatus::CreateFailed, Timestamp::now())?;
            self.event(op, "Service status is set to CREATE_FAILED.");
        }
        let _ = service;
        self.end_operation(op, OperationStatus::Failed, reason)
    }

    fn deleted(&mut self, op: &Operation) -> Result<(), Error> {
        let now = Timestamp::now();
        self.shared.store.mark_deleted(&self.id, now)?;
        self.shared.logs.remove(&self.id);
        self.event(op, "Service deleted.");
        self.end_operation(op, OperationStatus::Succeeded, "")?;
        self.shared.routes.publish(&self.id, &self.host, None);
        self.published = Some(Vec::new());
        Ok(())
    }

    /// Publishes the service's pool to the router when it changed.
    pub(super) fn publish(&mut self) {
        if self.host.is_empty() {
            return;
        }
        let ready: Vec<&Live> = self.instances.values().filter(|l| l.endpoint.is_some()).collect();
        let ids: Vec<InstanceId> = ready.iter().map(|l| l.record.id.clone()).collect();
        if self.published.as_ref() == Some(&ids) {
            return;
        }
        let route = ServiceRoute {
            service: self.service_name.clone(),
            state: RouteState::Serving,
            endpoints: ready.iter().filter_map(|l| l.endpoint.clone()).collect(),
        };
        self.shared.routes.publish(&self.id, &self.host, Some(route));
        self.published = Some(ids);
    }
}
