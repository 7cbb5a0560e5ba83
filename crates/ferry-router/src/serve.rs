//! Accepting connections, telling HTTP/1.1 from HTTP/2, and shutting down gracefully.
//!
//! LIFECYCLE of `serve`: take a connection permit (at most `max_connections` open; beyond that the kernel's
//! backlog holds new clients) → accept from the [`Listener`] (an error of one connection is logged and the next
//! accepted; the listener's own, such as EMFILE, waits `ACCEPT_BACKOFF` first) → spawn the connection's task,
//! which runs the listener's handshake (TLS, bounded by `tls_handshake_timeout`; nothing for TCP: the accept
//! loop never waits on a client) → HTTP/2 or HTTP/1.1 as ALPN chose, else by the first bytes (handed on to the
//! server): the HTTP/2 preface (`PRI * HTTP/2.0`, prior knowledge) gets hyper's HTTP/2 server, anything else
//! its HTTP/1.1 server with upgrades; a client that sends nothing within `header_read_timeout` is dropped →
//! serve until `shutdown` is cancelled → drop the listener (new connections are refused) → ask every open
//! connection to finish: HTTP/1.1 stops keep-alive and closes idle connections at once, HTTP/2 sends GOAWAY;
//! requests in progress complete (a held one waits on) → wait up to `shutdown_grace` for connections and
//! tunnels → cancel whatever is left (`force`) → return.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::listen::{Alpn, Handshake, Listener, Peer, Scheme};
use crate::router::{OpenConnection, Router};
use crate::upgrade::Tunnels;

/// Pause after an accept error such as EMFILE before accepting again, so a full file table does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// hyper's HTTP/1 read buffer cannot be smaller than this.
const MIN_HEADER_BYTES: usize = 8192;

/// hyper's HTTP/1 limit on the number of headers when none is set.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// Streams one HTTP/2 client may have open at once.
const H2_MAX_STREAMS: u32 = 250;

/// HTTP/2 connections are pinged this often when quiet, and closed when a ping goes unanswered this long:
/// the HTTP/2 counterpart of HTTP/1.1's idle timeout.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// The most the first read of a connection takes: a whole typical request head.
const FIRST_READ: usize = 4096;

/// How often idle pooled connections are checked for expiry (for instances that get no request to do it).
const REAP_INTERVAL: Duration = Duration::from_secs(10);

/// The start of the HTTP/2 connection preface (RFC 9113 §3.4). `PRI` is reserved as an HTTP/1 method for
/// exactly this purpose, so three bytes tell the protocols apart; hyper's HTTP/2 server checks the rest.
const H2_PREFACE_START: &[u8] = b"PRI";

/// What every connection of one `serve` call shares.
struct Shared {
    router: Arc<Router>,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    stop: CancellationToken,
    tunnels: Tunnels,
    /// Whether accepted sockets come with TCP_NODELAY already set.
    inherit_nodelay: bool,
    /// What the listener's clients speak.
    scheme: Scheme,
}

impl Router {
    /// Serves HTTP/1.1 and HTTP/2 (with prior knowledge, or chosen by ALPN) on `listener` until `shutdown` is
    /// cancelled, then stops accepting, lets open connections finish for up to `shutdown_grace`, closes what
    /// is left and returns. A `tokio::net::TcpListener` serves plain HTTP, a [`TlsListener`] HTTPS; instances
    /// are told the listener's [`Scheme`] in `X-Forwarded-Proto`.
    ///
    /// [`TlsListener`]: crate::TlsListener
    pub async fn serve<L: Listener>(
        self: Arc<Self>,
        mut listener: L,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let config = &self.config;
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .keep_alive(true)
            .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BYTES));
        // Setting any limit, even hyper's own default, makes hyper fill a header array of that length for every
        // request (about 1.7k instructions, 8 % of a small request); left unset, the array is hyper's inline
        // default of the same size.
        if config.max_headers != HYPER_DEFAULT_MAX_HEADERS {
            http1.max_headers(config.max_headers);
        }
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(H2_MAX_STREAMS)
            .keep_alive_interval(Some(H2_PING_INTERVAL))
            .keep_alive_timeout(H2_PING_TIMEOUT);
        // Accepted sockets inherit TCP_NODELAY from the listener (Linux, the BSDs): one system call here instead
        // of one per connection. Where that fails, each connection sets it itself.
        let inherit_nodelay = listener.inherit_nodelay();
        let scheme = listener.scheme();
        let grace = config.shutdown_grace;
        let handshake_timeout = config.tls_handshake_timeout;
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let tracker = TaskTracker::new();
        let tunnels = Tunnels { tracker: tracker.clone(), force: CancellationToken::new(), permit: None };
        tokio::spawn(reap_idle_connections(Arc::clone(&self), shutdown.clone()));
        let stop = shutdown.clone();
        let shared = Arc::new(Shared { router: self, http1, http2, stop, tunnels, inherit_nodelay, scheme });

        loop {
            // At the cap, stop accepting: new clients wait in the listen backlog (and see a slow connect rather
            // than a reset) until a connection closes.
            let permit = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    if !shared.inherit_nodelay
                        && let Err(err) = L::set_nodelay(&stream)
                    {
                        debug!(%peer, error = %err, "could not set TCP_NODELAY");
                    }
                    // Only made here: it runs in the connection's task, so a slow handshake holds up no other.
                    let handshake = listener.handshake(stream, handshake_timeout);
                    let open = OpenConnection::new(&shared.router, permit);
                    tracker.spawn(serve_connection(Arc::clone(&shared), handshake, peer, open));
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
                route.endpoints().iter().for_each(|endpoint| endpoint.pool.prune());
            }
        });
    }
}

/// Whether an accept error was one connection's (log it, accept the next) rather than the listener's (back off).
///
/// The listener's own failures come from the OS (EMFILE, ENFILE, ENOBUFS, ENOMEM): an error with an OS error
/// code, here or in its sources, is the listener's unless its kind is one of a single connection. An error
/// without one came from setting one connection up, such as a TLS handshake that failed or ended early.
fn is_per_connection(err: &io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.raw_os_error().is_some() {
                return matches!(io.kind(), ConnectionAborted | ConnectionReset | Interrupted);
            }
            // An error an `io::Error` wraps is its `get_ref`: its `source()` skips to the wrapped error's source.
            if let Some(inner) = io.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        next = err.source();
    }
    true
}

/// Serves one client connection until it closes, shutdown has let it finish, or `force` cuts it. The permit
/// counts the connection against `max_connections` until it and any tunnel it became are gone. `handshake`
/// makes the accepted connection ready (see [`Listener::handshake`]).
async fn serve_connection<C>(
    shared: Arc<Shared>,
    handshake: impl Future<Output = io::Result<Handshake<C>>>,
    peer: SocketAddr,
    permit: OpenConnection,
) where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // `select!` polls every branch whenever the task wakes, and a waiting `cancelled()` takes its token's lock
    // when polled. A child token per connection keeps that lock private to the connection instead of shared
    // by all of them; `force` is only polled once shutdown has begun.
    let stop = shared.stop.child_token();
    let timeout = shared.router.config.header_read_timeout;
    // The handshake, then which HTTP: ALPN's choice, else the first bytes'.
    let ready = async {
        let (mut stream, alpn) = match handshake.await {
            Ok(Handshake::Http { conn, alpn }) => (conn, alpn),
            Ok(Handshake::Done) => return Ok(None),
            Err(err) => return Err(Early::Handshake(err)),
        };
        let first = match alpn {
            Alpn::Http2 => (true, BytesMut::new()),
            Alpn::Http1 => (false, BytesMut::new()),
            Alpn::None => match tokio::time::timeout(timeout, sniff(&mut stream)).await {
                Ok(Ok(Some(first))) => first,
                // Closed before a byte.
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(err)) => return Err(Early::Read(err)),
                Err(_) => return Err(Early::Silent),
            },
        };
        Ok(Some((stream, first)))
    };
    let ready = tokio::select! {
        ready = ready => ready,
        () = stop.cancelled() => return,
    };
    let (stream, (http2, prefix)) = match ready {
        Ok(Some(ready)) => ready,
        Ok(None) => return,
        // Clients that vanish, scan or stall are routine for a proxy: not worth more than debug.
        Err(Early::Handshake(err)) => return debug!(%peer, error = %err, "handshake with a client failed"),
        Err(Early::Read(err)) => return debug!(%peer, error = %err, "reading from a client failed"),
        Err(Early::Silent) => return debug!(%peer, "client sent nothing before the header read timeout"),
    };

    // What the connection's requests share: the router, and tunnels that keep the connection's permit.
    let tunnels = Tunnels { permit: Some(Arc::new(permit)), ..shared.tunnels.clone() };
    let context = Arc::new((Arc::clone(&shared.router), tunnels, AtomicU64::new(0)));
    let requests = Arc::clone(&context);
    let scheme = shared.scheme;
    let service = service_fn(move |req| {
        let context = Arc::clone(&context);
        context.2.fetch_add(1, Ordering::Relaxed);
        // Started before the future is returned: see `Router::start`.
        let started = context.0.start(req, Peer { addr: peer.ip(), scheme });
        async move { Ok::<_, Infallible>(context.0.finish(started, &context.1).await) }
    });
    let io = TokioIo::new(Rewind { prefix, io: stream });
    let result = if http2 {
        // Boxed: inline, hyper's HTTP/2 connection would double every connection's task (2.4 KiB instead of
        // 1.2), which tokio copies when it spawns and ends it.
        let mut conn = Box::pin(shared.http2.serve_connection(io, service));
        // hyper's HTTP/2 server has no idle timeout: a connection that opens no stream for a whole
        // `header_read_timeout` (HTTP/1.1's bound on waiting for the next request) is asked to go (GOAWAY).
        // Streams still open finish; only new ones must use a new connection.
        let stop_or_idle = async {
            tokio::select! {
                () = stop.cancelled() => {}
                () = wait_until_idle(&requests.2, timeout) => {}
            }
        };
        drive(conn.as_mut(), stop_or_idle, &shared.tunnels.force, |conn| conn.graceful_shutdown()).await
    } else {
        let conn = pin!(shared.http1.serve_connection(io, service).with_upgrades());
        drive(conn, stop.cancelled(), &shared.tunnels.force, |conn| conn.graceful_shutdown()).await
    };
    if let Some(Err(err)) = result {
        // Clients that vanish or send garbage are routine for a proxy: not worth more than debug.
        debug!(%peer, error = %err, "client connection ended with an error");
    }
}

/// Why a connection ended before it was served.
enum Early {
    Handshake(io::Error),
    Read(io::Error),
    Silent,
}

/// Returns once a whole `idle` period passes without `requests` moving.
async fn wait_until_idle(requests: &AtomicU64, idle: Duration) {
    let mut seen = requests.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(idle).await;
        let now = requests.load(Ordering::Relaxed);
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// Runs a connection to its end; once `finish` completes, asks it to finish gracefully; on `force`, drops it
/// (`None`).
async fn drive<C, F>(
    mut conn: std::pin::Pin<&mut C>,
    finish: impl std::future::Future<Output = ()>,
    force: &CancellationToken,
    graceful: F,
) -> Option<hyper::Result<()>>
where
    C: std::future::Future<Output = hyper::Result<()>>,
    F: FnOnce(std::pin::Pin<&mut C>),
{
    tokio::select! {
        result = conn.as_mut() => Some(result),
        () = finish => {
            graceful(conn.as_mut());
            tokio::select! {
                result = conn.as_mut() => Some(result),
                () = force.cancelled() => None,
            }
        }
    }
}

/// Reads the client's first bytes (what arrived, up to `FIRST_READ`) and tells whether they open HTTP/2
/// (`Some((true, bytes))`) or anything else (`Some((false, bytes))`); `None` when the client closed without
/// sending a byte. The bytes go to the server in front of the rest of the stream ([`Rewind`]): one read instead
/// of a peek and a read for every connection.
async fn sniff(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<(bool, BytesMut)>> {
    let mut buf = BytesMut::with_capacity(FIRST_READ);
    loop {
        // Through `AsyncRead`, so a short read clears the socket's readiness and the server's first read does
        // not cost a system call that finds nothing.
        if stream.read_buf(&mut buf).await? == 0 {
            // Closed: with nothing, or with a fragment the HTTP/1.1 server will find malformed.
            return Ok((!buf.is_empty()).then_some((false, buf)));
        }
        let n = buf.len().min(H2_PREFACE_START.len());
        if buf[..n] != H2_PREFACE_START[..n] {
            return Ok(Some((false, buf)));
        }
        if n == H2_PREFACE_START.len() {
            return Ok(Some((true, buf)));
        }
        // A client that split "PRI" across segments: read on.
    }
}

/// A client connection whose first bytes were already read (by [`sniff`]): they are read again first.
struct Rewind<Io> {
    /// Read but not yet handed to the server; released once empty.
    prefix: BytesMut,
    io: Io,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Rewind<Io> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.prefix.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        if this.prefix.is_empty() {
            this.prefix = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Rewind<Io> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_one_connections_unless_the_os_says_the_listener_failed() {
        let os = |code| io::Error::from_raw_os_error(code);
        // EMFILE and ENOBUFS (Linux numbers): the listener's.
        assert!(!is_per_connection(&os(24)));
        assert!(!is_per_connection(&os(105)));
        // ECONNABORTED, ECONNRESET: one connection's.
        assert!(is_per_connection(&os(103)));
        assert!(is_per_connection(&os(104)));
        // A wrapper's error around an OS error is judged by the OS error.
        assert!(!is_per_connection(&io::Error::other(os(24))));
        // Errors of no OS origin: one connection's setup, such as a TLS handshake.
        assert!(is_per_connection(&io::Error::new(io::ErrorKind::InvalidData, "bad handshake")));
        assert!(is_per_connection(&io::ErrorKind::UnexpectedEof.into()));
    }
}
