//! What each path does. Handlers write their answer and say what happens to the connection next;
//! they work on any reader and writer, so tests drive them with byte slices.

use std::io::{self, BufRead, Read, Write};
use std::thread;
use std::time::Duration;

use crate::body::{BodyReader, ChunkedWriter};
use crate::head::{Framing, Request};
use crate::response::{Outcome, Reply, Then, write_head};

/// What the app was configured with at start.
pub struct App {
    pub message: String,
    pub instance: String,
    pub port: u16,
    /// `/healthz` answers 500 while set; `POST /healthz/fail` sets it.
    pub unhealthy: std::sync::atomic::AtomicBool,
}

/// Request body bytes read and dropped after an answer to keep the connection; past that, close.
const DRAIN_LIMIT: u64 = 1 << 20;
const MAX_WAIT_MS: u64 = 10 * 60 * 1000;
const MAX_CHUNKS: u64 = 100_000;
const BUF_SIZE: usize = 64 * 1024;
const KNOWN_PATHS: [&str; 12] = [
    "/",
    "/healthz",
    "/healthz/fail",
    "/headers",
    "/slow",
    "/stream",
    "/bytes",
    "/echo",
    "/exit",
    "/probe/connect",
    "/probe/raw-syn",
    "/probe/internal",
];

pub fn handle<R: BufRead, W: Write>(app: &App, req: &Request, reader: &mut R, w: &mut W) -> Outcome {
    let mut reply = Reply::new(w, req);
    if let Some(protocol) = req.upgrade() {
        let name = protocol.split([',', '/']).next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("echo") || name.eq_ignore_ascii_case("websocket") {
            return switch_protocols(&mut reply, protocol);
        }
    }
    let framing = match req.framing() {
        Ok(framing) => framing,
        Err(e) => {
            reply.keep_alive = false;
            return reply.text(e.status(), &format!("{}\n", e.detail()));
        }
    };
    let mut body = BodyReader::new(reader, framing);
    let mut outcome = route(app, req, &mut reply, &mut body, framing);
    if outcome.then == Then::KeepAlive && !body.is_done() && !body.drain(DRAIN_LIMIT) {
        outcome.then = Then::Close;
    }
    outcome
}

fn route<R: BufRead, W: Write>(
    app: &App,
    req: &Request,
    reply: &mut Reply<'_, W>,
    body: &mut BodyReader<'_, R>,
    framing: Framing,
) -> Outcome {
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    let result = match req.path() {
        "/" if get => Ok(reply.text(
            200,
            &format!("testapp message={} instance={} port={}\n", app.message, app.instance, app.port),
        )),
        "/healthz" if get && app.unhealthy.load(std::sync::atomic::Ordering::Relaxed) => {
            Ok(reply.text(500, "unhealthy\n"))
        }
        "/healthz/fail" if req.method == "POST" => {
            app.unhealthy.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(reply.text(200, "from now on /healthz answers 500\n"))
        }
        "/healthz" if get => Ok(reply.text(200, "ok")),
        "/headers" if get => {
            let text: String = req.headers.iter().map(|(name, value)| format!("{name}: {value}\n")).collect();
            Ok(reply.text(200, &text))
        }
        "/slow" if get => param(req, "ms", 0, MAX_WAIT_MS).map(|ms| {
            wait(ms);
            reply.text(200, &format!("slow {ms}\n"))
        }),
        "/stream" if get => param(req, "chunks", 5, MAX_CHUNKS)
            .and_then(|chunks| Ok((chunks, param(req, "ms", 100, MAX_WAIT_MS)?)))
            .map(|(chunks, ms)| stream(reply, req.http10, chunks, ms)),
        "/probe/connect" if get => crate::probe::connect(req.query("addr").unwrap_or_default())
            .map(|answer| reply.text(200, &format!("{answer}\n"))),
        "/probe/internal" if get => {
            let host = req.query("host").unwrap_or_default();
            Ok(reply.text(200, &crate::probe::internal(host, req.query("path").unwrap_or("/"))))
        }
        "/probe/raw-syn" if get => {
            let ip = req.query("ip").unwrap_or("127.0.0.1");
            crate::probe::raw_syn(ip, req.query("port").unwrap_or_default())
                .map(|answer| reply.text(200, &format!("{answer}\n")))
        }
        "/bytes" if get => param(req, "n", 1024, u64::MAX).map(|n| bytes(reply, n)),
        "/echo" if matches!(req.method.as_str(), "POST" | "PUT") => Ok(echo(reply, req, body, framing)),
        "/exit" if req.method == "POST" => param(req, "code", 0, 255).map(|code| {
            reply.keep_alive = false;
            let outcome = reply.text(200, &format!("exiting with code {code}\n"));
            // `param` kept the code within 0..=255.
            Outcome { then: Then::Exit(i32::try_from(code).unwrap_or(1)), ..outcome }
        }),
        path if path.starts_with("/status/") => {
            match path.strip_prefix("/status/").unwrap_or_default().parse::<u16>() {
                Ok(code @ 200..=599) => Ok(reply.text(code, &format!("status {code}\n"))),
                _ => Err("status must be a number from 200 to 599".to_owned()),
            }
        }
        path if KNOWN_PATHS.contains(&path) => {
            let allow = match path {
                "/echo" => "POST, PUT",
                "/exit" => "POST",
                _ => "GET, HEAD",
            };
            Ok(reply.send(405, "text/plain; charset=utf-8", b"method not allowed\n", &[("Allow", allow)]))
        }
        _ => Ok(reply.text(404, "not found\n")),
    };
    result.unwrap_or_else(|why| reply.text(400, &format!("{why}\n")))
}

/// A numeric query parameter, `default` when absent, at most `max`.
fn param(req: &Request, key: &str, default: u64, max: u64) -> Result<u64, String> {
    let Some(raw) = req.query(key) else { return Ok(default) };
    match raw.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("query parameter {key} must be a number from 0 to {max}, got {raw:?}")),
    }
}

#[allow(clippy::disallowed_methods)] // A fixture whose job is to be slow on request; no runtime here.
fn wait(ms: u64) {
    if ms > 0 {
        thread::sleep(Duration::from_millis(ms));
    }
}

/// `chunks` lines `chunk <i>`, `ms` apart, each flushed as it is written.
fn stream<W: Write>(reply: &mut Reply<'_, W>, http10: bool, chunks: u64, ms: u64) -> Outcome {
    // HTTP/1.0 has no chunked encoding: there the end of the body is the end of the connection.
    if http10 {
        reply.keep_alive = false;
    }
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8"), ("Connection", reply.connection())];
    if !http10 {
        headers.push(("Transfer-Encoding", "chunked"));
    }
    let head_only = reply.head_only;
    let w = &mut *reply.w;
    let mut write = || {
        write_head(w, 200, &headers)?;
        w.flush()?;
        if head_only {
            return Ok(());
        }
        for i in 0..chunks {
            if i > 0 {
                wait(ms);
            }
            let line = format!("chunk {i}\n");
            if http10 {
                w.write_all(line.as_bytes())?;
            } else {
                ChunkedWriter(&mut *w).write_all(line.as_bytes())?;
            }
            w.flush()?;
        }
        if http10 { Ok(()) } else { ChunkedWriter(w).finish() }
    };
    let result = write();
    reply.outcome(200, result)
}

/// `n` bytes of `x`, with a `Content-Length`.
fn bytes<W: Write>(reply: &mut Reply<'_, W>, n: u64) -> Outcome {
    static FILL: [u8; BUF_SIZE] = [b'x'; BUF_SIZE];
    let length = n.to_string();
    let connection = reply.connection();
    let headers = [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", &length),
        ("Connection", connection),
    ];
    let head_only = reply.head_only;
    let w = &mut *reply.w;
    let mut write = || {
        write_head(w, 200, &headers)?;
        let mut left = if head_only { 0 } else { n };
        while left > 0 {
            let step = usize::try_from(left).unwrap_or(BUF_SIZE).min(BUF_SIZE);
            w.write_all(&FILL[..step])?;
            left -= step as u64;
        }
        w.flush()
    };
    let result = write();
    reply.outcome(200, result)
}

/// Streams the request body back as it arrives: same length if it had one, chunked otherwise.
fn echo<R: BufRead, W: Write>(
    reply: &mut Reply<'_, W>,
    req: &Request,
    body: &mut BodyReader<'_, R>,
    framing: Framing,
) -> Outcome {
    let content_type = req.header("content-type").unwrap_or("application/octet-stream");
    let length = match framing {
        Framing::None => Some(0),
        Framing::Length(n) => Some(n),
        Framing::Chunked => None,
    };
    if length.is_none() && req.http10 {
        reply.keep_alive = false;
    }
    let expects_continue = !req.http10
        && !body.is_done()
        && req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    let length_text = length.map(|n| n.to_string());
    let mut headers = vec![("Content-Type", content_type), ("Connection", reply.connection())];
    match (&length_text, req.http10) {
        (Some(n), _) => headers.push(("Content-Length", n)),
        (None, false) => headers.push(("Transfer-Encoding", "chunked")),
        (None, true) => {}
    }
    let w = &mut *reply.w;
    let mut write = || -> io::Result<()> {
        if expects_continue {
            write_head(w, 100, &[])?;
            w.flush()?;
        }
        write_head(w, 200, &headers)?;
        w.flush()?;
        let chunked = length.is_none() && !req.http10;
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("testapp: echo: request body ended badly: {e}");
                    return Err(e);
                }
            };
            if chunked {
                ChunkedWriter(&mut *w).write_all(&buf[..n])?;
            } else {
                w.write_all(&buf[..n])?;
            }
            w.flush()?;
        }
        if chunked { ChunkedWriter(w).finish() } else { w.flush() }
    };
    let result = write();
    reply.outcome(200, result)
}

/// Answers `101 Switching Protocols`; the connection then echoes raw bytes (see [`Then::Echo`]).
fn switch_protocols<W: Write>(reply: &mut Reply<'_, W>, protocol: &str) -> Outcome {
    let headers = [("Upgrade", protocol), ("Connection", "Upgrade")];
    let result = write_head(reply.w, 101, &headers).and_then(|()| reply.w.flush());
    match result {
        Ok(()) => Outcome { status: 101, then: Then::Echo },
        Err(_) => Outcome { status: 101, then: Then::Close },
    }
}

#[cfg(test)]
mod tests;
