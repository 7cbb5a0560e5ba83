//! The store's one error type.

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    /// Another process (an operator's `sqlite3`, a backup) held the database's write lock for longer than
    /// the busy timeout. Nothing was written; the call can be tried again.
    #[error("the database is locked by another process (a backup, or a sqlite3 shell?); try again")]
    Busy,
    #[error("a live service is already named {0:?}")]
    NameTaken(String),
    #[error(
        "the database's schema version is {found}, newer than this ferry knows ({known}); run a newer ferry"
    )]
    NewerSchema { found: i64, known: i64 },
    /// The key that seals values at rest cannot be read or made.
    #[error("{0}")]
    Key(String),
    /// A sealed value does not open: the key is not the one it was sealed with, or the value was moved
    /// or changed.
    #[error("the sealed value of {place} cannot be opened: {why}")]
    Unsealable { place: String, why: String },
    #[error("stored row is unreadable: {0}")]
    Corrupt(String),
    /// The store's worker could not run the call (it panicked, or the runtime is shutting down).
    #[error("the store could not run the call: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match e.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => StoreError::Busy,
            _ => StoreError::Sqlite(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}
