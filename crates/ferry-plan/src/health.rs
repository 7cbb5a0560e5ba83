//! Health verdicts from a run of check results, with App Runner's thresholds.

/// What a run of checks means for an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthVerdict {
    /// `healthy_threshold` checks in a row passed: the instance may take traffic.
    Healthy,
    /// `unhealthy_threshold` checks in a row failed: the instance must leave the pool.
    Unhealthy,
}

/// Counts consecutive passes and failures and reports when a threshold is crossed.
///
/// A new instance has no verdict until one threshold is reached. A verdict changes only when the other
/// threshold is reached, so a single flapping check does not move an instance in or out of the pool.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    healthy_threshold: u32,
    unhealthy_threshold: u32,
    passes: u32,
    failures: u32,
    verdict: Option<HealthVerdict>,
}

impl HealthTracker {
    pub fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> Self {
        Self {
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
            passes: 0,
            failures: 0,
            verdict: None,
        }
    }

    /// A tracker that starts from a known verdict, for an instance adopted after a restart.
    pub fn resume(healthy_threshold: u32, unhealthy_threshold: u32, verdict: HealthVerdict) -> Self {
        Self { verdict: Some(verdict), ..Self::new(healthy_threshold, unhealthy_threshold) }
    }

    pub fn verdict(&self) -> Option<HealthVerdict> {
        self.verdict
    }

    /// Consecutive failures so far (zero after a pass).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records one check; returns the new verdict when this check changed it.
    pub fn record(&mut self, passed: bool) -> Option<HealthVerdict> {
        let next = if passed {
            self.passes = self.passes.saturating_add(1);
            self.failures = 0;
            (self.passes >= self.healthy_threshold).then_some(HealthVerdict::Healthy)
        } else {
            self.failures = self.failures.saturating_add(1);
            self.passes = 0;
            (self.failures >= self.unhealthy_threshold).then_some(HealthVerdict::Unhealthy)
        };
        match next {
            Some(v) if self.verdict != Some(v) => {
                self.verdict = Some(v);
                Some(v)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthVerdict::*;

    /// Feeds `checks` (`+` pass, `-` fail) and returns the verdict changes as a string of `H`, `U`, `.`.
    fn run(healthy: u32, unhealthy: u32, checks: &str) -> String {
        let mut t = HealthTracker::new(healthy, unhealthy);
        checks
            .chars()
            .map(|c| match t.record(c == '+') {
                Some(Healthy) => 'H',
                Some(Unhealthy) => 'U',
                None => '.',
            })
            .collect()
    }

    #[test]
    fn thresholds_decide_transitions() {
        let table = [
            // App Runner's defaults: one pass makes healthy, five failures in a row unhealthy.
            (1, 5, "+", "H"),
            (1, 5, "----+", "....H"),
            (1, 5, "+-----", "H....U"),
            (1, 5, "+----+----", "H........."),
            (1, 5, "+-----+", "H....UH"),
            (3, 2, "++-+++", ".....H"),
            (3, 2, "--", ".U"),
            (3, 2, "--+++--", ".U..H.U"),
            (1, 1, "+-+-", "HUHU"),
        ];
        for (healthy, unhealthy, checks, want) in table {
            assert_eq!(run(healthy, unhealthy, checks), want, "{healthy}/{unhealthy} {checks}");
        }
    }

    #[test]
    fn a_resumed_tracker_keeps_its_verdict_until_the_other_threshold() {
        let mut t = HealthTracker::resume(1, 2, Healthy);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(Unhealthy));
    }
}
