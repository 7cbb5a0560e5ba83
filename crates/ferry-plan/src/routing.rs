//! The protocol switch: which protocol and request timeout a service's route uses while its ready
//! instances may run two revisions (during a deployment), and so which instances it publishes.
//!
//! One route has one protocol. The route keeps the protocol it serves with for as long as any ready
//! instance speaks it; then it takes the newest revision's. A deployment that changes the protocol thus
//! moves traffic over when the old instances leave the pool, which is after every new one is ready. The
//! timeout is that of the newest revision speaking the chosen protocol.

use std::collections::HashMap;

use ferry_model::{RequestTimeout, UpstreamProtocol};

/// What a revision says about its route.
pub type RouteSettings = (UpstreamProtocol, RequestTimeout);

/// The protocol and request timeout of a service's route, given the revision of each ready instance
/// (`ready`, one entry per instance), what each revision says (`settings`), and the protocol the route
/// serves with now (`serving`). Only instances that speak the returned protocol are to be published.
pub fn route_settings(
    ready: &[u32],
    settings: &HashMap<u32, RouteSettings>,
    serving: UpstreamProtocol,
) -> RouteSettings {
    let of = |number: &u32| settings.get(number).copied().unwrap_or_default();
    let protocol = if ready.iter().any(|n| of(n).0 == serving) {
        serving
    } else {
        ready.iter().max().map_or(serving, |n| of(n).0)
    };
    let timeout = ready.iter().filter(|n| of(n).0 == protocol).max().map(|n| of(n).1).unwrap_or_default();
    (protocol, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use UpstreamProtocol::{Http1, Http2};

    fn secs(s: i64) -> RequestTimeout {
        RequestTimeout::from_secs(s).expect("in range")
    }

    #[test]
    fn a_route_keeps_its_protocol_while_an_instance_speaks_it_then_takes_the_newest() {
        let settings: HashMap<u32, RouteSettings> =
            [(1, (Http1, secs(300))), (2, (Http1, secs(10))), (3, (Http2, secs(60)))].into();
        let cases: [(&[u32], UpstreamProtocol, RouteSettings); 7] = [
            // Nothing ready: nothing changes.
            (&[], Http1, (Http1, RequestTimeout::default())),
            (&[1], Http1, (Http1, secs(300))),
            // Same protocol, new timeout: the newest revision's timeout as soon as it is ready.
            (&[1, 1, 2], Http1, (Http1, secs(10))),
            // Switching to HTTP/2: the old instances keep serving over HTTP/1.1 until they leave...
            (&[2, 3, 3], Http1, (Http1, secs(10))),
            // ...then the new ones take over.
            (&[3, 3], Http1, (Http2, secs(60))),
            (&[3], Http2, (Http2, secs(60))),
            // A rollback to HTTP/1.1 works the same way round.
            (&[1, 3], Http2, (Http2, secs(60))),
        ];
        for (ready, serving, want) in cases {
            assert_eq!(route_settings(ready, &settings, serving), want, "ready {ready:?}, serving {serving}");
        }
        // A restart adopts HTTP/2 instances while it remembers nothing: they are served over HTTP/2.
        assert_eq!(route_settings(&[3], &settings, Http1), (Http2, secs(60)));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn protocol() -> impl Strategy<Value = UpstreamProtocol> {
            prop_oneof![Just(Http1), Just(Http2)]
        }

        proptest! {
            /// Whatever is ready, the route never drops every instance while one is ready, and never
            /// switches away from a protocol an instance still speaks.
            #[test]
            fn some_ready_instance_is_always_published_and_switches_wait_for_the_old_ones(
                revisions in proptest::collection::vec((protocol(), 1i64..3600), 1..5),
                ready in proptest::collection::vec(0usize..5, 0..8),
                serving in protocol(),
            ) {
                let settings: HashMap<u32, RouteSettings> = revisions
                    .iter()
                    .enumerate()
                    .map(|(i, (p, t))| (i as u32 + 1, (*p, secs(*t))))
                    .collect();
                let ready: Vec<u32> =
                    ready.into_iter().map(|i| (i % revisions.len()) as u32 + 1).collect();
                let (chosen, _) = route_settings(&ready, &settings, serving);
                let speaks = |n: &u32| settings[n].0;
                if !ready.is_empty() {
                    prop_assert!(ready.iter().any(|n| speaks(n) == chosen), "an instance speaks {chosen}");
                }
                if ready.iter().any(|n| speaks(n) == serving) {
                    prop_assert_eq!(chosen, serving);
                }
            }
        }
    }
}
