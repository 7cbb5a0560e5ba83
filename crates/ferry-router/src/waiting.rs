//! [`Waiting`]: a service that has no ready instance but expects one (scaled to zero, starting). Requests to
//! it are held rather than refused, and each tells the control plane that the service is wanted.
//!
//! The control plane keeps one `Arc<Waiting>` per service and puts it into every table it builds while the
//! service waits, so the demand counters and the signal outlive table swaps. The holding itself is the
//! request's (`proxy.rs`): it waits for a table that gives its host something else.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Requests for a service that waits for an instance, and the signal that tells the control plane of them.
#[derive(Debug)]
pub struct Waiting {
    hold: Duration,
    /// Requests that ever met this `Waiting`.
    demand: AtomicU64,
    /// Requests held now.
    held: AtomicUsize,
    /// One permit per burst of requests not yet observed by [`Waiting::demanded`].
    demanded: Notify,
}

impl Waiting {
    /// `hold` bounds how long one request is held; past it the client gets 503.
    pub fn new(hold: Duration) -> Arc<Waiting> {
        Arc::new(Waiting {
            hold,
            demand: AtomicU64::new(0),
            held: AtomicUsize::new(0),
            demanded: Notify::new(),
        })
    }

    /// How long a request is held at most.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// How many requests have asked for the service while it waited, ever.
    pub fn demand(&self) -> u64 {
        self.demand.load(Ordering::Acquire)
    }

    /// How many requests are held now. A request leaves when it is routed, runs out of time, or its client
    /// goes away.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Returns once a request has arrived since the last call returned, at once if one arrived unobserved:
    /// a control-plane task can loop on it to start an instance on demand. Any number of requests between two
    /// calls wake it once; one task should wait on it (the signal is not broadcast).
    pub async fn demanded(&self) {
        self.demanded.notified().await;
    }

    /// Counts a request that is now held here, for as long as the returned guard lives.
    pub(crate) fn enter(self: &Arc<Self>) -> Holding {
        self.demand.fetch_add(1, Ordering::AcqRel);
        self.held.fetch_add(1, Ordering::AcqRel);
        // `notify_one` keeps a permit when nobody waits: demand that arrives between two `demanded` calls is
        // not lost.
        self.demanded.notify_one();
        Holding { waiting: Arc::clone(self) }
    }
}

/// One held request, counted in its [`Waiting::held`] until dropped (the request was routed, ran out of time, or
/// its client went away and hyper dropped it).
#[derive(Debug)]
pub(crate) struct Holding {
    waiting: Arc<Waiting>,
}

impl Holding {
    /// Whether this counts the request in `waiting`.
    pub(crate) fn is_in(&self, waiting: &Arc<Waiting>) -> bool {
        Arc::ptr_eq(&self.waiting, waiting)
    }

    pub(crate) fn waiting(&self) -> &Arc<Waiting> {
        &self.waiting
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.waiting.held.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn held_requests_count_while_they_live_and_demand_counts_forever() {
        let waiting = Waiting::new(Duration::from_secs(3));
        assert_eq!((waiting.hold(), waiting.demand(), waiting.held()), (Duration::from_secs(3), 0, 0));
        let first = waiting.enter();
        let second = waiting.enter();
        assert_eq!((waiting.demand(), waiting.held()), (2, 2));
        assert!(first.is_in(&waiting));
        assert!(!first.is_in(&Waiting::new(Duration::ZERO)));
        drop(first);
        drop(second);
        assert_eq!((waiting.demand(), waiting.held()), (2, 0));
    }

    #[tokio::test]
    async fn demand_that_arrived_unobserved_is_signalled_once() {
        let waiting = Waiting::new(Duration::from_secs(3));
        let _held = [waiting.enter(), waiting.enter()];
        // Both arrived before anyone waited: one permit, so the first wait returns at once...
        tokio::time::timeout(Duration::from_secs(5), waiting.demanded()).await.expect("signalled");
        // ...and the second waits for the next request.
        let mut next = std::pin::pin!(waiting.demanded());
        assert!(futures_poll_once(next.as_mut()).await.is_pending());
        let _third = waiting.enter();
        tokio::time::timeout(Duration::from_secs(5), next).await.expect("signalled again");
    }

    /// Polls `future` once.
    async fn futures_poll_once<F: Future + Unpin>(mut future: F) -> std::task::Poll<F::Output> {
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx))).await
    }
}
