//! Request logs: the router hands each request's record to its service's [`RequestSink`], which keeps one in
//! `n` and passes it through a bounded channel to a writer task that appends it to the service's request log
//! (`LogHub`). The router's side is a counter and a `try_send`: it never waits for the disk, and when the
//! writer falls behind, records are dropped and counted (the count is logged once a minute).
//!
//! A record names the revision that answered: the controller tells the sink which revision each of its
//! ready instances runs each time it publishes the route.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use ferry_api::RequestLogView;
use ferry_model::{InstanceId, RequestLogs, Timestamp};
use ferry_router::{RequestLog, RequestRecord};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::logs::RequestFile;

/// Records waiting for the writer; past this, records are dropped.
const QUEUE: usize = 4096;
/// The most records written in one go.
const BATCH: usize = 256;
/// How often the number of dropped records is logged (when there were any).
const DROP_REPORT: Duration = Duration::from_secs(60);
/// Instances whose revision is remembered after they left the route (their last requests may still end);
/// past this many, only the instances of the route are kept.
const REMEMBERED: usize = 256;

/// One service's request log, as the router sees it.
pub(crate) struct RequestSink {
    /// Keep one request in this many (1: all).
    one_in: AtomicU32,
    /// Requests seen, kept or not: every `one_in`-th is kept.
    seen: AtomicU64,
    dropped: AtomicU64,
    tx: mpsc::Sender<RequestRecord>,
    /// The revision each instance runs.
    revisions: Mutex<HashMap<Arc<str>, u32>>,
}

impl RequestSink {
    /// A sink for `setting` (`None` when it is off) and its writer task, which ends when the sink is dropped
    /// (by the controller and the router's table both) or the server shuts down.
    pub(crate) fn start(
        setting: RequestLogs,
        service: String,
        file: RequestFile,
        shutdown: CancellationToken,
    ) -> Option<Arc<Self>> {
        let one_in = setting.one_in()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let sink = Arc::new(Self {
            one_in: AtomicU32::new(one_in),
            seen: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            tx,
            revisions: Mutex::default(),
        });
        tokio::spawn(write(Arc::downgrade(&sink), rx, service, file, shutdown));
        Some(sink)
    }

    /// Follows a change of the setting (from one that is on to another).
    pub(crate) fn set(&self, setting: RequestLogs) {
        if let Some(n) = setting.one_in() {
            self.one_in.store(n, Ordering::Relaxed);
        }
    }

    /// The instances of the route now, and their revisions.
    pub(crate) fn set_revisions<'a>(&self, instances: impl Iterator<Item = (&'a InstanceId, u32)>) {
        let mut map = self.revisions.lock().unwrap_or_else(PoisonError::into_inner);
        let current: HashMap<Arc<str>, u32> = instances.map(|(id, n)| (Arc::from(id.as_str()), n)).collect();
        if map.len() + current.len() > REMEMBERED {
            map.clear();
        }
        map.extend(current);
    }

    fn revision(&self, instance: &str) -> Option<u32> {
        self.revisions.lock().unwrap_or_else(PoisonError::into_inner).get(instance).copied()
    }

    /// Whether this request is kept: every `one_in`-th, counting from the first.
    fn keeps(&self) -> bool {
        let n = u64::from(self.one_in.load(Ordering::Relaxed).max(1));
        self.seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(n)
    }
}

impl RequestLog for RequestSink {
    fn record(&self, record: RequestRecord) {
        if !self.keeps() {
            return;
        }
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes what the sink passes on, in batches, until the sink is gone (its channel closes) or the server
/// shuts down (then what is queued is written first).
async fn write(
    sink: std::sync::Weak<RequestSink>,
    mut rx: mpsc::Receiver<RequestRecord>,
    service: String,
    file: RequestFile,
    shutdown: CancellationToken,
) {
    let mut report = tokio::time::interval(DROP_REPORT);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let more = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => n > 0,
            () = shutdown.cancelled() => {
                while batch.len() < QUEUE && let Ok(r) = rx.try_recv() {
                    batch.push(r);
                }
                false
            }
            _ = report.tick() => {
                let dropped = sink.upgrade().map_or(0, |s| s.dropped.swap(0, Ordering::Relaxed));
                if dropped > 0 {
                    tracing::warn!(service = %service, dropped, "request log records were dropped: the writer fell behind");
                }
                continue;
            }
        };
        if !batch.is_empty() {
            let sink = sink.upgrade();
            let revision = |instance: &str| sink.as_ref().and_then(|s| s.revision(instance));
            let views = batch.drain(..).map(|r| view(r, revision)).collect();
            drop(sink);
            file.append(views).await;
        }
        if !more {
            return;
        }
    }
}

/// A record as the request log keeps it.
fn view(r: RequestRecord, revision: impl Fn(&str) -> Option<u32>) -> RequestLogView {
    let millis =
        r.at.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    RequestLogView {
        time: ferry_api::rfc3339(Timestamp(millis)),
        service: r.service.to_string(),
        revision: r.instance.as_deref().and_then(revision),
        instance: r.instance.as_deref().map(str::to_owned),
        method: r.method.as_str().to_owned(),
        path: r.path,
        status: r.status,
        // Microseconds as fractional milliseconds: 3.217 ms.
        duration_ms: r.duration.as_micros() as f64 / 1000.0,
        bytes_in: r.bytes_in,
        bytes_out: r.bytes_out,
        client: r.client.to_string(),
        request_id: r.request_id,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use ferry_model::ServiceId;
    use futures_util::StreamExt;

    use super::*;
    use crate::logs::LogHub;

    fn record(path: &str, status: u16) -> RequestRecord {
        RequestRecord {
            at: UNIX_EPOCH + Duration::from_millis(1_796_437_201_123),
            service: Arc::from("web"),
            instance: Some(Arc::from("i-abc123")),
            method: axum::http::Method::GET,
            path: path.to_owned(),
            status,
            duration: Duration::from_micros(3_217),
            bytes_in: 12,
            bytes_out: 512,
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
            request_id: "req-1".to_owned(),
        }
    }

    /// A sink whose writer never runs: what it queues stays queued.
    fn idle_sink(one_in: u32, queue: usize) -> (RequestSink, mpsc::Receiver<RequestRecord>) {
        let (tx, rx) = mpsc::channel(queue);
        let sink = RequestSink {
            one_in: AtomicU32::new(one_in),
            seen: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            tx,
            revisions: Mutex::default(),
        };
        (sink, rx)
    }

    #[test]
    fn a_sampled_sink_keeps_every_nth_request() {
        for (one_in, requests, kept) in [(1, 20, 20), (2, 20, 10), (10, 95, 10), (1000, 999, 1)] {
            let (sink, mut rx) = idle_sink(one_in, 2000);
            for i in 0..requests {
                sink.record(record(&format!("/{i}"), 200));
            }
            let mut paths = Vec::new();
            while let Ok(r) = rx.try_recv() {
                paths.push(r.path);
            }
            assert_eq!(paths.len(), kept, "1/{one_in} of {requests}: {paths:?}");
            if one_in == 2 {
                assert_eq!(paths[..3], ["/0", "/2", "/4"]);
            }
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (sink, mut rx) = idle_sink(1, 3);
        for i in 0..10 {
            sink.record(record(&format!("/{i}"), 200));
        }
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 7);
        let kept: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok()).map(|r| r.path).collect();
        assert_eq!(kept, ["/0", "/1", "/2"], "the first ones are kept");
    }

    #[test]
    fn a_line_has_every_field_in_the_documented_format() {
        let line = view(record("/orders?id=7", 404), |i| (i == "i-abc123").then_some(3));
        let json = serde_json::to_value(&line).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "time": "2026-12-05T02:20:01.123Z", "service": "web", "revision": 3, "instance": "i-abc123",
                "method": "GET", "path": "/orders?id=7", "status": 404, "duration_ms": 3.217,
                "bytes_in": 12, "bytes_out": 512, "client": "127.0.0.1", "request_id": "req-1"
            })
        );
        let mut router = record("/", 503);
        router.instance = None;
        let json = serde_json::to_value(view(router, |_| Some(1))).unwrap();
        assert!(json.get("instance").is_none() && json.get("revision").is_none(), "{json}");
    }

    #[tokio::test]
    async fn records_reach_the_service_request_log_with_their_revision() {
        let dir = tempfile::tempdir().unwrap();
        let id = ServiceId::generate();
        let shutdown = CancellationToken::new();
        let hub = LogHub::new(dir.path().to_owned(), shutdown.clone()).unwrap();
        let sink = RequestSink::start(RequestLogs::On, "web".into(), hub.request_file(&id), shutdown.clone())
            .unwrap();
        let instance = InstanceId::generate();
        sink.set_revisions([(&instance, 2)].into_iter());
        let mut follow = hub.read_requests(&id, 10, true);
        for (path, status) in [("/a", 200), ("/b", 500)] {
            let mut r = record(path, status);
            r.instance = Some(Arc::from(instance.as_str()));
            sink.record(r);
        }
        let got: Vec<RequestLogView> = follow.by_ref().take(2).collect().await;
        assert_eq!(
            got.iter().map(|r| (r.path.as_str(), r.status)).collect::<Vec<_>>(),
            [("/a", 200), ("/b", 500)]
        );
        assert_eq!(got[0].revision, Some(2));

        // The file is private, and a new reader (a restarted server) finds the records.
        let path = dir.path().join(format!("{id}.requests.log"));
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let hub2 = LogHub::new(dir.path().to_owned(), CancellationToken::new()).unwrap();
        assert_eq!(hub2.read_requests(&id, 10, false).count().await, 2);
        assert!(
            RequestSink::start(RequestLogs::Off, "web".into(), hub.request_file(&id), shutdown).is_none()
        );
    }
}
