//! From request shapes to validated model values. Every error names the field, in the request's terms.

use ferry_model::{
    Builder, CodeConfiguration, CodeRuntime, CodeSource, EnvVars, GitCredentials, HealthCheckConfiguration,
    HealthCheckProtocol, ImageConfiguration, ImageRef, ImageSource, InstanceConfiguration,
    RegistryCredentials, RequestLogs, RequestTimeout, SecretName, SecretRefs, ServiceName, ServiceSpec,
    Source, UpstreamProtocol, ValidationError, normalize_directory,
};
use std::collections::BTreeMap;

use ferry_wire::{
    CodeRepositoryInput, CodeUpdate, CreateServiceRequest, GitCredentialsInput, HealthCheckInput,
    ImageSourceInput, UpdateServiceRequest,
};

pub(crate) fn create_request(
    req: CreateServiceRequest,
) -> Result<(ServiceName, ServiceSpec), ValidationError> {
    let name = ServiceName::parse(&req.name)?;
    let source = match (req.source.image, req.source.code_repository) {
        (Some(image), None) => Source::Image(image_source(image).map_err(|e| e.under("source.image"))?),
        (None, Some(code)) => Source::Code(code_source(code).map_err(|e| e.under("source.code_repository"))?),
        (None, None) => {
            return Err(ValidationError::new(
                "source",
                "give a source: source.image (an image to run) or source.code_repository (a git repository to build)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ValidationError::new(
                "source",
                "give one source: source.image or source.code_repository, not both",
            ));
        }
    };
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
    let protocol = req.protocol.as_deref().map(UpstreamProtocol::parse).transpose()?.unwrap_or_default();
    let request_timeout = req.request_timeout.map(RequestTimeout::from_secs).transpose()?.unwrap_or_default();
    // The whole spec is validated by the command layer, whoever asks.
    let mut spec = ServiceSpec {
        source,
        instance,
        health_check,
        instances,
        autoscaling: None,
        protocol,
        request_timeout,
        private: req.is_publicly_accessible == Some(false),
        read_only_root: req.read_only_root.unwrap_or(false),
        https_redirect: req.https_redirect,
        hsts_max_age: req.hsts_max_age.map(hsts_max_age).transpose()?,
        request_logs: req.request_logs.as_deref().map(RequestLogs::parse).transpose()?.unwrap_or_default(),
        observability: None,
    };
    if let Some(on) = req.auto_deploy {
        spec.source.set_auto_deploy(on);
    }
    Ok((name, spec))
}

fn hsts_max_age(age: i64) -> Result<u32, ValidationError> {
    u32::try_from(age).ok().filter(|a| *a <= ferry_model::MAX_HSTS_MAX_AGE).ok_or_else(|| {
        ValidationError::new(
            "hsts_max_age",
            format!("{age} is not a max-age; use 0 (none) to {} seconds", ferry_model::MAX_HSTS_MAX_AGE),
        )
    })
}

fn port(p: i64) -> Result<u16, ValidationError> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ValidationError::new("port", format!("{p} is not a port; use 1 to 65535")))
}

pub(crate) fn git_credentials(c: GitCredentialsInput) -> Result<GitCredentials, ValidationError> {
    match (c.username, c.password, c.ssh_private_key) {
        (Some(username), Some(password), None) if !username.is_empty() => {
            Ok(GitCredentials::Basic { username, password })
        }
        (None, None, Some(key)) if !key.trim().is_empty() => Ok(GitCredentials::SshKey { private_key: key }),
        _ => Err(ValidationError::new(
            "credentials",
            "give either username and password (or an access token as password) for HTTPS, or ssh_private_key for SSH",
        )),
    }
}

/// The configuration source from its parts: API when asked or when a runtime is given, else REPOSITORY.
fn code_configuration(
    source: Option<&str>,
    builder: Option<&str>,
    runtime: Option<&str>,
    build_command: Option<String>,
) -> Result<CodeConfiguration, ValidationError> {
    let source = source.map(|s| s.trim().to_ascii_uppercase());
    let api = match source.as_deref() {
        Some("API") => true,
        Some("REPOSITORY") => false,
        None => runtime.is_some(),
        Some(other) => {
            return Err(ValidationError::new(
                "configuration_source",
                format!("{other:?} is not a configuration source; use REPOSITORY or API"),
            ));
        }
    };
    if api {
        if builder.is_some() {
            return Err(ValidationError::new(
                "builder",
                "a builder applies to configuration_source REPOSITORY, not API",
            ));
        }
        let runtime = runtime.ok_or_else(|| {
            ValidationError::new("runtime", "configuration_source API needs a runtime, e.g. python311")
        })?;
        let build_command = build_command.filter(|c| !c.trim().is_empty());
        return Ok(CodeConfiguration::Api { runtime: CodeRuntime::parse(runtime)?, build_command });
    }
    if runtime.is_some() || build_command.is_some() {
        return Err(ValidationError::new(
            "runtime",
            "runtime and build_command apply to configuration_source API; with REPOSITORY they come from the repository",
        ));
    }
    Ok(CodeConfiguration::Repository { builder: Builder::parse(builder.unwrap_or("auto"))? })
}

fn code_source(input: CodeRepositoryInput) -> Result<CodeSource, ValidationError> {
    let configuration = code_configuration(
        input.configuration_source.as_deref(),
        input.builder.as_deref(),
        input.runtime.as_deref(),
        input.build_command,
    )?;
    let config = ImageConfiguration {
        port: input.port.map(port).transpose()?.unwrap_or(8080),
        env: EnvVars::new(input.env)?,
        secrets: secret_refs(input.secrets)?,
        start_command: input.start_command.filter(|c| !c.trim().is_empty()),
    };
    let source = CodeSource {
        repository: input.repository_url.trim().to_owned(),
        branch: input.branch.unwrap_or_else(|| "main".to_owned()),
        source_directory: input.source_directory.as_deref().map(normalize_directory).transpose()?.flatten(),
        configuration,
        config,
        credentials: input.credentials.map(git_credentials).transpose()?,
        connection: input.connection,
        auto_deploy: true,
    };
    source.validate()?;
    Ok(source)
}

fn apply_code_update(code: &mut CodeSource, u: CodeUpdate) -> Result<(), ValidationError> {
    if let Some(url) = u.repository_url {
        code.repository = url.trim().to_owned();
    }
    if let Some(branch) = u.branch {
        code.branch = branch;
    }
    if let Some(dir) = u.source_directory {
        code.source_directory = normalize_directory(&dir)?;
    }
    if u.configuration_source.is_some()
        || u.builder.is_some()
        || u.runtime.is_some()
        || u.build_command.is_some()
    {
        // Start from what is set, then apply the changes, so `--runtime` alone keeps the build command.
        let (cur_source, cur_builder, cur_runtime, cur_build) = match &code.configuration {
            CodeConfiguration::Repository { builder } => ("REPOSITORY", Some(builder.as_str()), None, None),
            CodeConfiguration::Api { runtime, build_command } => {
                ("API", None, Some(runtime.name()), build_command.clone())
            }
        };
        let source = u.configuration_source.as_deref().or(if u.runtime.is_some() {
            Some("API")
        } else if u.builder.is_some() {
            Some("REPOSITORY")
        } else {
            Some(cur_source)
        });
        let api = source.is_some_and(|s| s.eq_ignore_ascii_case("API"));
        let builder = if api { None } else { u.builder.as_deref().or(cur_builder) };
        let runtime = if api { u.runtime.as_deref().or(cur_runtime) } else { u.runtime.as_deref() };
        let build_command = if api { u.build_command.or(cur_build) } else { u.build_command };
        code.configuration = code_configuration(source, builder, runtime, build_command)?;
    }
    if let Some(command) = u.start_command {
        code.config.start_command = Some(command).filter(|c| !c.trim().is_empty());
    }
    if let Some(p) = u.port {
        code.config.port = port(p)?;
    }
    if !u.env.is_empty() || !u.env_remove.is_empty() {
        let mut env: BTreeMap<String, String> =
            code.config.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        for name in &u.env_remove {
            env.remove(name);
        }
        env.extend(u.env);
        code.config.env = EnvVars::new(env)?;
    }
    code.config.secrets = merge_secrets(&code.config.secrets, u.secrets, &u.secrets_remove)?;
    // Credentials and a connection replace each other; both in one update is the validation's error.
    match (u.credentials, u.connection) {
        (Some(c), Some(connection)) => {
            code.credentials = Some(git_credentials(c)?);
            code.connection = Some(connection).filter(|c| !c.is_empty());
        }
        (Some(c), None) => {
            code.credentials = Some(git_credentials(c)?);
            code.connection = None;
        }
        (None, Some(connection)) if connection.is_empty() => code.connection = None,
        (None, Some(connection)) => {
            code.connection = Some(connection);
            code.credentials = None;
        }
        (None, None) => {}
    }
    code.validate()
}

/// Secret references as given: variable → a secret's name or ARN (see [`SecretName::from_reference`]).
pub(crate) fn secret_refs(input: BTreeMap<String, String>) -> Result<SecretRefs, ValidationError> {
    let mut refs = BTreeMap::new();
    for (var, reference) in input {
        let name = SecretName::from_reference(&reference)
            .map_err(|e| ValidationError::new(format!("secrets.{var}"), e.message))?;
        refs.insert(var, name);
    }
    SecretRefs::new(refs)
}

/// An update's secrets over the current ones, as `env` is updated: `set` adds or replaces, `remove`
/// removes.
fn merge_secrets(
    current: &SecretRefs,
    set: BTreeMap<String, String>,
    remove: &[String],
) -> Result<SecretRefs, ValidationError> {
    if set.is_empty() && remove.is_empty() {
        return Ok(current.clone());
    }
    let mut refs = current.clone().into_map();
    for var in remove {
        refs.remove(var);
    }
    refs.extend(secret_refs(set)?.into_map());
    SecretRefs::new(refs)
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
    if let Some(code) = req.code {
        let Source::Code(src) = &mut spec.source else {
            return Err(ValidationError::new(
                "code",
                "this service runs an image; it cannot switch to a code repository (App Runner's rule too): update `image`, or create a new service",
            ));
        };
        apply_code_update(src, code).map_err(|e| e.under("code"))?;
    }
    if let Some(image) = req.image {
        let Source::Image(src) = &mut spec.source else {
            return Err(ValidationError::new(
                "image",
                "this service is built from a code repository; it cannot switch to an image source (App Runner's rule too): update `code`, or create a new service",
            ));
        };
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
        src.config.secrets =
            merge_secrets(&src.config.secrets, image.secrets, &image.secrets_remove).map_err(err)?;
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
        src.config.validate().map_err(err)?;
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
        // A fixed count replaces scaling with the load.
        spec.autoscaling = None;
    }
    if let Some(p) = &req.protocol {
        spec.protocol = UpstreamProtocol::parse(p)?;
    }
    if let Some(t) = req.request_timeout {
        spec.request_timeout = RequestTimeout::from_secs(t)?;
    }
    if let Some(public) = req.is_publicly_accessible {
        spec.private = !public;
    }
    if let Some(read_only) = req.read_only_root {
        spec.read_only_root = read_only;
    }
    if let Some(redirect) = req.https_redirect {
        spec.https_redirect = Some(redirect);
    }
    if let Some(age) = req.hsts_max_age {
        spec.hsts_max_age = Some(hsts_max_age(age)?);
    }
    if let Some(logs) = &req.request_logs {
        spec.request_logs = RequestLogs::parse(logs)?;
    }
    if let Some(on) = req.auto_deploy {
        spec.source.set_auto_deploy(on);
    }
    // The whole spec is validated by the command layer, whoever asks.
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
    let secrets = secret_refs(input.secrets)?;
    let config = ImageConfiguration { port, env, secrets, start_command };
    config.validate()?;
    let credentials = match input.credentials {
        Some(c) if c.username.is_empty() => {
            return Err(ValidationError::new("credentials.username", "the registry user name is empty"));
        }
        Some(c) => Some(RegistryCredentials { username: c.username, password: c.password }),
        None => None,
    };
    Ok(ImageSource { image, config, credentials, auto_deploy: false })
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
