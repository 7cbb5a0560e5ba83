//! The one shared HTTP/2 connection to an instance, and the request body that travels on it.
//!
//! LIFECYCLE of an HTTP/2 connection: opened by the first request to an instance that finds none (requests
//! arriving meanwhile wait for it rather than open their own) → its `SendRequest` kept in the instance's
//! [`Endpoint`](crate::Endpoint) and cloned by every request, which each take a stream of the one connection
//! (h2 multiplexes; when the instance's stream limit is reached, hyper queues the request until a stream ends)
//! → driven by its own task, which also pings the instance while streams are open so a vanished instance is
//! noticed → closed when the instance closes it or fails (the next request finds the sender closed and opens
//! a new one), or when the endpoint is dropped after the instance left every table and drained.
//!
//! It sits below the route table (an endpoint holds one), so it knows nothing of routes or requests: sending on
//! it is `h2.rs`'s business.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tracing::debug;

use crate::error::{BoxError, Chain};

/// While streams are open, the instance is pinged this often; no answer within [`PING_TIMEOUT`] closes the
/// connection and fails its streams.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP/2 connection to an instance, shared by all the requests to it.
#[derive(Debug, Default)]
pub(crate) struct H2Conn {
    /// The open connection's sender. Locked only to clone or replace it, never across an await.
    sender: Mutex<Option<SendRequest<H2Body>>>,
    /// Held while a connection is being opened, so concurrent requests share one.
    connecting: tokio::sync::Mutex<()>,
}

impl H2Conn {
    /// A sender on the open connection, or on a new one.
    pub(crate) async fn sender(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<SendRequest<H2Body>> {
        if let Some(sender) = self.open() {
            return Ok(sender);
        }
        let _connecting = self.connecting.lock().await;
        // Another request may have connected while this one waited.
        if let Some(sender) = self.open() {
            return Ok(sender);
        }
        let sender = connect(addr, timeout).await?;
        *self.lock() = Some(sender.clone());
        Ok(sender)
    }

    fn open(&self) -> Option<SendRequest<H2Body>> {
        self.lock().as_ref().filter(|sender| !sender.is_closed()).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SendRequest<H2Body>>> {
        // The guarded value is a plain `Option`: a panic elsewhere cannot leave it half-written.
        self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Opens an h2c connection: TCP (bounded by `timeout`, `TCP_NODELAY`), then the HTTP/2 preface and settings.
async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<SendRequest<H2Body>> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(stream) => stream?,
        Err(_) => return Err(io::ErrorKind::TimedOut.into()),
    };
    stream.set_nodelay(true)?;
    let (sender, conn) = Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            debug!(%addr, error = %Chain(&err), "http/2 connection to an instance ended");
        }
    });
    Ok(sender)
}

/// What became of a request body hyper took: still fine, over the router's limit, or failed on the client's
/// side (0, the default: still fine).
const BODY_OVER_LIMIT: u8 = 1;
const BODY_CLIENT_FAILED: u8 = 2;

/// The client's request body on its way to an HTTP/2 instance, counted against the router's body limit (a
/// length announced over the limit was refused before routing; this catches bodies streamed without one).
pub(crate) struct H2Body {
    inner: Incoming,
    /// Bytes still allowed (`None`: no limit).
    left: Option<u64>,
    limit: Option<u64>,
    /// How the body ended and how much of it came, for the request that owns it to see after hyper took
    /// the body.
    outcome: Arc<Upload>,
}

/// What an [`H2Body`] tells the request that sent it.
#[derive(Debug, Default)]
struct Upload {
    /// `BODY_*`.
    state: AtomicU8,
    /// Data bytes taken from the client so far.
    bytes: AtomicU64,
}

impl H2Body {
    /// `limit` is the router's body limit (`None`: no limit).
    pub(crate) fn new(inner: Incoming, limit: Option<u64>) -> H2Body {
        H2Body { inner, left: limit, limit, outcome: Arc::default() }
    }

    /// How the body ends, still readable once hyper has taken (and maybe dropped) the body.
    pub(crate) fn outcome(&self) -> BodyOutcome {
        BodyOutcome(Arc::clone(&self.outcome))
    }
}

/// How an [`H2Body`] ended, seen from the request that sent it.
#[derive(Debug)]
pub(crate) struct BodyOutcome(Arc<Upload>);

impl BodyOutcome {
    /// The client's upload passed the router's limit: the stream was failed on purpose.
    pub(crate) fn over_limit(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == BODY_OVER_LIMIT
    }

    /// The client's upload broke (it reset its stream, or went away).
    pub(crate) fn client_failed(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == BODY_CLIENT_FAILED
    }

    /// The body's data bytes taken from the client so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.0.bytes.load(Ordering::Relaxed)
    }
}

/// A client's body that passed the router's limit.
#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the limit of {0} bytes")]
struct OverLimit(u64);

impl Body for H2Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(err))) => {
                this.outcome.state.store(BODY_CLIENT_FAILED, Ordering::Release);
                return Poll::Ready(Some(Err(err.into())));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let Some(data) = frame.data_ref() else { return Poll::Ready(Some(Ok(frame))) };
        this.outcome.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        if let Some(left) = this.left.as_mut() {
            match left.checked_sub(data.len() as u64) {
                Some(rest) => *left = rest,
                None => {
                    this.outcome.state.store(BODY_OVER_LIMIT, Ordering::Release);
                    return Poll::Ready(Some(Err(OverLimit(this.limit.unwrap_or_default()).into())));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
