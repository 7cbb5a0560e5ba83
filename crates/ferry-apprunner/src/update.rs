//! `UpdateService`: the members given change the service's configuration, deployed as a new revision
//! through the command layer (`Command::Update`, as `/v1`'s `PATCH` does); members left out stay.
//!
//! ferry's command layer queues a change behind a running operation; App Runner refuses it instead
//! (`InvalidStateException`), and this API does as App Runner does. The check reads the service before
//! the command is queued, so two updates sent at the same instant may both be queued: each still builds on
//! the other's configuration, as the change is applied to the newest desired spec inside the command.

use ferry_command::{Command, Target};
use ferry_model::{AutoScaling, ServiceSpec, ServiceStatus, Source, Trigger, ValidationError};
use serde_json::{Value, json};

use crate::error::AwsError;
use crate::operations::{find, object, require_secrets, string};
use crate::{ApiState, autoscaling, configure, shapes};

pub(crate) async fn update_service(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let service = find(state, input).await?;
    if input.get("ObservabilityConfiguration").is_some_and(|v| !v.is_null()) {
        return Err(AwsError::member(
            "ObservabilityConfiguration",
            "is not supported by ferry's App Runner API yet; leave it out",
        ));
    }
    let id = service.id.clone();
    let operations = state.store.call(move |db| db.operations(&id, 50)).await?;
    if service.status == ServiceStatus::OperationInProgress
        || operations.iter().any(|o| !o.status.is_terminal())
    {
        return Err(AwsError::new(
            "InvalidStateException",
            axum::http::StatusCode::BAD_REQUEST,
            format!(
                "service {} has an operation in progress; wait until it ends (ListOperations shows it), then update",
                service.name
            ),
        ));
    }
    let scaling = match string(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")? {
        Some(arn) => Some(autoscaling::by_arn(state, arn).await?.scaling()),
        None => None,
    };
    // Checked against the configuration now, so a bad input is refused before anything is queued.
    let checked = apply(&service.spec, input, scaling.as_ref())?;
    require_secrets(state, &checked).await?;
    checked.validate()?;
    let input = input.clone();
    let change = Box::new(move |spec: &ServiceSpec| {
        apply(spec, &input, scaling.as_ref()).map_err(|e| match e.message.split_once(": ") {
            Some((member, why)) => ValidationError::new(member, why),
            None => ValidationError::new("UpdateService", e.message),
        })
    });
    let outcome = state
        .commands
        .execute(Command::Update { service: Target::Id(service.id), change }, Trigger::Api)
        .await?;
    Ok(json!({
        "Service": shapes::service(&state.config, &outcome.service),
        "OperationId": outcome.operation.id.to_string(),
    }))
}

/// `spec` with the input's members put over it.
fn apply(spec: &ServiceSpec, input: &Value, scaling: Option<&AutoScaling>) -> Result<ServiceSpec, AwsError> {
    let mut spec = spec.clone();
    if let Some(source) = object(input, "SourceConfiguration", "SourceConfiguration")? {
        let (image, config, auto) = configure::source(source)?;
        let Source::Image(current) = &mut spec.source else {
            return Err(AwsError::member(
                "SourceConfiguration",
                "this service builds from a code repository; ferry's App Runner API changes image services \
                 only (use ferry's own API for it)",
            ));
        };
        current.image = image;
        if let Some(config) = config {
            current.config = config;
        }
        if let Some(on) = auto {
            current.auto_deploy = on;
        }
    }
    configure::rest(&mut spec, input)?;
    if let Some(scaling) = scaling {
        spec.autoscaling = Some(scaling.clone());
    }
    Ok(spec)
}
