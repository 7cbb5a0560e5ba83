//! Decisions without IO.
//!
//! Everything here takes the state it decides on and `now` as parameters and returns what to do; nothing
//! reads the clock, the store or the engine. That keeps the logic that matters (when is an instance
//! healthy, when has a deployment failed, what replaces what) testable with tables and seeded
//! simulations, and keeps start-up, crash recovery and every change on one code path: the controller
//! observes, asks [`reconcile::plan`], and carries the actions out.

pub mod admission;
pub mod health;
pub mod reconcile;

pub use health::{HealthTracker, HealthVerdict};
pub use reconcile::{Action, Goal, InstanceView, StopReason, plan};
