//! Pushes through the command layer: what `source_changed` and `catch_up` record, deploy and answer,
//! with an in-memory store and a recording control plane. Operations are ended by hand, as the
//! controller would end them.

use std::sync::Mutex;

use ferry_model::{
    Build, Builder, CodeConfiguration, CodeSource, ImageConfiguration, ImageRef, OperationStatus,
    OperationType, Revision, Seen, ServiceStatus, Source, SourceVersion, SourceWatch, Via,
};

use super::*;

#[derive(Default)]
struct Recorder(Mutex<Vec<ServiceId>>);

impl Dispatch for Recorder {
    fn queued(&self, service: &ServiceId) {
        self.0.lock().unwrap().push(service.clone());
    }
}

struct Fixture {
    commands: Commands,
    store: Store,
    recorder: Arc<Recorder>,
}

/// What the store holds of one service.
struct State {
    service: Service,
    /// Newest first.
    revisions: Vec<Revision>,
    /// Newest first.
    operations: Vec<Operation>,
    watch: SourceWatch,
}

impl Fixture {
    fn new() -> Self {
        let store = Store::in_memory().unwrap();
        let recorder = Arc::new(Recorder::default());
        Self { commands: Commands::new(store.clone(), recorder.clone()), store, recorder }
    }

    async fn create(&self, name: &str, spec: ServiceSpec) -> ServiceId {
        let command = Command::Create { name: ServiceName::parse(name).unwrap(), spec: Box::new(spec) };
        self.commands.execute(command, Trigger::Manual).await.unwrap().service.id
    }

    /// Ends every unfinished operation of the service with `status`, and leaves the service in `then`, as
    /// the controller does.
    async fn end(&self, id: &ServiceId, status: OperationStatus, then: ServiceStatus) {
        let id = id.clone();
        self.store
            .call(move |db| {
                let now = Timestamp::now();
                for mut op in db.unfinished_operations(&id)? {
                    (op.status, op.ended_at, op.updated_at) = (status, Some(now), now);
                    db.update_operation(&op)?;
                }
                db.set_service_status(&id, then, now)
            })
            .await
            .unwrap();
    }

    /// Ends the operations successfully, with the newest revision serving.
    async fn succeed(&self, id: &ServiceId) {
        let rid = id.clone();
        self.store
            .call(move |db| {
                let newest = db.next_revision_number(&rid)? - 1;
                db.activate_revision(&rid, newest, Timestamp::now())
            })
            .await
            .unwrap();
        self.end(id, OperationStatus::Succeeded, ServiceStatus::Running).await;
    }

    async fn state(&self, id: &ServiceId) -> State {
        let id = id.clone();
        self.store
            .call(move |db| {
                Ok::<_, StoreError>(State {
                    service: db.service(&id)?.unwrap(),
                    revisions: db.revisions(&id)?,
                    operations: db.operations(&id, 100)?,
                    watch: db.watch(&id)?,
                })
            })
            .await
            .unwrap()
    }

    fn told(&self) -> usize {
        self.recorder.0.lock().unwrap().len()
    }
}

fn image(auto_deploy: bool) -> ServiceSpec {
    let mut spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    spec.source.set_auto_deploy(auto_deploy);
    spec
}

/// A code service with App Runner's defaults: automatic deployments on.
fn code() -> ServiceSpec {
    let mut spec = image(false);
    spec.source = Source::Code(CodeSource {
        repository: "https://git.example.com/acme/shop.git".into(),
        branch: "main".into(),
        source_directory: None,
        configuration: CodeConfiguration::Repository { builder: Builder::Auto },
        config: ImageConfiguration::default(),
        credentials: None,
        connection: None,
        auto_deploy: true,
    });
    spec
}

fn digest(c: char) -> SourceVersion {
    SourceVersion::Digest(format!("sha256:{}", c.to_string().repeat(64)))
}

fn commit(c: char) -> SourceVersion {
    SourceVersion::Commit(c.to_string().repeat(40))
}

fn seen(version: SourceVersion, via: Via) -> Seen {
    Seen { version, at: Timestamp::now(), via, author: None, subject: None }
}

/// Waits until the clock is past `t`: what is made next is later than what was seen at `t`.
async fn later_than(t: Timestamp) {
    while Timestamp::now() <= t {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

fn deploying(outcome: PushOutcome) -> Box<Outcome> {
    match outcome {
        PushOutcome::Deploying(o) => o,
        other => panic!("expected a deployment, got {other:?}"),
    }
}

#[tokio::test]
async fn a_digest_pushed_to_an_idle_image_service_deploys_exactly_that_digest() {
    let f = Fixture::new();
    let id = f.create("web", image(true)).await;
    f.succeed(&id).await;
    let d = digest('d');
    let o =
        deploying(f.commands.source_changed(id.clone(), seen(d.clone(), Via::Notification)).await.unwrap());
    let want = Trigger::ImagePush { digest: d.as_str().into(), via: Via::Notification };
    assert_eq!((o.operation.kind, o.operation.revision), (OperationType::StartDeployment, Some(2)));
    assert_eq!((&o.operation.trigger, o.operation.status), (&want, OperationStatus::Pending));
    assert!(o.queued);
    assert_eq!(o.service.status, ServiceStatus::OperationInProgress);

    let s = f.state(&id).await;
    assert_eq!(s.service.status, ServiceStatus::OperationInProgress);
    let r = &s.revisions[0];
    assert_eq!(
        (r.number, r.image_digest.as_deref(), r.source_commit.as_deref()),
        (2, Some(d.as_str()), None)
    );
    assert_eq!(r.spec, s.service.spec, "the desired spec, pinned at the digest");
    assert_eq!(s.operations[0].id, o.operation.id);
    assert_eq!(s.operations[0].trigger, want, "the trigger is stored as it was given");
    assert_eq!(s.watch.seen.as_ref().map(|x| (&x.version, x.via)), Some((&d, Via::Notification)));
    assert_eq!(*f.recorder.0.lock().unwrap(), [id.clone(), id], "the create, then the push");
}

#[tokio::test]
async fn a_commit_pushed_to_a_code_service_deploys_pinned_with_its_author_and_subject() {
    let f = Fixture::new();
    let id = f.create("shop", code()).await;
    f.succeed(&id).await;
    let c = commit('c');
    let push = Seen {
        author: Some("Ada Lovelace".into()),
        subject: Some("web: render prices".into()),
        ..seen(c.clone(), Via::Webhook)
    };
    let o = deploying(f.commands.source_changed(id.clone(), push).await.unwrap());
    let want = Trigger::GitPush {
        commit: c.as_str().into(),
        author: Some("Ada Lovelace".into()),
        subject: Some("web: render prices".into()),
        via: Via::Webhook,
    };
    assert_eq!(o.operation.trigger, want);
    let s = f.state(&id).await;
    assert_eq!(s.operations[0].trigger, want);
    assert_eq!(s.revisions[0].source_commit.as_deref(), Some(c.as_str()), "the build checks out this commit");
    assert_eq!(s.revisions[0].image_digest, None);
    assert_eq!(s.revisions[0].source_version(), Some(c));
    let w = s.watch.seen.unwrap();
    assert_eq!(
        (w.author.as_deref(), w.subject.as_deref()),
        (Some("Ada Lovelace"), Some("web: render prices"))
    );
    assert_eq!(f.told(), 2);
}

#[tokio::test]
async fn pushes_during_an_operation_make_one_deployment_of_the_newest() {
    let f = Fixture::new();
    let id = f.create("web", image(true)).await;
    let create = f.state(&id).await.operations[0].id.clone();
    for c in ['1', '2', '3'] {
        let outcome = f.commands.source_changed(id.clone(), seen(digest(c), Via::Webhook)).await.unwrap();
        assert_eq!(outcome, PushOutcome::Waiting { behind: create.clone() }, "push {c}");
    }
    let s = f.state(&id).await;
    assert_eq!((s.operations.len(), s.revisions.len(), f.told()), (1, 1, 1), "nothing queued while busy");
    assert_eq!(s.watch.seen.unwrap().version, digest('3'), "the newest push is kept");

    f.succeed(&id).await;
    let o = deploying(f.commands.catch_up(id.clone()).await.unwrap());
    assert_eq!(
        o.operation.trigger,
        Trigger::ImagePush { digest: digest('3').to_string(), via: Via::Webhook }
    );
    // Asked again while it deploys, and once it is done: nothing more.
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::Current);
    f.succeed(&id).await;
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::Current);

    let s = f.state(&id).await;
    let pushed: Vec<_> = s.revisions.iter().filter_map(|r| r.image_digest.clone()).collect();
    assert_eq!(pushed, [digest('3').to_string()], "the second push never deployed");
    assert_eq!((s.operations.len(), f.told()), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_to_an_idle_service_queue_one_deployment() {
    let f = Fixture::new();
    let id = f.create("web", image(true)).await;
    f.succeed(&id).await;
    let tasks: Vec<_> = "0123456789"
        .chars()
        .map(|c| {
            let (commands, id) = (f.commands.clone(), id.clone());
            tokio::spawn(async move { commands.source_changed(id, seen(digest(c), Via::Webhook)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    let deployed: Vec<_> = outcomes.iter().filter(|o| matches!(o, PushOutcome::Deploying(_))).collect();
    assert_eq!(deployed.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, PushOutcome::Deploying(_) | PushOutcome::Waiting { .. })));
    // The last one recorded deploys next, unless it was the one deployed.
    f.succeed(&id).await;
    let last = f.state(&id).await.watch.seen.unwrap().version;
    match f.commands.catch_up(id.clone()).await.unwrap() {
        PushOutcome::Deploying(_) | PushOutcome::Current => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(f.state(&id).await.revisions[0].source_version(), Some(last), "the newest revision has it");
}

#[tokio::test]
async fn a_version_the_newest_revision_already_has_is_current_and_only_recorded() {
    let f = Fixture::new();
    // An image whose tag resolved to the digest pushed.
    let web = f.create("web", image(true)).await;
    let id = web.clone();
    f.store
        .call(move |db| db.set_revision_image(&id, 1, Some(digest('a').as_str()), "sha256:i"))
        .await
        .unwrap();
    f.succeed(&web).await;
    let outcome = f.commands.source_changed(web.clone(), seen(digest('a'), Via::Poll)).await.unwrap();
    assert_eq!(outcome, PushOutcome::Current);
    let s = f.state(&web).await;
    assert_eq!((s.revisions.len(), s.operations.len()), (1, 1));
    assert_eq!(
        s.watch.seen.map(|x| (x.version, x.via)),
        Some((digest('a'), Via::Poll)),
        "the push is recorded"
    );

    // Code: a commit its build checked out, then a commit a push pinned.
    let shop = f.create("shop", code()).await;
    let build = Build {
        commit: commit('b').to_string(),
        image: "ferry-build/shop:b".into(),
        builder: "Dockerfile".into(),
        run: ImageConfiguration::default(),
    };
    let id = shop.clone();
    f.store.call(move |db| db.set_revision_build(&id, 1, &build, "sha256:i")).await.unwrap();
    f.succeed(&shop).await;
    let outcome = f.commands.source_changed(shop.clone(), seen(commit('b'), Via::Webhook)).await.unwrap();
    assert_eq!(outcome, PushOutcome::Current, "the built commit");
    deploying(f.commands.source_changed(shop.clone(), seen(commit('c'), Via::Webhook)).await.unwrap());
    // The same commit again, from the poller, while it deploys and after.
    let outcome = f.commands.source_changed(shop.clone(), seen(commit('c'), Via::Poll)).await.unwrap();
    assert_eq!(outcome, PushOutcome::Current, "current beats waiting");
    f.succeed(&shop).await;
    let outcome = f.commands.source_changed(shop.clone(), seen(commit('c'), Via::Poll)).await.unwrap();
    assert_eq!(outcome, PushOutcome::Current, "the pinned commit");
    let s = f.state(&shop).await;
    assert_eq!((s.revisions.len(), s.operations.len()), (2, 2));
    assert_eq!(s.watch.seen.unwrap().via, Via::Poll);
    assert_eq!(f.told(), 3, "two creates and one push");
}

#[tokio::test]
async fn with_automatic_deployments_off_a_push_is_recorded_and_not_deployed() {
    let f = Fixture::new();
    let id = f.create("web", image(false)).await;
    f.succeed(&id).await;
    let outcome = f.commands.source_changed(id.clone(), seen(digest('d'), Via::Poll)).await.unwrap();
    assert_eq!(outcome, PushOutcome::Off);
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::Off);
    let s = f.state(&id).await;
    assert_eq!(s.watch.seen.map(|x| x.version), Some(digest('d')));
    assert_eq!((s.revisions.len(), s.operations.len(), f.told()), (1, 1, 1));
    assert_eq!(s.service.status, ServiceStatus::Running);
}

#[tokio::test]
async fn a_paused_service_deploys_what_was_pushed_once_it_is_resumed() {
    let f = Fixture::new();
    let id = f.create("web", image(true)).await;
    f.succeed(&id).await;
    f.commands.execute(Command::Pause { service: Target::Id(id.clone()) }, Trigger::Manual).await.unwrap();
    f.end(&id, OperationStatus::Succeeded, ServiceStatus::Paused).await;

    let outcome = f.commands.source_changed(id.clone(), seen(digest('d'), Via::Notification)).await.unwrap();
    assert_eq!(outcome, PushOutcome::NotNow(ServiceStatus::Paused));
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::NotNow(ServiceStatus::Paused));
    assert_eq!(f.state(&id).await.operations.len(), 2, "the create and the pause");

    let resume = f
        .commands
        .execute(Command::Resume { service: Target::Id(id.clone()) }, Trigger::Manual)
        .await
        .unwrap();
    let outcome = f.commands.catch_up(id.clone()).await.unwrap();
    assert_eq!(outcome, PushOutcome::Waiting { behind: resume.operation.id.clone() });
    f.end(&id, OperationStatus::Succeeded, ServiceStatus::Running).await;
    let o = deploying(f.commands.catch_up(id.clone()).await.unwrap());
    assert_eq!(
        o.operation.trigger,
        Trigger::ImagePush { digest: digest('d').to_string(), via: Via::Notification }
    );
    assert_eq!(o.operation.revision, Some(2));
}

#[tokio::test]
async fn a_version_of_the_wrong_kind_is_invalid_and_records_nothing() {
    let f = Fixture::new();
    let web = f.create("web", image(true)).await;
    let shop = f.create("shop", code()).await;
    f.succeed(&web).await;
    f.succeed(&shop).await;
    for (id, version) in [(&web, commit('c')), (&shop, digest('d'))] {
        let err =
            f.commands.source_changed(id.clone(), seen(version.clone(), Via::Webhook)).await.unwrap_err();
        assert!(matches!(err, CommandError::Invalid(ref e) if e.field == "version"), "{err}");
        assert!(err.to_string().contains(version.as_str()), "{err}");
        let s = f.state(id).await;
        assert_eq!(s.watch, SourceWatch::new(id.clone()), "nothing recorded");
        assert_eq!((s.revisions.len(), s.operations.len()), (1, 1));
    }
    assert_eq!(f.told(), 2);
}

#[tokio::test]
async fn unknown_and_deleted_services_are_no_such_service() {
    let f = Fixture::new();
    let unknown = ServiceId::generate();
    let err = f.commands.source_changed(unknown.clone(), seen(digest('d'), Via::Poll)).await.unwrap_err();
    assert!(matches!(err, CommandError::NoSuchService(ref s) if *s == unknown.to_string()), "{err}");
    assert!(matches!(f.commands.catch_up(unknown).await, Err(CommandError::NoSuchService(_))));

    let id = f.create("web", image(true)).await;
    f.succeed(&id).await;
    f.commands.execute(Command::Delete { service: Target::Id(id.clone()) }, Trigger::Manual).await.unwrap();
    let gone = id.clone();
    f.store.call(move |db| db.mark_deleted(&gone, Timestamp::now())).await.unwrap();
    f.end(&id, OperationStatus::Succeeded, ServiceStatus::Deleted).await;
    let err = f.commands.source_changed(id.clone(), seen(digest('d'), Via::Poll)).await.unwrap_err();
    assert!(matches!(err, CommandError::NoSuchService(_)), "{err}");
    assert!(matches!(f.commands.catch_up(id.clone()).await, Err(CommandError::NoSuchService(_))));
    assert_eq!(f.state(&id).await.watch.seen, None, "nothing recorded for a deleted service");
}

#[tokio::test]
async fn a_failed_push_deployment_is_not_retried_and_the_next_push_deploys() {
    let f = Fixture::new();
    let id = f.create("web", image(true)).await;
    f.succeed(&id).await;
    deploying(f.commands.source_changed(id.clone(), seen(digest('1'), Via::Notification)).await.unwrap());
    // It failed: revision 1 serves on.
    f.end(&id, OperationStatus::Failed, ServiceStatus::Running).await;
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::Current);
    let again = f.commands.source_changed(id.clone(), seen(digest('1'), Via::Poll)).await.unwrap();
    assert_eq!(again, PushOutcome::Current, "the same digest seen again is not retried either");
    assert_eq!(f.state(&id).await.operations.len(), 2);

    let o =
        deploying(f.commands.source_changed(id.clone(), seen(digest('2'), Via::Notification)).await.unwrap());
    assert_eq!(o.operation.revision, Some(3));
    let s = f.state(&id).await;
    assert_eq!(s.revisions[0].image_digest, Some(digest('2').to_string()));
    assert_eq!(s.service.active_revision, Some(1));
}

#[tokio::test]
async fn with_nothing_seen_a_catch_up_does_nothing() {
    let f = Fixture::new();
    let id = f.create("shop", code()).await;
    f.succeed(&id).await;
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::Current);
    let s = f.state(&id).await;
    assert_eq!((s.watch.seen, s.operations.len(), f.told()), (None, 1, 1));
}

#[tokio::test]
async fn a_deployment_made_after_a_push_is_not_undone_by_a_catch_up() {
    let f = Fixture::new();
    let id = f.create("shop", code()).await;
    f.succeed(&id).await;
    let a = seen(commit('a'), Via::Webhook);
    deploying(f.commands.source_changed(id.clone(), a.clone()).await.unwrap());
    f.succeed(&id).await;
    later_than(a.at).await;
    // Later, a person deploys the branch by hand: its build checks out the newer head, b (a push the
    // watcher has not heard of, or one that was ignored because it touched nothing of the service).
    f.commands.execute(Command::Deploy { service: Target::Id(id.clone()) }, Trigger::Manual).await.unwrap();
    let build = Build {
        commit: commit('b').to_string(),
        image: "ferry-build/shop:b".into(),
        builder: "Dockerfile".into(),
        run: ImageConfiguration::default(),
    };
    let rid = id.clone();
    f.store.call(move |db| db.set_revision_build(&rid, 3, &build, "sha256:i")).await.unwrap();
    f.succeed(&id).await;
    // The control plane catches up as the deployment ends: a, seen before it, is older than what runs.
    assert_eq!(f.commands.catch_up(id.clone()).await.unwrap(), PushOutcome::Current);
    let s = f.state(&id).await;
    assert_eq!((s.revisions.len(), s.operations.len()), (3, 3));

    // The same for an image whose update resolved the tag anew.
    let web = f.create("web", image(true)).await;
    f.succeed(&web).await;
    let one = seen(digest('1'), Via::Notification);
    deploying(f.commands.source_changed(web.clone(), one.clone()).await.unwrap());
    f.succeed(&web).await;
    later_than(one.at).await;
    let update = Command::Update { service: Target::Id(web.clone()), change: Box::new(|s| Ok(s.clone())) };
    f.commands.execute(update, Trigger::Api).await.unwrap();
    let rid = web.clone();
    f.store
        .call(move |db| db.set_revision_image(&rid, 3, Some(digest('2').as_str()), "sha256:i"))
        .await
        .unwrap();
    f.succeed(&web).await;
    assert_eq!(f.commands.catch_up(web.clone()).await.unwrap(), PushOutcome::Current);
    // A push after it deploys as ever.
    let o = deploying(
        f.commands.source_changed(web.clone(), seen(digest('3'), Via::Notification)).await.unwrap(),
    );
    assert_eq!(o.operation.revision, Some(4));
}

#[tokio::test]
async fn a_push_stamped_before_the_push_deployment_it_waited_behind_still_deploys() {
    // Two deliveries at once: the second was stamped before the first's revision was made.
    let f = Fixture::new();
    let id = f.create("web", image(true)).await;
    f.succeed(&id).await;
    let first = seen(digest('1'), Via::Notification);
    later_than(first.at).await;
    deploying(f.commands.source_changed(id.clone(), seen(digest('1'), Via::Notification)).await.unwrap());
    let second = Seen { version: digest('2'), ..first };
    assert!(matches!(
        f.commands.source_changed(id.clone(), second).await.unwrap(),
        PushOutcome::Waiting { .. }
    ));
    f.succeed(&id).await;
    let o = deploying(f.commands.catch_up(id.clone()).await.unwrap());
    assert_eq!(
        o.operation.trigger,
        Trigger::ImagePush { digest: digest('2').to_string(), via: Via::Notification }
    );
}
