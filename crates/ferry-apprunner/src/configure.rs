//! The members `CreateService` and `UpdateService` share, put onto a ferry `ServiceSpec`. A member left
//! out leaves the spec's value as it is; an `ImageConfiguration` that is given replaces the image's whole
//! configuration (members it leaves out take their defaults), as App Runner's `UpdateService` does.

use std::collections::BTreeMap;

use ferry_model::{
    HealthCheckProtocol, ImageConfiguration, ImageRef, InstanceConfiguration, SecretName, SecretRefs,
    ServiceSpec,
};
use serde_json::Value;

use crate::error::AwsError;
use crate::operations::{integer, object, required, string, string_map};

const BASE: &str = "SourceConfiguration.ImageRepository.ImageConfiguration";

/// `SourceConfiguration`: the image, its configuration (if given) and `AutoDeploymentsEnabled` (if given).
/// Code repositories and registry credentials are refused by name.
pub(crate) fn source(
    source: &Value,
) -> Result<(ImageRef, Option<ImageConfiguration>, Option<bool>), AwsError> {
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
    let auto = match source.get("AutoDeploymentsEnabled") {
        None | Some(Value::Null) => None,
        Some(auto) => Some(auto.as_bool().ok_or_else(|| {
            AwsError::member("SourceConfiguration.AutoDeploymentsEnabled", "must be a boolean")
        })?),
    };
    let config = object(repo, "ImageConfiguration", BASE)?.map(image_configuration).transpose()?;
    Ok((image, config, auto))
}

fn image_configuration(ic: &Value) -> Result<ImageConfiguration, AwsError> {
    let mut config = ImageConfiguration::default();
    if let Some(port) = string(ic, "Port", &format!("{BASE}.Port"))? {
        config.port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            AwsError::member(&format!("{BASE}.Port"), format!("{port:?} is not a port (1 to 65535)"))
        })?;
    }
    let env = string_map(ic, "RuntimeEnvironmentVariables", &format!("{BASE}.RuntimeEnvironmentVariables"))?;
    config.env = ferry_model::EnvVars::new(env)
        .map_err(|e| AwsError::member(&format!("{BASE}.RuntimeEnvironmentVariables"), e.message))?;
    let mut secrets = BTreeMap::new();
    let path = format!("{BASE}.RuntimeEnvironmentSecrets");
    for (var, reference) in string_map(ic, "RuntimeEnvironmentSecrets", &path)? {
        // A Secrets Manager or SSM ARN names the secret last; ferry's secrets are looked up by that name.
        let secret = reference.rsplit([':', '/']).next().unwrap_or(&reference);
        let secret =
            SecretName::parse(secret).map_err(|e| AwsError::member(&format!("{path}.{var}"), e.message))?;
        secrets.insert(var, secret);
    }
    config.secrets = SecretRefs::new(secrets).map_err(|e| AwsError::member(&path, e.message))?;
    config.start_command = string(ic, "StartCommand", &format!("{BASE}.StartCommand"))?.map(str::to_owned);
    Ok(config)
}

/// `InstanceConfiguration`, `HealthCheckConfiguration` and `NetworkConfiguration` onto `spec`.
pub(crate) fn rest(spec: &mut ServiceSpec, input: &Value) -> Result<(), AwsError> {
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
        // Each is 1..=20 by the range check.
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
    Ok(())
}

fn capitalise(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}
