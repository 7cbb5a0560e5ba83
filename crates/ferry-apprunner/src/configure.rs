//! The members `CreateService` and `UpdateService` share, put onto a ferry `ServiceSpec`. A member left
//! out leaves the spec's value as it is; an `ImageConfiguration` (or a `CodeConfiguration`, `code.rs`)
//! that is given replaces the source's whole configuration (members it leaves out take their defaults),
//! as App Runner's `UpdateService` does.

use std::collections::BTreeMap;

use ferry_model::{
    HealthCheckProtocol, ImageConfiguration, ImageRef, InstanceConfiguration, SecretName, SecretRefs,
    ServiceSpec, Source,
};
use serde_json::Value;

use crate::code::CodeInput;
use crate::error::AwsError;
use crate::operations::{boolean, integer, object, required, string, string_map};

const BASE: &str = "SourceConfiguration.ImageRepository.ImageConfiguration";
const AUTH: &str = "SourceConfiguration.AuthenticationConfiguration";

/// `SourceConfiguration` as given, checked member by member. Its connection is still an ARN: the caller
/// looks it up (`connections::usable`) and hands its name to [`SourceInput::spec`] or
/// [`SourceInput::apply`].
#[derive(Debug, Clone)]
pub(crate) struct SourceInput {
    pub repository: Repository,
    /// `AutoDeploymentsEnabled`, if given.
    pub auto: Option<bool>,
    /// `AuthenticationConfiguration.ConnectionArn`, if given (code repositories only).
    pub connection_arn: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Repository {
    /// The image and, if given, its whole configuration.
    Image {
        image: ImageRef,
        config: Option<ImageConfiguration>,
    },
    Code(CodeInput),
}

/// `SourceConfiguration`: exactly one of `ImageRepository` and `CodeRepository`.
/// `AuthenticationConfiguration.AccessRoleArn` is accepted and ignored: IAM roles mean nothing here, and
/// ferry pulls with the registry credentials it has.
pub(crate) fn source(source: &Value) -> Result<SourceInput, AwsError> {
    let code = object(source, "CodeRepository", "SourceConfiguration.CodeRepository")?;
    let image = object(source, "ImageRepository", "SourceConfiguration.ImageRepository")?;
    let mut connection_arn = None;
    if let Some(auth) = object(source, "AuthenticationConfiguration", AUTH)? {
        string(auth, "AccessRoleArn", &format!("{AUTH}.AccessRoleArn"))?;
        connection_arn = string(auth, "ConnectionArn", &format!("{AUTH}.ConnectionArn"))?.map(str::to_owned);
    }
    let repository = match (code, image) {
        (Some(_), Some(_)) => {
            return Err(AwsError::member(
                "SourceConfiguration",
                "give either ImageRepository or CodeRepository, not both",
            ));
        }
        (Some(code), None) => Repository::Code(CodeInput::parse(code)?),
        (None, image) => {
            let repo = image
                .ok_or_else(|| AwsError::member("SourceConfiguration.ImageRepository", "is required"))?;
            if connection_arn.is_some() {
                return Err(AwsError::member(
                    &format!("{AUTH}.ConnectionArn"),
                    "a connection fetches a code repository; an ImageRepository takes none (leave it out)",
                ));
            }
            image_repository(repo)?
        }
    };
    let auto = boolean(source, "AutoDeploymentsEnabled", "SourceConfiguration.AutoDeploymentsEnabled")?;
    Ok(SourceInput { repository, auto, connection_arn })
}

impl SourceInput {
    /// A new service's spec: this source, App Runner's defaults for the rest. `connection`: the name of
    /// the connection `connection_arn` names.
    pub(crate) fn spec(&self, connection: Option<&str>) -> Result<ServiceSpec, AwsError> {
        let mut spec = match &self.repository {
            Repository::Image { image, config } => {
                let mut spec = ServiceSpec::for_image(image.clone());
                if let Some(config) = config {
                    *spec.source.config_mut() = config.clone();
                }
                spec
            }
            Repository::Code(code) => ServiceSpec::for_source(Source::Code(code.create(connection)?)),
        };
        if let Some(on) = self.auto {
            spec.source.set_auto_deploy(on);
        }
        Ok(spec)
    }

    /// Puts this source over a service's. App Runner cannot switch a service between an image and a
    /// code repository, and neither does this API.
    pub(crate) fn apply(&self, source: &mut Source, connection: Option<&str>) -> Result<(), AwsError> {
        match (&self.repository, &mut *source) {
            (Repository::Image { image, config }, Source::Image(current)) => {
                current.image = image.clone();
                if let Some(config) = config {
                    current.config = config.clone();
                }
            }
            (Repository::Code(code), Source::Code(current)) => code.apply(current, connection),
            (Repository::Image { .. }, Source::Code(_)) => {
                return Err(AwsError::member(
                    "SourceConfiguration.ImageRepository",
                    "this service builds from a code repository; a service cannot switch between a code \
                     repository and an image (as in App Runner): give a CodeRepository, or create another service",
                ));
            }
            (Repository::Code(_), Source::Image(_)) => {
                return Err(AwsError::member(
                    "SourceConfiguration.CodeRepository",
                    "this service runs an image; a service cannot switch between an image and a code \
                     repository (as in App Runner): give an ImageRepository, or create another service",
                ));
            }
        }
        if let Some(on) = self.auto {
            source.set_auto_deploy(on);
        }
        Ok(())
    }
}

fn image_repository(repo: &Value) -> Result<Repository, AwsError> {
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
    let config = object(repo, "ImageConfiguration", BASE)?
        .map(|ic| {
            let mut config = configuration_values(ic, BASE)?;
            config.start_command =
                string(ic, "StartCommand", &format!("{BASE}.StartCommand"))?.map(str::to_owned);
            Ok::<_, AwsError>(config)
        })
        .transpose()?;
    Ok(Repository::Image { image, config })
}

/// `Port`, `RuntimeEnvironmentVariables` and `RuntimeEnvironmentSecrets`, which an `ImageConfiguration`
/// and a `CodeConfigurationValues` (both at `base`) share; the start command is the caller's.
pub(crate) fn configuration_values(ic: &Value, base: &str) -> Result<ImageConfiguration, AwsError> {
    let mut config = ImageConfiguration::default();
    if let Some(port) = string(ic, "Port", &format!("{base}.Port"))? {
        config.port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            AwsError::member(&format!("{base}.Port"), format!("{port:?} is not a port (1 to 65535)"))
        })?;
    }
    let env = string_map(ic, "RuntimeEnvironmentVariables", &format!("{base}.RuntimeEnvironmentVariables"))?;
    config.env = ferry_model::EnvVars::new(env).map_err(|e| {
        // The model names a variable whose value is wrong (`env.NAME`): so does the member's path.
        let var = e.field.strip_prefix("env.").map(|v| format!(".{v}")).unwrap_or_default();
        AwsError::member(&format!("{base}.RuntimeEnvironmentVariables{var}"), e.message)
    })?;
    let mut secrets = BTreeMap::new();
    let path = format!("{base}.RuntimeEnvironmentSecrets");
    for (var, reference) in string_map(ic, "RuntimeEnvironmentSecrets", &path)? {
        // A secret's name, or a Secrets Manager or SSM ARN naming it, as everywhere in ferry.
        let secret = SecretName::from_reference(&reference)
            .map_err(|e| AwsError::member(&format!("{path}.{var}"), e.message))?;
        secrets.insert(var, secret);
    }
    config.secrets = SecretRefs::new(secrets).map_err(|e| AwsError::member(&path, e.message))?;
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
            && let Some(public) = boolean(
                ingress,
                "IsPubliclyAccessible",
                "NetworkConfiguration.IngressConfiguration.IsPubliclyAccessible",
            )?
        {
            spec.private = !public;
        }
        // ferry's router answers on the addresses it listens on (`--http-listen`, `--https-listen`), the
        // same for every service.
        if let Some(kind) =
            string(network, "IpAddressType", "NetworkConfiguration.IpAddressType")?.filter(|k| *k != "IPV4")
        {
            return Err(AwsError::member(
                "NetworkConfiguration.IpAddressType",
                format!(
                    "{kind} is not chosen per service in ferry: the router answers on the addresses it \
                     listens on (ferry server --http-listen, e.g. [::]:80 for IPv6 too); leave it out or use IPV4"
                ),
            ));
        }
    }
    Ok(())
}

fn capitalise(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}
