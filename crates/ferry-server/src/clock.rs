//! The clock seam: what time it is, for the controllers' timestamps and decisions.
//!
//! Production reads the wall clock. Tests of the controller run on tokio's paused clock, and read the time
//! from it ([`TokioClock`]), so a crash back-off of a minute or a deployment deadline of five passes in
//! no real time at all.

use ferry_model::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// tokio's clock (paused in tests), counted from the wall-clock time it was made at.
#[cfg(test)]
pub struct TokioClock {
    start: Timestamp,
    at: tokio::time::Instant,
}

#[cfg(test)]
impl TokioClock {
    pub fn new() -> Self {
        Self { start: Timestamp::now(), at: tokio::time::Instant::now() }
    }
}

#[cfg(test)]
impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = i64::try_from(self.at.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.start.plus_millis(elapsed)
    }
}
