//! Pushes: a new commit on a watched branch, or a new digest under a watched tag.
//!
//! A push is recorded as the newest version seen of the service's source, in the same transaction that
//! decides whether it deploys now (`ferry_plan::autodeploy`). While another operation of the service is
//! queued or running, nothing more happens: when the service's operations end, the control plane calls
//! [`Commands::catch_up`], which deploys whatever was seen last. Three pushes during one deployment thus
//! make one more deployment, of the third, and none is lost or run out of order.

use ferry_model::{
    Operation, OperationId, OperationType, Revision, Seen, Service, ServiceId, ServiceStatus, Source,
    SourceVersion, Timestamp, Trigger, ValidationError,
};
use ferry_plan::autodeploy::{Decision, Watched, decide};
use ferry_store::{Db, StoreError};

use crate::{CommandError, Commands, Outcome, Target, apply};

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// A deployment of it was queued.
    Deploying(Box<Outcome>),
    /// It deploys when the service's current operation ends (unless a newer push comes first).
    Waiting { behind: OperationId },
    /// The service's newest revision already has it, or something newer (a deployment asked for by hand
    /// after it was seen).
    Current,
    /// Automatic deployments are off for the service: it is recorded, not deployed.
    Off,
    /// The service takes no deployment in its state: it is recorded, and deploys once the service is
    /// running again.
    NotNow(ServiceStatus),
}

impl Commands {
    /// `seen` is the newest version of the service's watched source: records it, and deploys it if the
    /// service is idle and lacks it.
    pub async fn source_changed(&self, service: ServiceId, seen: Seen) -> Result<PushOutcome, CommandError> {
        self.run_push(service, Some(seen)).await
    }

    /// Deploys the newest version seen of the service's source, if the service is idle and lacks it. The
    /// control plane calls it whenever a service's operations end.
    pub async fn catch_up(&self, service: ServiceId) -> Result<PushOutcome, CommandError> {
        self.run_push(service, None).await
    }

    async fn run_push(&self, service: ServiceId, seen: Option<Seen>) -> Result<PushOutcome, CommandError> {
        let now = Timestamp::now();
        let (store, dispatch) = (self.store.clone(), self.dispatch.clone());
        let work = tokio::spawn(async move {
            let outcome = store.call(move |db| db.transaction(|db| push(db, &service, seen, now))).await?;
            if let PushOutcome::Deploying(o) = &outcome {
                tracing::info!(
                    service = %o.service.name, operation = %o.operation.id,
                    trigger = o.operation.trigger.encode(), "push deploying"
                );
                dispatch.queued(&o.service.id);
            }
            Ok(outcome)
        });
        work.await.map_err(|e| CommandError::Store(StoreError::Unavailable(e.to_string())))?
    }
}

fn push(
    db: &mut Db,
    id: &ServiceId,
    seen: Option<Seen>,
    now: Timestamp,
) -> Result<PushOutcome, CommandError> {
    let service = apply::find(db, &Target::Id(id.clone()))?;
    if let Some(seen) = &seen {
        check_kind(&service.spec.source, &seen.version).map_err(CommandError::Invalid)?;
        db.record_seen(id, seen)?;
    }
    let Some(seen) = seen.or(db.watch(id)?.seen) else {
        return Ok(PushOutcome::Current);
    };
    let newest = newest_version(db, id, &seen)?;
    let unfinished = db.unfinished_operations(id)?;
    let watched = Watched {
        auto_deploy: service.spec.source.auto_deploy(),
        status: service.status,
        busy: !unfinished.is_empty(),
        newest: newest.as_ref(),
        seen: &seen.version,
    };
    match decide(&watched) {
        Decision::Deploy => deploy(db, service, seen, now).map(|o| PushOutcome::Deploying(Box::new(o))),
        Decision::Wait => Ok(PushOutcome::Waiting { behind: unfinished[0].id.clone() }),
        Decision::Current => Ok(PushOutcome::Current),
        Decision::Off => Ok(PushOutcome::Off),
        Decision::NotNow(status) => Ok(PushOutcome::NotNow(status)),
    }
}

/// How many of a service's newest operations are looked through for the one that made a revision.
const RECENT_OPERATIONS: usize = 100;

/// What the service's newest revision has of its watched source, as far as `seen` goes. A revision that
/// something other than a push made after `seen` was recorded (a deployment or an update asked for by
/// hand) resolves the branch or tag anew when it runs: it has `seen` or something newer, so it counts as
/// having `seen`, and a catch-up as it ends does not go back to `seen`.
fn newest_version(db: &Db, id: &ServiceId, seen: &Seen) -> Result<Option<SourceVersion>, StoreError> {
    let Some(newest) = db.revisions(id)?.into_iter().next() else { return Ok(None) };
    if newest.created_at > seen.at {
        let pushed = db.operations(id, RECENT_OPERATIONS)?.iter().any(|o| {
            o.revision == Some(newest.number)
                && matches!(o.trigger, Trigger::GitPush { .. } | Trigger::ImagePush { .. })
        });
        if !pushed {
            return Ok(Some(seen.version.clone()));
        }
    }
    Ok(newest.source_version())
}

/// A commit is for a code source, a digest for an image.
fn check_kind(source: &Source, version: &SourceVersion) -> Result<(), ValidationError> {
    match (source, version) {
        (Source::Code(_), SourceVersion::Commit(_)) | (Source::Image(_), SourceVersion::Digest(_)) => Ok(()),
        (source, version) => Err(ValidationError::new(
            "version",
            format!("{version} does not fit a service whose source is a {}", source.kind()),
        )),
    }
}

/// A new revision of the desired spec, pinned at the pushed version, deployed as `StartDeployment`.
fn deploy(db: &mut Db, service: Service, seen: Seen, now: Timestamp) -> Result<Outcome, CommandError> {
    let service = apply::admitted(db, &Target::Id(service.id.clone()), OperationType::StartDeployment)?;
    let number = db.next_revision_number(&service.id)?;
    let mut revision = Revision::new(service.id.clone(), number, service.spec.clone(), now);
    let trigger = match seen.version {
        SourceVersion::Commit(commit) => {
            revision.source_commit = Some(commit.clone());
            Trigger::GitPush { commit, author: seen.author, subject: seen.subject, via: seen.via }
        }
        SourceVersion::Digest(digest) => {
            revision.image_digest = Some(digest.clone());
            Trigger::ImagePush { digest, via: seen.via }
        }
    };
    db.insert_revision(&revision)?;
    let op =
        Operation::queued(service.id.clone(), OperationType::StartDeployment, Some(number), trigger, now);
    apply::queue(db, service, op, now)
}
