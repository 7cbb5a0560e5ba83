use std::time::Duration;

use ferry_model::*;

use crate::{Db, Store, StoreError};

mod connections;
mod migrations;
mod observability;
mod secrets;
mod tags;

/// One fixed key for the tests that open a database file more than once.
pub(crate) fn key() -> crate::Sealer {
    crate::Sealer::from_key([7; 32])
}

fn service(name: &str) -> (Service, Revision, Operation) {
    let id = ServiceId::generate();
    let spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    let now = Timestamp(1_000);
    let service = Service {
        id: id.clone(),
        name: ServiceName::parse(name).unwrap(),
        status: ServiceStatus::OperationInProgress,
        spec: spec.clone(),
        active_revision: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let revision = Revision::new(id.clone(), 1, spec, now);
    let op = Operation::queued(id, OperationType::CreateService, Some(1), Trigger::Manual, now);
    (service, revision, op)
}

fn create(db: &mut Db, (svc, rev, op): &(Service, Revision, Operation)) -> Result<(), StoreError> {
    db.transaction(|db| {
        db.insert_service(svc)?;
        db.insert_revision(rev)?;
        db.insert_operation(op)
    })
}

#[test]
fn a_created_service_reads_back_whole() {
    let mut db = Db::in_memory().unwrap();
    let created = service("web-app");
    create(&mut db, &created).unwrap();
    let (svc, rev, op) = created;
    assert_eq!(db.service_by_name("WEB-APP").unwrap().unwrap(), svc);
    assert_eq!(db.service(&svc.id).unwrap().unwrap(), svc);
    assert_eq!(db.revision(&svc.id, 1).unwrap().unwrap(), rev);
    assert_eq!(db.operation(&op.id).unwrap().unwrap(), op);
    assert_eq!(db.current_operation(&svc.id).unwrap().unwrap(), op);
    assert_eq!(db.list_services().unwrap(), vec![svc]);
}

#[test]
fn protocol_and_request_timeout_are_stored_with_the_spec() {
    let mut db = Db::in_memory().unwrap();
    let (mut svc, mut rev, op) = service("grpc");
    svc.spec.protocol = UpstreamProtocol::Http2;
    svc.spec.request_timeout = RequestTimeout::from_secs(3600).unwrap();
    rev.spec = svc.spec.clone();
    create(&mut db, &(svc.clone(), rev, op)).unwrap();
    let read = db.revision(&svc.id, 1).unwrap().unwrap();
    assert_eq!(read.spec.protocol, UpstreamProtocol::Http2);
    assert_eq!(read.spec.request_timeout.secs(), 3600);
    assert_eq!(db.service(&svc.id).unwrap().unwrap().spec, svc.spec);
}

#[test]
fn a_failed_transaction_writes_nothing_and_names_stay_unique_in_any_case() {
    let mut db = Db::in_memory().unwrap();
    let a = service("web-app");
    create(&mut db, &a).unwrap();
    let b = service("Web-App");
    let err = create(&mut db, &b).unwrap_err();
    assert!(matches!(err, StoreError::NameTaken(ref n) if n == "Web-App"), "{err}");
    assert!(db.service(&b.0.id).unwrap().is_none());
    assert!(db.operation(&b.2.id).unwrap().is_none());

    // A write that fails halfway takes back what it wrote before.
    let c = service("other");
    let err = db
        .transaction(|db| {
            db.insert_service(&c.0)?;
            db.insert_operation(&a.2) // its id exists: the insert fails
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
    assert!(db.service(&c.0.id).unwrap().is_none(), "the service written first was rolled back");

    db.mark_deleted(&a.0.id, Timestamp(2_000)).unwrap();
    assert!(db.service_by_name("web-app").unwrap().is_none());
    assert_eq!(db.service(&a.0.id).unwrap().unwrap().status, ServiceStatus::Deleted);
    create(&mut db, &b).unwrap();
    assert_eq!(db.list_services().unwrap().len(), 1);
}

#[test]
fn operations_list_newest_first_and_run_oldest_first() {
    let mut db = Db::in_memory().unwrap();
    let created = service("web-app");
    create(&mut db, &created).unwrap();
    let (svc, _, first) = created;
    let second =
        Operation::queued(svc.id.clone(), OperationType::DeleteService, None, Trigger::Api, Timestamp(1_500));
    db.insert_operation(&second).unwrap();
    let listed: Vec<_> = db.operations(&svc.id, 20).unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(listed, [second.id.clone(), first.id.clone()]);
    assert_eq!(db.current_operation(&svc.id).unwrap().unwrap().id, first.id);
    let unfinished: Vec<_> = db.unfinished_operations(&svc.id).unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(unfinished, [first.id.clone(), second.id.clone()], "oldest first");

    let mut done = first.clone();
    done.status = OperationStatus::Succeeded;
    done.ended_at = Some(Timestamp(3_000));
    db.update_operation(&done).unwrap();
    assert_eq!(db.current_operation(&svc.id).unwrap().unwrap().id, second.id);
    assert_eq!(db.operation(&second.id).unwrap().unwrap().trigger, Trigger::Api);
}

#[test]
fn events_are_numbered_and_read_after_a_cursor() {
    let mut db = Db::in_memory().unwrap();
    let created = service("web-app");
    create(&mut db, &created).unwrap();
    let op = created.2;
    for (i, m) in ["pulling", "starting", "healthy"].iter().enumerate() {
        assert_eq!(db.append_event(&op.id, Timestamp(i as i64), m).unwrap(), i as i64 + 1);
    }
    let after_one: Vec<_> = db.events(&op.id, 1, 100).unwrap().into_iter().map(|e| e.message).collect();
    assert_eq!(after_one, ["starting", "healthy"]);
}

#[test]
fn instances_round_trip_with_their_placement_and_keep_a_log_cursor() {
    let mut db = Db::in_memory().unwrap();
    let created = service("web-app");
    create(&mut db, &created).unwrap();
    let svc = created.0;
    let mut inst = Instance {
        id: InstanceId::generate(),
        service_id: svc.id.clone(),
        revision: 1,
        state: InstanceState::Starting,
        container_id: None,
        address: None,
        created_at: Timestamp(5),
        state_since: Timestamp(5),
        detail: None,
    };
    db.put_instance(&inst).unwrap();
    inst.state = InstanceState::Ready;
    inst.container_id = Some("abc".into());
    inst.address = Some(InstanceAddress {
        node: "node-1".into(),
        endpoint: "127.0.0.1:32768".parse().unwrap(),
        probe: Some("172.17.0.2:8080".parse().unwrap()),
    });
    inst.state_since = Timestamp(9);
    db.put_instance(&inst).unwrap();
    assert_eq!(db.instances(&svc.id).unwrap(), vec![inst.clone()]);
    assert_eq!(db.log_cursor(&inst.id).unwrap(), None);
    db.set_log_cursor(&inst.id, Timestamp(42)).unwrap();
    assert_eq!(db.log_cursor(&inst.id).unwrap(), Some(Timestamp(42)));
    db.delete_instance(&inst.id).unwrap();
    assert!(db.all_instances().unwrap().is_empty());
}

fn add_revision(db: &mut Db, base: &Revision, number: u32, image: &str) -> Revision {
    let r = Revision { number, image_id: Some(image.to_owned()), ..base.clone() };
    let mut op = Operation::queued(
        base.service_id.clone(),
        OperationType::UpdateService,
        Some(number),
        Trigger::Manual,
        Timestamp(number as i64),
    );
    op.status = OperationStatus::Succeeded;
    db.transaction(|db| {
        db.insert_revision(&r)?;
        db.set_service_spec(&r.service_id, &r.spec)?;
        db.insert_operation(&op)
    })
    .unwrap();
    r
}

#[test]
fn revisions_list_newest_first_and_a_settled_spec_never_undoes_a_queued_change() {
    let mut db = Db::in_memory().unwrap();
    let created = service("web-app");
    create(&mut db, &created).unwrap();
    let (svc, rev, create_op) = created;
    assert_eq!(db.next_revision_number(&svc.id).unwrap(), 2);
    let mut second = rev.clone();
    second.spec.source.config_mut().port = 9090;
    let second = add_revision(&mut db, &second, 2, "sha256:b");
    assert_eq!(db.service(&svc.id).unwrap().unwrap().spec.source.config().port, 9090, "desired spec moved");
    let numbers: Vec<u32> = db.revisions(&svc.id).unwrap().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2, 1]);

    // Revision 1 ends up serving while nothing else is queued: the desired spec is its.
    db.activate_revision(&svc.id, 1, Timestamp(50)).unwrap();
    db.settle_spec(&svc.id, 1, &create_op.id).unwrap();
    let s = db.service(&svc.id).unwrap().unwrap();
    assert_eq!((s.active_revision, s.spec.source.config().port), (Some(1), 8080));
    assert_eq!(db.revision(&svc.id, 1).unwrap().unwrap().activated_at, Some(Timestamp(50)));
    assert_eq!(db.revision(&svc.id, 2).unwrap().unwrap(), second);

    // A change queued behind a deployment (revision 3, on the desired spec of then) stays desired when the
    // deployment before it ends.
    let mut third = rev.clone();
    third.number = 3;
    third.spec.source.config_mut().port = 7070;
    let queued =
        Operation::queued(svc.id.clone(), OperationType::UpdateService, Some(3), Trigger::Api, Timestamp(60));
    db.transaction(|db| {
        db.insert_revision(&third)?;
        db.set_service_spec(&svc.id, &third.spec)?;
        db.insert_operation(&queued)
    })
    .unwrap();
    db.settle_spec(&svc.id, 1, &create_op.id).unwrap();
    assert_eq!(db.service(&svc.id).unwrap().unwrap().spec.source.config().port, 7070);
    db.settle_spec(&svc.id, 3, &queued.id).unwrap();
    assert_eq!(db.service(&svc.id).unwrap().unwrap().spec.source.config().port, 7070);
}

#[test]
fn revisions_on_the_engine_say_what_keeps_them() {
    let mut db = Db::in_memory().unwrap();
    let created = service("web-app");
    create(&mut db, &created).unwrap();
    let (svc, rev, op) = created;
    db.set_revision_image(&svc.id, 1, Some("sha256:d1"), "sha256:one").unwrap();
    let base = db.revision(&svc.id, 1).unwrap().unwrap();
    add_revision(&mut db, &base, 2, "sha256:two");
    add_revision(&mut db, &base, 3, "sha256:three");
    db.activate_revision(&svc.id, 2, Timestamp(9)).unwrap();
    db.set_image_pruned(&svc.id, 3, true).unwrap();

    let on_engine = db.revisions_on_engine().unwrap();
    let facts: Vec<_> =
        on_engine.iter().map(|u| (u.revision.number, u.active, u.deploying, u.service_deleted)).collect();
    // Revision 1's create is still pending; 3 was pruned.
    assert_eq!(facts, [(1, false, true, false), (2, true, false, false)]);

    let mut create_op = op.clone();
    create_op.status = OperationStatus::Succeeded;
    db.update_operation(&create_op).unwrap();
    db.mark_deleted(&svc.id, Timestamp(99)).unwrap();
    let deleted: Vec<_> = db.revisions_on_engine().unwrap().iter().map(|u| u.service_deleted).collect();
    assert_eq!(deleted, [true, true]);
    assert_eq!(rev.number, 1);
}

#[tokio::test]
async fn calls_run_in_order_and_queued_log_lines_are_written_before_the_next_call() {
    let store = Store::in_memory().unwrap();
    let created = service("web-app");
    let op = created.2.id.clone();
    store.call(move |db| create(db, &created)).await.unwrap();
    for i in 0..100 {
        store.append_event(&op, Timestamp(i), format!("line {i}"));
    }
    let read = op.clone();
    let events = store.call(move |db| db.events(&read, 0, 1000)).await.unwrap();
    assert_eq!(events.len(), 100, "every queued line is there before the call's own work");
    assert_eq!(events[99].message, "line 99");

    // Calls made one after another see each other's writes in that order.
    let (a, b) = (store.clone(), store.clone());
    let first = tokio::spawn(async move { a.call(|db| db.set_setting("k", "1")).await });
    tokio::task::yield_now().await;
    let second = tokio::spawn(async move { b.call(|db| db.set_setting("k", "2")).await });
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(store.call(|db| db.setting("k")).await.unwrap().as_deref(), Some("2"));
}

/// While another process holds the database's write lock, a call waits for it on the blocking pool: the
/// thread that serves other work keeps going (here: a single-threaded runtime keeps ticking).
#[tokio::test(flavor = "current_thread")]
async fn a_locked_database_delays_the_call_but_never_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let store = Store::open(&path, crate::tests::key()).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let write = store.call(|db| db.set_setting("k", "v"));
    let ticks = async {
        let mut ticks = 0u32;
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        loop {
            interval.tick().await;
            ticks += 1;
            if ticks == 50 {
                return ticks;
            }
        }
    };
    tokio::pin!(write);
    // The runtime's only thread ticks 50 times while the write waits on the lock.
    tokio::select! {
        result = &mut write => panic!("the write got through a held lock: {result:?}"),
        ticks = ticks => assert_eq!(ticks, 50),
    }
    other.execute_batch("COMMIT").unwrap();
    write.await.unwrap();
    assert_eq!(store.call(|db| db.setting("k")).await.unwrap().as_deref(), Some("v"));
}

#[tokio::test]
async fn submitted_writes_and_lines_are_written_in_order_before_the_next_call() {
    let store = Store::in_memory().unwrap();
    let created = service("web-app");
    let op = created.2.id.clone();
    store.call(move |db| create(db, &created)).await.unwrap();
    store.append_event(&op, Timestamp(1), "first");
    store.submit("set k", |db| db.set_setting("k", "1"));
    store.append_event(&op, Timestamp(2), "second");
    store.submit("set k again", |db| db.set_setting("k", "2"));
    // A write that fails is logged and dropped; the others still land.
    store.submit("fail on purpose", |db| {
        db.insert_token("t", "x", "h", Timestamp(0))
            .and_then(|()| db.insert_token("t", "x", "h", Timestamp(0)))
    });
    let read = op.clone();
    let (k, lines, tokens) = store
        .call(move |db| Ok::<_, StoreError>((db.setting("k")?, db.events(&read, 0, 10)?, db.token_count()?)))
        .await
        .unwrap();
    assert_eq!(k.as_deref(), Some("2"));
    assert_eq!(lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(), ["first", "second"]);
    assert_eq!(tokens, 0, "the failed write left nothing behind");
}

#[tokio::test]
async fn what_was_queued_while_another_process_held_the_database_is_written_once_it_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let mut db = Db::open(&path, crate::tests::key()).unwrap();
    db.set_busy_timeout(Duration::from_secs(1)).unwrap();
    let store = Store::new(db);
    let created = service("web-app");
    let op = created.2.id.clone();
    store.call(move |db| create(db, &created)).await.unwrap();

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    store.append_event(&op, Timestamp(1), "while locked");
    store.submit("set k", |db| db.set_setting("k", "v"));
    let err = store.call(|db| db.set_setting("other", "x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Busy), "{err}");
    // Reads need no lock: they are not held up by the queue the database would not take.
    let started = std::time::Instant::now();
    let service = store.call(|db| db.list_services()).await.unwrap();
    assert_eq!(service.len(), 1);
    assert!(started.elapsed() < Duration::from_millis(500), "a read waited {:?}", started.elapsed());
    other.execute_batch("COMMIT").unwrap();
    // The queue is tried again on its own a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.call(|db| db.setting("k")).await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the queue was never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let read = op.clone();
    let (k, lines) = store
        .call(move |db| Ok::<_, StoreError>((db.setting("k")?, db.events(&read, 0, 10)?)))
        .await
        .unwrap();
    assert_eq!(k.as_deref(), Some("v"), "the queued write was kept and written");
    assert_eq!(lines.len(), 1, "the queued line was written once: {lines:?}");
}

#[test]
fn a_watched_source_keeps_what_was_seen_checked_and_ignored() {
    let mut db = Db::in_memory().unwrap();
    let created = service("watched");
    create(&mut db, &created).unwrap();
    let id = created.0.id.clone();
    assert_eq!(db.watch(&id).unwrap(), SourceWatch::new(id.clone()));

    let seen = Seen {
        version: SourceVersion::Commit("ab".repeat(20)),
        at: Timestamp(5_000),
        via: Via::Webhook,
        author: Some("Ada".into()),
        subject: Some("Say hello".into()),
    };
    db.record_seen(&id, &seen).unwrap();
    db.record_check(&id, Timestamp(6_000), Some("the host did not answer")).unwrap();
    let ignored = Ignored { at: Timestamp(7_000), reason: "a push to branch dev".into() };
    db.record_ignored(&id, &ignored).unwrap();
    let watch = db.watch(&id).unwrap();
    assert_eq!(watch.seen, Some(seen));
    assert_eq!(
        (watch.checked_at, watch.check_error.as_deref()),
        (Some(Timestamp(6_000)), Some("the host did not answer"))
    );
    assert_eq!(watch.ignored, Some(ignored));
    db.record_check(&id, Timestamp(8_000), None).unwrap();
    assert_eq!(db.watch(&id).unwrap().check_error, None);
}

#[test]
fn webhooks_are_found_by_their_id_until_rotated_or_the_service_is_deleted() {
    let mut db = Db::in_memory().unwrap();
    let created = service("hooked");
    create(&mut db, &created).unwrap();
    let id = created.0.id.clone();
    let hook = Webhook {
        service_id: id.clone(),
        hook_id: "1".repeat(32),
        secret: "s1".into(),
        created_at: Timestamp(1),
    };
    db.put_webhook(&hook).unwrap();
    assert_eq!(db.webhook_by_hook_id(&hook.hook_id).unwrap(), Some(hook.clone()));
    let rotated =
        Webhook { hook_id: "2".repeat(32), secret: "s2".into(), created_at: Timestamp(2), ..hook.clone() };
    db.put_webhook(&rotated).unwrap();
    assert_eq!(db.webhook_by_hook_id(&hook.hook_id).unwrap(), None);
    assert_eq!(db.webhook(&id).unwrap(), Some(rotated.clone()));
    db.mark_deleted(&id, Timestamp(3)).unwrap();
    assert_eq!(db.webhook_by_hook_id(&rotated.hook_id).unwrap(), None);
}

#[test]
fn registry_hooks_are_found_by_their_token_hash() {
    let mut db = Db::in_memory().unwrap();
    db.put_registry_hook("127.0.0.1:5000", "aa", Timestamp(1)).unwrap();
    assert_eq!(db.registry_hook_by_token("aa").unwrap().as_deref(), Some("127.0.0.1:5000"));
    db.put_registry_hook("127.0.0.1:5000", "bb", Timestamp(2)).unwrap();
    assert_eq!(db.registry_hook_by_token("aa").unwrap(), None);
    assert_eq!(db.registry_hooks().unwrap().len(), 1);
    assert!(db.delete_registry_hook("127.0.0.1:5000").unwrap());
    assert!(!db.delete_registry_hook("127.0.0.1:5000").unwrap());
    assert_eq!(db.registry_hook_by_token("bb").unwrap(), None);
}

#[test]
fn autoscaling_configurations_are_revisioned_and_one_is_the_default() {
    let mut db = Db::in_memory().unwrap();
    let default = db.default_autoscaling().unwrap().unwrap();
    assert_eq!(
        (
            default.name.as_str(),
            default.revision,
            default.max_concurrency,
            default.min_size,
            default.max_size
        ),
        ("DefaultConfiguration", 1, 100, 1, 25)
    );
    assert!(default.is_default);
    let first = db.create_autoscaling("fast", (10, 0, 5), Timestamp(1)).unwrap();
    let second = db.create_autoscaling("fast", (20, 1, 5), Timestamp(2)).unwrap();
    assert_eq!((first.revision, second.revision), (1, 2));
    assert_eq!(db.autoscaling("fast", None).unwrap().unwrap().max_concurrency, 20, "the latest");
    assert_eq!(db.autoscaling("fast", Some(1)).unwrap().unwrap().max_concurrency, 10);
    db.set_default_autoscaling("fast").unwrap();
    assert_eq!(db.default_autoscaling().unwrap().unwrap().revision, 2);
    assert_eq!(db.delete_autoscaling("fast", Some(2), Timestamp(3)).unwrap(), 1);
    assert_eq!(db.autoscaling("fast", None).unwrap().unwrap().revision, 1, "the latest live one");
    assert_eq!(db.autoscaling_configurations().unwrap().len(), 2);
}
