//! Building a revision of a code source: fetch the commit, work out how to build it, pack the context,
//! have the engine build the image, optionally push it, and record what was made. Every line goes to the
//! operation's log as `[Build] …`, which is what `--wait` and `ferry logs NAME --build` show.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ferry_build::{FetchRequest, PlanRequest};
use ferry_model::{Build, Operation, OperationId, Revision, Source, Timestamp};
use ferry_runtime::RuntimeError;
use ferry_store::Store;

use super::service::ServiceController;
use crate::Error;

/// The largest build context ferry sends to the engine.
const MAX_CONTEXT_BYTES: u64 = 1 << 30;
/// How many lines of one build's output the operation's log keeps (the engine's own log has them all).
const MAX_BUILD_LINES: usize = 20_000;
/// How many of the last lines a failure repeats.
const TAIL_LINES: usize = 15;

/// The build's output, into the operation's log, with the last lines kept for a failure report.
#[derive(Clone)]
struct BuildLog {
    store: Arc<Store>,
    op: OperationId,
    state: Arc<Mutex<(usize, VecDeque<String>)>>,
}

impl BuildLog {
    fn line(&self, line: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        if state.1.len() == TAIL_LINES {
            state.1.pop_front();
        }
        state.1.push_back(line.to_owned());
        let count = state.0;
        drop(state);
        if count < MAX_BUILD_LINES {
            let _ = self.store.append_event(&self.op, Timestamp::now(), &format!("[Build] {line}"));
        } else if count == MAX_BUILD_LINES {
            let note = "[Build] (the rest of the output is not kept in this log)";
            let _ = self.store.append_event(&self.op, Timestamp::now(), note);
        }
    }

    fn tail(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1.iter().cloned().collect()
    }
}

/// Why a build failed, for the operation's error.
fn failure(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Build { command: Some(command), exit_code: Some(code), .. } => {
            format!("build command `{command}` failed with exit code {code}")
        }
        other => other.to_string(),
    }
}

impl ServiceController {
    /// The image tag for a revision's build: the service and the commit (and the revision, so two
    /// revisions of one commit with different build settings stay apart).
    fn build_tag(&self, commit: &str, revision: u32) -> String {
        let name = self.service_name.to_ascii_lowercase();
        let short = &commit[..commit.len().min(12)];
        match &self.shared.settings.build_registry {
            Some(registry) => format!("{registry}/{name}:{short}-r{revision}"),
            None => format!("ferry-build/{name}:{short}-r{revision}"),
        }
    }

    /// Builds the revision's code (at its recorded commit when it was built before), or says why not.
    pub(super) async fn build_revision(
        &mut self,
        op: &Operation,
        revision: Revision,
    ) -> Result<Result<Revision, String>, Error> {
        let Source::Code(code) = &revision.spec.source else {
            return Err(Error::Internal("build_revision called for an image source".to_owned()));
        };
        let log = BuildLog { store: self.shared.store.clone(), op: op.id.clone(), state: Arc::default() };
        if self.shared.builds.available_permits() == 0 {
            log.line("waiting for a build slot (other builds are running)");
        }
        let _permit = self.shared.builds.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let settings = &self.shared.settings;
        let workdir = settings.data_dir.join("git").join(self.id.as_str());
        let pinned = revision.build.as_ref().map(|b| b.commit.clone());
        let emit = {
            let log = log.clone();
            move |line: &str| log.line(line)
        };

        let work = async {
            let request = FetchRequest {
                repository: &code.repository,
                branch: &code.branch,
                commit: pinned.as_deref(),
                credentials: code.credentials.as_ref(),
                workdir: &workdir,
                timeout: settings.build_timeout,
            };
            let checkout = ferry_build::fetch(&request, &emit).await.map_err(|e| e.to_string())?;
            let source_dir = ferry_build::source_dir(&checkout, code.source_directory.as_deref())
                .map_err(|e| e.to_string())?;
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
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            let short = &checkout.commit[..checkout.commit.len().min(12)];
            log.line(&format!("building commit {short} with {}", plan.description));
            let (dir, for_tar) = (source_dir.clone(), plan.clone());
            let context = tokio::task::spawn_blocking(move || {
                ferry_build::context_tar(&dir, &for_tar, MAX_CONTEXT_BYTES)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            let tag = self.build_tag(&checkout.commit, revision.number);
            let image_id = self
                .shared
                .runtime
                .build_image(context, &plan.dockerfile, &tag, &emit)
                .await
                .map_err(|e| failure(&e))?;
            let digest = match &settings.build_registry {
                Some(_) => {
                    self.shared.runtime.push_image(&tag, None, &emit).await.map_err(|e| e.to_string())?
                }
                None => None,
            };
            Ok::<_, String>((checkout.commit, plan, tag, image_id, digest))
        };
        let outcome = match tokio::time::timeout(settings.build_timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "the build took longer than {} s (the server's --build-timeout)",
                settings.build_timeout.as_secs()
            )),
        };
        let (commit, plan, tag, image_id, digest) = match outcome {
            Ok(built) => built,
            Err(reason) => {
                let tail = log.tail();
                if !tail.is_empty() {
                    self.event(op, "Last lines of the build:");
                    for line in tail {
                        self.event(op, &format!("  | {line}"));
                    }
                }
                return Ok(Err(reason));
            }
        };
        let build =
            Build { commit: commit.clone(), image: tag.clone(), builder: plan.description, run: plan.run };
        self.shared.store.set_revision_build(&self.id, revision.number, &build, &image_id)?;
        if let Some(digest) = &digest {
            self.shared.store.set_revision_image(&self.id, revision.number, Some(digest), &image_id)?;
        }
        self.shared.store.set_image_pruned(&self.id, revision.number, false)?;
        self.event(op, &format!("Successfully built image {tag} from commit {commit}."));
        let revision = Revision {
            build: Some(build),
            image_id: Some(image_id),
            image_digest: digest.or(revision.image_digest),
            image_pruned: false,
            ..revision
        };
        self.revisions.insert(revision.number, revision.clone());
        Ok(Ok(revision))
    }
}
