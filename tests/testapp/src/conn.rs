//! One connection: read request heads, hand them to the routes, then keep the connection, close
//! it, echo raw bytes after an upgrade, or exit the process, as the route said.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::head::{self, HeadError};
use crate::response::{Then, write_head};
use crate::routes::{self, App};

/// How long an open connection may sit idle between requests. Longer than the idle timeout of
/// any sane proxy connection pool, so the proxy in front is the side that closes idle ones.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a whole request head may take once its first byte has arrived.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one read of a request body, or one write of an answer, may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an upgraded connection may sit idle.
const ECHO_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Answers a connection over the limit without reading from it, then closes it.
pub fn turn_away(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let headers = [("Content-Length", "21"), ("Connection", "close"), ("Retry-After", "1")];
    let _ = write_head(&mut stream, 503, &headers).and_then(|()| stream.write_all(b"too many connections\n"));
    let _ = stream.shutdown(Shutdown::Write);
}

/// Serves requests on one connection until either side closes it.
pub fn serve(stream: TcpStream, app: &App) {
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else { return };
    let _ = write_half.set_write_timeout(Some(IO_TIMEOUT));
    let mut reader = BufReader::with_capacity(16 * 1024, TimedReader::new(stream));
    let mut writer = BufWriter::with_capacity(16 * 1024, write_half);
    loop {
        // Wait (up to the idle timeout) for the first byte, then give the head a deadline.
        reader.get_mut().set(IDLE_TIMEOUT, None);
        match reader.fill_buf() {
            Ok(bytes) if !bytes.is_empty() => {}
            _ => return,
        }
        let started = Instant::now();
        reader.get_mut().set(IO_TIMEOUT, Some(started + HEAD_TIMEOUT));
        let req = match head::read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => return reject(&e, started, &mut reader, &mut writer),
        };
        reader.get_mut().set(IO_TIMEOUT, None);
        let outcome = routes::handle(app, &req, &mut reader, &mut writer);
        log(&req.method, &req.target, outcome.status, started);
        match outcome.then {
            Then::KeepAlive => {}
            Then::Close => return close(&mut reader, &writer),
            Then::Echo => {
                reader.get_mut().set(ECHO_IDLE_TIMEOUT, None);
                let _ = echo_raw(&mut reader, &mut writer);
                return close(&mut reader, &writer);
            }
            Then::Exit(code) => {
                let _ = writer.get_ref().shutdown(Shutdown::Write);
                std::process::exit(code);
            }
        }
    }
}

/// Answers a request head that could not be read, when the connection can still carry an answer.
fn reject(
    e: &HeadError,
    started: Instant,
    reader: &mut BufReader<TimedReader>,
    writer: &mut BufWriter<TcpStream>,
) {
    let Some(status) = e.status() else { return };
    let detail = match e {
        HeadError::Malformed(why) => why,
        HeadError::TooLarge => "request head too large",
        HeadError::UnsupportedVersion => "unsupported HTTP version",
        HeadError::Io(_) => "request head timed out",
    };
    let body = format!("{detail}\n");
    let length = body.len().to_string();
    let headers =
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", &length), ("Connection", "close")];
    let sent = write_head(writer, status, &headers)
        .and_then(|()| writer.write_all(body.as_bytes()))
        .and_then(|()| writer.flush());
    println!("- - {status} {:.1}ms ({detail})", ms(started));
    if sent.is_ok() {
        close(reader, writer);
    }
}

/// Echoes bytes back as they come, starting with any that arrived with the upgrade request.
fn echo_raw(reader: &mut BufReader<TimedReader>, writer: &mut BufWriter<TcpStream>) -> io::Result<()> {
    loop {
        let bytes = reader.fill_buf()?;
        if bytes.is_empty() {
            return Ok(());
        }
        let n = bytes.len();
        writer.write_all(bytes)?;
        writer.flush()?;
        reader.consume(n);
    }
}

/// Closes politely: stop sending, then read and drop what the client still sends for a moment,
/// so unread request bytes do not turn the close into a reset that could destroy our answer.
fn close(reader: &mut BufReader<TimedReader>, writer: &BufWriter<TcpStream>) {
    let _ = writer.get_ref().shutdown(Shutdown::Write);
    reader.get_mut().set(IO_TIMEOUT, Some(Instant::now() + Duration::from_secs(1)));
    let _ = io::copy(&mut reader.take(1 << 20), &mut io::sink());
}

fn log(method: &str, target: &str, status: u16, started: Instant) {
    // `TESTAPP_QUIET=1` silences the per-request line (benchmarks measure the proxy, not log shipping).
    static QUIET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *QUIET.get_or_init(|| std::env::var_os("TESTAPP_QUIET").is_some_and(|v| v == "1")) {
        return;
    }
    println!("{method} {target} {status} {:.1}ms", ms(started));
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A socket reader whose every read waits at most `idle`, and never past `deadline` if one is set.
/// The deadline bounds a whole request head, so a client trickling one byte at a time cannot
/// hold a thread for longer than that.
struct TimedReader {
    stream: TcpStream,
    idle: Duration,
    deadline: Option<Instant>,
}

impl TimedReader {
    fn new(stream: TcpStream) -> TimedReader {
        TimedReader { stream, idle: IDLE_TIMEOUT, deadline: None }
    }

    fn set(&mut self, idle: Duration, deadline: Option<Instant>) {
        self.idle = idle;
        self.deadline = deadline;
    }
}

impl Read for TimedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut wait = self.idle;
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            wait = wait.min(left);
        }
        self.stream.set_read_timeout(Some(wait))?;
        self.stream.read(buf)
    }
}
