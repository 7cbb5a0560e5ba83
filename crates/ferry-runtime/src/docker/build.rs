//! Image builds with the engine's classic builder: the build context goes up as a tar, the builder's
//! output comes back as lines, and a failing `RUN` becomes a [`RuntimeError::Build`] naming its command.
//!
//! The classic builder (not BuildKit) is asked for explicitly: it needs no session and no gRPC, works
//! on every engine version ferry supports, and reports the image id in an `aux` message.

use bollard::body_full;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::engine::Engine;
use super::error::{self, timed};
use crate::{Result, RuntimeError};

/// A line the builder writes without a newline for longer than this is passed on in pieces, so that
/// output without newlines cannot grow without bound.
const MAX_LINE: usize = 64 * 1024;

pub(super) async fn build(
    engine: &Engine,
    context: Vec<u8>,
    dockerfile: &str,
    tag: &str,
    progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
) -> Result<String> {
    let started = Instant::now();
    let context_len = context.len();
    let options = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(tag)
        .rm(true)
        .forcerm(true)
        .version(BuilderVersion::BuilderV1)
        .build();
    // No timeout here: the caller bounds the build. Dropping this future drops the response stream,
    // which closes the connection; the engine then cancels the build, kills the step's container and
    // (with `forcerm`) removes it.
    let mut stream = engine.docker.build_image(options, None, Some(body_full(context.into())));
    let mut lines = Lines::default();
    let mut aux_id: Option<String> = None;
    let mut built_id: Option<String> = None;
    let mut emit = |line: &str| {
        if let Some(id) = line.strip_prefix("Successfully built ") {
            built_id = Some(id.trim().to_owned());
        }
        progress(line);
    };
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(err) => {
                lines.finish(&mut emit);
                let err = failure(err);
                tracing::info!(tag = %tag, error = %err, "an image build failed");
                return Err(err);
            }
        };
        if let Some(id) = info.aux.and_then(|aux| aux.id) {
            aux_id = Some(id);
        }
        if let Some(text) = info.stream.as_deref() {
            lines.feed(text, &mut emit);
        }
        // A base image being pulled: its status lines, but not the per-layer byte counts.
        if let Some(status) = info.status.as_deref() {
            let counting = info.progress_detail.is_some_and(|d| d.current.is_some() || d.total.is_some());
            if !counting {
                lines.finish(&mut emit);
                match info.id.as_deref() {
                    Some(id) => emit(&format!("{id}: {status}")),
                    None => emit(status),
                }
            }
        }
    }
    lines.finish(&mut emit);
    // `aux` has the full id; the "Successfully built" line (all an older engine gives) a short one.
    let image_id = match aux_id.or(built_id) {
        Some(id) if id.starts_with("sha256:") => id,
        Some(id) => full_image_id(engine, &id).await?,
        None => {
            return Err(RuntimeError::Build {
                message: format!("the builder ended without reporting an image id for {tag}"),
                command: None,
                exit_code: None,
            });
        }
    };
    tracing::info!(
        tag = %tag, image_id = %image_id, context_bytes = context_len,
        elapsed_ms = started.elapsed().as_millis() as u64, "built an image"
    );
    Ok(image_id)
}

/// The full `sha256:…` id of an image known by a short id.
async fn full_image_id(engine: &Engine, id: &str) -> Result<String> {
    let inspect = async { engine.docker.inspect_image(id).await.map_err(error::engine) };
    let inspected = timed(engine.call_timeout(), "an image inspect", inspect).await?;
    inspected
        .id
        .ok_or_else(|| RuntimeError::Engine(format!("the engine reports no id for the built image {id}")))
}

/// A failed build: the builder's message, with the failed command and its exit code when it names
/// them, unless the engine itself is unreachable. The engine answers a build it cannot start (no
/// Dockerfile in the context, a bad option) with an error status, and reports one that fails later
/// in the stream; both are the build's failure.
fn failure(err: BollardError) -> RuntimeError {
    match err {
        BollardError::DockerStreamError { error: message }
        | BollardError::DockerResponseServerError { message, .. } => {
            let (command, exit_code) = failed_command(&message);
            RuntimeError::Build { message, command, exit_code }
        }
        other => error::engine(other),
    }
}

/// Cuts the builder's text into lines. Its messages do not follow lines (a step's title and its
/// newline come in two messages, a command's output comes in whatever pieces it wrote), so a line is
/// passed on once its newline has come. A trailing `\r` goes; a line a command redrew with `\r` (a
/// progress bar) is passed on as it was last drawn.
#[derive(Debug, Default)]
struct Lines {
    partial: String,
}

impl Lines {
    /// Adds `text`, passing each line it completes to `emit`.
    fn feed(&mut self, text: &str, emit: &mut impl FnMut(&str)) {
        let mut rest = text;
        while let Some(newline) = rest.find('\n') {
            self.partial.push_str(&rest[..newline]);
            rest = &rest[newline + 1..];
            emit(last_drawn(&self.partial));
            self.partial.clear();
        }
        self.partial.push_str(rest);
        if self.partial.len() > MAX_LINE {
            emit(last_drawn(&self.partial));
            self.partial.clear();
        }
    }

    /// Passes on the last line if it had no newline (and is not empty).
    fn finish(&mut self, emit: &mut impl FnMut(&str)) {
        let line = last_drawn(&self.partial);
        if !line.is_empty() {
            emit(line);
        }
        self.partial.clear();
    }
}

/// What a terminal would show of a line: what follows its last `\r` (a trailing one aside).
fn last_drawn(line: &str) -> &str {
    let line = line.trim_end_matches('\r');
    line.rsplit_once('\r').map_or(line, |(_, last)| last)
}

/// The command that failed and its exit code, from a builder's error message:
///
/// - the classic builder: `The command '/bin/sh -c pip install -r requirements.txt' returned a non-zero
///   code: 1` (older engines write the command as a list: `'[/bin/sh -c make]'`);
/// - BuildKit: `process "/bin/sh -c npm ci" did not complete successfully: exit code: 1`.
///
/// The shell a `RUN` in shell form goes through (`/bin/sh -c`, or a `SHELL` like `/bin/bash -o pipefail
/// -c`) is left out of the command.
fn failed_command(message: &str) -> (Option<String>, Option<i64>) {
    let message = message.trim();
    let parsed = if let Some(rest) = message.strip_prefix("The command '") {
        rest.split_once("' returned a non-zero code: ").map(|(command, code)| (from_list(command), code))
    } else if let Some(rest) = message.strip_prefix("process \"") {
        rest.split_once("\" did not complete successfully: exit code: ")
            .map(|(command, code)| (command.replace("\\\"", "\"").replace("\\\\", "\\"), code))
    } else {
        None
    };
    let Some((command, code)) = parsed else {
        return (None, None);
    };
    let digits = code.find(|c: char| !c.is_ascii_digit()).map_or(code, |end| &code[..end]);
    (Some(without_shell(&command).to_owned()), digits.parse().ok())
}

/// A command written as a list (`[/bin/sh -c make]` or `["/bin/sh","-c","make"]`) as one line.
fn from_list(command: &str) -> String {
    let Some(inner) = command.strip_prefix('[').and_then(|c| c.strip_suffix(']')) else {
        return command.to_owned();
    };
    if inner.trim_start().starts_with('"')
        && let Ok(words) = parse_json_strings(inner)
    {
        return words.join(" ");
    }
    inner.to_owned()
}

/// `"a","b c"` (JSON strings separated by commas or spaces) as its strings.
fn parse_json_strings(text: &str) -> std::result::Result<Vec<String>, ()> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Ok(words),
            Some('"') => {}
            Some(_) => return Err(()),
        }
        let mut word = String::new();
        loop {
            match chars.next().ok_or(())? {
                '"' => break,
                '\\' => word.push(chars.next().ok_or(())?),
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

/// `make all` from `/bin/sh -c make all` or `/bin/bash -o pipefail -c make all`; anything else as is.
fn without_shell(command: &str) -> &str {
    let Some((program, args)) = command.split_once(' ') else {
        return command;
    };
    let shell = program.rsplit('/').next().is_some_and(|name| name.ends_with("sh"));
    if !shell {
        return command;
    }
    // Options may come before -c (`-o pipefail`, `-e`, `-x`), but nothing else does.
    let mut rest = args;
    while let Some((word, after)) = rest.split_once(' ') {
        match word {
            "-c" => return after,
            "-o" => match after.split_once(' ') {
                Some((_, after)) => rest = after,
                None => return command,
            },
            w if w.starts_with('-') => rest = after,
            _ => return command,
        }
    }
    command
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
