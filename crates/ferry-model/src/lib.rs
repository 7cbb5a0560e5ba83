//! ferry's domain: what a service is, what a deployment changes, and which values are allowed.
//!
//! The types follow AWS App Runner's model (`CreateService` and the `Service` object) so that its users
//! find the same names, defaults and limits. Everything here is plain data plus validation: no IO, no
//! clock, no wire format. Values that come from users are parsed once, at the edge, into these types;
//! past that point they are known to be valid.
//!
//! The serde derives are the storage encoding of a spec (the store keeps it as a JSON column). The API
//! has its own request and response types and never serialises these directly.

mod code;
mod domain;
mod error;
mod ids;
mod image;
mod instance;
mod operation;
mod request_logs;
mod resources;
mod scaling;
mod secret;
mod service;
mod time;
mod traffic;
mod watch;

pub use code::{
    Builder, CONNECTION_PROVIDERS, CodeConfiguration, CodeRuntime, CodeSource, GitCredentials, check_branch,
    check_connection_name, check_repository, connection_provider, normalize_directory,
};
pub use domain::{ChallengeMethod, CustomDomain, DomainName, DomainStatus};
pub use error::ValidationError;
pub use ids::{Arn, InstanceId, OperationId, ServiceId};
pub use image::{ImageRef, RegistryCredentials};
pub use instance::{Instance, InstanceAddress, InstanceState};
pub use operation::{Operation, OperationEvent, OperationStatus, OperationType, Trigger, Via, one_line};
pub use request_logs::RequestLogs;
pub use resources::{
    Cpu, HealthCheckConfiguration, HealthCheckProtocol, InstanceConfiguration, MAX_GRACE_PERIOD, Memory,
};
pub use scaling::{
    AutoScaling, AutoScalingConfiguration, ConfigurationRef, DEFAULT_CONFIGURATION, MAX_CONCURRENCY,
};
pub use secret::{SecretName, SecretRefs, SecretValue};
pub use service::{
    Build, EnvVars, ImageConfiguration, ImageSource, MAX_HSTS_MAX_AGE, MAX_INSTANCES, ObservabilityRef,
    Revision, Service, ServiceName, ServiceSpec, ServiceStatus, Source,
};
pub use time::Timestamp;
pub use traffic::{RequestTimeout, UpstreamProtocol};
pub use watch::{Ignored, Seen, SourceVersion, SourceWatch, Webhook};
