//! ferry's state, in one SQLite database in the data directory.
//!
//! Only this crate knows SQL. The database is opened once; all access goes through one connection behind
//! a mutex (SQLite serialises writers anyway, and every statement here is small), which keeps
//! transactions simple and makes `kill -9` safe: a committed transaction is in the WAL before the call
//! returns.
//!
//! Pragmas, and why:
//! - `journal_mode=WAL`: readers never block the writer, and a crash leaves either the whole transaction
//!   or none of it.
//! - `synchronous=NORMAL`: in WAL mode this syncs at checkpoints, not at every commit. A killed process
//!   loses nothing (the WAL is in the OS's cache); only a power cut can lose the last transactions, never
//!   corrupt the file.
//! - `foreign_keys=ON`: rows cannot point at services that do not exist.
//! - `busy_timeout=5000`: another process holding the file (an operator's `sqlite3`) delays us instead of
//!   failing the call.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

mod instances;
mod migrate;
mod operations;
mod services;
mod tokens;

pub use tokens::TokenRecord;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("a live service is already named {0:?}")]
    NameTaken(String),
    #[error(
        "the database's schema version is {found}, newer than this ferry knows ({known}); run a newer ferry"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("stored row is unreadable: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut conn = conn;
        migrate::run(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn().pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction behind (rusqlite rolls back
        // on drop), so the connection is still usable: recover it rather than poison every later call.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

#[cfg(test)]
mod tests;
