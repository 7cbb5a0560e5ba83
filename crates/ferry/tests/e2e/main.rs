//! End-to-end tests: the `ferry` binary against a real Docker engine, a real registry on 127.0.0.1 and
//! the test app image, exactly as a user runs it. `scripts/setup` installs and starts what they need.

// Helpers outside #[test] functions unwrap too: in a test, a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod aws;
mod support;

mod apprunner_api;
mod apprunner_code;
mod apprunner_domains;
mod apprunner_secrets;
mod apprunner_tags;
mod apprunner_validation;
mod apprunner_yaml;
mod autodeploy;
mod builds;
mod connections;
mod console;
mod control_plane;
mod deployments;
mod failures;
mod https;
mod isolation;
mod metrics;
mod private;
mod replacement;
mod request_logs;
mod restart;
mod routing;
mod scaling;
mod secrets;
mod services;
mod tokens;
