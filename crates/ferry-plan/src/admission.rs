//! Which mutating calls a service accepts in its state: App Runner's rules, with queued operations taken
//! into account (a call is judged against the state the service will be in when its turn comes).

use ferry_model::{Operation, OperationStatus, OperationType, Service, ServiceStatus};

/// What decides whether a call is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// A delete is queued or running.
    pub deleting: bool,
    /// Paused, or a pause is queued and not undone by a queued resume.
    pub paused: bool,
    /// A revision has served, or a deployment that would make one serve is queued.
    pub has_served: bool,
}

impl Facts {
    /// Reads the facts off the service and its operations (any order).
    pub fn of(service: &Service, operations: &[Operation]) -> Self {
        let live =
            |o: &&Operation| !matches!(o.status, OperationStatus::Failed | OperationStatus::RollbackFailed);
        let mut ops: Vec<&Operation> = operations.iter().filter(live).collect();
        ops.sort_by_key(|o| o.created_at);
        let deleting = ops.iter().any(|o| o.kind == OperationType::DeleteService && !o.status.is_terminal());
        let mut paused = service.status == ServiceStatus::Paused;
        for o in ops.iter().filter(|o| !o.status.is_terminal()) {
            match o.kind {
                OperationType::PauseService => paused = true,
                OperationType::ResumeService => paused = false,
                _ => {}
            }
        }
        Facts { deleting, paused, has_served: service.active_revision.is_some() }
    }
}

/// Why a service does not take a change now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Deleting,
    Paused,
    AlreadyPaused,
    NothingToPause,
    NotPaused,
}

impl Refusal {
    /// The reason, for the user, about service `name`.
    pub fn message(self, name: &str) -> String {
        match self {
            Self::Deleting => format!("service {name} is being deleted"),
            Self::Paused => {
                format!("service {name} is paused: resume it first (ferry service resume {name})")
            }
            Self::AlreadyPaused => format!("service {name} is already paused"),
            Self::NothingToPause => format!("service {name} has nothing running to pause"),
            Self::NotPaused => format!("service {name} is not paused"),
        }
    }
}

/// `Ok` if the service takes a change of this kind now, else why not.
pub fn admit(kind: OperationType, facts: Facts) -> Result<(), Refusal> {
    use OperationType::*;
    if facts.deleting && kind != DeleteService {
        return Err(Refusal::Deleting);
    }
    match kind {
        UpdateService | StartDeployment if facts.paused => Err(Refusal::Paused),
        PauseService if facts.paused => Err(Refusal::AlreadyPaused),
        PauseService if !facts.has_served => Err(Refusal::NothingToPause),
        ResumeService if !facts.paused => Err(Refusal::NotPaused),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperationType::*;

    #[test]
    fn app_runners_rules() {
        let running = Facts { deleting: false, paused: false, has_served: true };
        let paused = Facts { paused: true, ..running };
        let failed = Facts { has_served: false, ..running };
        let deleting = Facts { deleting: true, ..running };
        let table = [
            (UpdateService, running, true),
            (StartDeployment, running, true),
            (PauseService, running, true),
            (ResumeService, running, false),
            (DeleteService, running, true),
            (UpdateService, paused, false),
            (StartDeployment, paused, false),
            (PauseService, paused, false),
            (ResumeService, paused, true),
            (DeleteService, paused, true),
            (UpdateService, failed, true), // App Runner's "rebuild" of a CREATE_FAILED service
            (PauseService, failed, false),
            (UpdateService, deleting, false),
            (DeleteService, deleting, true),
        ];
        for (kind, facts, ok) in table {
            assert_eq!(admit(kind, facts).is_ok(), ok, "{kind} with {facts:?}");
        }
        assert_eq!(admit(StartDeployment, paused), Err(Refusal::Paused));
        assert_eq!(
            Refusal::Paused.message("web"),
            "service web is paused: resume it first (ferry service resume web)"
        );
    }
}
