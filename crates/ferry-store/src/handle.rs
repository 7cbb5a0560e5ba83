//! [`Store`]: the async handle every other part of ferry uses.
//!
//! SQLite calls block: on a slow disk, or for up to the busy timeout while another process (an operator's
//! `sqlite3`, a backup) holds the write lock. None of that may happen on the threads that serve the router,
//! so every call runs on tokio's blocking pool, one at a time and in the order they were made (a fair
//! semaphore with one permit hands out the turns). The caller only awaits.
//!
//! Some writes need no answer: operation log lines (pull progress, a build's output, one line per step),
//! and records a controller keeps for a restart (an instance's state). [`Store::append_event`] and
//! [`Store::submit`] queue them without waiting; the queue is written, in order, in one transaction by the
//! next call that takes its turn, before that call's own work (so what a caller queued and then reads or
//! writes is seen in that order), or by a flush started when the queue stops being empty. Log lines are
//! bounded: past [`MAX_PENDING`] waiting lines, further ones are counted and dropped, and the log says how
//! many. A queued write that fails is logged and the others go on. When another process holds the
//! database (busy), the whole queue stays, in order, and a flush tries it again every second; calls
//! meanwhile go ahead without it, so reads, which need no lock, are not held up (and, until the queue is
//! written, do not see it).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferry_model::{OperationId, Timestamp};
use tokio::sync::Semaphore;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::operations::NewEvent;

/// How many operation log lines may wait to be written.
pub const MAX_PENDING: usize = 50_000;

/// A write queued with [`Store::submit`]: `Fn`, so that one the database was too busy to take can run again.
type Write = Box<dyn Fn(&mut Db) -> Result<()> + Send>;

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

/// After the queue could not be written because another process holds the database, a flush tries it
/// again this often, and calls meanwhile go ahead without it (reads need no lock).
const QUEUE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

enum Queued {
    Line(NewEvent),
    /// What the write records, for the log if it fails, and the write.
    Write(&'static str, Write),
}

#[derive(Default)]
struct Pending {
    queue: VecDeque<Queued>,
    lines: usize,
    /// Lines dropped per operation because the queue was full.
    dropped: HashMap<OperationId, u64>,
    /// The queue failed on a busy database: only a flush tries it again.
    busy: bool,
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

    /// Opens (creating if needed) the database at `path`, migrated, its values sealed by `sealer`.
    pub fn open(path: &std::path::Path, sealer: crate::Sealer) -> Result<Self> {
        Ok(Self::new(Db::open(path, sealer)?))
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self> {
        Ok(Self::new(Db::in_memory()?))
    }

    /// Runs `f` with the database when its turn comes, on the blocking pool; what was queued is written
    /// first. For several reads and writes that must see one state, run them in [`Db::transaction`]
    /// inside `f`.
    pub async fn call<T, E>(&self, f: impl FnOnce(&mut Db) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.turn(false, f).await
    }

    /// Runs `f` in turn; `retry` also tries a queue the database was too busy to take.
    async fn turn<T, E>(
        &self,
        retry: bool,
        f: impl FnOnce(&mut Db) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let turn = Arc::clone(&self.inner.turn).acquire_owned().await;
        let turn = turn.map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        let inner = Arc::clone(&self.inner);
        let store = self.clone();
        let work = tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the caller stops waiting.
            let _turn = turn;
            let mut db = inner.lock_db();
            db.recover();
            if !inner.write_pending(&mut db, retry) {
                store.flush_later();
            }
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
            let was_empty = pending.queue.is_empty();
            if pending.lines >= MAX_PENDING {
                *pending.dropped.entry(operation.clone()).or_default() += 1;
            } else {
                pending.lines += 1;
                let line = NewEvent { operation: operation.clone(), at, message: message.into() };
                pending.queue.push_back(Queued::Line(line));
            }
            was_empty
        };
        self.flush_soon(was_empty);
    }

    /// Queues a write that needs no answer, without waiting (see the module docs). `what` names it in the
    /// server's log if it fails.
    pub fn submit(&self, what: &'static str, write: impl Fn(&mut Db) -> Result<()> + Send + 'static) {
        let was_empty = {
            let mut pending = self.inner.lock_pending();
            let was_empty = pending.queue.is_empty();
            pending.queue.push_back(Queued::Write(what, Box::new(write)));
            was_empty
        };
        self.flush_soon(was_empty);
    }

    /// One flush at a time: the one that finds the queue empty starts it; later items ride along.
    fn flush_soon(&self, was_empty: bool) {
        if was_empty && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.clone();
            runtime.spawn(async move {
                if let Err(e) = store.flush().await {
                    tracing::warn!(error = %e, "cannot write what was queued for the database");
                }
            });
        }
    }

    /// Tries the queue again after [`QUEUE_RETRY`], once the database was too busy to take it.
    fn flush_later(&self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.clone();
            runtime.spawn(async move {
                tokio::time::sleep(QUEUE_RETRY).await;
                let _ = store.flush().await;
            });
        }
    }

    /// Writes what is queued now (and tries again a queue the database was too busy to take).
    pub async fn flush(&self) -> Result<()> {
        self.turn(true, |_| Ok::<_, StoreError>(())).await
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

    /// Writes what is queued, in order, in one transaction. If the database is too busy to take it
    /// (another process holds it), all of it goes back to the front of the queue for the next turn; a write
    /// or lines the database refuses for another reason are logged and dropped (they would fail again).
    ///
    /// Returns `false` when the database was busy: from then on only a flush (`retry`) tries the queue again,
    /// every [`QUEUE_RETRY`], and calls go ahead without it (a read needs no lock; a write fails as busy
    /// anyway).
    fn write_pending(&self, db: &mut Db, retry: bool) -> bool {
        let (queue, dropped) = {
            let mut pending = self.lock_pending();
            if pending.busy && !retry {
                return true;
            }
            pending.busy = false;
            pending.lines = 0;
            (std::mem::take(&mut pending.queue), std::mem::take(&mut pending.dropped))
        };
        if queue.is_empty() && dropped.is_empty() {
            return true;
        }
        let notes: Vec<NewEvent> = dropped
            .iter()
            .map(|(operation, count)| NewEvent {
                operation: operation.clone(),
                at: Timestamp::now(),
                message: format!("[ferry] {count} lines of this log were dropped: the database fell behind"),
            })
            .collect();
        // Once busy, retries do not wait for the lock (they would hold every call up behind them).
        let attempt = |db: &mut Db| {
            db.transaction(|db| {
                let mut lines: Vec<&NewEvent> = Vec::new();
                for item in &queue {
                    match item {
                        Queued::Line(line) => lines.push(line),
                        Queued::Write(what, write) => {
                            // Lines queued before a write are written before it.
                            write_lines(db, &mut lines)?;
                            match db.transaction(|db| write(db)) {
                                Err(StoreError::Busy) => return Err(StoreError::Busy),
                                Err(e) => tracing::warn!(error = %e, "cannot {what}"),
                                Ok(()) => {}
                            }
                        }
                    }
                }
                lines.extend(&notes);
                write_lines(db, &mut lines)
            })
        };
        let outcome = if retry { db.without_waiting(attempt) } else { attempt(db) };
        let Err(e) = outcome else { return true };
        tracing::warn!(error = %e, "cannot write what was queued for the database; will try again");
        let mut pending = self.lock_pending();
        let mut queue = queue;
        pending.lines += queue.iter().filter(|q| matches!(q, Queued::Line(_))).count();
        queue.extend(pending.queue.drain(..));
        pending.queue = queue;
        for (operation, count) in dropped {
            *pending.dropped.entry(operation).or_default() += count;
        }
        pending.busy = true;
        false
    }
}

/// Writes the lines gathered so far, in a savepoint of their own: if the database refuses them for any
/// reason but being busy, they are logged and dropped and the rest goes on.
fn write_lines(db: &mut Db, lines: &mut Vec<&NewEvent>) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(lines);
    let written = db.transaction(|db| {
        for e in &batch {
            db.append_event(&e.operation, e.at, &e.message)?;
        }
        Ok(())
    });
    match written {
        Err(StoreError::Busy) => Err(StoreError::Busy),
        Err(e) => {
            tracing::warn!(error = %e, lines = batch.len(), "cannot write operation log lines");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}
