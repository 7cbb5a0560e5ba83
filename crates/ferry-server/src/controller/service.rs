//! One service's controller: the reconcile loop, and what each kind of operation means.
//!
//! Whatever wakes it (a queued operation, a health verdict, a container's death, an image step that
//! ended, a resync), the controller reads the service and its operations from the store, turns them into a
//! [`Goal`], asks [`ferry_plan::plan`] what its instances should do, and does it through its [`Fleet`]. It
//! decides nothing itself: back-off, deadlines, what follows a failure, the route's protocol and the
//! instance count come from `ferry_plan`. Nothing it awaits takes long: a pull or a build runs in a task of
//! its own (an image step), so facts about instances are taken in, and the route published, throughout.
//!
//! LIFECYCLE of an operation (App Runner's statuses):
//!
//! ```text
//! PENDING ──its turn──► IN_PROGRESS ──image ready, all new instances ready──► SUCCEEDED (it serves)
//!    │                       │
//!    │                       ├─ an image cannot be had, an instance exits or fails its checks, the
//!    │                       │  deadline passes ──► FAILED (nothing served before: CREATE_FAILED), or
//!    │                       │                      ROLLBACK_IN_PROGRESS ──new instances gone──► ROLLBACK_SUCCEEDED
//!    └───────────────────────┴─ a delete is queued behind it ──► FAILED (cancelled; an image step ends too)
//! ```
//!
//! A pause stops every instance (PAUSED), a resume deploys the revision that served last, a delete stops
//! every instance, marks the service DELETED and takes its route away. Each end of an operation is one
//! transaction with its last log lines and what it changes (the serving revision, the service's status).

use std::sync::Arc;
use std::time::Duration;

use ferry_model::{
    Instance, Operation, OperationId, OperationStatus, OperationType, Revision, Service, ServiceId,
    ServiceStatus, Timestamp,
};
use ferry_plan::deploy::{AfterFailure, after_failure, deadline};
use ferry_plan::prune::{ImageUse, prunable};
use ferry_plan::reconcile::Deploy;
use ferry_plan::{Action, Goal};
use ferry_runtime::ContainerInfo;
use ferry_store::{Db, StoreError};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fleet::Fleet;
use super::images::{self, ImageError};
use super::inbox::{Inbox, Mailbox, Msg};
use super::oplog::OpLog;
use super::revisions::Revisions;
use super::route::Route;
use super::scaler::Scaler;
use super::shared::{Context, Shared};
use crate::Error;
use crate::logs::NewLine;
use crate::requests::RequestSink;
use crate::routes::Exposure;

/// What the loop does after a reconcile.
enum Step {
    /// Reconcile again at once: the state moved on (an operation started, ended or changed phase).
    Again,
    /// Wait for a message, a resync, or this time.
    WaitUntil(Option<Timestamp>),
    /// The service is gone; end the controller.
    Exit,
}

/// What a deploying operation wants next.
enum Next {
    Goal(Goal),
    /// The operation ended or moved on: reconcile again.
    Again,
}

/// A running pull or build of one operation's revision.
struct ImageStep {
    op: OperationId,
    task: JoinHandle<Result<Revision, ImageError>>,
}

impl Drop for ImageStep {
    fn drop(&mut self) {
        // A step nobody waits for any more (its operation ended, the controller is going) ends with it; a
        // build ends when its future is dropped.
        self.task.abort();
    }
}

/// Tells the controller each time the router starts holding requests for the service, for as long as the
/// controller lives.
fn listen_for_demand(waiting: Arc<ferry_router::Waiting>, inbox: super::inbox::Inbox) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = waiting.demanded() => {}
                // The controller is gone (the service was deleted, the server stops).
                () = inbox.closed() => return,
            }
            if !inbox.send(Msg::Demand).await {
                return;
            }
        }
    });
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
    /// When the next periodic look at every container is due, whatever wakes the controller meanwhile.
    next_resync: Instant,
    /// The operation this controller started, as it started it: the store may not have taken the write
    /// yet (another process holding the database), and the operation must not start twice.
    started: Option<Operation>,
    /// An operation's image being pulled or built.
    image_step: Option<ImageStep>,
    /// The operation whose revision's image is known to be on the engine.
    image_ready: Option<OperationId>,
    /// How many instances the load wants.
    scaler: Scaler,
    /// The service has served and should again: with no ready instance, the router holds its requests
    /// (scaled to zero, an instance being replaced) instead of refusing them.
    expected: bool,
    /// What is counted of the service (its requests, ready instances, deployments).
    metrics: Arc<crate::metrics::Entry>,
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
        let scaler = Scaler::new(id.clone(), shared.settings.hold, shared.settings.scaling.clone());
        listen_for_demand(scaler.signals().waiting, inbox.clone());
        let metrics = shared.metrics.service(&id);
        let mut this = Self {
            scaler,
            expected: false,
            fleet: Fleet::new(id.clone(), shared.clone(), inbox),
            revisions: Revisions::new(id.clone(), shared.store.clone()),
            route: Route::new(id.clone(), metrics.metrics()),
            metrics,
            log: OpLog::new(shared.store.clone(), shared.clock.clone()),
            next_resync: Instant::now() + shared.settings.resync,
            id,
            shared,
            mailbox,
            name: String::new(),
            paused: false,
            resync_due: false,
            started: None,
            image_step: None,
            image_ready: None,
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
            this.fleet.adopt(row, container, check);
        }
        this.publish();
        this
    }

    fn learn(&mut self, service: &Service) {
        self.name = service.name.to_string();
        self.log.set_service(&self.name);
        self.scaler.set_name(&self.name);
        self.metrics.set_name(&self.name);
        let host = format!("{}.{}", service.name.host_label(), self.shared.settings.domain);
        let spec = &service.spec;
        let exposure =
            Exposure { private: spec.private, https_redirect: spec.https_redirect, hsts: spec.hsts_max_age };
        self.route.set(&self.name, vec![host], exposure);
        let (logs, shutdown) = (&self.shared.logs, &self.shared.shutdown);
        self.route.set_request_logs(spec.request_logs, || {
            let file = logs.request_file(&self.id);
            RequestSink::start(spec.request_logs, self.name.clone(), file, shutdown.clone())
        });
        if service.status == ServiceStatus::Paused {
            self.paused = true;
        }
    }

    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    pub(super) async fn run(mut self) {
        let shutdown = self.shared.shutdown.clone();
        let mut gone = false;
        'run: loop {
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
                Step::Exit => {
                    gone = true;
                    break;
                }
                Step::Again => continue,
                Step::WaitUntil(at) => at,
            };
            // The periodic resync keeps its own time: messages that keep coming do not put it off.
            let mut deadline = self.next_resync;
            if let Some(at) = wake {
                let ms = at.millis_since(self.now()) as u64;
                deadline = deadline.min(Instant::now() + Duration::from_millis(ms));
            }
            // Load samples come between reconciles: one that changes nothing wakes nothing else.
            loop {
                let sample = self.scaler.next_sample().filter(|_| self.expected);
                let until = sample.map_or(deadline, |s| s.min(deadline));
                tokio::select! {
                    () = shutdown.cancelled() => break 'run,
                    msg = self.mailbox.recv() => {
                        let Some(msg) = msg else { break 'run };
                        self.handle(msg).await;
                        while let Some(msg) = self.mailbox.try_recv() {
                            self.handle(msg).await;
                        }
                        // An instance that just became ready takes traffic now, and one that failed leaves
                        // the pool now, not after the reconcile that follows.
                        self.publish();
                        break;
                    }
                    () = tokio::time::sleep_until(until) => {}
                }
                if sample.is_some_and(|s| Instant::now() >= s) && self.sample() {
                    break;
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            if self.mailbox.take_missed() || Instant::now() >= self.next_resync {
                self.resync_due = true;
            }
        }
        // Containers keep running when the controller ends (shutdown, or the service is gone after its
        // delete): dropping the instances only ends their health and log tasks, and an image step ends.
        self.image_step = None;
        self.fleet.clear();
        if gone {
            self.shared.metrics.remove(&self.id);
        }
    }

    async fn handle(&mut self, msg: Msg) {
        if matches!(msg, Msg::Resync) {
            self.resync_due = true;
        }
        if matches!(msg, Msg::Demand) {
            let now = self.now();
            self.scaler.demanded(now);
        }
        if self.fleet.handle(msg, &self.log).await {
            // A container went, and with it what kept a retired revision's image.
            self.prune().await;
        }
    }

    /// Publishes the route if it changed, then lets stopping instances (now out of the table) drain.
    fn publish(&mut self) {
        let signals = self.scaler.signals();
        let hold = self.expected.then_some(&signals.waiting);
        self.route.publish(
            &self.shared.routes,
            &self.fleet.ready(),
            &self.revisions,
            self.paused,
            hold,
            signals.capacity.as_ref(),
        );
        self.metrics.set_ready(self.fleet.ready_containers());
        self.fleet.published();
    }

    /// Samples the load; whether the instances wanted changed (each change is a line in the service's log,
    /// beside its instances' own: `ferry logs` shows the decisions with their reasons).
    fn sample(&mut self) -> bool {
        let ready: Vec<_> = self.fleet.ready().into_iter().map(|(_, _, e)| e).collect();
        let now = self.now();
        let Some(line) = self.scaler.sample(&ready, now, &self.shared.store) else { return false };
        let (shared, id) = (self.shared.clone(), self.id.clone());
        tokio::spawn(async move {
            let line = NewLine { at: now, instance: "ferry".to_owned(), stream: "scaling", line };
            shared.logs.append(&id, vec![line]).await;
        });
        true
    }

    async fn reconcile(&mut self) -> Result<Step, Error> {
        if std::mem::take(&mut self.resync_due) {
            self.fleet.resync(&self.log).await;
            self.next_resync = Instant::now() + self.shared.settings.resync;
        }
        self.fleet.retry_stops();
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
        self.expected = service.active_revision.is_some()
            && matches!(service.status, ServiceStatus::Running | ServiceStatus::OperationInProgress);
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
                // A pull or build under way for it ends too.
                self.image_step = None;
                self.fail(op, "cancelled: the service is being deleted").await?;
                return Ok(Step::Again);
            }
            Some(op) if op.status == OperationStatus::RollbackInProgress => {
                match self.rollback_goal(&service, op).await? {
                    Some(goal) => goal,
                    None => return Ok(Step::Again),
                }
            }
            Some(op) if op.deploys() => match self.deploy_goal(&service, op).await? {
                Next::Goal(goal) => goal,
                Next::Again => return Ok(Step::Again),
            },
            Some(op) if op.kind == OperationType::PauseService => {
                self.begin(op);
                self.paused = true;
                Goal::Stop
            }
            Some(op) if op.kind == OperationType::DeleteService => {
                self.begin(op);
                Goal::Stop
            }
            Some(op) => {
                self.fail(op, &format!("{} is not supported by this ferry", op.kind)).await?;
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
                    self.fleet.stop(&id, reason);
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
        let now = self.now();
        self.scaler.follow(&revision.spec, now);
        Ok(self.serving_goal(&revision))
    }

    /// Keep `revision` serving, replacing what fails (with back-off).
    fn serving_goal(&self, revision: &Revision) -> Goal {
        let ready = self.fleet.ready().iter().filter(|(_, n, _)| *n == revision.number).count() as u32;
        Goal::Run {
            revision: revision.number,
            count: self.scaler.serving(&revision.spec, ready),
            deploy: None,
            start_not_before: self.fleet.start_not_before(self.now()),
        }
    }

    /// Marks a pending operation started (queued for the store, in order with its log); returns it as it is
    /// now.
    fn begin(&mut self, op: &Operation) -> Operation {
        if let Some(started) =
            self.started.as_ref().filter(|s| s.id == op.id && op.status == OperationStatus::Pending)
        {
            // Started already; the store has not taken the write yet.
            let started = started.clone();
            self.log.follow(Some(&started));
            return started;
        }
        if op.status != OperationStatus::Pending {
            self.log.follow(Some(op));
            return op.clone();
        }
        let now = self.now();
        let started = Operation {
            status: OperationStatus::InProgress,
            started_at: Some(now),
            updated_at: now,
            ..op.clone()
        };
        let write = started.clone();
        self.shared.store.submit("record an operation's start", move |db| db.update_operation(&write));
        self.started = Some(started.clone());
        self.log.follow(Some(&started));
        let what = match op.kind {
            OperationType::DeleteService => "Deletion",
            OperationType::PauseService => "Pause",
            _ => "Deployment",
        };
        let trigger = op.trigger.event(op.kind);
        self.log.event(&op.id, &format!("{what} with ID : {} started. Triggering event : {trigger}", op.id));
        started
    }

    /// Moves `op` to `status` (with `error` unless it succeeded), writing `lines` to its log and doing `also`
    /// in the same transaction: a retry after a failed write repeats none of it.
    async fn finish(
        &mut self,
        op: &Operation,
        status: OperationStatus,
        error: &str,
        lines: Vec<String>,
        also: impl FnOnce(&mut Db) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), Error> {
        let now = self.now();
        let mut moved = op.clone();
        moved.status = status;
        moved.updated_at = now;
        if status.is_terminal() {
            moved.ended_at = Some(now);
        }
        if !status.is_success() {
            moved.error = Some(error.to_owned());
        }
        for line in &lines {
            self.log.trace(&op.id, line);
        }
        self.shared
            .store
            .call(move |db| {
                db.transaction(|db| {
                    for line in &lines {
                        db.append_event(&moved.id, now, line)?;
                    }
                    also(db)?;
                    db.update_operation(&moved)
                })
            })
            .await?;
        if status.is_terminal() {
            if op.deploys() {
                self.metrics.deployment_ended(status);
            }
            self.log.follow(None);
            let _ = self.shared.ended.try_send(self.id.clone());
        }
        Ok(())
    }

    /// Fails `op` with `why`, said in its log too.
    async fn fail(&mut self, op: &Operation, why: &str) -> Result<(), Error> {
        self.finish(op, OperationStatus::Failed, why, vec![why.to_owned()], |_| Ok(())).await
    }

    /// The goal of a deploying operation: its revision, once its image is on the engine; meanwhile what
    /// serves keeps serving.
    async fn deploy_goal(&mut self, service: &Service, op: &Operation) -> Result<Next, Error> {
        if op.status == OperationStatus::Pending
            && service.status == ServiceStatus::Paused
            && op.kind != OperationType::ResumeService
        {
            self.fail(op, &format!("service {} is paused: resume it first", service.name)).await?;
            return Ok(Next::Again);
        }
        let op = self.begin(op);
        if op.kind == OperationType::ResumeService {
            self.paused = false;
        }
        let Some(number) = op.revision else {
            self.fail(&op, "the operation names no revision to deploy").await?;
            return Ok(Next::Again);
        };
        let Some(revision) = self.revisions.get(number).await? else {
            self.fail(&op, &format!("revision {number} is missing")).await?;
            return Ok(Next::Again);
        };
        // An image already on the engine (a rollback, a resume, a redeploy of a pinned digest) needs no
        // step: one bounded engine call here says so.
        if self.image_ready.as_ref() != Some(&op.id)
            && self.image_step.as_ref().is_none_or(|s| s.op != op.id)
            && let Some(id) = revision.image_id.as_deref().filter(|_| !revision.image_pruned)
            && self.shared.runtime.image_exists(id).await.unwrap_or(false)
        {
            self.image_ready = Some(op.id.clone());
        }
        if self.image_ready.as_ref() != Some(&op.id) {
            match self.image_step.take() {
                Some(mut step) if step.op == op.id && step.task.is_finished() => {
                    let result = (&mut step.task)
                        .await
                        .map_err(|e| Error::Internal(format!("an image step ended abnormally: {e}")))?;
                    match result {
                        Ok(r) => {
                            self.revisions.put(r);
                            self.image_ready = Some(op.id.clone());
                        }
                        Err(reason) => {
                            self.deploy_failed(service, &op, &reason.to_string()).await?;
                            return Ok(Next::Again);
                        }
                    }
                }
                Some(step) if step.op == op.id => {
                    self.image_step = Some(step);
                    return Ok(Next::Goal(self.holding_goal(service).await?));
                }
                // None, or a step of an operation that has ended: this one's starts.
                _ => {
                    self.start_image_step(&op, revision);
                    return Ok(Next::Goal(self.holding_goal(service).await?));
                }
            }
        }
        let Some(revision) = self.revisions.cached(number).cloned() else {
            return Err(Error::Internal(format!("revision {number} of {} left the cache", self.name)));
        };
        if let Some(reason) = super::secrets::missing(&self.shared.store, &revision).await? {
            self.deploy_failed(service, &op, &reason).await?;
            return Ok(Next::Again);
        }
        let started = op.started_at.unwrap_or_else(|| self.now());
        let timeout = self.shared.settings.deploy_timeout.as_millis() as i64;
        let grace = revision.spec.health_check.grace_period;
        Ok(Next::Goal(Goal::Run {
            revision: number,
            count: self.scaler.deploying(&revision.spec),
            deploy: Some(Deploy { deadline: deadline(started, timeout, grace) }),
            start_not_before: None,
        }))
    }

    /// Pulls or builds the operation's revision's image in a task of its own, which wakes the controller
    /// when it is done.
    fn start_image_step(&mut self, op: &Operation, revision: Revision) {
        let cx = Context {
            shared: self.shared.clone(),
            service: self.id.clone(),
            name: self.name.clone(),
            log: self.log.clone(),
            op: op.id.clone(),
        };
        let inbox = self.fleet.inbox();
        let task = tokio::spawn(async move {
            let result = images::ensure_image(&cx, revision).await;
            inbox.send(Msg::Nudge).await;
            result
        });
        self.image_step = Some(ImageStep { op: op.id.clone(), task });
    }

    /// While an operation's image is pulled or built: what serves keeps serving (failed instances of it are
    /// replaced); a service with nothing serving stays as it is.
    async fn holding_goal(&mut self, service: &Service) -> Result<Goal, Error> {
        let serving = match service.active_revision {
            Some(n) if !self.paused && self.fleet.runs(n) => self.revisions.get(n).await?,
            _ => None,
        };
        Ok(match serving {
            Some(revision) => self.serving_goal(&revision),
            None => Goal::Hold,
        })
    }

    async fn deploy_succeeded(&mut self, op: &Operation) -> Result<(), Error> {
        let now = self.now();
        let mut lines = Vec::new();
        if let Some(n) = op.revision {
            lines.push(format!("Health check is successful. Routing traffic to revision {n}."));
        }
        lines.push("Deployment completed successfully.".to_owned());
        lines.push("Service status is set to RUNNING.".to_owned());
        let (id, op_id, revision) = (self.id.clone(), op.id.clone(), op.revision);
        self.finish(op, OperationStatus::Succeeded, "", lines, move |db| {
            if let Some(n) = revision {
                db.activate_revision(&id, n, now)?;
                db.settle_spec(&id, n, &op_id)?;
            }
            db.set_service_status(&id, ServiceStatus::Running, now)
        })
        .await?;
        self.paused = false;
        self.image_ready = None;
        self.prune().await;
        Ok(())
    }

    async fn deploy_failed(&mut self, service: &Service, op: &Operation, reason: &str) -> Result<(), Error> {
        let mut lines = vec![format!("Deployment failed: {reason}")];
        lines.extend(self.failed_instances_lines(op).await);
        let (id, op_id, now) = (self.id.clone(), op.id.clone(), self.now());
        self.image_ready = None;
        match after_failure(op.kind, service.active_revision, op.revision) {
            AfterFailure::Fail { status } => {
                self.paused = status == ServiceStatus::Paused;
                lines.push(format!("Deployment with ID : {} failed.", op.id));
                lines.push(format!("Service status is set to {status}."));
                self.finish(op, OperationStatus::Failed, reason, lines, move |db| {
                    db.set_service_status(&id, status, now)
                })
                .await
            }
            AfterFailure::RollBack { to } => {
                lines.push(format!("Rolling back: revision {to} keeps serving; removing the new instances."));
                self.finish(op, OperationStatus::RollbackInProgress, reason, lines, move |db| {
                    db.settle_spec(&id, to, &op_id)
                })
                .await
            }
        }
    }

    /// The goal while a failed deployment rolls back: the serving revision, as in steady state, which
    /// retires the new one's instances. `None` once they are all gone and the rollback is over.
    async fn rollback_goal(&mut self, service: &Service, op: &Operation) -> Result<Option<Goal>, Error> {
        let reason = op.error.clone().unwrap_or_default();
        let Some(active) = service.active_revision else {
            self.finish(op, OperationStatus::RollbackFailed, &reason, Vec::new(), |_| Ok(())).await?;
            return Ok(None);
        };
        self.log.follow(Some(op));
        if !op.revision.is_some_and(|n| self.fleet.runs(n)) {
            let line =
                format!("Rollback completed: revision {active} serves. Service status is set to RUNNING.");
            let (id, now) = (self.id.clone(), self.now());
            self.finish(op, OperationStatus::RollbackSucceeded, &reason, vec![line], move |db| {
                db.set_service_status(&id, ServiceStatus::Running, now)
            })
            .await?;
            return Ok(None);
        }
        let Some(revision) = self.revisions.get(active).await? else {
            return Err(Error::Internal(format!("the serving revision {active} is missing")));
        };
        Ok(Some(Goal::Run {
            revision: active,
            count: self.scaler.deploying(&revision.spec),
            deploy: None,
            start_not_before: None,
        }))
    }

    /// The failing instances' details and last log lines, for the operation's log, read before their
    /// containers are removed.
    async fn failed_instances_lines(&mut self, op: &Operation) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(revision) = op.revision else { return lines };
        for (id, container, detail) in self.fleet.failed(revision) {
            if let Some(detail) = detail {
                lines.push(format!("Instance {id}: {detail}"));
            }
            let Some(container) = container else { continue };
            match self.shared.runtime.tail_logs(&container, 20).await {
                Ok(tail) if tail.is_empty() => {
                    lines.push(format!("Instance {id} wrote nothing to stdout or stderr."))
                }
                Ok(tail) => {
                    lines.push(format!("Last lines written by instance {id}:"));
                    lines.extend(tail.iter().map(|l| format!("  {} | {}", l.stream.as_str(), l.line)));
                }
                Err(e) => lines.push(format!("The logs of instance {id} cannot be read: {e}")),
            }
        }
        lines
    }

    async fn paused_done(&mut self, op: &Operation) -> Result<(), Error> {
        let line = "All instances stopped. Service status is set to PAUSED.".to_owned();
        let (id, now) = (self.id.clone(), self.now());
        self.finish(op, OperationStatus::Succeeded, "", vec![line], move |db| {
            db.set_service_status(&id, ServiceStatus::Paused, now)
        })
        .await
    }

    async fn deleted(&mut self, op: &Operation) -> Result<(), Error> {
        let (id, now) = (self.id.clone(), self.now());
        self.finish(op, OperationStatus::Succeeded, "", vec!["Service deleted.".to_owned()], move |db| {
            db.mark_deleted(&id, now)
        })
        .await?;
        self.route.unpublish(&self.shared.routes);
        self.shared.logs.remove(&self.id).await;
        // Every instance is gone: the service's network can go too (or at the next start, if not now).
        if let Err(e) = self.shared.runtime.release_service(&self.id).await {
            tracing::warn!(service = %self.id, error = %e, "cannot release a deleted service's network");
        }
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
                self.shared
                    .store
                    .submit("record a pruned image", move |db| db.set_image_pruned(&service, number, true));
            }
        }
    }
}
