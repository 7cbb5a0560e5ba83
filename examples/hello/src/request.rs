//! Reading an HTTP/1.1 request head under explicit limits. Malformed input is an error value,
//! never a panic.

use std::io::{self, BufRead, Read};

/// Request line plus all header lines, in bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub http10: bool,
    /// Lower-case names, values with surrounding whitespace trimmed, in the order received.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum HeadError {
    /// The socket failed, timed out, or closed in the middle of a head.
    Io(io::Error),
    TooLarge,
    Malformed(&'static str),
    UnsupportedVersion,
}

impl HeadError {
    /// The status to answer with, if the connection can still carry an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            HeadError::Io(e) if is_timeout(e) => Some(408),
            HeadError::Io(_) => None,
            HeadError::TooLarge => Some(431),
            HeadError::Malformed(_) => Some(400),
            HeadError::UnsupportedVersion => Some(505),
        }
    }
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or_default()
    }

    /// Whether a comma-separated header (e.g. `Connection`) lists `token`, case-insensitively.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// HTTP/1.1 keeps the connection open unless asked not to; HTTP/1.0 only when asked to.
    pub fn keep_alive(&self) -> bool {
        if self.http10 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }

    /// This app reads no request bodies, so a request that announces one ends the connection
    /// after the answer instead of leaving unread bytes to be mistaken for the next request.
    pub fn has_body(&self) -> bool {
        self.header("transfer-encoding").is_some()
            || self.headers.iter().any(|(n, v)| n == "content-length" && v != "0")
    }
}

/// Reads one request head. `Ok(None)` means the peer closed the connection before sending a byte.
pub fn read_request(r: &mut impl BufRead) -> Result<Option<Request>, HeadError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = Vec::new();
    // Tolerate blank lines before the request line (RFC 9112 section 2.2).
    loop {
        if !read_line(r, &mut budget, &mut line)? {
            return if budget == MAX_HEAD_BYTES {
                Ok(None)
            } else {
                Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()))
            };
        }
        if !line.is_empty() {
            break;
        }
    }
    let (method, target, http10) = parse_request_line(&line)?;
    let mut headers = Vec::new();
    loop {
        if !read_line(r, &mut budget, &mut line)? {
            return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        headers.push(parse_header(&line)?);
    }
    Ok(Some(Request { method, target, http10, headers }))
}

/// Reads a line into `line` without its line ending; `false` at end of stream.
fn read_line(r: &mut impl BufRead, budget: &mut usize, line: &mut Vec<u8>) -> Result<bool, HeadError> {
    line.clear();
    let n = (&mut *r).take(*budget as u64).read_until(b'\n', line).map_err(HeadError::Io)?;
    if n == 0 {
        return Ok(false);
    }
    *budget -= n;
    if line.pop() != Some(b'\n') {
        return Err(if *budget == 0 {
            HeadError::TooLarge
        } else {
            HeadError::Io(io::ErrorKind::UnexpectedEof.into())
        });
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(true)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, bool), HeadError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("request line is not `METHOD TARGET VERSION`"));
    };
    if !is_token(method) {
        return Err(HeadError::Malformed("bad method"));
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(HeadError::Malformed("bad request target"));
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        v if v.starts_with(b"HTTP/") => return Err(HeadError::UnsupportedVersion),
        _ => return Err(HeadError::Malformed("bad HTTP version")),
    };
    // Both are ASCII, checked above.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((text(method), text(target), http10))
}

fn parse_header(line: &[u8]) -> Result<(String, String), HeadError> {
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return Err(HeadError::Malformed("obsolete header line folding"));
    }
    let colon = line.iter().position(|&b| b == b':').ok_or(HeadError::Malformed("header without a colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if !is_token(name) {
        return Err(HeadError::Malformed("bad header name"));
    }
    if value.iter().any(|&b| b == 0 || b == b'\r') {
        return Err(HeadError::Malformed("bad header value"));
    }
    let value = value.trim_ascii();
    Ok((String::from_utf8_lossy(name).to_ascii_lowercase(), String::from_utf8_lossy(value).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Option<Request>, HeadError> {
        read_request(&mut raw.as_bytes())
    }

    #[test]
    fn parses_a_request_with_headers() {
        let req = parse("GET /healthz?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  a b \r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/healthz?x=1");
        assert_eq!(req.path(), "/healthz");
        assert!(!req.http10);
        assert_eq!(req.header("host"), Some("example.com"));
        assert_eq!(req.header("x-thing"), Some("a b"));
        assert!(req.keep_alive());
        assert!(!req.has_body());
    }

    #[test]
    fn accepts_bare_newlines_and_leading_blank_lines() {
        let req = parse("\r\n\nGET / HTTP/1.0\nConnection: Keep-Alive\n\n").unwrap().unwrap();
        assert!(req.http10);
        assert!(req.keep_alive());
    }

    #[test]
    fn keep_alive_follows_version_and_connection_tokens() {
        let close = parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").unwrap().unwrap();
        assert!(!close.keep_alive());
        let old = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!old.keep_alive());
    }

    #[test]
    fn notices_request_bodies() {
        let req = parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").unwrap().unwrap();
        assert!(req.has_body());
        let req = parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap().unwrap();
        assert!(req.has_body());
    }

    #[test]
    fn empty_stream_is_a_clean_close() {
        assert!(parse("").unwrap().is_none());
        assert!(matches!(parse("\r\n"), Err(HeadError::Io(_))));
        assert!(matches!(parse("GET / HTTP/1.1\r\nHost: x\r\n"), Err(HeadError::Io(_))));
    }

    #[test]
    fn rejects_malformed_heads() {
        for raw in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET /\u{e9} HTTP/1.1\r\n\r\n",
            "GET / FTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        ] {
            let got = parse(raw);
            assert!(matches!(got, Err(HeadError::Malformed(_))), "{raw:?} gave {got:?}");
            assert_eq!(got.err().and_then(|e| e.status()), Some(400));
        }
    }

    #[test]
    fn rejects_other_http_versions_with_505() {
        let err = parse("GET / HTTP/2.0\r\n\r\n").unwrap_err();
        assert_eq!(err.status(), Some(505));
    }

    #[test]
    fn limits_head_size_and_header_count() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(parse(&long), Err(HeadError::TooLarge)));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(MAX_HEADERS + 1));
        assert!(matches!(parse(&many), Err(HeadError::TooLarge)));
    }

    #[test]
    fn leaves_the_next_request_unread() {
        let mut input: &[u8] = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        assert_eq!(read_request(&mut input).unwrap().unwrap().target, "/a");
        assert_eq!(read_request(&mut input).unwrap().unwrap().target, "/b");
        assert!(read_request(&mut input).unwrap().is_none());
    }
}
