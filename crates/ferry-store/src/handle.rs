//! [`Store`]: the async handle every other part of ferry uses.
//!
//! SQLite calls block: on a slow disk, or for up to the busy timeout while another process (an operator's
//! `sqlite3`, a backup) holds the write lock. None of that may happen on the threads that serve the router,
//! so every call runs on tokio's blocking pool, one at a time and in the order they were made (a fair
//! semaphore with one permit hands out the turns). The caller only awaits.
//!
//! Operation log lines come in bursts (pull progress, a build's output, one line per step), often from
//! code that cannot await. [`Store::append_event`] queues a line without waiting; queued lines are written
//! in one transaction by the next call that takes its turn, before that call's own work (so a caller that
//! logs a line and then ends its operation writes them in that order), or by a flush started when the
//! queue stops being empty. The queue is bounded: past [`MAX_PENDING`] lines, further lines are counted
//! and dropped, and the log says how many.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferry_model::{OperationId, Timestamp};
use tokio::sync::Semaphore;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::operations::NewEvent;

/// How many operation log lines may wait to be written.
pub const MAX_PENDING: usize = 50_000;

/// The database, shared. Cheap to clone: clones are handles on one database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Mutex<Db>,
    /// One permit: whose turn it is to use the database.
    turn: Arc<Semaphore>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    events: Vec<NewEvent>,
    /// Lines dropped per operation because the queue was full.
    dropped: HashMap<OperationId, u64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Serves `db` (opened, migrated, and given what the server needs before it starts).
    pub fn new(db: Db) -> Self {
        let inner = Inner {
            db: Mutex::new(db),
            turn: Arc::new(Semaphore::new(1)),
            pending: Mutex::new(Pending::default()),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Opens (creating if needed) the database at `path`, migrated.
    pub fn open(path: &std::path::Path) -> Result<Self> {
        Ok(Self::new(Db::open(path)?))
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self> {
        Ok(Self::new(Db::in_memory()?))
    }

    /// Runs `f` with the database when its turn comes, on the blocking pool; queued log lines are written
    /// first. For several reads and writes that must see one state, run them in
    /// [`Db::transaction`] inside `f`.
    pub async fn call<T, E>(&self, f: impl FnOnce(&mut Db) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let turn = Arc::clone(&self.inner.turn).acquire_owned().await;
        let turn = turn.map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        let inner = Arc::clone(&self.inner);
        let work = tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the caller stops waiting.
            let _turn = turn;
            let mut db = inner.lock_db();
            db.recover();
            inner.write_pending(&mut db);
            f(&mut db)
        });
        match work.await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Unavailable(e.to_string()).into()),
        }
    }

    /// Queues a line for an operation's log without waiting (see the module docs).
    pub fn append_event(&self, operation: &OperationId, at: Timestamp, message: impl Into<String>) {
        let was_empty = {
            let mut pending = self.inner.lock_pending();
            let was_empty = pending.events.is_empty();
            if pending.events.len() >= MAX_PENDING {
                *pending.dropped.entry(operation.clone()).or_default() += 1;
            } else {
                pending.events.push(NewEvent { operation: operation.clone(), at, message: message.into() });
            }
            was_empty
        };
        // One flush at a time: the one that finds the queue empty starts it; later lines ride along.
        if was_empty && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.clone();
            runtime.spawn(async move {
                if let Err(e) = store.flush().await {
                    tracing::warn!(error = %e, "cannot write operation log lines");
                }
            });
        }
    }

    /// Writes the queued log lines now.
    pub async fn flush(&self) -> Result<()> {
        self.call(|_| Ok::<_, StoreError>(())).await
    }
}

impl Inner {
    fn lock_db(&self) -> MutexGuard<'_, Db> {
        // A call that panicked cannot have left a transaction half-committed (`Db::recover` rolls back what
        // it left open), so the connection is still usable.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        // Only pushes and takes happen under this lock; a poisoned queue is still a consistent queue.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the queued lines in one transaction; on failure they go back to the front of the queue.
    fn write_pending(&self, db: &mut Db) {
        let (mut events, dropped) = {
            let mut pending = self.lock_pending();
            (std::mem::take(&mut pending.events), std::mem::take(&mut pending.dropped))
        };
        for (operation, count) in dropped {
            events.push(NewEvent {
                at: events.last().map_or(Timestamp(0), |e| e.at),
                message: format!("[ferry] {count} lines of this log were dropped: the database fell behind"),
                operation,
            });
        }
        if events.is_empty() {
            return;
        }
        if let Err(e) = db.append_events(&events) {
            tracing::warn!(error = %e, lines = events.len(), "cannot write operation log lines; will retry");
            let mut pending = self.lock_pending();
            events.truncate(MAX_PENDING.saturating_sub(pending.events.len()));
            events.append(&mut pending.events);
            pending.events = events;
        }
    }
}
