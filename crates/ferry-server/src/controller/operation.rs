//! What each operation means for a service, from its first step to its end.
//!
//! LIFECYCLE of an operation:
//!
//! ```text
//! PENDING ─(its turn: oldest unfinished of the service)─► IN_PROGRESS ─► SUCCEEDED
//!                                                            │
//!                        deploying, and an older revision    ├─► ROLLBACK_IN_PROGRESS ─► ROLLBACK_SUCCEEDED
//!                        served before: it keeps serving     │
//!                                                            └─► FAILED (create, resume, nothing to go back to)
//! ```
//!
//! A deployment (create, update, deploy, rollback, resume) brings up a revision beside whatever serves;
//! the old instances leave only once every new one is ready. If the new revision cannot come up (an
//! instance exits, fails its health check, or the deadline passes), its instances are removed and the
//! revision that served keeps serving. Every step is written to the operation's log with App Runner's
//! wording, and the failing instances' last log lines with it.

use ferry_model::{
    InstanceId, InstanceState, Operation, OperationStatus, OperationType, Revision, Service, ServiceStatus,
    Source, Timestamp,
};
use ferry_plan::Goal;
use ferry_plan::reconcile::Deploy;

use super::service::ServiceController;
use crate::Error;

impl ServiceController {
    /// Moves a pending operation to IN_PROGRESS (once) and returns it as it now is.
    pub(super) fn begin(&mut self, op: &Operation) -> Result<Operation, Error> {
        if op.status != OperationStatus::Pending {
            return Ok(op.clone());
        }
        let now = Timestamp::now();
        let mut op = op.clone();
        op.status = OperationStatus::InProgress;
        op.started_at = Some(now);
        op.updated_at = now;
        self.shared.store.update_operation(&op)?;
        self.shared.store.set_service_status(&self.id, ServiceStatus::OperationInProgress, now)?;
        self.current_op = Some(op.clone());
        let what = match op.kind {
            OperationType::DeleteService => "Deletion",
            OperationType::PauseService => "Pause",
            _ => "Deployment",
        };
        let trigger = op.trigger.clone().unwrap_or_else(|| op.kind.to_string());
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
            Some(op) if !op.status.is_terminal() && op.status != OperationStatus::Pending => {
                self.event(op, message)
            }
            _ => tracing::info!(service = %self.service_name, "{message}"),
        }
    }

    /// Ends an operation; `log` also writes `error` to its log.
    pub(super) fn end_operation(
        &mut self,
        op: &Operation,
        status: OperationStatus,
        error: &str,
        log: bool,
    ) -> Result<(), Error> {
        let now = Timestamp::now();
        let mut op = op.clone();
        op.status = status;
        op.ended_at = Some(now);
        op.updated_at = now;
        if !status.is_success() {
            op.error = Some(error.to_owned());
            if log {
                self.event(&op, error);
            }
        }
        self.shared.store.update_operation(&op)?;
        self.current_op = None;
        Ok(())
    }

    /// The goal of a deploying operation, after making sure its image is on the engine; `None` when the
    /// operation ended instead.
    pub(super) async fn deploy_goal(
        &mut self,
        service: &Service,
        op: &Operation,
    ) -> Result<Option<Goal>, Error> {
        if op.status == OperationStatus::Pending
            && service.status == ServiceStatus::Paused
            && op.kind != OperationType::ResumeService
        {
            let why = format!("service {} is paused: resume it first", service.name);
            self.end_operation(op, OperationStatus::Failed, &why, true)?;
            return Ok(None);
        }
        let op = self.begin(op)?;
        if op.kind == OperationType::ResumeService {
            self.paused = false;
        }
        let Some(number) = op.revision else {
            self.end_operation(
                &op,
                OperationStatus::Failed,
                "the operation names no revision to deploy",
                true,
            )?;
            return Ok(None);
        };
        let Some(revision) = self.revision(number)? else {
            self.end_operation(&op, OperationStatus::Failed, &format!("revision {number} is missing"), true)?;
            return Ok(None);
        };
        let revision = match self.ensure_image(&op, revision).await? {
            Ok(r) => r,
            Err(reason) => {
                self.deploy_failed(service, &op, &reason).await?;
                return Ok(None);
            }
        };
        let started = op.started_at.unwrap_or_else(Timestamp::now);
        let grace = i64::from(revision.spec.health_check.grace_period) * 1000;
        let timeout = self.shared.settings.deploy_timeout.as_millis() as i64;
        Ok(Some(Goal::Run {
            revision: number,
            count: revision.spec.instances,
            deploy: Some(Deploy { deadline: started.plus_millis(timeout + grace) }),
            start_not_before: None,
        }))
    }

    /// The image a revision runs, on the engine: for an image source pulled by tag for a new revision
    /// (resolving it) and again by digest for one whose image was pruned or removed; for a code source
    /// built (again at its recorded commit, or pulled from the build registry when it was pushed there).
    async fn ensure_image(
        &mut self,
        op: &Operation,
        revision: Revision,
    ) -> Result<Result<Revision, String>, Error> {
        if let Some(id) = &revision.image_id
            && !revision.image_pruned
            && self.shared.runtime.image_exists(id).await.unwrap_or(true)
        {
            return Ok(Ok(revision));
        }
        let source = match &revision.spec.source {
            Source::Image(source) => source.clone(),
            Source::Code(_) => {
                let pushed = revision.build.as_ref().zip(revision.image_digest.as_ref());
                if let Some((build, digest)) = pushed
                    && let Ok(image) = ferry_model::ImageRef::parse(&build.image)
                {
                    let reference = image.with_digest(digest);
                    return self.pull(op, revision.clone(), reference, None).await;
                }
                return self.build_revision(op, revision).await;
            }
        };
        let reference = match &revision.image_digest {
            Some(digest) => source.image.with_digest(digest),
            None if revision.image_id.is_some() => {
                return Ok(Err(format!(
                    "the image of revision {} is no longer on the engine and has no registry digest to pull it by",
                    revision.number
                )));
            }
            None => source.image.clone(),
        };
        self.pull(op, revision, reference, source.credentials.clone()).await
    }

    async fn pull(
        &mut self,
        op: &Operation,
        revision: Revision,
        reference: ferry_model::ImageRef,
        credentials: Option<ferry_model::RegistryCredentials>,
    ) -> Result<Result<Revision, String>, Error> {
        self.event(op, &format!("Pulling image {reference}"));
        let store = self.shared.store.clone();
        let op_id = op.id.clone();
        let progress = move |line: &str| {
            let _ = store.append_event(&op_id, Timestamp::now(), line);
        };
        let pull = self.shared.runtime.pull(&reference, credentials.as_ref(), &progress);
        let pulled = match tokio::time::timeout(self.shared.settings.deploy_timeout, pull).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Ok(Err(e.to_string())),
            Err(_) => return Ok(Err(format!("pulling {reference} took longer than the deployment timeout"))),
        };
        let digest = revision.image_digest.clone().or(pulled.digest);
        self.shared.store.set_revision_image(
            &self.id,
            revision.number,
            digest.as_deref(),
            &pulled.image_id,
        )?;
        self.shared.store.set_image_pruned(&self.id, revision.number, false)?;
        let shown = digest.as_deref().unwrap_or(&pulled.image_id);
        self.event(op, &format!("Successfully pulled image {reference} ({shown})"));
        let revision = Revision {
            image_digest: digest,
            image_id: Some(pulled.image_id),
            image_pruned: false,
            ..revision
        };
        self.revisions.insert(revision.number, revision.clone());
        Ok(Ok(revision))
    }

    pub(super) async fn deploy_succeeded(&mut self, op: &Operation) -> Result<(), Error> {
        let now = Timestamp::now();
        if let Some(n) = op.revision {
            self.shared.store.activate_revision(&self.id, n, now)?;
            self.event(op, &format!("Health check is successful. Routing traffic to revision {n}."));
        }
        self.shared.store.set_service_status(&self.id, ServiceStatus::Running, now)?;
        self.paused = false;
        self.event(op, "Deployment completed successfully.");
        self.event(op, "Service status is set to RUNNING.");
        self.end_operation(op, OperationStatus::Succeeded, "", false)?;
        self.prune_images().await;
        Ok(())
    }

    pub(super) async fn deploy_failed(
        &mut self,
        service: &Service,
        op: &Operation,
        reason: &str,
    ) -> Result<(), Error> {
        self.event(op, &format!("Deployment failed: {reason}"));
        self.log_failed_instances(op).await;
        let fallback = service.active_revision.filter(|active| Some(*active) != op.revision);
        match (op.kind, fallback) {
            (OperationType::CreateService, _) | (_, None) => {
                let status = match op.kind {
                    OperationType::ResumeService => ServiceStatus::Paused,
                    _ if service.active_revision.is_none() => ServiceStatus::CreateFailed,
                    _ => ServiceStatus::Running,
                };
                self.paused = status == ServiceStatus::Paused;
                self.shared.store.set_service_status(&self.id, status, Timestamp::now())?;
                self.event(op, &format!("Deployment with ID : {} failed.", op.id));
                self.event(op, &format!("Service status is set to {status}."));
                self.end_operation(op, OperationStatus::Failed, reason, false)
            }
            (_, Some(active)) => {
                let mut op = op.clone();
                op.status = OperationStatus::RollbackInProgress;
                op.error = Some(reason.to_owned());
                op.updated_at = Timestamp::now();
                self.shared.store.update_operation(&op)?;
                self.shared.store.reset_spec_to(&self.id, active)?;
                self.current_op = Some(op.clone());
                self.event(
                    &op,
                    &format!("Rolling back: revision {active} keeps serving; removing the new instances."),
                );
                Ok(())
            }
        }
    }

    /// The goal while a failed deployment rolls back: the serving revision, as in steady state, which
    /// retires the new one's instances. `None` once they are all gone and the rollback is over.
    pub(super) fn rollback_goal(&mut self, service: &Service, op: &Operation) -> Result<Option<Goal>, Error> {
        let Some(active) = service.active_revision else {
            let reason = op.error.clone().unwrap_or_default();
            self.end_operation(op, OperationStatus::RollbackFailed, &reason, false)?;
            return Ok(None);
        };
        let left = self.instances.values().any(|l| Some(l.record.revision) == op.revision);
        if !left {
            let now = Timestamp::now();
            self.shared.store.set_service_status(&self.id, ServiceStatus::Running, now)?;
            self.event(
                op,
                &format!("Rollback completed: revision {active} serves. Service status is set to RUNNING."),
            );
            let reason = op.error.clone().unwrap_or_default();
            self.end_operation(op, OperationStatus::RollbackSucceeded, &reason, false)?;
            return Ok(None);
        }
        let Some(revision) = self.revision(active)? else {
            return Err(Error::Internal(format!("the serving revision {active} is missing")));
        };
        Ok(Some(Goal::Run {
            revision: active,
            count: revision.spec.instances,
            deploy: None,
            start_not_before: None,
        }))
    }

    /// Writes the failing instances' details and last log lines to the operation's log, before their
    /// containers are removed.
    async fn log_failed_instances(&mut self, op: &Operation) {
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
                    self.event(op, &format!("Instance {id} wrote nothing to stdout or stderr."));
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
    }

    pub(super) fn paused_done(&mut self, op: &Operation) -> Result<(), Error> {
        self.shared.store.set_service_status(&self.id, ServiceStatus::Paused, Timestamp::now())?;
        self.event(op, "All instances stopped. Service status is set to PAUSED.");
        self.end_operation(op, OperationStatus::Succeeded, "", false)
    }

    pub(super) async fn deleted(&mut self, op: &Operation) -> Result<(), Error> {
        self.shared.store.mark_deleted(&self.id, Timestamp::now())?;
        self.shared.logs.remove(&self.id);
        let checkout = self.shared.settings.data_dir.join("git").join(self.id.as_str());
        if let Err(e) = std::fs::remove_dir_all(&checkout)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %checkout.display(), error = %e, "cannot remove a deleted service's checkout");
        }
        self.event(op, "Service deleted.");
        self.end_operation(op, OperationStatus::Succeeded, "", false)?;
        self.unpublish();
        self.prune_images().await;
        Ok(())
    }

    /// Removes the images no kept revision uses (of any service), to keep the disk from filling up.
    pub(super) async fn prune_images(&self) {
        let keep = self.shared.settings.keep_revisions;
        let candidates = match self.shared.store.prunable_images(keep) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list images to prune");
                return;
            }
        };
        for (service, number, image) in candidates {
            match self.shared.runtime.remove_image(&image).await {
                Ok(()) => {
                    tracing::info!(service = %service, revision = number, image = %image, "pruned an old revision's image");
                    let _ = self.shared.store.set_image_pruned(&service, number, true);
                }
                // Still used by a container, or shared with something outside ferry: leave it.
                Err(e) => tracing::debug!(image = %image, error = %e, "image not pruned"),
            }
        }
    }
}
