//! When to renew a certificate and when to try again after a failure: pure decisions, the caller passes `now`.

use std::time::{Duration, SystemTime};

/// The first retry comes a minute after a failure…
const FIRST_RETRY: Duration = Duration::from_secs(60);
/// …and the wait doubles up to six hours, so a broken DNS setup does not hammer the CA (Let's Encrypt limits failed
/// validations per hour) yet a fixed one is noticed the same day.
const MAX_RETRY: Duration = Duration::from_secs(6 * 3600);

/// When a certificate valid from `not_before` to `not_after` should be renewed: after two thirds of its lifetime
/// (Let's Encrypt's advice), so a 90-day certificate renews at day 60 and keeps 30 days to retry in, and a
/// certificate of a few minutes (tests) renews after two thirds of those. An inverted validity renews at once.
pub fn renew_at(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    match not_after.duration_since(not_before) {
        Ok(lifetime) => {
            let two_thirds = lifetime.as_nanos() * 2 / 3;
            not_before + Duration::from_nanos(u64::try_from(two_thirds).unwrap_or(u64::MAX))
        }
        Err(_) => not_before,
    }
}

/// Whether a certificate is due for renewal at `now`.
pub fn renewal_due(now: SystemTime, not_before: SystemTime, not_after: SystemTime) -> bool {
    now >= renew_at(not_before, not_after)
}

/// How long to wait after `failures` consecutive failed attempts (0 means none: no wait): 1 minute doubling to at
/// most 6 hours, spread by `jitter` (the caller's random number in `[0, 1]`, clamped) over the upper half of
/// that wait, so many domains failing together do not retry in step.
pub fn retry_after(failures: u32, jitter: f64) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doublings = (failures - 1).min(16);
    let wait = FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY);
    let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    wait / 2 + (wait / 2).mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3600;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn renews_after_two_thirds_of_the_lifetime() {
        let start = 1_700_000_000;
        // (lifetime, renew after)
        let table = [
            (90 * DAY, 60 * DAY), // Let's Encrypt
            (6 * DAY, 4 * DAY),   // short-lived profile
            (300, 200),           // a test certificate of five minutes
            (3, 2),
            (0, 0), // already expired
        ];
        for (lifetime, expected) in table {
            assert_eq!(
                renew_at(at(start), at(start + lifetime)),
                at(start + expected),
                "lifetime {lifetime}"
            );
        }
        // Inverted validity: renew now.
        assert_eq!(renew_at(at(start + 10), at(start)), at(start + 10));
    }

    #[test]
    fn due_from_the_renewal_time_on() {
        let (from, to) = (at(0), at(90 * DAY));
        assert!(!renewal_due(at(60 * DAY - 1), from, to));
        assert!(renewal_due(at(60 * DAY), from, to));
        assert!(renewal_due(at(100 * DAY), from, to));
    }

    #[test]
    fn retry_backs_off_to_six_hours_with_jitter() {
        let min = |m: u64| Duration::from_secs(m * 60);
        // (failures, jitter, wait)
        let table = [
            (0, 1.0, Duration::ZERO),
            (1, 1.0, min(1)),
            (1, 0.0, Duration::from_secs(30)),
            (2, 1.0, min(2)),
            (3, 1.0, min(4)),
            (3, 0.5, min(3)),
            (9, 1.0, min(256)),
            (10, 1.0, min(360)),
            (10, 0.0, min(180)),
            (u32::MAX, 1.0, min(360)),
            (1, 7.0, min(1)), // clamped
            (1, -1.0, Duration::from_secs(30)),
            (1, f64::NAN, Duration::from_secs(30)),
        ];
        for (failures, jitter, expected) in table {
            assert_eq!(retry_after(failures, jitter), expected, "failures {failures}, jitter {jitter}");
        }
    }
}
