//! The operations: App Runner's inputs checked member by member, then ferry's command layer (as `/v1`
//! uses it) or the store.

use std::collections::BTreeMap;

use ferry_command::{Command, Target};
use ferry_model::{AutoScaling, Service, ServiceId, ServiceName, ServiceSpec, Trigger};
use serde_json::{Value, json};

use crate::error::AwsError;
use crate::update::{Change, check_state};
use crate::{ApiState, autoscaling, configure, shapes};

/// The operations ferry answers; any other is refused by name, never pretended.
pub(crate) const SUPPORTED: &[&str] = &[
    "CreateService",
    "DescribeService",
    "ListServices",
    "DeleteService",
    "PauseService",
    "ResumeService",
    "StartDeployment",
    "ListOperations",
    "UpdateService",
    "CreateAutoScalingConfiguration",
    "DescribeAutoScalingConfiguration",
    "ListAutoScalingConfigurations",
    "DeleteAutoScalingConfiguration",
    "UpdateDefaultAutoScalingConfiguration",
    "ListServicesForAutoScalingConfiguration",
    "AssociateCustomDomain",
    "DescribeCustomDomains",
    "DisassociateCustomDomain",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "CreateObservabilityConfiguration",
    "DescribeObservabilityConfiguration",
    "ListObservabilityConfigurations",
    "DeleteObservabilityConfiguration",
    "CreateConnection",
    "ListConnections",
    "DeleteConnection",
];

pub(crate) async fn dispatch(state: &ApiState, operation: &str, input: &Value) -> Result<Value, AwsError> {
    match operation {
        "CreateService" => create_service(state, input).await,
        "DescribeService" => {
            let service = find(state, input).await?;
            Ok(json!({ "Service": shapes::described(state, &service).await? }))
        }
        "ListServices" => list_services(state, input).await,
        "DeleteService" => {
            let answer = change(state, input, None, |t| Command::Delete { service: t }).await?;
            if let Some(arn) = answer["Service"]["ServiceArn"].as_str() {
                crate::tags::forget(state, arn).await;
            }
            Ok(answer)
        }
        "PauseService" => change(state, input, Some(Change::Pause), |t| Command::Pause { service: t }).await,
        "ResumeService" => {
            change(state, input, Some(Change::Resume), |t| Command::Resume { service: t }).await
        }
        "StartDeployment" => {
            let answer =
                change(state, input, Some(Change::Deploy), |t| Command::Deploy { service: t }).await?;
            Ok(json!({ "OperationId": answer["OperationId"] }))
        }
        "ListOperations" => list_operations(state, input).await,
        "UpdateService" => crate::update::update_service(state, input).await,
        "CreateConnection" => crate::connections::create(state, input).await,
        "ListConnections" => crate::connections::list(state, input).await,
        "DeleteConnection" => crate::connections::delete(state, input).await,
        "CreateAutoScalingConfiguration" => autoscaling::create(state, input).await,
        "DescribeAutoScalingConfiguration" => autoscaling::describe(state, input).await,
        "ListAutoScalingConfigurations" => autoscaling::list(state, input).await,
        "DeleteAutoScalingConfiguration" => autoscaling::delete(state, input).await,
        "UpdateDefaultAutoScalingConfiguration" => autoscaling::update_default(state, input).await,
        "ListServicesForAutoScalingConfiguration" => autoscaling::services_using(state, input).await,
        "AssociateCustomDomain" => crate::domains::associate(state, input).await,
        "DescribeCustomDomains" => crate::domains::describe(state, input).await,
        "DisassociateCustomDomain" => crate::domains::disassociate(state, input).await,
        "TagResource" => crate::tags::tag_resource(state, input).await,
        "UntagResource" => crate::tags::untag_resource(state, input).await,
        "ListTagsForResource" => crate::tags::list_tags(state, input).await,
        "CreateObservabilityConfiguration" => crate::observability::create(state, input).await,
        "DescribeObservabilityConfiguration" => crate::observability::describe(state, input).await,
        "ListObservabilityConfigurations" => crate::observability::list(state, input).await,
        "DeleteObservabilityConfiguration" => crate::observability::delete(state, input).await,
        vpc if crate::vpc::OPERATIONS.contains(&vpc) => Err(crate::vpc::refusal(vpc)),
        other => Err(AwsError::new(
            "UnknownOperationException",
            axum::http::StatusCode::BAD_REQUEST,
            format!(
                "ferry does not implement the App Runner operation {other:?} yet; it implements {}",
                SUPPORTED.join(", ")
            ),
        )),
    }
}

pub(crate) fn string<'a>(input: &'a Value, member: &str, path: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AwsError::member(path, "must be a string")),
    }
}

pub(crate) fn required<'a>(input: &'a Value, member: &str, path: &str) -> Result<&'a str, AwsError> {
    string(input, member, path)?.ok_or_else(|| AwsError::member(path, "is required"))
}

pub(crate) fn boolean(input: &Value, member: &str, path: &str) -> Result<Option<bool>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| AwsError::member(path, "must be a boolean")),
    }
}

pub(crate) fn object<'a>(input: &'a Value, member: &str, path: &str) -> Result<Option<&'a Value>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(AwsError::member(path, "must be a structure")),
    }
}

pub(crate) fn integer(
    input: &Value,
    member: &str,
    path: &str,
    range: (i64, i64),
) -> Result<Option<i64>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (range.0..=range.1).contains(&n) => Ok(Some(n)),
            _ => Err(AwsError::member(path, format!("must be an integer from {} to {}", range.0, range.1))),
        },
    }
}

pub(crate) fn string_map(
    input: &Value,
    member: &str,
    path: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let Some(map) = object(input, member, path)? else { return Ok(BTreeMap::new()) };
    let mut out = BTreeMap::new();
    for (k, v) in map.as_object().into_iter().flatten() {
        let v = v.as_str().ok_or_else(|| AwsError::member(&format!("{path}.{k}"), "must be a string"))?;
        out.insert(k.clone(), v.to_owned());
    }
    Ok(out)
}

/// The service a `ServiceArn` names: ferry's own ARNs only (its region and account).
pub(crate) async fn find(state: &ApiState, input: &Value) -> Result<Service, AwsError> {
    service_by_arn(state, required(input, "ServiceArn", "ServiceArn")?).await
}

/// The service `arn` names (deleted ones too, as `DescribeService` shows them).
pub(crate) async fn service_by_arn(state: &ApiState, arn: &str) -> Result<Service, AwsError> {
    let not_found = || AwsError::not_found(format!("no service has the ARN {arn}"));
    let Some((name, Some(id))) = state.config.arn.parse_service(arn) else {
        if arn.starts_with("arn:") && arn.contains(":service/") {
            return Err(not_found());
        }
        return Err(AwsError::member(
            "ServiceArn",
            format!(
                "{arn:?} is not a service ARN; use arn:aws:apprunner:<region>:<account>:service/<name>/<id>"
            ),
        ));
    };
    let Ok(id) = ServiceId::parse(id) else { return Err(not_found()) };
    let found = state.store.call(move |db| db.service(&id)).await?;
    match found {
        Some(service) if service.name.as_str() == name => Ok(service),
        _ => Err(not_found()),
    }
}

/// A command on the service `ServiceArn` names, refused where App Runner refuses `check` in the service's
/// state: the service as it leaves it, and the operation's id.
async fn change(
    state: &ApiState,
    input: &Value,
    check: Option<Change>,
    command: impl FnOnce(Target) -> Command,
) -> Result<Value, AwsError> {
    let service = find(state, input).await?;
    if let Some(check) = check {
        check_state(state, &service, check).await?;
    }
    let outcome = state.commands.execute(command(Target::Id(service.id)), Trigger::Api).await?;
    shapes::started(state, &outcome).await
}

/// `NextToken` is the offset to go on from; `MaxResults` 1 to `most` (the operation's range in App
/// Runner's model), default `most`.
pub(crate) fn page(input: &Value, most: i64) -> Result<(usize, usize), AwsError> {
    let max = integer(input, "MaxResults", "MaxResults", (1, most))?.unwrap_or(most);
    let start = match string(input, "NextToken", "NextToken")? {
        None => 0,
        Some(token) => token.parse::<usize>().map_err(|_| {
            AwsError::member("NextToken", "is not a token this API gave; leave it out to start over")
        })?,
    };
    // `max` is 1..=`most` by the check above.
    Ok((start, max as usize))
}

pub(crate) fn paged(items: Vec<Value>, start: usize, max: usize, member: &str) -> Value {
    let total = items.len();
    let list: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let mut out = json!({ member: list });
    // `start` is the client's token: any number, so the sum must not overflow.
    let next = start.saturating_add(max);
    if next < total {
        out["NextToken"] = json!(next.to_string());
    }
    out
}

async fn list_services(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 20)?;
    let services = state.store.call(|db| db.list_services()).await?;
    let items = services.iter().map(|s| shapes::summary(&state.config, s)).collect();
    Ok(paged(items, start, max, "ServiceSummaryList"))
}

async fn list_operations(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 20)?;
    let service = find(state, input).await?;
    let id = service.id.clone();
    let operations = state.store.call(move |db| db.operations(&id, 1000)).await?;
    let items = operations.iter().map(|op| shapes::operation(&state.config, &service, op)).collect();
    Ok(paged(items, start, max, "OperationSummaryList"))
}

async fn create_service(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    // App Runner's 4 to 40 characters and pattern are checked against its model (validate.rs).
    let name = required(input, "ServiceName", "ServiceName")?;
    let name = ServiceName::parse(name).map_err(|e| AwsError::member("ServiceName", e.message))?;
    if input.get("EncryptionConfiguration").is_some_and(|v| !v.is_null()) {
        return Err(AwsError::member(
            "EncryptionConfiguration",
            "is not supported: there is no KMS here; ferry seals secrets and credentials at rest with its \
             own key (secret.key in its data directory), so leave EncryptionConfiguration out",
        ));
    }
    let tags = crate::tags::parse(input)?;
    let source = object(input, "SourceConfiguration", "SourceConfiguration")?
        .ok_or_else(|| AwsError::member("SourceConfiguration", "is required"))?;
    let source = configure::source(source)?;
    let connection = match &source.connection_arn {
        Some(arn) => Some(crate::connections::usable(state, arn).await?),
        None => None,
    };
    let mut spec = source.spec(connection.as_deref())?;
    configure::rest(&mut spec, input)?;
    require_secrets(state, &spec).await?;
    spec.autoscaling =
        Some(match string(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")? {
            Some(arn) => crate::autoscaling::by_arn(state, arn).await?.scaling(),
            // As `/v1` does: a new service scales by the default auto scaling configuration.
            None => {
                let default = state.store.call(|db| db.default_autoscaling()).await?;
                default.map(|c| c.scaling()).unwrap_or_else(AutoScaling::app_runner_default)
            }
        });
    if let Some(given) = object(input, "ObservabilityConfiguration", "ObservabilityConfiguration")? {
        spec.observability = crate::observability::service_input(state, given).await?;
    }
    spec.validate()?;
    let outcome =
        state.commands.execute(Command::Create { name, spec: Box::new(spec) }, Trigger::Api).await?;
    crate::tags::attach(state, &state.config.service_arn(&outcome.service), tags).await?;
    shapes::started(state, &outcome).await
}

/// As `/v1` does: secrets must exist before a service refers to them.
pub(crate) async fn require_secrets(state: &ApiState, spec: &ServiceSpec) -> Result<(), AwsError> {
    let names = spec.source.config().secrets.names();
    let present = state
        .store
        .call({
            let names = names.clone();
            move |db| db.existing_secrets(&names)
        })
        .await?;
    if let Some(missing) = names.iter().find(|n| !present.contains(*n)) {
        let member = match spec.source {
            ferry_model::Source::Image(_) => {
                "SourceConfiguration.ImageRepository.ImageConfiguration.RuntimeEnvironmentSecrets"
            }
            ferry_model::Source::Code(_) => {
                "SourceConfiguration.CodeRepository.CodeConfiguration.CodeConfigurationValues.RuntimeEnvironmentSecrets"
            }
        };
        return Err(AwsError::member(
            member,
            format!("there is no secret named {missing}; set it first with `ferry secret set {missing}`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
