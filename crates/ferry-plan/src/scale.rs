//! How many instances a revision starts with, before anything is known of its load; from there the
//! autoscaler (`autoscale`) decides. Scaling decisions are not commands: they change no revision and queue
//! behind no operation.

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
