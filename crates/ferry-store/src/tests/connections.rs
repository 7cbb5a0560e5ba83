//! Connections: made without credentials, given them sealed, listed, used by services, deleted.

use ferry_model::*;

use super::{create, key, service};
use crate::Db;

fn basic(password: &str) -> GitCredentials {
    GitCredentials::Basic { username: "ferry-bot".into(), password: password.into() }
}

fn code_spec(connection: &str) -> ServiceSpec {
    let mut spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").unwrap());
    spec.source = Source::Code(CodeSource {
        repository: "https://git.example/o/r.git".into(),
        branch: "main".into(),
        source_directory: None,
        configuration: CodeConfiguration::Repository { builder: Builder::Auto },
        config: ImageConfiguration::default(),
        credentials: None,
        connection: Some(connection.into()),
        auto_deploy: true,
    });
    spec
}

#[test]
fn connections_are_made_pending_given_credentials_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let mut db = Db::open(&path, key()).unwrap();
    let made = db.create_connection("gh-main", "GITHUB", Timestamp(10)).unwrap().unwrap();
    assert_eq!(
        (made.name.as_str(), made.provider.as_str(), made.created_at),
        ("gh-main", "GITHUB", Timestamp(10))
    );
    assert_eq!(made.id.len(), 32);
    assert!(made.id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{}", made.id);
    assert_eq!(made.status(), "PENDING_HANDSHAKE");
    assert_eq!(db.create_connection("gh-main", "GIT", Timestamp(11)).unwrap(), None, "the name is taken");
    let other = db.create_connection("bb", "BITBUCKET", Timestamp(12)).unwrap().unwrap();
    assert_ne!(other.id, made.id, "ids are random");

    assert!(db.set_connection_credentials("gh-main", &basic("hunter2-first"), Timestamp(20)).unwrap());
    assert!(db.set_connection_credentials("gh-main", &basic("hunter2-second"), Timestamp(21)).unwrap());
    assert!(!db.set_connection_credentials("nope", &basic("x"), Timestamp(21)).unwrap());
    let read = db.connection("gh-main").unwrap().unwrap();
    assert_eq!(read.status(), "AVAILABLE");
    assert_eq!(read.credentials, Some(basic("hunter2-second")));
    assert_eq!(read.id, made.id);
    assert!(!format!("{read:?}").contains("hunter2"), "Debug shows no password");
    assert_eq!(db.connection("nope").unwrap(), None);
    let names: Vec<_> = db.connections().unwrap().into_iter().map(|c| (c.status(), c.name)).collect();
    assert_eq!(names, [("PENDING_HANDSHAKE", "bb".to_owned()), ("AVAILABLE", "gh-main".to_owned())]);

    // Sealed for its row: moved to another, it does not open.
    db.conn
        .execute(
            "UPDATE connections SET credentials = (SELECT credentials FROM connections WHERE name = 'gh-main')
             WHERE name = 'bb'",
            [],
        )
        .unwrap();
    assert!(db.connection("bb").is_err());
    db.conn.execute("UPDATE connections SET credentials = NULL WHERE name = 'bb'", []).unwrap();

    assert!(db.delete_connection("bb").unwrap());
    assert!(!db.delete_connection("bb").unwrap());
    drop(db);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ferry.db")) {
            bytes.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(bytes.windows(7).any(|w| w == b"gh-main"), "the files are the database's");
    for plain in ["hunter2-first", "hunter2-second"] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain} is in the files in clear"
        );
    }
    // Read back after a reopen, under the same key.
    let mut db = Db::open(&path, key()).unwrap();
    assert_eq!(db.connection("gh-main").unwrap().unwrap().credentials, Some(basic("hunter2-second")));
}

#[test]
fn connection_users_are_the_services_that_name_them() {
    let mut db = Db::in_memory().unwrap();
    db.create_connection("gh-main", "GITHUB", Timestamp(1)).unwrap();
    let (mut svc, mut rev, op) = service("shop");
    svc.spec = code_spec("gh-main");
    rev.spec = svc.spec.clone();
    create(&mut db, &(svc.clone(), rev, op)).unwrap();
    let plain = service("plain");
    create(&mut db, &plain).unwrap();
    assert!(svc.spec.connection() == Some("gh-main") && plain.0.spec.connection().is_none());
    let users = db.connection_users().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users["gh-main"], [svc.name.clone()]);
}

#[test]
fn a_service_moving_to_another_connection_uses_both_until_the_new_revision_serves() {
    let mut db = Db::in_memory().unwrap();
    let (mut svc, mut rev, op) = service("shop");
    svc.spec = code_spec("gh-new");
    rev.spec = code_spec("gh-old");
    svc.active_revision = Some(1);
    create(&mut db, &(svc.clone(), rev, op)).unwrap();
    let users = db.connection_users().unwrap();
    assert_eq!(users.keys().collect::<Vec<_>>(), ["gh-new", "gh-old"], "the serving revision's counts");
    assert_eq!(users["gh-old"], [svc.name.clone()]);
    db.mark_deleted(&svc.id, Timestamp(2)).unwrap();
    assert!(db.connection_users().unwrap().is_empty(), "a deleted service uses nothing");
}
