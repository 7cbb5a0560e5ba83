//! A packet socket (`AF_PACKET`, `SOCK_DGRAM`): IPv4 packets sent to a chosen link-layer address and
//! received as they arrive on one interface, below the kernel's routing. std offers no such socket,
//! hence libc and the only `unsafe` of the app; everything built or parsed here is plain bytes in
//! `probe.rs`.
//!
//! Opening one needs `CAP_NET_RAW`: without it `socket(2)` fails with `EPERM`, which is what the
//! isolation tests look for.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// `ETH_P_IP` in network byte order, as packet sockets take protocols.
fn eth_p_ip() -> u16 {
    (libc::ETH_P_IP as u16).to_be()
}

pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    /// A socket for IPv4 packets on interface `ifindex`, whose receives wait at most `timeout`.
    pub fn open(ifindex: i32, timeout: Duration) -> io::Result<Self> {
        // SAFETY: socket(2) takes no pointers; a negative result is an error, checked below.
        let fd = unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, i32::from(eth_p_ip()))
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let socket = Self { fd, ifindex };
        let addr = socket.link_addr([0; 6]);
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed with it.
        let bound = unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound < 0 {
            return Err(io::Error::last_os_error());
        }
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
        };
        // SAFETY: `tv` is a valid timeval and its size is passed with it.
        let set = unsafe {
            libc::setsockopt(
                socket.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const tv).cast::<libc::c_void>(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if set < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(socket)
    }

    /// Sends one IPv4 packet in a frame addressed to `mac`.
    pub fn send(&self, packet: &[u8], mac: [u8; 6]) -> io::Result<()> {
        let addr = self.link_addr(mac);
        // SAFETY: `packet` is valid for its length; `addr` is a valid sockaddr_ll and its size is passed.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast::<libc::c_void>(),
                packet.len(),
                0,
                (&raw const addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// The next IPv4 packet (without its link-layer header) into `buf`; its length. Fails with
    /// `WouldBlock` when nothing came within the socket's timeout.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        let n =
            unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast::<libc::c_void>(), buf.len(), 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    fn link_addr(&self, mac: [u8; 6]) -> libc::sockaddr_ll {
        let mut addr = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: eth_p_ip(),
            sll_ifindex: self.ifindex,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: [0; 8],
        };
        addr.sll_addr[..6].copy_from_slice(&mac);
        addr
    }
}
