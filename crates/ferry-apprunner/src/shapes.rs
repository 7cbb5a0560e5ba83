//! ferry's services and operations in App Runner's output shapes (timestamps as epoch seconds).

use ferry_model::{
    CodeConfiguration, CodeSource, HealthCheckProtocol, ImageConfiguration, Operation, Service, Source,
};
use serde_json::{Value, json};

use crate::error::AwsError;
use crate::{ApiState, AppRunnerConfig};

impl AppRunnerConfig {
    pub(crate) fn service_arn(&self, service: &Service) -> String {
        self.arn.service(&service.name, &service.id)
    }

    /// The host the router answers for the service (App Runner's `ServiceUrl` has no scheme).
    pub(crate) fn service_url(&self, service: &Service) -> String {
        let host = format!("{}.{}", service.name.host_label(), self.domain);
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }
}

pub(crate) fn summary(config: &AppRunnerConfig, service: &Service) -> Value {
    json!({
        "ServiceName": service.name.as_str(),
        "ServiceId": service.id.to_string(),
        "ServiceArn": config.service_arn(service),
        "ServiceUrl": config.service_url(service),
        "CreatedAt": service.created_at.epoch_seconds(),
        "UpdatedAt": service.updated_at.epoch_seconds(),
        "Status": service.status.as_str(),
    })
}

pub(crate) fn service(config: &AppRunnerConfig, service: &Service) -> Value {
    let spec = &service.spec;
    let mut out = summary(config, service);
    let source = match &spec.source {
        Source::Image(image) => {
            let mut image_config = configuration_values(&image.config);
            if let Some(command) = &image.config.start_command {
                image_config["StartCommand"] = json!(command);
            }
            // Not stored: both accept any registry, so it is told from the registry's host.
            let kind = if image.image.registry().contains(".dkr.ecr.") { "ECR" } else { "ECR_PUBLIC" };
            json!({
                "ImageRepository": {
                    "ImageIdentifier": image.image.to_string(),
                    "ImageConfiguration": image_config,
                    "ImageRepositoryType": kind,
                },
                "AutoDeploymentsEnabled": image.auto_deploy,
            })
        }
        Source::Code(code) => code_source(config, code),
    };
    let health = &spec.health_check;
    out["SourceConfiguration"] = source;
    out["InstanceConfiguration"] = json!({
        "Cpu": spec.instance.cpu().units().to_string(),
        "Memory": spec.instance.memory().mib().to_string(),
    });
    out["HealthCheckConfiguration"] = json!({
        "Protocol": match health.protocol { HealthCheckProtocol::Tcp => "TCP", HealthCheckProtocol::Http => "HTTP" },
        "Path": health.path,
        "Interval": health.interval,
        "Timeout": health.timeout,
        "HealthyThreshold": health.healthy_threshold,
        "UnhealthyThreshold": health.unhealthy_threshold,
    });
    out["NetworkConfiguration"] = json!({
        "EgressConfiguration": { "EgressType": "DEFAULT" },
        "IngressConfiguration": { "IsPubliclyAccessible": !spec.private },
        "IpAddressType": "IPV4",
    });
    out["AutoScalingConfigurationSummary"] =
        match spec.autoscaling.as_ref().and_then(|s| s.configuration.as_ref()) {
            Some(named) => json!({
                "AutoScalingConfigurationName": named.name,
                "AutoScalingConfigurationRevision": named.revision,
                "AutoScalingConfigurationArn": config.autoscaling_arn(&named.name, named.revision),
                "Status": "ACTIVE",
            }),
            None => json!({}),
        };
    out["ObservabilityConfiguration"] = crate::observability::service_shape(config, spec);
    if let Some(deleted) = service.deleted_at {
        out["DeletedAt"] = json!(deleted.epoch_seconds());
    }
    out
}

/// `Port`, `RuntimeEnvironmentVariables` and `RuntimeEnvironmentSecrets` (left out when empty), as an
/// `ImageConfiguration` and a `CodeConfigurationValues` both have them.
fn configuration_values(c: &ImageConfiguration) -> Value {
    let mut out = json!({ "Port": c.port.to_string() });
    if !c.env.is_empty() {
        out["RuntimeEnvironmentVariables"] = c.env.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
    }
    let secrets: serde_json::Map<String, Value> =
        c.secrets.iter().map(|(k, v)| (k.to_owned(), json!(v.as_str()))).collect();
    if !secrets.is_empty() {
        out["RuntimeEnvironmentSecrets"] = Value::Object(secrets);
    }
    out
}

/// A code repository as App Runner shows it. The connection's ARN has no id here (that takes the
/// store); [`described`] completes it.
fn code_source(config: &AppRunnerConfig, code: &CodeSource) -> Value {
    let configuration = match &code.configuration {
        CodeConfiguration::Repository { .. } => json!({ "ConfigurationSource": "REPOSITORY" }),
        CodeConfiguration::Api { runtime, build_command } => {
            let mut values = configuration_values(&code.config);
            values["Runtime"] = json!(runtime.api_name());
            if let Some(command) = build_command {
                values["BuildCommand"] = json!(command);
            }
            if let Some(command) = &code.config.start_command {
                values["StartCommand"] = json!(command);
            }
            json!({ "ConfigurationSource": "API", "CodeConfigurationValues": values })
        }
    };
    let mut repository = json!({
        "RepositoryUrl": code.repository,
        "SourceCodeVersion": { "Type": "BRANCH", "Value": code.branch },
        "CodeConfiguration": configuration,
    });
    if let Some(dir) = &code.source_directory {
        // App Runner's is absolute from the repository's root.
        repository["SourceDirectory"] = json!(format!("/{dir}"));
    }
    let mut out = json!({ "CodeRepository": repository, "AutoDeploymentsEnabled": code.auto_deploy });
    if let Some(name) = &code.connection {
        out["AuthenticationConfiguration"] = json!({ "ConnectionArn": config.connection_name_arn(name) });
    }
    out
}

/// What the operations that start one answer: the service as the command left it, and the operation's id.
pub(crate) async fn started(state: &ApiState, outcome: &ferry_command::Outcome) -> Result<Value, AwsError> {
    Ok(json!({
        "Service": described(state, &outcome.service).await?,
        "OperationId": outcome.operation.id.to_string(),
    }))
}

/// [`service`], its connection's ARN complete with the connection's id (while the connection exists).
pub(crate) async fn described(state: &ApiState, s: &Service) -> Result<Value, AwsError> {
    let mut out = service(&state.config, s);
    if let Some(name) = s.spec.source.code().and_then(|c| c.connection.clone()) {
        let found = state.store.call(move |db| db.connection(&name)).await?;
        if let Some(c) = found {
            out["SourceConfiguration"]["AuthenticationConfiguration"]["ConnectionArn"] =
                json!(state.config.connection_arn(&c.name, &c.id));
        }
    }
    Ok(out)
}

pub(crate) fn operation(config: &AppRunnerConfig, service: &Service, op: &Operation) -> Value {
    let mut out = json!({
        "Id": op.id.to_string(),
        "Type": op.kind.as_str(),
        "Status": op.status.as_str(),
        "TargetArn": config.service_arn(service),
        "UpdatedAt": op.updated_at.epoch_seconds(),
    });
    if let Some(at) = op.started_at {
        out["StartedAt"] = json!(at.epoch_seconds());
    }
    if let Some(at) = op.ended_at {
        out["EndedAt"] = json!(at.epoch_seconds());
    }
    out
}
