//! Crash back-off: how long to wait before starting an instance again after instances keep failing.
//!
//! Each failure (an instance exits, or fails its health checks) doubles the wait, from [`FIRST`] up to
//! [`LONGEST`]. The count goes back to zero only after the service has had a ready instance for
//! [`STABLE`] without a failure: an app that passes its health check and then crashes every few seconds
//! keeps backing off instead of being restarted every second forever.

use ferry_model::Timestamp;

/// The wait after the first failure, in milliseconds.
pub const FIRST: i64 = 1_000;
/// The longest wait, in milliseconds.
pub const LONGEST: i64 = 60_000;
/// How long a ready instance must run without a failure before the count is forgotten, in milliseconds.
pub const STABLE: i64 = 60_000;

/// A service's record of recent failures. Pure: every method takes `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashBackoff {
    failures: u32,
    last_failure: Option<Timestamp>,
    /// Since when an instance has been ready with no failure since.
    stable_since: Option<Timestamp>,
}

impl CrashBackoff {
    /// An instance failed at `now`.
    pub fn failed(&mut self, now: Timestamp) {
        self.forget_if_stable(now);
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
        self.stable_since = None;
    }

    /// An instance became ready (healthy) at `now`.
    pub fn ready(&mut self, now: Timestamp) {
        self.forget_if_stable(now);
        if self.stable_since.is_none() {
            self.stable_since = Some(now);
        }
    }

    /// Failures that still count at `now`.
    pub fn failures(&self, now: Timestamp) -> u32 {
        if self.is_stable(now) { 0 } else { self.failures }
    }

    /// No new instance may start before this time (`None`: start now).
    pub fn start_not_before(&self, now: Timestamp) -> Option<Timestamp> {
        let failures = self.failures(now);
        if failures == 0 {
            return None;
        }
        let at = self.last_failure?.plus_millis(delay(failures));
        (at > now).then_some(at)
    }

    fn is_stable(&self, now: Timestamp) -> bool {
        self.stable_since.is_some_and(|since| now.millis_since(since) >= STABLE)
    }

    fn forget_if_stable(&mut self, now: Timestamp) {
        if self.is_stable(now) {
            self.failures = 0;
            self.last_failure = None;
        }
    }
}

/// The wait after `failures` failures in a row: 1 s, 2 s, 4 s, … up to a minute.
pub fn delay(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST.saturating_mul(1 << doublings).min(LONGEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;

    #[test]
    fn waits_grow_to_a_minute() {
        let waits: Vec<i64> = (1..=9).map(delay).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60].map(|s| s * S));
        assert_eq!(delay(u32::MAX), LONGEST);
    }

    #[test]
    fn an_app_that_passes_its_check_then_crashes_keeps_backing_off() {
        let mut b = CrashBackoff::default();
        let mut now = Timestamp(0);
        let mut waits = Vec::new();
        for _ in 0..8 {
            // Starts when allowed, is healthy after a second, crashes three seconds later.
            now = b.start_not_before(now).unwrap_or(now);
            b.ready(now.plus_millis(S));
            now = now.plus_millis(4 * S);
            b.failed(now);
            waits.push(b.start_not_before(now).map(|t| t.millis_since(now)));
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60].map(|s| Some(s * S)));
    }

    #[test]
    fn a_stable_minute_forgets_the_failures() {
        let mut b = CrashBackoff::default();
        for t in 0..5 {
            b.failed(Timestamp(t * S));
        }
        assert_eq!(b.failures(Timestamp(5 * S)), 5);
        b.ready(Timestamp(100 * S));
        assert_eq!(b.failures(Timestamp(100 * S + STABLE - 1)), 5, "not yet a stable minute");
        assert_eq!(b.failures(Timestamp(100 * S + STABLE)), 0);
        assert_eq!(b.start_not_before(Timestamp(100 * S + STABLE)), None);
        // The next failure starts over from the first wait.
        let now = Timestamp(200 * S);
        b.failed(now);
        assert_eq!(b.start_not_before(now), Some(now.plus_millis(FIRST)));
    }

    #[test]
    fn a_failure_while_ready_restarts_the_stable_period() {
        let mut b = CrashBackoff::default();
        b.failed(Timestamp(0));
        b.ready(Timestamp(10 * S));
        b.failed(Timestamp(50 * S));
        b.ready(Timestamp(51 * S));
        assert_eq!(b.failures(Timestamp(80 * S)), 2, "the minute counts from the last ready after a failure");
        assert_eq!(b.failures(Timestamp(111 * S)), 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever happens, no start is put off by more than the longest wait from the last failure, a wait
            /// never shrinks while failures come without a stable minute between them, and nothing waits once a
            /// ready instance has had its stable minute.
            #[test]
            fn waits_grow_are_bounded_and_a_stable_minute_ends_them(
                events in proptest::collection::vec((any::<bool>(), 0i64..90_000), 1..40),
            ) {
                let mut b = CrashBackoff::default();
                let mut now = Timestamp(0);
                let mut last_wait: Option<i64> = None;
                let mut stable_since: Option<Timestamp> = None;
                for (failed, gap) in events {
                    now = now.plus_millis(gap);
                    if failed {
                        let was_stable = stable_since.is_some_and(|s| now.millis_since(s) >= STABLE);
                        b.failed(now);
                        stable_since = None;
                        let wait = b.start_not_before(now).map_or(0, |at| at.millis_since(now));
                        prop_assert!(wait > 0 && wait <= LONGEST);
                        if let Some(last) = last_wait.filter(|_| !was_stable) {
                            prop_assert!(wait >= last, "{wait} < {last}");
                        }
                        last_wait = Some(wait);
                    } else {
                        b.ready(now);
                        stable_since.get_or_insert(now);
                        let stable = now.plus_millis(STABLE);
                        prop_assert_eq!(b.start_not_before(stable), None);
                    }
                }
            }
        }
    }
}
