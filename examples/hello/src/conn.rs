//! One connection: read request heads, answer them, keep the connection alive or close it.

use std::io::{self, BufRead, BufReader, BufWriter, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::App;
use crate::page;
use crate::request::{self, HeadError};
use crate::response::Response;

/// How long an open connection may sit idle between requests. Longer than the idle timeout of
/// the proxy's connection pool in front of it (hyper's default is 90 s), so the proxy is the side
/// that closes idle connections and never sends a request on one this app is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a whole request head may take once its first byte has arrived.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers a connection over the limit without reading from it, then closes it.
pub fn turn_away(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let mut res = Response::text(503, "too many connections, try again\n");
    res.extra_headers.push(("Retry-After", "1"));
    let _ = res.write_to(&mut stream, false, false);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Serves requests on one connection until either side closes it.
pub fn serve(stream: TcpStream, app: &App) {
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else { return };
    let _ = write_half.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut reader = BufReader::new(TimedReader::new(stream, IDLE_TIMEOUT));
    let mut writer = BufWriter::new(write_half);
    loop {
        // Wait (up to the idle timeout) for the first byte, then give the head a deadline.
        reader.get_mut().deadline = None;
        match reader.fill_buf() {
            Ok(bytes) if !bytes.is_empty() => {}
            _ => return,
        }
        let started = Instant::now();
        reader.get_mut().deadline = Some(started + HEAD_TIMEOUT);
        let req = match request::read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => return reject(e, started, &mut reader, &mut writer),
        };
        let served = app.served.fetch_add(1, Ordering::Relaxed) + 1;
        let res = page::route(&req, &app.instance, served);
        let keep_alive = req.keep_alive() && !req.has_body();
        let written = res.write_to(&mut writer, keep_alive, req.method == "HEAD");
        log(&req.method, &req.target, res.status, started);
        if written.is_err() {
            return;
        }
        if !keep_alive {
            return close(&mut reader, &writer);
        }
    }
}

/// Answers a request head that could not be read, when the connection can still carry an answer.
fn reject(
    e: HeadError,
    started: Instant,
    reader: &mut BufReader<TimedReader>,
    writer: &mut BufWriter<TcpStream>,
) {
    let Some(status) = e.status() else { return };
    let detail = match &e {
        HeadError::Malformed(why) => why,
        HeadError::TooLarge => "request head too large",
        HeadError::UnsupportedVersion => "unsupported HTTP version",
        HeadError::Io(_) => "request head timed out",
    };
    let sent = Response::text(status, format!("{detail}\n")).write_to(writer, false, false);
    println!("- - {status} {:.1}ms ({detail})", ms(started));
    if sent.is_ok() {
        close(reader, writer);
    }
}

/// Closes politely: stop sending, then read and drop what the client still sends for a moment,
/// so unread request bytes do not turn the close into a reset that could destroy our answer.
fn close(reader: &mut BufReader<TimedReader>, writer: &BufWriter<TcpStream>) {
    let _ = writer.get_ref().shutdown(Shutdown::Write);
    reader.get_mut().deadline = Some(Instant::now() + Duration::from_secs(1));
    let _ = io::copy(&mut reader.take(1 << 20), &mut io::sink());
}

fn log(method: &str, target: &str, status: u16, started: Instant) {
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
    fn new(stream: TcpStream, idle: Duration) -> TimedReader {
        TimedReader { stream, idle, deadline: None }
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
