//! HTTP/1.1 on the wire to an instance, without IO: the request head the router writes, and the response head
//! it parses (with `httparse`), with the framing of the body that follows (RFC 9112 §6.3).

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use crate::headers::{
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REAL_IP, X_REQUEST_ID, client_ip, write_forwarded,
};
use crate::listen::Peer;

/// Most header lines a response head may have (hyper's default too).
const MAX_HEADERS: usize = 100;

/// Largest response head accepted (hyper's default read buffer limit).
pub(crate) const MAX_HEAD: usize = 400 * 1024;

/// How the request body travels to the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestFraming {
    /// No body and no `Content-Length`.
    None,
    Length(u64),
    Chunked,
}

/// Everything the request head sent to an instance is made of. The same head goes to any instance: the target
/// is in origin form and `Host` is the client's, so a retry elsewhere writes the same bytes.
#[derive(Debug)]
pub(crate) struct RequestHead<'a> {
    pub(crate) method: &'a Method,
    /// Path and query.
    pub(crate) target: &'a str,
    /// The client's headers, hop-by-hop ones already removed. The forwarding headers and the framing are
    /// replaced by the fields below.
    pub(crate) headers: &'a HeaderMap,
    /// The client's address, appended to `X-Forwarded-For`, and its scheme, sent as `X-Forwarded-Proto`.
    pub(crate) peer: Peer,
    /// The host the client asked for: the value of `X-Forwarded-Host`.
    pub(crate) host: &'a HeaderValue,
    pub(crate) request_id: &'a HeaderValue,
    pub(crate) framing: RequestFraming,
}

/// Writes one `cookie` line holding every value, "; "-separated.
fn write_cookies<'a>(out: &mut Vec<u8>, values: impl IntoIterator<Item = &'a HeaderValue>) {
    out.extend_from_slice(b"cookie: ");
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

impl RequestHead<'_> {
    /// Appends the head to `out`: request line, headers, blank line.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let mut cookies = false;
        for (name, value) in self.headers {
            if name == header::COOKIE {
                // HTTP/2 clients may send each cookie as its own field; HTTP/1.1 allows one `Cookie` line, so
                // they are joined with "; " (RFC 9113 §8.2.3). One line stays as it is.
                if !cookies {
                    cookies = true;
                    write_cookies(out, self.headers.get_all(header::COOKIE));
                }
            } else if !is_replaced(name) {
                line(out, name.as_str().as_bytes(), value.as_bytes());
            }
        }
        // What the router saw, whatever the client said (`headers.rs`).
        let mut ip = [0u8; 64];
        let ip = client_ip(self.peer.addr, &mut ip);
        let scheme = self.peer.scheme.as_str().as_bytes();
        line(out, b"x-forwarded-for", ip);
        line(out, b"x-forwarded-proto", scheme);
        line(out, b"x-forwarded-host", self.host.as_bytes());
        out.extend_from_slice(b"x-real-ip: ");
        out.extend_from_slice(ip);
        out.extend_from_slice(b"\r\nforwarded: ");
        write_forwarded(out, ip, self.peer.scheme, self.host.as_bytes());
        out.extend_from_slice(b"\r\n");
        line(out, b"x-request-id", self.request_id.as_bytes());
        match self.framing {
            RequestFraming::None => {}
            RequestFraming::Length(len) => {
                out.extend_from_slice(b"content-length: ");
                out.extend_from_slice(itoa(len, &mut [0u8; 20]));
                out.extend_from_slice(b"\r\n");
            }
            RequestFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The host a head written by [`RequestHead::write`] was routed by (its `X-Forwarded-Host`), read back from
/// `written`: the head, perhaps followed by body bytes. For the rare request routed again after its head was
/// written, which keeps no other copy of its host.
///
/// The router writes that line itself, once, after the client's headers (a client's own is replaced), and no
/// header value holds a line break: the first line that starts with its name is it.
pub(crate) fn written_host(written: &[u8]) -> Option<&str> {
    const NAME: &[u8] = b"\r\nx-forwarded-host: ";
    let end = written.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &written[..end + 2];
    let start = head.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let len = head[start..].windows(2).position(|w| w == b"\r\n")?;
    std::str::from_utf8(&head[start..start + len]).ok()
}

/// Headers the router writes itself rather than passing on.
fn is_replaced(name: &HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::FORWARDED
        || name == X_FORWARDED_FOR
        || name == X_FORWARDED_PROTO
        || name == X_FORWARDED_HOST
        || name == X_REAL_IP
        || name == X_REQUEST_ID
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal, in the tail of `buf`.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// How the response body is delimited, and so whether the connection can carry another request after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body: a response to HEAD, a 204 or a 304.
    Empty,
    Length(u64),
    Chunked,
    /// Until the instance closes the connection.
    Close,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) parts: http::response::Parts,
    pub(crate) framing: BodyFraming,
    /// Both sides keep the connection open after this response (if its body ends cleanly).
    pub(crate) keep_alive: bool,
}

/// The response head is not HTTP/1.x the router can pass on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParseError {
    #[error(transparent)]
    Syntax(#[from] httparse::Error),
    #[error("the response head is larger than {MAX_HEAD} bytes")]
    TooLarge,
    #[error("invalid status code")]
    Status,
    #[error("invalid header")]
    Header,
    #[error("invalid content-length")]
    ContentLength,
    #[error("transfer-encoding in an HTTP/1.0 response")]
    TransferEncoding,
}

/// Where a header's name and value lie in the head's bytes (a head is at most [`MAX_HEAD`] bytes long).
#[derive(Clone, Copy, Default)]
struct Indices {
    name: (u32, u32),
    value: (u32, u32),
}

/// Header positions kept on the stack; a head with more header lines spills to the heap.
const INLINE_HEADERS: usize = 16;

/// Parses the response head at the start of `buf`, removing its bytes. `Ok(None)` when the head is not complete
/// yet. 1xx heads are returned like any other: the caller skips them (or takes a 101 as an upgrade).
///
/// Header values share the head's bytes (one allocation for the head, none per value); `method` is the
/// request's, which decides whether a body follows. The headers go into `spare`'s map (taken, leaving an empty
/// one), so a map whose capacity is already there is reused. Nothing is zeroed up front: `httparse` fills uninitialised
/// header slots, and only the positions of the headers found are kept.
pub(crate) fn parse_response(
    buf: &mut BytesMut,
    method: &Method,
    spare: &mut HeaderMap,
) -> Result<Option<ResponseHead>, ParseError> {
    let mut inline = [Indices::default(); INLINE_HEADERS];
    let mut spilled = Vec::new();
    let (len, code, reason, version, indices) = {
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let bytes: &[u8] = buf;
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            bytes,
            &mut slots,
        )? {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial if bytes.len() >= MAX_HEAD => return Err(ParseError::TooLarge),
            httparse::Status::Partial => return Ok(None),
        };
        let base = bytes.as_ptr() as usize;
        // Within the head, so below `MAX_HEAD` and within u32. httparse hands back a `'static` empty string for
        // a missing or non-ASCII reason phrase (and may for an empty value): an empty part is the empty range,
        // and a part that is not inside the head is refused rather than trusted.
        let offset = |part: &[u8]| -> Result<(u32, u32), ParseError> {
            if part.is_empty() {
                return Ok((0, 0));
            }
            let start = (part.as_ptr() as usize).checked_sub(base).ok_or(ParseError::Header)?;
            let end = start.checked_add(part.len()).filter(|&end| end <= len).ok_or(ParseError::Header)?;
            Ok((start as u32, end as u32))
        };
        let found = response.headers.len();
        let indices = if found <= INLINE_HEADERS {
            &mut inline[..found]
        } else {
            spilled.resize(found, Indices::default());
            &mut spilled[..]
        };
        for (slot, header) in indices.iter_mut().zip(response.headers.iter()) {
            *slot = Indices { name: offset(header.name.as_bytes())?, value: offset(header.value)? };
        }
        let reason = response.reason.filter(|r| !r.is_empty()).map(|r| offset(r.as_bytes())).transpose()?;
        (len, response.code, reason, response.version, &*indices)
    };
    let head = buf.split_to(len).freeze();

    let status = code.and_then(|c| StatusCode::from_u16(c).ok()).ok_or(ParseError::Status)?;
    let version = if version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut headers = std::mem::take(spare);
    headers.clear();
    // Room for the `X-Request-Id` the router adds, so that insert does not grow the map.
    headers.reserve(indices.len() + 1);
    let mut signals = Signals::default();
    for index in indices {
        let range = |(start, end): (u32, u32)| start as usize..end as usize;
        let name = HeaderName::from_bytes(&head[range(index.name)]).map_err(|_| ParseError::Header)?;
        let value =
            HeaderValue::from_maybe_shared(head.slice(range(index.value))).map_err(|_| ParseError::Header)?;
        signals.note(&name, &value);
        headers.append(name, value);
    }

    let (mut parts, ()) = http::Response::new(()).into_parts();
    // hyper's server writes a reason phrase from this extension; keep the instance's if it is not the usual one.
    if let Some((start, end)) = reason {
        let (start, end) = (start as usize, end as usize);
        let reason = &head[start..end];
        if status.canonical_reason().is_none_or(|canonical| canonical.as_bytes() != reason)
            && let Ok(reason) = hyper::ext::ReasonPhrase::try_from(head.slice(start..end))
        {
            parts.extensions.insert(reason);
        }
    }
    let keep_alive = match version {
        Version::HTTP_11 => !signals.close,
        _ => signals.keep_alive && !signals.close,
    };
    // RFC 9112 §6.3: with `Transfer-Encoding`, a `Content-Length` is ignored, and a proxy must remove it, or
    // the client would frame the body by it.
    let conflicting_length = signals.chunked.is_some() && signals.has_length;
    let (framing, framing_keeps_alive) = framing(method, status, version, signals)?;
    if conflicting_length {
        headers.remove(http::header::CONTENT_LENGTH);
    }
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(ResponseHead { parts, framing, keep_alive: keep_alive && framing_keeps_alive }))
}

/// What framing and keep-alive depend on, gathered while the head's headers are read (one pass, no lookups).
struct Signals {
    /// `Connection` lists `close` / `keep-alive`.
    close: bool,
    keep_alive: bool,
    /// Whether the last `Transfer-Encoding` value ends in `chunked`; `None` without the header.
    chunked: Option<bool>,
    /// Whether there is a `Content-Length` header at all.
    has_length: bool,
    /// The length all `Content-Length` values agree on, or the first reason they do not.
    length: Result<Option<u64>, ParseError>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals { close: false, keep_alive: false, chunked: None, has_length: false, length: Ok(None) }
    }
}

impl Signals {
    fn note(&mut self, name: &HeaderName, value: &HeaderValue) {
        if *name == header::CONNECTION {
            if let Ok(text) = value.to_str() {
                for token in text.split(',').map(str::trim) {
                    self.close |= token.eq_ignore_ascii_case("close");
                    self.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
        } else if *name == header::TRANSFER_ENCODING {
            // Only the last coding of the last value matters.
            let last = value.to_str().ok().and_then(|v| v.rsplit(',').next());
            self.chunked = Some(last.is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")));
        } else if *name == header::CONTENT_LENGTH {
            self.has_length = true;
            if let Ok(seen) = self.length {
                self.length = content_length(value, seen);
            }
        }
    }
}

/// Adds one `Content-Length` value (a comma-separated list) to the length `seen` so far: every item must be a
/// number, and all must agree.
fn content_length(value: &HeaderValue, mut seen: Option<u64>) -> Result<Option<u64>, ParseError> {
    let text = value.to_str().map_err(|_| ParseError::ContentLength)?;
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::ContentLength);
        }
        let n: u64 = item.parse().map_err(|_| ParseError::ContentLength)?;
        if seen.is_some_and(|seen| seen != n) {
            return Err(ParseError::ContentLength);
        }
        seen = Some(n);
    }
    Ok(seen)
}

/// RFC 9112 §6.3, as hyper's client applies it. The flag is false when the framing leaves the connection
/// unusable for another request.
fn framing(
    method: &Method,
    status: StatusCode,
    version: Version,
    signals: Signals,
) -> Result<(BodyFraming, bool), ParseError> {
    if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((BodyFraming::Empty, true));
    }
    if let Some(chunked) = signals.chunked {
        if version == Version::HTTP_10 {
            return Err(ParseError::TransferEncoding);
        }
        // With both headers, `Transfer-Encoding` wins and the connection is not trusted with another request
        // (a sign of smuggling).
        let clean = !signals.has_length;
        return Ok(if chunked { (BodyFraming::Chunked, clean) } else { (BodyFraming::Close, false) });
    }
    Ok(match signals.length? {
        Some(n) => (BodyFraming::Length(n), true),
        None => (BodyFraming::Close, false),
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
