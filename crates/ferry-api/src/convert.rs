//! From request shapes to validated model values. Every error names the field, in the request's terms.

use ferry_model::{
    EnvVars, HealthCheckConfiguration, HealthCheckProtocol, ImageConfiguration, ImageRef, ImageSource,
    InstanceConfiguration, RegistryCredentials, ServiceName, ServiceSpec, ValidationError,
};
use ferry_wire::{CreateServiceRequest, HealthCheckInput, ImageSourceInput};

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
        Some(h) => health_check(h).map_err(|e| e.under("health_check"))?,
        None => HealthCheckConfiguration::default(),
    };
    let instances = match req.instances {
        Some(n) => u32::try_from(n)
            .map_err(|_| ValidationError::new("instances", format!("{n} is out of range; use 1 to 25")))?,
        None => 1,
    };
    let spec = ServiceSpec { source, instance, health_check, instances };
    spec.validate()?;
    Ok((name, spec))
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

fn health_check(input: HealthCheckInput) -> Result<HealthCheckConfiguration, ValidationError> {
    let defaults = HealthCheckConfiguration::default();
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
    let config = HealthCheckConfiguration {
        protocol,
        path: input.path.unwrap_or(defaults.path),
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
