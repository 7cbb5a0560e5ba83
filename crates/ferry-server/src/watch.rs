//! The watcher: automatic deployments that ferry goes looking for.
//!
//! One task. It looks at every watched branch (`git ls-remote`, with the service's git credentials) and
//! every watched image tag (the registry's answer for the tag's manifest, asked through the engine with
//! the service's registry credentials: nothing is pulled) once per poll interval, spread by jitter, at most
//! `concurrency` at a time, backing off while a source cannot be reached. A version it has not seen goes to
//! the command layer as a push (`Commands::source_changed`). It also hears from the controllers each time
//! an operation ends and catches the service up with the newest version seen (a push kept while another
//! deployment ran); a poll that finds nothing new catches up too, so a missed signal costs one interval.
//!
//! Webhooks and registry notifications do not pass through here: they reach the command layer from the
//! router's hooks host (`hooks.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_build::FetchRequest;
use ferry_command::{Commands, PushOutcome};
use ferry_model::{Seen, Service, ServiceId, ServiceStatus, Source, SourceVersion, Timestamp, Via};
use ferry_plan::autodeploy::next_check;
use ferry_runtime::Runtime;
use ferry_store::{Store, StoreError};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How the watcher works.
#[derive(Debug, Clone)]
pub(crate) struct WatchSettings {
    /// `None`: never poll (webhooks and notifications only).
    pub interval: Option<Duration>,
    pub concurrency: usize,
    /// One look at a branch or tag takes at most this.
    pub timeout: Duration,
    /// Where `git ls-remote` runs (`git/<service id>` under it, shared with builds).
    pub data_dir: PathBuf,
}

/// The longest a failing source waits between two looks.
const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

pub(crate) struct Watcher {
    pub store: Store,
    pub commands: Commands,
    pub runtime: Arc<dyn Runtime>,
    pub settings: WatchSettings,
    pub shutdown: CancellationToken,
}

/// When a service's source is looked at next, and how many looks in a row failed.
struct Schedule {
    next: Instant,
    failures: u32,
}

impl Watcher {
    /// Runs until shutdown: catch-ups as operations end, and polls when they are due.
    pub(crate) async fn run(self, mut ended: mpsc::Receiver<ServiceId>) {
        let this = Arc::new(self);
        // Each watched service (as last listed) with its schedule.
        let mut watched: HashMap<ServiceId, (Service, Schedule)> = HashMap::new();
        // The services being looked at, with the task that looks.
        let mut looking: HashMap<ServiceId, tokio::task::Id> = HashMap::new();
        let mut looks: JoinSet<(ServiceId, bool)> = JoinSet::new();
        let permits = Arc::new(Semaphore::new(this.settings.concurrency));
        // The services are listed again this often (new ones, changed sources); looks happen when due.
        let relist =
            this.settings.interval.map_or(Duration::from_secs(3600), |i| i.min(Duration::from_secs(5)));
        let mut next_list = Instant::now();
        // A push kept while an operation ran, whose catch-up a crash or a restart cut off, deploys now.
        if let Ok(services) = this.store.call(|db| db.list_services()).await {
            for service in services.into_iter().filter(|s| s.spec.source.auto_deploy()) {
                this.catch_up(service.id).await;
            }
        }
        loop {
            let due = watched
                .iter()
                .filter(|(id, _)| !looking.contains_key(*id))
                .map(|(_, (_, schedule))| schedule.next)
                .min();
            let wake = due.map_or(next_list, |due| due.min(next_list));
            tokio::select! {
                () = this.shutdown.cancelled() => break,
                Some(id) = ended.recv() => this.catch_up(id).await,
                Some(done) = looks.join_next(), if !looks.is_empty() => {
                    let (id, ok) = match done {
                        Ok(done) => done,
                        // A look that panicked counts as one that failed: the service is looked at again.
                        Err(e) => {
                            tracing::warn!(error = %e, "a look at a watched source ended without an answer");
                            match looking.iter().find(|(_, task)| **task == e.id()) {
                                Some((id, _)) => (id.clone(), false),
                                None => continue,
                            }
                        }
                    };
                    looking.remove(&id);
                    if let (Some((_, s)), Some(interval)) = (watched.get_mut(&id), this.settings.interval) {
                        s.failures = if ok { 0 } else { s.failures.saturating_add(1) };
                        s.next = Instant::now() + next_check(interval, s.failures, MAX_BACKOFF, jitter());
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    let Some(interval) = this.settings.interval else {
                        next_list = Instant::now() + relist;
                        continue;
                    };
                    if Instant::now() >= next_list {
                        next_list = Instant::now() + relist;
                        match this.store.call(|db| db.list_services()).await {
                            Ok(services) => relisted(&mut watched, services, interval),
                            Err(e) => tracing::warn!(error = %e, "cannot list the services to watch; trying again"),
                        }
                    }
                    let now = Instant::now();
                    for (id, (service, schedule)) in &watched {
                        if schedule.next > now || looking.contains_key(id) {
                            continue;
                        }
                        let (this, permits, service) = (this.clone(), permits.clone(), service.clone());
                        let task = looks.spawn(async move {
                            let id = service.id.clone();
                            let Ok(_permit) = permits.acquire_owned().await else { return (id, false) };
                            (id, this.look(service).await)
                        });
                        looking.insert(id.clone(), task.id());
                    }
                }
            }
        }
        looks.abort_all();
    }

    async fn catch_up(&self, id: ServiceId) {
        match self.commands.catch_up(id.clone()).await {
            Ok(outcome) => tracing::debug!(service = %id, ?outcome, "caught up"),
            Err(e) => tracing::debug!(service = %id, error = %e, "no catch-up"),
        }
    }

    /// Looks at one service's branch or tag; whether it answered.
    async fn look(&self, service: Service) -> bool {
        let found = match &service.spec.source {
            Source::Code(code) => match crate::connection::credentials(&self.store, code).await {
                Err(e) => Err(e.to_string()),
                Ok(credentials) => {
                    let workdir = self.settings.data_dir.join("git").join(service.id.as_str());
                    let request = FetchRequest {
                        repository: &code.repository,
                        branch: &code.branch,
                        commit: None,
                        credentials: credentials.as_ref(),
                        workdir: &workdir,
                        timeout: self.settings.timeout,
                    };
                    ferry_build::branch_head(&request)
                        .await
                        .map(SourceVersion::Commit)
                        .map_err(|e| e.to_string())
                }
            },
            Source::Image(image) => {
                let lookup = self.runtime.resolve(&image.image, image.credentials.as_ref());
                match tokio::time::timeout(self.settings.timeout, lookup).await {
                    Ok(result) => result.map(SourceVersion::Digest).map_err(|e| e.to_string()),
                    Err(_) => Err(format!(
                        "the registry did not answer within {} s",
                        self.settings.timeout.as_secs()
                    )),
                }
            }
        };
        let now = Timestamp::now();
        let (id, error) = (service.id.clone(), found.as_ref().err().cloned());
        if let Some(e) = &error {
            tracing::info!(service = %service.name, error = %e, "cannot look at the watched source");
        }
        self.store.submit("record a look at a watched source", move |db| {
            db.record_check(&id, now, error.as_deref())
        });
        let Ok(version) = found else { return false };
        let id = service.id.clone();
        let seen = self.store.call(move |db| Ok::<_, StoreError>(db.watch(&id)?.seen)).await;
        let outcome = match seen {
            Ok(Some(seen)) if seen.version == version => self.commands.catch_up(service.id.clone()).await,
            Ok(_) => {
                let seen = Seen { version, at: now, via: Via::Poll, author: None, subject: None };
                self.commands.source_changed(service.id.clone(), seen).await
            }
            Err(e) => {
                tracing::warn!(service = %service.name, error = %e, "cannot read the watched source's state");
                return true;
            }
        };
        match outcome {
            Ok(PushOutcome::Deploying(o)) => {
                tracing::info!(service = %service.name, operation = %o.operation.id, "a poll found a new version")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(service = %service.name, error = %e, "a poll's push was not taken"),
        }
        true
    }
}

/// Takes a new list of the services in: the watched ones keep their schedules (with their sources as now
/// configured), new ones are first looked at within one interval, spread so that many services made
/// together are not asked together, and the others leave.
fn relisted(
    watched: &mut HashMap<ServiceId, (Service, Schedule)>,
    services: Vec<Service>,
    interval: Duration,
) {
    let mut next: HashMap<ServiceId, (Service, Schedule)> = HashMap::new();
    let now = Instant::now();
    for service in services.into_iter().filter(is_watched) {
        let schedule = match watched.remove(&service.id) {
            Some((_, schedule)) => schedule,
            None => Schedule { next: now + interval.mul_f64(jitter()), failures: 0 },
        };
        next.insert(service.id.clone(), (service, schedule));
    }
    *watched = next;
}

/// Whether a service's source is looked at: automatic deployments on, a tag to follow (not a digest), and
/// a service that can deploy.
fn is_watched(service: &Service) -> bool {
    let follows = match &service.spec.source {
        Source::Image(i) => i.image.digest().is_none(),
        Source::Code(_) => true,
    };
    service.spec.source.auto_deploy()
        && follows
        && matches!(service.status, ServiceStatus::Running | ServiceStatus::OperationInProgress)
}

/// A number in `[0, 1)`, different each call.
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
