//! Requests that wait for somewhere to go, and are routed again whenever they may have it: held while their
//! service waits for an instance ([`Waiting`]), queued while its instances are all at their [`Capacity`], or,
//! when connecting to their instances failed, waiting for the table to give their host another route.
//!
//! Two kinds of request wait here (each a [`Reroute`]): one not yet sent anywhere, whole, body unread
//! (`proxy.rs`'s `Unrouted`: held or queued as it was first routed), and an [`Unsent`] one, already in the
//! form its protocol sends (an HTTP/1.1 head, or an HTTP/2 request), whose instances could not be connected
//! to. Both go through the same [`Router::park`].
//!
//! # LIFECYCLE of an unsent request
//!
//! Connecting failed on the instance chosen and on the one other tried (or there was none), so nothing of the
//! request reached any instance and sending it elsewhere is safe. (An idempotent, bodiless HTTP/1.1 request
//! that a new connection closed on without a byte of answer counts as such a failure: `client.rs`.) An instance that is gone is usually one the
//! control plane has not yet taken out of the table: once it learns, it publishes the host's route again
//! (a [`RouteTarget::Waiting`] until a replacement is ready, then the replacement). So rather than answer 502
//! at once, the request ([`Router::reroute`]):
//!
//! 1. waits for the table to give its host a route other than the one it failed by (the same
//!    `Arc<ServiceRoute>` means nothing changed for it), at most `RouterConfig::reconnect_wait`; past it, the
//!    connect error (502). A table set while it was still connecting counts: it goes on at once.
//! 2. is routed by that route as any request: instances → one is chosen (and the request sent again, its
//!    request timeout starting then); waiting → held, the hold starting then; all at capacity → queued; paused
//!    → 503; host gone → 404. A route it cannot take in the form it is in (another protocol, the router's own
//!    handler) → the connect error.
//!
//! Should connecting fail again, the same happens again, at most [`MAX_REROUTES`] times in all: a request
//! whose instances keep dying gets its 502 rather than following them for ever. Each round is a loop in
//! the caller, never a recursion.

use std::sync::Arc;

use tracing::debug;

use crate::balance::{Turn, first_choice};
use crate::capacity::{Capacity, Queued};
use crate::error::{Chain, ProxyError};
use crate::router::Router;
use crate::table::{InFlight, Protocol, RouteTarget, ServiceRoute};
use crate::waiting::{Holding, Waiting};

/// How many times at most a request is routed again after connecting to its instances failed.
pub(crate) const MAX_REROUTES: u32 = 3;

/// A request that waits, routed again by the current table whenever it may have somewhere to go.
pub(crate) trait Reroute: Sized {
    /// What the request has once it can go on.
    type Routed;

    /// Routes the request by the current table. `turn` is its place in a capacity's queue.
    fn route(self, router: &Router, turn: Turn) -> Result<Self::Routed, NotYet<Self>>;
}

/// Why a request cannot go on yet: it cannot be served, or it is to wait (held until its host has an
/// instance, or queued until an instance has room).
pub(crate) enum NotYet<R> {
    Failed(ProxyError),
    Parked(Box<Parked<R>>),
}

impl<R> From<ProxyError> for NotYet<R> {
    fn from(err: ProxyError) -> NotYet<R> {
        NotYet::Failed(err)
    }
}

/// A request that waits at `place`, for `service`.
pub(crate) struct Parked<R> {
    pub(crate) place: Place,
    pub(crate) service: String,
    pub(crate) request: R,
}

/// What a request waits for.
pub(crate) enum Place {
    /// An instance of a service that has none ready ([`RouteTarget::Waiting`]).
    Held(Arc<Waiting>),
    /// Room on an instance of a service whose instances are all at their [`Capacity`]'s limit.
    Queued(Arc<Capacity>),
}

/// A request to park at `place` (for the target of `route`). Out of line: rare, and it moves the request.
#[cold]
#[inline(never)]
pub(crate) fn parked<R>(place: Place, route: &ServiceRoute, request: R) -> NotYet<R> {
    NotYet::Parked(Box::new(Parked { place, service: route.service.clone(), request }))
}

/// A request for `route` whose instances are all at its capacity: to queue.
#[cold]
#[inline(never)]
pub(crate) fn at_capacity<R>(route: &ServiceRoute, request: R) -> NotYet<R> {
    match &route.capacity {
        Some(capacity) => parked(Place::Queued(Arc::clone(capacity)), route, request),
        // Only a route with a capacity has no room; without one this is no instance at all.
        None => NotYet::Failed(ProxyError::NoInstance { service: route.service.clone() }),
    }
}

/// The form a request was put in for its instances, which decides the routes that can take it as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// An HTTP/1.1 head (and any body bytes already taken): for an HTTP/1.1 route.
    Http1,
    /// An HTTP/1.1 upgrade: goes to the instance over HTTP/1.1 whatever its route speaks.
    Upgrade,
    /// An HTTP/2 request: for an HTTP/2 route.
    Http2,
}

impl Form {
    fn fits(self, route: &ServiceRoute) -> bool {
        match self {
            Form::Http1 => route.protocol == Protocol::Http1,
            Form::Upgrade => true,
            Form::Http2 => route.protocol == Protocol::Http2,
        }
    }
}

/// A request none of which reached an instance, because connecting failed: what routing it again needs (the
/// request itself stays with its protocol's sender, in its [`Form`]).
pub(crate) struct Unsent {
    /// The host it was routed by, normalised.
    pub(crate) name: String,
    pub(crate) form: Form,
    /// Why it was not sent: its answer if no route it can take comes.
    pub(crate) err: ProxyError,
}

impl Reroute for Unsent {
    type Routed = (Arc<ServiceRoute>, InFlight);

    fn route(self, router: &Router, turn: Turn) -> Result<Self::Routed, NotYet<Self>> {
        let Some(route) = router.with_routes(|table| table.get_normalized(&self.name).cloned()) else {
            return Err(ProxyError::UnknownHost { host: self.name }.into());
        };
        match &route.target {
            RouteTarget::Instances(_) if self.form.fits(&route) => {}
            // Another protocol, or the router's own answer: the request is not in a form it can take.
            RouteTarget::Instances(_) | RouteTarget::Internal(_) => return Err(NotYet::Failed(self.err)),
            RouteTarget::Paused => return Err(ProxyError::Paused { service: route.service.clone() }.into()),
            RouteTarget::Waiting(waiting) => {
                return Err(parked(Place::Held(Arc::clone(waiting)), &route, self));
            }
        }
        match first_choice(&route, turn)? {
            Some(in_flight) => Ok((route, in_flight)),
            None => Err(at_capacity(&route, self)),
        }
    }
}

impl Router {
    /// Waits for the request to have somewhere to go: its host to stop waiting for an instance, or an instance
    /// of it to have room. Whenever the table changes, or (queued) a slot is given back, routes the request
    /// again. A request not yet sent keeps its body unread meanwhile, and its request timeout starts only once
    /// it is sent.
    ///
    /// A held request is bounded by the hold of the first [`Waiting`] it met, a queued one by the wait of the
    /// first [`Capacity`] it queued for; one that goes from held to queued (its service got instances, all
    /// busy) or back starts the other's bound then.
    pub(crate) async fn park<R: Reroute>(&self, parked: Box<Parked<R>>) -> Result<R::Routed, ProxyError> {
        let Parked { place, mut service, mut request } = *parked;
        // Counted where it waits (as demand, held or queued) until this returns or is dropped (the client went
        // away). A queue that is full refuses it here.
        let mut stay = Stay::enter(&place, &service)?;
        let mut limit = stay.limit();
        let deadline = tokio::time::sleep(limit);
        tokio::pin!(deadline);
        // Just queued, it goes behind the requests queued before it; once woken, it is its turn. A held request
        // has waited already: should its host turn out busy, it does not go behind the queue.
        let mut turn = stay.first_turn();
        loop {
            // Both created before the table is read and a slot is tried for: a table stored, or a slot given
            // back, after that wakes them, so none is missed. (`enable` makes the second count as waiting.)
            let changed = self.routes_changed();
            let capacity = stay.capacity();
            let room = capacity.as_deref().map(Capacity::room);
            let mut room = std::pin::pin!(room);
            if let Some(room) = room.as_mut().as_pin_mut() {
                room.enable();
            }
            let next = match request.route(self, turn) {
                Ok(routed) => {
                    stay.served();
                    return Ok(routed);
                }
                Err(NotYet::Failed(err)) => return Err(err),
                Err(NotYet::Parked(next)) => *next,
            };
            (request, service) = (next.request, next.service);
            if !stay.is_at(&next.place) {
                // Still waiting, for another service now or for something else: counted where it waits, and
                // tried again at once (room may have come free before it was counted there).
                let bound = stay.bound();
                stay = Stay::enter(&next.place, &service)?;
                if stay.bound() != bound {
                    limit = stay.limit();
                    deadline.as_mut().reset(tokio::time::Instant::now() + limit);
                }
                turn = stay.first_turn();
                continue;
            }
            let room = async {
                match room.as_mut().as_pin_mut() {
                    Some(room) => room.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = changed => {}
                () = room => {}
                () = &mut deadline => return Err(stay.expired(service, limit)),
            }
            turn = Turn::Woken;
        }
    }

    /// Routes again a request that could not be sent by `failed` (see the LIFECYCLE above): once the table
    /// gives its host another route, by what that route says, waiting (held, queued) as any request would.
    /// Returns the route it goes by and the instance chosen, counted.
    pub(crate) async fn reroute(
        &self,
        unsent: Unsent,
        failed: &ServiceRoute,
    ) -> Result<(Arc<ServiceRoute>, InFlight), ProxyError> {
        debug!(
            service = %failed.service,
            error = %Chain(&unsent.err),
            "no instance could be reached; waiting for a new route"
        );
        let unsent = self.route_changed(unsent, failed).await?;
        match unsent.route(self, Turn::New) {
            Ok(routed) => Ok(routed),
            Err(NotYet::Failed(err)) => Err(err),
            Err(NotYet::Parked(parked)) => self.park(parked).await,
        }
    }

    /// Returns once the table gives the request's host a route other than `failed`, at once if it does already;
    /// the request's error after `reconnect_wait` without one.
    async fn route_changed(&self, unsent: Unsent, failed: &ServiceRoute) -> Result<Unsent, ProxyError> {
        let deadline = tokio::time::sleep(self.config.reconnect_wait);
        tokio::pin!(deadline);
        loop {
            // Created before the table is read: a table stored after that wakes it.
            let changed = self.routes_changed();
            let same = self.with_routes(|table| {
                table.get_normalized(&unsent.name).is_some_and(|route| std::ptr::eq(&**route, failed))
            });
            if !same {
                return Ok(unsent);
            }
            tokio::select! {
                () = changed => {}
                () = &mut deadline => return Err(unsent.err),
            }
        }
    }
}

/// Where a parked request is counted while it waits.
enum Stay {
    Held(Holding),
    Queued(Queued),
}

/// What bounds a wait: a [`Waiting`]'s hold, or a [`Capacity`]'s wait.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Hold,
    Wait,
}

impl Stay {
    /// Counts the request where `place` says; a full queue refuses it.
    fn enter(place: &Place, service: &str) -> Result<Stay, ProxyError> {
        match place {
            Place::Held(waiting) => Ok(Stay::Held(waiting.enter())),
            Place::Queued(capacity) => match capacity.enter() {
                Some(queued) => Ok(Stay::Queued(queued)),
                None => Err(ProxyError::QueueFull {
                    service: service.to_owned(),
                    max_concurrency: capacity.max_concurrency(),
                    queue_limit: capacity.queue_limit(),
                }),
            },
        }
    }

    fn is_at(&self, place: &Place) -> bool {
        match (self, place) {
            (Stay::Held(holding), Place::Held(waiting)) => holding.is_in(waiting),
            (Stay::Queued(queued), Place::Queued(capacity)) => queued.is_in(capacity),
            _ => false,
        }
    }

    fn bound(&self) -> Bound {
        match self {
            Stay::Held(_) => Bound::Hold,
            Stay::Queued(_) => Bound::Wait,
        }
    }

    /// How long the request may wait here.
    fn limit(&self) -> std::time::Duration {
        match self {
            Stay::Held(holding) => holding.waiting().hold(),
            Stay::Queued(queued) => queued.capacity().max_wait(),
        }
    }

    /// The request's turn at its first try after it began to wait here.
    fn first_turn(&self) -> Turn {
        match self {
            Stay::Held(_) => Turn::Woken,
            Stay::Queued(_) => Turn::Queued,
        }
    }

    /// The capacity a queued request waits for room under.
    fn capacity(&self) -> Option<Arc<Capacity>> {
        match self {
            Stay::Held(_) => None,
            Stay::Queued(queued) => Some(Arc::clone(queued.capacity())),
        }
    }

    /// The request leaves with an instance to go to.
    fn served(self) {
        if let Stay::Queued(queued) = self {
            queued.served();
        }
    }

    /// Why the request waited `limit` in vain.
    fn expired(&self, service: String, limit: std::time::Duration) -> ProxyError {
        match self {
            Stay::Held(_) => ProxyError::NotReady { service, after: limit },
            Stay::Queued(queued) => ProxyError::NoRoom {
                service,
                max_concurrency: queued.capacity().max_concurrency(),
                after: limit,
            },
        }
    }
}
