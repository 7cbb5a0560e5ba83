//! Application logs: every line an instance writes, kept per service on disk and fanned out live.
//!
//! Each service has a file `logs/<service id>.log` of JSON lines, rotated to `.log.1` past
//! [`MAX_FILE_BYTES`] so a chatty app cannot fill the disk, and a broadcast channel for followers. Lines
//! carry a sequence number so a reader that takes the tail from the file and then follows the channel
//! sees each line once. Logs outlive the instances that wrote them (App Runner's users asked for logs of
//! instances that were killed) and are removed with the service.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_api::AppLogLine;
use ferry_model::{ServiceId, Timestamp};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// A service's log file is rotated when it grows past this.
pub(crate) const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
const LIVE_BUFFER: usize = 1024;

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

struct Writer {
    file: Option<File>,
    size: u64,
    seq: u64,
}

struct ServiceLog {
    path: PathBuf,
    writer: Mutex<Writer>,
    live: broadcast::Sender<Arc<Entry>>,
}

pub(crate) struct LogHub {
    dir: PathBuf,
    services: Mutex<HashMap<ServiceId, Arc<ServiceLog>>>,
}

impl LogHub {
    pub(crate) fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, services: Mutex::new(HashMap::new()) })
    }

    fn service(&self, id: &ServiceId) -> Arc<ServiceLog> {
        let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
        services
            .entry(id.clone())
            .or_insert_with(|| {
                let path = self.dir.join(format!("{id}.log"));
                let seq = last_entry(&path).map(|e| e.seq).unwrap_or(0);
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let (live, _) = broadcast::channel(LIVE_BUFFER);
                Arc::new(ServiceLog { path, writer: Mutex::new(Writer { file: None, size, seq }), live })
            })
            .clone()
    }

    /// Appends one line of a service's output.
    pub(crate) fn append(&self, id: &ServiceId, at: Timestamp, instance: &str, stream: &str, line: &str) {
        let log = self.service(id);
        let mut w = log.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.seq += 1;
        let entry = Arc::new(Entry {
            seq: w.seq,
            at: at.millis(),
            instance: instance.to_owned(),
            stream: stream.to_owned(),
            line: line.to_owned(),
        });
        if let Err(e) = write_entry(&log.path, &mut w, &entry) {
            tracing::warn!(service = %id, error = %e, "cannot write the application log");
        }
        // No receiver is not an error: nobody follows the log right now.
        let _ = log.live.send(entry);
    }

    /// Up to `tail` earlier lines, then (with `follow`) new ones as they come.
    pub(crate) fn read(&self, id: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, AppLogLine> {
        let log = self.service(id);
        // Subscribe before reading the file, so no line falls between the two; the sequence number drops
        // the lines that are in both.
        let live = follow.then(|| log.live.subscribe());
        let earlier = {
            let _w = log.writer.lock().unwrap_or_else(|p| p.into_inner());
            tail_entries(&log.path, tail)
        };
        let last_seq = earlier.last().map(|e| e.seq).unwrap_or(0);
        let head = stream::iter(earlier.into_iter().map(|e| e.to_line()));
        match live {
            None => head.boxed(),
            Some(rx) => {
                let rest = stream::unfold(rx, move |mut rx| async move {
                    loop {
                        match rx.recv().await {
                            Ok(e) if e.seq <= last_seq => continue,
                            Ok(e) => return Some((e.to_line(), rx)),
                            Err(broadcast::error::RecvError::Lagged(n)) => {
                                let note = AppLogLine {
                                    at: Timestamp::now(),
                                    instance: "ferry".to_owned(),
                                    stream: "stderr".to_owned(),
                                    line: format!("[ferry] {n} lines were skipped: this reader fell behind"),
                                };
                                return Some((note, rx));
                            }
                            Err(broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                });
                head.chain(rest).boxed()
            }
        }
    }

    /// Deletes a service's logs (when the service is deleted).
    pub(crate) fn remove(&self, id: &ServiceId) {
        let log = self.services.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        let path = log.map(|l| l.path.clone()).unwrap_or_else(|| self.dir.join(format!("{id}.log")));
        for p in [path.clone(), rotated(&path)] {
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove a log file");
            }
        }
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

fn write_entry(path: &Path, w: &mut Writer, entry: &Entry) -> std::io::Result<()> {
    let mut json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    json.push(b'\n');
    if w.size + json.len() as u64 > MAX_FILE_BYTES && w.size > 0 {
        w.file = None;
        std::fs::rename(path, rotated(path))?;
        w.size = 0;
    }
    if w.file.is_none() {
        w.file = Some(OpenOptions::new().create(true).append(true).open(path)?);
    }
    if let Some(f) = w.file.as_mut() {
        f.write_all(&json)?;
        w.size += json.len() as u64;
    }
    Ok(())
}

fn last_entry(path: &Path) -> Option<Entry> {
    tail_of_file(path, 1).pop()
}

/// The last `n` entries, from the rotated file too when the current one has fewer.
fn tail_entries(path: &Path, n: usize) -> Vec<Entry> {
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

/// Reads backwards in blocks until `n` complete lines are found. Unreadable lines are skipped.
fn tail_of_file(path: &Path, n: usize) -> Vec<Entry> {
    const BLOCK: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else { return Vec::new() };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return Vec::new() };
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let newlines = buf.iter().filter(|&&b| b == b'\n').count();
        if start == 0 || newlines > n {
            break;
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
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // may be cut in the middle
    }
    let skip = lines.len().saturating_sub(n);
    lines.into_iter().skip(skip).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tail_then_follow_sees_each_line_once_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let id = ServiceId::generate();
        let hub = LogHub::new(dir.path().to_owned()).unwrap();
        for i in 0..5 {
            hub.append(&id, Timestamp(i), "i1", "stdout", &format!("line {i}"));
        }
        let mut s = hub.read(&id, 2, true);
        assert_eq!(s.next().await.unwrap().line, "line 3");
        assert_eq!(s.next().await.unwrap().line, "line 4");
        hub.append(&id, Timestamp(9), "i1", "stderr", "line 5");
        let l = s.next().await.unwrap();
        assert_eq!((l.line.as_str(), l.stream.as_str()), ("line 5", "stderr"));

        // A new hub (a restarted server) continues the numbering and finds the old lines.
        let hub = LogHub::new(dir.path().to_owned()).unwrap();
        hub.append(&id, Timestamp(10), "i2", "stdout", "line 6");
        let all: Vec<_> = hub.read(&id, 100, false).map(|l| l.line).collect().await;
        assert_eq!(all, ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6"]);
        hub.remove(&id);
        assert!(hub.read(&id, 100, false).collect::<Vec<_>>().await.is_empty());
    }

    #[test]
    fn tail_reads_across_blocks_and_the_rotated_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut w = Writer { file: None, size: 0, seq: 0 };
        let long = "x".repeat(10_000);
        for i in 0..40u64 {
            let e = Entry {
                seq: i,
                at: 0,
                instance: "i".into(),
                stream: "stdout".into(),
                line: format!("{i} {long}"),
            };
            write_entry(&path, &mut w, &e).unwrap();
        }
        let got: Vec<u64> = tail_entries(&path, 25).iter().map(|e| e.seq).collect();
        assert_eq!(got, (15..40).collect::<Vec<_>>());
        std::fs::rename(&path, rotated(&path)).unwrap();
        let mut w = Writer { file: None, size: 0, seq: 0 };
        for i in 40..45u64 {
            let e =
                Entry { seq: i, at: 0, instance: "i".into(), stream: "stdout".into(), line: i.to_string() };
            write_entry(&path, &mut w, &e).unwrap();
        }
        let got: Vec<u64> = tail_entries(&path, 8).iter().map(|e| e.seq).collect();
        assert_eq!(got, (37..45).collect::<Vec<_>>());
    }
}
