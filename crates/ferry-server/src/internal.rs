//! The router's internal listener: how services reach each other, private ones included.
//!
//! It listens on the host (every address, by default) and takes connections only from the services'
//! networks (the network pool): containers reach it through their gateway as `ferry.internal` (an
//! `/etc/hosts` line the engine writes, `host-gateway`), and `FERRY_INTERNAL_URL` in each container says
//! where. Anything else that connects, from the internet or the host itself, is closed at once unread.
//! Requests name the service they want by its host, as on the public listener:
//! `curl -H 'Host: api.localhost' "$FERRY_INTERNAL_URL/path"`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ferry_router::{Handshake, Listener, Scheme};
use ferry_runtime::docker::Ipv4Net;
use tokio::net::{TcpListener, TcpStream};

/// The name containers know the host by.
pub(crate) const HOST_NAME: &str = "ferry.internal";

pub(crate) struct InternalListener {
    tcp: TcpListener,
    /// Where services' containers connect from.
    pool: Ipv4Net,
}

impl InternalListener {
    pub(crate) fn new(tcp: TcpListener, pool: Ipv4Net) -> Self {
        Self { tcp, pool }
    }
}

impl Listener for InternalListener {
    type Io = TcpStream;
    type Conn = TcpStream;

    /// The next connection from a service's container; others are closed as they come.
    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            let (io, peer) = self.tcp.accept().await?;
            if self.pool.contains(peer.ip()) {
                return Ok((io, peer));
            }
            tracing::debug!(%peer, "closed a connection to the internal listener from outside the services' networks");
        }
    }

    /// As plain TCP: ready at once.
    fn handshake(
        &self,
        io: TcpStream,
        timeout: Duration,
    ) -> impl Future<Output = io::Result<Handshake<TcpStream>>> + Send + 'static {
        Listener::handshake(&self.tcp, io, timeout)
    }

    fn scheme(&self) -> Scheme {
        Scheme::Http
    }

    fn inherit_nodelay(&self) -> bool {
        self.tcp.inherit_nodelay()
    }

    fn set_nodelay(io: &TcpStream) -> io::Result<()> {
        <TcpListener as Listener>::set_nodelay(io)
    }
}
