//! The autoscaler's knobs, their defaults and their checks, and the sanitised form [`Knobs`] that
//! [`super::Autoscaler::decide`] works with whatever the configuration holds.

use std::time::Duration;

use ferry_model::AutoScaling;

/// How a service scales with its load. The defaults are App Runner's where it has one (sizes,
/// concurrency) and Knative's KPA's otherwise (windows, panic, rates, scale to zero), except
/// `scale_down_delay` (see there).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingConfig {
    /// The fewest instances (App Runner `MinSize`, default 1). Ferry also allows 0: the service goes to
    /// zero after `scale_to_zero_grace` without requests, and the router holds the next request while an
    /// instance starts.
    pub min_size: u32,
    /// The most instances (App Runner `MaxSize`, default 25).
    pub max_size: u32,
    /// Requests one instance serves at once (App Runner `MaxConcurrency`, 1 to 200, default 100).
    pub max_concurrency: u32,
    /// The fraction of `max_concurrency` each instance is sized for (Knative's 0.7): the rest is headroom
    /// for a burst while more instances start.
    pub target_utilization: f64,
    /// The load is averaged over this long to size the service (default 60 s, whole seconds, 6 s to 1 h).
    pub stable_window: Duration,
    /// The short window that notices a burst (default 6 s, a tenth of the stable window).
    pub panic_window: Duration,
    /// Panic starts when the panic window wants this many times the ready instances (default 2.0).
    pub panic_threshold: f64,
    /// One decision asks for at most this many times the ready instances (default 1000).
    pub max_scale_up_rate: f64,
    /// One decision keeps at least the ready instances divided by this (default 2: at most halving).
    pub max_scale_down_rate: f64,
    /// With `min_size` 0: how long every sample must say "no requests" (and nothing wait at the router)
    /// before the service goes to zero (default 30 s).
    pub scale_to_zero_grace: Duration,
    /// A scale-down waits until the load has wanted fewer instances for this long: the count follows the
    /// most wanted within the delay (Knative's `scale-down-delay`, whole seconds up to 1 h). Knative's
    /// default is 0; ferry's is 12 s, so a load that flaps with a period up to 12 s cannot move the count
    /// up and down each cycle when the stable window's average sits on an instance boundary.
    pub scale_down_delay: Duration,
}

impl Default for ScalingConfig {
    fn default() -> Self {
        Self {
            min_size: 1,
            max_size: 25,
            max_concurrency: 100,
            target_utilization: 0.7,
            stable_window: Duration::from_secs(60),
            panic_window: Duration::from_secs(6),
            panic_threshold: 2.0,
            max_scale_up_rate: 1000.0,
            max_scale_down_rate: 2.0,
            scale_to_zero_grace: Duration::from_secs(30),
            scale_down_delay: Duration::from_secs(12),
        }
    }
}

/// The longest window (stable window and scale-down delay), which bounds the autoscaler's memory.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

impl ScalingConfig {
    /// Exactly `n` instances whatever the load (`min_size = max_size = n`), the other knobs default.
    pub fn fixed(n: u32) -> Self {
        Self { min_size: n, max_size: n, ..Self::default() }
    }

    /// A service's App Runner sizing (concurrency, minimum, maximum) with the defaults for the rest.
    pub fn from_app_runner(scaling: &AutoScaling) -> Self {
        Self {
            min_size: scaling.min_size,
            max_size: scaling.max_size,
            max_concurrency: scaling.max_concurrency,
            ..Self::default()
        }
    }

    /// Every problem with the knobs, joined by "; ". A configuration that fails here still decides (each
    /// knob is brought into its range, and `max_size` wins over a larger `min_size`), but should not be
    /// accepted from a user.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.max_size == 0 {
            problems.push("max_size must be at least 1 (pause a service to run none)".to_owned());
        }
        if self.min_size > self.max_size {
            problems.push(format!("min_size {} is above max_size {}", self.min_size, self.max_size));
        }
        if !(1..=200).contains(&self.max_concurrency) {
            problems.push(format!("max_concurrency must be 1 to 200, not {}", self.max_concurrency));
        }
        if !(0.01..=1.0).contains(&self.target_utilization) {
            problems.push(format!("target_utilization must be 0.01 to 1, not {}", self.target_utilization));
        }
        let six = Duration::from_secs(6);
        if !whole_secs(self.stable_window) || !(six..=MAX_WINDOW).contains(&self.stable_window) {
            problems.push(format!(
                "stable_window must be whole seconds from 6 s to 1 h, not {:?}",
                self.stable_window
            ));
        }
        if !whole_secs(self.panic_window)
            || self.panic_window < Duration::from_secs(1)
            || self.panic_window > self.stable_window
        {
            problems.push(format!(
                "panic_window must be whole seconds from 1 s to the stable window, not {:?}",
                self.panic_window
            ));
        }
        if !(1.1..=10.0).contains(&self.panic_threshold) {
            problems.push(format!("panic_threshold must be 1.1 to 10, not {}", self.panic_threshold));
        }
        for (name, rate) in
            [("max_scale_up_rate", self.max_scale_up_rate), ("max_scale_down_rate", self.max_scale_down_rate)]
        {
            if !(rate.is_finite() && rate > 1.0) {
                problems.push(format!("{name} must be above 1, not {rate}"));
            }
        }
        if self.scale_to_zero_grace < six {
            problems.push(format!(
                "scale_to_zero_grace must be at least 6 s, not {:?}",
                self.scale_to_zero_grace
            ));
        }
        if !whole_secs(self.scale_down_delay) || self.scale_down_delay > MAX_WINDOW {
            problems.push(format!(
                "scale_down_delay must be whole seconds up to 1 h, not {:?}",
                self.scale_down_delay
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

fn whole_secs(d: Duration) -> bool {
    d.subsec_nanos() == 0
}

/// A [`ScalingConfig`] brought into range, in the units the decision uses. Knobs outside their range are
/// clamped to it; a NaN takes the default.
#[derive(Debug, Clone, Copy)]
pub(super) struct Knobs {
    /// At most `max`.
    pub min: u32,
    /// At least 1.
    pub max: u32,
    /// Concurrent requests one instance is sized for: `max_concurrency × target_utilization`, above 0.
    pub target: f64,
    pub stable: Duration,
    pub stable_ms: i64,
    /// 1 to 3600.
    pub stable_secs: i64,
    pub panic: Duration,
    /// 1 to `stable_secs`.
    pub panic_secs: i64,
    /// At least 1.
    pub threshold: f64,
    /// At least 1.
    pub up_rate: f64,
    /// At least 1.
    pub down_rate: f64,
    pub grace: Duration,
    pub grace_ms: i64,
    pub delay: Duration,
    /// 0 to 3600.
    pub delay_secs: i64,
}

impl Knobs {
    pub fn new(c: &ScalingConfig) -> Self {
        let d = ScalingConfig::default();
        let max = c.max_size.max(1);
        let utilization = or_default(c.target_utilization, d.target_utilization).clamp(0.01, 1.0);
        let stable_secs = secs_up(c.stable_window).clamp(1, 3600);
        let panic_secs = secs_up(c.panic_window).clamp(1, stable_secs);
        let delay_secs = secs_up(c.scale_down_delay).clamp(0, 3600);
        Self {
            min: c.min_size.min(max),
            max,
            target: f64::from(c.max_concurrency.clamp(1, 200)) * utilization,
            stable: Duration::from_secs(stable_secs.unsigned_abs()),
            stable_ms: stable_secs * 1000,
            stable_secs,
            panic: Duration::from_secs(panic_secs.unsigned_abs()),
            panic_secs,
            threshold: or_default(c.panic_threshold, d.panic_threshold).clamp(1.0, 1e6),
            up_rate: or_default(c.max_scale_up_rate, d.max_scale_up_rate).clamp(1.0, 1e6),
            down_rate: or_default(c.max_scale_down_rate, d.max_scale_down_rate).clamp(1.0, 1e6),
            grace: c.scale_to_zero_grace,
            grace_ms: i64::try_from(c.scale_to_zero_grace.as_millis()).unwrap_or(i64::MAX),
            delay: Duration::from_secs(delay_secs.unsigned_abs()),
            delay_secs,
        }
    }
}

fn or_default(value: f64, default: f64) -> f64 {
    if value.is_nan() { default } else { value }
}

/// Whole seconds, rounded up, saturating.
fn secs_up(d: Duration) -> i64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}
