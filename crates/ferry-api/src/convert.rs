//! From request shapes to validated model values. Every error names the field, in the request's terms.

use ferry_model::{
    EnvVars, HealthCheckConfiguration, HealthCheckProtocol, ImageConfiguration, ImageRef, ImageSource,
    InstanceConfiguration, RegistryCredentials, ServiceName, ServiceSpec, ValidationError,
};
use std::collections::BTreeMap;

use ferry_wire::{CreateServiceRequest, HealthCheckInput, ImageSourceInput, UpdateServiceRequest};

pub(crate) fn create_request(
    req: CreateServiceRequest,
) -> Result<(ServiceName, ServiceSpec), ValidationError> {
    let name = ServiceName::parse(&req.name)?;
    let image = req
        .source
        .image
        .ok_or_else(|| ValidationError::new("source", "give a source: source.image with the image to run"))?;
    let source = image_source(image).map_err(|e| e.under("source.image"))?;
    let instance = match &req.instance {
        Some(i) => InstanceConfiguration::parse(i.cpu.as_deref(), i.memory.as_deref())
            .map_err(|e| e.under("instance"))?,
        None => InstanceConfiguration::default(),
    };
    let health_check = match req.health_check {
        Some(h) => {
            health_check(h, &HealthCheckConfiguration::default()).map_err(|e| e.under("health_check"))?
        }
        None => HealthCheckConfiguration::default(),
    };
    let instances = match req.instances {
        Some(n) => instance_count(n)?,
        None => 1,
    };
    let spec = ServiceSpec { source, instance, health_check, instances };
    spec.validate()?;
    Ok((name, spec))
}

fn instance_count(n: i64) -> Result<u32, ValidationError> {
    u32::try_from(n)
        .map_err(|_| ValidationError::new("instances", format!("{n} is out of range; use 1 to 25")))
}

/// The spec an update asks for: the current one with the given members changed.
pub(crate) fn update_request(
    current: &ServiceSpec,
    req: UpdateServiceRequest,
) -> Result<ServiceSpec, ValidationError> {
    let mut spec = current.clone();
    if let Some(image) = req.image {
        let src = &mut spec.source;
        let err = |e: ValidationError| e.under("image");
        if let Some(identifier) = image.identifier {
            src.image = ImageRef::parse(&identifier).map_err(|e| err(e.under("identifier")))?;
        }
        if let Some(p) = image.port {
            src.config.port = u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| {
                err(ValidationError::new("port", format!("{p} is not a port; use 1 to 65535")))
            })?;
        }
        if !image.env.is_empty() || !image.env_remove.is_empty() {
            let mut env: BTreeMap<String, String> =
                src.config.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            for name in &image.env_remove {
                env.remove(name);
            }
            env.extend(image.env);
            src.config.env = EnvVars::new(env).map_err(err)?;
        }
        if let Some(command) = image.start_command {
            src.config.start_command = Some(command).filter(|c| !c.trim().is_empty());
        }
        if let Some(c) = image.credentials {
            if c.username.is_empty() {
                return Err(err(ValidationError::new(
                    "credentials.username",
                    "the registry user name is empty",
                )));
            }
            src.credentials = Some(RegistryCredentials { username: c.username, password: c.password });
        }
    }
    if let Some(i) = req.instance {
        let cpu = i.cpu.as_deref().unwrap_or(spec.instance.cpu().label()).to_owned();
        let memory = match (&i.memory, &i.cpu) {
            (Some(m), _) => Some(m.clone()),
            // A new CPU size alone keeps the memory if the pair is valid, else takes the CPU's default.
            (None, Some(_)) => {
                let parsed = ferry_model::Cpu::parse(&cpu).map_err(|e| e.under("instance"))?;
                parsed
                    .memory_options()
                    .contains(&spec.instance.memory())
                    .then(|| spec.instance.memory().label().to_owned())
            }
            (None, None) => Some(spec.instance.memory().label().to_owned()),
        };
        spec.instance =
            InstanceConfiguration::parse(Some(&cpu), memory.as_deref()).map_err(|e| e.under("instance"))?;
    }
    if let Some(h) = req.health_check {
        spec.health_check = health_check(h, &current.health_check).map_err(|e| e.under("health_check"))?;
    }
    if let Some(n) = req.instances {
        spec.instances = instance_count(n)?;
    }
    spec.validate()?;
    Ok(spec)
}

fn image_source(input: ImageSourceInput) -> Result<ImageSource, ValidationError> {
    let image = ImageRef::parse(&input.identifier).map_err(|e| e.under("identifier"))?;
    let port = match input.port {
        None => 8080,
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ValidationError::new("port", format!("{p} is not a port; use 1 to 65535")))?,
    };
    let env = EnvVars::new(input.env)?;
    let start_command = input.start_command.filter(|c| !c.trim().is_empty());
    let config = ImageConfiguration { port, env, start_command };
    config.validate()?;
    let credentials = match input.credentials {
        Some(c) if c.username.is_empty() => {
            return Err(ValidationError::new("credentials.username", "the registry user name is empty"));
        }
        Some(c) => Some(RegistryCredentials { username: c.username, password: c.password }),
        None => None,
    };
    Ok(ImageSource { image, config, credentials })
}

/// A health check from `input`, taking what it leaves out from `defaults`.
fn health_check(
    input: HealthCheckInput,
    defaults: &HealthCheckConfiguration,
) -> Result<HealthCheckConfiguration, ValidationError> {
    let protocol = match &input.protocol {
        Some(p) => HealthCheckProtocol::parse(p)?,
        None => defaults.protocol,
    };
    let number = |field: &str, value: Option<i64>, default: u32| -> Result<u32, ValidationError> {
        match value {
            None => Ok(default),
            Some(v) => u32::try_from(v)
                .map_err(|_| ValidationError::new(field, format!("{v} is out of range; use 1 to 20"))),
        }
    };
    let grace_period = match input.grace_period {
        None => defaults.grace_period,
        Some(v) => u32::try_from(v).map_err(|_| {
            ValidationError::new("grace_period", format!("{v} is out of range; use 0 to 3600 seconds"))
        })?,
    };
    let config = HealthCheckConfiguration {
        protocol,
        path: input.path.unwrap_or_else(|| defaults.path.clone()),
        grace_period,
        interval: number("interval", input.interval, defaults.interval)?,
        timeout: number("timeout", input.timeout, defaults.timeout)?,
        healthy_threshold: number("healthy_threshold", input.healthy_threshold, defaults.healthy_threshold)?,
        unhealthy_threshold: number(
            "unhealthy_threshold",
            input.unhealthy_threshold,
            defaults.unhealthy_threshold,
        )?,
    };
    config.validate()?;
    Ok(config)
}
