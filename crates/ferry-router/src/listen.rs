//! Where client connections come from: a [`Listener`] hands [`Router::serve`](crate::Router::serve) its
//! connections and says what clients speak on them ([`Scheme`]), which instances are told in
//! `X-Forwarded-Proto`. A TCP listener serves plain HTTP; a [`TlsListener`](crate::TlsListener) wraps one and
//! says HTTPS.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// What clients speak on a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `http` or `https`, as `X-Forwarded-Proto` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A client's connection as instances are told of it: the client's address (`X-Forwarded-For`) and what it
/// speaks (`X-Forwarded-Proto`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    pub(crate) addr: IpAddr,
    pub(crate) scheme: Scheme,
}

/// What ALPN chose for a connection, if the listener negotiates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alpn {
    /// No ALPN: `serve` tells HTTP/2 from HTTP/1.1 by the first bytes.
    None,
    Http1,
    Http2,
}

/// What a listener's per-connection [`Listener::handshake`] made of an accepted connection.
pub enum Handshake<C> {
    /// Serve HTTP on it.
    Http { conn: C, alpn: Alpn },
    /// The connection did what it came for during the handshake (a TLS-ALPN-01 challenge): close it.
    Done,
}

/// A source of client connections for [`Router::serve`](crate::Router::serve).
///
/// Accepting is split in two: [`Listener::accept`] runs in `serve`'s accept loop and must only take the next
/// connection; [`Listener::handshake`] (a TLS handshake, say) runs in the connection's own task, so one slow
/// client never holds up the others.
pub trait Listener: Send + 'static {
    /// A connection as accepted.
    type Io: Send + 'static;
    /// A connection ready for HTTP, after the handshake.
    type Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Accepts the next connection. An error that comes with an OS error code is taken for the listener's
    /// own (`serve` backs off, as after EMFILE) unless its kind is one of a single connection (reset,
    /// aborted); any other error is taken for one connection's failure, and `serve` accepts the next one at
    /// once. Per-connection setup that can wait on the client belongs in [`Listener::handshake`].
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;

    /// Makes an accepted connection ready for HTTP, within `timeout`. Called in the accept loop, but the
    /// future it returns runs in the connection's own task: all the waiting belongs in the future. An error is
    /// the connection's, logged at debug.
    fn handshake(
        &self,
        io: Self::Io,
        timeout: Duration,
    ) -> impl Future<Output = io::Result<Handshake<Self::Conn>>> + Send + 'static;

    /// What clients speak on it, which the router tells instances in `X-Forwarded-Proto`.
    fn scheme(&self) -> Scheme;

    /// Sets `TCP_NODELAY` on the listening socket, for the connections it accepts to inherit (one system call
    /// instead of one per connection); false when it could not. Called once by `serve`, before the first
    /// accept; when false, `serve` calls [`Listener::set_nodelay`] on every connection instead. The default
    /// (false) suits listeners whose connections are not TCP, or that set it up themselves.
    fn inherit_nodelay(&self) -> bool {
        false
    }

    /// Sets `TCP_NODELAY` on one accepted connection. The default does nothing.
    fn set_nodelay(io: &Self::Io) -> io::Result<()> {
        let _ = io;
        Ok(())
    }
}

/// Plain HTTP (HTTP/1.1 and h2c) on TCP.
impl Listener for TcpListener {
    type Io = TcpStream;
    type Conn = TcpStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }

    /// Nothing to do: ready at once.
    fn handshake(
        &self,
        io: TcpStream,
        _: Duration,
    ) -> impl Future<Output = io::Result<Handshake<TcpStream>>> + Send + 'static {
        std::future::ready(Ok(Handshake::Http { conn: io, alpn: Alpn::None }))
    }

    fn scheme(&self) -> Scheme {
        Scheme::Http
    }

    /// Accepted sockets inherit `TCP_NODELAY` from the listener on Linux and the BSDs.
    fn inherit_nodelay(&self) -> bool {
        socket2::SockRef::from(self).set_tcp_nodelay(true).is_ok()
    }

    fn set_nodelay(io: &TcpStream) -> io::Result<()> {
        io.set_nodelay(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve` sets TCP_NODELAY on the listener only, relying on accepted sockets inheriting it.
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay_from_the_listener() {
        let mut listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(listener.inherit_nodelay());
        assert_eq!(listener.scheme(), Scheme::Http);
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (accepted, peer) = Listener::accept(&mut listener).await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn schemes_are_spelt_as_forwarded() {
        assert_eq!((Scheme::Http.as_str(), Scheme::Https.as_str()), ("http", "https"));
    }
}
