//! Application logs (every line an instance writes) and request logs (a line per request the router
//! answered, for services that have them on: `requests.rs`), kept per service on disk and fanned out live.
//!
//! Each service has a file `logs/<service id>.log` of JSON lines (and `logs/<service id>.requests.log`),
//! each rotated to `.1` past
//! [`MAX_FILE_BYTES`] so a chatty app cannot fill the disk, and a broadcast channel for followers. Lines
//! carry a sequence number so a reader that takes the tail from the file and then follows the channel
//! sees each line once. Logs outlive the instances that wrote them (App Runner's users asked for logs of
//! instances that were killed) and are removed with the service.
//!
//! File IO never runs on the threads that serve requests: lines are appended in batches on the blocking
//! pool, and a reader's tail is read there too. Followers end when the server shuts down, so an open
//! `ferry logs --follow` never holds a shutdown up.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferry_api::{AppLogLine, RequestLogView};
use ferry_model::{ServiceId, Timestamp};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// A service's log file is rotated when it grows past this.
pub(crate) const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
const LIVE_BUFFER: usize = 1024;

/// What a log file holds, one JSON object per line, numbered.
trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {
    fn seq(&self) -> u64;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    seq: u64,
    at: i64,
    instance: String,
    stream: String,
    line: String,
}

impl Entry {
    fn to_line(&self) -> AppLogLine {
        AppLogLine {
            at: Timestamp(self.at),
            instance: self.instance.clone(),
            stream: self.stream.clone(),
            line: self.line.clone(),
        }
    }
}

impl Record for Entry {
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// A request log line: the record as the API shows it, then its number.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RequestEntry {
    #[serde(flatten)]
    view: RequestLogView,
    seq: u64,
}

impl Record for RequestEntry {
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// One line to append.
#[derive(Debug, Clone)]
pub(crate) struct NewLine {
    pub at: Timestamp,
    pub instance: String,
    pub stream: &'static str,
    pub line: String,
}

struct Writer {
    file: Option<File>,
    size: u64,
    seq: u64,
    /// The file ends in a cut line: write a newline before the next line.
    cut: bool,
}

struct ServiceLog<E> {
    path: PathBuf,
    /// Opened on the first write (reading the file's end to go on numbering), on the blocking pool.
    writer: Mutex<Option<Writer>>,
    live: broadcast::Sender<Arc<E>>,
}

impl<E: Record> ServiceLog<E> {
    fn new(path: PathBuf) -> Self {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        Self { path, writer: Mutex::new(None), live }
    }

    fn writer(&self) -> MutexGuard<'_, Option<Writer>> {
        // Writes are whole lines; a panic between two leaves a consistent writer.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Numbers the records `number` makes, appends them (on the blocking pool) and sends them to followers.
    async fn append(self: Arc<Self>, number: impl FnOnce(&mut u64) -> Vec<E> + Send + 'static) {
        let write = tokio::task::spawn_blocking(move || {
            let mut guard = self.writer();
            let writer = guard.get_or_insert_with(|| open_writer::<E>(&self.path));
            let entries: Vec<Arc<E>> = number(&mut writer.seq).into_iter().map(Arc::new).collect();
            if let Err(e) = write_entries(&self.path, writer, &entries) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot write a log");
            }
            for entry in entries {
                // No receiver is not an error: nobody follows the log right now.
                let _ = self.live.send(entry);
            }
        });
        if let Err(e) = write.await {
            tracing::warn!(error = %e, "writing a log failed");
        }
    }

    /// Up to `tail` earlier records, then (with `follow`) new ones as they come, until `shutdown`. A follower
    /// that falls behind gets `lagged(n)` in place of the `n` records it missed, if that gives a note.
    fn read<L: Send + 'static>(
        self: Arc<Self>,
        tail: usize,
        follow: bool,
        shutdown: &CancellationToken,
        show: fn(&E) -> L,
        lagged: fn(u64) -> Option<L>,
    ) -> BoxStream<'static, L> {
        // Subscribe before reading the file, so no line falls between the two; the sequence number drops
        // the lines that are in both.
        let live = follow.then(|| self.live.subscribe());
        let read = async move {
            let read = tokio::task::spawn_blocking(move || {
                // Under the writer's lock: a line being written is either whole in the file or still to come.
                let _writing = self.writer();
                tail_entries::<E>(&self.path, tail)
            });
            read.await.unwrap_or_default()
        };
        let Some(rx) = live else {
            return stream::once(read)
                .flat_map(move |entries| stream::iter(entries.into_iter().map(move |e| show(&e))))
                .boxed();
        };
        let lines = async move {
            let entries = read.await;
            let last_seq = entries.last().map(Record::seq).unwrap_or(0);
            let head = stream::iter(entries.into_iter().map(move |e| show(&e)));
            let rest = stream::unfold(rx, move |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(e) if e.seq() <= last_seq => continue,
                        Ok(e) => return Some((show(&e), rx)),
                        Err(broadcast::error::RecvError::Lagged(n)) => match lagged(n) {
                            Some(note) => return Some((note, rx)),
                            None => continue,
                        },
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            head.chain(rest)
        };
        stream::once(lines).flatten().take_until(shutdown.clone().cancelled_owned()).boxed()
    }
}

/// Where a service's request records are written; cheap to clone.
#[derive(Clone)]
pub(crate) struct RequestFile(Arc<ServiceLog<RequestEntry>>);

impl RequestFile {
    /// Appends records, in order.
    pub(crate) async fn append(&self, records: Vec<RequestLogView>) {
        let number = move |seq: &mut u64| {
            records
                .into_iter()
                .map(|view| {
                    *seq += 1;
                    RequestEntry { view, seq: *seq }
                })
                .collect()
        };
        self.0.clone().append(number).await;
    }
}

pub(crate) struct LogHub {
    dir: PathBuf,
    services: Mutex<HashMap<ServiceId, Arc<ServiceLog<Entry>>>>,
    requests: Mutex<HashMap<ServiceId, Arc<ServiceLog<RequestEntry>>>>,
    /// Ends every follower: the server is shutting down.
    shutdown: CancellationToken,
}

impl LogHub {
    pub(crate) fn new(dir: PathBuf, shutdown: CancellationToken) -> std::io::Result<Self> {
        // Application logs may hold what apps print about their users: for ferry's user only.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&dir)?;
        Ok(Self { dir, services: Mutex::default(), requests: Mutex::default(), shutdown })
    }

    fn service(&self, id: &ServiceId) -> Arc<ServiceLog<Entry>> {
        log_of(&self.services, id, || self.dir.join(format!("{id}.log")))
    }

    fn request_log(&self, id: &ServiceId) -> Arc<ServiceLog<RequestEntry>> {
        log_of(&self.requests, id, || self.dir.join(format!("{id}.requests.log")))
    }

    /// Appends lines of a service's output, in order.
    pub(crate) async fn append(&self, id: &ServiceId, lines: Vec<NewLine>) {
        let number = move |seq: &mut u64| {
            lines
                .into_iter()
                .map(|l| {
                    *seq += 1;
                    Entry {
                        seq: *seq,
                        at: l.at.millis(),
                        instance: l.instance,
                        stream: l.stream.to_owned(),
                        line: l.line,
                    }
                })
                .collect()
        };
        self.service(id).append(number).await;
    }

    /// Up to `tail` earlier lines, then (with `follow`) new ones as they come, until the server shuts down.
    pub(crate) fn read(&self, id: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, AppLogLine> {
        let lagged = |n| {
            Some(AppLogLine {
                at: Timestamp::now(),
                instance: "ferry".to_owned(),
                stream: "stderr".to_owned(),
                line: format!("[ferry] {n} lines were skipped: this reader fell behind"),
            })
        };
        self.service(id).read(tail, follow, &self.shutdown, Entry::to_line, lagged)
    }

    /// Where the service's request records are written.
    pub(crate) fn request_file(&self, id: &ServiceId) -> RequestFile {
        RequestFile(self.request_log(id))
    }

    /// The service's request log, read as [`LogHub::read`] reads. A follower that falls behind misses
    /// records without a note (a note is no request).
    pub(crate) fn read_requests(
        &self,
        id: &ServiceId,
        tail: usize,
        follow: bool,
    ) -> BoxStream<'static, RequestLogView> {
        let show = |e: &RequestEntry| e.view.clone();
        self.request_log(id).read(tail, follow, &self.shutdown, show, |_| None)
    }

    /// Deletes a service's logs (when the service is deleted).
    pub(crate) async fn remove(&self, id: &ServiceId) {
        self.services.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        let paths = [self.dir.join(format!("{id}.log")), self.dir.join(format!("{id}.requests.log"))];
        let removed = tokio::task::spawn_blocking(move || {
            for p in paths.iter().flat_map(|path| [rotated(path), path.clone()]) {
                if let Err(e) = std::fs::remove_file(&p)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %p.display(), error = %e, "cannot remove a log file");
                }
            }
        });
        let _ = removed.await;
    }
}

fn log_of<E: Record>(
    logs: &Mutex<HashMap<ServiceId, Arc<ServiceLog<E>>>>,
    id: &ServiceId,
    path: impl FnOnce() -> PathBuf,
) -> Arc<ServiceLog<E>> {
    let mut logs = logs.lock().unwrap_or_else(PoisonError::into_inner);
    logs.entry(id.clone()).or_insert_with(|| Arc::new(ServiceLog::new(path()))).clone()
}

/// How many of a log's last lines are read to go on numbering after a restart: the last whole line may be
/// further up than the last line (a write cut short by a crash).
const RESUME_LINES: usize = 64;

fn open_writer<E: Record>(path: &Path) -> Writer {
    let seq = tail_of_file::<E>(path, RESUME_LINES).iter().map(Record::seq).max().unwrap_or(0);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Writer { file: None, size, seq, cut: ends_cut(path) }
}

/// Whether the file's last line lacks its newline (a write cut short): the next write starts a new line.
fn ends_cut(path: &Path) -> bool {
    let Ok(mut file) = File::open(path) else { return false };
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).and_then(|_| file.read_exact(&mut last)).is_ok() && last[0] != b'\n'
}

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

/// Appends entries as JSON lines, in one write per file (rotating first when they would pass the limit).
fn write_entries<E: Record>(path: &Path, w: &mut Writer, entries: &[Arc<E>]) -> std::io::Result<()> {
    write_entries_up_to(path, w, entries, MAX_FILE_BYTES)
}

fn write_entries_up_to<E: Record>(
    path: &Path,
    w: &mut Writer,
    entries: &[Arc<E>],
    limit: u64,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(entries.len() * 128);
    for entry in entries {
        let start = buf.len();
        serde_json::to_writer(&mut buf, &**entry).map_err(std::io::Error::other)?;
        buf.push(b'\n');
        let line = (buf.len() - start) as u64;
        if w.size + start as u64 + line > limit && w.size + start as u64 > 0 {
            // What came before this line goes to the current file; the file rotates; this line starts the next.
            let rest = buf.split_off(start);
            flush(path, w, &buf)?;
            w.file = None;
            std::fs::rename(path, rotated(path))?;
            w.size = 0;
            buf = rest;
        }
    }
    flush(path, w, &buf)
}

fn flush(path: &Path, w: &mut Writer, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    if w.file.is_none() {
        use std::os::unix::fs::OpenOptionsExt;
        // Only the server's user reads what apps write.
        w.file = Some(OpenOptions::new().create(true).append(true).mode(0o600).open(path)?);
    }
    if let Some(f) = w.file.as_mut() {
        if std::mem::take(&mut w.cut) {
            f.write_all(b"\n")?;
            w.size += 1;
        }
        f.write_all(bytes)?;
        w.size += bytes.len() as u64;
    }
    Ok(())
}

/// The last `n` entries, from the rotated file too when the current one has fewer.
fn tail_entries<E: Record>(path: &Path, n: usize) -> Vec<E> {
    if n == 0 {
        return Vec::new();
    }
    let mut entries = tail_of_file(path, n);
    if entries.len() < n {
        let mut older = tail_of_file(&rotated(path), n - entries.len());
        older.append(&mut entries);
        entries = older;
    }
    entries
}

/// Reads backwards in blocks until `n` readable lines are found, or the file's start. Unreadable lines (a
/// line a crash cut short) are skipped.
fn tail_of_file<E: Record>(path: &Path, n: usize) -> Vec<E> {
    const BLOCK: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else { return Vec::new() };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return Vec::new() };
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let text = String::from_utf8_lossy(&buf);
        let mut lines: Vec<&str> = text.lines().collect();
        if start > 0 && !lines.is_empty() {
            lines.remove(0); // may be cut in the middle
        }
        let entries: Vec<E> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if start == 0 || entries.len() >= n {
            let skip = entries.len().saturating_sub(n);
            return entries.into_iter().skip(skip).collect();
        }
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0; (start - from) as usize];
        if file.seek(SeekFrom::Start(from)).is_err() || file.read_exact(&mut block).is_err() {
            return Vec::new();
        }
        block.extend_from_slice(&buf);
        buf = block;
        start = from;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at: i64, instance: &str, stream: &'static str, text: &str) -> NewLine {
        NewLine { at: Timestamp(at), instance: instance.into(), stream, line: text.into() }
    }

    #[tokio::test]
    async fn tail_then_follow_sees_each_line_once_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let id = ServiceId::generate();
        let hub = LogHub::new(dir.path().to_owned(), CancellationToken::new()).unwrap();
        hub.append(&id, (0..5).map(|i| line(i, "i1", "stdout", &format!("line {i}"))).collect()).await;
        let mut s = hub.read(&id, 2, true);
        assert_eq!(s.next().await.unwrap().line, "line 3");
        assert_eq!(s.next().await.unwrap().line, "line 4");
        hub.append(&id, vec![line(9, "i1", "stderr", "line 5")]).await;
        let l = s.next().await.unwrap();
        assert_eq!((l.line.as_str(), l.stream.as_str()), ("line 5", "stderr"));

        // A new hub (a restarted server) continues the numbering and finds the old lines.
        let hub = LogHub::new(dir.path().to_owned(), CancellationToken::new()).unwrap();
        hub.append(&id, vec![line(10, "i2", "stdout", "line 6")]).await;
        let all: Vec<_> = hub.read(&id, 100, false).map(|l| l.line).collect().await;
        assert_eq!(all, ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6"]);
        hub.remove(&id).await;
        assert!(hub.read(&id, 100, false).collect::<Vec<_>>().await.is_empty());
    }

    #[tokio::test]
    async fn followers_end_when_the_server_shuts_down() {
        let dir = tempfile::tempdir().unwrap();
        let id = ServiceId::generate();
        let shutdown = CancellationToken::new();
        let hub = LogHub::new(dir.path().to_owned(), shutdown.clone()).unwrap();
        hub.append(&id, vec![line(1, "i1", "stdout", "before")]).await;
        let mut s = hub.read(&id, 10, true);
        assert_eq!(s.next().await.unwrap().line, "before");
        shutdown.cancel();
        assert!(s.next().await.is_none(), "the follow ended");
    }

    #[tokio::test]
    async fn a_line_cut_by_a_crash_neither_restarts_the_numbering_nor_swallows_the_next_line() {
        let dir = tempfile::tempdir().unwrap();
        let id = ServiceId::generate();
        let hub = LogHub::new(dir.path().to_owned(), CancellationToken::new()).unwrap();
        hub.append(&id, (0..5).map(|i| line(i, "i1", "stdout", &format!("line {i}"))).collect()).await;
        // The process dies in the middle of writing a line.
        let path = dir.path().join(format!("{id}.log"));
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"seq":6,"at":5,"instance":"i1","str"#).unwrap();
        drop(file);

        let hub = LogHub::new(dir.path().to_owned(), CancellationToken::new()).unwrap();
        let mut follow = hub.read(&id, 2, true);
        assert_eq!(follow.next().await.unwrap().line, "line 3");
        assert_eq!(follow.next().await.unwrap().line, "line 4");
        hub.append(&id, vec![line(6, "i2", "stdout", "after the crash")]).await;
        assert_eq!(follow.next().await.unwrap().line, "after the crash", "numbered after the old lines");
        let all: Vec<_> = hub.read(&id, 100, false).map(|l| l.line).collect().await;
        assert_eq!(
            all.last().map(String::as_str),
            Some("after the crash"),
            "a whole line of its own: {all:?}"
        );
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn a_batch_that_passes_the_limit_rotates_between_two_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut w = Writer { file: None, size: 0, seq: 0, cut: false };
        let entries: Vec<Arc<Entry>> = (0..30u64)
            .map(|i| {
                let line = format!("{i:02} {}", "y".repeat(60));
                Arc::new(Entry { seq: i, at: 0, instance: "i".into(), stream: "stdout".into(), line })
            })
            .collect();
        write_entries_up_to(&path, &mut w, &entries, 1_000).unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        let older = std::fs::read_to_string(rotated(&path)).unwrap();
        assert!(current.len() <= 1_000 && older.len() <= 1_000, "{} and {}", current.len(), older.len());
        // Lines rotated away twice are gone; what is left is whole and in order.
        let seqs: Vec<u64> = older
            .lines()
            .chain(current.lines())
            .map(|l| serde_json::from_str::<Entry>(l).unwrap().seq)
            .collect();
        assert_eq!(seqs, ((30 - seqs.len() as u64)..30).collect::<Vec<_>>());
        assert!(seqs.len() > 10, "{seqs:?}");
    }

    #[test]
    fn tail_reads_across_blocks_and_the_rotated_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut w = Writer { file: None, size: 0, seq: 0, cut: false };
        let long = "x".repeat(10_000);
        for i in 0..40u64 {
            let e = Entry {
                seq: i,
                at: 0,
                instance: "i".into(),
                stream: "stdout".into(),
                line: format!("{i} {long}"),
            };
            write_entries(&path, &mut w, &[Arc::new(e)]).unwrap();
        }
        let got: Vec<u64> = tail_entries::<Entry>(&path, 25).iter().map(|e| e.seq).collect();
        assert_eq!(got, (15..40).collect::<Vec<_>>());
        std::fs::rename(&path, rotated(&path)).unwrap();
        let mut w = Writer { file: None, size: 0, seq: 0, cut: false };
        for i in 40..45u64 {
            let e =
                Entry { seq: i, at: 0, instance: "i".into(), stream: "stdout".into(), line: i.to_string() };
            write_entries(&path, &mut w, &[Arc::new(e)]).unwrap();
        }
        let got: Vec<u64> = tail_entries::<Entry>(&path, 8).iter().map(|e| e.seq).collect();
        assert_eq!(got, (37..45).collect::<Vec<_>>());
    }
}
