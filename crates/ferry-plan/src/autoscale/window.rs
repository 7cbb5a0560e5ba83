//! One-second buckets over a sliding window, as Knative keeps its metrics: however often values come,
//! a window of `n` seconds holds at most `n` buckets.

use std::collections::VecDeque;

use ferry_model::Timestamp;

/// The second a time falls in.
pub(super) fn second(at: Timestamp) -> i64 {
    at.0.div_euclid(1000)
}

/// Values merged per second, oldest second first.
#[derive(Debug, Clone, Default)]
pub(super) struct Buckets<T> {
    buckets: VecDeque<(i64, T)>,
}

impl<T: Copy> Buckets<T> {
    /// Merges `value` into the bucket of second `sec` (a new bucket takes `value` as is), then drops the
    /// buckets `keep` seconds or more older than the newest. A value for a second already dropped is
    /// dropped too.
    pub fn record(&mut self, sec: i64, value: T, keep: i64, merge: impl Fn(&mut T, T)) {
        match self.buckets.back_mut() {
            Some((last, bucket)) if *last == sec => merge(bucket, value),
            Some((last, _)) if *last > sec => {
                // Late or out of order: find its place.
                let i = self.buckets.partition_point(|(s, _)| *s < sec);
                match self.buckets.get_mut(i) {
                    Some((s, bucket)) if *s == sec => merge(bucket, value),
                    _ => self.buckets.insert(i, (sec, value)),
                }
            }
            _ => self.buckets.push_back((sec, value)),
        }
        if let Some(&(newest, _)) = self.buckets.back() {
            let oldest_kept = newest.saturating_sub(keep.max(1)).saturating_add(1);
            while self.buckets.front().is_some_and(|(s, _)| *s < oldest_kept) {
                self.buckets.pop_front();
            }
        }
    }

    /// The buckets of the `secs` seconds up to and including `now_sec`, and any after it (a clock a
    /// little behind the samples' still sees them), newest first.
    pub fn within(&self, now_sec: i64, secs: i64) -> impl Iterator<Item = &T> {
        let after = now_sec.saturating_sub(secs);
        self.buckets.iter().rev().take_while(move |(s, _)| *s > after).map(|(_, v)| v)
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
}

/// Load samples per second: their sum and count, so a second's value is their mean.
pub(super) type Load = Buckets<(f64, u64)>;

impl Load {
    pub fn add(&mut self, at: Timestamp, concurrency: f64, keep: i64) {
        self.record(second(at), (concurrency, 1), keep, |(sum, n), (v, _)| {
            *sum += v;
            *n = n.saturating_add(1);
        });
    }

    /// The mean over the window's seconds of each second's mean: seconds without a sample do not count
    /// (they are unknown, not idle). `None` when the window holds no sample.
    pub fn average(&self, now_sec: i64, secs: i64) -> Option<f64> {
        let (total, seconds) = self
            .within(now_sec, secs)
            .fold((0.0, 0u32), |(total, seconds), (sum, n)| (total + sum / *n as f64, seconds + 1));
        (seconds > 0).then(|| total / f64::from(seconds))
    }
}

/// The instances wanted per second (the most, when several decisions fall in one second).
pub(super) type Wants = Buckets<u32>;

impl Wants {
    /// Records `want` at second `sec` and returns the most wanted over the last `secs` seconds.
    pub fn add_and_max(&mut self, sec: i64, want: u32, secs: i64) -> u32 {
        if secs <= 0 {
            self.clear();
            return want;
        }
        self.record(sec, want, secs, |most, w| *most = (*most).max(w));
        self.within(sec, secs).copied().fold(want, u32::max)
    }
}
