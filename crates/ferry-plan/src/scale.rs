//! How many instances a service wants. One function, so that autoscaling replaces one call.

use ferry_model::ServiceSpec;

/// The instances a revision with `spec` should run: today the fixed count its spec asks for.
pub fn desired_instances(spec: &ServiceSpec) -> u32 {
    spec.instances
}
