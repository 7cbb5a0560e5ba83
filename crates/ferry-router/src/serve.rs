//! Accepting connections and shutting down gracefully.
//!
//! LIFECYCLE of `serve`: accept until `shutdown` is cancelled → drop the listener (new connections are refused)
//! → ask every open connection to finish: hyper stops keep-alive, closes idle connections at once and lets a
//! request in progress complete → wait up to `shutdown_grace` for connections and tunnels → cancel whatever is
//! left (`force`) → return.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::router::Router;
use crate::upgrade::Tunnels;

/// Pause after an accept error such as EMFILE before accepting again, so a full file table does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How often idle pooled connections are checked for expiry (for instances that get no request to do it).
const REAP_INTERVAL: Duration = Duration::from_secs(10);

/// What every connection of one `serve` call shares.
struct Shared {
    router: Arc<Router>,
    http: http1::Builder,
    stop: CancellationToken,
    tunnels: Tunnels,
}

impl Router {
    /// Serves HTTP/1.1 on `listener` until `shutdown` is cancelled, then stops accepting, lets open connections
    /// finish for up to `shutdown_grace`, closes what is left and returns.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(self.config.header_read_timeout).keep_alive(true);
        let grace = self.config.shutdown_grace;
        let tracker = TaskTracker::new();
        let tunnels = Tunnels { tracker: tracker.clone(), force: CancellationToken::new() };
        tokio::spawn(reap_idle_connections(Arc::clone(&self), shutdown.clone()));
        let shared = Arc::new(Shared { router: self, http, stop: shutdown.clone(), tunnels });

        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    tracker.spawn(serve_connection(Arc::clone(&shared), stream, peer));
                }
                // The peer gave up before we accepted: its problem, not the listener's.
                Err(err) if is_per_connection(&err) => debug!(error = %err, "accepting a connection failed"),
                Err(err) => {
                    // Resource exhaustion (EMFILE, ENOBUFS) passes as connections close: not a reason to stop.
                    warn!(error = %err, "accepting connections failed; backing off");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }

        drop(listener);
        tracker.close();
        let open = tracker.len();
        if open > 0 {
            info!(
                open,
                grace_secs = grace.as_secs_f64(),
                "router stopped accepting; letting connections finish"
            );
        }
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!(open = tracker.len(), "shutdown grace elapsed; closing the remaining connections");
            shared.tunnels.force.cancel();
            tracker.wait().await;
        }
        Ok(())
    }
}

/// Closes pooled connections that idled past their timeout, until `stop`.
async fn reap_idle_connections(router: Arc<Router>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(REAP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        router.with_routes(|table| {
            for (_, route) in table.iter() {
                route.endpoints.iter().for_each(|endpoint| endpoint.pool.prune());
            }
        });
    }
}

fn is_per_connection(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
    matches!(err.kind(), ConnectionAborted | ConnectionReset | Interrupted)
}

/// Serves one client connection until it closes, shutdown has let it finish, or `force` cuts it.
async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    if let Err(err) = stream.set_nodelay(true) {
        debug!(%peer, error = %err, "could not set TCP_NODELAY");
    }
    let service_shared = Arc::clone(&shared);
    let service = service_fn(move |req| {
        let shared = Arc::clone(&service_shared);
        // Started before the future is returned: see `Router::start`.
        let started = shared.router.start(req, peer.ip());
        async move { Ok::<_, Infallible>(shared.router.finish(started, &shared.tunnels).await) }
    });
    let mut conn = pin!(shared.http.serve_connection(TokioIo::new(stream), service).with_upgrades());
    // `select!` polls every branch whenever the task wakes, and a waiting `cancelled()` takes its token's lock
    // when polled. A child token per connection keeps that lock private to the connection instead of shared
    // by all of them; `force` is only polled once shutdown has begun.
    let stop = shared.stop.child_token();

    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                () = shared.tunnels.force.cancelled() => return,
            }
        }
    };
    if let Err(err) = result {
        // Clients that vanish or send garbage are routine for a proxy: not worth more than debug.
        debug!(%peer, error = %err, "client connection ended with an error");
    }
}
