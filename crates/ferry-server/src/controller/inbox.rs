//! A service controller's inbox: bounded, ordered, and never a reason to spawn a task.
//!
//! Tasks that serve one instance (its health checks, its stop) `send` and wait for room, which keeps
//! their messages in order. Code that must not wait (the engine's event feed, an API call) `offer`s: when
//! the inbox is full the message is not kept, but the controller learns that it missed something and
//! looks at every container again, which is how a level-triggered controller recovers any lost fact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_model::InstanceId;
use ferry_plan::HealthVerdict;
use ferry_runtime::RuntimeError;
use tokio::sync::mpsc;

/// Messages to a service's controller. Every message also makes it reconcile.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Something about the service may have changed (an operation was queued, an image step ended).
    Nudge,
    /// Events may have been missed (the engine's event stream was down): look at every container again.
    Resync,
    /// An instance's health verdict changed.
    Health { instance: InstanceId, verdict: HealthVerdict, detail: String },
    /// An instance's container stopped.
    Exited { instance: InstanceId, exit_code: Option<i64> },
    /// A stop that the controller started has finished.
    Stopped { instance: InstanceId, result: Result<(), RuntimeError> },
    /// The router holds a request for the service (it has no ready instance): scale now.
    Demand,
}

/// How many messages wait at most.
pub(crate) const CAPACITY: usize = 256;

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Inbox {
    tx: mpsc::Sender<Msg>,
    missed: Arc<AtomicBool>,
}

/// The controller's side.
pub(crate) struct Mailbox {
    rx: mpsc::Receiver<Msg>,
    missed: Arc<AtomicBool>,
}

pub(crate) fn inbox() -> (Inbox, Mailbox) {
    let (tx, rx) = mpsc::channel(CAPACITY);
    let missed = Arc::new(AtomicBool::new(false));
    (Inbox { tx, missed: missed.clone() }, Mailbox { rx, missed })
}

impl Inbox {
    /// Delivers `msg` if there is room; otherwise the controller is told it missed a message.
    pub(crate) fn offer(&self, msg: Msg) {
        if let Err(mpsc::error::TrySendError::Full(msg)) = self.tx.try_send(msg) {
            // A nudge is as good as the resync that a missed fact causes.
            if !matches!(msg, Msg::Nudge) {
                tracing::debug!(?msg, "a controller's inbox is full; it will look at everything again");
            }
            self.missed.store(true, Ordering::Release);
        }
    }

    /// Delivers `msg`, waiting for room; `false` once the controller is gone.
    pub(crate) async fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Whether the controller is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Returns once the controller is gone.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await;
    }
}

impl Mailbox {
    pub(crate) async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    pub(crate) fn try_recv(&mut self) -> Option<Msg> {
        self.rx.try_recv().ok()
    }

    /// Whether a message was dropped since the last call.
    pub(crate) fn take_missed(&self) -> bool {
        self.missed.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_inbox_drops_offers_but_remembers_it_missed_them() {
        let (inbox, mut mailbox) = inbox();
        for _ in 0..CAPACITY {
            inbox.offer(Msg::Nudge);
        }
        assert!(!mailbox.take_missed());
        let instance = InstanceId::generate();
        inbox.offer(Msg::Exited { instance, exit_code: Some(1) });
        assert!(mailbox.take_missed(), "the dropped fact is known to be missing");
        assert!(!mailbox.take_missed(), "once");
        let mut n = 0;
        while mailbox.try_recv().is_some() {
            n += 1;
        }
        assert_eq!(n, CAPACITY, "nothing beyond the bound was kept, and nothing was spawned to wait");
        assert!(inbox.send(Msg::Nudge).await);
        drop(mailbox);
        assert!(inbox.is_closed());
        assert!(!inbox.send(Msg::Nudge).await);
    }
}
