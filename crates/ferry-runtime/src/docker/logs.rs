//! Container logs: Docker's frames back into lines.
//!
//! With `timestamps=true` the engine starts every frame with an RFC 3339 time and a space. A frame is
//! normally one line with its newline, but json-file splits lines longer than 16 KiB into several
//! entries (each its own frame, each with its own timestamp, only the last with the newline), and the
//! last line of an exited app may lack its newline. [`LineAssembler`] joins fragments per stream, dates a
//! line by its first fragment, and hands out what is left when the stream ends.
//!
//! Docker 20.10's follow mode can end (the container stopped) before it has sent the last entries the
//! app wrote, typically a last line without a newline. So when a followed stream ends, the log is read
//! once more from the last frame's second on, and frames not newer than the last one seen (to the
//! nanosecond) are skipped.

use std::collections::VecDeque;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{LogsOptions, LogsOptionsBuilder};
use ferry_model::Timestamp;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::engine::Engine;
use super::error::{self, timed};
use crate::{LogLine, LogStream, Result};

/// A line longer than this is cut into lines of this size, so a runaway writer cannot exhaust memory.
const MAX_LINE_BYTES: usize = 1 << 20;

pub(super) async fn tail(engine: &Engine, id: &str, lines: usize) -> Result<Vec<LogLine>> {
    if lines == 0 {
        return Ok(Vec::new());
    }
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .tail(&lines.to_string())
        .build();
    let read = async {
        let mut frames = engine.docker.logs(id, Some(options));
        let mut assembler = LineAssembler::default();
        let mut out = Vec::new();
        while let Some(frame) = frames.next().await {
            assembler.push_output(frame.map_err(|e| error::container(id, e))?, &mut out);
        }
        assembler.finish(&mut out);
        Ok(out)
    };
    let mut out = timed(engine.call_timeout(), "a log read", read).await?;
    // Lines flushed at the end (no newline) may be older than others: restore time order.
    out.sort_by_key(|line| line.at);
    let extra = out.len().saturating_sub(lines);
    out.drain(..extra);
    Ok(out)
}

pub(super) fn follow(
    engine: &Engine,
    id: &str,
    since: Option<Timestamp>,
) -> BoxStream<'static, Result<LogLine>> {
    // The engine filters by whole seconds (and bollard types them as i32): ask from the second
    // `since` falls in, and drop the older lines of that second here, after parsing.
    let since_secs = since.and_then(|since| i32::try_from(since.millis().div_euclid(1000)).ok());
    let frames = engine.docker.logs(id, Some(logs_options(true, since_secs)));
    let (docker, container) = (engine.docker.clone(), id.to_owned());
    let catch_up = move |from_secs: Option<i32>| {
        docker.logs(&container, Some(logs_options(false, from_secs.or(since_secs)))).boxed()
    };
    follow_frames(id.to_owned(), frames, since, catch_up).boxed()
}

fn logs_options(follow: bool, since_secs: Option<i32>) -> LogsOptions {
    let options = LogsOptionsBuilder::default().follow(follow).stdout(true).stderr(true).timestamps(true);
    match since_secs {
        Some(secs) => options.since(secs).build(),
        None => options.build(),
    }
}

type Frames = BoxStream<'static, Result<LogOutput, BollardError>>;

/// Lines from `frames` at or after `since`; when `frames` ends, the frames `catch_up` gives (from the
/// second of the last frame seen) that are newer than the last one seen.
fn follow_frames(
    id: String,
    frames: impl Stream<Item = Result<LogOutput, BollardError>> + Send + 'static,
    since: Option<Timestamp>,
    catch_up: impl FnOnce(Option<i32>) -> Frames + Send + 'static,
) -> impl Stream<Item = Result<LogLine>> + Send + 'static {
    struct State<C> {
        id: String,
        frames: Frames,
        catch_up: Option<C>,
        assembler: LineAssembler,
        ready: VecDeque<LogLine>,
        since: Option<Timestamp>,
        ended: bool,
    }
    let state = State {
        id,
        frames: frames.boxed(),
        catch_up: Some(catch_up),
        assembler: LineAssembler::default(),
        ready: VecDeque::new(),
        since,
        ended: false,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(line) = s.ready.pop_front() {
                return Some((Ok(line), s));
            }
            if s.ended {
                return None;
            }
            let mut out = Vec::new();
            match s.frames.next().await {
                Some(Ok(frame)) => s.assembler.push_output(frame, &mut out),
                // Removed between the follow and the catch-up read: the stream simply ends.
                Some(Err(e)) if s.catch_up.is_none() && error::status(&e) == Some(404) => {
                    s.ended = true;
                    s.assembler.finish(&mut out);
                }
                Some(Err(e)) => {
                    s.ended = true;
                    return Some((Err(error::container(&s.id, e)), s));
                }
                None => match s.catch_up.take() {
                    Some(catch_up) => {
                        let from = s.assembler.last_second();
                        s.assembler.skip_seen();
                        s.frames = catch_up(from);
                    }
                    None => {
                        s.ended = true;
                        s.assembler.finish(&mut out);
                    }
                },
            }
            let since = s.since;
            s.ready.extend(out.into_iter().filter(|line| since.is_none_or(|since| line.at >= since)));
        }
    })
}

/// Joins frames into lines, per stream.
#[derive(Debug, Default)]
pub(super) struct LineAssembler {
    stdout: Partial,
    stderr: Partial,
    /// The newest frame's time, in nanoseconds since the epoch.
    last_nanos: Option<i128>,
    /// Frames not newer than this are dropped (set for a catch-up read).
    skip_through: Option<i128>,
}

#[derive(Debug, Default)]
struct Partial {
    at: Option<Timestamp>,
    text: Vec<u8>,
}

impl Partial {
    fn append(&mut self, at: Timestamp, bytes: &[u8]) {
        if self.at.is_none() {
            self.at = Some(at);
        }
        self.text.extend_from_slice(bytes);
    }

    fn take(&mut self, stream: LogStream, fallback: Timestamp) -> LogLine {
        let mut text = std::mem::take(&mut self.text);
        if text.last() == Some(&b'\r') {
            text.pop();
        }
        let at = self.at.take().unwrap_or(fallback);
        LogLine { at, stream, line: String::from_utf8_lossy(&text).into_owned() }
    }
}

impl LineAssembler {
    pub(super) fn push_output(&mut self, output: LogOutput, out: &mut Vec<LogLine>) {
        match output {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                self.push(LogStream::Stdout, &message, out)
            }
            LogOutput::StdErr { message } => self.push(LogStream::Stderr, &message, out),
            LogOutput::StdIn { .. } => {}
        }
    }

    /// One frame: `<timestamp> <text>`, where the text may end a line, or hold several.
    pub(super) fn push(&mut self, stream: LogStream, frame: &[u8], out: &mut Vec<LogLine>) {
        let mut rest = match split_timestamp(frame) {
            Some((nanos, rest)) => {
                if self.skip_through.is_some_and(|seen| nanos <= seen) {
                    return;
                }
                self.last_nanos = Some(nanos);
                rest
            }
            None => frame,
        };
        let at = self.last_at();
        let partial = match stream {
            LogStream::Stdout => &mut self.stdout,
            LogStream::Stderr => &mut self.stderr,
        };
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    partial.append(at, &rest[..end]);
                    out.push(partial.take(stream, at));
                    rest = &rest[end + 1..];
                }
                None => {
                    partial.append(at, rest);
                    if partial.text.len() >= MAX_LINE_BYTES {
                        out.push(partial.take(stream, at));
                    }
                    break;
                }
            }
        }
    }

    /// The newest frame's time in milliseconds (0 before any), also for a frame that lacks one.
    fn last_at(&self) -> Timestamp {
        let millis = self.last_nanos.unwrap_or(0).div_euclid(1_000_000);
        Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// The second the newest frame is in, as the engine's `since` takes it.
    fn last_second(&self) -> Option<i32> {
        i32::try_from(self.last_nanos?.div_euclid(1_000_000_000)).ok()
    }

    /// From now on, drop the frames already seen: those not newer than the newest so far.
    fn skip_seen(&mut self) {
        self.skip_through = self.last_nanos;
    }

    /// The unfinished lines, when no more frames will come.
    pub(super) fn finish(&mut self, out: &mut Vec<LogLine>) {
        let at = self.last_at();
        for (stream, partial) in
            [(LogStream::Stdout, &mut self.stdout), (LogStream::Stderr, &mut self.stderr)]
        {
            if partial.at.is_some() {
                out.push(partial.take(stream, at));
            }
        }
    }
}

/// `2024-05-01T12:00:00.123456789Z rest` → (nanoseconds since the epoch, `rest`).
fn split_timestamp(frame: &[u8]) -> Option<(i128, &[u8])> {
    // RFC 3339 with nanoseconds and a zone offset is at most 35 bytes.
    let space = frame.iter().take(40).position(|b| *b == b' ')?;
    let text = std::str::from_utf8(&frame[..space]).ok()?;
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((at.unix_timestamp_nanos(), &frame[space + 1..]))
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;
