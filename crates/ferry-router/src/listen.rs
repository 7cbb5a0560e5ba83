//! Where client connections come from: a [`Listener`] hands [`Router::serve`](crate::Router::serve) its
//! connections and says what clients speak on them ([`Scheme`]), which instances are told in
//! `X-Forwarded-Proto`. A TCP listener serves plain HTTP; a TLS listener wraps one and says HTTPS.

use std::io;
use std::net::{IpAddr, SocketAddr};

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

/// A source of client connections for [`Router::serve`](crate::Router::serve).
pub trait Listener: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Accepts the next connection. An error that comes with an OS error code is taken for the listener's
    /// own (`serve` backs off, as after EMFILE) unless its kind is one of a single connection (reset,
    /// aborted); any other error is taken for one connection's failure (a TLS handshake, say), and `serve`
    /// accepts the next one at once.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;

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

    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
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
