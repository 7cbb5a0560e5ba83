//! Building a revision of a code source: fetch the commit, work out how to build it, pack the context,
//! have the engine build the image, optionally push it, and record what was made. Every line goes to the
//! operation's log as `[Build] …`, which is what `--wait` and `ferry logs NAME --build` show.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use ferry_build::{FetchRequest, PlanRequest};
use ferry_model::{Build, Revision, Source};
use ferry_runtime::RuntimeError;

use super::shared::Context;

/// The largest build context ferry sends to the engine.
const MAX_CONTEXT_BYTES: u64 = 1 << 30;
/// How many lines of one build's output the operation's log keeps (the engine's own log has them all).
const MAX_BUILD_LINES: usize = 20_000;
/// How many of the last lines a failure repeats.
const TAIL_LINES: usize = 15;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildFailure {
    /// Fetching, reading or packing the repository failed (the message says what to fix).
    #[error(transparent)]
    Source(#[from] ferry_build::BuildError),
    /// The source's connection is gone or has no credentials yet.
    #[error(transparent)]
    Connection(#[from] crate::connection::ConnectionError),
    #[error("build command `{command}` failed with exit code {exit_code}")]
    Command { command: String, exit_code: i64 },
    #[error(transparent)]
    Engine(RuntimeError),
    #[error("the build took longer than {0} s (the server's --build-timeout)")]
    TimedOut(u64),
    /// A worker thread of the build went away (it panicked).
    #[error("the build was interrupted: {0}")]
    Interrupted(String),
}

impl From<RuntimeError> for BuildFailure {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Build { command: Some(command), exit_code: Some(exit_code), .. } => {
                BuildFailure::Command { command, exit_code }
            }
            other => BuildFailure::Engine(other),
        }
    }
}

/// The build's output, into the operation's log, with the last lines kept for a failure report.
#[derive(Clone)]
struct BuildLog {
    log: super::oplog::OpLog,
    op: ferry_model::OperationId,
    state: Arc<Mutex<(usize, VecDeque<String>)>>,
}

impl BuildLog {
    fn line(&self, line: &str) {
        // Commands colour their output; the log is read in viewers and JSON, not a terminal.
        let line = ferry_build::clean_line(line);
        let line = line.as_ref();
        let count = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.0 += 1;
            if state.1.len() == TAIL_LINES {
                state.1.pop_front();
            }
            state.1.push_back(line.to_owned());
            state.0
        };
        if count < MAX_BUILD_LINES {
            self.log.event(&self.op, &format!("[Build] {line}"));
        } else if count == MAX_BUILD_LINES {
            self.log.event(&self.op, "[Build] (the rest of the output is not kept in this log)");
        }
    }

    fn tail(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1.iter().cloned().collect()
    }
}

/// The image tag for a revision's build: the service and the commit (and the revision, so two revisions
/// of one commit with different build settings stay apart).
fn build_tag(registry: Option<&str>, service: &str, commit: &str, revision: u32) -> String {
    let name = service.to_ascii_lowercase();
    let short = &commit[..commit.len().min(12)];
    match registry {
        Some(registry) => format!("{registry}/{name}:{short}-r{revision}"),
        None => format!("ferry-build/{name}:{short}-r{revision}"),
    }
}

fn interrupted(e: tokio::task::JoinError) -> BuildFailure {
    BuildFailure::Interrupted(e.to_string())
}

/// Builds the revision's code (at its recorded commit when it was built before), or says why not.
pub(crate) async fn build_revision(cx: &Context, revision: Revision) -> Result<Revision, BuildFailure> {
    let Source::Code(code) = &revision.spec.source else {
        return Err(BuildFailure::Interrupted("a build was asked for an image source".to_owned()));
    };
    let shared = &cx.shared;
    let log = BuildLog { log: cx.log.clone(), op: cx.op.clone(), state: Arc::default() };
    if shared.builds.available_permits() == 0 {
        log.line("waiting for a build slot (other builds are running)");
    }
    let Ok(_permit) = shared.builds.acquire().await else {
        return Err(BuildFailure::Interrupted("the server is shutting down".to_owned()));
    };
    let settings = &shared.settings;
    let workdir = settings.data_dir.join("git").join(cx.service.as_str());
    // A rebuild checks out what was built before; a push's revision, the commit pushed.
    let pinned = revision.build.as_ref().map(|b| b.commit.clone()).or_else(|| revision.source_commit.clone());
    let emit = {
        let log = log.clone();
        move |line: &str| log.line(line)
    };

    let work = async {
        let credentials = crate::connection::credentials(&shared.store, code).await?;
        let request = FetchRequest {
            repository: &code.repository,
            branch: &code.branch,
            commit: pinned.as_deref(),
            credentials: credentials.as_ref(),
            workdir: &workdir,
            timeout: settings.build_timeout,
        };
        let checkout = ferry_build::fetch(&request, &emit).await?;
        let source_dir = ferry_build::source_dir(&checkout, code.source_directory.as_deref())?;
        let (configuration, defaults, images) =
            (code.configuration.clone(), code.config.clone(), settings.runtime_images.clone());
        let dir = source_dir.clone();
        let plan = tokio::task::spawn_blocking(move || {
            ferry_build::plan(&PlanRequest {
                source_dir: &dir,
                configuration: &configuration,
                defaults: &defaults,
                images: &images,
            })
        })
        .await
        .map_err(interrupted)??;
        let short = &checkout.commit[..checkout.commit.len().min(12)];
        log.line(&format!("building commit {short} with {}", plan.description));
        for warning in &plan.warnings {
            log.line(&format!("warning: {warning}"));
        }
        let (dir, for_tar) = (source_dir.clone(), plan.clone());
        let context =
            tokio::task::spawn_blocking(move || ferry_build::context_tar(&dir, &for_tar, MAX_CONTEXT_BYTES))
                .await
                .map_err(interrupted)??;
        let tag = build_tag(settings.build_registry.as_deref(), &cx.name, &checkout.commit, revision.number);
        let image_id =
            shared.runtime.build_image(context, &plan.dockerfile, &tag, &emit).await.inspect_err(|e| {
                // The engine gives the failing step's verdict (`The command '/bin/sh -c …' returned a
                // non-zero code: 1`) as the error, not as output: the log ends with it, as docker build's.
                if let RuntimeError::Build { message, .. } = e {
                    message.lines().filter(|l| !l.trim().is_empty()).for_each(|l| log.line(l));
                }
            })?;
        let digest = match &settings.build_registry {
            Some(_) => shared.runtime.push_image(&tag, None, &emit).await.map_err(BuildFailure::Engine)?,
            None => None,
        };
        Ok::<_, BuildFailure>((checkout.commit, plan, tag, image_id, digest))
    };
    let started = tokio::time::Instant::now();
    let outcome = match tokio::time::timeout(settings.build_timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(BuildFailure::TimedOut(settings.build_timeout.as_secs())),
    };
    shared.metrics.build_ended(started.elapsed(), outcome.is_ok());
    let (commit, plan, tag, image_id, digest) = match outcome {
        Ok(built) => built,
        Err(reason) => {
            let tail = log.tail();
            if !tail.is_empty() {
                cx.log.event(&cx.op, "Last lines of the build:");
                for line in tail {
                    cx.log.event(&cx.op, &format!("  | {line}"));
                }
            }
            return Err(reason);
        }
    };
    let build =
        Build { commit: commit.clone(), image: tag.clone(), builder: plan.description, run: plan.run };
    let (service, number, recorded, id, pushed) =
        (cx.service.clone(), revision.number, build.clone(), image_id.clone(), digest.clone());
    // Queued: the step's result is what the deployment goes on with; the record follows it in order.
    shared.store.submit("record a revision's build", move |db| {
        db.set_revision_build(&service, number, &recorded, &id)?;
        if let Some(digest) = &pushed {
            db.set_revision_image(&service, number, Some(digest), &id)?;
        }
        db.set_image_pruned(&service, number, false)
    });
    cx.log.event(&cx.op, &format!("Successfully built image {tag} from commit {commit}."));
    Ok(Revision {
        build: Some(build),
        image_id: Some(image_id),
        image_digest: digest.or(revision.image_digest),
        image_pruned: false,
        ..revision
    })
}
