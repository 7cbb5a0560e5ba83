//! Load balancing: the power of two random choices over the in-flight count.
//!
//! Pick two distinct endpoints at random and send the request to the one with fewer requests outstanding
//! (Mitzenmacher; what Envoy calls least-request and linkerd uses for its balancer). It needs no shared state
//! beyond the endpoints' own counters and never sends to the busiest endpoint while a less busy one exists.
//! Ties are broken by the random draw, so idle endpoints share the load evenly.
//!
//! Under a [`Capacity`] (at most so many requests per instance), the choice is the same while the winner has room;
//! when it is at the limit (and so is the other one drawn), any instance with room is taken; when none has, the
//! request is to queue (`proxy.rs`). A chosen instance has the request counted against it already (its
//! `InFlight` guard): under a limit, that is what takes the slot.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use tracing::debug;

use crate::capacity::Capacity;
use crate::error::{Chain, ProxyError};
use crate::table::{Endpoint, InFlight, ServiceRoute};

/// Chooses the index of the endpoint to use, never `skip` (an endpoint that just failed to connect).
/// `None` when there is nothing (else) to choose.
pub(crate) fn pick(endpoints: &[Arc<Endpoint>], skip: Option<usize>) -> Option<usize> {
    // Candidates are the indexes 0..n without `skip`; `nth` maps a candidate rank to its index.
    let n = endpoints.len() - usize::from(skip.is_some_and(|s| s < endpoints.len()));
    let nth = |rank: usize| match skip {
        Some(s) if rank >= s => rank + 1,
        _ => rank,
    };
    match n {
        0 => None,
        1 => Some(nth(0)),
        _ => {
            let (a, b) = two_distinct(n);
            let (a, b) = (nth(a), nth(b));
            if endpoints[b].in_flight() < endpoints[a].in_flight() { Some(b) } else { Some(a) }
        }
    }
}

/// Where a request stands with the queue of its route's [`Capacity`], which says whether it may take a slot that
/// came free while requests are queued: the queued ones go first, in the order tokio wakes them (the order they
/// began to wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Not queued: it goes behind any queued request.
    New,
    /// Just queued: it takes a slot only if no other request is queued.
    Queued,
    /// Woken while waiting (for room, or by a new table): its turn.
    Woken,
}

/// The instance a request goes to first, with the request counted against it: two random ones, the less busy
/// wins ([`pick`]). Under a [`Capacity`], one with room: when the winner is at the limit, any other with room;
/// `None` when every instance is at it, or when queued requests go before this one (its [`Turn`]).
///
/// Inline: on every request's path, and a call with this answer costs more than the work.
#[inline]
pub(crate) fn first_choice(route: &ServiceRoute, turn: Turn) -> Result<Option<InFlight>, ProxyError> {
    let endpoints = route.endpoints();
    let Some(index) = pick(endpoints, None) else {
        return Err(ProxyError::NoInstance { service: route.service.clone() });
    };
    match &route.capacity {
        None => Ok(Some(InFlight::start(&endpoints[index]))),
        Some(capacity) => Ok(with_room(endpoints, index, None, capacity, turn)),
    }
}

/// `first` if it has room under `capacity`, else the first other instance after it that has, never `skip`.
/// `None` when none has room, or when queued requests go first (`turn`).
fn with_room(
    endpoints: &[Arc<Endpoint>],
    first: usize,
    skip: Option<usize>,
    capacity: &Arc<Capacity>,
    turn: Turn,
) -> Option<InFlight> {
    let before = match turn {
        Turn::New => 0,
        Turn::Queued => 1,
        Turn::Woken => usize::MAX,
    };
    if capacity.queued() > before {
        return None;
    }
    let n = endpoints.len();
    let wrap = |index: usize| if index >= n { index - n } else { index };
    let chosen = (first..first + n)
        .map(wrap)
        .filter(|&index| Some(index) != skip)
        .find_map(|index| InFlight::try_start(&endpoints[index], capacity))?;
    // Room that came with a new table wakes every queued request at once, but room left over after them is
    // announced by nobody: a woken request that leaves room behind wakes the next one in line.
    if turn == Turn::Woken
        && capacity.queued() > 1
        && endpoints.iter().any(|endpoint| endpoint.in_flight() < capacity.max_concurrency())
    {
        capacity.wake_one();
    }
    Some(chosen)
}

/// The one other instance a request goes to when nothing of it reached `failed` (`err` says why), or `err`
/// back when there is none (or, under a [`Capacity`], none with room). Both protocols retry by this rule:
/// once, elsewhere, only if nothing was sent. `failed` no longer counts the request once this returns.
pub(crate) fn second_choice(
    route: &ServiceRoute,
    failed: InFlight,
    err: ProxyError,
) -> Result<InFlight, ProxyError> {
    let endpoints = route.endpoints();
    let first = endpoints.iter().position(|endpoint| Arc::ptr_eq(endpoint, failed.endpoint()));
    let Some(second) = pick(endpoints, first) else { return Err(err) };
    let chosen = match &route.capacity {
        None => InFlight::start(&endpoints[second]),
        // The request already had its turn: it does not go behind the queue.
        Some(capacity) => match with_room(endpoints, second, first, capacity, Turn::Woken) {
            Some(chosen) => chosen,
            None => return Err(err),
        },
    };
    debug!(
        service = %route.service,
        failed = failed.endpoint().id(),
        retry = chosen.endpoint().id(),
        error = %Chain(&err),
        "retrying on another instance"
    );
    Ok(chosen)
}

/// Two distinct ranks below `n` (n ≥ 2), uniformly at random, in random order.
fn two_distinct(n: usize) -> (usize, usize) {
    let r = next_random();
    // Multiply-shift maps 32 random bits onto 0..n without the bias of `%` mattering at these sizes.
    let a = bounded(r as u32, n);
    let mut b = bounded((r >> 32) as u32, n - 1);
    if b >= a {
        b += 1;
    }
    (a, b)
}

fn bounded(random: u32, n: usize) -> usize {
    ((u64::from(random) * n as u64) >> 32) as usize
}

thread_local! {
    /// Per-thread xorshift state: no contention between runtime threads. Seeded from std's per-process random
    /// keys; `| 1` keeps it non-zero, the one state xorshift cannot leave.
    static RNG: Cell<u64> = Cell::new(random_seed() | 1);
}

/// A fresh random 64-bit value from the OS-seeded keys of std's `RandomState`.
pub(crate) fn random_seed() -> u64 {
    RandomState::new().hash_one(0x5eed_u64)
}

/// xorshift64*: fast, small, and good enough to spread load (not for anything secret).
pub(crate) fn next_random() -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(loads: &[usize]) -> (Vec<Arc<Endpoint>>, Vec<InFlight>) {
        let mut guards = Vec::new();
        let endpoints = loads
            .iter()
            .enumerate()
            .map(|(i, &load)| {
                let port = u16::try_from(i + 1).expect("few endpoints");
                let endpoint = Endpoint::new(format!("i-{i}"), ([127, 0, 0, 1], port).into());
                guards.extend((0..load).map(|_| InFlight::start(&endpoint)));
                endpoint
            })
            .collect();
        (endpoints, guards)
    }

    fn histogram(endpoints: &[Arc<Endpoint>], skip: Option<usize>) -> Vec<usize> {
        let mut counts = vec![0; endpoints.len()];
        for _ in 0..3000 {
            counts[pick(endpoints, skip).expect("an endpoint")] += 1;
        }
        counts
    }

    #[test]
    fn nothing_to_pick_from() {
        assert_eq!(pick(&[], None), None);
        let (one, _guards) = endpoints(&[0]);
        assert_eq!(pick(&one, Some(0)), None);
    }

    #[test]
    fn a_single_endpoint_is_always_used_whatever_its_load() {
        let (one, _guards) = endpoints(&[7]);
        assert_eq!(histogram(&one, None), [3000]);
    }

    #[test]
    fn two_endpoints_prefer_the_less_loaded_one() {
        let (two, _guards) = endpoints(&[3, 1]);
        assert_eq!(histogram(&two, None), [0, 3000]);
    }

    #[test]
    fn idle_endpoints_share_the_load() {
        let (four, _guards) = endpoints(&[0, 0, 0, 0]);
        for count in histogram(&four, None) {
            // Expected 750 each; 500 is more than ten standard deviations away.
            assert!(count > 500, "uneven spread: {count}");
        }
    }

    #[test]
    fn the_busiest_endpoint_is_never_chosen_over_less_busy_ones() {
        let (three, _guards) = endpoints(&[10, 0, 5]);
        let counts = histogram(&three, None);
        assert_eq!(counts[0], 0);
        // The idle endpoint wins whenever it is drawn: two pairs in three.
        assert!(counts[1] > 1500, "{counts:?}");
        assert!(counts[2] > 0, "{counts:?}");
    }

    #[test]
    fn skip_is_never_chosen() {
        let (three, _guards) = endpoints(&[5, 0, 0]);
        let counts = histogram(&three, Some(1));
        assert_eq!(counts[1], 0);
        assert_eq!(counts[2], 3000, "the other idle endpoint beats the loaded one");
        let (two, _guards) = endpoints(&[5, 0]);
        assert_eq!(histogram(&two, Some(1)), [3000, 0]);
    }

    fn limited(endpoints: Vec<Arc<Endpoint>>, capacity: &Arc<Capacity>) -> ServiceRoute {
        ServiceRoute {
            service: "web".into(),
            target: crate::RouteTarget::Instances(endpoints),
            protocol: crate::Protocol::Http1,
            request_timeout: ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
            capacity: Some(Arc::clone(capacity)),
            https_redirect: false,
            hsts: None,
            metrics: None,
            request_log: None,
        }
    }

    #[test]
    fn under_a_capacity_only_an_instance_with_room_is_chosen() {
        let capacity = Capacity::new(2, 10, std::time::Duration::from_secs(1));
        let (three, _guards) = endpoints(&[2, 2, 1]);
        let route = limited(three.clone(), &capacity);
        let chosen = first_choice(&route, Turn::New).expect("instances").expect("room on the third");
        assert!(Arc::ptr_eq(chosen.endpoint(), &three[2]));
        assert_eq!(three[2].in_flight(), 2);
        // Now all are full: nothing is chosen, and nothing is counted.
        assert!(first_choice(&route, Turn::Woken).expect("instances").is_none());
        assert_eq!(three.iter().map(|e| e.in_flight()).collect::<Vec<_>>(), [2, 2, 2]);
        drop(chosen);
        assert!(first_choice(&route, Turn::New).expect("instances").is_some());
    }

    #[test]
    fn queued_requests_go_before_new_ones() {
        let capacity = Capacity::new(1, 10, std::time::Duration::from_secs(1));
        let (one, _guards) = endpoints(&[0]);
        let route = limited(one, &capacity);
        let queued = capacity.enter().expect("room in the queue");
        // Room, but a request waits for it: a new one goes behind it; the one queued takes it.
        assert!(first_choice(&route, Turn::New).expect("instances").is_none());
        let second = capacity.enter().expect("room in the queue");
        assert!(first_choice(&route, Turn::Queued).expect("instances").is_none(), "another is ahead");
        drop(second);
        assert!(first_choice(&route, Turn::Queued).expect("instances").is_some(), "alone in the queue");
        drop(queued);
    }

    #[test]
    fn a_retry_under_a_capacity_skips_the_failed_instance_and_needs_room() {
        let capacity = Capacity::new(1, 10, std::time::Duration::from_secs(1));
        let (two, _guards) = endpoints(&[0, 1]);
        let route = limited(two.clone(), &capacity);
        let failed = InFlight::try_start(&two[0], &capacity).expect("room on the first");
        let err = || ProxyError::NoInstance { service: "web".into() };
        assert!(second_choice(&route, failed, err()).is_err(), "the other one is full");
        assert_eq!(two[0].in_flight(), 0, "the failed attempt no longer counts");

        let (two, _guards) = endpoints(&[0, 0]);
        let route = limited(two.clone(), &capacity);
        let failed = InFlight::try_start(&two[1], &capacity).expect("room");
        let retry = second_choice(&route, failed, err()).expect("room on the other one");
        assert!(Arc::ptr_eq(retry.endpoint(), &two[0]));
        assert_eq!((two[0].in_flight(), two[1].in_flight()), (1, 0));
    }
}
