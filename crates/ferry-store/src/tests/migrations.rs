//! Migrations: each applies on top of the previous schema, and data written by earlier releases reads back.

use rusqlite::Connection;

use crate::Db;
use crate::migrate::{MIGRATIONS, run};

#[test]
fn opening_twice_keeps_the_data_and_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    {
        let mut store = Db::open(&path, crate::tests::key()).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        store.insert_token("t1", "admin", "abc", ferry_model::Timestamp(1)).unwrap();
    }
    let store = Db::open(&path, crate::tests::key()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert!(store.token_by_hash("abc").unwrap().is_some());
}

#[test]
fn every_migration_applies_on_top_of_the_previous_schema() {
    // Apply migrations one by one, as upgrades across releases would, and check each step.
    let mut conn = Connection::open_in_memory().unwrap();
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let tx = conn.transaction().unwrap();
        tx.execute_batch(sql).unwrap_or_else(|e| panic!("{name}: {e}"));
        tx.pragma_update(None, "user_version", index as i64 + 1).unwrap();
        tx.commit().unwrap();
    }
    // Running the migrator on an up-to-date database is a no-op.
    run(&mut conn).unwrap();
}

#[test]
fn a_database_from_the_first_release_is_upgraded_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    {
        // A database as the first release left it: only migration 1 applied, one token in it.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO api_tokens (id, name, hash, created_at) VALUES ('t', 'admin', 'h', 1)", [])
            .unwrap();
    }
    let mut store = Db::open(&path, crate::tests::key()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert!(store.token_by_hash("h").unwrap().is_some(), "data survives the upgrade");
    store.set_setting("installation_id", "x").unwrap();
    assert_eq!(store.setting("installation_id").unwrap().as_deref(), Some("x"));
}

#[test]
fn image_sources_stored_before_code_sources_existed_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let old_spec = r#"{"source":{"image":"127.0.0.1:5000/web:v1","config":{"port":8080,"env":{"A":"1"},"start_command":null},"credentials":null},"instance":{"cpu":"1 vCPU","memory":"2 GB"},"health_check":{"protocol":"TCP","path":"/","interval":5,"timeout":2,"healthy_threshold":1,"unhealthy_threshold":5},"instances":1}"#;
    {
        let conn = schema_of_version(&path, 3);
        conn.execute(
            "INSERT INTO services (id, name, name_key, status, spec, created_at, updated_at)
             VALUES ('8fe1e10304f84fd2b0df550fe98a71fa', 'web', 'web', 'RUNNING', ?1, 1, 1)",
            [old_spec],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO revisions (service_id, number, spec, created_at) VALUES ('8fe1e10304f84fd2b0df550fe98a71fa', 1, ?1, 1)",
            [old_spec],
        )
        .unwrap();
    }
    let store = Db::open(&path, crate::tests::key()).unwrap();
    let id = ferry_model::ServiceId::parse("8fe1e10304f84fd2b0df550fe98a71fa").unwrap();
    let service = store.service(&id).unwrap().unwrap();
    let image = service.spec.source.image().expect("an image source");
    assert_eq!(image.image.to_string(), "127.0.0.1:5000/web:v1");
    assert_eq!(image.config.env.get("A"), Some("1"));
    assert_eq!(service.spec.health_check.grace_period, 0, "a field added later takes its default");
    assert_eq!(service.spec.protocol, ferry_model::UpstreamProtocol::Http1);
    assert_eq!(service.spec.request_timeout, ferry_model::RequestTimeout::default());
    let revision = store.revision(&id, 1).unwrap().unwrap();
    assert_eq!(revision.spec, service.spec);
    assert_eq!(revision.build, None);
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Db::open(&path, crate::tests::key()).err().unwrap();
    assert!(err.to_string().contains("newer than this ferry knows"), "{err}");
}

#[test]
fn operations_and_instances_from_before_typed_triggers_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let spec = r#"{"source":{"Image":{"image":"127.0.0.1:5000/web:v1","config":{"port":8080,"env":{},"start_command":null},"credentials":null}},"instance":{"cpu":"1 vCPU","memory":"2 GB"},"health_check":{"protocol":"TCP","path":"/","interval":5,"timeout":2,"healthy_threshold":1,"unhealthy_threshold":5},"instances":1}"#;
    let service = "8fe1e10304f84fd2b0df550fe98a71fa";
    {
        let conn = schema_of_version(&path, 4);
        conn.execute(
            "INSERT INTO services (id, name, name_key, status, spec, created_at, updated_at)
             VALUES (?1, 'web', 'web', 'RUNNING', ?2, 1, 1)",
            [service, spec],
        )
        .unwrap();
        for (id, kind, trigger) in [
            ("00000000-0000-4000-8000-000000000001", "CREATE_SERVICE", Some("SERVICE_CREATE")),
            ("00000000-0000-4000-8000-000000000002", "START_DEPLOYMENT", Some("ROLLBACK")),
            ("00000000-0000-4000-8000-000000000003", "PAUSE_SERVICE", None),
        ] {
            conn.execute(
                "INSERT INTO operations (id, service_id, type, status, created_at, updated_at, trigger)
                 VALUES (?1, ?2, ?3, 'SUCCEEDED', 1, 1, ?4)",
                rusqlite::params![id, service, kind, trigger],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO instances (id, service_id, revision, state, container_id, address, created_at, state_since)
             VALUES ('0123456789abcdef', ?1, 1, 'READY', 'c1', '127.0.0.1:32768', 1, 1)",
            [service],
        )
        .unwrap();
    }
    let db = Db::open(&path, crate::tests::key()).unwrap();
    let id = ferry_model::ServiceId::parse(service).unwrap();
    let triggers: Vec<_> = db.operations(&id, 10).unwrap().into_iter().map(|o| o.trigger).collect();
    use ferry_model::Trigger::{Manual, Rollback};
    assert_eq!(triggers, [Manual, Rollback, Manual], "newest first");
    let instance = db.instances(&id).unwrap().pop().unwrap();
    let address = instance.address.unwrap();
    assert_eq!(address.endpoint.to_string(), "127.0.0.1:32768");
    assert_eq!((address.node.as_str(), address.probe), ("", None));
}

/// A database at `path` with the first `version` migrations applied, as an older ferry left it.
fn schema_of_version(path: &std::path::Path, version: usize) -> Connection {
    let mut conn = Connection::open(path).unwrap();
    for (i, (_, sql)) in MIGRATIONS[..version].iter().enumerate() {
        let tx = conn.transaction().unwrap();
        tx.execute_batch(sql).unwrap();
        tx.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        tx.commit().unwrap();
    }
    conn
}
