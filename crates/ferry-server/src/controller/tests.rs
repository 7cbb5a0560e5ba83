//! The controller on the recording fake engine, an in-memory store and (mostly) tokio's paused clock:
//! rollouts, crash loops, adoption after a restart, rollbacks, deadlines, and health checks that never go
//! through a published port.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_command::{Command, Commands, Target};
use ferry_model::{
    EnvVars, HealthCheckConfiguration, ImageRef, InstanceState, Operation, OperationId, OperationStatus,
    ServiceName, ServiceSpec, ServiceStatus, Trigger,
};
use ferry_router::{RouteTarget, Router, RouterConfig};
use ferry_runtime::LogStream;
use ferry_runtime::fake::{Call, FakeRuntime};
use ferry_store::Store;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ControlHandle, Controller, Settings, Shared};
use crate::clock::{Clock, TokioClock};
use crate::health::{NetworkProbe, Probe, ProbeError};

/// Health checks answered from what the fake engine knows: a container whose environment says
/// `FAKE_HEALTH=fail`, or of a service put on hold, fails its checks; every other passes.
struct FakeProbe {
    runtime: Arc<FakeRuntime>,
    held: Mutex<HashSet<String>>,
}

#[async_trait]
impl Probe for FakeProbe {
    async fn check(&self, addr: SocketAddr, _: &HealthCheckConfiguration) -> Result<(), ProbeError> {
        let container = self.runtime.containers().into_iter().find(|c| c.network_address == Some(addr));
        let Some(spec) = container.and_then(|c| self.runtime.spec(&c.id)) else {
            return Err(ProbeError::Connect { addr, reason: "Connection refused".into() });
        };
        let held = self.held.lock().unwrap().contains(spec.identity.service_name.as_str());
        if held || spec.env.iter().any(|(k, v)| k == "FAKE_HEALTH" && v == "fail") {
            return Err(ProbeError::Status { path: "/".into(), status: 503 });
        }
        Ok(())
    }
}

struct Harness {
    runtime: Arc<FakeRuntime>,
    probe: Arc<FakeProbe>,
    store: Store,
    commands: Commands,
    router: Arc<Router>,
    metrics: Arc<crate::metrics::Registry>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        domain: "localhost".into(),
        deploy_timeout: Duration::from_secs(300),
        stop_grace: Duration::from_secs(1),
        drain_timeout: Duration::from_secs(1),
        keep_revisions: 5,
        data_dir: dir.to_owned(),
        runtime_images: ferry_build::RuntimeImages::defaults(),
        build_registry: None,
        build_timeout: Duration::from_secs(60),
        resync: Duration::from_secs(15),
        hold: Duration::from_secs(30),
        scaling: Default::default(),
        internal_url: None,
    }
}

impl Harness {
    /// A controller on the fake engine whose health checks come from the fake probe.
    async fn start() -> Self {
        let runtime = Arc::new(FakeRuntime::new());
        let probe = Arc::new(FakeProbe { runtime: runtime.clone(), held: Mutex::default() });
        Self::start_with(runtime.clone(), probe.clone(), probe, Store::in_memory().unwrap(), settings).await
    }

    async fn start_with(
        runtime: Arc<FakeRuntime>,
        fake_probe: Arc<FakeProbe>,
        probe: Arc<dyn Probe>,
        store: Store,
        settings: impl FnOnce(&std::path::Path) -> Settings,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = CancellationToken::new();
        let router = Router::new(RouterConfig::default());
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
        let metrics = crate::metrics::Registry::new(
            Duration::from_secs(10),
            clock.clone(),
            vec![("public", router.clone())],
        );
        let controller = Controller::new(Shared {
            store: store.clone(),
            runtime: runtime.clone(),
            probe,
            clock: clock.clone(),
            routes: Arc::new(crate::routes::RouteBook::new(router.clone(), None, None, Default::default())),
            logs: crate::logs::LogHub::new(dir.path().join("logs"), shutdown.clone()).unwrap(),
            settings: settings(dir.path()),
            shutdown: shutdown.clone(),
            metrics: metrics.clone(),
            builds: tokio::sync::Semaphore::new(1),
            ended: tokio::sync::mpsc::channel(16).0,
        });
        controller.start().await.unwrap();
        tokio::spawn(controller.clone().watch_events());
        let commands = Commands::new(store.clone(), Arc::new(ControlHandle(controller)));
        Self { runtime, probe: fake_probe, store, commands, router, metrics, shutdown, _dir: dir }
    }

    async fn run(&self, command: Command) -> Operation {
        self.commands.execute(command, Trigger::Manual).await.unwrap().operation
    }

    async fn create(&self, name: &str, image: &str, instances: u32, env: &[(&str, &str)]) -> Operation {
        let mut spec = ServiceSpec::for_image(ImageRef::parse(image).unwrap());
        spec.instances = instances;
        spec.source.config_mut().env =
            EnvVars::new(env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap();
        self.run(Command::Create { name: ServiceName::parse(name).unwrap(), spec: Box::new(spec) }).await
    }

    async fn update_image(&self, name: &str, image: &str, instances: u32) -> Operation {
        let image = ImageRef::parse(image).unwrap();
        let change = Box::new(move |spec: &ServiceSpec| {
            let mut spec = spec.clone();
            if let ferry_model::Source::Image(source) = &mut spec.source {
                source.image = image;
            }
            spec.instances = instances;
            Ok(spec)
        });
        self.run(Command::Update { service: Target::Name(name.into()), change }).await
    }

    /// Waits (on the clock the test runs on) until the operation ends.
    async fn wait(&self, op: &OperationId) -> Operation {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let id = op.clone();
            let found = self.store.call(move |db| db.operation(&id)).await.unwrap().unwrap();
            if found.status.is_terminal() {
                return found;
            }
            assert!(Instant::now() < deadline, "operation {op} did not end: {found:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn events(&self, op: &OperationId) -> Vec<String> {
        let id = op.clone();
        let events = self.store.call(move |db| db.events(&id, 0, 10_000)).await.unwrap();
        events.into_iter().map(|e| e.message).collect()
    }

    async fn service(&self, name: &str) -> ferry_model::Service {
        let name = name.to_owned();
        self.store.call(move |db| db.service_by_name(&name)).await.unwrap().unwrap()
    }

    /// The addresses the router sends `name`'s requests to.
    fn endpoints(&self, name: &str) -> Option<Vec<SocketAddr>> {
        let routes = self.router.routes();
        let route = routes.get(&format!("{name}.localhost"))?;
        match &route.target {
            RouteTarget::Instances(endpoints) => Some(endpoints.iter().map(|e| e.addr()).collect()),
            _ => None,
        }
    }

    fn running(&self) -> Vec<ferry_runtime::ContainerInfo> {
        self.runtime.containers().into_iter().filter(|c| c.running).collect()
    }

    /// Polls (on the test's clock) until `check` holds.
    async fn until<T>(&self, what: &str, mut check: impl FnMut(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

const WEB_V1: &str = "127.0.0.1:5000/web:v1";
const WEB_V2: &str = "127.0.0.1:5000/web:v2";

#[tokio::test(start_paused = true)]
async fn a_rollout_keeps_the_old_revision_serving_until_every_new_instance_is_ready() {
    let h = Harness::start().await;
    let created = h.create("web", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    let old = h.endpoints("web").expect("a route");
    assert_eq!(old.len(), 1);
    let old_container = h.running()[0].id.clone();

    // The new revision's instances start, but are not healthy yet.
    h.probe.held.lock().unwrap().insert("web".into());
    let update = h.update_image("web", WEB_V2, 2).await;
    h.until("two new instances", |h| (h.running().len() == 3).then_some(())).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.endpoints("web").unwrap(), old, "the old revision serves alone while the new one starts");

    h.probe.held.lock().unwrap().clear();
    let done = h.wait(&update.id).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", h.events(&update.id).await);
    let new = h.endpoints("web").unwrap();
    assert_eq!(new.len(), 2);
    assert!(!new.contains(&old[0]), "the old instance left the pool");
    h.until("the old container to be removed", |h| {
        (!h.runtime.containers().iter().any(|c| c.id == old_container)).then_some(())
    })
    .await;
    let service = h.service("web").await;
    assert_eq!((service.status, service.active_revision), (ServiceStatus::Running, Some(2)));
    let events = h.events(&update.id).await;
    assert!(events.iter().any(|e| e.contains("Triggering event : SERVICE_UPDATE")), "{events:?}");
    assert!(
        events.iter().any(|e| e.starts_with("Pulling image 127.0.0.1:5000/web:v2@sha256:")),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crash_loop_backs_off_longer_each_time() {
    let h = Harness::start().await;
    let created = h.create("crashy", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    let mut gaps = Vec::new();
    for _ in 0..5 {
        let victim = h.until("a ready instance", |h| h.endpoints("crashy").filter(|e| !e.is_empty())).await;
        let container = h.running().into_iter().find(|c| c.address == Some(victim[0])).unwrap();
        // The app passed its health check, then crashes.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(h.runtime.die(&container.id, 1));
        let died = Instant::now();
        h.until("a replacement", |h| h.running().iter().any(|c| c.id != container.id).then_some(())).await;
        gaps.push(died.elapsed());
    }
    let secs: Vec<f64> = gaps.iter().map(Duration::as_secs_f64).collect();
    for (gap, want) in secs.iter().zip([1.0, 2.0, 4.0, 8.0, 16.0]) {
        assert!(*gap >= want && *gap < want + 0.5, "waits before each restart: {secs:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_controller_adopts_and_serves_what_runs_without_starting_anything() {
    let h = Harness::start().await;
    let created = h.create("keep", WEB_V1, 2, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    let served = h.endpoints("keep").unwrap();
    let containers: Vec<String> = h.running().into_iter().map(|c| c.id).collect();
    h.shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.runtime.take_calls();

    let probe = h.probe.clone();
    let again = Harness::start_with(h.runtime.clone(), probe.clone(), probe, h.store.clone(), settings).await;
    // Served as soon as start() returned: no health check was waited for.
    let mut adopted = again.endpoints("keep").expect("the route is there at once");
    adopted.sort();
    let mut served = served;
    served.sort();
    assert_eq!(adopted, served);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!again.runtime.calls().iter().any(|c| matches!(c, Call::Run(_))), "nothing new was started");
    let now: Vec<String> = again.running().into_iter().map(|c| c.id).collect();
    assert_eq!(now, containers);
    let id = created.service_id.clone();
    let rows = again.store.call(move |db| db.instances(&id)).await.unwrap();
    assert!(rows.iter().all(|r| r.state == InstanceState::Ready), "{rows:?}");

    // And the adopted service is still managed: a crash is replaced.
    assert!(again.runtime.die(&containers[0], 9));
    again
        .until("a replacement", |h| {
            (h.running().len() == 2 && h.running()[1].id != containers[1]).then_some(())
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_rolls_back_and_the_old_revision_never_stops() {
    let h = Harness::start().await;
    let created = h.create("web", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    let old = h.running()[0].id.clone();
    h.runtime.exit_on_start(WEB_V2, 3, &[(LogStream::Stderr, "fatal: configured to exit")]);
    let update = h.update_image("web", WEB_V2, 1).await;
    let done = h.wait(&update.id).await;
    assert_eq!(done.status, OperationStatus::RollbackSucceeded);
    assert!(done.error.as_deref().unwrap().contains("exited with code 3"), "{done:?}");
    let events = h.events(&update.id).await;
    assert!(
        events.iter().any(|e| e.contains("fatal: configured to exit")),
        "the app's last lines: {events:?}"
    );
    let service = h.service("web").await;
    assert_eq!((service.status, service.active_revision), (ServiceStatus::Running, Some(1)));
    assert_eq!(service.spec.source.image().unwrap().image.to_string(), WEB_V1, "the desired spec is back");
    assert!(h.running().iter().any(|c| c.id == old), "the serving instance was never stopped");
    assert!(!h.runtime.calls().iter().any(|c| matches!(c, Call::Stop(id, _) if *id == old)));

    // A rollback asked for by hand goes back without pulling again, and says so.
    let update = h.update_image("web", WEB_V1.replace("v1", "v3").as_str(), 1).await;
    assert_eq!(h.wait(&update.id).await.status, OperationStatus::Succeeded);
    let back = h.run(Command::Rollback { service: Target::Name("web".into()), to: None }).await;
    assert_eq!(back.trigger, Trigger::Rollback);
    assert_eq!(h.wait(&back.id).await.status, OperationStatus::Succeeded);
    assert_eq!(h.service("web").await.active_revision, Some(1));
    let events = h.events(&back.id).await;
    assert!(events.iter().any(|e| e.contains("Triggering event : ROLLBACK")), "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn a_deployment_that_is_not_ready_by_its_deadline_fails() {
    let h = Harness::start().await;
    // Checks fail, but so slowly that the deadline (300 s) comes first.
    let mut spec = ServiceSpec::for_image(ImageRef::parse(WEB_V1).unwrap());
    spec.health_check.interval = 20;
    spec.health_check.unhealthy_threshold = 20;
    spec.source.config_mut().env = EnvVars::new([("FAKE_HEALTH".into(), "fail".into())].into()).unwrap();
    let started = Instant::now();
    let op = h.run(Command::Create { name: ServiceName::parse("late").unwrap(), spec: Box::new(spec) }).await;
    let done = h.wait(&op.id).await;
    assert_eq!(done.status, OperationStatus::Failed);
    assert_eq!(
        done.error.as_deref(),
        Some("0 of 1 instances became healthy before the deployment timed out")
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(300) && took < Duration::from_secs(302), "{took:?}");
    assert_eq!(h.service("late").await.status, ServiceStatus::CreateFailed);
    h.until("nothing running", |h| h.running().is_empty().then_some(())).await;
}

/// Accepts connections for `target` the way the engine's userland proxy does: it takes every connection,
/// then closes it when the target does not answer.
async fn userland_proxy(target: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    addr
}

/// Real sockets and the real probe, on the real clock.
#[tokio::test]
async fn an_instance_that_accepts_nothing_is_never_ready_even_behind_a_forwarder_that_accepts() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let listening = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listening.local_addr().unwrap();
    tokio::spawn(async move { while listening.accept().await.is_ok() {} });
    let (silent_proxy, live_proxy) = (userland_proxy(closed).await, userland_proxy(open).await);
    // The forwarder takes connections for the app that does not listen: a check there would pass.
    assert!(tokio::net::TcpStream::connect(silent_proxy).await.is_ok());

    let runtime = Arc::new(FakeRuntime::new());
    runtime.set_addresses("127.0.0.1:5000/silent:v1", Some(silent_proxy), Some(closed));
    runtime.set_addresses("127.0.0.1:5000/live:v1", Some(live_proxy), Some(open));
    let fake_probe = Arc::new(FakeProbe { runtime: runtime.clone(), held: Mutex::default() });
    let h =
        Harness::start_with(runtime, fake_probe, Arc::new(NetworkProbe), Store::in_memory().unwrap(), |d| {
            Settings { deploy_timeout: Duration::from_secs(20), ..settings(d) }
        })
        .await;
    let check = |spec: &mut ServiceSpec| {
        spec.health_check.interval = 1;
        spec.health_check.unhealthy_threshold = 2;
    };
    let mut silent = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/silent:v1").unwrap());
    check(&mut silent);
    let mut live = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/live:v1").unwrap());
    check(&mut live);
    let silent =
        h.run(Command::Create { name: ServiceName::parse("silent").unwrap(), spec: Box::new(silent) }).await;
    let live =
        h.run(Command::Create { name: ServiceName::parse("live").unwrap(), spec: Box::new(live) }).await;

    let done = h.wait(&silent.id).await;
    assert_eq!(done.status, OperationStatus::Failed, "{:?}", h.events(&silent.id).await);
    let error = done.error.unwrap();
    assert!(error.contains(&format!("cannot connect to {closed}")), "checked at its own address: {error}");
    let events = h.events(&silent.id).await;
    assert!(!events.iter().any(|e| e.contains("is healthy")), "never ready: {events:?}");
    assert_eq!(h.service("silent").await.status, ServiceStatus::CreateFailed);

    // The same forwarder in front of an app that listens: ready, and served through the published port.
    assert_eq!(h.wait(&live.id).await.status, OperationStatus::Succeeded);
    assert_eq!(h.endpoints("live").unwrap(), [live_proxy]);
}

/// Another process holds the database while a deployment runs: the controller's writes fail, it tries
/// again, and once the lock is gone the deployment ends as it would have, with its log written once.
#[tokio::test(start_paused = true)]
async fn a_locked_database_delays_a_deployment_which_then_ends_with_its_log_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let mut db = ferry_store::Db::open(&path, ferry_store::Sealer::ephemeral().unwrap()).unwrap();
    db.set_busy_timeout(Duration::from_millis(50)).unwrap();
    let runtime = Arc::new(FakeRuntime::new());
    let probe = Arc::new(FakeProbe { runtime: runtime.clone(), held: Mutex::default() });
    let h = Harness::start_with(runtime, probe.clone(), probe, Store::new(db), settings).await;
    let created = h.create("web", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);

    let update = h.update_image("web", WEB_V2, 1).await;
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let id = update.id.clone();
    let during = h.store.call(move |db| db.operation(&id)).await.unwrap().unwrap();
    assert!(!during.status.is_terminal(), "nothing could be written while the database was held: {during:?}");
    other.execute_batch("COMMIT").unwrap();

    let done = h.wait(&update.id).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", h.events(&update.id).await);
    let events = h.events(&update.id).await;
    for line in [
        "started. Triggering event",
        "Deployment completed successfully.",
        "Service status is set to RUNNING.",
    ] {
        assert_eq!(events.iter().filter(|e| e.contains(line)).count(), 1, "{line:?} once: {events:?}");
    }
    assert_eq!(h.service("web").await.active_revision, Some(2));
}

#[tokio::test(start_paused = true)]
async fn a_change_queued_behind_a_deployment_stays_desired_when_that_deployment_ends() {
    let h = Harness::start().await;
    let created = h.create("web", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    let env = |name: &'static str, value: &'static str| {
        Box::new(move |spec: &ServiceSpec| {
            let mut spec = spec.clone();
            let mut vars: std::collections::BTreeMap<String, String> =
                spec.source.config().env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            vars.insert(name.into(), value.into());
            spec.source.config_mut().env = EnvVars::new(vars)?;
            Ok(spec)
        })
    };
    let a = h.run(Command::Update { service: Target::Name("web".into()), change: env("A", "1") }).await;
    // B, queued behind A, will not get healthy for a while.
    h.run(Command::Update { service: Target::Name("web".into()), change: env("FAKE_HEALTH", "fail") }).await;
    assert_eq!(h.wait(&a.id).await.status, OperationStatus::Succeeded);
    let desired = h.service("web").await.spec;
    assert_eq!(
        desired.source.config().env.get("FAKE_HEALTH"),
        Some("fail"),
        "B is still desired: {desired:?}"
    );
    assert_eq!(desired.source.config().env.get("A"), Some("1"));
}

#[tokio::test(start_paused = true)]
async fn old_revisions_of_the_same_image_are_not_pruned_and_roll_back_without_a_pull() {
    let h = Harness::start().await;
    let created = h.create("same", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    for i in 0..6 {
        let change = Box::new(move |spec: &ServiceSpec| {
            let mut spec = spec.clone();
            spec.source.config_mut().env = EnvVars::new([("ROUND".into(), i.to_string())].into())?;
            Ok(spec)
        });
        let op = h.run(Command::Update { service: Target::Name("same".into()), change }).await;
        assert_eq!(h.wait(&op.id).await.status, OperationStatus::Succeeded);
    }
    let id = created.service_id.clone();
    let revisions = h.store.call(move |db| db.revisions(&id)).await.unwrap();
    assert!(
        revisions.iter().all(|r| !r.image_pruned),
        "one image, kept by the newest revisions: {revisions:?}"
    );
    h.runtime.take_calls();
    let back = h.run(Command::Rollback { service: Target::Name("same".into()), to: Some(1) }).await;
    assert_eq!(h.wait(&back.id).await.status, OperationStatus::Succeeded);
    let calls = h.runtime.calls();
    assert!(!calls.iter().any(|c| matches!(c, Call::Pull(_) | Call::Resolve(_))), "{calls:?}");
    assert!(
        !calls.iter().any(|c| matches!(c, Call::RemoveImage(_))),
        "nothing of a kept image goes: {calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deleted_service_releases_its_network_and_a_restart_releases_those_left_behind() {
    use ferry_runtime::Instances as _;
    let h = Harness::start().await;
    let (gone, kept) = (h.create("gone", WEB_V1, 2, &[]).await, h.create("kept", WEB_V1, 1, &[]).await);
    assert_eq!(h.wait(&gone.id).await.status, OperationStatus::Succeeded);
    assert_eq!(h.wait(&kept.id).await.status, OperationStatus::Succeeded);
    assert_eq!(h.runtime.networks().len(), 2, "a network per service");

    let deleted = h.run(Command::Delete { service: Target::Name("gone".into()) }).await;
    assert_eq!(h.wait(&deleted.id).await.status, OperationStatus::Succeeded);
    let released = h.runtime.calls().contains(&Call::ReleaseService(gone.service_id.clone()));
    assert!(released, "the deletion released the network once its instances were gone");
    assert_eq!(h.runtime.networks(), vec![kept.service_id.clone()]);

    // A network left behind (say the engine was away when its service was deleted) goes at the next
    // start; the live service's stays.
    h.shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut orphan =
        h.runtime.containers().into_iter().find(|c| c.running).and_then(|c| h.runtime.spec(&c.id)).unwrap();
    orphan.identity.service_id = ferry_model::ServiceId::generate();
    orphan.identity.instance_id = ferry_model::InstanceId::generate();
    let left = h.runtime.run(&orphan).await.unwrap();
    h.runtime.remove(&left.id).await.unwrap();
    assert_eq!(h.runtime.networks().len(), 2);
    let probe = h.probe.clone();
    let again = Harness::start_with(h.runtime.clone(), probe.clone(), probe, h.store.clone(), settings).await;
    assert_eq!(again.runtime.networks(), vec![kept.service_id.clone()]);
}

/// Secrets reaching containers, and deployments failing for want of one.
mod secrets;

/// What is counted of services: their routes' counters, instances, deployments.
mod metrics;
