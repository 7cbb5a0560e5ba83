//! The watcher on the recording fake engine, an in-memory store, a recording control plane and tokio's
//! paused clock (the store's calls run on the blocking pool, which holds the paused clock still while
//! they run). Operations are ended by hand, as the controller would end them; a look at a tag is the
//! fake's `resolve`, answered with [`FakeRuntime::digest`] of the reference unless scripted otherwise.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_command::{Command, Commands, Dispatch, PushOutcome};
use ferry_model::{
    ImageRef, Operation, OperationStatus, OperationType, Seen, ServiceId, ServiceName, ServiceSpec,
    ServiceStatus, SourceVersion, SourceWatch, Timestamp, Trigger, Via,
};
use ferry_runtime::fake::{Call, FakeRuntime};
use ferry_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{WatchSettings, Watcher};

const WEB: &str = "127.0.0.1:5000/web:v1";
const INTERVAL: Duration = Duration::from_secs(60);
/// How often the tests look at what the watcher did, on the paused clock.
const STEP: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Recorder(Mutex<Vec<ServiceId>>);

impl Dispatch for Recorder {
    fn queued(&self, service: &ServiceId) {
        self.0.lock().unwrap().push(service.clone());
    }
}

struct Fixture {
    store: Store,
    commands: Commands,
    recorder: Arc<Recorder>,
    runtime: Arc<FakeRuntime>,
    shutdown: CancellationToken,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let store = Store::in_memory().unwrap();
        let recorder = Arc::new(Recorder::default());
        Self {
            commands: Commands::new(store.clone(), recorder.clone()),
            store,
            recorder,
            runtime: Arc::new(FakeRuntime::new()),
            shutdown: CancellationToken::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Polls every `interval` (`None`: never), at most `concurrency` at a time, each look taking at most
    /// ten seconds.
    fn settings(&self, interval: Option<Duration>, concurrency: usize) -> WatchSettings {
        WatchSettings {
            interval,
            concurrency,
            timeout: Duration::from_secs(10),
            data_dir: self.dir.path().to_owned(),
        }
    }

    /// Starts the watcher; the sender is what the controllers tell when a service's operations end. It
    /// holds one id: a second send returns once the watcher took the first in.
    fn start(&self, settings: WatchSettings) -> (JoinHandle<()>, mpsc::Sender<ServiceId>) {
        let (ended, rx) = mpsc::channel(1);
        let watcher = Watcher {
            store: self.store.clone(),
            commands: self.commands.clone(),
            runtime: self.runtime.clone(),
            settings,
            shutdown: self.shutdown.clone(),
        };
        (tokio::spawn(watcher.run(rx)), ended)
    }

    /// Creates a service of `image` through the command layer; its create operation is still queued.
    async fn create(&self, name: &str, image: &str, auto_deploy: bool) -> ServiceId {
        let mut spec = ServiceSpec::for_image(ImageRef::parse(image).unwrap());
        spec.source.set_auto_deploy(auto_deploy);
        let command = Command::Create { name: ServiceName::parse(name).unwrap(), spec: Box::new(spec) };
        self.commands.execute(command, Trigger::Manual).await.unwrap().service.id
    }

    /// Ends the service's operations as the controller does when they succeed: the newest revision
    /// serves, with `digest` as what its tag resolved to, and the service is running. Nobody tells the
    /// watcher.
    async fn settle(&self, id: &ServiceId, digest: Option<String>) {
        let id = id.clone();
        self.store
            .call(move |db| {
                let now = Timestamp::now();
                let newest = db.next_revision_number(&id)? - 1;
                if let Some(digest) = &digest {
                    db.set_revision_image(&id, newest, Some(digest), "sha256:image")?;
                }
                db.activate_revision(&id, newest, now)?;
                for mut op in db.unfinished_operations(&id)? {
                    (op.status, op.ended_at, op.updated_at) = (OperationStatus::Succeeded, Some(now), now);
                    db.update_operation(&op)?;
                }
                db.set_service_status(&id, ServiceStatus::Running, now)
            })
            .await
            .unwrap();
    }

    /// Creates a service and settles it, its newest revision running `digest`.
    async fn running(&self, name: &str, image: &str, auto_deploy: bool, digest: Option<String>) -> ServiceId {
        let id = self.create(name, image, auto_deploy).await;
        self.settle(&id, digest).await;
        id
    }

    async fn watch(&self, id: &ServiceId) -> SourceWatch {
        let id = id.clone();
        self.store.call(move |db| db.watch(&id)).await.unwrap()
    }

    /// Newest first.
    async fn operations(&self, id: &ServiceId) -> Vec<Operation> {
        let id = id.clone();
        self.store.call(move |db| db.operations(&id, 100)).await.unwrap()
    }

    /// The references the fake was asked to resolve, in order.
    fn resolved(&self) -> Vec<String> {
        let calls = self.runtime.calls().into_iter();
        calls.filter_map(|c| if let Call::Resolve(r) = c { Some(r) } else { None }).collect()
    }

    fn resolves_of(&self, image: &str) -> usize {
        self.resolved().iter().filter(|r| *r == image).count()
    }

    fn told(&self) -> Vec<ServiceId> {
        self.recorder.0.lock().unwrap().clone()
    }

    /// Polls every [`STEP`] of the paused clock until `check` gives something; fails after `within`.
    async fn until<T>(
        &self,
        what: &str,
        within: Duration,
        mut check: impl AsyncFnMut(&Self) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = check(self).await {
                return found;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(STEP).await;
        }
    }

    /// Waits until `image` was resolved `n` times, noting when (to within a [`STEP`]) each resolve past
    /// the `times.len()` already noted was asked.
    async fn resolve_times(&self, image: &str, times: &mut Vec<Instant>, n: usize, within: Duration) {
        self.until(&format!("{n} resolves of {image}"), within, async |f| {
            while times.len() < f.resolves_of(image).min(n) {
                times.push(Instant::now());
            }
            (times.len() == n).then_some(())
        })
        .await;
    }
}

fn seen(digest: &str, via: Via) -> Seen {
    Seen {
        version: SourceVersion::Digest(digest.to_owned()),
        at: Timestamp::now(),
        via,
        author: None,
        subject: None,
    }
}

/// Waits until the wall clock (what `checked_at` is written with) is past `t`, a millisecond at most; the
/// paused clock stays where it is (the test never idles).
async fn wall_clock_past(t: Timestamp) {
    while Timestamp::now() <= t {
        tokio::task::yield_now().await;
    }
}

/// `gaps[k]` is how long after the k-th look the next one came, each within what `next_check` allows
/// after `failures[k]` failures in a row (give or take a [`STEP`] of sampling).
fn assert_gaps(times: &[Instant], failures: &[u32]) {
    for (k, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let longest = INTERVAL * (1 << failures[k]);
        assert!(
            gap + STEP >= longest.mul_f64(0.8) && gap <= longest + STEP,
            "look {} came {gap:?} after the one before; after {} failures it comes within 80-100% of {longest:?}",
            k + 1,
            failures[k],
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_digest_under_a_watched_tag_is_deployed_once() {
    let f = Fixture::new();
    let older = FakeRuntime::digest("127.0.0.1:5000/web:older");
    let id = f.running("web", WEB, true, Some(older)).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));

    let ops = f
        .until("a deployment", 2 * INTERVAL, async |f| {
            let ops = f.operations(&id).await;
            (ops.len() == 2).then_some(ops)
        })
        .await;
    let new = FakeRuntime::digest(WEB);
    let want = Trigger::ImagePush { digest: new.clone(), via: Via::Poll };
    assert_eq!(
        (ops[0].kind, ops[0].revision, &ops[0].trigger),
        (OperationType::StartDeployment, Some(2), &want)
    );
    assert_eq!(ops[0].status, OperationStatus::Pending);
    assert_eq!(f.told(), [id.clone(), id.clone()], "the create, then the push");
    let watch = f.watch(&id).await;
    assert!(watch.checked_at.is_some() && watch.check_error.is_none(), "{watch:?}");
    let seen = watch.seen.expect("the digest is recorded");
    assert_eq!((seen.version, seen.via), (SourceVersion::Digest(new), Via::Poll));

    // Later looks, while it deploys and after, find the digest the newest revision has.
    let looks = f.resolves_of(WEB);
    tokio::time::sleep(2 * INTERVAL).await;
    f.settle(&id, None).await;
    tokio::time::sleep(2 * INTERVAL).await;
    assert!(f.resolves_of(WEB) >= looks + 3, "it kept looking: {:?}", f.resolved());
    assert_eq!(f.operations(&id).await.len(), 2, "one deployment");
    assert_eq!(f.told().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_digest_the_newest_revision_runs_is_recorded_and_not_deployed() {
    let f = Fixture::new();
    let id = f.running("web", WEB, true, Some(FakeRuntime::digest(WEB))).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));

    let first = f.until("a look", 2 * INTERVAL, async |f| f.watch(&id).await.checked_at).await;
    let watch = f.watch(&id).await;
    assert_eq!(watch.check_error, None);
    let seen = watch.seen.expect("what was found is recorded");
    assert_eq!((seen.version, seen.via), (SourceVersion::Digest(FakeRuntime::digest(WEB)), Via::Poll));

    wall_clock_past(first).await;
    let looks = f.resolves_of(WEB);
    let next = f
        .until("another look", 2 * INTERVAL, async |f| {
            let at = f.watch(&id).await.checked_at?;
            (at > first).then_some(at)
        })
        .await;
    assert!(f.resolves_of(WEB) > looks);
    assert!(next > first);
    assert_eq!(f.operations(&id).await.len(), 1, "only the create");
    assert_eq!(f.told(), [id]);
}

#[tokio::test(start_paused = true)]
async fn a_tag_the_registry_refuses_records_why_and_is_asked_less_and_less_often() {
    let f = Fixture::new();
    f.runtime.fail_pulls(WEB, "manifest unknown");
    let id = f.running("web", WEB, true, Some(FakeRuntime::digest("older"))).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));

    let mut times = Vec::new();
    f.resolve_times(WEB, &mut times, 5, 40 * INTERVAL).await;
    assert_gaps(&times, &[1, 2, 3, 4]);
    let watch = f.watch(&id).await;
    assert_eq!(
        watch.check_error.as_deref(),
        Some("image 127.0.0.1:5000/web:v1 could not be resolved to a digest: manifest unknown")
    );
    assert!(watch.checked_at.is_some());
    assert_eq!(watch.seen, None, "nothing was found");
    assert_eq!(f.operations(&id).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_registry_that_answers_again_clears_the_error_and_the_back_off() {
    let f = Fixture::new();
    f.runtime.set_unavailable(Some("registry down"));
    let id = f.running("web", WEB, true, Some(FakeRuntime::digest("older"))).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));

    let mut times = Vec::new();
    f.resolve_times(WEB, &mut times, 3, 20 * INTERVAL).await;
    let error = f.until("the error", STEP * 5, async |f| f.watch(&id).await.check_error).await;
    assert_eq!(error, "the container engine is not reachable: registry down");

    // The look already scheduled (eight intervals after three failures) is the one that finds it back.
    f.runtime.set_unavailable(None);
    f.resolve_times(WEB, &mut times, 5, 20 * INTERVAL).await;
    assert_gaps(&times, &[1, 2, 3, 0]);
    let watch = f
        .until("the error to clear", STEP * 5, async |f| {
            let w = f.watch(&id).await;
            w.check_error.is_none().then_some(w)
        })
        .await;
    assert_eq!(watch.seen.map(|s| s.version), Some(SourceVersion::Digest(FakeRuntime::digest(WEB))));
    assert_eq!(f.operations(&id).await.len(), 2, "the digest found deployed");
}

#[tokio::test(start_paused = true)]
async fn a_registry_that_does_not_answer_in_time_is_a_failed_look() {
    let f = Fixture::new();
    let gate = f.runtime.hold_resolves();
    let id = f.running("web", WEB, true, None).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));

    let error = f.until("the timeout", 2 * INTERVAL, async |f| f.watch(&id).await.check_error).await;
    assert_eq!(error, "the registry did not answer within 10 s");
    assert_eq!(f.resolves_of(WEB), 1);
    // A failed look: the next waits twice the interval.
    gate.add_permits(10);
    let mut times = Vec::new();
    f.resolve_times(WEB, &mut times, 2, 10 * INTERVAL).await;
    assert!(times[1] - times[0] >= (2 * INTERVAL).mul_f64(0.8) - STEP, "{:?}", times[1] - times[0]);
    f.until("the error to clear", 5 * STEP, async |f| f.watch(&id).await.check_error.is_none().then_some(()))
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_service_made_while_the_watcher_runs_is_looked_at_within_an_interval_of_the_next_listing() {
    let f = Fixture::new();
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));
    tokio::time::sleep(3 * INTERVAL).await;
    let id = f.running("web", WEB, true, Some(FakeRuntime::digest(WEB))).await;
    let made = Instant::now();
    f.until("a look", 2 * INTERVAL, async |f| f.watch(&id).await.checked_at).await;
    // Listed again within five seconds, then looked at within the interval.
    assert!(Instant::now() - made <= INTERVAL + 5 * STEP + STEP, "{:?}", Instant::now() - made);
}

#[tokio::test(start_paused = true)]
async fn sources_that_are_not_followed_are_never_asked() {
    let f = Fixture::new();
    let off = f.running("off", "127.0.0.1:5000/off:v1", false, None).await;
    let pinned_ref = format!("127.0.0.1:5000/pinned@{}", FakeRuntime::digest("pinned"));
    let pinned = f.running("pinned", &pinned_ref, true, None).await;
    let paused = f.running("paused", "127.0.0.1:5000/paused:v1", true, None).await;
    let id = paused.clone();
    f.store
        .call(move |db| db.set_service_status(&id, ServiceStatus::Paused, Timestamp::now()))
        .await
        .unwrap();
    let web = f.running("web", WEB, true, Some(FakeRuntime::digest(WEB))).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));

    f.until("three looks at the followed tag", 5 * INTERVAL, async |f| {
        (f.resolves_of(WEB) >= 3).then_some(())
    })
    .await;
    let resolved = f.resolved();
    assert!(resolved.iter().all(|r| r == WEB), "{resolved:?}");
    for id in [&off, &pinned, &paused] {
        assert_eq!(f.watch(id).await, SourceWatch::new(id.clone()), "never looked at");
        assert_eq!(f.operations(id).await.len(), 1);
    }
    assert!(f.watch(&web).await.checked_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn at_most_concurrency_tags_are_asked_at_once() {
    let f = Fixture::new();
    let gate = f.runtime.hold_resolves();
    let mut ids = Vec::new();
    for i in 0..6 {
        let image = format!("127.0.0.1:5000/s{i}:v1");
        ids.push(f.running(&format!("s{i}"), &image, true, Some(FakeRuntime::digest(&image))).await);
    }
    let settings = WatchSettings { timeout: Duration::from_secs(86_400), ..f.settings(Some(INTERVAL), 2) };
    let (_watcher, _ended) = f.start(settings);

    f.until("two resolves", 2 * INTERVAL, async |f| (f.resolved().len() == 2).then_some(())).await;
    // Every service is due by now; the two asked hold both turns.
    tokio::time::sleep(3 * INTERVAL).await;
    assert_eq!(f.resolved().len(), 2, "{:?}", f.resolved());
    // Each answer lets exactly one more ask: answered + two are asked, never more.
    for answered in 1..=4 {
        gate.add_permits(1);
        f.until("the next resolve", 5 * STEP, async |f| (f.resolved().len() == answered + 2).then_some(()))
            .await;
        tokio::time::sleep(5 * STEP).await;
        assert_eq!(f.resolved().len(), answered + 2, "{:?}", f.resolved());
    }
    gate.add_permits(1000);
    for id in &ids {
        f.until("every service looked at", 2 * INTERVAL, async |f| f.watch(id).await.checked_at).await;
    }
    let mut asked = f.resolved();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), 6, "{asked:?}");
}

#[tokio::test(start_paused = true)]
async fn a_push_kept_during_an_operation_deploys_when_the_watcher_hears_it_ended() {
    let f = Fixture::new();
    let id = f.create("web", WEB, true).await;
    let pushed = FakeRuntime::digest("127.0.0.1:5000/web:pushed");
    let outcome = f.commands.source_changed(id.clone(), seen(&pushed, Via::Webhook)).await.unwrap();
    assert!(matches!(outcome, PushOutcome::Waiting { .. }), "{outcome:?}");
    // No polls: only what the controllers say moves the watcher.
    let (_watcher, ended) = f.start(f.settings(None, 4));
    // Once the watcher takes an id in, it is past its start-up catch-up (the create is still queued).
    for _ in 0..2 {
        ended.send(ServiceId::generate()).await.unwrap();
    }
    assert_eq!(f.operations(&id).await.len(), 1);

    f.settle(&id, None).await;
    tokio::time::sleep(10 * INTERVAL).await;
    assert_eq!(f.operations(&id).await.len(), 1, "nothing happens until the watcher is told");
    ended.send(id.clone()).await.unwrap();
    let ops = f
        .until("a deployment", 5 * STEP, async |f| {
            let ops = f.operations(&id).await;
            (ops.len() == 2).then_some(ops)
        })
        .await;
    assert_eq!(ops[0].trigger, Trigger::ImagePush { digest: pushed, via: Via::Webhook });
    assert_eq!(f.told(), [id.clone(), id]);
    assert!(f.resolved().is_empty(), "never polled");
}

#[tokio::test(start_paused = true)]
async fn a_push_whose_catch_up_was_missed_deploys_when_the_watcher_starts() {
    let f = Fixture::new();
    let id = f.create("web", WEB, true).await;
    let pushed = FakeRuntime::digest("127.0.0.1:5000/web:pushed");
    f.commands.source_changed(id.clone(), seen(&pushed, Via::Notification)).await.unwrap();
    // The operation ends, and the server stops before it tells the watcher.
    f.settle(&id, None).await;
    let (_watcher, _ended) = f.start(f.settings(None, 4));
    let ops = f
        .until("a deployment", 5 * STEP, async |f| {
            let ops = f.operations(&id).await;
            (ops.len() == 2).then_some(ops)
        })
        .await;
    assert_eq!(ops[0].trigger, Trigger::ImagePush { digest: pushed, via: Via::Notification });
}

#[tokio::test(start_paused = true)]
async fn a_poll_that_finds_nothing_new_catches_up_a_missed_signal() {
    let f = Fixture::new();
    let id = f.create("web", WEB, true).await;
    let (_watcher, _ended) = f.start(f.settings(Some(INTERVAL), 4));
    // The registry told of the digest the tag has while the create ran; the create's end was not heard.
    let outcome = f
        .commands
        .source_changed(id.clone(), seen(&FakeRuntime::digest(WEB), Via::Notification))
        .await
        .unwrap();
    assert!(matches!(outcome, PushOutcome::Waiting { .. }), "{outcome:?}");
    f.settle(&id, None).await;
    let ops = f
        .until("a deployment", 3 * INTERVAL, async |f| {
            let ops = f.operations(&id).await;
            (ops.len() == 2).then_some(ops)
        })
        .await;
    let want = Trigger::ImagePush { digest: FakeRuntime::digest(WEB), via: Via::Notification };
    assert_eq!(ops[0].trigger, want, "the kept push, caught up");
}

#[tokio::test(start_paused = true)]
async fn cancelling_ends_the_watcher_with_looks_in_flight() {
    let f = Fixture::new();
    let _gate = f.runtime.hold_resolves();
    f.running("web", WEB, true, None).await;
    let settings = WatchSettings { timeout: Duration::from_secs(86_400), ..f.settings(Some(INTERVAL), 4) };
    let (watcher, _ended) = f.start(settings);
    f.until("a look in flight", 2 * INTERVAL, async |f| (f.resolves_of(WEB) == 1).then_some(())).await;

    f.shutdown.cancel();
    tokio::time::timeout(STEP, watcher).await.expect("the watcher ends at once").unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancelling_an_idle_watcher_ends_it() {
    let f = Fixture::new();
    let (watcher, _ended) = f.start(f.settings(None, 4));
    tokio::time::sleep(STEP).await;
    f.shutdown.cancel();
    tokio::time::timeout(STEP, watcher).await.expect("the watcher ends at once").unwrap();
}
