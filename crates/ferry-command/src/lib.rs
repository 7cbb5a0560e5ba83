//! The command layer: every change to a service enters here, whoever asks for it.
//!
//! The native API's handlers, the hooks host (webhooks, registry notifications) and the watcher call it;
//! the App Runner-compatible API will call it the same way. A [`Command`] says what to change and a [`Trigger`] says what asked.
//! [`Commands::execute`] runs the command as one store transaction that takes the write lock first, reads
//! the service and its unfinished operations, admits the command against the state the service will be in
//! when its turn comes (`ferry_plan::admission`), numbers the revision it makes, and records the operation
//! that will carry it out; then it tells the control plane an operation was queued. Commands on one
//! service are thereby serialised: ten concurrent updates make ten revisions, numbered one after another,
//! each built on the one before, queued in that order.
//!
//! Pushes (a commit on a watched branch, a digest under a watched tag) enter through
//! [`Commands::source_changed`]: recorded as the newest version seen, deployed once the service is idle
//! (`push.rs`).
//!
//! Nothing here touches a container: the controller does the work and writes each step to the operation's
//! log.

use std::sync::Arc;

use ferry_model::{
    Operation, Service, ServiceId, ServiceName, ServiceSpec, Timestamp, Trigger, ValidationError,
};
pub use ferry_plan::admission::Refusal;
pub use ferry_plan::deploy::RollbackRefusal;
use ferry_store::{Store, StoreError};

mod apply;
mod push;

pub use push::PushOutcome;

/// What the command layer needs from the control plane.
pub trait Dispatch: Send + Sync + 'static {
    /// An operation was queued for this service: start working on it.
    fn queued(&self, service: &ServiceId);
}

/// Which service a command is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A live service by name, in any case.
    Name(String),
    /// A service by id (a webhook, a poller, the autoscaler).
    Id(ServiceId),
}

/// A change of configuration: the new spec from the current one. Run inside the command's transaction, so
/// it starts from the newest desired spec, including changes queued a moment before.
pub type SpecChange = Box<dyn FnOnce(&ServiceSpec) -> Result<ServiceSpec, ValidationError> + Send>;

/// A change to a service.
pub enum Command {
    /// A new service, deployed as revision 1.
    Create {
        name: ServiceName,
        spec: Box<ServiceSpec>,
    },
    /// A new revision with the configuration changed (App Runner's `UpdateService`).
    Update {
        service: Target,
        change: SpecChange,
    },
    /// A new revision of the same configuration, its image tag or branch resolved anew (`StartDeployment`).
    Deploy {
        service: Target,
    },
    /// Back to an earlier revision, without a rebuild: `to`, or the one that served before.
    Rollback {
        service: Target,
        to: Option<u32>,
    },
    Pause {
        service: Target,
    },
    Resume {
        service: Target,
    },
    /// A second delete of a service being deleted returns the first one's operation.
    Delete {
        service: Target,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Create { name, .. } => {
                f.debug_struct("Create").field("name", name).finish_non_exhaustive()
            }
            Command::Update { service, .. } => {
                f.debug_struct("Update").field("service", service).finish_non_exhaustive()
            }
            Command::Deploy { service } => f.debug_struct("Deploy").field("service", service).finish(),
            Command::Rollback { service, to } => {
                f.debug_struct("Rollback").field("service", service).field("to", to).finish()
            }
            Command::Pause { service } => f.debug_struct("Pause").field("service", service).finish(),
            Command::Resume { service } => f.debug_struct("Resume").field("service", service).finish(),
            Command::Delete { service } => f.debug_struct("Delete").field("service", service).finish(),
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The service as the command left it.
    pub service: Service,
    /// The operation that carries the command out.
    pub operation: Operation,
    /// Whether this command queued the operation (false: it joined one already queued).
    pub queued: bool,
}

/// Why a command was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no service is named {0:?}; `ferry service list` shows the services there are")]
    NoSuchService(String),
    /// A value the command carries is not valid.
    #[error(transparent)]
    Invalid(ValidationError),
    #[error("a service named {0:?} already exists; choose another name, or delete it first")]
    NameTaken(String),
    /// The service does not take this command in its state (App Runner's `InvalidStateException`).
    #[error("{}", .reason.message(.service))]
    Refused { service: String, reason: Refusal },
    /// The rollback cannot be done (no such revision, nothing earlier, …).
    #[error("{}", .reason.message(.service))]
    CannotRollBack { service: String, reason: RollbackRefusal },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NameTaken(name) => CommandError::NameTaken(name),
            other => CommandError::Store(other),
        }
    }
}

/// The command layer: executes commands against the store and tells the control plane.
#[derive(Clone)]
pub struct Commands {
    store: Store,
    dispatch: Arc<dyn Dispatch>,
}

impl Commands {
    pub fn new(store: Store, dispatch: Arc<dyn Dispatch>) -> Self {
        Self { store, dispatch }
    }

    /// Executes `command`, asked for by `trigger`, as one transaction; tells the control plane once it is
    /// committed. Both happen even if the caller stops waiting (a client that goes away): a committed
    /// command is always carried out.
    pub async fn execute(&self, command: Command, trigger: Trigger) -> Result<Outcome, CommandError> {
        let now = Timestamp::now();
        let (store, dispatch) = (self.store.clone(), self.dispatch.clone());
        let work = tokio::spawn(async move {
            let outcome =
                store.call(move |db| db.transaction(|db| apply::apply(db, command, trigger, now))).await?;
            if outcome.queued {
                tracing::info!(
                    service = %outcome.service.name, operation = %outcome.operation.id,
                    kind = %outcome.operation.kind, trigger = outcome.operation.trigger.encode(),
                    "operation queued"
                );
            }
            dispatch.queued(&outcome.service.id);
            Ok(outcome)
        });
        work.await.map_err(|e| CommandError::Store(StoreError::Unavailable(e.to_string())))?
    }
}

#[cfg(test)]
mod push_tests;
#[cfg(test)]
mod tests;
