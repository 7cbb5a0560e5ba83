//! The two bodies the router streams: the client's request body on its way to an instance ([`RequestBody`]) and
//! the response body on its way back ([`ProxyBody`]). Neither buffers: each frame is passed on as it comes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::oneshot;

use crate::table::InFlight;

/// The body of every response the router sends: a short local message, or the instance's body streamed through.
///
/// Invariant: the [`InFlight`] guard of a proxied response is released when the body ends (its last frame was
/// handed to hyper), fails, or is dropped (the client went away), whichever comes first.
#[derive(Debug)]
pub(crate) struct ProxyBody {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Local(Option<Bytes>),
    Upstream { body: Incoming, in_flight: Option<InFlight> },
}

impl ProxyBody {
    pub(crate) fn empty() -> ProxyBody {
        ProxyBody { kind: Kind::Local(None) }
    }

    pub(crate) fn text(text: String) -> ProxyBody {
        ProxyBody { kind: Kind::Local(Some(Bytes::from(text))) }
    }

    pub(crate) fn upstream(body: Incoming, in_flight: InFlight) -> ProxyBody {
        ProxyBody { kind: Kind::Upstream { body, in_flight: Some(in_flight) } }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        // Every field is `Unpin` (`Incoming` is), so no pin projection is needed.
        match &mut self.get_mut().kind {
            Kind::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Upstream { body, in_flight } => {
                let frame = Pin::new(body).poll_frame(cx);
                if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
                    in_flight.take();
                }
                frame
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Local(bytes) => bytes.is_none(),
            Kind::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Local(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Upstream { body, .. } => body.size_hint(),
        }
    }
}

/// The client's request body as sent to an instance, able to come back if it was never read.
///
/// When the connection to an instance cannot be made, the upstream client drops the request unread; to retry on
/// another instance the router needs the body back. If a `reclaim` channel is set and the body is dropped before
/// its first poll, it sends the untouched [`Incoming`] back through it. The first poll clears the channel: from
/// then on bytes may have reached an instance and the body must not be replayed.
#[derive(Debug)]
pub(crate) struct RequestBody {
    body: Option<Incoming>,
    reclaim: Option<oneshot::Sender<Incoming>>,
}

impl RequestBody {
    pub(crate) fn new(body: Incoming) -> RequestBody {
        RequestBody { body: Some(body), reclaim: None }
    }

    /// A body that returns itself through the receiver if it is dropped unread.
    pub(crate) fn reclaimable(body: Incoming) -> (RequestBody, oneshot::Receiver<Incoming>) {
        let (tx, rx) = oneshot::channel();
        (RequestBody { body: Some(body), reclaim: Some(tx) }, rx)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        this.reclaim = None;
        match &mut this.body {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body.as_ref().map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if let (Some(reclaim), Some(body)) = (self.reclaim.take(), self.body.take()) {
            // The receiver is gone only when the router no longer wants the body.
            let _ = reclaim.send(body);
        }
    }
}
