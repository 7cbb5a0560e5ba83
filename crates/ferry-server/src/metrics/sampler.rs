//! The sampler: every interval, each service's counters and its ready instances' CPU and memory.
//!
//! It runs in a task of its own and takes no lock anything else waits on for long: the router's counters are
//! atomics, the registry's locks are held only to copy or store a sample. The engine is asked for at most
//! [`CONCURRENCY`] containers' stats at once, each call bounded by [`STATS_TIMEOUT`] (and by the interval);
//! an instance the engine does not answer for in time is unknown in that sample.

use std::sync::Arc;
use std::time::Duration;

use ferry_runtime::{ContainerStats, Runtime};
use futures_util::StreamExt;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::history::Read;
use super::{Registry, lock};

/// Stats calls to the engine at once.
const CONCURRENCY: usize = 8;
/// The longest one stats call may take.
const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// Samples every interval until `shutdown`.
pub(crate) async fn run(registry: Arc<Registry>, runtime: Arc<dyn Runtime>, shutdown: CancellationToken) {
    let interval = registry.interval();
    let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
    // A slow engine delays the next sample; samples are never taken in a burst to catch up.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = sample(&registry, runtime.as_ref()) => {}
        }
    }
}

/// One sample of every service.
pub(crate) async fn sample(registry: &Registry, runtime: &dyn Runtime) {
    let entries = registry.entries();
    let wanted: Vec<(usize, String, String)> = entries
        .iter()
        .enumerate()
        .flat_map(|(i, (_, entry))| {
            lock(&entry.state)
                .ready
                .iter()
                .map(|r| (i, r.instance.to_string(), r.container.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let limit = STATS_TIMEOUT.min(registry.interval());
    let mut reads: Vec<Vec<Read>> = entries.iter().map(|_| Vec::new()).collect();
    let mut answers = futures_util::stream::iter(wanted)
        .map(|(i, instance, container)| async move {
            let stats = stats(runtime, &container, limit).await;
            (i, Read { instance, stats })
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((i, read)) = answers.next().await {
        reads[i].push(read);
    }
    let (at, now) = (registry.clock.now(), Instant::now());
    for ((_, entry), mut reads) in entries.iter().zip(reads) {
        reads.sort_by(|a, b| a.instance.cmp(&b.instance));
        let counters = entry.metrics.snapshot();
        lock(&entry.state).history.record(at, now, counters, &reads);
    }
}

async fn stats(runtime: &dyn Runtime, container: &str, limit: Duration) -> Option<ContainerStats> {
    match tokio::time::timeout(limit, runtime.stats(container)).await {
        Ok(Ok(stats)) => stats,
        Ok(Err(e)) => {
            tracing::debug!(container, error = %e, "cannot read a container's stats");
            None
        }
        Err(_) => {
            tracing::debug!(container, "the engine did not give a container's stats in time");
            None
        }
    }
}
