//! [`Db`]: the connection, its pragmas, and transactions.
//!
//! Pragmas, and why:
//! - `journal_mode=WAL`: readers never block the writer, and a crash leaves either the whole transaction
//!   or none of it.
//! - `synchronous=NORMAL`: in WAL mode this syncs at checkpoints, not at every commit. A killed process
//!   loses nothing (the WAL is in the OS's cache); only a power cut can lose the last transactions, never
//!   corrupt the file.
//! - `foreign_keys=ON`: rows cannot point at services that do not exist.
//! - `busy_timeout=5000`: another process holding the file (an operator's `sqlite3`, a backup) delays a
//!   call for up to 5 s instead of failing it at once; past that the call fails with
//!   [`StoreError::Busy`](crate::StoreError::Busy). The wait happens on the store's worker, never on a
//!   thread that serves requests (see [`Store`](crate::Store)).

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Result, StoreError};
use crate::migrate;
use crate::seal::Sealer;

/// How long a call waits for another process's lock on the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database, for code that runs on the store's worker: every read and write is a method here. Other
/// crates reach it through [`Store::call`](crate::Store::call), or own one directly before the server
/// starts (migrations, the first admin token).
pub struct Db {
    pub(crate) conn: Connection,
    busy_timeout: Duration,
    /// Seals what must not be in the file in clear (see `seal.rs`).
    pub(crate) sealer: Sealer,
}

impl Db {
    /// Opens (creating if needed) the database at `path`, brings its schema up to date, and checks that
    /// `sealer` has the key its sealed values were sealed with (an error saying so if not, before anything
    /// is written). Credentials an earlier ferry stored in clear are sealed now.
    pub fn open(path: &Path, sealer: Sealer) -> Result<Self> {
        Self::init(Connection::open(path)?, sealer)
    }

    /// A private in-memory database under a key kept nowhere, for tests.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?, Sealer::ephemeral()?)
    }

    fn init(mut conn: Connection, sealer: Sealer) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        migrate::run(&mut conn)?;
        let mut db = Self { conn, busy_timeout: BUSY_TIMEOUT, sealer };
        db.check_key()?;
        db.seal_plaintext()?;
        Ok(db)
    }

    /// Seals what an earlier ferry stored in clear (registry and git credentials in specs, webhook
    /// secrets): a one-time rewrite. The clear text would stay in the file's free pages and the WAL until
    /// they are reused, so the file is then rewritten (`VACUUM`) and the WAL emptied.
    fn seal_plaintext(&mut self) -> Result<()> {
        let sealed = self.seal_plaintext_specs()? + self.seal_plaintext_webhooks()?;
        if sealed > 0 {
            self.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
            tracing::info!(rows = sealed, "sealed the credentials an earlier ferry stored in clear");
        }
        Ok(())
    }

    /// A value sealed on the first open tells at every later one whether the key is still the same, so a
    /// lost or swapped `secret.key` stops the start with a clear error instead of failing deployments.
    fn check_key(&mut self) -> Result<()> {
        const PLACE: &str = "key-check";
        match self.setting("seal_check")? {
            Some(sealed) => match self.sealer.open_text(PLACE, &sealed) {
                Ok(_) => Ok(()),
                Err(_) => Err(StoreError::Key(
                    "the key in secret.key is not the one this database's values were sealed with; restore the \
                     secret.key that was backed up with ferry.db (nothing was changed)"
                        .to_owned(),
                )),
            },
            None => {
                let sealed = self.sealer.seal_text(PLACE, "ferry")?;
                self.set_setting("seal_check", &sealed)
            }
        }
    }

    /// How long a call waits for another process's lock before it fails with
    /// [`StoreError::Busy`](crate::StoreError::Busy) (5 s unless set).
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.conn.busy_timeout(timeout)?;
        self.busy_timeout = timeout;
        Ok(())
    }

    /// Runs `f` without waiting for another process's lock: it fails as busy at once instead.
    pub(crate) fn without_waiting<T>(&mut self, f: impl FnOnce(&mut Db) -> T) -> T {
        let waits = self.busy_timeout;
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let out = f(self);
        let _ = self.conn.busy_timeout(waits);
        out
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Runs `f` as one transaction: everything it writes is committed together, or nothing is (when it
    /// returns an error). At the top level the transaction takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so what `f` reads cannot change before it writes; inside another transaction it is a
    /// savepoint of that one.
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Db) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let (begin, commit, rollback) = if self.conn.is_autocommit() {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        } else {
            ("SAVEPOINT nested", "RELEASE nested", "ROLLBACK TO nested; RELEASE nested")
        };
        self.conn.execute_batch(begin).map_err(StoreError::from)?;
        match f(self) {
            Ok(value) => match self.conn.execute_batch(commit) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = self.conn.execute_batch(rollback);
                    Err(StoreError::from(e).into())
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch(rollback);
                Err(e)
            }
        }
    }

    /// Ends a transaction a panicking call left open, so the next call starts clean.
    pub(crate) fn recover(&mut self) {
        if !self.conn.is_autocommit() {
            tracing::warn!("a store call ended inside a transaction; rolling it back");
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
