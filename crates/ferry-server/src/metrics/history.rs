//! A service's samples: what its counters did over each interval, how many instances were ready, and
//! what they used, kept for an hour in a ring. Pure: the sampler hands in what it read and when.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ferry_api::MetricsSample;
use ferry_model::Timestamp;
use ferry_router::MetricsSnapshot;
use ferry_runtime::ContainerStats;
use tokio::time::Instant;

/// How long samples are kept.
pub(crate) const KEEP: Duration = Duration::from_secs(3600);

/// What an instance used at the last sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Usage {
    pub stats: ContainerStats,
    pub at: Instant,
}

/// One instance as the sampler read it: its id and the engine's stats (`None`: the engine did not say).
pub(crate) struct Read {
    pub instance: String,
    pub stats: Option<ContainerStats>,
}

#[derive(Debug)]
pub(crate) struct History {
    capacity: usize,
    /// The counters at the last sample: each sample is what changed since.
    last: MetricsSnapshot,
    points: VecDeque<MetricsSample>,
    /// What each ready instance used at the last sample, by instance id (what Prometheus is shown).
    pub usage: BTreeMap<String, Usage>,
}

impl History {
    /// A history of samples `interval` apart, an hour of them.
    pub(crate) fn new(interval: Duration) -> Self {
        let capacity = (KEEP.as_secs() / interval.as_secs().max(1)).max(1) as usize;
        Self { capacity, last: MetricsSnapshot::default(), points: VecDeque::new(), usage: BTreeMap::new() }
    }

    /// Takes a sample: the counters now (`snapshot`), the ready instances and what the engine said of each.
    pub(crate) fn record(&mut self, at: Timestamp, now: Instant, snapshot: MetricsSnapshot, reads: &[Read]) {
        let head = snapshot.head_latency.since(&self.last.head_latency);
        let responses =
            std::array::from_fn(|class| snapshot.responses[class].saturating_sub(self.last.responses[class]));
        let mut cpu: Option<f64> = None;
        let mut memory: Option<u64> = None;
        let mut usage = BTreeMap::new();
        for read in reads {
            let Some(stats) = read.stats else { continue };
            *memory.get_or_insert(0) += stats.memory_bytes;
            if let Some(before) = self.usage.get(&read.instance) {
                let seconds = now.saturating_duration_since(before.at).as_secs_f64();
                if seconds > 0.0 {
                    // A container restarted in between counts from zero: take what it used since.
                    let used = stats.cpu_seconds_total - before.stats.cpu_seconds_total;
                    let used = if used < 0.0 { stats.cpu_seconds_total } else { used };
                    *cpu.get_or_insert(0.0) += used / seconds * 100.0;
                }
            }
            usage.insert(read.instance.clone(), Usage { stats, at: now });
        }
        if reads.is_empty() {
            // No instance uses nothing: that is known.
            (cpu, memory) = (Some(0.0), Some(0));
        }
        self.usage = usage;
        let sample = MetricsSample {
            at,
            responses,
            p50_seconds: head.quantile(0.5),
            p99_seconds: head.quantile(0.99),
            in_flight: snapshot.in_flight,
            instances: u32::try_from(reads.len()).unwrap_or(u32::MAX),
            cpu_percent: cpu,
            memory_bytes: memory,
        };
        self.last = snapshot;
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(sample);
    }

    /// The samples taken at or after `since`, oldest first.
    pub(crate) fn since(&self, since: Timestamp) -> Vec<MetricsSample> {
        self.points.iter().filter(|p| p.at >= since).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use ferry_router::{HistogramSnapshot, LATENCY_BOUNDS};

    use super::*;

    /// Counters with `responses` and head latencies all in the bucket up to `bucket_bound`.
    fn counters(responses: [u64; 5], latencies: &[(usize, u64)]) -> MetricsSnapshot {
        let mut counts = vec![0; LATENCY_BOUNDS.len() + 1];
        for &(bucket, n) in latencies {
            counts[bucket] = n;
        }
        let count = counts.iter().sum();
        let head = HistogramSnapshot { bounds: LATENCY_BOUNDS, counts, sum_seconds: 0.0, count };
        MetricsSnapshot { responses, head_latency: head.clone(), total_latency: head, ..Default::default() }
    }

    fn read(instance: &str, cpu: f64, memory: u64) -> Read {
        Read {
            instance: instance.to_owned(),
            stats: Some(ContainerStats { cpu_seconds_total: cpu, memory_bytes: memory }),
        }
    }

    #[test]
    fn each_sample_counts_what_changed_within_its_interval() {
        let start = Instant::now();
        let mut h = History::new(Duration::from_secs(10));
        // 10 requests under 1 ms (bucket 0), then 4 more answered between 10 and 25 ms (bucket 4).
        h.record(Timestamp(10_000), start, counters([0, 9, 0, 0, 1], &[(0, 10)]), &[read("a", 1.0, 100)]);
        let later = start + Duration::from_secs(10);
        let reads = [read("a", 3.0, 200), read("b", 0.5, 50)];
        h.record(Timestamp(20_000), later, counters([0, 12, 0, 1, 1], &[(0, 10), (4, 4)]), &reads);
        h.record(
            Timestamp(30_000),
            later + Duration::from_secs(10),
            counters([0, 12, 0, 1, 1], &[(0, 10), (4, 4)]),
            &[],
        );

        let points = h.since(Timestamp(0));
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].responses, [0, 9, 0, 0, 1]);
        assert_eq!(points[0].cpu_percent, None, "one stats read says no rate yet");
        assert_eq!(points[0].memory_bytes, Some(100));
        assert_eq!(points[1].responses, [0, 3, 0, 1, 0], "only what changed since");
        let p50 = points[1].p50_seconds.expect("requests within it");
        assert!((0.01..=0.025).contains(&p50), "within the interval's own latencies: {p50}");
        // a: 2 s of CPU in 10 s is 20 %; b is new (no rate yet). Memory is summed.
        assert_eq!(points[1].cpu_percent, Some(20.0));
        assert_eq!(points[1].memory_bytes, Some(250));
        assert_eq!(points[1].instances, 2);
        assert_eq!(points[2].responses, [0; 5]);
        assert_eq!((points[2].p50_seconds, points[2].p99_seconds), (None, None), "no request in it");
        assert_eq!(
            (points[2].cpu_percent, points[2].memory_bytes, points[2].instances),
            (Some(0.0), Some(0), 0)
        );
        assert!(h.usage.is_empty(), "gone instances are forgotten");
        assert_eq!(h.since(Timestamp(20_000)).len(), 2);
    }

    #[test]
    fn instances_the_engine_says_nothing_of_are_unknown_and_restarts_count_from_zero() {
        let start = Instant::now();
        let mut h = History::new(Duration::from_secs(10));
        let unknown = Read { instance: "a".to_owned(), stats: None };
        h.record(Timestamp(1), start, MetricsSnapshot::default(), &[unknown]);
        let p = &h.since(Timestamp(0))[0];
        assert_eq!((p.cpu_percent, p.memory_bytes, p.instances), (None, None, 1));

        h.record(Timestamp(2), start, MetricsSnapshot::default(), &[read("b", 50.0, 1)]);
        h.record(
            Timestamp(3),
            start + Duration::from_secs(10),
            MetricsSnapshot::default(),
            &[read("b", 1.0, 1)],
        );
        assert_eq!(h.since(Timestamp(3))[0].cpu_percent, Some(10.0), "1 s since the restart, over 10 s");
    }

    #[test]
    fn an_hour_of_samples_is_kept() {
        let mut h = History::new(Duration::from_secs(10));
        let now = Instant::now();
        for i in 0..400 {
            h.record(Timestamp(i), now, MetricsSnapshot::default(), &[]);
        }
        let points = h.since(Timestamp(0));
        assert_eq!(points.len(), 360);
        assert_eq!(points[0].at, Timestamp(40), "the oldest went first");
    }
}
