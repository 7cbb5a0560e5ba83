//! What the container can reach: probes the isolation tests call through the router.
//!
//! - [`connect`]: a plain TCP connect, as any app could make.
//! - [`internal`]: a GET through the router's internal listener (`$FERRY_INTERNAL_URL`) for another
//!   service's host, as an app calling a private service does.
//! - [`raw_syn`]: the attack of a container with `CAP_NET_RAW` on an engine whose bridges route
//!   127.0.0.0/8 (`route_localnet=1`, set by Docker when its userland proxy is off): a hand-made TCP
//!   SYN to 127.0.0.1 in a frame addressed to the default gateway's MAC (the host's side of the
//!   bridge). The container's kernel would never route 127.0.0.1 out of its interface, so the packet
//!   is sent on a packet socket, and the answer read there too (the container's kernel drops a packet
//!   from 127.0.0.1 arriving on its interface as a martian, but a packet socket sees it first).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::raw::PacketSocket;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a raw SYN waits for its answer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// How long the gateway's MAC may take to appear in the neighbour table.
const ARP_WAIT: Duration = Duration::from_secs(1);

/// The status line and body of `GET <path>` with `Host: <host>` sent to `$FERRY_INTERNAL_URL`, or
/// `error: <why>`.
pub fn internal(host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let Ok(url) = std::env::var("FERRY_INTERNAL_URL") else { return "error: no FERRY_INTERNAL_URL".into() };
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let addr = match authority.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) => return format!("error: {authority} has no address"),
        Err(e) => return format!("error: cannot resolve {authority}: {e}"),
    };
    let mut stream = match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(stream) => stream,
        Err(e) => return format!("error: connect {addr}: {e}"),
    };
    let _ = stream.set_read_timeout(Some(ANSWER_WAIT));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return format!("error: send: {e}");
    }
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or("error: no answer").to_owned();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    format!("{status}\n{body}")
}

/// `connected`, `refused`, `timeout` or `error: <why>`; an error for an address that does not parse.
pub fn connect(addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().map_err(|_| format!("addr must be IP:PORT, got {addr:?}"))?;
    Ok(match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(_) => "connected".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => "refused".to_owned(),
        Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
            "timeout".to_owned()
        }
        Err(e) => format!("error: {e}"),
    })
}

/// `syn-ack` (something listens there and answered), `rst` (reached, nothing listens), `no-answer`,
/// `socket: <why>` (no packet socket: no `CAP_NET_RAW`) or `error: <why>`; an error for bad input.
pub fn raw_syn(ip: &str, port: &str) -> Result<String, String> {
    let ip: Ipv4Addr = ip.parse().map_err(|_| format!("ip must be an IPv4 address, got {ip:?}"))?;
    let port: u16 = port.parse().map_err(|_| format!("port must be a port number, got {port:?}"))?;
    Ok(syn(ip, port).unwrap_or_else(|e| e))
}

fn syn(target: Ipv4Addr, port: u16) -> Result<String, String> {
    let routes =
        std::fs::read_to_string("/proc/net/route").map_err(|e| format!("error: /proc/net/route: {e}"))?;
    let (iface, gateway) = default_route(&routes).ok_or("error: no default route")?;
    let ifindex: i32 = std::fs::read_to_string(format!("/sys/class/net/{iface}/ifindex"))
        .ok()
        .and_then(|i| i.trim().parse().ok())
        .ok_or_else(|| format!("error: no index for interface {iface}"))?;
    let socket =
        PacketSocket::open(ifindex, Duration::from_millis(100)).map_err(|e| format!("socket: {e}"))?;
    // A datagram to the gateway makes the kernel resolve its MAC and tells our own address.
    let udp = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("error: udp: {e}"))?;
    udp.connect((gateway, 9)).map_err(|e| format!("error: udp connect: {e}"))?;
    let own = match udp.local_addr() {
        Ok(SocketAddr::V4(a)) => *a.ip(),
        other => return Err(format!("error: no IPv4 address of our own: {other:?}")),
    };
    let deadline = Instant::now() + ARP_WAIT;
    let mac = loop {
        let _ = udp.send(b"probe");
        let arp = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
        if let Some(mac) = neighbour_mac(&arp, gateway) {
            break mac;
        }
        if Instant::now() > deadline {
            return Err(format!("error: the gateway {gateway} has no MAC address in /proc/net/arp"));
        }
        let _ = udp.set_read_timeout(Some(Duration::from_millis(50)));
        let _ = udp.recv(&mut [0; 64]); // waits a little: ICMP errors or nothing
    };
    let nonce =
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos() ^ std::process::id();
    let source_port = 40_000 + (nonce % 20_000) as u16;
    let packet = syn_packet(own, target, source_port, port, nonce);
    socket.send(&packet, mac).map_err(|e| format!("error: send: {e}"))?;
    let deadline = Instant::now() + ANSWER_WAIT;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(format!("error: recv: {e}")),
        };
        if let Some(flags) = answer_flags(&buf[..n], own, port, source_port) {
            if flags & (SYN | ACK) == SYN | ACK {
                return Ok("syn-ack".to_owned());
            }
            if flags & RST != 0 {
                return Ok("rst".to_owned());
            }
        }
    }
    Ok("no-answer".to_owned())
}

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// The interface and gateway of the default route in `/proc/net/route` (addresses in hex, in the
/// host's byte order: little-endian here).
fn default_route(table: &str) -> Option<(String, Ipv4Addr)> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (iface, destination, gateway) = (fields.first()?, fields.get(1)?, fields.get(2)?);
        if *destination != "00000000" {
            return None;
        }
        let gateway = u32::from_str_radix(gateway, 16).ok()?;
        Some(((*iface).to_owned(), Ipv4Addr::from(gateway.to_le_bytes())))
    })
}

/// The MAC address of a complete entry for `ip` in `/proc/net/arp`.
fn neighbour_mac(table: &str, ip: Ipv4Addr) -> Option<[u8; 6]> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first()?.parse::<Ipv4Addr>().ok()? != ip || *fields.get(2)? != "0x2" {
            return None;
        }
        let mut mac = [0u8; 6];
        let mut parts = fields.get(3)?.split(':');
        for byte in &mut mac {
            *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
        }
        (mac != [0; 6]).then_some(mac)
    })
}

/// An IPv4 packet holding a TCP SYN, checksums filled in.
fn syn_packet(source: Ipv4Addr, target: Ipv4Addr, source_port: u16, port: u16, seq: u32) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip[4..6].copy_from_slice(&(seq as u16).to_be_bytes()); // identification
    ip.extend_from_slice(&source.octets());
    ip.extend_from_slice(&target.octets());
    let ip_sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&source_port.to_be_bytes());
    tcp.extend_from_slice(&port.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, SYN, 0xfa, 0xf0, 0, 0, 0, 0]); // ack, offset, flags, window
    let tcp_sum = checksum(&[&pseudo_header(source, target, tcp.len()), &tcp]);
    tcp[16..18].copy_from_slice(&tcp_sum.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

fn pseudo_header(source: Ipv4Addr, target: Ipv4Addr, tcp_len: usize) -> Vec<u8> {
    let mut header = Vec::with_capacity(12);
    header.extend_from_slice(&source.octets());
    header.extend_from_slice(&target.octets());
    header.extend_from_slice(&[0, 6]);
    header.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    header
}

/// The Internet checksum (RFC 1071) of the parts, one after the other (each of even length but the last).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The TCP flags of `packet` if it is the answer to our SYN: TCP from `port` to `our_port` at `own`.
fn answer_flags(packet: &[u8], own: Ipv4Addr, port: u16, our_port: u16) -> Option<u8> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    if packet.first()? >> 4 != 4 || *packet.get(9)? != 6 || packet.get(16..20)? != own.octets() {
        return None;
    }
    let tcp = packet.get(ihl..ihl + 20)?;
    let (from, to) = (u16::from_be_bytes([tcp[0], tcp[1]]), u16::from_be_bytes([tcp[2], tcp[3]]));
    (from == port && to == our_port).then_some(tcp[13])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_route_and_the_gateways_mac_are_read_from_proc() {
        let routes = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                      eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                      eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(default_route(routes), Some(("eth0".to_owned(), Ipv4Addr::new(172, 18, 0, 1))));
        assert_eq!(default_route("Iface\tDestination\n"), None);
        let arp = "IP address       HW type     Flags       HW address            Mask     Device\n\
                   172.18.0.3       0x1         0x0         00:00:00:00:00:00     *        eth0\n\
                   172.18.0.1       0x1         0x2         02:42:be:b8:5f:51     *        eth0\n";
        let gateway = Ipv4Addr::new(172, 18, 0, 1);
        assert_eq!(neighbour_mac(arp, gateway), Some([0x02, 0x42, 0xbe, 0xb8, 0x5f, 0x51]));
        assert_eq!(neighbour_mac(arp, Ipv4Addr::new(172, 18, 0, 3)), None, "incomplete");
    }

    #[test]
    fn a_syn_packet_has_valid_checksums_and_its_answer_is_recognised() {
        let (own, target) = (Ipv4Addr::new(172, 18, 0, 2), Ipv4Addr::LOCALHOST);
        let packet = syn_packet(own, target, 40_001, 5000, 0x1234_5678);
        assert_eq!(packet.len(), 40);
        assert_eq!(checksum(&[&packet[..20]]), 0, "the IP header sums to zero with its checksum");
        assert_eq!(checksum(&[&pseudo_header(own, target, 20), &packet[20..]]), 0, "so does TCP");
        assert_eq!(packet[20 + 13], SYN);
        // The answer: the same ports swapped, addressed to us.
        let mut answer = syn_packet(target, own, 5000, 40_001, 1);
        answer[20 + 13] = SYN | ACK;
        assert_eq!(answer_flags(&answer, own, 5000, 40_001), Some(SYN | ACK));
        assert_eq!(answer_flags(&answer, own, 5001, 40_001), None, "another port");
        assert_eq!(answer_flags(&packet, own, 5000, 40_001), None, "our own SYN");
        assert_eq!(answer_flags(&answer[..30], own, 5000, 40_001), None, "truncated");
    }

    #[test]
    fn connect_names_the_outcome() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(connect(&addr.to_string()).unwrap(), "connected");
        drop(listener);
        assert_eq!(connect(&addr.to_string()).unwrap(), "refused");
        assert!(connect("nowhere").unwrap_err().contains("IP:PORT"));
    }
}
