//! Writing an HTTP/1.1 response with a `Content-Length` body.

use std::io::{self, Write};

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub extra_headers: Vec<(&'static str, &'static str)>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            extra_headers: Vec::new(),
        }
    }

    /// Writes the response; `HEAD` answers carry the headers of the `GET` answer but no body.
    pub fn write_to(&self, w: &mut impl Write, keep_alive: bool, head_only: bool) -> io::Result<()> {
        write!(w, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status))?;
        write!(w, "Content-Type: {}\r\nContent-Length: {}\r\n", self.content_type, self.body.len())?;
        write!(w, "Connection: {}\r\n", if keep_alive { "keep-alive" } else { "close" })?;
        for (name, value) in &self.extra_headers {
            write!(w, "{name}: {value}\r\n")?;
        }
        w.write_all(b"\r\n")?;
        if !head_only {
            w.write_all(self.body.as_bytes())?;
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_head_only_answers_without_a_body() {
        let mut out = Vec::new();
        Response::text(200, "ok").write_to(&mut out, false, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn flushes_what_it_writes() {
        // Connections write through a `BufWriter`, so an answer must not wait in its buffer.
        let mut buffered = io::BufWriter::new(Vec::new());
        Response::text(200, "ok").write_to(&mut buffered, true, false).unwrap();
        assert!(buffered.buffer().is_empty());
        assert!(buffered.get_ref().ends_with(b"\r\n\r\nok"));
    }
}
