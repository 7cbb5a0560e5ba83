//! Processes for `bench/router`:
//!
//! - `ferry-bench backend --listen ADDR`: a fast HTTP/1.1 backend on one thread. `GET /` answers 64 bytes,
//!   `GET /64k` answers 65,536 bytes; keep-alive. It is the same backend behind every proxy measured.
//! - `ferry-bench router --listen ADDR --backend ADDR [--services N] [--workers N] [--max-concurrency N]`:
//!   ferry's router crate, exactly as `ferry server` runs it, with a route table of N services (`svc0.bench`
//!   … ) that all point at the backend, on a runtime of N worker threads (1 by default: one core, like the
//!   peers' single worker). No control plane: the table is built once, as the controllers would publish it.
//!   With `--max-concurrency`, every service has that limit per instance (a `Capacity`, with a queue of 100
//!   requests waiting up to 10 s), to measure the cost of the limit on the request path. With
//!   `--tls-cert PEM --tls-key PEM`, it serves HTTPS instead (a `TlsListener`), that certificate for
//!   `localhost` and `*.bench`. With `--metrics`, every service counts its requests (`ServiceMetrics`);
//!   with `--request-log`, every request's record goes through a bounded channel (dropped when full) to a
//!   task that writes it as a line into a buffer, as a server's request log would.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use ferry_router::{
    Capacity, Endpoint, Protocol, RequestLog, RequestRecord, RouteTable, RouteTarget, Router, RouterConfig,
    ServiceMetrics, ServiceRoute, TlsListener, certified_key_from_pem,
};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// The allocator `ferry` ships with, so the router measured here is the one that runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = arg(&args, "--listen").context("--listen ADDR is required")?.parse()?;
    let workers: usize = arg(&args, "--workers").map(|w| w.parse()).transpose()?.unwrap_or(1);
    let runtime = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?
    };
    match args.get(1).map(String::as_str) {
        Some("backend") => runtime.block_on(backend(listen)),
        Some("router") => {
            let upstream: SocketAddr =
                arg(&args, "--backend").context("--backend ADDR is required")?.parse()?;
            let services: usize = arg(&args, "--services").map(|s| s.parse()).transpose()?.unwrap_or(1);
            let max_concurrency: Option<usize> =
                arg(&args, "--max-concurrency").map(|n| n.parse()).transpose()?;
            let tls = match (arg(&args, "--tls-cert"), arg(&args, "--tls-key")) {
                (Some(cert), Some(key)) => Some((std::fs::read(cert)?, std::fs::read(key)?)),
                (None, None) => None,
                _ => bail!("--tls-cert and --tls-key go together"),
            };
            let counting = Counting {
                metrics: args.iter().any(|a| a == "--metrics"),
                request_log: args.iter().any(|a| a == "--request-log"),
            };
            runtime.block_on(router(listen, upstream, services, max_concurrency, tls, counting))
        }
        _ => bail!(
            "usage: ferry-bench backend --listen ADDR | router --listen ADDR --backend ADDR [--services N] [--workers N] [--max-concurrency N] [--tls-cert PEM --tls-key PEM] [--metrics] [--request-log]"
        ),
    }
}

async fn backend(listen: SocketAddr) -> Result<()> {
    let small = Bytes::from(vec![b'x'; 64]);
    let large = Bytes::from(vec![b'x'; 65_536]);
    let listener = TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (small, large) = (small.clone(), large.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let body = if req.uri().path() == "/64k" { large.clone() } else { small.clone() };
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn router(
    listen: SocketAddr,
    upstream: SocketAddr,
    services: usize,
    max_concurrency: Option<usize>,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    counting: Counting,
) -> Result<()> {
    let router = Router::new(RouterConfig::default());
    let request_log = counting.request_log.then(|| Arc::new(ChannelLog::spawn()) as Arc<dyn RequestLog>);
    let endpoint = Endpoint::new("backend", upstream);
    let capacity = max_concurrency.map(|n| Capacity::new(n, 100, Duration::from_secs(10)));
    let mut table = RouteTable::new();
    for i in 0..services.max(1) {
        let route = ServiceRoute {
            service: format!("svc{i}"),
            target: RouteTarget::Instances(vec![Arc::clone(&endpoint)]),
            protocol: Protocol::Http1,
            request_timeout: ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
            capacity: capacity.clone(),
            https_redirect: false,
            hsts: None,
            metrics: counting.metrics.then(ServiceMetrics::new),
            request_log: request_log.clone(),
        };
        table.insert(&format!("svc{i}.bench"), Arc::new(route));
    }
    router.set_routes(table);
    let listener = TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let Some((cert, key)) = tls else {
        router.serve(listener, CancellationToken::new()).await?;
        return Ok(());
    };
    let key = Arc::new(certified_key_from_pem(&cert, &key)?);
    for host in ["localhost", "*.bench"] {
        router.certificates().set(host, Arc::clone(&key));
    }
    let listener = TlsListener::new(listener, router.certificates().clone())?;
    Arc::clone(&router).serve(listener, CancellationToken::new()).await?;
    Ok(())
}

/// What the router counts of each service.
struct Counting {
    metrics: bool,
    request_log: bool,
}

/// A request log as a server keeps one: a bounded channel, records dropped when it is full, and a task that
/// writes each as a line.
struct ChannelLog(tokio::sync::mpsc::Sender<RequestRecord>);

impl ChannelLog {
    fn spawn() -> ChannelLog {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<RequestRecord>(4096);
        tokio::spawn(async move {
            use std::fmt::Write;
            let mut line = String::with_capacity(256);
            let mut lines = 0u64;
            while let Some(r) = rx.recv().await {
                line.clear();
                let _ = writeln!(
                    line,
                    "{:?} {} {} {} {} {} {:?} {} {} {} {}",
                    r.at,
                    r.service,
                    r.instance.as_deref().unwrap_or("-"),
                    r.method,
                    r.path,
                    r.status,
                    r.duration,
                    r.bytes_in,
                    r.bytes_out,
                    r.client,
                    r.request_id
                );
                lines += 1;
            }
            std::hint::black_box((line, lines));
        });
        ChannelLog(tx)
    }
}

impl RequestLog for ChannelLog {
    fn record(&self, record: RequestRecord) {
        let _ = self.0.try_send(record);
    }
}
