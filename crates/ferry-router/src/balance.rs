//! Load balancing: the power of two random choices over the in-flight count.
//!
//! Pick two distinct endpoints at random and send the request to the one with fewer requests outstanding
//! (Mitzenmacher; what Envoy calls least-request and linkerd uses for its balancer). It needs no shared state
//! beyond the endpoints' own counters and never sends to the busiest endpoint while a less busy one exists.
//! Ties are broken by the random draw, so idle endpoints share the load evenly.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use tracing::debug;

use crate::error::{Chain, ProxyError};
use crate::table::{Endpoint, ServiceRoute};

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

/// The instance a request goes to first: two random ones, the less busy wins ([`pick`]).
pub(crate) fn first_choice(route: &ServiceRoute) -> Result<usize, ProxyError> {
    pick(route.endpoints(), None).ok_or_else(|| ProxyError::NoInstance { service: route.service.clone() })
}

/// The one other instance a request goes to when nothing of it reached `first` (`err` says why), or `err`
/// back when there is none. Both protocols retry by this rule: once, elsewhere, only if nothing was sent.
pub(crate) fn second_choice(
    route: &ServiceRoute,
    first: usize,
    err: ProxyError,
) -> Result<usize, ProxyError> {
    let endpoints = route.endpoints();
    let Some(second) = pick(endpoints, Some(first)) else { return Err(err) };
    debug!(
        service = %route.service,
        failed = endpoints[first].id(),
        retry = endpoints[second].id(),
        error = %Chain(&err),
        "retrying on another instance"
    );
    Ok(second)
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
    use crate::table::InFlight;

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
}
