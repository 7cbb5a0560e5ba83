//! Decisions without IO.
//!
//! Everything here takes the state it decides on and `now` as parameters and returns what to do; nothing
//! reads the clock, the store or the engine. That keeps the logic that matters (when is an instance
//! healthy, when has a deployment failed, what replaces what) testable with tables and seeded
//! simulations, and keeps start-up, crash recovery and every change on one code path: the controller
//! observes, asks [`reconcile::plan`], and carries the actions out.
//!
//! What is decided here: which calls a service admits ([`admission`]), health verdicts ([`health`]),
//! crash back-off ([`backoff`]), a deployment's deadline, what follows its failure and a rollback's target
//! ([`deploy`]), how many instances a service wants ([`scale`]) and how that follows its load
//! ([`autoscale`]), what a service's instances do next ([`reconcile`]), the route's protocol during a
//! switch ([`routing`]), which images leave the engine ([`prune`]), and whether a push deploys now and
//! when a watched source is asked again ([`autodeploy`]).

pub mod admission;
pub mod autodeploy;
pub mod autoscale;
pub mod backoff;
pub mod deploy;
pub mod health;
pub mod prune;
pub mod reconcile;
pub mod routing;
pub mod scale;

pub use backoff::CrashBackoff;
pub use health::{HealthTracker, HealthVerdict};
pub use reconcile::{Action, Goal, ObservedInstance, StopReason, plan};
