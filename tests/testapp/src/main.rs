//! `ferry-testapp`: the app ferry's end-to-end tests deploy. An HTTP/1.1 server on std (keep-alive,
//! a thread per connection; libc only for the packet socket of `/probe/raw-syn`) whose behaviour is
//! chosen by environment variables and paths.
//!
//! Environment:
//! - `PORT`: listen on `0.0.0.0:$PORT` (default 8080; 0 picks a free port).
//! - `TESTAPP_MESSAGE`: shown by `GET /`.
//! - `TESTAPP_EXIT_CODE=N`: print a line to stdout and one to stderr, then exit with N at once.
//! - `TESTAPP_START_DELAY_MS=N`: wait N ms before listening.
//! - `TESTAPP_UNHEALTHY=1`: `/healthz` answers 500.
//! - `TESTAPP_QUIET=1`: no log line per request.
//!
//! Paths:
//! - `GET /` → `testapp message=<MESSAGE> instance=<HOSTNAME> port=<PORT>`
//! - `GET /healthz` → `200 ok`, or `500` when unhealthy
//! - `POST /healthz/fail` → from then on, `/healthz` answers 500 (an app that turns unhealthy)
//! - `GET /headers` → the request's headers, one `name: value` per line, names lower-case
//! - `ANY /status/<code>` → that status (200-599), body `status <code>`
//! - `GET /slow?ms=N` → waits N ms (default 0), then `slow <N>`
//! - `GET /stream?chunks=N&ms=M` → N chunks (default 5) `chunk <i>`, M ms (default 100) apart
//! - `POST|PUT /echo` → the request body streamed back (`Content-Length` or chunked in and out)
//! - `GET /bytes?n=N` → N bytes (default 1024) of `x` with a `Content-Length`
//! - `POST /exit?code=N` → answers 200, then exits with N
//! - `GET /probe/connect?addr=IP:PORT` → a TCP connect from the app: `connected`, `refused`,
//!   `timeout` or `error: <why>`
//! - `GET /probe/raw-syn?ip=IP&port=N` (ip default 127.0.0.1) → a hand-made TCP SYN sent to the
//!   default gateway's MAC on a packet socket (see `probe.rs`): `syn-ack`, `rst`, `no-answer`, or
//!   `socket: <why>` when the app may not open one (no `CAP_NET_RAW`)
//! - any request with `Connection: upgrade` and `Upgrade: echo` (or `websocket`) → `101`, then
//!   raw bytes are echoed back until the client closes its side. Not a real WebSocket server: the
//!   handshake's `Sec-WebSocket-Accept` is not computed and frames are not parsed.
//!
//! Every request logs one line to stdout: `GET /healthz 200 0.1ms`. On SIGTERM the process ends
//! by the signal's default action (`std` cannot catch signals without `unsafe`); run it with
//! `docker run --init`, as ferry does, so SIGTERM reaches it instead of a PID 1 that ignores it.

mod body;
mod conn;
mod head;
mod probe;
mod raw;
mod response;
mod routes;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use routes::App;

/// Connections served at once; further ones get a `503` and are closed.
const MAX_CONNECTIONS: usize = 1024;

struct Config {
    port: u16,
    message: String,
    exit_code: Option<i32>,
    start_delay_ms: u64,
    unhealthy: bool,
}

impl Config {
    fn from_env() -> Result<Config, String> {
        fn var(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        }
        fn number<T: std::str::FromStr>(name: &str, what: &str) -> Result<Option<T>, String> {
            var(name)
                .map(|v| v.trim().parse().map_err(|_| format!("{name} must be {what}, got {v:?}")))
                .transpose()
        }
        Ok(Config {
            port: number("PORT", "a port number (0-65535)")?.unwrap_or(8080),
            message: var("TESTAPP_MESSAGE").unwrap_or_default(),
            exit_code: number::<u8>("TESTAPP_EXIT_CODE", "an exit code (0-255)")?.map(i32::from),
            start_delay_ms: number("TESTAPP_START_DELAY_MS", "a number of milliseconds")?.unwrap_or(0),
            unhealthy: var("TESTAPP_UNHEALTHY").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        })
    }
}

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("testapp: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(code) = config.exit_code {
        println!("testapp: exiting with code {code} on purpose");
        eprintln!("testapp: fatal: configured to exit");
        std::process::exit(code);
    }
    pause(Duration::from_millis(config.start_delay_ms));
    // Bind a parsed address: no name resolution, so the binary needs nothing from the image.
    let addr = SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("testapp: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    let app = Arc::new(App {
        message: config.message,
        instance: hostname(),
        port: bound.port(),
        unhealthy: std::sync::atomic::AtomicBool::new(config.unhealthy),
    });
    println!("testapp listening on {bound}");
    eprintln!("testapp stderr check");

    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: give connections a moment to finish.
                eprintln!("testapp: accept failed: {e}");
                pause(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            conn::turn_away(stream);
            continue;
        }
        let slot = Slot(Arc::clone(&active));
        let app = Arc::clone(&app);
        // Handlers keep their buffers on the heap, so a small stack does; if the spawn fails,
        // the closure is dropped and the slot with it.
        let spawned = thread::Builder::new().name("conn".into()).stack_size(256 * 1024).spawn(move || {
            let _slot = slot;
            conn::serve(stream, &app);
        });
        if let Err(e) = spawned {
            eprintln!("testapp: cannot start a connection thread: {e}");
        }
    }
    ExitCode::SUCCESS
}

/// Holds one of the [`MAX_CONNECTIONS`] places until the connection's thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[allow(clippy::disallowed_methods)] // A configured start-up delay in a fixture; no runtime here.
fn pause(duration: Duration) {
    if !duration.is_zero() {
        thread::sleep(duration);
    }
}

/// The instance's name: `HOSTNAME` (set by container engines), else the kernel's hostname.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
