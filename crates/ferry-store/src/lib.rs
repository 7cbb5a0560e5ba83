//! ferry's state, in one SQLite database in the data directory.
//!
//! Only this crate knows SQL. [`Db`] is the connection with a method for every read and write;
//! [`Store`] is the async handle the rest of ferry holds: it runs each call on the blocking pool, one at a
//! time, so no caller ever blocks a thread that serves requests (see `handle.rs`). A change that must be
//! atomic runs its reads and writes in [`Db::transaction`] inside one call.
//!
//! What must not be in the file in clear (secrets' values, registry and git passwords, webhook secrets) is
//! sealed with the key in the data directory's `secret.key` (see `seal.rs`).
//!
//! The modules depend one way: `error` ← `seal` ← `migrate` ← `db` ← the tables (`services` ← `revisions`,
//! `operations`, `instances`, `tokens`, `watches`, `scaling`, `secrets`, `connections`) ← `handle`.

mod access_keys;
mod connections;
mod db;
mod domains;
mod error;
mod handle;
mod instances;
mod migrate;
mod observability;
mod operations;
mod revisions;
mod scaling;
mod seal;
mod secrets;
mod services;
mod tags;
mod tokens;
mod watches;

pub use access_keys::AccessKeyRecord;
pub use connections::ConnectionRecord;
pub use db::Db;
pub use domains::CertificateOutcome;
pub use error::{Result, StoreError};
pub use handle::{MAX_PENDING, Store};
pub use observability::ObservabilityRecord;
pub use operations::NewEvent;
pub use revisions::RevisionUse;
pub use scaling::ScalingDecision;
pub use seal::{KEY_FILE, Sealer};
pub use secrets::{SecretRecord, SecretSet};
pub use tokens::{NewToken, TokenRecord};
pub use watches::RegistryHook;

#[cfg(test)]
mod tests;
