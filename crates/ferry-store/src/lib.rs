//! ferry's state, in one SQLite database in the data directory.
//!
//! Only this crate knows SQL. [`Db`] is the connection with a method for every read and write;
//! [`Store`] is the async handle the rest of ferry holds: it runs each call on the blocking pool, one at a
//! time, so no caller ever blocks a thread that serves requests (see `handle.rs`). A change that must be
//! atomic runs its reads and writes in [`Db::transaction`] inside one call.
//!
//! The modules depend one way: `error` ← `migrate` ← `db` ← the tables (`services` ← `revisions`,
//! `operations`, `instances`, `tokens`, `watches`, `scaling`) ← `handle`.

mod db;
mod error;
mod handle;
mod instances;
mod migrate;
mod operations;
mod revisions;
mod scaling;
mod services;
mod tokens;
mod watches;

pub use db::Db;
pub use error::{Result, StoreError};
pub use handle::{MAX_PENDING, Store};
pub use operations::NewEvent;
pub use revisions::RevisionUse;
pub use scaling::ScalingDecision;
pub use tokens::TokenRecord;
pub use watches::RegistryHook;

#[cfg(test)]
mod tests;
