use std::collections::BTreeMap;
use std::sync::Mutex;

use ferry_model::{EnvVars, ImageRef, OperationStatus, OperationType, ServiceStatus};

use super::*;

#[derive(Default)]
struct Recorder(Mutex<Vec<ServiceId>>);

impl Dispatch for Recorder {
    fn queued(&self, service: &ServiceId) {
        self.0.lock().unwrap().push(service.clone());
    }
}

fn commands() -> (Commands, Store, Arc<Recorder>) {
    let store = Store::in_memory().unwrap();
    let recorder = Arc::new(Recorder::default());
    (Commands::new(store.clone(), recorder.clone()), store, recorder)
}

fn create(name: &str) -> Command {
    let spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    Command::Create { name: ServiceName::parse(name).unwrap(), spec: Box::new(spec) }
}

fn web() -> Target {
    Target::Name("web".into())
}

/// An update that adds one environment variable to whatever the spec has.
fn add_env(name: String) -> Command {
    Command::Update {
        service: web(),
        change: Box::new(move |spec: &ServiceSpec| {
            let mut spec = spec.clone();
            let config = spec.source.config_mut();
            let mut env: BTreeMap<String, String> =
                config.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            env.insert(name, "1".into());
            config.env = EnvVars::new(env)?;
            Ok(spec)
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_make_one_revision_each_built_on_the_one_before() {
    let (commands, store, recorder) = commands();
    let created = commands.execute(create("web"), Trigger::Manual).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let commands = commands.clone();
            tokio::spawn(async move { commands.execute(add_env(format!("V{i}")), Trigger::Api).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap().expect("every update is admitted");
        numbers.push(outcome.operation.revision.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=11).collect::<Vec<u32>>(), "ten revisions, numbered one after another");

    let id = created.service.id.clone();
    let (revisions, unfinished) = store
        .call(move |db| Ok::<_, StoreError>((db.revisions(&id)?, db.unfinished_operations(&id)?)))
        .await
        .unwrap();
    let newest = &revisions[0];
    assert_eq!(newest.number, 11);
    assert_eq!(newest.spec.source.config().env.len(), 10, "no update was lost: {:?}", newest.spec);
    // Each revision adds one variable to the one before.
    for pair in revisions.windows(2) {
        assert_eq!(pair[0].spec.source.config().env.len(), pair[1].spec.source.config().env.len() + 1);
    }
    let queued: Vec<Option<u32>> = unfinished.iter().map(|o| o.revision).collect();
    assert_eq!(queued, (1..=11).map(Some).collect::<Vec<_>>(), "queued in the order they were numbered");
    assert!(unfinished.iter().all(|o| o.status == OperationStatus::Pending));
    assert_eq!(recorder.0.lock().unwrap().len(), 11, "the control plane heard of every one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_creates_with_one_name_one_wins() {
    let (commands, _, _) = commands();
    let a = tokio::spawn({
        let c = commands.clone();
        async move { c.execute(create("web"), Trigger::Manual).await }
    });
    let b = tokio::spawn({
        let c = commands.clone();
        async move { c.execute(create("WEB"), Trigger::Manual).await }
    });
    let results = [a.await.unwrap(), b.await.unwrap()];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let refused = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(matches!(refused, CommandError::NameTaken(_)), "{refused}");
}

#[tokio::test]
async fn refusals_say_why_and_write_nothing() {
    let (commands, store, recorder) = commands();
    let created = commands.execute(create("web"), Trigger::Manual).await.unwrap();
    let id = created.service.id.clone();
    let count = |store: Store| {
        let id = id.clone();
        async move {
            store
                .call(move |db| {
                    Ok::<_, StoreError>((db.revisions(&id)?.len(), db.operations(&id, 100)?.len()))
                })
                .await
                .unwrap()
        }
    };
    let before = count(store.clone()).await;
    let refused = [
        (Command::Pause { service: web() }, "nothing running to pause"),
        (Command::Resume { service: web() }, "is not paused"),
        (Command::Rollback { service: web(), to: None }, "no earlier revision"),
        (Command::Rollback { service: web(), to: Some(7) }, "has no revision 7"),
        (Command::Deploy { service: Target::Name("nope".into()) }, "no service is named \"nope\""),
    ];
    for (command, why) in refused {
        let what = format!("{command:?}");
        let err = commands.execute(command, Trigger::Manual).await.unwrap_err();
        assert!(err.to_string().contains(why), "{what}: {err}");
    }
    let err = commands
        .execute(
            Command::Update {
                service: web(),
                change: Box::new(|_| Err(ValidationError::new("instances", "out of range"))),
            },
            Trigger::Manual,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CommandError::Invalid(ref e) if e.field == "instances"), "{err}");
    assert_eq!(count(store.clone()).await, before, "nothing was written");
    assert_eq!(recorder.0.lock().unwrap().len(), 1, "only the create reached the control plane");

    // A delete refuses everything after it, and a second delete joins the first.
    let deleted = commands.execute(Command::Delete { service: web() }, Trigger::Manual).await.unwrap();
    assert!(deleted.queued);
    let again = commands.execute(Command::Delete { service: web() }, Trigger::Api).await.unwrap();
    assert_eq!((again.queued, &again.operation.id), (false, &deleted.operation.id));
    let err = commands.execute(Command::Deploy { service: web() }, Trigger::Manual).await.unwrap_err();
    assert!(err.to_string().contains("being deleted"), "{err}");
}

#[tokio::test]
async fn each_command_queues_the_operation_app_runner_would() {
    let (commands, store, _) = commands();
    let created = commands.execute(create("web"), Trigger::Manual).await.unwrap();
    assert_eq!(created.service.status, ServiceStatus::OperationInProgress);
    assert_eq!((created.operation.kind, created.operation.revision), (OperationType::CreateService, Some(1)));
    let deploy = commands.execute(Command::Deploy { service: web() }, Trigger::Api).await.unwrap();
    assert_eq!(
        (deploy.operation.kind, deploy.operation.revision, deploy.operation.trigger),
        (OperationType::StartDeployment, Some(2), Trigger::Api)
    );
    // Once revision 1 and then 2 served, a rollback goes to 1, whoever asked.
    let id = created.service.id.clone();
    store.call(move |db| db.activate_revision(&id, 1, Timestamp(5))).await.unwrap();
    let id = created.service.id.clone();
    store.call(move |db| db.set_revision_image(&id, 1, Some("sha256:d"), "sha256:i")).await.unwrap();
    let id = created.service.id.clone();
    store.call(move |db| db.activate_revision(&id, 2, Timestamp(6))).await.unwrap();
    let back =
        commands.execute(Command::Rollback { service: web(), to: None }, Trigger::Manual).await.unwrap();
    assert_eq!((back.operation.revision, back.operation.trigger), (Some(1), Trigger::Rollback));
    let pause =
        commands.execute(Command::Pause { service: Target::Id(created.service.id.clone()) }, Trigger::Manual);
    assert_eq!(pause.await.unwrap().operation.kind, OperationType::PauseService);
    let resume = commands.execute(Command::Resume { service: web() }, Trigger::Manual).await.unwrap();
    assert_eq!((resume.operation.kind, resume.operation.revision), (OperationType::ResumeService, Some(2)));
}

#[tokio::test]
async fn a_create_is_validated_by_the_command_layer_whoever_asks() {
    let (commands, store, _) = commands();
    let mut spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    spec.instances = 0;
    let command = Command::Create { name: ServiceName::parse("web").unwrap(), spec: Box::new(spec) };
    let err = commands.execute(command, Trigger::Api).await.unwrap_err();
    assert!(matches!(err, CommandError::Invalid(ref e) if e.field == "instances"), "{err}");
    assert!(store.call(|db| db.list_services()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_service_names_only_a_connection_that_exists_when_its_command_commits() {
    use ferry_model::{Builder, CodeConfiguration, CodeSource, ImageConfiguration, Source};
    let (commands, store, _) = commands();
    let mut spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    spec.source = Source::Code(CodeSource {
        repository: "https://git.example.com/acme/shop.git".into(),
        branch: "main".into(),
        source_directory: None,
        configuration: CodeConfiguration::Repository { builder: Builder::Auto },
        config: ImageConfiguration::default(),
        credentials: None,
        connection: Some("gh-main".into()),
        auto_deploy: true,
    });
    let command = |spec: &ServiceSpec| Command::Create {
        name: ServiceName::parse("web").unwrap(),
        spec: Box::new(spec.clone()),
    };
    let err = commands.execute(command(&spec), Trigger::Api).await.unwrap_err();
    assert!(matches!(err, CommandError::Invalid(ref e) if e.field == "connection"), "{err}");
    assert!(store.call(|db| db.list_services()).await.unwrap().is_empty());

    store.call(|db| db.create_connection("gh-main", "GITHUB", Timestamp::now())).await.unwrap();
    commands.execute(command(&spec), Trigger::Api).await.unwrap();
    // Once it is gone (forced), changes that keep naming it still go through; naming another missing
    // one does not.
    store.call(|db| db.delete_connection("gh-main")).await.unwrap();
    commands.execute(add_env("A".into()), Trigger::Api).await.unwrap();
    let rename = Command::Update {
        service: web(),
        change: Box::new(|spec: &ServiceSpec| {
            let mut spec = spec.clone();
            if let Source::Code(code) = &mut spec.source {
                code.connection = Some("gh-other".into());
            }
            Ok(spec)
        }),
    };
    let err = commands.execute(rename, Trigger::Api).await.unwrap_err();
    assert!(matches!(err, CommandError::Invalid(ref e) if e.message.contains("gh-other")), "{err}");
}

#[tokio::test]
async fn a_change_queued_behind_a_deployment_survives_its_end_and_the_next_builds_on_it() {
    let (commands, store, _) = commands();
    let created = commands.execute(create("web"), Trigger::Manual).await.unwrap();
    let a = commands.execute(add_env("A".into()), Trigger::Manual).await.unwrap();
    commands.execute(add_env("B".into()), Trigger::Manual).await.unwrap();
    // Revision 2 (A) deploys and serves while revision 3 (A and B) waits its turn.
    let id = created.service.id.clone();
    let op = a.operation.id.clone();
    store
        .call(move |db| {
            db.activate_revision(&id, 2, Timestamp(10))?;
            db.settle_spec(&id, 2, &op)
        })
        .await
        .unwrap();
    let c = commands.execute(add_env("C".into()), Trigger::Manual).await.unwrap();
    let env: Vec<String> = c.service.spec.source.config().env.iter().map(|(k, _)| k.to_owned()).collect();
    assert_eq!(env, ["A", "B", "C"], "B was not undone by revision 2's end");
}

#[tokio::test]
async fn a_rollback_is_judged_against_what_will_serve_once_the_queue_has_run() {
    let (commands, store, _) = commands();
    let created = commands.execute(create("web"), Trigger::Manual).await.unwrap();
    commands.execute(add_env("A".into()), Trigger::Manual).await.unwrap();
    let id = created.service.id.clone();
    store
        .call(move |db| {
            db.set_revision_image(&id, 1, Some("sha256:d1"), "sha256:i1")?;
            db.set_revision_image(&id, 2, Some("sha256:d2"), "sha256:i2")?;
            db.activate_revision(&id, 1, Timestamp(5))?;
            db.activate_revision(&id, 2, Timestamp(6))
        })
        .await
        .unwrap();
    // Revision 2 serves and revision 3 is queued: once it has run, "back" is revision 2, not 1.
    commands.execute(add_env("B".into()), Trigger::Manual).await.unwrap();
    let back =
        commands.execute(Command::Rollback { service: web(), to: None }, Trigger::Manual).await.unwrap();
    assert_eq!(back.operation.revision, Some(2));
    let env: Vec<String> = back.service.spec.source.config().env.iter().map(|(k, _)| k.to_owned()).collect();
    assert_eq!(env, ["A"], "later changes build on revision 2");
}

#[tokio::test]
async fn a_committed_command_reaches_the_control_plane_even_if_its_caller_goes_away() {
    let (commands, store, recorder) = commands();
    // The store is busy for a moment, so the command is still waiting for its turn when its caller goes.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let lane = store.clone();
    let busy = tokio::spawn(async move {
        lane.call(move |_| {
            started_tx.send(()).unwrap();
            #[allow(clippy::disallowed_methods)] // holds the store's one lane, as a slow disk would
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok::<_, StoreError>(())
        })
        .await
    });
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
    let caller = tokio::spawn({
        let commands = commands.clone();
        async move { commands.execute(create("web"), Trigger::Api).await }
    });
    tokio::task::yield_now().await;
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled(), "the caller went away before the command was done");
    busy.await.unwrap().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while recorder.0.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the control plane never heard of the create");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(store.call(|db| db.list_services()).await.unwrap().len(), 1);
}
