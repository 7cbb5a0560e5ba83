//! Connections to instances: opening them, and the per-endpoint pool of idle keep-alive connections.
//!
//! LIFECYCLE of an upstream connection: opened by [`connect`] (or taken from its endpoint's [`Pool`]) by the
//! request that needs it → used by that request alone, inside the request's own task: the request head and body
//! are written, the response head read (`client.rs`) → owned by the response body while the body is streamed
//! (`body.rs`) → given back to the pool when the body ended cleanly on a connection both sides keep alive,
//! dropped (closed) otherwise → in the pool, closed when it has been idle for [`IDLE_TIMEOUT`], when the
//! instance closed it (noticed at the next checkout) or when the pool is full.
//!
//! The pool lives in the [`Endpoint`](crate::Endpoint), which outlives route tables: connections survive a table
//! swap, and they go away with the endpoint once the instance has left every table and drained.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;

/// How long an idle pooled connection to an instance is kept. Below the usual 60–75 s keep-alive of app servers,
/// so the router rarely picks a connection the instance is about to close.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// At most this many idle connections are kept per endpoint; a connection given back to a full pool is closed.
/// Sized for a thousand concurrent clients on one instance; a connection costs the instance a socket.
const MAX_IDLE: usize = 1024;

/// TCP keep-alive probes on upstream connections, to notice instances that vanished without a FIN.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// A read buffer larger than this is not kept while the connection idles in the pool.
const MAX_IDLE_BUFFER: usize = 16 * 1024;

/// One HTTP/1.1 connection to an instance, with the bytes read from it but not yet used.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) io: TcpStream,
    /// Read but not consumed: the rest of a response, or nothing between responses.
    pub(crate) buf: BytesMut,
    /// Whether it came from the pool (it has served a request before and may have been closed since).
    pub(crate) reused: bool,
}

impl Conn {
    fn new(io: TcpStream) -> Conn {
        Conn { io, buf: BytesMut::new(), reused: false }
    }

    /// Whether the instance may still be listening on this idle connection: it has not closed it and has not
    /// sent anything unasked. Costs no system call unless the reactor has seen the socket become readable.
    fn is_open(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable: either stale readiness (then the read would block) or EOF / unsolicited bytes.
            Poll::Ready(Ok(())) => {
                let mut byte = [0u8; 1];
                matches!(self.io.try_read(&mut byte), Err(err) if err.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

/// Opens a connection to `addr`, bounded by `timeout`, with `TCP_NODELAY` and keep-alive probes set.
pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Conn> {
    let io = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(io) => io?,
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    };
    io.set_nodelay(true)?;
    let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
    socket2::SockRef::from(&io).set_tcp_keepalive(&keepalive)?;
    Ok(Conn::new(io))
}

/// The idle connections to one endpoint, most recently used last.
///
/// The lock is held only to push or pop; connections are closed after it is released.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<VecDeque<Idle>>,
}

/// A pooled connection and when it went idle. Kept beside the connection rather than in it: a [`Conn`]
/// travels inside every streamed response body, which hyper moves several times per request, and 16 bytes
/// less there keep it small enough to be moved inline.
#[derive(Debug)]
struct Idle {
    conn: Conn,
    since: Instant,
}

impl Pool {
    /// The most recently used idle connection that is still open, if any. Expired or closed ones met on the
    /// way are closed.
    pub(crate) fn checkout(&self) -> Option<Conn> {
        let now = Instant::now();
        loop {
            let Idle { mut conn, since } = self.lock().pop_back()?;
            if now.duration_since(since) < IDLE_TIMEOUT && conn.is_open() {
                conn.reused = true;
                return Some(conn);
            }
        }
    }

    /// Gives back a connection whose last response ended cleanly. Closed instead if the instance sent more
    /// than the response, or if the pool is full.
    pub(crate) fn checkin(&self, mut conn: Conn) {
        if !conn.buf.is_empty() {
            return;
        }
        if conn.buf.capacity() > MAX_IDLE_BUFFER {
            conn.buf = BytesMut::new();
        }
        let now = Instant::now();
        let expired = {
            let mut idle = self.lock();
            let expired = match idle.front() {
                Some(oldest) if now.duration_since(oldest.since) >= IDLE_TIMEOUT => idle.pop_front(),
                _ => None,
            };
            if idle.len() < MAX_IDLE {
                idle.push_back(Idle { conn, since: now });
            }
            expired
        };
        drop(expired);
    }

    /// Closes every connection idle for longer than [`IDLE_TIMEOUT`].
    pub(crate) fn prune(&self) {
        let now = Instant::now();
        let expired: Vec<Idle> = {
            let mut idle = self.lock();
            let keep_from = idle.iter().take_while(|c| now.duration_since(c.since) >= IDLE_TIMEOUT).count();
            idle.drain(..keep_from).collect()
        };
        drop(expired);
    }

    /// Closes every idle connection: after one turned out dead on first use, the others are suspect too (the
    /// instance restarted, say).
    pub(crate) fn clear(&self) {
        let idle = std::mem::take(&mut *self.lock());
        drop(idle);
    }

    pub(crate) fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        // The critical sections only push and pop, which cannot panic midway: a poisoned lock still guards a
        // consistent queue.
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    async fn pair(listener: &TcpListener) -> (Conn, TcpStream) {
        let addr = listener.local_addr().expect("bound");
        let conn = connect(addr, Duration::from_secs(5)).await.expect("connects");
        let (peer, _) = listener.accept().await.expect("accepts");
        (conn, peer)
    }

    #[tokio::test]
    async fn checkout_takes_the_most_recent_open_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let pool = Pool::default();
        assert!(pool.checkout().is_none());
        let (a, _peer_a) = pair(&listener).await;
        let (b, _peer_b) = pair(&listener).await;
        let b_port = b.io.local_addr().expect("bound").port();
        pool.checkin(a);
        pool.checkin(b);
        assert_eq!(pool.idle(), 2);
        let conn = pool.checkout().expect("a pooled connection");
        assert!(conn.reused);
        assert_eq!(conn.io.local_addr().expect("bound").port(), b_port);
        pool.clear();
        assert_eq!(pool.idle(), 0);
    }

    #[tokio::test]
    async fn a_connection_the_instance_closed_or_wrote_to_is_not_reused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let pool = Pool::default();
        let (closed, peer) = pair(&listener).await;
        drop(peer);
        let (chatty, mut peer) = pair(&listener).await;
        peer.write_all(b"surprise").await.expect("writes");
        // Wait until the reactor has seen both sockets become readable; the check itself never waits.
        closed.io.readable().await.expect("readable");
        chatty.io.readable().await.expect("readable");
        pool.checkin(closed);
        pool.checkin(chatty);
        assert!(pool.checkout().is_none());
        assert_eq!(pool.idle(), 0);
    }

    #[tokio::test]
    async fn a_connection_with_unread_bytes_is_not_pooled() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let pool = Pool::default();
        let (mut conn, _peer) = pair(&listener).await;
        conn.buf.extend_from_slice(b"extra");
        pool.checkin(conn);
        assert_eq!(pool.idle(), 0);
    }
}
