//! `hello`: the app from ferry's quick start.
//!
//! A small web server with no dependencies beyond `std`:
//! - `GET /` answers a page saying hello, with the instance's hostname, the `MESSAGE` environment
//!   variable if set, and how many requests this instance has answered;
//! - `GET /healthz` answers `200 ok`; anything else is a 404.
//!
//! It listens on `0.0.0.0:$PORT` (default 8080) with HTTP/1.1 keep-alive and a thread per
//! connection, at most [`MAX_CONNECTIONS`] at once. Every read has a timeout and a request head
//! must arrive within a deadline, so slow clients cannot hold threads forever. One line per
//! request goes to stdout: `GET / 200 0.1ms`.
//!
//! Shutdown: `std` cannot catch signals without `unsafe` or the `libc` crate, so the process
//! relies on SIGTERM's default action, which ends it at once (it holds no state worth draining).
//! Run it under an init, as ferry does (`docker run --init`): as PID 1 without one, the kernel
//! would ignore SIGTERM and `docker stop` would wait for its SIGKILL. Under `--init`, tini reports
//! a child ended by SIGTERM as exit code 143 (128 + 15).

mod conn;
mod page;
mod request;
mod response;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use page::Instance;

/// Connections served at once; further ones get a `503` and are closed.
const MAX_CONNECTIONS: usize = 256;

/// What every connection thread shares.
pub struct App {
    pub instance: Instance,
    pub served: AtomicU64,
}

fn main() -> ExitCode {
    let port = match std::env::var("PORT") {
        Err(_) => 8080,
        Ok(p) if p.is_empty() => 8080,
        Ok(p) => match p.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("hello: PORT must be a port number (0-65535), got {p:?}");
                return ExitCode::from(2);
            }
        },
    };
    // Bind a parsed address: no name resolution, so the binary needs nothing from the image.
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hello: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = Arc::new(App {
        instance: Instance {
            hostname: hostname(),
            message: std::env::var("MESSAGE").ok().filter(|m| !m.is_empty()),
        },
        served: AtomicU64::new(0),
    });
    let bound = listener.local_addr().unwrap_or(addr);
    println!("hello: listening on http://{bound} as instance {}", app.instance.hostname);

    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hello: accept failed: {e}");
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
        // If the spawn fails, the closure is dropped and the slot with it.
        let spawned = thread::Builder::new().name("conn".into()).spawn(move || {
            let _slot = slot;
            conn::serve(stream, &app);
        });
        if let Err(e) = spawned {
            eprintln!("hello: cannot start a connection thread: {e}");
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

/// The instance's name: `HOSTNAME` (set by container engines), else the kernel's hostname.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
