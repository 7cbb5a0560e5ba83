//! Observability configurations: revisioned by name; a deleted revision's number is not reused.

use ferry_model::Timestamp;

use crate::Db;

#[test]
fn observability_configurations_are_revisioned_by_name_and_deleted_one_revision_at_a_time() {
    let mut db = Db::in_memory().unwrap();
    assert!(db.observability_configurations().unwrap().is_empty());
    let first = db.create_observability("tracing", Some("AWSXRAY"), Timestamp(1)).unwrap();
    let second = db.create_observability("tracing", None, Timestamp(2)).unwrap();
    let other = db.create_observability("other", Some("AWSXRAY"), Timestamp(3)).unwrap();
    assert_eq!((first.revision, second.revision, other.revision), (1, 2, 1));
    assert_eq!(db.observability("tracing", None).unwrap().unwrap(), second, "the latest");
    assert_eq!(db.observability("tracing", Some(1)).unwrap().unwrap(), first);
    assert_eq!(first.trace_vendor.as_deref(), Some("AWSXRAY"));
    assert_eq!(second.trace_vendor, None);
    let names: Vec<(String, u32)> =
        db.observability_configurations().unwrap().into_iter().map(|c| (c.name, c.revision)).collect();
    assert_eq!(names, [("other".into(), 1), ("tracing".into(), 1), ("tracing".into(), 2)]);

    assert!(db.delete_observability("tracing", 2, Timestamp(4)).unwrap());
    assert!(!db.delete_observability("tracing", 2, Timestamp(5)).unwrap(), "already deleted");
    assert_eq!(db.observability("tracing", Some(2)).unwrap(), None);
    assert_eq!(db.observability("tracing", None).unwrap().unwrap().revision, 1, "the latest live one");
    let third = db.create_observability("tracing", None, Timestamp(6)).unwrap();
    assert_eq!(third.revision, 3, "a deleted revision's number is not reused");
    assert_eq!(db.observability_configurations().unwrap().len(), 3);
}
