//! The body of every response the router sends: a short local message, the instance's body read straight
//! from its HTTP/1.1 connection, or its body from an HTTP/2 stream (trailers included). Nothing is buffered
//! beyond one read: each piece is passed on as it arrives.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::codec::BodyFraming;
use crate::decode::{Decoded, Decoder};
use crate::meter::Streaming;
use crate::pool::Conn;
use crate::table::{Endpoint, InFlight};

/// Read buffer growth while a body streams: enough for a large body in few reads.
const BODY_READ_MIN: usize = 8 * 1024;
const BODY_READ_MAX: usize = 64 * 1024;

/// The body of every response the router sends.
///
/// Invariant: the [`InFlight`] guard of a proxied response is released when the body ends (its last frame was
/// handed to hyper), fails, or is dropped (the client went away), whichever comes first. Its connection goes back
/// to the pool only in the first case, and only if both sides keep it alive.
#[derive(Debug)]
pub(crate) struct ProxyBody {
    kind: Kind,
    /// The request's meter, if its route counts it and the body was not whole with the head: told the bytes
    /// handed to hyper, and dropped with the body (its end, failure or abandonment: hyper drops a body once it
    /// has ended). Boxed: inline it would grow every response body, metered or not.
    meter: Option<Box<Streaming>>,
}

#[derive(Debug)]
enum Kind {
    Local(Option<Bytes>),
    /// The empty body of a 101: the tunnel holds the instance's connection and guard; the body only says
    /// which instance it was.
    Upgraded(Arc<Endpoint>),
    /// An instance's body that was read whole with its head (or is empty); the connection is already back in
    /// the pool.
    Read {
        data: Option<Bytes>,
        in_flight: Option<InFlight>,
    },
    Upstream(UpstreamBody),
    /// An instance's body on an HTTP/2 stream, passed on frame by frame, trailers included. The guard is
    /// released when the stream ends or fails.
    H2 {
        body: Incoming,
        in_flight: Option<InFlight>,
    },
}

/// An instance's body being read from its connection.
#[derive(Debug)]
struct UpstreamBody {
    /// `None` once the body has ended or failed.
    conn: Option<Conn>,
    decoder: Decoder,
    keep_alive: bool,
    in_flight: Option<InFlight>,
}

impl ProxyBody {
    pub(crate) fn empty() -> ProxyBody {
        ProxyBody { kind: Kind::Local(None), meter: None }
    }

    pub(crate) fn text(text: String) -> ProxyBody {
        ProxyBody::bytes(Bytes::from(text))
    }

    pub(crate) fn bytes(bytes: Bytes) -> ProxyBody {
        ProxyBody { kind: Kind::Local((!bytes.is_empty()).then_some(bytes)), meter: None }
    }

    /// The body that follows a response head on `conn`. When the bytes read with the head already hold all of
    /// it, the connection is given back to the pool at once.
    pub(crate) fn upstream(
        mut conn: Conn,
        framing: BodyFraming,
        keep_alive: bool,
        in_flight: InFlight,
    ) -> ProxyBody {
        let decoder = Decoder::new(framing);
        let whole = match decoder.remaining() {
            Some(n) => usize::try_from(n).ok().filter(|&n| n <= conn.buf.len()),
            None => None,
        };
        let Some(len) = whole else {
            let body = UpstreamBody { conn: Some(conn), decoder, keep_alive, in_flight: Some(in_flight) };
            return ProxyBody { kind: Kind::Upstream(body), meter: None };
        };
        let data = (len > 0).then(|| conn.buf.split_to(len).freeze());
        if keep_alive {
            in_flight.endpoint().pool.checkin(conn);
        }
        ProxyBody { kind: Kind::Read { data, in_flight: Some(in_flight) }, meter: None }
    }
}

impl ProxyBody {
    /// The body of a response that came over HTTP/2.
    pub(crate) fn h2(body: Incoming, in_flight: InFlight) -> ProxyBody {
        ProxyBody { kind: Kind::H2 { body, in_flight: Some(in_flight) }, meter: None }
    }

    /// The (empty) body of a 101 from `endpoint`, whose connection became a tunnel.
    pub(crate) fn upgraded(endpoint: Arc<Endpoint>) -> ProxyBody {
        ProxyBody { kind: Kind::Upgraded(endpoint), meter: None }
    }

    /// The body's length if all of it is in memory already (the router's own answer, or read with the head).
    #[inline]
    pub(crate) fn whole(&self) -> Option<u64> {
        match &self.kind {
            Kind::Local(bytes) | Kind::Read { data: bytes, .. } => {
                Some(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Upgraded(_) => Some(0),
            Kind::Upstream(_) | Kind::H2 { .. } => None,
        }
    }

    /// The instance the body comes from; `None` for the router's own answers (and once a body has ended).
    pub(crate) fn endpoint(&self) -> Option<Arc<Endpoint>> {
        let in_flight = match &self.kind {
            Kind::Local(_) => return None,
            Kind::Upgraded(endpoint) => return Some(Arc::clone(endpoint)),
            Kind::Read { in_flight, .. } | Kind::H2 { in_flight, .. } => in_flight,
            Kind::Upstream(body) => &body.in_flight,
        };
        in_flight.as_ref().map(|in_flight| Arc::clone(in_flight.endpoint()))
    }

    /// Gives the body the request's meter, to follow it to its end.
    #[inline]
    pub(crate) fn set_meter(&mut self, meter: Box<Streaming>) {
        self.meter = Some(meter);
    }
}

impl UpstreamBody {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else { return Poll::Ready(None) };
            match self.decoder.decode(&mut conn.buf) {
                Ok(Decoded::Data(data)) => {
                    if self.decoder.is_done() {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Decoded::Done) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) => {}
                Err(err) => return Poll::Ready(Some(Err(self.fail(io::ErrorKind::InvalidData, err)))),
            }
            if conn.buf.capacity() - conn.buf.len() < BODY_READ_MIN / 2 {
                let want = self.decoder.remaining().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
                conn.buf.reserve(want.clamp(BODY_READ_MIN, BODY_READ_MAX));
            }
            match ready!(tokio_util::io::poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.buf)) {
                Ok(0) => match self.decoder.eof() {
                    // A read-to-close body ends here; its connection is spent.
                    Ok(()) => {
                        self.keep_alive = false;
                        self.finish();
                        return Poll::Ready(None);
                    }
                    Err(err) => return Poll::Ready(Some(Err(self.fail(io::ErrorKind::UnexpectedEof, err)))),
                },
                Ok(_) => {}
                Err(err) => return Poll::Ready(Some(Err(self.fail(err.kind(), err)))),
            }
        }
    }

    /// The body ended cleanly: the connection goes back to the pool if both sides keep it alive.
    fn finish(&mut self) {
        if let (Some(conn), Some(in_flight)) = (self.conn.take(), self.in_flight.as_ref())
            && self.keep_alive
        {
            in_flight.endpoint().pool.checkin(conn);
        }
        self.in_flight = None;
    }

    /// The body broke off: the connection is closed, and the client's response must fail too (hyper then
    /// aborts it rather than end it as if complete).
    fn fail(&mut self, kind: io::ErrorKind, err: impl Into<crate::error::BoxError>) -> io::Error {
        self.conn = None;
        self.in_flight = None;
        io::Error::new(kind, err)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        // Every field is `Unpin`, so no pin projection is needed.
        let this = self.get_mut();
        let polled = poll_kind(&mut this.kind, cx);
        if let Some(meter) = &mut this.meter
            && let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            meter.sent(data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Local(bytes) | Kind::Read { data: bytes, .. } => bytes.is_none(),
            Kind::Upgraded(_) => true,
            Kind::Upstream(body) => body.conn.is_none(),
            Kind::H2 { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Local(bytes) | Kind::Read { data: bytes, .. } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Upgraded(_) => SizeHint::with_exact(0),
            Kind::Upstream(body) => match body.decoder.remaining() {
                Some(n) if body.conn.is_some() => SizeHint::with_exact(n),
                Some(_) => SizeHint::with_exact(0),
                None => SizeHint::default(),
            },
            Kind::H2 { body, .. } => body.size_hint(),
        }
    }
}

/// The next frame of a body of this kind.
#[inline(always)]
fn poll_kind(kind: &mut Kind, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
    match kind {
        Kind::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        Kind::Upgraded(_) => Poll::Ready(None),
        Kind::Read { data, in_flight } => {
            let frame = data.take().map(|b| Ok(Frame::data(b)));
            in_flight.take();
            Poll::Ready(frame)
        }
        Kind::Upstream(body) => body.poll_frame(cx),
        Kind::H2 { body, in_flight } => match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if body.is_end_stream() {
                    in_flight.take();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(err)) => {
                in_flight.take();
                Poll::Ready(Some(Err(io::Error::other(err))))
            }
            None => {
                in_flight.take();
                Poll::Ready(None)
            }
        },
    }
}
