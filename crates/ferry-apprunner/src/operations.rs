//! The operations: App Runner's inputs checked member by member, then ferry's command layer (as `/v1`
//! uses it) or the store.

use std::collections::BTreeMap;

use ferry_command::{Command, Target};
use ferry_model::{
    AutoScaling, HealthCheckProtocol, ImageRef, InstanceConfiguration, SecretName, SecretRefs, Service,
    ServiceId, ServiceName, ServiceSpec, Trigger,
};
use serde_json::{Value, json};

use crate::error::AwsError;
use crate::{ApiState, shapes};

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
];

pub(crate) async fn dispatch(state: &ApiState, operation: &str, input: &Value) -> Result<Value, AwsError> {
    match operation {
        "CreateService" => create_service(state, input).await,
        "DescribeService" => {
            let service = find(state, input).await?;
            Ok(json!({ "Service": shapes::service(&state.config, &service) }))
        }
        "ListServices" => list_services(state, input).await,
        "DeleteService" => change(state, input, |t| Command::Delete { service: t }).await,
        "PauseService" => change(state, input, |t| Command::Pause { service: t }).await,
        "ResumeService" => change(state, input, |t| Command::Resume { service: t }).await,
        "StartDeployment" => {
            let answer = change(state, input, |t| Command::Deploy { service: t }).await?;
            Ok(json!({ "OperationId": answer["OperationId"] }))
        }
        "ListOperations" => list_operations(state, input).await,
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

fn string<'a>(input: &'a Value, member: &str, path: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AwsError::member(path, "must be a string")),
    }
}

fn required<'a>(input: &'a Value, member: &str, path: &str) -> Result<&'a str, AwsError> {
    string(input, member, path)?.ok_or_else(|| AwsError::member(path, "is required"))
}

fn object<'a>(input: &'a Value, member: &str, path: &str) -> Result<Option<&'a Value>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(AwsError::member(path, "must be a structure")),
    }
}

fn integer(input: &Value, member: &str, path: &str, range: (i64, i64)) -> Result<Option<i64>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (range.0..=range.1).contains(&n) => Ok(Some(n)),
            _ => Err(AwsError::member(path, format!("must be an integer from {} to {}", range.0, range.1))),
        },
    }
}

fn string_map(input: &Value, member: &str, path: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let Some(map) = object(input, member, path)? else { return Ok(BTreeMap::new()) };
    let mut out = BTreeMap::new();
    for (k, v) in map.as_object().into_iter().flatten() {
        let v = v.as_str().ok_or_else(|| AwsError::member(&format!("{path}.{k}"), "must be a string"))?;
        out.insert(k.clone(), v.to_owned());
    }
    Ok(out)
}

/// The service a `ServiceArn` names: ferry's own ARNs only (its region and account).
async fn find(state: &ApiState, input: &Value) -> Result<Service, AwsError> {
    let arn = required(input, "ServiceArn", "ServiceArn")?;
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

/// A command on the service `ServiceArn` names: the service as it leaves it, and the operation's id.
async fn change(
    state: &ApiState,
    input: &Value,
    command: impl FnOnce(Target) -> Command,
) -> Result<Value, AwsError> {
    let service = find(state, input).await?;
    let outcome = state.commands.execute(command(Target::Id(service.id)), Trigger::Api).await?;
    Ok(json!({
        "Service": shapes::service(&state.config, &outcome.service),
        "OperationId": outcome.operation.id.to_string(),
    }))
}

/// `NextToken` is the offset to go on from; `MaxResults` 1 to 20 (App Runner's range), default 20.
fn page(input: &Value) -> Result<(usize, usize), AwsError> {
    let max = integer(input, "MaxResults", "MaxResults", (1, 20))?.unwrap_or(20);
    let start = match string(input, "NextToken", "NextToken")? {
        None => 0,
        Some(token) => token.parse::<usize>().map_err(|_| {
            AwsError::member("NextToken", "is not a token this API gave; leave it out to start over")
        })?,
    };
    // `max` is 1..=20 by the check above.
    Ok((start, max as usize))
}

fn paged(items: Vec<Value>, start: usize, max: usize, member: &str) -> Value {
    let total = items.len();
    let list: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let mut out = json!({ member: list });
    if start + max < total {
        out["NextToken"] = json!((start + max).to_string());
    }
    out
}

async fn list_services(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input)?;
    let services = state.store.call(|db| db.list_services()).await?;
    let items = services.iter().map(|s| shapes::summary(&state.config, s)).collect();
    Ok(paged(items, start, max, "ServiceSummaryList"))
}

async fn list_operations(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input)?;
    let service = find(state, input).await?;
    let id = service.id.clone();
    let operations = state.store.call(move |db| db.operations(&id, 1000)).await?;
    let items = operations.iter().map(|op| shapes::operation(&state.config, &service, op)).collect();
    Ok(paged(items, start, max, "OperationSummaryList"))
}

async fn create_service(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let name = required(input, "ServiceName", "ServiceName")?;
    let valid = (4..=40).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(AwsError::member(
            "ServiceName",
            format!("{name:?} must be 4 to 40 letters, digits, '-' or '_', starting with a letter or digit"),
        ));
    }
    let name = ServiceName::parse(name).map_err(|e| AwsError::member("ServiceName", e.message))?;
    for unsupported in
        ["EncryptionConfiguration", "ObservabilityConfiguration", "AutoScalingConfigurationArn", "Tags"]
    {
        if input.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(AwsError::member(
                unsupported,
                "is not supported by ferry's App Runner API yet; leave it out",
            ));
        }
    }
    let source = object(input, "SourceConfiguration", "SourceConfiguration")?
        .ok_or_else(|| AwsError::member("SourceConfiguration", "is required"))?;
    if source.get("CodeRepository").is_some() {
        return Err(AwsError::member(
            "SourceConfiguration.CodeRepository",
            "code repositories are not supported by ferry's App Runner API yet; use ImageRepository, or ferry's own API",
        ));
    }
    if source.get("AuthenticationConfiguration").is_some() {
        return Err(AwsError::member(
            "SourceConfiguration.AuthenticationConfiguration",
            "is not supported by ferry's App Runner API yet; use a public image or ferry's own API",
        ));
    }
    let repo = object(source, "ImageRepository", "SourceConfiguration.ImageRepository")?
        .ok_or_else(|| AwsError::member("SourceConfiguration.ImageRepository", "is required"))?;
    let identifier =
        required(repo, "ImageIdentifier", "SourceConfiguration.ImageRepository.ImageIdentifier")?;
    let image = ImageRef::parse(identifier)
        .map_err(|e| AwsError::member("SourceConfiguration.ImageRepository.ImageIdentifier", e.message))?;
    match required(repo, "ImageRepositoryType", "SourceConfiguration.ImageRepository.ImageRepositoryType")? {
        // Both accept an image from any registry.
        "ECR" | "ECR_PUBLIC" => {}
        other => {
            return Err(AwsError::member(
                "SourceConfiguration.ImageRepository.ImageRepositoryType",
                format!("{other:?} is not one of ECR, ECR_PUBLIC"),
            ));
        }
    }
    let mut spec = ServiceSpec::for_image(image);
    if let Some(auto) = source.get("AutoDeploymentsEnabled") {
        let on = auto.as_bool().ok_or_else(|| {
            AwsError::member("SourceConfiguration.AutoDeploymentsEnabled", "must be a boolean")
        })?;
        spec.source.set_auto_deploy(on);
    }
    let base = "SourceConfiguration.ImageRepository.ImageConfiguration";
    if let Some(ic) = object(repo, "ImageConfiguration", base)? {
        let config = spec.source.config_mut();
        if let Some(port) = string(ic, "Port", &format!("{base}.Port"))? {
            config.port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                AwsError::member(&format!("{base}.Port"), format!("{port:?} is not a port (1 to 65535)"))
            })?;
        }
        let env =
            string_map(ic, "RuntimeEnvironmentVariables", &format!("{base}.RuntimeEnvironmentVariables"))?;
        config.env = ferry_model::EnvVars::new(env)
            .map_err(|e| AwsError::member(&format!("{base}.RuntimeEnvironmentVariables"), e.message))?;
        let mut secrets = BTreeMap::new();
        let path = format!("{base}.RuntimeEnvironmentSecrets");
        for (var, reference) in string_map(ic, "RuntimeEnvironmentSecrets", &path)? {
            // A Secrets Manager or SSM ARN names the secret last; ferry's secrets are looked up by that name.
            let secret = reference.rsplit([':', '/']).next().unwrap_or(&reference);
            let secret = SecretName::parse(secret)
                .map_err(|e| AwsError::member(&format!("{path}.{var}"), e.message))?;
            secrets.insert(var, secret);
        }
        config.secrets = SecretRefs::new(secrets).map_err(|e| AwsError::member(&path, e.message))?;
        config.start_command =
            string(ic, "StartCommand", &format!("{base}.StartCommand"))?.map(str::to_owned);
    }
    if let Some(instance) = object(input, "InstanceConfiguration", "InstanceConfiguration")? {
        let cpu = string(instance, "Cpu", "InstanceConfiguration.Cpu")?;
        let memory = string(instance, "Memory", "InstanceConfiguration.Memory")?;
        spec.instance = InstanceConfiguration::parse(cpu, memory).map_err(|e| {
            AwsError::member(&format!("InstanceConfiguration.{}", capitalise(&e.field)), e.message)
        })?;
    }
    if let Some(health) = object(input, "HealthCheckConfiguration", "HealthCheckConfiguration")? {
        let h = &mut spec.health_check;
        if let Some(protocol) = string(health, "Protocol", "HealthCheckConfiguration.Protocol")? {
            h.protocol = match protocol {
                "TCP" => HealthCheckProtocol::Tcp,
                "HTTP" => HealthCheckProtocol::Http,
                other => {
                    return Err(AwsError::member(
                        "HealthCheckConfiguration.Protocol",
                        format!("{other:?} is not one of TCP, HTTP"),
                    ));
                }
            };
        }
        if let Some(path) = string(health, "Path", "HealthCheckConfiguration.Path")? {
            h.path = path.to_owned();
        }
        let number = |member: &str, range| {
            integer(health, member, &format!("HealthCheckConfiguration.{member}"), range)
                .map(|n| n.map(|n| n as u32))
        };
        h.interval = number("Interval", (1, 20))?.unwrap_or(h.interval);
        h.timeout = number("Timeout", (1, 20))?.unwrap_or(h.timeout);
        h.healthy_threshold = number("HealthyThreshold", (1, 20))?.unwrap_or(h.healthy_threshold);
        h.unhealthy_threshold = number("UnhealthyThreshold", (1, 20))?.unwrap_or(h.unhealthy_threshold);
    }
    if let Some(network) = object(input, "NetworkConfiguration", "NetworkConfiguration")? {
        if let Some(egress) =
            object(network, "EgressConfiguration", "NetworkConfiguration.EgressConfiguration")?
            && (egress.get("VpcConnectorArn").is_some()
                || egress.get("EgressType").and_then(Value::as_str).is_some_and(|t| t != "DEFAULT"))
        {
            return Err(AwsError::member(
                "NetworkConfiguration.EgressConfiguration",
                "VPC egress (VPC connectors) is not supported by ferry; leave it out or use EgressType DEFAULT",
            ));
        }
        if let Some(ingress) =
            object(network, "IngressConfiguration", "NetworkConfiguration.IngressConfiguration")?
            && let Some(public) = ingress.get("IsPubliclyAccessible")
        {
            let public = public.as_bool().ok_or_else(|| {
                AwsError::member(
                    "NetworkConfiguration.IngressConfiguration.IsPubliclyAccessible",
                    "must be a boolean",
                )
            })?;
            spec.private = !public;
        }
    }
    // As `/v1` does: secrets must exist before a service refers to them.
    let names = spec.source.config().secrets.names();
    let present = state
        .store
        .call({
            let names = names.clone();
            move |db| db.existing_secrets(&names)
        })
        .await?;
    if let Some(missing) = names.iter().find(|n| !present.contains(*n)) {
        return Err(AwsError::member(
            "SourceConfiguration.ImageRepository.ImageConfiguration.RuntimeEnvironmentSecrets",
            format!("there is no secret named {missing}; set it first with `ferry secret set {missing}`"),
        ));
    }
    // As `/v1` does: a new service scales by the default auto scaling configuration.
    let default = state.store.call(|db| db.default_autoscaling()).await?;
    spec.autoscaling = Some(default.map(|c| c.scaling()).unwrap_or_else(AutoScaling::app_runner_default));
    spec.validate()?;
    let outcome =
        state.commands.execute(Command::Create { name, spec: Box::new(spec) }, Trigger::Api).await?;
    Ok(json!({
        "Service": shapes::service(&state.config, &outcome.service),
        "OperationId": outcome.operation.id.to_string(),
    }))
}

fn capitalise(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}
