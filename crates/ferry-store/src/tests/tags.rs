//! Tags: per resource, replaced by key, removed by key or all at once.

use std::collections::BTreeMap;

use crate::Db;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn tags_are_kept_per_resource_replaced_by_key_and_forgotten_with_it() {
    let mut db = Db::in_memory().unwrap();
    let (a, b) = ("arn:aws:apprunner:r:0:service/a/1", "arn:aws:apprunner:r:0:service/b/2");
    assert!(db.tags(a).unwrap().is_empty());
    db.set_tags(a, &map(&[("team", "web"), ("env", "prod")])).unwrap();
    db.set_tags(b, &map(&[("team", "data")])).unwrap();
    db.set_tags(a, &map(&[("env", "staging"), ("empty", "")])).unwrap();
    assert_eq!(db.tags(a).unwrap(), map(&[("empty", ""), ("env", "staging"), ("team", "web")]));
    assert_eq!(db.remove_tags(a, &["env".into(), "absent".into()]).unwrap(), 1);
    assert_eq!(db.tags(a).unwrap(), map(&[("empty", ""), ("team", "web")]));
    assert_eq!(db.forget_tags(a).unwrap(), 2);
    assert!(db.tags(a).unwrap().is_empty());
    assert_eq!(db.tags(b).unwrap(), map(&[("team", "data")]), "another resource's tags stay");
}
