//! Secrets and sealed credentials: values never in the file in clear, and only under the right key.

use ferry_model::*;
use rusqlite::Connection;

use super::key;
use crate::{Db, Sealer, SecretSet, StoreError};

fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

fn value(s: &str) -> SecretValue {
    SecretValue::new(s.to_owned()).unwrap()
}

/// Every byte of the database's files (the WAL too), to search for a value in clear.
fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ferry.db")) {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn secrets_are_set_listed_without_values_and_opened_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let mut db = Db::open(&path, key()).unwrap();
    assert_eq!(db.set_secret(&name("db"), &value("s3cr3t-first"), Timestamp(1)).unwrap(), SecretSet::Created);
    assert_eq!(
        db.set_secret(&name("db"), &value("s3cr3t-second"), Timestamp(2)).unwrap(),
        SecretSet::Updated
    );
    db.set_secret(&name("api/key"), &value("k"), Timestamp(3)).unwrap();
    let listed = db.secrets().unwrap();
    let summary: Vec<_> =
        listed.iter().map(|s| (s.name.as_str(), s.created_at.0, s.updated_at.0, s.version)).collect();
    assert_eq!(summary, [("api/key", 3, 3, 1), ("db", 1, 2, 2)]);

    let values = db.secret_values(&[name("db"), name("missing")]).unwrap();
    assert_eq!(values.len(), 1, "a missing secret is absent");
    assert_eq!(values[&name("db")].expose(), "s3cr3t-second");
    assert!(db.delete_secret(&name("db")).unwrap());
    assert!(!db.delete_secret(&name("db")).unwrap());
    assert!(!db.secret_exists(&name("db")).unwrap());
    drop(db);
    let bytes = file_bytes(dir.path());
    assert!(!bytes.is_empty());
    for plain in ["s3cr3t-first", "s3cr3t-second"] {
        assert!(!contains(&bytes, plain), "{plain} is in the database's files in clear");
    }
}

#[test]
fn a_sealed_value_moved_to_another_row_does_not_open() {
    let mut db = Db::in_memory().unwrap();
    db.set_secret(&name("a"), &value("for a"), Timestamp(1)).unwrap();
    db.set_secret(&name("b"), &value("for b"), Timestamp(1)).unwrap();
    db.conn
        .execute(
            "UPDATE secrets SET value = (SELECT value FROM secrets WHERE name = 'a') WHERE name = 'b'",
            [],
        )
        .unwrap();
    let e = db.secret_values(&[name("b")]).unwrap_err();
    assert!(matches!(e, StoreError::Unsealable { ref place, .. } if place == "secret:b"), "{e}");
}

#[test]
fn another_key_is_refused_at_open_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    Db::open(&path, key()).unwrap().set_secret(&name("a"), &value("v"), Timestamp(1)).unwrap();
    let e = Db::open(&path, Sealer::from_key([8; 32])).err().unwrap();
    assert!(matches!(e, StoreError::Key(_)), "{e}");
    assert!(e.to_string().contains("restore the secret.key"), "{e}");
    let db = Db::open(&path, key()).unwrap();
    assert_eq!(db.secret_values(&[name("a")]).unwrap()[&name("a")].expose(), "v");
}

const SERVICE: &str = "8fe1e10304f84fd2b0df550fe98a71fa";

fn credentials_spec() -> ServiceSpec {
    let mut spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    let Source::Image(image) = &mut spec.source else { unreachable!() };
    image.credentials =
        Some(RegistryCredentials { username: "deploy".into(), password: "registry-pass-1".into() });
    spec
}

#[test]
fn credentials_are_sealed_in_services_and_revisions_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let id = ServiceId::parse(SERVICE).unwrap();
    let spec = credentials_spec();
    {
        let mut db = Db::open(&path, key()).unwrap();
        let service = Service {
            id: id.clone(),
            name: ServiceName::parse("web").unwrap(),
            status: ServiceStatus::Running,
            spec: spec.clone(),
            active_revision: None,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
            deleted_at: None,
        };
        db.insert_service(&service).unwrap();
        db.insert_revision(&Revision::new(id.clone(), 1, spec.clone(), Timestamp(1))).unwrap();
        let raw: String = db.conn.query_row("SELECT spec FROM revisions", [], |r| r.get(0)).unwrap();
        assert!(raw.contains(r#""credentials":{"sealed":""#), "{raw}");
        assert_eq!(db.revision(&id, 1).unwrap().unwrap().spec, spec);
        assert_eq!(db.service(&id).unwrap().unwrap().spec, spec);
        let hook = Webhook {
            service_id: id.clone(),
            hook_id: "h".repeat(32),
            secret: "webhook-key-2".into(),
            created_at: Timestamp(1),
        };
        db.put_webhook(&hook).unwrap();
        let raw: String = db.conn.query_row("SELECT secret FROM webhooks", [], |r| r.get(0)).unwrap();
        assert!(raw.starts_with("sealed:"), "{raw}");
        assert_eq!(db.webhook(&id).unwrap().unwrap(), hook);
    }
    let bytes = file_bytes(dir.path());
    assert!(!contains(&bytes, "registry-pass-1") && !contains(&bytes, "webhook-key-2"));
}

#[test]
fn plaintext_credentials_of_an_earlier_version_are_sealed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let git = r#"{"Basic":{"username":"u","password":"git-pass-1"}}"#;
    let image_spec = serde_json::to_string(&credentials_spec()).unwrap();
    let code_spec = image_spec.replace(
        r#"{"Image":{"image":"127.0.0.1:5000/web:v1","#,
        r#"{"Code":{"repository":"https://example.invalid/r.git","branch":"main","source_directory":null,"configuration":{"Repository":{"builder":"auto"}},"#,
    );
    let code_spec = code_spec.replace(r#"{"username":"deploy","password":"registry-pass-1"}"#, git);
    assert!(code_spec.contains("git-pass-1"), "{code_spec}");
    {
        // A database as version 7 left it: credentials in clear.
        let conn = Connection::open(&path).unwrap();
        for (i, (_, sql)) in crate::migrate::MIGRATIONS.iter().take(7).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        let other = "1fe1e10304f84fd2b0df550fe98a71fa";
        conn.execute(
            "INSERT INTO services (id, name, name_key, status, spec, created_at, updated_at)
             VALUES (?1, 'web', 'web', 'RUNNING', ?2, 1, 1), (?3, 'app', 'app', 'RUNNING', ?4, 1, 1)",
            [SERVICE, &image_spec, other, &code_spec],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO revisions (service_id, number, spec, created_at) VALUES (?1, 1, ?2, 1), (?3, 1, ?4, 1)",
            [SERVICE, &image_spec, other, &code_spec],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO webhooks (service_id, hook_id, secret, created_at) VALUES (?1, 'h1', 'webhook-key-1', 1)",
            [SERVICE],
        )
        .unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    }
    assert!(contains(&std::fs::read(&path).unwrap(), "git-pass-1"), "the test starts from clear text");
    let db = Db::open(&path, key()).unwrap();
    let id = ServiceId::parse(SERVICE).unwrap();
    assert_eq!(db.revision(&id, 1).unwrap().unwrap().spec, credentials_spec());
    assert_eq!(db.webhook(&id).unwrap().unwrap().secret, "webhook-key-1");
    assert_eq!(db.webhook_by_hook_id("h1").unwrap().unwrap().secret, "webhook-key-1");
    let other = db.service_by_name("app").unwrap().unwrap();
    let Source::Code(code) = &other.spec.source else { panic!("a code source") };
    assert!(
        matches!(&code.credentials, Some(GitCredentials::Basic { password, .. }) if password == "git-pass-1")
    );
    drop(db);
    let bytes = file_bytes(dir.path());
    for plain in ["git-pass-1", "registry-pass-1", "webhook-key-1"] {
        assert!(!contains(&bytes, plain), "{plain} is still in clear");
    }
}
