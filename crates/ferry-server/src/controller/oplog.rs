//! Writing an operation's log: the lines `--wait` and `ferry operations NAME --id ID` show.
//!
//! Lines are queued in the store without waiting (`Store::append_event`), so a burst of pull progress or
//! build output never holds a controller up, and are written before the controller's next store call.

use std::sync::Arc;

use ferry_model::{Operation, OperationId, OperationStatus};
use ferry_store::Store;

use crate::clock::Clock;

#[derive(Clone)]
pub(crate) struct OpLog {
    store: Store,
    clock: Arc<dyn Clock>,
    service: String,
    /// The operation in progress: where lines about instances go.
    current: Option<OperationId>,
}

impl OpLog {
    pub(crate) fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, service: String::new(), current: None }
    }

    pub(crate) fn set_service(&mut self, name: &str) {
        name.clone_into(&mut self.service);
    }

    /// Lines about instances go to `op` while it runs.
    pub(crate) fn follow(&mut self, op: Option<&Operation>) {
        self.current = op
            .filter(|o| !o.status.is_terminal() && o.status != OperationStatus::Pending)
            .map(|o| o.id.clone());
    }

    /// A line of `op`'s log.
    pub(crate) fn event(&self, op: &OperationId, message: &str) {
        tracing::info!(service = %self.service, operation = %op, "{message}");
        self.store.append_event(op, self.clock.now(), message);
    }

    /// A line of `op`'s log that its caller writes to the store itself (in a transaction): to the server's
    /// log only here.
    pub(crate) fn trace(&self, op: &OperationId, message: &str) {
        tracing::info!(service = %self.service, operation = %op, "{message}");
    }

    /// A line of the operation in progress, if there is one; the server's log only otherwise.
    pub(crate) fn note(&self, message: &str) {
        match &self.current {
            Some(op) => self.event(op, message),
            None => tracing::info!(service = %self.service, "{message}"),
        }
    }
}
