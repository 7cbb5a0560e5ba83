//! A service, its desired configuration, and the revisions a deployment makes of it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::scaling::AutoScaling;
use crate::watch::SourceVersion;
use crate::{
    CodeSource, HealthCheckConfiguration, ImageRef, InstanceConfiguration, RegistryCredentials, RequestLogs,
    RequestTimeout, SecretRefs, ServiceId, Timestamp, UpstreamProtocol, ValidationError,
};

/// The most instances one service may run. App Runner's default `MaxSize` is 25.
pub const MAX_INSTANCES: u32 = 25;

/// A service name: 1 to 40 characters, `[A-Za-z0-9][A-Za-z0-9-_]{0,39}`.
///
/// This is App Runner's rule with one deliberate difference: App Runner wants at least 4 characters,
/// ferry takes shorter names too, because the name is also the host name and `web` or `api` are the
/// names people give their services.
///
/// Names are unique among live services regardless of case, because the name is also the host name
/// (`<name>.<domain>`) the router serves, and host names are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceName(String);

impl ServiceName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bytes = s.as_bytes();
        let ok = (1..=40).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "name",
                format!(
                    "{s:?} is not a valid service name; use 1 to 40 letters, digits, '-' or '_', \
                     starting with a letter or digit"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The label this service answers to under the router's domain: the name in lower case.
    pub fn host_label(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl TryFrom<String> for ServiceName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ServiceName> for String {
    fn from(n: ServiceName) -> String {
        n.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// App Runner's six service statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceStatus {
    CreateFailed,
    Running,
    Deleted,
    DeleteFailed,
    Paused,
    OperationInProgress,
}

impl ServiceStatus {
    pub const ALL: [ServiceStatus; 6] = [
        Self::CreateFailed,
        Self::Running,
        Self::Deleted,
        Self::DeleteFailed,
        Self::Paused,
        Self::OperationInProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateFailed => "CREATE_FAILED",
            Self::Running => "RUNNING",
            Self::Deleted => "DELETED",
            Self::DeleteFailed => "DELETE_FAILED",
            Self::Paused => "PAUSED",
            Self::OperationInProgress => "OPERATION_IN_PROGRESS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runtime environment variables, sorted by name. `PORT` is reserved: ferry always sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvVars(BTreeMap<String, String>);

impl EnvVars {
    pub const MAX_LEN: usize = 51_200;

    pub fn new(vars: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        for (name, value) in &vars {
            check_env_name(name)?;
            if value.len() > Self::MAX_LEN || value.contains('\0') {
                return Err(ValidationError::new(
                    format!("env.{name}"),
                    "a value is at most 51200 characters and cannot contain NUL",
                ));
            }
        }
        Ok(Self(vars))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The rules for an environment variable's name, for `env` and `secrets` alike (the error's field is
/// `env.<name>`).
pub(crate) fn check_env_name(name: &str) -> Result<(), ValidationError> {
    if name.is_empty() || name.len() > EnvVars::MAX_LEN {
        return Err(ValidationError::new("env", "variable names are 1 to 51200 characters"));
    }
    if name.contains('=') {
        return Err(ValidationError::new(
            format!("env.{name}"),
            "a variable name cannot contain '='; pass NAME=VALUE with the name before the first '='",
        ));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ValidationError::new(
            format!("env.{}", name.escape_debug()),
            "a variable name cannot contain spaces or control characters; use letters, digits and '_', \
             e.g. DATABASE_URL",
        ));
    }
    if name == "PORT" {
        return Err(ValidationError::new(
            "env.PORT",
            "PORT is reserved: ferry sets it to the service's port; set the port instead",
        ));
    }
    Ok(())
}

/// How to run an image: App Runner's `ImageConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfiguration {
    /// The port the app listens on, also given to it as `PORT`. Default 8080.
    pub port: u16,
    pub env: EnvVars,
    /// Variables whose values are secrets, read from the store when an instance starts (App Runner's
    /// `RuntimeEnvironmentSecrets`). Configurations stored before it existed have none.
    #[serde(default)]
    pub secrets: SecretRefs,
    /// Replaces the image's command (its `CMD`; the `ENTRYPOINT` stays), split as a shell would.
    pub start_command: Option<String>,
}

impl Default for ImageConfiguration {
    fn default() -> Self {
        Self { port: 8080, env: EnvVars::default(), secrets: SecretRefs::default(), start_command: None }
    }
}

impl ImageConfiguration {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.port == 0 {
            return Err(ValidationError::new("port", "0 is not a port; use 1 to 65535"));
        }
        if let Some((name, _)) = self.secrets.iter().find(|(name, _)| self.env.get(name).is_some()) {
            return Err(ValidationError::new(
                format!("secrets.{name}"),
                format!("{name} is both a variable (env) and a secret (secrets); keep one"),
            ));
        }
        if let Some(command) = &self.start_command {
            self.parse_start_command(command)?;
        }
        Ok(())
    }

    /// The start command as an argument vector, or `None` to keep the image's own.
    pub fn start_argv(&self) -> Option<Vec<String>> {
        self.start_command.as_deref().and_then(|c| self.parse_start_command(c).ok())
    }

    fn parse_start_command(&self, command: &str) -> Result<Vec<String>, ValidationError> {
        if command.contains(['\n', '\r']) {
            return Err(ValidationError::new("start_command", "the start command must be a single line"));
        }
        if command.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ValidationError::new(
                "start_command",
                "the start command cannot contain control characters (such as NUL)",
            ));
        }
        let argv = shell_words::split(command).map_err(|e| {
            ValidationError::new("start_command", format!("{command:?} cannot be split into arguments: {e}"))
        })?;
        if argv.is_empty() {
            return Err(ValidationError::new(
                "start_command",
                "the start command is empty; leave it out instead",
            ));
        }
        Ok(argv)
    }
}

/// A container image to run, from any registry: App Runner's `ImageRepository`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    pub image: ImageRef,
    pub config: ImageConfiguration,
    /// For a private registry. Never returned by the API.
    pub credentials: Option<RegistryCredentials>,
    /// Deploy each new digest pushed under the tag (App Runner's `AutoDeploymentsEnabled`; off by default
    /// for images, as there).
    #[serde(default)]
    pub auto_deploy: bool,
}

/// Where a service's code comes from: App Runner's `SourceConfiguration`, exactly one of the two.
/// A service cannot switch from one kind to the other (App Runner's rule too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    Image(ImageSource),
    Code(CodeSource),
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Image(_) => "image",
            Source::Code(_) => "code repository",
        }
    }

    /// The port, environment and start command as configured (for code, before the build reads the
    /// repository's own settings).
    pub fn config(&self) -> &ImageConfiguration {
        match self {
            Source::Image(i) => &i.config,
            Source::Code(c) => &c.config,
        }
    }

    pub fn config_mut(&mut self) -> &mut ImageConfiguration {
        match self {
            Source::Image(i) => &mut i.config,
            Source::Code(c) => &mut c.config,
        }
    }

    pub fn image(&self) -> Option<&ImageSource> {
        match self {
            Source::Image(i) => Some(i),
            Source::Code(_) => None,
        }
    }

    pub fn code(&self) -> Option<&CodeSource> {
        match self {
            Source::Code(c) => Some(c),
            Source::Image(_) => None,
        }
    }

    /// Whether a push to the watched branch, or a new digest under the watched tag, deploys by itself.
    pub fn auto_deploy(&self) -> bool {
        match self {
            Source::Image(i) => i.auto_deploy,
            Source::Code(c) => c.auto_deploy,
        }
    }

    pub fn set_auto_deploy(&mut self, on: bool) {
        match self {
            Source::Image(i) => i.auto_deploy = on,
            Source::Code(c) => c.auto_deploy = on,
        }
    }
}

/// Everything a user configures about a service; each deployment freezes one into a [`Revision`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub source: Source,
    pub instance: InstanceConfiguration,
    pub health_check: HealthCheckConfiguration,
    /// How many instances run, 1 to [`MAX_INSTANCES`], when the service does not scale by itself.
    pub instances: u32,
    /// Scaling with the load, between a minimum and a maximum (App Runner's auto scaling configuration);
    /// `None`: a fixed `instances`. Specs stored before it existed are fixed.
    #[serde(default)]
    pub autoscaling: Option<AutoScaling>,
    /// What the router speaks to the instances. Specs stored before it existed are HTTP/1.1.
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// How long an instance may take to start answering. Specs stored before it existed get the default.
    #[serde(default)]
    pub request_timeout: RequestTimeout,
    /// Not routed from the public listeners: reachable only from other services, through the router's
    /// internal listener (App Runner's `IsPubliclyAccessible: false`). Specs stored before it are public.
    #[serde(default)]
    pub private: bool,
    /// The container's root filesystem is read-only (a small in-memory `/tmp` is writable).
    #[serde(default)]
    pub read_only_root: bool,
    /// Whether plain HTTP requests for its hosts that have a certificate are redirected to HTTPS; `None`:
    /// as the server's `--https-redirect` says.
    #[serde(default)]
    pub https_redirect: Option<bool>,
    /// `Strict-Transport-Security`'s max-age on its HTTPS responses (0: none); `None`: the server's.
    #[serde(default)]
    pub hsts_max_age: Option<u32>,
    /// Which requests get a line in the service's request log. Specs stored before it have none.
    #[serde(default)]
    pub request_logs: RequestLogs,
    /// The observability configuration revision the service is associated with (App Runner's
    /// `ObservabilityConfiguration`). ferry has no tracing backend: it is recorded and reported only.
    #[serde(default)]
    pub observability: Option<ObservabilityRef>,
}

/// A named observability configuration's revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObservabilityRef {
    pub name: String,
    pub revision: u32,
}

/// The longest HSTS max-age ferry sends: two years, what browsers' preload lists ask for.
pub const MAX_HSTS_MAX_AGE: u32 = 63_072_000;

impl ServiceSpec {
    /// The connection whose credentials fetch the source, when it is a repository that names one.
    pub fn connection(&self) -> Option<&str> {
        self.source.code().and_then(|c| c.connection.as_deref())
    }

    /// A spec with App Runner's defaults for everything but the image.
    pub fn for_image(image: ImageRef) -> Self {
        Self::for_source(Source::Image(ImageSource {
            image,
            config: ImageConfiguration::default(),
            credentials: None,
            auto_deploy: false,
        }))
    }

    /// A spec with App Runner's defaults for everything but the source.
    pub fn for_source(source: Source) -> Self {
        Self {
            source,
            instance: InstanceConfiguration::default(),
            health_check: HealthCheckConfiguration::default(),
            instances: 1,
            autoscaling: None,
            protocol: UpstreamProtocol::default(),
            request_timeout: RequestTimeout::default(),
            private: false,
            read_only_root: false,
            https_redirect: None,
            hsts_max_age: None,
            request_logs: RequestLogs::Off,
            observability: None,
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(age) = self.hsts_max_age
            && age > MAX_HSTS_MAX_AGE
        {
            return Err(ValidationError::new(
                "hsts_max_age",
                format!("{age} is more than two years; use 0 to {MAX_HSTS_MAX_AGE} seconds"),
            ));
        }
        match &self.source {
            Source::Image(i) => i.config.validate().map_err(|e| e.under("source.image"))?,
            Source::Code(c) => c.validate().map_err(|e| e.under("source.code_repository"))?,
        }
        self.health_check.validate().map_err(|e| e.under("health_check"))?;
        if let Some(scaling) = &self.autoscaling {
            scaling.validate().map_err(|e| e.under("autoscaling"))?;
        }
        if !(1..=MAX_INSTANCES).contains(&self.instances) {
            return Err(ValidationError::new(
                "instances",
                format!("{} is out of range; use 1 to {MAX_INSTANCES}", self.instances),
            ));
        }
        Ok(())
    }
}

/// One deployed version of a service: the spec as it was, and the image digest the tag resolved to.
/// Revisions are numbered from 1 per service and never change once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub service_id: ServiceId,
    pub number: u32,
    pub spec: ServiceSpec,
    /// The registry's manifest digest (`sha256:…`) the tag resolved to, known once the image is pulled.
    pub image_digest: Option<String>,
    /// The engine's id of the pulled image: exactly what the instances run.
    pub image_id: Option<String>,
    pub created_at: Timestamp,
    /// When it last became the revision serving traffic; `None` if it never did.
    pub activated_at: Option<Timestamp>,
    /// Its image was removed from the engine to save disk; a rollback to it pulls it again by digest.
    pub image_pruned: bool,
    /// For a code source: what its build made, once built.
    pub build: Option<Build>,
    /// For a code source: the commit a push named, which its build checks out instead of the branch's
    /// newest (so a push deploys exactly what was pushed).
    pub source_commit: Option<String>,
}

impl Revision {
    /// A new revision, not yet pulled, built or served.
    pub fn new(service_id: ServiceId, number: u32, spec: ServiceSpec, created_at: Timestamp) -> Self {
        Self {
            service_id,
            number,
            spec,
            image_digest: None,
            image_id: None,
            created_at,
            activated_at: None,
            image_pruned: false,
            build: None,
            source_commit: None,
        }
    }

    /// What this revision runs of its watched source: the commit it builds (pinned, or checked out by its
    /// build) or the digest its tag resolved to; `None` until that is known.
    pub fn source_version(&self) -> Option<SourceVersion> {
        match &self.spec.source {
            Source::Image(_) => self.image_digest.clone().map(SourceVersion::Digest),
            Source::Code(_) => self
                .source_commit
                .clone()
                .or_else(|| self.build.as_ref().map(|b| b.commit.clone()))
                .map(SourceVersion::Commit),
        }
    }

    /// The references ferry itself put on the engine for this revision's image: `name@digest` for an image
    /// pulled by its digest, and for code the tag its build got (plus `name@digest` of that tag when it
    /// was pushed to a build registry and may have been pulled back by digest). Pruning removes only
    /// these: never the image by id, so a tag someone else made on the same image stays.
    pub fn engine_references(&self) -> Vec<String> {
        match (&self.spec.source, &self.build) {
            (Source::Image(source), _) => {
                self.image_digest.iter().map(|d| format!("{}@{d}", source.image.name())).collect()
            }
            (Source::Code(_), Some(build)) => {
                let mut refs = vec![build.image.clone()];
                if let (Some(digest), Ok(image)) = (&self.image_digest, ImageRef::parse(&build.image)) {
                    refs.push(format!("{}@{digest}", image.name()));
                }
                refs
            }
            (Source::Code(_), None) => Vec::new(),
        }
    }

    /// How its instances run: the image source's configuration, or what the build resolved for code
    /// (`None` for code not built yet).
    pub fn run_config(&self) -> Option<&ImageConfiguration> {
        match &self.spec.source {
            Source::Image(i) => Some(&i.config),
            Source::Code(_) => self.build.as_ref().map(|b| &b.run),
        }
    }
}

/// What building a revision's code made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// The commit built (40 hex digits).
    pub commit: String,
    /// The image it was tagged as (`ferry-build/<service>:<commit>`, or in the build registry).
    pub image: String,
    /// What built it, for people: `apprunner.yaml (python311, revised build)`, `Dockerfile`, `detected: python`.
    pub builder: String,
    /// The port, environment and start command the instances get.
    pub run: ImageConfiguration,
}

/// A service as stored: its identity, status, desired spec and the revision serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub name: ServiceName,
    pub status: ServiceStatus,
    pub spec: ServiceSpec,
    /// The revision that serves traffic (or last did, when paused or failed).
    pub active_revision: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_app_runner() {
        for ok in ["web", "a", "web1", "my-app_2", "A123", &"a".repeat(40)] {
            assert!(ServiceName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-web", "_web", "my.app", "my app", &"a".repeat(41), "wéb1", "web/x"] {
            let e = ServiceName::parse(bad).unwrap_err();
            assert_eq!(e.field, "name");
            assert!(e.message.contains("1 to 40"), "{}", e.message);
        }
        assert_eq!(ServiceName::parse("My-App").unwrap().host_label(), "my-app");
    }

    #[test]
    fn port_is_reserved_and_env_names_are_checked() {
        let mut vars = BTreeMap::new();
        vars.insert("PORT".to_owned(), "1".to_owned());
        assert_eq!(EnvVars::new(vars).unwrap_err().field, "env.PORT");
        let mut vars = BTreeMap::new();
        vars.insert(String::new(), "1".to_owned());
        assert!(EnvVars::new(vars).is_err());
        for bad in ["MY VAR", "TAB\tNAME", "NUL\0", "BELL\u{7}", " LEADING"] {
            let vars = BTreeMap::from([(bad.to_owned(), "1".to_owned())]);
            let e = EnvVars::new(vars).unwrap_err();
            assert!(e.message.contains("spaces or control characters"), "{bad:?}: {e}");
            assert!(!e.field.contains('\0'), "the field is printable: {:?}", e.field);
        }
        let vars = BTreeMap::from([("A".to_owned(), "x\0y".to_owned())]);
        assert_eq!(EnvVars::new(vars).unwrap_err().field, "env.A");
        let mut vars = BTreeMap::new();
        vars.insert("GREETING".to_owned(), "hello world".to_owned());
        assert_eq!(EnvVars::new(vars).unwrap().get("GREETING"), Some("hello world"));
    }

    #[test]
    fn spec_validation_names_the_nested_field() {
        let mut spec = ServiceSpec::for_image(ImageRef::parse("web").unwrap());
        assert!(spec.validate().is_ok());
        spec.source.config_mut().port = 0;
        assert_eq!(spec.validate().unwrap_err().field, "source.image.port");
        spec.source.config_mut().port = 8080;
        spec.source.config_mut().start_command = Some("serve 'unclosed".into());
        assert_eq!(spec.validate().unwrap_err().field, "source.image.start_command");
        spec.source.config_mut().start_command = Some("/bin/app\0 --evil".into());
        let e = spec.validate().unwrap_err();
        assert_eq!(e.field, "source.image.start_command");
        assert!(e.message.contains("control characters"), "{e}");
        spec.source.config_mut().start_command = Some("/bin/app --listen 0.0.0.0 'two words'".into());
        assert_eq!(
            spec.source.config().start_argv().unwrap(),
            ["/bin/app", "--listen", "0.0.0.0", "two words"]
        );
        spec.instances = 26;
        assert_eq!(spec.validate().unwrap_err().field, "instances");
    }

    #[test]
    fn specs_stored_before_protocol_and_request_timeout_get_the_defaults() {
        let mut stored =
            serde_json::to_value(ServiceSpec::for_image(ImageRef::parse("web").unwrap())).unwrap();
        let fields = stored.as_object_mut().unwrap();
        fields.remove("protocol").unwrap();
        fields.remove("request_timeout").unwrap();
        let spec: ServiceSpec = serde_json::from_value(stored).unwrap();
        assert_eq!(spec.protocol, UpstreamProtocol::Http1);
        assert_eq!(spec.request_timeout.secs(), 300);
    }

    #[test]
    fn status_strings_are_app_runners() {
        for s in ServiceStatus::ALL {
            assert_eq!(ServiceStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
