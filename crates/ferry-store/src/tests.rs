use ferry_model::*;

use crate::{Store, StoreError};

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
    let revision = Revision {
        service_id: id.clone(),
        number: 1,
        spec,
        image_digest: None,
        image_id: None,
        created_at: now,
        activated_at: None,
        image_pruned: false,
        build: None,
    };
    let op = Operation {
        id: OperationId::generate(),
        service_id: id,
        kind: OperationType::CreateService,
        status: OperationStatus::Pending,
        revision: Some(1),
        created_at: now,
        started_at: None,
        ended_at: None,
        updated_at: now,
        error: None,
        trigger: Some("SERVICE_CREATE".to_owned()),
    };
    (service, revision, op)
}

#[test]
fn a_created_service_reads_back_whole() {
    let store = Store::in_memory().unwrap();
    let (svc, rev, op) = service("web-app");
    store.create_service(&svc, &rev, &op).unwrap();
    assert_eq!(store.service_by_name("WEB-APP").unwrap().unwrap(), svc);
    assert_eq!(store.service(&svc.id).unwrap().unwrap(), svc);
    assert_eq!(store.revision(&svc.id, 1).unwrap().unwrap(), rev);
    assert_eq!(store.operation(&op.id).unwrap().unwrap(), op);
    assert_eq!(store.current_operation(&svc.id).unwrap().unwrap(), op);
    assert_eq!(store.list_services().unwrap(), vec![svc]);
}

#[test]
fn protocol_and_request_timeout_are_stored_with_the_spec() {
    let store = Store::in_memory().unwrap();
    let (mut svc, mut rev, op) = service("grpc");
    svc.spec.protocol = UpstreamProtocol::Http2;
    svc.spec.request_timeout = RequestTimeout::from_secs(3600).unwrap();
    rev.spec = svc.spec.clone();
    store.create_service(&svc, &rev, &op).unwrap();
    let read = store.revision(&svc.id, 1).unwrap().unwrap();
    assert_eq!(read.spec.protocol, UpstreamProtocol::Http2);
    assert_eq!(read.spec.request_timeout.secs(), 3600);
    assert_eq!(store.service(&svc.id).unwrap().unwrap().spec, svc.spec);
}

#[test]
fn names_are_unique_among_live_services_in_any_case_and_free_after_delete() {
    let store = Store::in_memory().unwrap();
    let (a, rev, op) = service("web-app");
    store.create_service(&a, &rev, &op).unwrap();
    let (b, rev_b, op_b) = service("Web-App");
    let err = store.create_service(&b, &rev_b, &op_b).unwrap_err();
    assert!(matches!(err, StoreError::NameTaken(ref n) if n == "Web-App"), "{err}");
    // Nothing of the refused service was written.
    assert!(store.service(&b.id).unwrap().is_none());
    assert!(store.operation(&op_b.id).unwrap().is_none());

    store.mark_deleted(&a.id, Timestamp(2_000)).unwrap();
    assert!(store.service_by_name("web-app").unwrap().is_none());
    assert_eq!(store.service(&a.id).unwrap().unwrap().status, ServiceStatus::Deleted);
    store.create_service(&b, &rev_b, &op_b).unwrap();
    assert_eq!(store.list_services().unwrap().len(), 1);
}

#[test]
fn operations_list_newest_first_and_run_oldest_first() {
    let store = Store::in_memory().unwrap();
    let (svc, rev, first) = service("web-app");
    store.create_service(&svc, &rev, &first).unwrap();
    let second = Operation {
        id: OperationId::generate(),
        kind: OperationType::DeleteService,
        created_at: Timestamp(1_500),
        updated_at: Timestamp(1_500),
        revision: None,
        ..first.clone()
    };
    store.queue_operation(&second, ServiceStatus::OperationInProgress).unwrap();
    let listed: Vec<_> = store.operations(&svc.id, 20).unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(listed, [second.id.clone(), first.id.clone()]);
    assert_eq!(store.current_operation(&svc.id).unwrap().unwrap().id, first.id);

    let mut done = first.clone();
    done.status = OperationStatus::Succeeded;
    done.ended_at = Some(Timestamp(3_000));
    store.update_operation(&done).unwrap();
    assert_eq!(store.current_operation(&svc.id).unwrap().unwrap().id, second.id);
}

#[test]
fn events_are_numbered_and_read_after_a_cursor() {
    let store = Store::in_memory().unwrap();
    let (svc, rev, op) = service("web-app");
    store.create_service(&svc, &rev, &op).unwrap();
    for (i, m) in ["pulling", "starting", "healthy"].iter().enumerate() {
        assert_eq!(store.append_event(&op.id, Timestamp(i as i64), m).unwrap(), i as i64 + 1);
    }
    let after_one: Vec<_> = store.events(&op.id, 1, 100).unwrap().into_iter().map(|e| e.message).collect();
    assert_eq!(after_one, ["starting", "healthy"]);
}

#[test]
fn instances_round_trip_and_keep_a_log_cursor() {
    let store = Store::in_memory().unwrap();
    let (svc, rev, op) = service("web-app");
    store.create_service(&svc, &rev, &op).unwrap();
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
    store.put_instance(&inst).unwrap();
    inst.state = InstanceState::Ready;
    inst.container_id = Some("abc".into());
    inst.address = Some("127.0.0.1:32768".into());
    inst.state_since = Timestamp(9);
    store.put_instance(&inst).unwrap();
    assert_eq!(store.instances(&svc.id).unwrap(), vec![inst.clone()]);
    assert_eq!(store.log_cursor(&inst.id).unwrap(), None);
    store.set_log_cursor(&inst.id, Timestamp(42)).unwrap();
    assert_eq!(store.log_cursor(&inst.id).unwrap(), Some(Timestamp(42)));
    store.delete_instance(&inst.id).unwrap();
    assert!(store.all_instances().unwrap().is_empty());
}

fn add_revision(store: &Store, base: &Revision, number: u32, image: &str) -> Revision {
    let r = Revision { number, image_id: Some(image.to_owned()), ..base.clone() };
    let op = Operation {
        id: OperationId::generate(),
        service_id: base.service_id.clone(),
        kind: OperationType::UpdateService,
        status: OperationStatus::Succeeded,
        revision: Some(number),
        created_at: Timestamp(number as i64),
        started_at: None,
        ended_at: None,
        updated_at: Timestamp(number as i64),
        error: None,
        trigger: None,
    };
    store.queue_deployment(&op, ServiceStatus::Running, Some(&r)).unwrap();
    r
}

#[test]
fn revisions_list_newest_first_and_activation_sets_the_serving_spec() {
    let store = Store::in_memory().unwrap();
    let (svc, rev, op) = service("web-app");
    store.create_service(&svc, &rev, &op).unwrap();
    assert_eq!(store.next_revision_number(&svc.id).unwrap(), 2);
    let mut second = rev.clone();
    second.spec.source.config_mut().port = 9090;
    let second = add_revision(&store, &second, 2, "sha256:b");
    assert_eq!(
        store.service(&svc.id).unwrap().unwrap().spec.source.config().port,
        9090,
        "desired spec moved"
    );
    let numbers: Vec<u32> = store.revisions(&svc.id).unwrap().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2, 1]);

    store.activate_revision(&svc.id, 1, Timestamp(50)).unwrap();
    let s = store.service(&svc.id).unwrap().unwrap();
    assert_eq!((s.active_revision, s.spec.source.config().port), (Some(1), 8080));
    assert_eq!(store.revision(&svc.id, 1).unwrap().unwrap().activated_at, Some(Timestamp(50)));
    assert_eq!(store.revision(&svc.id, 2).unwrap().unwrap(), second);

    store.reset_spec_to(&svc.id, 2).unwrap();
    assert_eq!(store.service(&svc.id).unwrap().unwrap().spec.source.config().port, 9090);
}

#[test]
fn prunable_images_spare_kept_active_pending_and_shared_ones() {
    let store = Store::in_memory().unwrap();
    let (svc, rev, op) = service("web-app");
    store.create_service(&svc, &rev, &op).unwrap();
    store.set_revision_image(&svc.id, 1, None, "sha256:one").unwrap();
    let base = store.revision(&svc.id, 1).unwrap().unwrap();
    add_revision(&store, &base, 2, "sha256:two");
    add_revision(&store, &base, 3, "sha256:three");
    add_revision(&store, &base, 4, "sha256:one"); // the same image as revision 1
    add_revision(&store, &base, 5, "sha256:five");
    store.activate_revision(&svc.id, 2, Timestamp(9)).unwrap();

    // Keep the newest 2 (4 and 5) and the active one (2): 3 goes; 1 shares its image with 4 and stays.
    let prunable: Vec<(u32, String)> =
        store.prunable_images(2).unwrap().into_iter().map(|(_, n, i)| (n, i)).collect();
    assert_eq!(prunable, [(3, "sha256:three".to_owned())]);
    store.set_image_pruned(&svc.id, 3, true).unwrap();
    assert!(store.prunable_images(2).unwrap().is_empty(), "pruned once");
    assert!(store.revision(&svc.id, 3).unwrap().unwrap().image_pruned);

    // A deleted service keeps nothing (once its operations have ended).
    let mut create = op.clone();
    create.status = OperationStatus::Succeeded;
    store.update_operation(&create).unwrap();
    store.mark_deleted(&svc.id, Timestamp(99)).unwrap();
    let prunable: Vec<u32> = store.prunable_images(2).unwrap().into_iter().map(|(_, n, _)| n).collect();
    assert_eq!(prunable, [1, 2, 4, 5]);
}
