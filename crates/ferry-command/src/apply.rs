//! Each command as reads and writes inside its transaction.

use ferry_model::{
    Operation, OperationType, Revision, Service, ServiceId, ServiceSpec, ServiceStatus, Timestamp, Trigger,
    ValidationError,
};
use ferry_plan::admission::{Facts, admit};
use ferry_plan::deploy::{RevisionFacts, rollback_target};
use ferry_store::Db;

use crate::{Command, CommandError, Outcome, Target};

pub(crate) fn apply(
    db: &mut Db,
    command: Command,
    trigger: Trigger,
    now: Timestamp,
) -> Result<Outcome, CommandError> {
    match command {
        Command::Create { name, spec } => {
            spec.validate().map_err(CommandError::Invalid)?;
            require_connection(db, &spec, None)?;
            let service = Service {
                id: ServiceId::generate(),
                name,
                status: ServiceStatus::OperationInProgress,
                spec: (*spec).clone(),
                active_revision: None,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            };
            db.insert_service(&service)?;
            let revision = Revision::new(service.id.clone(), 1, *spec, now);
            db.insert_revision(&revision)?;
            let op =
                Operation::queued(service.id.clone(), OperationType::CreateService, Some(1), trigger, now);
            db.insert_operation(&op)?;
            Ok(Outcome { service, operation: op, queued: true })
        }
        Command::Update { service, change } => {
            let service = admitted(db, &service, OperationType::UpdateService)?;
            let spec = change(&service.spec).map_err(CommandError::Invalid)?;
            spec.validate().map_err(CommandError::Invalid)?;
            require_connection(db, &spec, Some(&service.spec))?;
            deploy_new_revision(db, service, spec, OperationType::UpdateService, trigger, now)
        }
        Command::Deploy { service } => {
            let service = admitted(db, &service, OperationType::StartDeployment)?;
            let spec = service.spec.clone();
            deploy_new_revision(db, service, spec, OperationType::StartDeployment, trigger, now)
        }
        Command::Rollback { service, to } => {
            let service = admitted(db, &service, OperationType::StartDeployment)?;
            let revisions = db.revisions(&service.id)?;
            let facts: Vec<RevisionFacts> = revisions
                .iter()
                .map(|r| RevisionFacts {
                    number: r.number,
                    activated_at: r.activated_at,
                    has_image: r.image_id.is_some() || r.image_digest.is_some(),
                })
                .collect();
            // Judged against what will serve once the queued deployments have run, like every command.
            let serving = db
                .unfinished_operations(&service.id)?
                .iter()
                .rev()
                .find(|o| o.deploys())
                .and_then(|o| o.revision)
                .or(service.active_revision);
            let target = rollback_target(&facts, serving, to).map_err(|reason| {
                CommandError::CannotRollBack { service: service.name.to_string(), reason }
            })?;
            // Later changes build on the revision gone back to.
            let mut service = service;
            if let Some(r) = revisions.into_iter().find(|r| r.number == target) {
                db.set_service_spec(&service.id, &r.spec)?;
                service.spec = r.spec;
            }
            // A rollback is its own trigger, whoever asked for it (App Runner's `ROLLBACK` event).
            let op = Operation::queued(
                service.id.clone(),
                OperationType::StartDeployment,
                Some(target),
                Trigger::Rollback,
                now,
            );
            queue(db, service, op, now)
        }
        Command::Pause { service } => {
            let service = admitted(db, &service, OperationType::PauseService)?;
            let op = Operation::queued(service.id.clone(), OperationType::PauseService, None, trigger, now);
            queue(db, service, op, now)
        }
        Command::Resume { service } => {
            let service = admitted(db, &service, OperationType::ResumeService)?;
            // Brings back the revision that served last.
            let op = Operation::queued(
                service.id.clone(),
                OperationType::ResumeService,
                service.active_revision,
                trigger,
                now,
            );
            queue(db, service, op, now)
        }
        Command::Delete { service } => {
            let service = find(db, &service)?;
            let pending = db
                .unfinished_operations(&service.id)?
                .into_iter()
                .find(|o| o.kind == OperationType::DeleteService);
            if let Some(operation) = pending {
                return Ok(Outcome { service, operation, queued: false });
            }
            let op = Operation::queued(service.id.clone(), OperationType::DeleteService, None, trigger, now);
            queue(db, service, op, now)
        }
    }
}

pub(crate) fn find(db: &Db, target: &Target) -> Result<Service, CommandError> {
    let found = match target {
        Target::Name(name) => db.service_by_name(name)?,
        Target::Id(id) => db.service(id)?.filter(|s| s.deleted_at.is_none()),
    };
    found.ok_or_else(|| {
        CommandError::NoSuchService(match target {
            Target::Name(name) => name.clone(),
            Target::Id(id) => id.to_string(),
        })
    })
}

/// The service, if it takes an operation of `kind` once its queued operations have run.
pub(crate) fn admitted(db: &Db, target: &Target, kind: OperationType) -> Result<Service, CommandError> {
    let service = find(db, target)?;
    let unfinished = db.unfinished_operations(&service.id)?;
    admit(kind, Facts::of(&service, &unfinished))
        .map_err(|reason| CommandError::Refused { service: service.name.to_string(), reason })?;
    Ok(service)
}

fn deploy_new_revision(
    db: &mut Db,
    service: Service,
    spec: ferry_model::ServiceSpec,
    kind: OperationType,
    trigger: Trigger,
    now: Timestamp,
) -> Result<Outcome, CommandError> {
    let number = db.next_revision_number(&service.id)?;
    let revision = Revision::new(service.id.clone(), number, spec, now);
    db.insert_revision(&revision)?;
    db.set_service_spec(&service.id, &revision.spec)?;
    let op = Operation::queued(service.id.clone(), kind, Some(number), trigger, now);
    queue(db, Service { spec: revision.spec, ..service }, op, now)
}

/// Records `op` and sets the service OPERATION_IN_PROGRESS.
pub(crate) fn queue(
    db: &mut Db,
    service: Service,
    op: Operation,
    now: Timestamp,
) -> Result<Outcome, CommandError> {
    db.insert_operation(&op)?;
    db.set_service_status(&service.id, ServiceStatus::OperationInProgress, now)?;
    let service = Service { status: ServiceStatus::OperationInProgress, updated_at: now, ..service };
    Ok(Outcome { service, operation: op, queued: true })
}

/// A code source's connection exists when the command commits, if the command names it anew. Deleting a
/// connection checks its users in a transaction of its own; with this check in the command's, one of the
/// two always sees the other, so no service is left naming a connection that was never there for it.
fn require_connection(
    db: &mut Db,
    spec: &ServiceSpec,
    before: Option<&ServiceSpec>,
) -> Result<(), CommandError> {
    let Some(name) = spec.connection() else { return Ok(()) };
    if before.and_then(ServiceSpec::connection) == Some(name) || db.connection(name)?.is_some() {
        return Ok(());
    }
    Err(CommandError::Invalid(ValidationError::new(
        "connection",
        format!("there is no connection named {name}; make it first (ferry connection create {name})"),
    )))
}
