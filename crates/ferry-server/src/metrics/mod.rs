//! What the server counts of its services, for Prometheus (`GET /metrics`) and for the last hour's charts
//! (`GET /v1/services/{name}/metrics`, `ferry metrics`).
//!
//! The router counts each service's requests in its [`ServiceMetrics`] (atomics, no lock on the request
//! path). The [`Registry`] holds one per service, made when the service's controller starts and dropped
//! when the service is deleted; the controller hands it to every route it publishes (so counts survive
//! route-table swaps, like its `Capacity`), tells it which instances are ready, and counts deployments as
//! they end; builds count their durations. A sampler task ([`sampler::run`]) reads every service's counters
//! and its instances' CPU and memory from the engine every interval and keeps an hour of samples
//! (`history.rs`). Prometheus is shown the counters as they are at the scrape and the engine's figures of
//! the last sample (`prometheus.rs` writes the text).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ferry_api::{MetricsHistory, MetricsSource};
use ferry_model::{InstanceId, OperationStatus, ServiceId};
use ferry_router::{HistogramSnapshot, Router, ServiceMetrics};

use crate::clock::Clock;

mod history;
mod prometheus;
mod render;
pub(crate) mod sampler;

use history::History;

/// Upper bounds of the build-duration histogram, in seconds (a build may take up to `--build-timeout`,
/// 20 minutes by default).
const BUILD_BOUNDS: &[f64] = &[5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0];

/// Outcomes of deployments, as `ferry_deployments_total` labels them.
const DEPLOYMENT_OUTCOMES: [&str; 4] = ["succeeded", "failed", "rollback_succeeded", "rollback_failed"];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here leaves a value half-changed across a panic: go on with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A ready instance, as the sampler asks the engine about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadyInstance {
    pub instance: InstanceId,
    pub container: String,
}

/// One service's counters and samples.
pub(crate) struct Entry {
    metrics: Arc<ServiceMetrics>,
    state: Mutex<EntryState>,
}

struct EntryState {
    /// Empty until the controller has read the service: such an entry is not shown.
    name: String,
    ready: Vec<ReadyInstance>,
    /// Deployments ended, by outcome.
    deployments: BTreeMap<&'static str, u64>,
    history: History,
}

impl Entry {
    /// What the service's routes count into.
    pub(crate) fn metrics(&self) -> Arc<ServiceMetrics> {
        self.metrics.clone()
    }

    pub(crate) fn set_name(&self, name: &str) {
        let mut state = lock(&self.state);
        if state.name != name {
            name.clone_into(&mut state.name);
        }
    }

    /// The instances ready now (the controller says so each time it publishes the route).
    pub(crate) fn set_ready(&self, ready: Vec<ReadyInstance>) {
        let mut state = lock(&self.state);
        if state.ready != ready {
            state.ready = ready;
        }
    }

    /// A deploying operation ended with `status`.
    pub(crate) fn deployment_ended(&self, status: OperationStatus) {
        let outcome = match status {
            OperationStatus::Succeeded => "succeeded",
            OperationStatus::Failed => "failed",
            OperationStatus::RollbackSucceeded => "rollback_succeeded",
            OperationStatus::RollbackFailed => "rollback_failed",
            _ => return,
        };
        *lock(&self.state).deployments.entry(outcome).or_default() += 1;
    }
}

/// Build durations by outcome (succeeded, failed).
#[derive(Debug)]
struct Builds([HistogramSnapshot; 2]);

impl Default for Builds {
    fn default() -> Self {
        let empty = || HistogramSnapshot {
            bounds: BUILD_BOUNDS,
            counts: vec![0; BUILD_BOUNDS.len() + 1],
            sum_seconds: 0.0,
            count: 0,
        };
        Self([empty(), empty()])
    }
}

/// Every service's counters and samples, the routers' connections, and build durations.
pub(crate) struct Registry {
    interval: Duration,
    clock: Arc<dyn Clock>,
    /// The routers whose open connections are shown, by listener name (`public`, `internal`).
    routers: Vec<(&'static str, Arc<Router>)>,
    services: Mutex<BTreeMap<ServiceId, Arc<Entry>>>,
    builds: Mutex<Builds>,
}

impl Registry {
    /// Samples every `interval`.
    pub(crate) fn new(
        interval: Duration,
        clock: Arc<dyn Clock>,
        routers: Vec<(&'static str, Arc<Router>)>,
    ) -> Arc<Self> {
        Arc::new(Self {
            interval,
            clock,
            routers,
            services: Mutex::new(BTreeMap::new()),
            builds: Mutex::default(),
        })
    }

    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// The service's entry, made on first call: a controller that starts again for the service keeps
    /// counting where the last one stopped.
    pub(crate) fn service(&self, id: &ServiceId) -> Arc<Entry> {
        lock(&self.services)
            .entry(id.clone())
            .or_insert_with(|| {
                Arc::new(Entry {
                    metrics: ServiceMetrics::new(),
                    state: Mutex::new(EntryState {
                        name: String::new(),
                        ready: Vec::new(),
                        deployments: BTreeMap::new(),
                        history: History::new(self.interval),
                    }),
                })
            })
            .clone()
    }

    /// The service is gone: its counters and samples go too.
    pub(crate) fn remove(&self, id: &ServiceId) {
        lock(&self.services).remove(id);
    }

    /// A build ended after `took`.
    pub(crate) fn build_ended(&self, took: Duration, succeeded: bool) {
        let mut builds = lock(&self.builds);
        let h = &mut builds.0[usize::from(!succeeded)];
        let seconds = took.as_secs_f64();
        let bucket = BUILD_BOUNDS.iter().position(|b| seconds <= *b).unwrap_or(BUILD_BOUNDS.len());
        h.counts[bucket] += 1;
        h.sum_seconds += seconds;
        h.count += 1;
    }

    fn entries(&self) -> Vec<(ServiceId, Arc<Entry>)> {
        lock(&self.services).iter().map(|(id, e)| (id.clone(), e.clone())).collect()
    }
}

impl MetricsSource for Registry {
    fn history(&self, service: &ServiceId, minutes: u32) -> MetricsHistory {
        let since = self.clock.now().plus_millis(-i64::from(minutes) * 60_000);
        let entry = lock(&self.services).get(service).cloned();
        let points = entry.map(|e| lock(&e.state).history.since(since)).unwrap_or_default();
        MetricsHistory { interval: self.interval, points }
    }

    fn prometheus(&self) -> String {
        render::render(self)
    }
}
