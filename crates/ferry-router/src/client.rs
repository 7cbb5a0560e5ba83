//! The upstream HTTP/1.1 client: one exchange with an instance, on a pooled connection, inside the request's own
//! task (no connection task, no channel between the two).
//!
//! LIFECYCLE of an exchange: take an idle connection from the endpoint's pool or connect → write the request
//! head, with whatever body frames were already there, in one write → stream the rest of the body (framed by
//! `Content-Length` or chunked) while watching for an early answer → read the response head, skipping 1xx
//! interim answers (a 101 is an upgrade) → hand the head and the connection to the caller, which streams the
//! body from it (`body.rs`) or tunnels it (`upgrade.rs`).
//!
//! Retries inside one instance, on a fresh connection: a pooled connection whose first write fails sent
//! nothing, so the request is written again on a new one (and the pool, likely stale, is emptied). A pooled
//! connection that takes the whole request and then closes without a byte of answer is the keep-alive race (the
//! instance closed it while it idled): the request is written once more on a fresh connection only if it is
//! idempotent (GET, HEAD, OPTIONS) and bodiless, since the instance may have acted on it.
//!
//! The same request closed or reset without a byte of answer on a *new* connection is
//! [`ClientError::Unanswered`]: as safe to send elsewhere as one whose connect failed (`proxy.rs` routes it
//! again the same way). Any other request that got no answer is [`ClientError::Recv`]: never sent again.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body::Body;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{ParseError, ResponseHead, parse_response, written_host};
use crate::error::ClientError;
use crate::pool::{Conn, connect};
use crate::table::Endpoint;

/// Body frames that are ready at once are sent with the head, up to this many bytes in all.
const COALESCE: usize = 64 * 1024;

/// Read buffer growth while reading a response head.
const HEAD_READ: usize = 8 * 1024;

/// A request on its way out: its bytes not yet written and the rest of its body.
pub(crate) struct Outbound<'a> {
    /// The head, then any body bytes taken from the client but not yet written (encoded for the wire).
    pending: Vec<u8>,
    body: &'a mut Incoming,
    chunked: bool,
    /// The whole body (if any) is in `pending`.
    body_done: bool,
    method: &'a Method,
    /// An empty header map for the response, with room already made (the request's own, emptied).
    spare: HeaderMap,
    /// What is left of the router's body limit (`None`: no limit).
    budget: Budget,
}

/// Counts body bytes against the router's limit, for bodies whose length was not announced (chunked, or an
/// HTTP/2 stream without `content-length`; an announced length over the limit is refused before routing).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    limit: Option<u64>,
    taken: u64,
}

impl Budget {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Budget { limit, taken: 0 }
    }

    fn take(&mut self, n: usize) -> Result<(), ClientError> {
        self.taken = self.taken.saturating_add(n as u64);
        match self.limit {
            Some(limit) if self.taken > limit => Err(ClientError::TooLarge(limit)),
            _ => Ok(()),
        }
    }
}

impl<'a> Outbound<'a> {
    /// `head` is the serialised request head; `chunked` whether the body goes chunked; `spare` an empty
    /// header map the response's headers may go into.
    pub(crate) fn new(
        head: Vec<u8>,
        method: &'a Method,
        body: &'a mut Incoming,
        chunked: bool,
        spare: HeaderMap,
        budget: Budget,
    ) -> Self {
        let body_done = body.is_end_stream();
        Outbound { pending: head, body, chunked, body_done, method, spare, budget }
    }

    /// Moves the body frames the client has already sent into `pending`, without waiting for more.
    pub(crate) async fn take_ready_frames(&mut self) -> Result<(), ClientError> {
        while !self.body_done && self.pending.len() < COALESCE {
            let next = poll_fn(|cx| Poll::Ready(Pin::new(&mut *self.body).poll_frame(cx))).await;
            match next {
                Poll::Pending => break,
                Poll::Ready(None) => self.finish_body(),
                Poll::Ready(Some(Err(err))) => return Err(ClientError::Downstream(err)),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.budget.take(data.len())?;
                        encode_into(&mut self.pending, &data, self.chunked);
                    }
                    if self.body.is_end_stream() {
                        self.finish_body();
                    }
                }
            }
        }
        Ok(())
    }

    fn finish_body(&mut self) {
        if self.chunked {
            self.pending.extend_from_slice(b"0\r\n\r\n");
        }
        self.body_done = true;
    }

    /// The host the request was routed by, as its head says (`codec::written_host`).
    pub(crate) fn routed_host(&self) -> Option<&str> {
        written_host(&self.pending)
    }

    /// The body bytes taken from the client so far.
    pub(crate) fn received(&self) -> u64 {
        self.budget.taken
    }

    /// Whether the client had not yet sent its whole body.
    pub(crate) fn upload_unfinished(&self) -> bool {
        !self.body_done && !self.body.is_end_stream()
    }

    /// Whether the request may be written again after the instance may have seen it.
    fn replayable(&self) -> bool {
        self.body_done && matches!(*self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }
}

fn encode_into(out: &mut Vec<u8>, data: &[u8], chunked: bool) {
    if data.is_empty() {
        return;
    }
    if chunked {
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(data);
    }
}

/// How one attempt on one connection failed.
enum Failure {
    /// The first write failed: nothing reached the instance.
    Unsent(io::Error),
    /// The whole request was written and the connection closed or reset before any byte of an answer.
    NoAnswer {
        reason: &'static str,
        source: io::Error,
    },
    Other(ClientError),
}

/// Sends the request to `endpoint` and reads the response head. Returns the head, the connection (holding any
/// bytes read past the head) and whether the whole request was sent (false when the instance answered before
/// the body was through: the connection then cannot carry another request).
pub(crate) async fn exchange(
    endpoint: &Endpoint,
    connect_timeout: Duration,
    out: &mut Outbound<'_>,
) -> Result<(ResponseHead, Conn, bool), ClientError> {
    let mut pooled = endpoint.pool.checkout();
    let mut replayed = false;
    // One call site each for connecting and for the attempt: every call site of a future keeps its own slot
    // in this one, which is inline in every request's.
    loop {
        let mut conn = match pooled.take() {
            Some(conn) => conn,
            // Boxed: most requests find a pooled connection, and the connect future is larger than the rest of
            // this one.
            None => {
                Box::pin(connect(endpoint.addr(), connect_timeout)).await.map_err(ClientError::Connect)?
            }
        };
        let failure = match attempt(&mut conn, out).await {
            Ok((head, sent)) => return Ok((head, conn, sent)),
            Err(failure) => failure,
        };
        match failure {
            Failure::Unsent(_) if conn.reused => endpoint.pool.clear(),
            Failure::NoAnswer { .. } if conn.reused && !replayed && out.replayable() => replayed = true,
            // A new connection that took the request and ended without a byte of answer: an instance that is
            // gone behind a port proxy that still accepts (Docker's `docker-proxy`). The caller may send it on
            // to another instance, as when connecting failed.
            Failure::NoAnswer { reason, source } if !conn.reused && out.replayable() => {
                return Err(ClientError::Unanswered { reason, source });
            }
            Failure::Unsent(source) if !conn.reused && out.replayable() => {
                return Err(ClientError::Unanswered { reason: crate::error::io_reason(&source), source });
            }
            Failure::Unsent(err) => return Err(ClientError::Send(err)),
            Failure::NoAnswer { reason, source } => {
                return Err(ClientError::Recv { reason, source: source.into() });
            }
            Failure::Other(err) => return Err(err),
        }
        tracing::debug!(endpoint = endpoint.id(), "pooled connection was closed; sending on a new one");
    }
}

async fn attempt(conn: &mut Conn, out: &mut Outbound<'_>) -> Result<(ResponseHead, bool), Failure> {
    let written = conn.io.write(&out.pending).await.map_err(Failure::Unsent)?;
    if written == 0 {
        return Err(Failure::Unsent(io::ErrorKind::WriteZero.into()));
    }
    conn.io.write_all(&out.pending[written..]).await.map_err(|err| Failure::Other(ClientError::Send(err)))?;
    if out.body_done {
        return match read_head(&mut conn.io, &mut conn.buf, out.method, &mut out.spare).await {
            Ok(head) => Ok((head, true)),
            Err(HeadError::NoAnswer { reason, source }) => Err(Failure::NoAnswer { reason, source }),
            Err(HeadError::Other(err)) => Err(Failure::Other(err)),
        };
    }

    // Boxed: most requests have no body left to stream, and inline this path would more than double the size
    // of every request's future.
    Box::pin(stream_body(conn, out)).await
}

/// Streams the rest of the body; an instance may answer before it has read it all (a 413, say).
async fn stream_body(conn: &mut Conn, out: &mut Outbound<'_>) -> Result<(ResponseHead, bool), Failure> {
    let Conn { io, buf, .. } = conn;
    let (head, sent) = {
        let (mut reader, mut writer) = io.split();
        let send = send_body(&mut writer, out.body, out.chunked, &mut out.budget);
        let recv = read_head(&mut reader, buf, out.method, &mut out.spare);
        tokio::pin!(send, recv);
        let early = tokio::select! {
            biased;
            head = &mut recv => Some(head),
            sent = &mut send => {
                sent.map_err(Failure::Other)?;
                None
            }
        };
        match early {
            Some(head) => (head, false),
            None => (recv.await, true),
        }
    };
    if !sent {
        // The instance answered before the upload ended, and the rest of the body is not sent (the connection
        // will not be reused). Half-close it so an instance still reading the body sees it end, rather than
        // both sides waiting on each other; its answer still comes back on the open read side.
        let _ = io.shutdown().await;
    }
    match head {
        Ok(head) => Ok((head, sent)),
        Err(HeadError::NoAnswer { reason, source }) => {
            Err(Failure::Other(ClientError::Recv { reason, source: source.into() }))
        }
        Err(HeadError::Other(err)) => Err(Failure::Other(err)),
    }
}

/// Writes the rest of the client's body to the instance as it comes.
async fn send_body(
    writer: &mut (impl AsyncWrite + Unpin),
    body: &mut Incoming,
    chunked: bool,
    budget: &mut Budget,
) -> Result<(), ClientError> {
    loop {
        match poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            None => break,
            Some(Err(err)) => return Err(ClientError::Downstream(err)),
            Some(Ok(frame)) => {
                // Trailers are dropped: `Trailer` and `TE` never reach the instance.
                let Ok(data) = frame.into_data() else { continue };
                if data.is_empty() {
                    continue;
                }
                budget.take(data.len())?;
                let written = if chunked {
                    let size = Bytes::from(format!("{:x}\r\n", data.len()));
                    let mut chunk = bytes::Buf::chain(bytes::Buf::chain(size, data), &b"\r\n"[..]);
                    writer.write_all_buf(&mut chunk).await
                } else {
                    writer.write_all(&data).await
                };
                written.map_err(ClientError::Send)?;
            }
        }
    }
    if chunked {
        writer.write_all(b"0\r\n\r\n").await.map_err(ClientError::Send)?;
    }
    Ok(())
}

enum HeadError {
    /// Closed or reset before the first byte of an answer.
    NoAnswer {
        reason: &'static str,
        source: io::Error,
    },
    Other(ClientError),
}

/// Reads until a final response head (or a 101) is complete, skipping 1xx interim answers.
async fn read_head(
    reader: &mut (impl AsyncRead + Unpin),
    buf: &mut bytes::BytesMut,
    method: &Method,
    spare: &mut HeaderMap,
) -> Result<ResponseHead, HeadError> {
    let mut answered = !buf.is_empty();
    loop {
        // One read may hold an interim head and the final one after it.
        while !buf.is_empty() {
            match parse_response(buf, method, spare) {
                Ok(Some(head)) if is_interim(head.parts.status) => {}
                Ok(Some(head)) => return Ok(head),
                Ok(None) => break,
                Err(err) => return Err(malformed(err)),
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(HEAD_READ);
        }
        match reader.read_buf(buf).await {
            Ok(0) if answered => {
                let source = io::Error::from(io::ErrorKind::UnexpectedEof);
                return Err(recv("connection closed before the response", source));
            }
            Ok(0) => {
                let source = io::Error::from(io::ErrorKind::UnexpectedEof);
                return Err(HeadError::NoAnswer { reason: "connection closed before the response", source });
            }
            Ok(_) => answered = true,
            Err(err) if !answered && err.kind() == io::ErrorKind::ConnectionReset => {
                return Err(HeadError::NoAnswer { reason: "connection reset", source: err });
            }
            Err(err) => return Err(recv(crate::error::io_reason(&err), err)),
        }
    }
}

/// 100 Continue, 102, 103: the instance's business; the router answers `Expect` itself and drops these.
fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

fn recv(reason: &'static str, source: io::Error) -> HeadError {
    HeadError::Other(ClientError::Recv { reason, source: source.into() })
}

fn malformed(err: ParseError) -> HeadError {
    HeadError::Other(ClientError::Recv { reason: "malformed response", source: err.into() })
}
