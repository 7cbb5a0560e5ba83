//! One service's controller: the reconcile loop, and what each kind of operation means.
//!
//! Whatever wakes it (a queued operation, a health verdict, a container's death, a resync), the controller
//! reads the service and its operations from the store, turns them into a [`Goal`], asks
//! [`ferry_plan::plan`] what its instances should do, and does it through its [`Fleet`]. It decides nothing
//! itself: back-off, deadlines, what follows a failure, the route's protocol and the instance count come
//! from `ferry_plan`.
//!
//! LIFECYCLE of an operation (App Runner's statuses):
//!
//! ```text
//! PENDING ──its turn──► IN_PROGRESS ──all new instances ready──► SUCCEEDED (the revision serves)
//!    │                       │
//!    │                       ├─ an image cannot be had, an instance exits or fails its checks, the
//!    │                       │  deadline passes ──► FAILED (nothing served before: CREATE_FAILED), or
//!    │                       │                      ROLLBACK_IN_PROGRESS ──new instances gone──► ROLLBACK_SUCCEEDED
//!    └─ a delete is queued behind it ──► FAILED (cancelled)
//! ```
//!
//! A pause stops every instance (PAUSED), a resume deploys the revision that served last, a delete stops
//! every instance, marks the service DELETED and takes its route away.

use std::sync::Arc;
use std::time::Duration;

use ferry_model::{
    Instance, Operation, OperationStatus, OperationType, Service, ServiceId, ServiceStatus, Timestamp,
};
use ferry_plan::deploy::{AfterFailure, after_failure, deadline};
use ferry_plan::prune::{ImageUse, prunable};
use ferry_plan::reconcile::Deploy;
use ferry_plan::scale::desired_instances;
use ferry_plan::{Action, Goal};
use ferry_runtime::ContainerInfo;
use ferry_store::StoreError;
use tokio::time::Instant;

use super::fleet::Fleet;
use super::images;
use super::inbox::{Inbox, Mailbox, Msg};
use super::oplog::OpLog;
use super::revisions::Revisions;
use super::route::Route;
use super::shared::{Context, Shared};
use crate::Error;

/// What the loop does after a reconcile.
enum Step {
    /// Reconcile again at once: the state moved on (an operation started, ended or changed phase).
    Again,
    /// Wait for a message, a resync, or this time.
    WaitUntil(Option<Timestamp>),
    /// The service is gone; end the controller.
    Exit,
}

/// How long a controller waits before trying again after a reconcile failed (the store was locked).
const RETRY: i64 = 2_000;

pub(crate) struct ServiceController {
    id: ServiceId,
    shared: Arc<Shared>,
    mailbox: Mailbox,
    fleet: Fleet,
    revisions: Revisions,
    route: Route,
    log: OpLog,
    name: String,
    /// The router answers "paused" for this service.
    paused: bool,
    resync_due: bool,
}

impl ServiceController {
    /// A controller for the service, with the instances found at start-up adopted and the ready ones
    /// published: the router serves them as soon as this returns.
    pub(super) async fn adopt(
        id: ServiceId,
        shared: Arc<Shared>,
        (inbox, mailbox): (Inbox, Mailbox),
        adopted: Vec<(Instance, Option<ContainerInfo>)>,
    ) -> Self {
        let mut this = Self {
            fleet: Fleet::new(id.clone(), shared.clone(), inbox),
            revisions: Revisions::new(id.clone(), shared.store.clone()),
            route: Route::new(id.clone()),
            log: OpLog::new(shared.store.clone(), shared.clock.clone()),
            id,
            shared,
            mailbox,
            name: String::new(),
            paused: false,
            resync_due: false,
        };
        let id = this.id.clone();
        match this.shared.store.call(move |db| db.service(&id)).await {
            Ok(Some(service)) => this.learn(&service),
            Ok(None) => {}
            Err(e) => tracing::warn!(service = %this.id, error = %e, "cannot read a service to adopt"),
        }
        for (row, container) in adopted {
            let check = match this.revisions.get(row.revision).await {
                Ok(Some(r)) => r.spec.health_check,
                _ => Default::default(),
            };
            this.fleet.adopt(row, container, check).await;
        }
        this.publish();
        this
    }

    fn learn(&mut self, service: &Service) {
        self.name = service.name.to_string();
        self.log.set_service(&self.name);
        let host = format!("{}.{}", service.name.host_label(), self.shared.settings.domain);
        self.route.set(&self.name, vec![host]);
        if service.status == ServiceStatus::Paused {
            self.paused = true;
        }
    }

    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    pub(super) async fn run(mut self) {
        let resync = self.shared.settings.resync;
        let shutdown = self.shared.shutdown.clone();
        loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => break,
                step = self.reconcile() => step,
            };
            let step = step.unwrap_or_else(|e| {
                tracing::warn!(service = %self.name, error = %e, "reconcile failed; retrying");
                Step::WaitUntil(Some(self.now().plus_millis(RETRY)))
            });
            self.publish();
            let wake = match step {
                Step::Exit => break,
                Step::Again => continue,
                Step::WaitUntil(at) => at,
            };
            let mut deadline = Instant::now() + resync;
            if let Some(at) = wake {
                let ms = at.millis_since(self.now()) as u64;
                deadline = deadline.min(Instant::now() + Duration::from_millis(ms));
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                msg = self.mailbox.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg).await;
                    while let Some(msg) = self.mailbox.try_recv() {
                        self.handle(msg).await;
                    }
                }
                () = tokio::time::sleep_until(deadline) => self.resync_due = true,
            }
            if self.mailbox.take_missed() {
                self.resync_due = true;
            }
        }
        // Containers keep running when the controller ends (shutdown, or the service is gone after its
        // delete): dropping the instances only ends their health and log tasks.
        self.fleet.clear();
    }

    async fn handle(&mut self, msg: Msg) {
        if self.fleet.handle(msg, &self.log).await {
            // A container went, and with it what kept a retired revision's image.
            self.prune().await;
        }
    }

    /// Publishes the route if it changed, then lets stopping instances (now out of the table) drain.
    fn publish(&mut self) {
        self.route.publish(&self.shared.routes, &self.fleet.ready(), &self.revisions, self.paused);
        self.fleet.published();
    }

    async fn reconcile(&mut self) -> Result<Step, Error> {
        if std::mem::take(&mut self.resync_due) {
            self.fleet.resync(&self.log).await;
        }
        self.fleet.retry_stops().await;
        let id = self.id.clone();
        let (service, unfinished) = self
            .shared
            .store
            .call(move |db| Ok::<_, StoreError>((db.service(&id)?, db.unfinished_operations(&id)?)))
            .await?;
        let Some(service) = service else { return Ok(Step::Exit) };
        if service.status == ServiceStatus::Deleted {
            return Ok(Step::Exit);
        }
        self.learn(&service);
        let op = unfinished.first().cloned();
        self.log.follow(op.as_ref());
        // Instances of revisions being stopped keep their route settings: have them at hand.
        for number in self.fleet.revisions() {
            self.revisions.get(number).await?;
        }
        let delete_queued = |op: &Operation| {
            unfinished.iter().any(|o| o.id != op.id && o.kind == OperationType::DeleteService)
        };
        let goal = match &op {
            Some(op) if op.kind != OperationType::DeleteService && delete_queued(op) => {
                self.end(op, OperationStatus::Failed, "cancelled: the service is being deleted", true)
                    .await?;
                return Ok(Step::Again);
            }
            Some(op) if op.status == OperationStatus::RollbackInProgress => {
                match self.rollback_goal(&service, op).await? {
                    Some(goal) => goal,
                    None => return Ok(Step::Again),
                }
            }
            Some(op) if op.deploys() => match self.deploy_goal(&service, op).await? {
                Some(goal) => goal,
                None => return Ok(Step::Again),
            },
            Some(op) if op.kind == OperationType::PauseService => {
                self.begin(op).await?;
                self.paused = true;
                Goal::Stop
            }
            Some(op) if op.kind == OperationType::DeleteService => {
                self.begin(op).await?;
                Goal::Stop
            }
            Some(op) => {
                let why = format!("{} is not supported by this ferry", op.kind);
                self.end(op, OperationStatus::Failed, &why, true).await?;
                return Ok(Step::Again);
            }
            None => self.steady_goal(&service).await?,
        };

        let mut wake = None;
        for action in ferry_plan::plan(&goal, &self.fleet.observed(), self.now()) {
            match action {
                Action::Start { revision } => {
                    let Some(r) = self.revisions.get(revision).await? else {
                        return Err(Error::Internal(format!(
                            "revision {revision} of {} is missing",
                            self.name
                        )));
                    };
                    self.fleet.start(&service, &r, &self.log).await?;
                }
                Action::Stop { id, reason } => {
                    self.fleet.stop(&id, reason).await;
                    // Out of the router's table before it drains.
                    self.publish();
                }
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
                Action::AllStopped => match op.as_ref().map(|o| (o, o.kind)) {
                    Some((op, OperationType::DeleteService)) => {
                        self.deleted(op).await?;
                        return Ok(Step::Exit);
                    }
                    Some((op, OperationType::PauseService)) => {
                        self.paused_done(op).await?;
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
    async fn steady_goal(&mut self, service: &Service) -> Result<Goal, Error> {
        let active = match (service.status, service.active_revision) {
            (ServiceStatus::Running, Some(n)) => self.revisions.get(n).await?,
            _ => None,
        };
        self.paused = service.status == ServiceStatus::Paused;
        let Some(revision) = active else { return Ok(Goal::Stop) };
        Ok(Goal::Run {
            revision: revision.number,
            count: desired_instances(&revision.spec),
            deploy: None,
            start_not_before: self.fleet.start_not_before(self.now()),
        })
    }

    /// Marks a pending operation started; returns it as it is now.
    async fn begin(&mut self, op: &Operation) -> Result<Operation, Error> {
        if op.status != OperationStatus::Pending {
            self.log.follow(Some(op));
            return Ok(op.clone());
        }
        let now = self.now();
        let started = Operation {
            status: OperationStatus::InProgress,
            started_at: Some(now),
            updated_at: now,
            ..op.clone()
        };
        let write = started.clone();
        self.shared.store.call(move |db| db.update_operation(&write)).await?;
        self.log.follow(Some(&started));
        let what = match op.kind {
            OperationType::DeleteService => "Deletion",
            OperationType::PauseService => "Pause",
            _ => "Deployment",
        };
        let trigger = op.trigger.event(op.kind);
        self.log.event(&op.id, &format!("{what} with ID : {} started. Triggering event : {trigger}", op.id));
        Ok(started)
    }

    /// Ends an operation; with `log`, also writes `error` to its log.
    async fn end(
        &mut self,
        op: &Operation,
        status: OperationStatus,
        error: &str,
        log: bool,
    ) -> Result<(), Error> {
        let ended = self.ended(op, status, error, log);
        self.shared.store.call(move |db| db.update_operation(&ended)).await?;
        Ok(())
    }

    /// `op` as it ends with `status` (written by the caller, often with other changes in one transaction).
    fn ended(&mut self, op: &Operation, status: OperationStatus, error: &str, log: bool) -> Operation {
        let now = self.now();
        let mut op = op.clone();
        op.status = status;
        op.ended_at = Some(now);
        op.updated_at = now;
        if !status.is_success() {
            op.error = Some(error.to_owned());
            if log {
                self.log.event(&op.id, error);
            }
        }
        self.log.follow(None);
        op
    }

    /// The goal of a deploying operation, once its image is on the engine; `None` when the operation
    /// ended instead.
    async fn deploy_goal(&mut self, service: &Service, op: &Operation) -> Result<Option<Goal>, Error> {
        if op.status == OperationStatus::Pending
            && service.status == ServiceStatus::Paused
            && op.kind != OperationType::ResumeService
        {
            let why = format!("service {} is paused: resume it first", service.name);
            self.end(op, OperationStatus::Failed, &why, true).await?;
            return Ok(None);
        }
        let op = self.begin(op).await?;
        if op.kind == OperationType::ResumeService {
            self.paused = false;
        }
        let Some(number) = op.revision else {
            self.end(&op, OperationStatus::Failed, "the operation names no revision to deploy", true).await?;
            return Ok(None);
        };
        let Some(revision) = self.revisions.get(number).await? else {
            self.end(&op, OperationStatus::Failed, &format!("revision {number} is missing"), true).await?;
            return Ok(None);
        };
        let cx =
            Context { shared: &self.shared, service: &self.id, name: &self.name, log: &self.log, op: &op.id };
        let revision = match images::ensure_image(&cx, revision).await? {
            Ok(r) => {
                self.revisions.put(r.clone());
                r
            }
            Err(reason) => {
                self.deploy_failed(service, &op, &reason.to_string()).await?;
                return Ok(None);
            }
        };
        let started = op.started_at.unwrap_or_else(|| self.now());
        let timeout = self.shared.settings.deploy_timeout.as_millis() as i64;
        Ok(Some(Goal::Run {
            revision: number,
            count: desired_instances(&revision.spec),
            deploy: Some(Deploy {
                deadline: deadline(started, timeout, revision.spec.health_check.grace_period),
            }),
            start_not_before: None,
        }))
    }

    async fn deploy_succeeded(&mut self, op: &Operation) -> Result<(), Error> {
        let now = self.now();
        if let Some(n) = op.revision {
            self.log.event(&op.id, &format!("Health check is successful. Routing traffic to revision {n}."));
        }
        self.log.event(&op.id, "Deployment completed successfully.");
        self.log.event(&op.id, "Service status is set to RUNNING.");
        let ended = self.ended(op, OperationStatus::Succeeded, "", false);
        let id = self.id.clone();
        self.shared
            .store
            .call(move |db| {
                db.transaction(|db| {
                    if let Some(n) = ended.revision {
                        db.activate_revision(&id, n, now)?;
                    }
                    db.set_service_status(&id, ServiceStatus::Running, now)?;
                    db.update_operation(&ended)
                })
            })
            .await?;
        self.paused = false;
        self.prune().await;
        Ok(())
    }

    async fn deploy_failed(&mut self, service: &Service, op: &Operation, reason: &str) -> Result<(), Error> {
        self.log.event(&op.id, &format!("Deployment failed: {reason}"));
        self.log_failed_instances(op).await;
        let id = self.id.clone();
        let now = self.now();
        match after_failure(op.kind, service.active_revision, op.revision) {
            AfterFailure::Fail { status } => {
                self.paused = status == ServiceStatus::Paused;
                self.log.event(&op.id, &format!("Deployment with ID : {} failed.", op.id));
                self.log.event(&op.id, &format!("Service status is set to {status}."));
                let ended = self.ended(op, OperationStatus::Failed, reason, false);
                self.shared
                    .store
                    .call(move |db| {
                        db.transaction(|db| {
                            db.set_service_status(&id, status, now)?;
                            db.update_operation(&ended)
                        })
                    })
                    .await?;
            }
            AfterFailure::RollBack { to } => {
                let mut rolling = op.clone();
                rolling.status = OperationStatus::RollbackInProgress;
                rolling.error = Some(reason.to_owned());
                rolling.updated_at = now;
                self.log.event(
                    &op.id,
                    &format!("Rolling back: revision {to} keeps serving; removing the new instances."),
                );
                self.shared
                    .store
                    .call(move |db| {
                        db.transaction(|db| {
                            db.update_operation(&rolling)?;
                            db.reset_spec_to(&id, to)
                        })
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// The goal while a failed deployment rolls back: the serving revision, as in steady state, which
    /// retires the new one's instances. `None` once they are all gone and the rollback is over.
    async fn rollback_goal(&mut self, service: &Service, op: &Operation) -> Result<Option<Goal>, Error> {
        let reason = op.error.clone().unwrap_or_default();
        let Some(active) = service.active_revision else {
            self.end(op, OperationStatus::RollbackFailed, &reason, false).await?;
            return Ok(None);
        };
        self.log.follow(Some(op));
        if !op.revision.is_some_and(|n| self.fleet.runs(n)) {
            self.log.event(
                &op.id,
                &format!("Rollback completed: revision {active} serves. Service status is set to RUNNING."),
            );
            let ended = self.ended(op, OperationStatus::RollbackSucceeded, &reason, false);
            let (id, now) = (self.id.clone(), self.now());
            self.shared
                .store
                .call(move |db| {
                    db.transaction(|db| {
                        db.set_service_status(&id, ServiceStatus::Running, now)?;
                        db.update_operation(&ended)
                    })
                })
                .await?;
            return Ok(None);
        }
        let Some(revision) = self.revisions.get(active).await? else {
            return Err(Error::Internal(format!("the serving revision {active} is missing")));
        };
        Ok(Some(Goal::Run {
            revision: active,
            count: desired_instances(&revision.spec),
            deploy: None,
            start_not_before: None,
        }))
    }

    /// Writes the failing instances' details and last log lines to the operation's log, before their
    /// containers are removed.
    async fn log_failed_instances(&mut self, op: &Operation) {
        let Some(revision) = op.revision else { return };
        for (id, container, detail) in self.fleet.failed(revision) {
            if let Some(detail) = detail {
                self.log.event(&op.id, &format!("Instance {id}: {detail}"));
            }
            let Some(container) = container else { continue };
            match self.shared.runtime.tail_logs(&container, 20).await {
                Ok(lines) if lines.is_empty() => {
                    self.log.event(&op.id, &format!("Instance {id} wrote nothing to stdout or stderr."));
                }
                Ok(lines) => {
                    self.log.event(&op.id, &format!("Last lines written by instance {id}:"));
                    for l in lines {
                        self.log.event(&op.id, &format!("  {} | {}", l.stream.as_str(), l.line));
                    }
                }
                Err(e) => self.log.event(&op.id, &format!("The logs of instance {id} cannot be read: {e}")),
            }
        }
    }

    async fn paused_done(&mut self, op: &Operation) -> Result<(), Error> {
        self.log.event(&op.id, "All instances stopped. Service status is set to PAUSED.");
        let ended = self.ended(op, OperationStatus::Succeeded, "", false);
        let (id, now) = (self.id.clone(), self.now());
        self.shared
            .store
            .call(move |db| {
                db.transaction(|db| {
                    db.set_service_status(&id, ServiceStatus::Paused, now)?;
                    db.update_operation(&ended)
                })
            })
            .await?;
        Ok(())
    }

    async fn deleted(&mut self, op: &Operation) -> Result<(), Error> {
        self.log.event(&op.id, "Service deleted.");
        let ended = self.ended(op, OperationStatus::Succeeded, "", false);
        let (id, now) = (self.id.clone(), self.now());
        self.shared
            .store
            .call(move |db| {
                db.transaction(|db| {
                    db.mark_deleted(&id, now)?;
                    db.update_operation(&ended)
                })
            })
            .await?;
        self.route.unpublish(&self.shared.routes);
        self.shared.logs.remove(&self.id).await;
        let checkout = self.shared.settings.data_dir.join("git").join(self.id.as_str());
        let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&checkout) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err((checkout, e)),
            _ => Ok(()),
        });
        if let Ok(Err((dir, e))) = removed.await {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a deleted service's checkout");
        }
        self.prune().await;
        Ok(())
    }

    /// Removes from the engine what ferry put there for revisions no longer kept (of any service).
    async fn prune(&self) {
        let keep = self.shared.settings.keep_revisions;
        let uses = match self.shared.store.call(|db| db.revisions_on_engine()).await {
            Ok(rows) => rows
                .into_iter()
                .map(|u| ImageUse {
                    service: u.revision.service_id.clone(),
                    revision: u.revision.number,
                    references: u.revision.engine_references(),
                    active: u.active,
                    deploying: u.deploying,
                    service_deleted: u.service_deleted,
                })
                .collect::<Vec<_>>(),
            Err(e) => return tracing::warn!(error = %e, "cannot list images to prune"),
        };
        for p in prunable(&uses, keep) {
            let mut removed = true;
            for reference in &p.references {
                match self.shared.runtime.remove_image(reference).await {
                    Ok(()) => {
                        tracing::info!(service = %p.service, revision = p.revision, image = %reference, "pruned an old revision's image")
                    }
                    // Still used by a container: leave it for a later prune.
                    Err(e) => {
                        tracing::debug!(image = %reference, error = %e, "image not pruned");
                        removed = false;
                    }
                }
            }
            if removed {
                let (service, number) = (p.service.clone(), p.revision);
                if let Err(e) =
                    self.shared.store.call(move |db| db.set_image_pruned(&service, number, true)).await
                {
                    tracing::warn!(error = %e, "cannot record a pruned image");
                }
            }
        }
    }
}
