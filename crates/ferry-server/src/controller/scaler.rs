//! A service's scaling: how many instances it wants now, from the load the router sees.
//!
//! Once a second, while the service serves and scales with its load, the controller samples its
//! concurrency: the requests in flight on its ready instances (the router's per-instance counters, read
//! without a lock), plus those the router holds for an instance (scaled to zero, an instance replaced) or
//! queues for room (every instance at its max concurrency). `ferry_plan::autoscale` turns the samples into
//! a desired count (Knative's KPA: a stable and a panic window); the controller's goals ask for that many.
//! A request the router has to hold or queue signals at once, so a service at zero starts an instance
//! without waiting for the next sample, and a saturated one panics out at the next.
//!
//! A service with a fixed count has no autoscaler: it wants its count, and its route has no capacity
//! limit. Decisions that change the count are recorded (`describe` shows the latest, with its reason and
//! the concurrency seen) and logged.

use std::sync::Arc;
use std::time::Duration;

use ferry_model::{AutoScaling, ServiceId, ServiceSpec, Timestamp};
use ferry_plan::autoscale::{Autoscaler, Decision, Sample, ScalingConfig};
use ferry_plan::scale::desired_instances;
use ferry_router::{Capacity, Endpoint, Waiting};
use ferry_store::{ScalingDecision, Store};
use tokio::time::Instant;

/// How often the load is sampled.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often a decision that changed nothing is recorded anyway (for `describe`'s concurrency).
const RECORD_EVERY: Duration = Duration::from_secs(15);
/// Requests the router queues at most per service while every instance is at its max concurrency.
const QUEUE_LIMIT: usize = 1024;

/// What the router holds and queues for one service, kept across route tables (their counts and signals
/// must outlive table swaps).
pub(crate) struct Signals {
    pub waiting: Arc<Waiting>,
    pub capacity: Option<Arc<Capacity>>,
}

pub(crate) struct Scaler {
    service: ServiceId,
    name: String,
    hold: Duration,
    /// The server's autoscaler knobs.
    template: ScalingConfig,
    waiting: Arc<Waiting>,
    /// The route's capacity limit (its max concurrency), when the service scales with its load.
    capacity: Option<Arc<Capacity>>,
    /// `None`: a fixed count.
    autoscaler: Option<Autoscaler>,
    /// The values the autoscaler runs with, to notice a new revision's.
    scaling: Option<AutoScaling>,
    desired: Option<u32>,
    next_sample: Instant,
    last_recorded: Option<(u32, Instant)>,
}

/// A service's autoscaler: the server's knobs (`template`, from `--scale-*`) with the service's sizes and
/// max concurrency.
fn config_of(scaling: &AutoScaling, template: &ScalingConfig) -> ScalingConfig {
    ScalingConfig {
        min_size: scaling.min_size,
        max_size: scaling.max_size,
        max_concurrency: scaling.max_concurrency,
        ..template.clone()
    }
}

impl Scaler {
    /// `hold`: how long the router holds or queues a request before it answers 503.
    pub(crate) fn new(service: ServiceId, hold: Duration, template: ScalingConfig) -> Self {
        Self {
            service,
            name: String::new(),
            hold,
            template,
            waiting: Waiting::new(hold),
            capacity: None,
            autoscaler: None,
            scaling: None,
            desired: None,
            next_sample: Instant::now() + SAMPLE_EVERY,
            last_recorded: None,
        }
    }

    pub(crate) fn set_name(&mut self, name: &str) {
        name.clone_into(&mut self.name);
    }

    /// The serving revision's spec: a fixed count, or scaling with the load (a new revision's values are
    /// taken over, keeping what was seen of the load).
    pub(crate) fn follow(&mut self, spec: &ServiceSpec, now: Timestamp) {
        if self.scaling == spec.autoscaling {
            return;
        }
        self.scaling = spec.autoscaling.clone();
        match &spec.autoscaling {
            None => {
                self.autoscaler = None;
                self.capacity = None;
                self.desired = None;
            }
            Some(scaling) => {
                let config = config_of(scaling, &self.template);
                match &mut self.autoscaler {
                    Some(a) => a.set_config(config),
                    None => self.autoscaler = Some(Autoscaler::new(config, now)),
                }
                let limit = scaling.max_concurrency as usize;
                if self.capacity.as_ref().is_none_or(|c| c.max_concurrency() != limit) {
                    self.capacity = Some(Capacity::new(limit, QUEUE_LIMIT, self.hold));
                }
            }
        }
    }

    /// What the route carries for the router: the service's `Waiting` and its capacity limit.
    pub(crate) fn signals(&self) -> Signals {
        Signals { waiting: self.waiting.clone(), capacity: self.capacity.clone() }
    }

    /// Instances wanted for `spec` while it serves: the autoscaler's latest decision for the revision it
    /// follows; before its first (a controller just started, adopting what runs), the `ready` instances
    /// the revision has, within its bounds, so an adoption never scales in before the load is known; for a
    /// fixed count, that count.
    pub(crate) fn serving(&self, spec: &ServiceSpec, ready: u32) -> u32 {
        match (&spec.autoscaling, self.desired) {
            (Some(scaling), Some(desired)) if self.scaling.as_ref() == Some(scaling) => desired,
            (Some(scaling), _) => {
                ready.clamp(scaling.min_size, scaling.max_size).max(desired_instances(spec))
            }
            (None, _) => desired_instances(spec),
        }
    }

    /// Instances a deployment of `spec` brings up: enough for the load now (what the serving revision
    /// wants), within the new revision's bounds, and at least one to prove it healthy.
    pub(crate) fn deploying(&self, spec: &ServiceSpec) -> u32 {
        let base = desired_instances(spec);
        match (&spec.autoscaling, self.desired) {
            (Some(scaling), Some(desired)) => desired.clamp(scaling.min_size, scaling.max_size).max(1),
            _ => base,
        }
    }

    /// When the next sample is due, while the service scales with its load.
    pub(crate) fn next_sample(&self) -> Option<Instant> {
        self.autoscaler.as_ref().map(|_| self.next_sample)
    }

    /// A request was held or queued: sample at once.
    pub(crate) fn demanded(&mut self, now: Timestamp) {
        if let Some(a) = &mut self.autoscaler {
            a.demand(now);
            self.next_sample = Instant::now();
        }
    }

    /// Samples the load on `ready` and decides; when the desired count changed, returns the decision in
    /// words, for the service's log.
    pub(crate) fn sample(
        &mut self,
        ready: &[Arc<Endpoint>],
        now: Timestamp,
        store: &Store,
    ) -> Option<String> {
        self.next_sample = Instant::now() + SAMPLE_EVERY;
        let Some(autoscaler) = &mut self.autoscaler else { return None };
        let in_flight: usize = ready.iter().map(|e| e.in_flight()).sum();
        let queued = self.capacity.as_ref().map_or(0, |c| c.queued());
        let concurrency = (in_flight + self.waiting.held() + queued) as f64;
        autoscaler.record(Sample { at: now, concurrency });
        let decision = autoscaler.decide(now, ready.len() as u32);
        let changed = self.desired != Some(decision.desired);
        if changed {
            tracing::info!(
                service = %self.name, desired = decision.desired, ready = ready.len(), concurrency,
                reason = %decision.reason, "scaling"
            );
        }
        self.desired = Some(decision.desired);
        self.record(&decision, ready.len() as u32, now, store, changed);
        changed.then(|| {
            format!("scaling to {} instances ({} ready): {}", decision.desired, ready.len(), decision.reason)
        })
    }

    fn record(&mut self, d: &Decision, ready: u32, now: Timestamp, store: &Store, changed: bool) {
        let stale = self
            .last_recorded
            .is_none_or(|(desired, at)| desired != d.desired || at.elapsed() >= RECORD_EVERY);
        if !(changed || stale) {
            return;
        }
        self.last_recorded = Some((d.desired, Instant::now()));
        let record = ScalingDecision {
            desired: d.desired,
            ready,
            concurrency: d.stable_concurrency,
            reason: d.reason.to_string(),
            at: now,
        };
        let service = self.service.clone();
        store.submit("record a scaling decision", move |db| db.record_scaling(&service, &record));
    }
}
