//! [`Capacity`]: App Runner's MaxConcurrency, the most requests one instance of a service takes at once, with
//! a bounded queue in front of it. Where App Runner answers 429 once every instance is at its limit, ferry
//! holds the request, for a bounded time, until an instance has room: a request on one of them ends, or the
//! control plane publishes a new instance. Past the wait, or when the queue is full, the client gets 503.
//!
//! The control plane keeps one `Arc<Capacity>` per service and puts it into every table it builds, so the
//! queue and its signal outlive table swaps, as a [`Waiting`](crate::Waiting)'s do. The limit is enforced by
//! the endpoints' in-flight counts (`table.rs`: a slot is taken with a compare-and-swap, never past the
//! limit); the queueing itself is the request's (`proxy.rs`), which routes again whenever it is woken.
//!
//! Waking without a lost wake-up and without a cost per request: a queued request counts itself in
//! [`Capacity::queued`], registers for a wake-up, and only then tries for a slot; a request that ends takes
//! its slot back and only then looks at the count, waking one queued request if there is any. Both sides use
//! sequentially consistent operations, so either the queued request sees the slot, or the ending request sees
//! the queued one. A request that ends while nobody waits costs one load more.
//!
//! Order, roughly first come, first served (`balance.rs`'s `Turn`): tokio wakes the request that has waited
//! longest; a new request goes behind any queued one rather than take a slot that came free for them; a
//! request that joins the queue takes a free slot only if it is alone in it. A woken request that still finds
//! no room (another took it) waits again, at the back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// The most requests each instance of a service takes at once, and how many requests may wait, and for how
/// long, when every instance is at it.
#[derive(Debug)]
pub struct Capacity {
    max_concurrency: usize,
    queue_limit: usize,
    max_wait: Duration,
    /// Requests queued now. Compared with the limit when one enters (never past it), read by every request
    /// that ends to know whether to wake one.
    queued: AtomicUsize,
    /// Woken once per slot given back while requests are queued (FIFO: tokio wakes the longest waiter).
    room: Notify,
    /// One permit per burst of requests that found no room, not yet observed by [`Capacity::saturated`].
    saturated: Notify,
}

impl Capacity {
    /// `max_concurrency` requests per instance at most (at least 1); up to `queue_limit` more wait, each for at
    /// most `max_wait`, when every instance is at it (a `queue_limit` of 0: they get 503 at once).
    pub fn new(max_concurrency: usize, queue_limit: usize, max_wait: Duration) -> Arc<Capacity> {
        Arc::new(Capacity {
            max_concurrency: max_concurrency.max(1),
            queue_limit,
            max_wait,
            queued: AtomicUsize::new(0),
            room: Notify::new(),
            saturated: Notify::new(),
        })
    }

    /// The most requests one instance takes at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// The most requests that wait at once; beyond it, 503.
    pub fn queue_limit(&self) -> usize {
        self.queue_limit
    }

    /// How long a request waits for room at most; past it, 503.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Requests waiting for room now. A request leaves the queue when it gets a slot, runs out of time, its
    /// host stops pointing at instances, or its client goes away.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Returns once a request has found every instance at its limit since the last call returned (at once if
    /// one did unobserved), whether it then queued or was refused: a control-plane task can loop on it to
    /// scale out without waiting for its next look at the load. Any number of requests between two calls wake
    /// it once; one task should wait on it (the signal is not broadcast).
    pub async fn saturated(&self) {
        self.saturated.notified().await;
    }

    /// A wake-up for the next slot given back while requests are queued. Enable it (or poll it) before
    /// trying for a slot, so a slot given back after the try wakes it.
    pub(crate) fn room(&self) -> Notified<'_> {
        self.room.notified()
    }

    /// A slot on some instance was given back (its in-flight count already taken down): wakes one queued
    /// request, if there is any.
    pub(crate) fn released(&self) {
        // SeqCst, pairing with `enter`: see the module docs.
        if self.queued.load(Ordering::SeqCst) > 0 {
            self.room.notify_one();
        }
    }

    /// Wakes the queued request that has waited longest (or the next one to wait) to look for room.
    pub(crate) fn wake_one(&self) {
        self.room.notify_one();
    }

    /// A request found every instance at its limit: counts it as queued for as long as the returned guard
    /// lives, or `None` when the queue is full. Either way the control plane is told
    /// ([`Capacity::saturated`]).
    pub(crate) fn enter(self: &Arc<Self>) -> Option<Queued> {
        // `notify_one` keeps a permit when nobody waits: saturation between two `saturated` calls is not lost.
        self.saturated.notify_one();
        let limit = self.queue_limit;
        self.queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < limit).then_some(n + 1))
            .ok()?;
        Some(Queued { capacity: Arc::clone(self), served: false })
    }
}

/// One queued request, counted in its [`Capacity::queued`] until dropped.
#[derive(Debug)]
pub(crate) struct Queued {
    capacity: Arc<Capacity>,
    /// Whether the request left with a slot. One that leaves without (out of time, its client gone, its host
    /// changed) may have been woken for a slot nobody took: it passes the wake-up on.
    served: bool,
}

impl Queued {
    /// Whether this counts the request in `capacity`.
    pub(crate) fn is_in(&self, capacity: &Arc<Capacity>) -> bool {
        Arc::ptr_eq(&self.capacity, capacity)
    }

    pub(crate) fn capacity(&self) -> &Arc<Capacity> {
        &self.capacity
    }

    /// The request got a slot.
    pub(crate) fn served(mut self) {
        self.served = true;
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        let left = self.capacity.queued.fetch_sub(1, Ordering::SeqCst) - 1;
        if !self.served && left > 0 {
            self.capacity.room.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_queue_counts_its_requests_and_refuses_past_its_limit() {
        let capacity = Capacity::new(2, 2, Duration::from_secs(10));
        assert_eq!(
            (capacity.max_concurrency(), capacity.queue_limit(), capacity.max_wait(), capacity.queued()),
            (2, 2, Duration::from_secs(10), 0)
        );
        let first = capacity.enter().expect("room in the queue");
        let second = capacity.enter().expect("room in the queue");
        assert!(capacity.enter().is_none(), "the queue is full");
        assert_eq!(capacity.queued(), 2);
        assert!(first.is_in(&capacity));
        assert!(!first.is_in(&Capacity::new(2, 2, Duration::ZERO)));
        first.served();
        drop(second);
        assert_eq!(capacity.queued(), 0);
    }

    #[test]
    fn max_concurrency_is_at_least_one() {
        assert_eq!(Capacity::new(0, 0, Duration::ZERO).max_concurrency(), 1);
    }

    #[tokio::test]
    async fn a_slot_given_back_wakes_a_queued_request_only_when_one_waits() {
        let capacity = Capacity::new(1, 4, Duration::from_secs(10));
        // Nobody queued: no permit is stored for a later waiter.
        capacity.released();
        let _queued = capacity.enter().expect("room in the queue");
        let mut room = std::pin::pin!(capacity.room());
        assert!(poll_once(room.as_mut()).await.is_pending());
        capacity.released();
        tokio::time::timeout(Duration::from_secs(5), room).await.expect("woken");
    }

    #[tokio::test]
    async fn a_request_that_leaves_without_a_slot_passes_its_wake_up_on() {
        let capacity = Capacity::new(1, 4, Duration::from_secs(10));
        let (first, _second) = (capacity.enter().expect("queued"), capacity.enter().expect("queued"));
        let mut room = std::pin::pin!(capacity.room());
        assert!(poll_once(room.as_mut()).await.is_pending());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), room).await.expect("woken by the one that left");
    }

    #[tokio::test]
    async fn saturation_that_arrived_unobserved_is_signalled_once() {
        let capacity = Capacity::new(1, 0, Duration::from_secs(10));
        assert!(capacity.enter().is_none(), "no queue at all");
        assert!(capacity.enter().is_none());
        tokio::time::timeout(Duration::from_secs(5), capacity.saturated()).await.expect("signalled");
        let mut next = std::pin::pin!(capacity.saturated());
        assert!(poll_once(next.as_mut()).await.is_pending());
        assert!(capacity.enter().is_none());
        tokio::time::timeout(Duration::from_secs(5), next).await.expect("signalled again");
    }

    /// Polls `future` once.
    async fn poll_once<F: Future + Unpin>(mut future: F) -> std::task::Poll<F::Output> {
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx))).await
    }
}
