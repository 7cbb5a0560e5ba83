//! How many instances a service wants. One function, so that autoscaling replaces one call.

use ferry_model::ServiceSpec;

/// The instances a revision with `spec` runs before anything is known of its load: its fixed count, or
/// its minimum (at least one, which a deployment needs to prove the revision healthy). The autoscaler
/// (`autoscale`) decides from there.
pub fn desired_instances(spec: &ServiceSpec) -> u32 {
    match &spec.autoscaling {
        None => spec.instances,
        Some(scaling) => scaling.min_size.max(1),
    }
}
