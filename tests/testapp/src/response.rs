//! Writing responses: the head, and whole small answers with a `Content-Length` body.

use std::io::{self, Write};

use crate::head::Request;

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        // The reason phrase is optional (RFC 9112 section 4).
        _ => "",
    }
}

/// Writes a status line and headers, and the blank line that ends them. Does not flush.
pub fn write_head(w: &mut impl Write, status: u16, headers: &[(&str, &str)]) -> io::Result<()> {
    write!(w, "HTTP/1.1 {status} {}\r\n", reason(status))?;
    for (name, value) in headers {
        write!(w, "{name}: {value}\r\n")?;
    }
    w.write_all(b"\r\n")
}

/// How a request ended: the status for the log line, and what happens to the connection next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    pub then: Then,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Read the next request.
    KeepAlive,
    Close,
    /// The connection switched protocols: echo raw bytes until the client stops sending.
    Echo,
    /// Close the connection and exit the process with this code.
    Exit(i32),
}

/// Where one request's answer goes, and what the request asked of the connection.
pub struct Reply<'a, W: Write> {
    pub w: &'a mut W,
    pub keep_alive: bool,
    pub head_only: bool,
}

impl<'a, W: Write> Reply<'a, W> {
    pub fn new(w: &'a mut W, req: &Request) -> Reply<'a, W> {
        Reply { w, keep_alive: req.keep_alive(), head_only: req.method == "HEAD" }
    }

    pub fn connection(&self) -> &'static str {
        if self.keep_alive { "keep-alive" } else { "close" }
    }

    /// The outcome of an answer whose writing ended with `result`.
    pub fn outcome(&self, status: u16, result: io::Result<()>) -> Outcome {
        let then = if self.keep_alive && result.is_ok() { Then::KeepAlive } else { Then::Close };
        Outcome { status, then }
    }

    pub fn text(&mut self, status: u16, body: &str) -> Outcome {
        self.send(status, "text/plain; charset=utf-8", body.as_bytes(), &[])
    }

    /// Sends a whole answer with a `Content-Length` body (none for 204 and 304, as the RFC says).
    pub fn send(&mut self, status: u16, content_type: &str, body: &[u8], extra: &[(&str, &str)]) -> Outcome {
        let bodiless = status == 204 || status == 304;
        let length = body.len().to_string();
        let mut headers = vec![("Content-Type", content_type)];
        if !bodiless {
            headers.push(("Content-Length", &length));
        }
        headers.push(("Connection", self.connection()));
        headers.extend_from_slice(extra);
        let mut write = || {
            write_head(self.w, status, &headers)?;
            if !self.head_only && !bodiless {
                self.w.write_all(body)?;
            }
            self.w.flush()
        };
        let result = write();
        self.outcome(status, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::read_request;

    fn answer(raw: &str, f: impl FnOnce(&mut Reply<'_, Vec<u8>>) -> Outcome) -> (Outcome, String) {
        let req = read_request(&mut raw.as_bytes()).unwrap().unwrap();
        let mut out = Vec::new();
        let outcome = f(&mut Reply::new(&mut out, &req));
        (outcome, String::from_utf8(out).unwrap())
    }

    #[test]
    fn sends_text_with_length_and_connection() {
        let (outcome, text) = answer("GET / HTTP/1.1\r\n\r\n", |r| r.text(200, "hi\n"));
        assert_eq!(outcome, Outcome { status: 200, then: Then::KeepAlive });
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\
             Connection: keep-alive\r\n\r\nhi\n"
        );
    }

    #[test]
    fn head_and_bodiless_statuses_send_no_body() {
        let (_, text) = answer("HEAD / HTTP/1.1\r\n\r\n", |r| r.text(200, "hi\n"));
        assert!(text.ends_with("Content-Length: 3\r\nConnection: keep-alive\r\n\r\n"));
        let (_, text) = answer("GET / HTTP/1.0\r\n\r\n", |r| r.text(204, "gone\n"));
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(!text.contains("Content-Length"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn unknown_statuses_get_an_empty_reason() {
        let (_, text) = answer("GET / HTTP/1.1\r\n\r\n", |r| r.text(599, "x"));
        assert!(text.starts_with("HTTP/1.1 599 \r\n"));
    }
}
