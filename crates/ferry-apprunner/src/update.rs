//! `UpdateService`: the members given change the service's configuration, deployed as a new revision
//! through the command layer (`Command::Update`, as `/v1`'s `PATCH` does); members left out stay.
//!
//! ferry's command layer queues a change behind a running operation; App Runner refuses it instead
//! (`InvalidStateException`), and this API does as App Runner does ([`check_state`], which `PauseService`,
//! `ResumeService` and `StartDeployment` use too). Two updates sent at the same instant may both be
//! queued: each still builds on the other's configuration, as the change is applied to the newest desired
//! spec inside the command.

use ferry_command::{Command, Target};
use ferry_model::{
    AutoScaling, ObservabilityRef, Service, ServiceSpec, ServiceStatus, Trigger, ValidationError,
};
use serde_json::Value;

use crate::error::AwsError;
use crate::operations::{find, object, require_secrets, string};
use crate::{ApiState, autoscaling, configure, shapes};

pub(crate) async fn update_service(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let service = find(state, input).await?;
    check_state(state, &service, Change::Update).await?;
    let scaling = match string(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")? {
        Some(arn) => Some(autoscaling::by_arn(state, arn).await?.scaling()),
        None => None,
    };
    // `Some(None)`: observability turned off.
    let observability = match object(input, "ObservabilityConfiguration", "ObservabilityConfiguration")? {
        Some(given) => Some(crate::observability::service_input(state, given).await?),
        None => None,
    };
    // The connection a CodeRepository names, looked up once (`apply` runs again inside the command).
    let connection = match object(input, "SourceConfiguration", "SourceConfiguration")? {
        Some(source) => match configure::source(source)?.connection_arn {
            Some(arn) => Some(crate::connections::usable(state, &arn).await?),
            None => None,
        },
        None => None,
    };
    // Checked against the configuration now, so a bad input is refused before anything is queued.
    let checked =
        apply(&service.spec, input, scaling.as_ref(), observability.as_ref(), connection.as_deref())?;
    require_secrets(state, &checked).await?;
    checked.validate()?;
    let input = input.clone();
    let change = Box::new(move |spec: &ServiceSpec| {
        apply(spec, &input, scaling.as_ref(), observability.as_ref(), connection.as_deref()).map_err(|e| {
            match e.message.split_once(": ") {
                Some((member, why)) => ValidationError::new(member, why),
                None => ValidationError::new("UpdateService", e.message),
            }
        })
    });
    let outcome = state
        .commands
        .execute(Command::Update { service: Target::Id(service.id), change }, Trigger::Api)
        .await?;
    shapes::started(state, &outcome).await
}

/// A change App Runner takes only in some states; ferry's command layer would queue it instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Update,
    Pause,
    Resume,
    Deploy,
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Self::Update => "update it",
            Self::Pause => "pause it",
            Self::Resume => "resume it",
            Self::Deploy => "start a deployment",
        }
    }

    /// The error App Runner's model lists for the operation: `StartDeployment` has no
    /// `InvalidStateException`, so it refuses with `InvalidRequestException`.
    fn refused(self, message: String) -> AwsError {
        match self {
            Self::Deploy => AwsError::invalid(message),
            _ => AwsError::new("InvalidStateException", axum::http::StatusCode::BAD_REQUEST, message),
        }
    }
}

/// Refuses `change` while an operation runs on the service, and where its status does not allow it:
/// pausing a paused service, resuming one that is not paused, deploying a paused one. The check reads
/// the service before the command is queued, so two changes sent at the same instant may both be queued.
pub(crate) async fn check_state(state: &ApiState, service: &Service, change: Change) -> Result<(), AwsError> {
    let id = service.id.clone();
    let operations = state.store.call(move |db| db.operations(&id, 50)).await?;
    let running = operations.iter().any(|o| !o.status.is_terminal());
    match refusal(service, running, change) {
        Some(message) => Err(change.refused(message)),
        None => Ok(()),
    }
}

/// Why `service` cannot take `change` now (`running`: an operation of it has not ended), if it cannot.
fn refusal(service: &Service, running: bool, change: Change) -> Option<String> {
    let name = &service.name;
    if running || service.status == ServiceStatus::OperationInProgress {
        return Some(format!(
            "service {name} has an operation in progress; wait until it ends (ListOperations shows it), then {}",
            change.verb()
        ));
    }
    let paused = service.status == ServiceStatus::Paused;
    match change {
        Change::Pause if paused => {
            Some(format!("service {name} is paused already; ResumeService resumes it"))
        }
        Change::Resume if !paused => Some(format!(
            "service {name} is not paused (it is {}); only a paused service can be resumed",
            service.status.as_str()
        )),
        Change::Deploy if paused => {
            Some(format!("service {name} is paused; resume it (ResumeService), then start a deployment"))
        }
        _ => None,
    }
}

/// `spec` with the input's members put over it; `connection`: the name of the connection the input's
/// `ConnectionArn` names.
fn apply(
    spec: &ServiceSpec,
    input: &Value,
    scaling: Option<&AutoScaling>,
    observability: Option<&Option<ObservabilityRef>>,
    connection: Option<&str>,
) -> Result<ServiceSpec, AwsError> {
    let mut spec = spec.clone();
    if let Some(source) = object(input, "SourceConfiguration", "SourceConfiguration")? {
        configure::source(source)?.apply(&mut spec.source, connection)?;
    }
    configure::rest(&mut spec, input)?;
    if let Some(scaling) = scaling {
        spec.autoscaling = Some(scaling.clone());
    }
    if let Some(observability) = observability {
        spec.observability = observability.clone();
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use ferry_model::{ImageRef, ServiceId, ServiceName, Timestamp};

    use super::*;

    fn service(status: ServiceStatus) -> Service {
        Service {
            id: ServiceId::generate(),
            name: ServiceName::parse("web").expect("valid"),
            status,
            spec: ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").expect("valid")),
            active_revision: None,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
            deleted_at: None,
        }
    }

    #[test]
    fn changes_are_refused_where_app_runner_refuses_them() {
        let (running, paused) = (service(ServiceStatus::Running), service(ServiceStatus::Paused));
        let busy = service(ServiceStatus::OperationInProgress);
        for change in [Change::Update, Change::Pause, Change::Resume, Change::Deploy] {
            let why = refusal(&busy, false, change).expect("busy by status");
            assert!(why.contains("operation in progress"), "{why}");
            assert!(refusal(&paused, true, change).expect("busy by operation").contains("in progress"));
        }
        assert_eq!(refusal(&running, false, Change::Pause), None);
        assert_eq!(refusal(&running, false, Change::Update), None);
        assert_eq!(refusal(&running, false, Change::Deploy), None);
        assert_eq!(refusal(&paused, false, Change::Resume), None);
        assert!(refusal(&paused, false, Change::Pause).expect("paused twice").contains("paused already"));
        assert!(refusal(&running, false, Change::Resume).expect("not paused").contains("RUNNING"));
        assert!(refusal(&paused, false, Change::Deploy).expect("paused").contains("ResumeService"));
        // StartDeployment's errors in App Runner's model have no InvalidStateException.
        assert_eq!(Change::Deploy.refused(String::new()).code, "InvalidRequestException");
        assert_eq!(Change::Pause.refused(String::new()).code, "InvalidStateException");
    }
}
