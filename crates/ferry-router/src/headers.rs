//! Header rewriting between client and instance: hop-by-hop removal, the forwarding headers
//! (`X-Forwarded-For`, `-Proto`, `-Host`, `X-Real-IP`, `Forwarded`) and `X-Request-Id`.
//!
//! Hop-by-hop headers describe one connection (RFC 9110 §7.6.1); a proxy must not pass them on. Everything else
//! is forwarded untouched, including the client's `Host`, so an instance sees the name it was called by.
//!
//! The forwarding headers state what the router saw: the peer's address, the listener's scheme, the host the
//! request was routed by. ferry is the edge (nothing stands in front of it), so whatever a client sent in them
//! is dropped, never trusted nor appended to: an instance can believe them. A `Connection` header cannot
//! remove them, nor `Host` or the framing headers ([`is_protected`]).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::balance::random_seed;
use crate::listen::Scheme;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Hop-by-hop headers that are always removed (besides those named by `Connection`), `Connection` first.
static HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Whether `name` is one of [`HOP_BY_HOP`].
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    hop_by_hop_index(name).is_some()
}

/// Where `name` is in [`HOP_BY_HOP`]. Their lengths tell most other names apart without a comparison.
fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    // te, trailer and upgrade, connection and keep-alive, proxy-connection, transfer-encoding.
    if !matches!(name.as_str().len(), 2 | 7 | 10 | 16 | 17) {
        return None;
    }
    HOP_BY_HOP.iter().position(|hop| hop == name)
}

/// Whether the message asks for a protocol upgrade: `Connection` lists `upgrade` and `Upgrade` is present.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has_token(headers, "upgrade")
}

pub(crate) fn connection_has_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
}

/// Removes hop-by-hop headers: `Connection`, every header it names, and the fixed list. When `keep_upgrade`, the
/// message is an upgrade and leaves with exactly `Connection: upgrade` and its `Upgrade` header.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages have none, and the rest one or two (`Connection: close`): one pass over the names finds
    // which, and only those are looked up again to be removed.
    let present = headers.keys().filter_map(hop_by_hop_index).fold(0u8, |set, i| set | 1 << i);
    if present == 0 {
        return;
    }
    let upgrade = if keep_upgrade { headers.get(header::UPGRADE).cloned() } else { None };
    // Most messages carry at most one `Connection` header: take it out whole, without collecting.
    let mut connection = headers.get_all(header::CONNECTION).iter();
    let single = connection.next().is_some() && connection.next().is_none();
    if single {
        if let Some(value) = headers.remove(header::CONNECTION) {
            remove_named(headers, &value);
        }
    } else if let header::Entry::Occupied(entry) = headers.entry(header::CONNECTION) {
        let values: Vec<HeaderValue> = entry.remove_entry_mult().1.collect();
        for value in &values {
            remove_named(headers, value);
        }
    }
    // `Connection` itself is gone already.
    for (i, name) in HOP_BY_HOP.iter().enumerate().skip(1) {
        if present & 1 << i != 0 {
            headers.remove(name);
        }
    }
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
}

/// Removes the headers a `Connection` value names. Tokens that are not header names name nothing, and
/// [protected](is_protected) names are ignored.
fn remove_named(headers: &mut HeaderMap, connection: &HeaderValue) {
    let Ok(value) = connection.to_str() else { return };
    for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if is_protected(token) {
            continue;
        }
        // `&str` lookups lower-case on the stack and ignore invalid names.
        headers.remove(token);
    }
}

/// Headers a client's `Connection` must not remove: `Host` (what the request was routed by, and what the
/// instance is told), the forwarding headers the router sets itself, and the framing headers.
/// (`Connection: Host` would otherwise strip `Host` from the request the instance gets.)
fn is_protected(token: &str) -> bool {
    const PROTECTED: [&str; 7] = [
        "host",
        "x-request-id",
        "forwarded",
        "x-real-ip",
        "content-length",
        "transfer-encoding",
        "x-forwarded-",
    ];
    PROTECTED.iter().any(|name| match name.strip_suffix('-') {
        // A prefix: every `X-Forwarded-*`.
        Some(_) => token.get(..name.len()).is_some_and(|head| head.eq_ignore_ascii_case(name)),
        None => token.eq_ignore_ascii_case(name),
    })
}

/// Writes the client's address as `X-Forwarded-For` and `X-Real-IP` give it: IPv4 dotted, IPv6 as text, an
/// IPv4-mapped IPv6 address as the IPv4 one. Returns the bytes written into `buf`.
pub(crate) fn client_ip(client: IpAddr, buf: &mut [u8; 64]) -> &[u8] {
    format_ip(client, buf)
}

/// Writes the value of `Forwarded` (RFC 7239): `for=<client>;proto=<scheme>;host=<host>`. `ip` is
/// [`client_ip`]'s text: an IPv6 address is bracketed and quoted (§6); a host that is not a token (it has a
/// port, say) is quoted.
///
/// On every request's path: the common case (IPv4, a host that is a token) is three appends.
pub(crate) fn write_forwarded(out: &mut Vec<u8>, ip: &[u8], scheme: Scheme, host: &[u8]) {
    out.extend_from_slice(b"for=");
    if ip.contains(&b':') {
        out.extend_from_slice(b"\"[");
        out.extend_from_slice(ip);
        out.extend_from_slice(b"]\"");
    } else {
        out.extend_from_slice(ip);
    }
    out.extend_from_slice(match scheme {
        Scheme::Http => b";proto=http;host=",
        Scheme::Https => b";proto=https;host=",
    });
    if !host.is_empty() && host.iter().all(|&b| TCHAR[usize::from(b)]) {
        out.extend_from_slice(host);
    } else {
        write_quoted(out, host);
    }
}

#[cold]
#[inline(never)]
fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &b in value {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Which bytes are a `tchar` of RFC 9110 §5.6.2.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// Formats `ip` into `buf` (an IPv6 address takes at most 45 bytes) without allocating. An IPv4-mapped IPv6
/// peer (a dual-stack listener) is written as the IPv4 client it is. IPv4, the common case, is written digit by
/// digit: `fmt` machinery costs more than the rest of the request head.
fn format_ip(ip: IpAddr, buf: &mut [u8; 64]) -> &[u8] {
    use std::io::Write as _;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    if let IpAddr::V4(v4) = ip {
        let mut len = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            if octet >= 100 {
                buf[len] = b'0' + octet / 100;
                len += 1;
            }
            if octet >= 10 {
                buf[len] = b'0' + octet / 10 % 10;
                len += 1;
            }
            buf[len] = b'0' + octet % 10;
            len += 1;
        }
        return &buf[..len];
    }
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // 64 bytes hold any address, so the write cannot run out of room.
    let _ = write!(cursor, "{ip}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    &buf[..len]
}

/// A request id the client sent that is safe to pass on and echo: 1–200 visible ASCII characters.
pub(crate) fn is_sane_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 200 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Generates request ids: 32 hex characters, unique within a router (a counter) and unlikely to collide
/// across routers and restarts (a random seed mixed in).
#[derive(Debug)]
pub(crate) struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        RequestIds { seed: random_seed(), counter: AtomicU64::new(0) }
    }

    pub(crate) fn next(&self) -> HeaderValue {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // High half: the seed, scrambled by the counter so ids do not share a visible prefix; low half: the
        // counter scrambled by a bijection, so two counters never give the same id for one seed.
        let high = mix(self.seed ^ n.rotate_left(32));
        let low = mix(n.wrapping_add(self.seed));
        let mut buf = [0u8; 32];
        hex(high, &mut buf[..16]);
        hex(low, &mut buf[16..]);
        // Hex digits are always a valid header value; the placeholder is unreachable.
        HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("0"))
    }
}

/// splitmix64's finaliser: a bijection on u64 that scatters consecutive inputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hex(mut value: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in out.iter_mut().rev() {
        *byte = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
                HeaderValue::from_str(value).expect("valid value"),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut map = headers(&[
            ("connection", "keep-alive, X-Secret"),
            ("connection", "x-other"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
            ("host", "web.localhost"),
        ]);
        strip_hop_by_hop(&mut map, false);
        assert_eq!(names(&map), ["host", "x-kept"]);
    }

    #[test]
    fn each_hop_by_hop_header_alone_is_removed() {
        for hop in &HOP_BY_HOP {
            let mut map = headers(&[("x-kept", "1"), (hop.as_str(), "v"), ("host", "web.localhost")]);
            strip_hop_by_hop(&mut map, false);
            assert_eq!(names(&map), ["host", "x-kept"], "{hop}");
        }
    }

    #[test]
    fn single_connection_header_names_are_removed() {
        let mut map = headers(&[("connection", "close, x-a"), ("x-a", "1"), ("x-b", "2")]);
        strip_hop_by_hop(&mut map, false);
        assert_eq!(names(&map), ["x-b"]);
    }

    #[test]
    fn upgrade_keeps_connection_upgrade_and_upgrade() {
        let mut map = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("keep-alive", "timeout=5"),
            ("sec-websocket-key", "abc"),
        ]);
        assert!(is_upgrade(&map));
        strip_hop_by_hop(&mut map, true);
        assert_eq!(names(&map), ["connection", "sec-websocket-key", "upgrade"]);
        assert_eq!(map[header::CONNECTION], "upgrade");
        assert_eq!(map[header::UPGRADE], "websocket");
    }

    #[test]
    fn upgrade_needs_both_headers() {
        assert!(!is_upgrade(&headers(&[("upgrade", "websocket")])));
        assert!(!is_upgrade(&headers(&[("connection", "upgrade")])));
        assert!(is_upgrade(&headers(&[
            ("connection", "close"),
            ("connection", "UPGRADE"),
            ("upgrade", "h2c")
        ])));
    }

    #[test]
    fn client_ips_are_written_as_seen() {
        let text = |ip: &str| {
            let mut buf = [0u8; 64];
            String::from_utf8(client_ip(ip.parse().expect("valid ip"), &mut buf).to_vec()).expect("text")
        };
        for ip in ["0.0.0.0", "9.10.99.100", "255.255.255.255", "10.0.200.1", "::1", "2001:db8::7"] {
            assert_eq!(text(ip), ip);
        }
        assert_eq!(text("::ffff:127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn forwarded_values() {
        let cases: [(&str, Scheme, &str, &str); 5] = [
            ("192.0.2.7", Scheme::Http, "web.example", "for=192.0.2.7;proto=http;host=web.example"),
            (
                "2001:db8::7",
                Scheme::Https,
                "web.example",
                "for=\"[2001:db8::7]\";proto=https;host=web.example",
            ),
            (
                "192.0.2.7",
                Scheme::Http,
                "web.example:8080",
                "for=192.0.2.7;proto=http;host=\"web.example:8080\"",
            ),
            ("192.0.2.7", Scheme::Http, "[::1]:80", "for=192.0.2.7;proto=http;host=\"[::1]:80\""),
            ("192.0.2.7", Scheme::Http, "a\"b\\c", "for=192.0.2.7;proto=http;host=\"a\\\"b\\\\c\""),
        ];
        for (ip, scheme, host, want) in cases {
            let mut out = Vec::new();
            write_forwarded(&mut out, ip.as_bytes(), scheme, host.as_bytes());
            assert_eq!(String::from_utf8(out).expect("text"), want);
        }
    }

    /// Issue 12: `Connection: Host` removed `Host` from the request the instance got.
    #[test]
    fn connection_cannot_remove_host_forwarding_or_framing_headers() {
        let protected = [
            "host",
            "Host",
            "x-forwarded-for",
            "X-Forwarded-Proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-request-id",
            "forwarded",
            "x-real-ip",
            "content-length",
        ];
        for name in protected {
            let mut map =
                headers(&[("connection", &format!("close, {name}")), (name, "v"), ("x-named", "1")]);
            strip_hop_by_hop(&mut map, false);
            assert!(map.contains_key(name), "Connection: {name} removed it");
        }
        let mut map =
            headers(&[("connection", "x-named, x-forwarded"), ("x-named", "1"), ("x-forwarded", "2")]);
        strip_hop_by_hop(&mut map, false);
        assert!(map.is_empty(), "other names are still removed: {map:?}");
    }

    #[test]
    fn sane_request_ids() {
        let ok = |s: &str| is_sane_request_id(&HeaderValue::from_str(s).expect("valid value"));
        assert!(ok("abc-123"));
        assert!(ok(&"x".repeat(200)));
        assert!(!ok(&"x".repeat(201)));
        assert!(!ok(""));
        assert!(!ok("has space"));
        assert!(!is_sane_request_id(&HeaderValue::from_bytes(b"caf\xc3\xa9").expect("obs-text is allowed")));
    }

    #[test]
    fn generated_request_ids_are_32_hex_and_unique() {
        let ids = RequestIds::new();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = ids.next();
            assert_eq!(id.len(), 32);
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
            assert!(seen.insert(id), "duplicate id");
        }
        let other = RequestIds::new();
        assert!(!seen.contains(&other.next()), "a second router starts elsewhere");
    }
}
