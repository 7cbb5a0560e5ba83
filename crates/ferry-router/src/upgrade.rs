//! Upgraded connections (WebSocket and any other protocol): after a 101, the client's connection and the
//! instance's are joined byte for byte until either side closes.
//!
//! LIFECYCLE: the client asks to upgrade → the request is forwarded with `Connection: upgrade` and `Upgrade` →
//! the instance answers 101 → a tunnel task is spawned holding the client's pending upgrade, the instance's
//! connection (with any bytes it sent after the 101) and the endpoint's `InFlight` guard → hyper writes the 101
//! to the client and hands over its connection → the instance's early bytes go to the client, then bytes are
//! copied both ways → either side closes (or shutdown's grace runs out) → the guard is dropped.

use std::sync::Arc;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::error::BoxError;
use crate::pool::Conn;
use crate::router::OpenConnection;
use crate::table::InFlight;

/// Where tunnels run: tracked with the connections of the same `serve` call, so shutdown waits for them during
/// its grace period, and closed by `force` when that runs out.
///
/// A connection's tunnels also hold its connection permit (`permit`): an upgraded connection still counts
/// against `max_connections` after hyper has let go of it.
#[derive(Clone, Debug)]
pub(crate) struct Tunnels {
    pub(crate) tracker: TaskTracker,
    pub(crate) force: CancellationToken,
    pub(crate) permit: Option<Arc<OpenConnection>>,
}

impl Tunnels {
    pub(crate) fn spawn(&self, client: OnUpgrade, upstream: Conn, in_flight: InFlight) {
        // A child token: the tunnel polls it on every wake-up, and its lock should be the tunnel's own.
        let force = self.force.child_token();
        let permit = self.permit.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                result = join(client, upstream) => match result {
                    Ok((to_upstream, to_client)) => debug!(
                        endpoint = in_flight.endpoint().id(),
                        to_upstream,
                        to_client,
                        "upgraded connection closed"
                    ),
                    Err(err) => debug!(
                        endpoint = in_flight.endpoint().id(),
                        error = %crate::error::Chain(&*err),
                        "upgraded connection failed"
                    ),
                },
                () = force.cancelled() => debug!("upgraded connection closed by shutdown"),
            }
            drop(in_flight);
            drop(permit);
        });
    }
}

/// Waits for the client's side to be handed over, then copies until both directions are done.
/// Returns the bytes sent to the instance and to the client.
async fn join(client: OnUpgrade, upstream: Conn) -> Result<(u64, u64), BoxError> {
    let mut client = TokioIo::new(client.await?);
    let Conn { io: mut upstream, buf: early, .. } = upstream;
    client.write_all(&early).await?;
    let (to_upstream, to_client) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok((to_upstream, to_client + early.len() as u64))
}
