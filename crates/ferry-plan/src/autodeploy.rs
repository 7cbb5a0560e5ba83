//! Automatic deployments: whether what was seen on a watched branch or tag deploys now, and when a
//! watched source is asked again.
//!
//! A push never makes an operation while another runs. It is kept as the source's newest seen version
//! instead, and [`decide`] is asked again whenever the service's operations end (and at every poll): so
//! pushes that arrive during a deployment coalesce into one deployment of the newest, and none is lost.

use std::time::Duration;

use ferry_model::{ServiceStatus, SourceVersion};

/// What a service does about the newest version seen on its watched source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Deploy it now.
    Deploy,
    /// An operation is queued or running: decide again when it ends.
    Wait,
    /// The newest revision already runs (or ran, or failed with) this version.
    Current,
    /// Automatic deployments are off for this service.
    Off,
    /// The service does not take deployments in its state (paused, deleted, create failed).
    NotNow(ServiceStatus),
}

/// What [`decide`] looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched<'a> {
    pub auto_deploy: bool,
    pub status: ServiceStatus,
    /// An operation of the service has not ended.
    pub busy: bool,
    /// What the service's newest revision runs, when known: the last version it deployed or tried to.
    pub newest: Option<&'a SourceVersion>,
    pub seen: &'a SourceVersion,
}

/// Whether `w.seen` deploys now. A version the newest revision already has never deploys again, even if
/// that revision failed: a failed push is rolled back once, and the next push is what deploys.
pub fn decide(w: &Watched<'_>) -> Decision {
    if !w.auto_deploy {
        return Decision::Off;
    }
    if w.newest == Some(w.seen) {
        return Decision::Current;
    }
    if w.busy {
        return Decision::Wait;
    }
    match w.status {
        ServiceStatus::Running => Decision::Deploy,
        other => Decision::NotNow(other),
    }
}

/// How long until a watched source is asked again: `interval`, less up to a fifth of it by `jitter` (in
/// `[0, 1]`: a thousand services created together do not ask together, and none waits longer than the
/// interval), doubled for each check in a row that failed, up to `max`.
pub fn next_check(interval: Duration, failures: u32, max: Duration, jitter: f64) -> Duration {
    let backed_off = interval.saturating_mul(1u32 << failures.min(16)).min(max.max(interval));
    let spread = 0.8 + 0.2 * jitter.clamp(0.0, 1.0);
    backed_off.mul_f64(spread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn commit(c: char) -> SourceVersion {
        SourceVersion::Commit(c.to_string().repeat(40))
    }

    #[test]
    fn what_a_seen_version_does() {
        let (a, b) = (commit('a'), commit('b'));
        let base = Watched {
            auto_deploy: true,
            status: ServiceStatus::Running,
            busy: false,
            newest: Some(&a),
            seen: &b,
        };
        let cases: Vec<(&str, Watched<'_>, Decision)> = vec![
            ("new version, idle", base.clone(), Decision::Deploy),
            ("new version, never deployed", Watched { newest: None, ..base.clone() }, Decision::Deploy),
            ("already the newest", Watched { seen: &a, ..base.clone() }, Decision::Current),
            (
                "already the newest while busy",
                Watched { seen: &a, busy: true, ..base.clone() },
                Decision::Current,
            ),
            ("behind an operation", Watched { busy: true, ..base.clone() }, Decision::Wait),
            ("switched off", Watched { auto_deploy: false, ..base.clone() }, Decision::Off),
            (
                "paused",
                Watched { status: ServiceStatus::Paused, ..base.clone() },
                Decision::NotNow(ServiceStatus::Paused),
            ),
            (
                "create failed",
                Watched { status: ServiceStatus::CreateFailed, ..base.clone() },
                Decision::NotNow(ServiceStatus::CreateFailed),
            ),
            (
                "deleted",
                Watched { status: ServiceStatus::Deleted, ..base },
                Decision::NotNow(ServiceStatus::Deleted),
            ),
        ];
        for (what, watched, want) in cases {
            assert_eq!(decide(&watched), want, "{what}");
        }
    }

    #[test]
    fn checks_back_off_on_errors() {
        let (minute, hour) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(next_check(minute, 0, hour, 1.0), minute);
        assert_eq!(next_check(minute, 0, hour, 0.0), Duration::from_secs(48));
        assert_eq!(next_check(minute, 1, hour, 1.0), 2 * minute);
        assert_eq!(next_check(minute, 3, hour, 1.0), 8 * minute);
        assert_eq!(next_check(minute, 10, hour, 1.0), hour);
        assert_eq!(next_check(minute, u32::MAX, hour, 1.0), hour);
        // A maximum below the interval never shortens it.
        assert_eq!(next_check(minute, 4, Duration::from_secs(1), 1.0), minute);
    }

    proptest! {
        #[test]
        fn jitter_only_shortens_by_up_to_a_fifth(secs in 1u64..100_000, failures in 0u32..40, jitter in 0.0f64..=1.0) {
            let interval = Duration::from_secs(secs);
            let max = Duration::from_secs(secs * 20);
            let base = interval.saturating_mul(1u32 << failures.min(16)).min(max);
            let got = next_check(interval, failures, max, jitter);
            prop_assert!(got >= base.mul_f64(0.8) && got <= base, "{got:?} vs {base:?}");
        }
    }
}
