//! The JSON shapes of ferry's native REST API under `/v1`.
//!
//! These are the wire contract: field names here are what clients depend on, so they change only by
//! addition. The server converts between these and `ferry-model`'s types; nothing in the model is ever
//! serialised to the wire directly. Times are RFC 3339 strings in UTC.
//!
//! Inputs are deliberately loose (optional fields, strings for sizes, wide integers for ports) so that a
//! wrong value reaches the server's validation and gets an error that names the field and the allowed
//! values, rather than a generic decoding error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod access_keys;
mod connections;
mod metrics;
mod secrets;
mod tokens;
pub use access_keys::{AccessKeyList, AccessKeyView, CreateAccessKeyRequest};
pub use connections::{
    ConnectionCredentialsRequest, ConnectionList, ConnectionView, CreateConnectionRequest,
};
pub use metrics::{MetricsPoint, MetricsView};
pub use secrets::{SecretList, SecretSetView, SecretView, SetSecretRequest};
pub use tokens::{CreateTokenRequest, TokenList, TokenView};

/// `POST /v1/services`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceRequest {
    /// 1 to 40 letters, digits, `-` or `_`, starting with a letter or digit. Also the host name label.
    pub name: String,
    pub source: SourceInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckInput>,
    /// How many instances run (1 to 25). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i64>,
    /// What ferry's router speaks to the instances: `http1` (default) or `http2` (HTTP/2 cleartext with prior
    /// knowledge, h2c: for gRPC servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Seconds an instance may take to start answering a request (its response head), 1 to 3600, default 300;
    /// then the client gets 504. Streaming bodies, server-sent events and WebSockets are never cut by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<i64>,
    /// Routed from the public listeners (default), or `false`: reachable only from other services, through
    /// the router's internal listener (App Runner's `IsPubliclyAccessible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_publicly_accessible: Option<bool>,
    /// The containers' root filesystem read-only (a small in-memory `/tmp` writable). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root: Option<bool>,
    /// Redirect plain HTTP to HTTPS for its hosts that have a certificate; unset: the server's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    /// `Strict-Transport-Security` max-age on its HTTPS responses, 0 (none) to 63072000; unset: the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<i64>,
    /// A line per request in the service's request log: `on`, `off` (the default) or `1/N` (one request in N,
    /// N from 2 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_logs: Option<String>,
    /// Deploy each commit pushed to the branch, or each new digest pushed under the image tag, by itself
    /// (App Runner's `AutoDeploymentsEnabled`). Default: on for a code repository, off for an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_deploy: Option<bool>,
    /// Scale with the load: the name of an auto scaling configuration (its latest revision), or values for
    /// this service alone. Default: the default configuration. `instances` instead fixes the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoScalingInput>,
}

/// How a service scales: a named configuration, or values of its own (members left out come from the
/// default configuration).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoScalingInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// Requests one instance takes at once, 1 to 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<i64>,
    /// 0 (scale to zero) to 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<i64>,
    /// 1 to 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
}

/// `POST /v1/autoscaling`: a new configuration, or the next revision of one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoScalingRequest {
    /// 4 to 32 letters, digits, `-` or `_`.
    pub name: String,
    /// Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<i64>,
    /// Default 1; 0 scales to zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<i64>,
    /// Default 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
}

/// An auto scaling configuration's revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AutoScalingView {
    pub name: String,
    pub revision: u32,
    pub arn: String,
    pub max_concurrency: u32,
    pub min_size: u32,
    pub max_size: u32,
    pub created_at: String,
    /// New services get this configuration.
    pub is_default: bool,
    /// The live services that use this revision.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AutoScalingList {
    pub configurations: Vec<AutoScalingView>,
}

/// Where the service's code comes from. Exactly one member is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSourceInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_repository: Option<CodeRepositoryInput>,
}

/// A git repository to build from, on any host (App Runner's `CodeRepository`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRepositoryInput {
    /// `https://…`, `ssh://…`, `git@host:path`, `file://…` or an absolute path on the server.
    pub repository_url: String,
    /// The branch each deployment builds the latest commit of. Default `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The directory to build, for monorepos. Default: the repository's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_directory: Option<String>,
    /// `REPOSITORY` (read apprunner.yaml, a Dockerfile, or detect; the default) or `API` (use `runtime`,
    /// `build_command` and `start_command`; the default when `runtime` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_source: Option<String>,
    /// With `REPOSITORY`: force a builder (`auto`, `apprunner`, `dockerfile`, `python`, `nodejs`, `go`,
    /// `rust`, `ruby`, `php`, `static`). Default `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// With `API`: an App Runner runtime (`python311` or `PYTHON_311`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
    /// Overrides the start command of whatever builds the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    /// The port the app listens on, unless apprunner.yaml says. Default 8080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Runtime environment variables (on top of apprunner.yaml's `run.env`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Variables whose values are secrets: variable name → secret name (or a Secrets Manager / SSM
    /// parameter ARN, of which the name is taken). App Runner's `RuntimeEnvironmentSecrets`, on top of apprunner.yaml's `run.secrets`. Each secret
    /// must exist (`PUT /v1/secrets/{name}`); its value is read when an instance starts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Credentials for a private repository: give these, or `connection`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<GitCredentialsInput>,
    /// The connection (`/v1/connections`) whose credentials fetch the repository; read at each build, so
    /// new credentials apply without updating the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

/// Either `username` and `password` (or an access token) for HTTPS, or `ssh_private_key` for SSH.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GitCredentialsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_private_key: Option<String>,
}

/// A container image from any registry (App Runner's `ImageRepository` + `ImageConfiguration`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSourceInput {
    /// An OCI reference: `[registry[:port]/]repository[:tag][@digest]`.
    pub identifier: String,
    /// The port the app listens on, 1 to 65535; also set as `PORT`. Default 8080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Runtime environment variables. `PORT` is reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Variables whose values are secrets: variable name → secret name (or a Secrets Manager / SSM
    /// parameter ARN, of which the name is taken). App Runner's `RuntimeEnvironmentSecrets`. Each secret
    /// must exist (`PUT /v1/secrets/{name}`); its value is read when an instance starts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Replaces the image's command; split as a shell would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    /// Credentials for a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<RegistryCredentialsInput>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredentialsInput {
    pub username: String,
    pub password: String,
}

/// Instance size, in App Runner's spellings (`1 vCPU` or `1024`; `2 GB` or `2048`). Only App Runner's
/// pairs are accepted; a missing value is filled from the other.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// App Runner's `HealthCheckConfiguration`; every member optional, with App Runner's defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckInput {
    /// `TCP` (default) or `HTTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// HTTP only; default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Seconds between checks, 1–20, default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Seconds per check, 1–20, default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Passes in a row to become healthy, 1–20, default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<i64>,
    /// Failures in a row to become unhealthy, 1–20, default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<i64>,
    /// Seconds after an instance starts during which failed checks do not count, 0–3600, default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<i64>,
}

/// `PATCH /v1/services/{name}`: changes the configuration and deploys it as a new revision. Only the
/// members given change; everything else stays as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceRequest {
    /// For a service built from an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageUpdate>,
    /// For a service built from a code repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceInput>,
    /// Members given replace the current ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i64>,
    /// `http1` or `http2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Seconds, 1 to 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<i64>,
    /// Public (routed from the public listeners) or private (only from other services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_publicly_accessible: Option<bool>,
    /// The containers' root filesystem read-only (a small in-memory `/tmp` writable). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root: Option<bool>,
    /// Redirect plain HTTP to HTTPS for its hosts that have a certificate; unset: the server's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    /// `Strict-Transport-Security` max-age on its HTTPS responses, 0 (none) to 63072000; unset: the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<i64>,
    /// A line per request in the service's request log: `on`, `off` (the default) or `1/N` (one request in N,
    /// N from 2 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_logs: Option<String>,
    /// Automatic deployments on push, on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_deploy: Option<bool>,
    /// Scale with the load (a configuration, or values; members left out stay as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoScalingInput>,
}

/// Changes to the image source. `env` sets (adds or replaces) variables, `env_remove` removes them
/// (`secrets` and `secrets_remove` likewise for secret variables);
/// an empty `start_command` goes back to the image's own command.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_remove: Vec<String>,
    /// Sets (adds or replaces) secret variables: variable name → secret name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Removes secret variables by variable name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets_remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<RegistryCredentialsInput>,
}

/// Changes to a code repository source; members left out stay. An empty `start_command` or
/// `build_command` clears it; an empty `source_directory` means the repository's root.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_remove: Vec<String>,
    /// Sets (adds or replaces) secret variables: variable name → secret name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Removes secret variables by variable name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets_remove: Vec<String>,
    /// New credentials for the repository; they replace a connection the service used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<GitCredentialsInput>,
    /// Build with this connection's credentials from now on (they replace the service's own); `""`
    /// stops using one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

/// `POST /v1/services/{name}/rollback`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The revision to go back to (a number from 1); default: the one that served before the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// One deployed version of a service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevisionView {
    pub number: u32,
    /// The image reference as given (tag).
    pub image: String,
    /// What the tag resolved to when it was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    pub created_at: String,
    /// When it last started serving; absent if it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
    /// It serves traffic now.
    pub serving: bool,
    /// Its image was removed from the engine to save disk (a rollback pulls it again by digest).
    pub image_pruned: bool,
    pub port: u16,
    pub cpu: String,
    pub memory: String,
    pub instances: u32,
    /// `http1` or `http2`.
    pub protocol: String,
    /// Seconds.
    pub request_timeout: u32,
    pub env: BTreeMap<String, String>,
    /// Secret variables (for code, apprunner.yaml's too, once built): variable name → secret name. Values are never returned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    /// For a code source: the commit built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// For a code source: what built it (`apprunner.yaml (python311, revised build)`, `Dockerfile`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevisionList {
    /// Newest first.
    pub revisions: Vec<RevisionView>,
}

/// A service as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceView {
    /// 32 hex digits.
    pub id: String,
    pub name: String,
    pub arn: String,
    /// `CREATE_FAILED`, `RUNNING`, `DELETED`, `DELETE_FAILED`, `PAUSED` or `OPERATION_IN_PROGRESS`.
    pub status: String,
    /// Where the router serves it, e.g. `http://web.localhost:8080`.
    pub url: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub source: SourceView,
    pub instance: InstanceSizeView,
    pub health_check: HealthCheckView,
    /// What the router speaks to the instances: `http1` or `http2` (h2c).
    pub protocol: String,
    /// Seconds an instance may take to send a response head before the client gets 504.
    pub request_timeout: u32,
    /// Routed from the public listeners; `false`: only from other services (the internal listener).
    pub is_publicly_accessible: bool,
    /// The port the serving revision's instances listen on: for code, what its build made of
    /// `apprunner.yaml`'s `run.network.port`, which may differ from the service's own setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_port: Option<u16>,
    /// The containers' root filesystem is read-only.
    #[serde(default)]
    pub read_only_root: bool,
    /// Its own HTTPS redirect and HSTS max-age, when it has them (else the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<u32>,
    /// Which requests get a line in its request log: `on`, `off` or `1/N`.
    #[serde(default = "off")]
    pub request_logs: String,
    /// The App Runner observability configuration revision it is associated with (`<name>/<revision>`):
    /// recorded and reported only, as ferry collects no traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<String>,
    /// How many instances should run.
    pub instances_desired: u32,
    /// The revision serving traffic (or that last did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_revision: Option<u32>,
    /// The image digest (`sha256:…`) the serving revision runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// The instances running now, with their state.
    pub instances: Vec<InstanceView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_operation: Option<OperationView>,
    /// How it scales: `None` for a fixed count (`instances_desired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<ScalingView>,
    /// Whether a push to the branch (or a new digest under the tag) deploys by itself.
    pub auto_deploy: bool,
    /// What ferry knows of the watched branch or tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchView>,
}

/// A service's scaling: its configuration and the autoscaler's latest decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScalingView {
    /// `NAME/REVISION` of the configuration the values come from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    pub max_concurrency: u32,
    pub min_size: u32,
    pub max_size: u32,
    /// Instances ready now, as the autoscaler last saw them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<u32>,
    /// Concurrent requests (in flight, held and queued) it saw, averaged over its window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<f64>,
    /// Why it wants what it wants, and since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// The watched branch or tag: the newest version seen, the last look, the last push not deployed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct WatchView {
    /// `branch main` or `tag latest`.
    pub watching: String,
    /// The newest commit (40 hex) or digest seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<String>,
    /// `webhook`, `notification` or `poll`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_via: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_subject: Option<String>,
    /// When ferry last asked the git host or registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// Why that look failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_error: Option<String>,
    /// The last push recorded and not deployed, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_reason: Option<String>,
}

/// `POST /v1/services/{name}/webhook`: the service's push webhook, made on first use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Make a new URL and secret; the old ones stop working at once.
    #[serde(default)]
    pub rotate: bool,
}

/// A push webhook to paste into a git host's settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    /// The payload URL, on the router's public listener.
    pub url: String,
    /// The secret (GitHub, Gitea, Forgejo, Bitbucket sign with it; GitLab sends it as its token).
    pub secret: String,
    /// `application/json`: the content type to choose where the host asks.
    pub content_type: String,
    pub created_at: String,
}

/// `POST /v1/registries`: accept a registry's push notifications.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryHookRequest {
    /// The registry's host as image references name it: `registry.example.com`, `127.0.0.1:5000`.
    pub host: String,
}

/// Where and how a registry sends its notifications.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistryHookView {
    pub host: String,
    /// Where the registry sends its notifications.
    pub url: String,
    /// The token, shown once: the registry sends it as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistryHookList {
    pub registries: Vec<RegistryHookView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSourceView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_repository: Option<CodeSourceView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CodeSourceView {
    pub repository_url: String,
    pub branch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_directory: Option<String>,
    /// `REPOSITORY` or `API`.
    pub configuration_source: String,
    /// With `REPOSITORY`: the builder (`auto` unless forced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// With `API`: the runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    pub port: u16,
    pub env: BTreeMap<String, String>,
    /// Secret variables: variable name → secret name. Values are never returned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// `basic` or `ssh`, if credentials are set; they are never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// The connection whose credentials fetch the repository, if it uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImageSourceView {
    pub identifier: String,
    pub port: u16,
    pub env: BTreeMap<String, String>,
    /// Secret variables: variable name → secret name. Values are never returned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    /// The user name of the registry credentials, if any. The password is never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_username: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstanceSizeView {
    /// e.g. `1 vCPU`
    pub cpu: String,
    /// e.g. `2 GB`
    pub memory: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthCheckView {
    pub protocol: String,
    pub path: String,
    pub interval: u32,
    pub timeout: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub grace_period: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstanceView {
    pub id: String,
    pub revision: u32,
    /// `STARTING`, `READY`, `UNHEALTHY`, `EXITED` or `STOPPING`. Only `READY` instances get traffic.
    pub state: String,
    /// Where the router reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The engine node it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    pub since: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceSummary>,
}

/// One line of `GET /v1/services` (App Runner's `ServiceSummary`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceSummary {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub status: String,
    pub url: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The answer to a mutating call: the service as it is now, and the operation that will carry it out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceOperation {
    pub service: ServiceView,
    pub operation_id: String,
}

/// An operation (App Runner's `OperationSummary`, plus its error).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperationView {
    /// A UUID.
    pub id: String,
    /// `CREATE_SERVICE`, `DELETE_SERVICE`, `START_DEPLOYMENT`, `UPDATE_SERVICE`, `PAUSE_SERVICE`, `RESUME_SERVICE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `ROLLBACK_IN_PROGRESS`, `ROLLBACK_SUCCEEDED`, `ROLLBACK_FAILED`.
    pub status: String,
    /// The service's ARN.
    pub target_arn: String,
    pub service_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub updated_at: String,
    /// Why it failed, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// App Runner's triggering event: `SERVICE_CREATE`, `SERVICE_UPDATE`, `START_DEPLOYMENT`, `ROLLBACK`,
    /// `SOURCE_CODE_PUSH`, `IMAGE_PUSH`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Who or what started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<TriggerView>,
}

/// What started an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TriggerView {
    /// `MANUAL` (the ferry CLI), `API` (another client), `ROLLBACK`, `GIT_PUSH`, `IMAGE_PUSH` or `SCALING`.
    pub kind: String,
    /// For `GIT_PUSH`: the commit pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// For `IMAGE_PUSH`: the digest the tag points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// For a push: how ferry learnt of it, `webhook`, `notification` or `poll`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// For `GIT_PUSH`, when the git host said: the commit's author and its message's first line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperationList {
    /// Newest first.
    pub operations: Vec<OperationView>,
}

/// `GET /v1/operations/{id}`: the operation and its log lines after `?after=`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperationDetail {
    pub operation: OperationView,
    pub events: Vec<OperationEventView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperationEventView {
    /// Numbered from 1; pass the last one seen as `after` to get only newer lines.
    pub seq: i64,
    pub at: String,
    pub message: String,
}

/// One line of a service's application log. `GET /v1/services/{name}/logs` streams these as
/// newline-delimited JSON.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogLineView {
    pub at: String,
    pub instance: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub line: String,
}

/// One line of a service's request log (`GET /v1/services/{name}/logs?requests=true`), as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestLogView {
    /// When the request arrived, RFC 3339 with milliseconds.
    pub time: String,
    pub service: String,
    /// The revision of the instance that answered; absent when the router answered (no instance ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub method: String,
    /// The path and query as sent (at most 2048 bytes).
    pub path: String,
    pub status: u16,
    /// From the request's arrival to the response body's end.
    pub duration_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The client's address as the router saw it.
    pub client: String,
    pub request_id: String,
}

fn off() -> String {
    "off".to_owned()
}

/// Every error: a stable `code`, a message for people, and the input field at fault when there is one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `InvalidRequest`, `Unauthorized`, `Forbidden`, `NotFound`, `Conflict`, `InvalidState`,
    /// `TooManyRequests` or `Internal`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `POST /v1/services/{name}/domains`: route a custom domain to the service and get it a certificate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DomainRequest {
    /// `app.example.com`, or `*.example.com` (certified over DNS-01).
    pub domain: String,
    /// Also route and certify `www.<domain>` (App Runner's `EnableWWWSubdomain`).
    #[serde(default)]
    pub www: bool,
    /// How ferry proves control of the domain: `http-01` (the default), `tls-alpn-01`, or `dns-01` (the
    /// default, and the only choice, for wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// A custom domain and where its certificate stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DomainView {
    pub domain: String,
    pub service: String,
    pub www: bool,
    pub method: String,
    /// `PENDING_CERTIFICATE_VALIDATION`, `ACTIVE` or `CREATE_FAILED`.
    pub status: String,
    /// Why the last attempt to get a certificate failed, in the CA's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the served certificate expires, and when ferry renews it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews_at: Option<String>,
    /// After a failure: when ferry asks the CA again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// Where to point the domain's DNS record: a CNAME to this host (or an A/AAAA record to its address).
    pub dns_target: String,
    /// The domain's URL once its certificate is served.
    pub url: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DomainList {
    pub domains: Vec<DomainView>,
}
