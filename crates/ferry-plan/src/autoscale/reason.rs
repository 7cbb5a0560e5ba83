//! Why a decision is what it is, as a sentence for people (`describe`, the event log).

use std::fmt;
use std::time::Duration;

/// Why the autoscaler wants the count it does. Each variant reads as one line through `Display`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The stable window wants what was asked for before.
    Steady { concurrency: f64, window: Duration, desired: u32 },
    /// The stable window wants more. `to` is below `wanted` when the scale-up rate bounds the step.
    ScaleUp { concurrency: f64, window: Duration, from: u32, to: u32, wanted: u32 },
    /// The stable window wants fewer. `to` is above `wanted` when the scale-down rate bounds the step.
    ScaleDown { concurrency: f64, window: Duration, from: u32, to: u32, wanted: u32 },
    /// A burst: the panic window wants `threshold` times the ready instances or more, or did within the
    /// last stable window. While panicking the count never goes down: `desired` is the most wanted since
    /// the panic began.
    Panic { concurrency: f64, window: Duration, wanted: u32, ready: u32, desired: u32 },
    /// The stable window wants fewer, but the panic window would start a panic below `desired`.
    Bursts { concurrency: f64, window: Duration, desired: u32 },
    /// The load wants fewer (`wanted`), but wanted `desired` within the scale-down delay.
    Delayed { wanted: u32, desired: u32, delay: Duration },
    /// No request for `idle_for` (at least the grace): the service goes to zero, `to` is 0, or on its way
    /// there as fast as the scale-down rate allows.
    ToZero { idle_for: Duration, from: u32, to: u32 },
    /// The service may scale to zero and the load wants no instance, but it has not been idle for the
    /// grace yet: one instance stays.
    Idle { idle_for: Duration, grace: Duration },
    /// A request waits at the router and no instance is ready: one starts at once.
    Activate,
    /// The configuration's minimum or maximum overrides what the load wants.
    Bounded { wanted: u32, bound: Bound },
    /// No fresh load sample (none in the stable window, or none for longer than
    /// [`super::MAX_SAMPLE_GAP`]): the count stays what it was rather than guess. `age` is how old the
    /// newest sample is, if there is one.
    NoData { age: Option<Duration>, desired: u32 },
}

/// Which bound of the configuration applied, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Min(u32),
    Max(u32),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::Steady { concurrency, window, desired } => write!(
                f,
                "steady: {} concurrent requests over the last {} want {}",
                Load(concurrency),
                Secs(window),
                Instances(desired)
            ),
            Reason::ScaleUp { concurrency, window, from, to, wanted } => {
                write!(
                    f,
                    "scale up from {from} to {to}: {} concurrent requests over the last {} want {}",
                    Load(concurrency),
                    Secs(window),
                    Instances(wanted)
                )?;
                if wanted > to { f.write_str(", more than the scale-up rate allows at once") } else { Ok(()) }
            }
            Reason::ScaleDown { concurrency, window, from, to, wanted } => {
                write!(
                    f,
                    "scale down from {from} to {to}: {} concurrent requests over the last {} want {}",
                    Load(concurrency),
                    Secs(window),
                    Instances(wanted)
                )?;
                if wanted < to {
                    f.write_str(", fewer than the scale-down rate allows at once")
                } else {
                    Ok(())
                }
            }
            Reason::Panic { concurrency, window, wanted, ready, desired } => {
                write!(
                    f,
                    "panic: {} concurrent requests in the last {} want {} ({ready} ready)",
                    Load(concurrency),
                    Secs(window),
                    Instances(wanted)
                )?;
                if desired > wanted { write!(f, "; holding {desired} while panicking") } else { Ok(()) }
            }
            Reason::Bursts { concurrency, window, desired } => write!(
                f,
                "keeping {}: {} concurrent requests in the last {} would panic with fewer",
                Instances(desired),
                Load(concurrency),
                Secs(window)
            ),
            Reason::Delayed { wanted, desired, delay } => write!(
                f,
                "scale-down delay: the load wants {}, keeping {desired}, the most it wanted in the last {}",
                Instances(wanted),
                Secs(delay)
            ),
            Reason::ToZero { idle_for, from: 0, to: 0 } => {
                write!(f, "at zero: no requests for {}", Secs(idle_for))
            }
            Reason::ToZero { idle_for, from, to: 0 } => {
                write!(f, "scale to zero from {from}: no requests for {}", Secs(idle_for))
            }
            Reason::ToZero { idle_for, from, to } => write!(
                f,
                "scale down from {from} to {to} on the way to zero: no requests for {}",
                Secs(idle_for)
            ),
            Reason::Idle { idle_for, grace } => write!(
                f,
                "no requests for {}: keeping 1 instance until {} without requests",
                Secs(idle_for),
                Secs(grace)
            ),
            Reason::Activate => f.write_str("activation: a request waits and no instance is ready"),
            Reason::Bounded { wanted, bound: Bound::Min(min) } => {
                write!(f, "keeping the minimum of {} (the load wants {wanted})", Instances(min))
            }
            Reason::Bounded { wanted, bound: Bound::Max(max) } => {
                write!(f, "capped at the maximum of {} (the load wants {wanted})", Instances(max))
            }
            Reason::NoData { age: None, desired } => {
                write!(f, "no load samples yet: keeping {}", Instances(desired))
            }
            Reason::NoData { age: Some(age), desired } => {
                write!(f, "no load samples for {}: keeping {}", Secs(age), Instances(desired))
            }
        }
    }
}

/// "1 instance", "3 instances".
struct Instances(u32);

impl fmt::Display for Instances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} instance{plural}", self.0)
    }
}

/// "42", "3.5": whole numbers without a fraction.
struct Load(f64);

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if (self.0 - self.0.round()).abs() < 0.05 {
            write!(f, "{:.0}", self.0)
        } else {
            write!(f, "{:.1}", self.0)
        }
    }
}

/// "6 s", "1.5 s".
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_millis() == 0 {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{:.1} s", self.0.as_secs_f64())
        }
    }
}
