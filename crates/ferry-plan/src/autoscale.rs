//! The autoscaler: how many instances a service wants for its load, decided as Knative's KPA does.
//!
//! The caller records [`Sample`]s of the service's concurrency (about one a second) and asks
//! [`Autoscaler::decide`] (every second or two) with the instances ready now. Nothing here reads the
//! clock: every time comes in as a [`Timestamp`].
//!
//! # The decision
//! - **Stable mode**: the count is `ceil(average concurrency over the stable window / target)`, where
//!   `target = max_concurrency × target_utilization` (70 requests per instance by default).
//! - **Panic mode**: when the same count over the short panic window reaches `panic_threshold` times the
//!   ready instances (with none ready, one counts: a burst at zero panics), the panic count applies at
//!   once and the count never goes down until a whole stable window passes without reaching the
//!   threshold again. A fresh autoscaler that finds more than one instance ready starts in panic, as
//!   Knative's does, so a control-plane restart does not scale down on a few seconds of history.
//! - **Bursts** (not a Knative rule): out of panic, the count does not go below the fewest instances the
//!   panic window would not panic over; otherwise a bursty load panics, goes back down when the panic
//!   ends, and panics again, round and round.
//! - **Rates**: one decision asks for at most `ceil(max(ready, 1) × max_scale_up_rate)` and at least
//!   `floor(ready / max_scale_down_rate)`.
//! - **Scale-down delay**: the count is the most the load wanted within `scale_down_delay`. Ferry
//!   defaults it to 12 s where Knative has 0: a load that alternates between two levels moves the stable
//!   average a little each cycle, and when that average sits on an instance boundary the count would go
//!   up and down every cycle; the most wanted over a delay at least as long as the cycle does not move.
//! - **Bounds**: the count is clamped to `[min_size, max_size]`; with `min_size` 0 the floor is still 1
//!   unless the service is idle (below).
//!
//! # Zero
//! With `min_size` 0, a service goes to zero once samples have said "no requests" without a break for
//! `scale_to_zero_grace` and no panic is on: its count then heads for zero (as fast as the scale-down
//! rate allows) whatever the stable window still remembers, and stays there until a sample shows load or
//! [`Autoscaler::demand`] reports a request waiting at the router, which lifts the count to at least 1
//! at the next decision, without waiting for any window. Silence is counted from the first zero sample
//! after the last load; two samples more than [`MAX_SAMPLE_GAP`] apart restart the count (a stalled
//! collector saw nothing, so nothing proves the service idle). A zero the service already went to is not
//! undone by missing samples either: only load or demand wakes it. (Knative waits for a stable window of
//! zeros and then its grace, the time it needs to put the activator in the path; ferry's router is always
//! in the path, so here the grace is the idle time itself.)
//!
//! # Missing samples and odd input
//! - A second without a sample is unknown, not idle: averages are over the seconds that have samples.
//!   When the newest sample is older than [`MAX_SAMPLE_GAP`], or the stable window holds none, the count
//!   stays what it was ([`Reason::NoData`]): a stalled control plane neither shrinks a service nor
//!   sends it to zero.
//! - A NaN concurrency is ignored; below 0 counts as 0; above 10⁹ (or infinite) as 10⁹.
//! - A time more than a stable window before the newest sample means the clock went back: the windows
//!   are forgotten (a panic in progress runs a stable window from then) and filled again. Smaller steps
//!   back and samples out of order land in their second.
//! - A configuration that [`ScalingConfig::validate`] refuses still decides: each knob is clamped into
//!   its range, and `max_size` (at least 1) wins over a larger `min_size`.
//! - Memory is bounded whatever the call rate: one bucket per second of a window, and no window longer
//!   than [`MAX_WINDOW`].

mod config;
mod reason;
mod window;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::time::Duration;

use ferry_model::Timestamp;

pub use config::{MAX_WINDOW, ScalingConfig};
pub use reason::{Bound, Reason};

use config::Knobs;
use window::{Load, Wants, second};

/// Samples further apart than this (or a newest sample older than this) mean the collector was not
/// watching: the gap proves nothing idle, and a decision without a fresh sample keeps the count.
pub const MAX_SAMPLE_GAP: Duration = Duration::from_secs(5);
const MAX_SAMPLE_GAP_MS: i64 = 5_000;

/// Concurrency above this is taken as this: keeps every sum finite.
const MAX_CONCURRENCY: f64 = 1e9;

/// A sample of load: the average concurrency (requests in flight summed over the service's instances,
/// plus the requests the router holds or queues for it) over the period that ended at `at`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Timestamp,
    pub concurrency: f64,
}

/// What the autoscaler wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Instances the service should have.
    pub desired: u32,
    pub reason: Reason,
    /// Panic mode is on: the count does not go down.
    pub panicking: bool,
    /// The average concurrency over the stable window (0 when it holds no sample).
    pub stable_concurrency: f64,
    /// The average concurrency over the panic window (0 when it holds no sample).
    pub panic_concurrency: f64,
}

/// A run of samples that all said 0, without a gap longer than [`MAX_SAMPLE_GAP`].
#[derive(Debug, Clone, Copy)]
struct Quiet {
    since: Timestamp,
    through: Timestamp,
}

/// A panic in progress.
#[derive(Debug, Clone, Copy)]
struct Panic {
    /// The last decision whose panic window reached the threshold: the panic ends a stable window later.
    last_over: Timestamp,
    /// The most wanted since the panic began.
    most: u32,
}

/// The decider's memory between decisions: the load per second over the stable window, the wants over
/// the scale-down delay, the current run of silence, the panic, and the last decision.
#[derive(Debug, Clone)]
pub struct Autoscaler {
    config: ScalingConfig,
    load: Load,
    wants: Wants,
    /// The newest sample's time.
    newest: Option<Timestamp>,
    quiet: Option<Quiet>,
    last_traffic: Option<Timestamp>,
    created: Timestamp,
    /// A request waited with no instance ready since the last decision.
    demand: bool,
    /// The last decision was 0 and no load or demand came since.
    zeroed: bool,
    panic: Option<Panic>,
    last: Option<u32>,
}

impl Autoscaler {
    pub fn new(config: ScalingConfig, now: Timestamp) -> Self {
        Self {
            config,
            load: Load::default(),
            wants: Wants::default(),
            newest: None,
            quiet: None,
            last_traffic: None,
            created: now,
            demand: false,
            zeroed: false,
            panic: None,
            last: None,
        }
    }

    pub fn config(&self) -> &ScalingConfig {
        &self.config
    }

    /// A new revision's configuration. The history (samples, panic, silence, last decision) stays.
    pub fn set_config(&mut self, config: ScalingConfig) {
        self.config = config;
    }

    /// Records a sample of load. Samples older than the stable window fall out; several in one second
    /// share a bucket.
    pub fn record(&mut self, sample: Sample) {
        if sample.concurrency.is_nan() {
            return;
        }
        let concurrency = sample.concurrency.clamp(0.0, MAX_CONCURRENCY);
        let at = sample.at;
        let k = Knobs::new(&self.config);
        if self.newest.is_some_and(|newest| at.0 < newest.0.saturating_sub(k.stable_ms)) {
            self.clock_went_back(at);
        }
        self.newest = Some(self.newest.map_or(at, |newest| newest.max(at)));
        self.load.add(at, concurrency, k.stable_secs);
        if concurrency > 0.0 {
            self.traffic(at);
            return;
        }
        match &mut self.quiet {
            Some(q) if at > q.through => {
                if ms_between(at, q.through) > MAX_SAMPLE_GAP_MS {
                    q.since = at;
                }
                q.through = at;
            }
            // Within the run, or before it: nothing new.
            Some(_) => {}
            None => {
                if self.last_traffic.is_none_or(|t| at > t) {
                    self.quiet = Some(Quiet { since: at, through: at });
                }
            }
        }
    }

    /// A request arrived while the service had no ready instance: the next decision wants at least one,
    /// whatever the windows say.
    pub fn demand(&mut self, at: Timestamp) {
        self.demand = true;
        self.traffic(at);
    }

    fn traffic(&mut self, at: Timestamp) {
        self.last_traffic = Some(self.last_traffic.map_or(at, |t| t.max(at)));
        self.quiet = None;
        self.zeroed = false;
    }

    fn clock_went_back(&mut self, now: Timestamp) {
        self.load.clear();
        self.wants.clear();
        self.newest = None;
        self.quiet = None;
        if let Some(p) = &mut self.panic {
            p.last_over = now;
        }
    }

    /// How many instances the service wants at `now`, with `ready` instances ready (the basis of the
    /// rates and of panic).
    pub fn decide(&mut self, now: Timestamp, ready: u32) -> Decision {
        let k = Knobs::new(&self.config);
        if self.newest.is_some_and(|newest| newest.0 > now.0.saturating_add(k.stable_ms)) {
            self.clock_went_back(now);
        }
        let previous = self.last.unwrap_or(ready);
        if self.last.is_none() && ready > 1 {
            self.panic = Some(Panic { last_over: now, most: ready });
        }
        let now_sec = second(now);
        let stable = self.load.average(now_sec, k.stable_secs);
        let panic = self.load.average(now_sec, k.panic_secs);
        let fresh = self.newest.is_some_and(|newest| ms_between(now, newest) <= MAX_SAMPLE_GAP_MS);
        let rates = Rates::new(ready, &k);

        let (want, reason) = match stable.filter(|_| fresh) {
            Some(stable) => self.kpa(now, ready, stable, panic, &k),
            None => {
                self.end_panic_after_window(now, &k);
                let age = self.newest.map(|newest| millis(ms_between(now, newest)));
                (previous, Reason::NoData { age, desired: previous })
            }
        };

        let most = self.wants.add_and_max(now_sec, want, k.delay_secs);
        let (mut want, mut reason) = if most > want {
            (most, Reason::Delayed { wanted: want, desired: most, delay: k.delay })
        } else {
            (want, reason)
        };

        let silent = self.quiet.is_some_and(|q| ms_between(q.through, q.since) >= k.grace_ms);
        let may_zero = k.min == 0 && !self.demand && (self.zeroed || (silent && self.panic.is_none()));
        if may_zero {
            want = if self.zeroed { 0 } else { want.min(rates.down) };
            reason = Reason::ToZero { idle_for: self.idle_for(now), from: previous, to: want };
        }

        let floor = if may_zero { 0 } else { k.min.max(1) }.min(k.max);
        let desired = want.clamp(floor, k.max);
        if desired > want {
            reason = if self.demand && want == 0 {
                Reason::Activate
            } else if k.min == 0 {
                Reason::Idle { idle_for: self.idle_for(now), grace: k.grace }
            } else {
                Reason::Bounded { wanted: want, bound: Bound::Min(floor) }
            };
        } else if desired < want {
            reason = Reason::Bounded { wanted: want, bound: Bound::Max(k.max) };
        }

        self.demand = false;
        self.zeroed = desired == 0;
        self.last = Some(desired);
        Decision {
            desired,
            reason,
            panicking: self.panic.is_some(),
            stable_concurrency: stable.unwrap_or(0.0),
            panic_concurrency: panic.unwrap_or(0.0),
        }
    }

    /// The KPA proper: stable and panic counts, panic mode, rates.
    fn kpa(
        &mut self,
        now: Timestamp,
        ready: u32,
        stable: f64,
        panic: Option<f64>,
        k: &Knobs,
    ) -> (u32, Reason) {
        let rates = Rates::new(ready, k);
        let stable_want = instances_for(stable, k.target);
        let panic_want = panic.map(|p| instances_for(p, k.target));
        let over = panic_want.is_some_and(|want| f64::from(want) / f64::from(ready.max(1)) >= k.threshold);
        if over {
            let (last_over, most) = self.panic.map_or((now, 0), |p| (p.last_over.max(now), p.most));
            self.panic = Some(Panic { last_over, most });
        } else {
            self.end_panic_after_window(now, k);
        }
        let stable_count = rates.bound(stable_want);
        match &mut self.panic {
            Some(p) => {
                let wanted = panic_want.unwrap_or(stable_want);
                p.most = p.most.max(rates.bound(wanted)).max(stable_count);
                let concurrency = panic.unwrap_or(stable);
                (p.most, Reason::Panic { concurrency, window: k.panic, wanted, ready, desired: p.most })
            }
            None => {
                let (concurrency, window, to, wanted) = (stable, k.stable, stable_count, stable_want);
                let from = self.last.unwrap_or(ready);
                // Fewer instances than this and the panic window would start a panic at once: a load with
                // bursts would go down after each panic and panic again.
                let burst = panic_want.map_or(0, |w| {
                    if w == 0 { 0 } else { ((f64::from(w) / k.threshold) as u32).saturating_add(1) }
                });
                let held = rates.bound(burst);
                if held > to {
                    let concurrency = panic.unwrap_or(stable);
                    return (held, Reason::Bursts { concurrency, window: k.panic, desired: held });
                }
                let reason = match to.cmp(&from) {
                    std::cmp::Ordering::Equal => Reason::Steady { concurrency, window, desired: to },
                    std::cmp::Ordering::Greater => Reason::ScaleUp { concurrency, window, from, to, wanted },
                    std::cmp::Ordering::Less => Reason::ScaleDown { concurrency, window, from, to, wanted },
                };
                (to, reason)
            }
        }
    }

    fn end_panic_after_window(&mut self, now: Timestamp, k: &Knobs) {
        if self.panic.is_some_and(|p| now.0 > p.last_over.0.saturating_add(k.stable_ms)) {
            self.panic = None;
        }
    }

    /// How long the service has been without requests, as far as the samples tell.
    fn idle_for(&self, now: Timestamp) -> Duration {
        let since = self.quiet.map(|q| q.since).or(self.last_traffic).unwrap_or(self.created);
        millis(ms_between(now, since))
    }
}

/// The bounds one decision may move within, from the ready instances.
#[derive(Debug, Clone, Copy)]
struct Rates {
    up: u32,
    down: u32,
}

impl Rates {
    fn new(ready: u32, k: &Knobs) -> Self {
        let up = to_count(f64::from(ready.max(1)) * k.up_rate);
        let down = (f64::from(ready) / k.down_rate).floor() as u32;
        Self { up, down: down.min(up) }
    }

    fn bound(self, want: u32) -> u32 {
        want.clamp(self.down, self.up)
    }
}

/// The instances `concurrency` needs at `target` each.
fn instances_for(concurrency: f64, target: f64) -> u32 {
    to_count(concurrency / target)
}

/// `ceil(x)` as a count, saturating; a hair of float noise above a whole number does not count.
fn to_count(x: f64) -> u32 {
    (x - 1e-9).ceil().max(0.0) as u32
}

/// Milliseconds from `earlier` to `later`, 0 if `earlier` is later, without overflow.
fn ms_between(later: Timestamp, earlier: Timestamp) -> i64 {
    later.0.saturating_sub(earlier.0).max(0)
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.unsigned_abs())
}
