//! What the router counts of each service's traffic ([`ServiceMetrics`]), and the request records it hands to a
//! service's [`RequestLog`].
//!
//! Recorded on the request path with relaxed atomic adds only: no lock, no allocation. Relaxed is enough: each
//! counter is read on its own, and a snapshot taken while requests run may see one counter of a request before
//! another (a response counted before its latency), which a scrape every few seconds cannot tell from a request
//! that ended a moment later. How a request is followed from its arrival to its body's end is `meter.rs`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Bounds: 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 seconds.
pub const LATENCY_BOUNDS: &[f64] = &BOUNDS;

const BOUNDS: [f64; 16] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// [`BOUNDS`] in nanoseconds, what a request's duration is compared with.
const BOUNDS_NANOS: [u64; 16] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
    300_000_000_000,
];

/// One bucket per bound, and the last for anything longer.
const BUCKETS: usize = BOUNDS.len() + 1;

/// One per service, kept by the control plane across route tables (like `Capacity`): counts survive table swaps.
///
/// Counted for the requests of a route whose `metrics` is this: from the request's arrival (held and queued
/// ones included) to its response body's end. Requests the router answers before it knows their route (an
/// unknown host, a malformed request, a head too large) belong to no service and are not counted.
#[derive(Default, Debug)]
pub struct ServiceMetrics {
    /// Responses by status class, 1xx first.
    responses: [AtomicU64; 5],
    head_latency: Histogram,
    total_latency: Histogram,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    in_flight: AtomicU64,
}

impl ServiceMetrics {
    pub fn new() -> Arc<ServiceMetrics> {
        Arc::default()
    }

    /// The counts so far. Cheap: loads of atomics.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            responses: std::array::from_fn(|class| self.responses[class].load(Ordering::Relaxed)),
            head_latency: self.head_latency.snapshot(),
            total_latency: self.total_latency.snapshot(),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    /// A request arrived.
    pub(crate) fn arrived(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Its response head went out `after` its arrival.
    pub(crate) fn answered(&self, status: u16, after: Duration) {
        self.responses[class(status)].fetch_add(1, Ordering::Relaxed);
        self.head_latency.observe(after);
    }

    /// Its response head went out `after` its arrival, with all of its body: the request is over. The same as
    /// [`ServiceMetrics::answered`] then [`ServiceMetrics::ended`] with the same latency, its bucket found
    /// once.
    pub(crate) fn answered_whole(&self, status: u16, after: Duration, bytes_in: u64, bytes_out: u64) {
        self.responses[class(status)].fetch_add(1, Ordering::Relaxed);
        let nanos = nanos(after);
        let bucket = bucket(nanos);
        self.head_latency.add(bucket, nanos);
        self.total_latency.add(bucket, nanos);
        self.add_bytes(bytes_in, bytes_out);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Its response body ended (or was abandoned) `after` its arrival (`None`: it never had a response, its
    /// client went away first).
    pub(crate) fn ended(&self, after: Option<Duration>, bytes_in: u64, bytes_out: u64) {
        if let Some(after) = after {
            self.total_latency.observe(after);
        }
        self.add_bytes(bytes_in, bytes_out);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    #[inline]
    fn add_bytes(&self, bytes_in: u64, bytes_out: u64) {
        if bytes_in > 0 {
            self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        }
        if bytes_out > 0 {
            self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        }
    }
}

/// The index of a status's class in [`MetricsSnapshot::responses`]: 1xx..5xx; anything else (hyper allows
/// 100..=999) is counted with 5xx rather than lost.
fn class(status: u16) -> usize {
    usize::from(status / 100).clamp(1, 5) - 1
}

/// Saturating: 584 years of nanoseconds fit a u64.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A latency histogram: a count per bucket and the sum. The total count is the buckets' sum, so an
/// observation is two atomic adds.
#[derive(Default, Debug)]
struct Histogram {
    counts: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let nanos = nanos(d);
        self.add(bucket(nanos), nanos);
    }

    #[inline]
    fn add(&self, bucket: usize, nanos: u64) {
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        HistogramSnapshot {
            bounds: LATENCY_BOUNDS,
            count: counts.iter().sum(),
            counts,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// The bucket of a duration: the first whose bound it does not exceed (Prometheus' `le`). A linear scan: most
/// requests fall in the first few buckets.
fn bucket(nanos: u64) -> usize {
    BOUNDS_NANOS.iter().position(|&bound| nanos <= bound).unwrap_or(BOUNDS_NANOS.len())
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Responses by status class: index 0 = 1xx … 4 = 5xx (the router's own 502/503/504 included).
    pub responses: [u64; 5],
    /// Time from the request's arrival to the response head sent, and to the body's end (or abandonment).
    pub head_latency: HistogramSnapshot,
    pub total_latency: HistogramSnapshot,
    /// Request body bytes read from clients.
    pub bytes_in: u64,
    /// Response body bytes sent to clients.
    pub bytes_out: u64,
    /// Requests now being answered (counted from arrival until the response body ends), held and queued ones
    /// included.
    pub in_flight: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds in seconds, ascending (Prometheus `le`); the last bucket (+Inf) is implicit.
    pub bounds: &'static [f64],
    /// Per-bucket counts, NOT cumulative, `bounds.len() + 1` long (the last is > the last bound).
    pub counts: Vec<u64>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl HistogramSnapshot {
    /// The q-quantile (0..=1) estimated by linear interpolation inside its bucket; None when empty.
    ///
    /// As Prometheus' `histogram_quantile`: the first bucket starts at 0, and a quantile that falls in the
    /// last (+Inf) bucket is the last bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || q.is_nan() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.count as f64;
        let mut below = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let Some(&upper) = self.bounds.get(i) else {
                    return self.bounds.last().copied();
                };
                let lower = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                let within = ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
                return Some(lower + (upper - lower) * within);
            }
            below += n;
        }
        // Only when the counts sum to less than `count` (a snapshot put together by hand).
        self.bounds.last().copied()
    }

    /// `self - earlier` bucket by bucket (for rates over a window); saturating.
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, &n)| n.saturating_sub(earlier.counts.get(i).copied().unwrap_or(0)))
            .collect();
        HistogramSnapshot {
            bounds: self.bounds,
            count: self.count.saturating_sub(earlier.count),
            counts,
            sum_seconds: (self.sum_seconds - earlier.sum_seconds).max(0.0),
        }
    }
}

/// A request log record, handed over when the response ends (body done, failed or abandoned).
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// When the request arrived.
    pub at: SystemTime,
    pub service: Arc<str>,
    /// The endpoint id (ferry's instance id) that answered; None: the router answered.
    pub instance: Option<Arc<str>>,
    pub method: http::Method,
    /// Path and query as sent, at most [`RequestRecord::MAX_PATH`] bytes (cut at a character boundary).
    pub path: String,
    pub status: u16,
    /// From arrival to the body's end.
    pub duration: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub client: IpAddr,
    pub request_id: String,
}

impl RequestRecord {
    /// The longest path a record keeps.
    pub const MAX_PATH: usize = 2048;
}

/// Where a route's request records go. Must not block or allocate much: it runs on the request path (a bounded
/// channel send, dropping when full, is the expected implementation).
pub trait RequestLog: Send + Sync + 'static {
    fn record(&self, record: RequestRecord);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree_in_seconds_and_nanoseconds() {
        assert_eq!(LATENCY_BOUNDS.len(), BOUNDS_NANOS.len());
        for (s, n) in LATENCY_BOUNDS.iter().zip(BOUNDS_NANOS) {
            assert_eq!(Duration::from_secs_f64(*s).as_nanos(), u128::from(n));
        }
        assert!(LATENCY_BOUNDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_duration_goes_in_the_first_bucket_whose_bound_it_does_not_exceed() {
        let ms = |n: u64| Duration::from_millis(n);
        let cases = [
            (Duration::ZERO, 0),
            (ms(1), 0),
            (ms(1) + Duration::from_nanos(1), 1),
            (Duration::from_micros(2500), 1),
            (ms(3), 2),
            (ms(1000), 9),
            (Duration::from_secs(300), 15),
            (Duration::from_secs(300) + Duration::from_nanos(1), 16),
            (Duration::MAX, 16),
        ];
        for (d, want) in cases {
            let histogram = Histogram::default();
            histogram.observe(d);
            let snapshot = histogram.snapshot();
            let mut counts = vec![0; BUCKETS];
            counts[want] = 1;
            assert_eq!(snapshot.counts, counts, "{d:?}");
            assert_eq!(snapshot.count, 1);
        }
    }

    #[test]
    fn a_snapshot_sums_and_counts() {
        let histogram = Histogram::default();
        for ms in [1, 2, 3, 400] {
            histogram.observe(Duration::from_millis(ms));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.bounds, LATENCY_BOUNDS);
        assert_eq!(snapshot.count, 4);
        assert!((snapshot.sum_seconds - 0.406).abs() < 1e-9);
        assert_eq!(&snapshot.counts[..9], &[1, 1, 1, 0, 0, 0, 0, 0, 1]);
    }

    fn snapshot(counts: &[u64]) -> HistogramSnapshot {
        let mut all = vec![0; BUCKETS];
        all[..counts.len()].copy_from_slice(counts);
        HistogramSnapshot { bounds: LATENCY_BOUNDS, count: all.iter().sum(), counts: all, sum_seconds: 0.0 }
    }

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        assert_eq!(HistogramSnapshot::default().quantile(0.5), None);
        assert_eq!(snapshot(&[]).quantile(0.5), None);
        // 10 in (0, 1 ms], 10 in (1, 2.5 ms].
        let h = snapshot(&[10, 10]);
        assert!(close(h.quantile(0.25), 0.0005), "{:?}", h.quantile(0.25));
        assert!(close(h.quantile(0.5), 0.001));
        assert!(close(h.quantile(0.75), 0.00175));
        assert!(close(h.quantile(1.0), 0.0025));
        assert!(close(h.quantile(0.0), 0.0));
        // Out of range is clamped; NaN has no answer.
        assert!(close(h.quantile(7.0), 0.0025));
        assert_eq!(h.quantile(f64::NAN), None);
        // Empty buckets in between are skipped: the quantile lands in the next one with counts.
        let h = snapshot(&[1, 0, 0, 1]);
        assert!(close(h.quantile(0.75), 0.0075));
        // In the +Inf bucket: the last bound, as Prometheus says.
        let mut h = snapshot(&[1]);
        h.counts[16] = 3;
        h.count = 4;
        assert_eq!(h.quantile(0.99), Some(300.0));
        assert!(close(h.quantile(0.25), 0.001));
    }

    #[test]
    fn since_subtracts_bucket_by_bucket_and_saturates() {
        let mut later = snapshot(&[5, 3, 1]);
        later.sum_seconds = 2.0;
        let mut earlier = snapshot(&[2, 3]);
        earlier.sum_seconds = 0.5;
        let window = later.since(&earlier);
        assert_eq!(&window.counts[..3], &[3, 0, 1]);
        assert_eq!(window.count, 4);
        assert_eq!(window.sum_seconds, 1.5);
        assert_eq!(window.bounds, LATENCY_BOUNDS);
        // Counts that went down (a snapshot of another source, or a restart) give 0, never a wrap.
        let backwards = earlier.since(&later);
        assert_eq!(
            (backwards.count, backwards.counts.iter().sum::<u64>(), backwards.sum_seconds),
            (0, 0, 0.0)
        );
        // Against an empty default: itself.
        assert_eq!(later.since(&HistogramSnapshot::default()), later);
    }

    #[test]
    fn service_metrics_count_a_request_from_arrival_to_end() {
        let metrics = ServiceMetrics::default();
        metrics.arrived();
        metrics.arrived();
        assert_eq!(metrics.snapshot().in_flight, 2);
        metrics.answered(204, Duration::from_millis(2));
        metrics.answered(999, Duration::from_millis(2));
        metrics.arrived();
        metrics.answered_whole(404, Duration::from_millis(30), 0, 4);
        let snapshot = metrics.snapshot();
        assert_eq!((snapshot.in_flight, snapshot.responses), (2, [0, 1, 0, 1, 1]));
        assert_eq!((snapshot.head_latency.counts[5], snapshot.total_latency.counts[5]), (1, 1));
        metrics.ended(Some(Duration::from_millis(5)), 10, 20);
        // A request whose client left before an answer: out of flight, no latency.
        metrics.ended(None, 3, 0);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.responses, [0, 1, 0, 1, 1]);
        assert_eq!((snapshot.in_flight, snapshot.bytes_in, snapshot.bytes_out), (0, 13, 24));
        assert_eq!((snapshot.head_latency.count, snapshot.total_latency.count), (3, 2));
    }
}
