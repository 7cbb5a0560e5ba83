//! Tags as App Runner has them: `TagResource`, `UntagResource`, `ListTagsForResource`, and `Tags` on the
//! Create operations. A resource's tags are kept under its full ARN (a partial ARN is made whole first, so
//! `…/name` and `…/name/1/<id>` tag the same revision) and forgotten when the App Runner API deletes it.
//! A deleted resource's ARN is never given to another (service ids are random, configuration revisions
//! are never reused), so tags a deletion through another path leaves behind cannot reach a new resource.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::AwsError;
use crate::operations::{required, service_by_arn};
use crate::{ApiState, autoscaling, observability};

/// The most tags one resource may have (AWS's rule for every tagged resource).
pub(crate) const MOST: usize = 50;

/// `Tags` (a list of `{Key, Value}`), checked as App Runner checks it, before anything is created.
pub(crate) fn parse(input: &Value) -> Result<BTreeMap<String, String>, AwsError> {
    let list = match input.get("Tags") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(AwsError::member("Tags", "must be a list of {Key, Value}")),
    };
    if list.len() > MOST {
        return Err(AwsError::member("Tags", format!("has {} tags; give at most {MOST}", list.len())));
    }
    let mut tags = BTreeMap::new();
    for (i, tag) in list.iter().enumerate() {
        let path = format!("Tags[{i}]");
        if !tag.is_object() {
            return Err(AwsError::member(&path, "must be a structure {Key, Value}"));
        }
        let key = required(tag, "Key", &format!("{path}.Key"))?;
        check_key(key, &format!("{path}.Key"))?;
        let value = crate::operations::string(tag, "Value", &format!("{path}.Value"))?.unwrap_or_default();
        if value.chars().count() > 256 {
            return Err(AwsError::member(&format!("{path}.Value"), "is longer than 256 characters"));
        }
        if tags.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(AwsError::member(
                &format!("{path}.Key"),
                format!("{key:?} is given twice; give each key once"),
            ));
        }
    }
    Ok(tags)
}

/// App Runner's `TagKey`: 1 to 128 characters, not starting with `aws:` (AWS keeps those for itself).
fn check_key(key: &str, path: &str) -> Result<(), AwsError> {
    let length = key.chars().count();
    if !(1..=128).contains(&length) {
        return Err(AwsError::member(path, format!("{key:?} must be 1 to 128 characters")));
    }
    if key.starts_with("aws:") {
        return Err(AwsError::member(
            path,
            format!("{key:?} starts with \"aws:\", which AWS reserves; use another key"),
        ));
    }
    Ok(())
}

/// Adds `tags` to the resource `arn` (its full ARN), replacing the values of keys it has; refused when the
/// resource would have more than [`MOST`].
pub(crate) async fn attach(
    state: &ApiState,
    arn: &str,
    tags: BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if tags.is_empty() {
        return Ok(());
    }
    let resource = arn.to_owned();
    let added = tags.len();
    // One store call, so no other tagging comes between the count and the write.
    let outcome = state
        .store
        .call(move |db| {
            let have = db.tags(&resource)?;
            let total = have.len() + tags.keys().filter(|k| !have.contains_key(*k)).count();
            if total > MOST {
                return Ok(Err(total));
            }
            db.set_tags(&resource, &tags)?;
            Ok::<_, ferry_store::StoreError>(Ok(()))
        })
        .await?;
    if let Err(total) = outcome {
        return Err(AwsError::member(
            "Tags",
            format!(
                "{arn} would have {total} tags; a resource has at most {MOST} (UntagResource some first)"
            ),
        ));
    }
    tracing::info!(resource = %arn, added, "resource tagged");
    Ok(())
}

/// Forgets the tags of a resource that was deleted. A failure is logged, not answered: the deletion
/// happened, and the ARN is never reused.
pub(crate) async fn forget(state: &ApiState, arn: &str) {
    let resource = arn.to_owned();
    match state.store.call(move |db| db.forget_tags(&resource)).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(resource = %arn, removed, "deleted resource's tags forgotten"),
        Err(e) => tracing::error!(resource = %arn, error = %e, "forgetting a deleted resource's tags failed"),
    }
}

/// The resource `ResourceArn` names: its full ARN, and whether it is live (a deleted service is still
/// described, so its ARN still resolves; it cannot be tagged).
async fn resource(state: &ApiState, input: &Value) -> Result<(String, bool), AwsError> {
    let arn = required(input, "ResourceArn", "ResourceArn")?;
    let not_app_runner = || {
        AwsError::member(
            "ResourceArn",
            format!(
                "{arn:?} is not an App Runner ARN; use arn:aws:apprunner:<region>:<account>:<resource>/…"
            ),
        )
    };
    // arn:aws:apprunner:<region>:<account>:<kind>/<rest>
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = fields[..] else { return Err(not_app_runner()) };
    if fields[0] != "arn" || !partition.starts_with("aws") || service != "apprunner" {
        return Err(not_app_runner());
    }
    let config = &state.config;
    if region != config.arn.region || account != config.arn.account {
        return Err(AwsError::not_found(format!("no resource of this server has the ARN {arn}")));
    }
    let kind = resource.split('/').next().unwrap_or_default();
    match kind {
        "service" => {
            let service = service_by_arn(state, arn).await?;
            Ok((config.service_arn(&service), service.deleted_at.is_none()))
        }
        "autoscalingconfiguration" => {
            let found = autoscaling::by_arn(state, arn).await?;
            Ok((config.autoscaling_arn(&found.name, found.revision), true))
        }
        "observabilityconfiguration" => {
            let found = observability::by_arn(state, arn).await?;
            Ok((config.observability_arn(&found.name, found.revision), true))
        }
        "connection" => {
            let found = crate::connections::by_arn(state, arn).await?;
            Ok((config.connection_arn(&found.name, &found.id), true))
        }
        "vpcconnector" | "vpcingressconnection" => {
            Err(AwsError::not_found(format!("no resource of this server has the ARN {arn}")))
        }
        _ => Err(not_app_runner()),
    }
}

pub(crate) async fn tag_resource(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (arn, live) = resource(state, input).await?;
    if input.get("Tags").is_none_or(Value::is_null) {
        return Err(AwsError::member("Tags", "is required"));
    }
    let tags = parse(input)?;
    refuse_deleted(&arn, live)?;
    attach(state, &arn, tags).await?;
    Ok(json!({}))
}

pub(crate) async fn untag_resource(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (arn, live) = resource(state, input).await?;
    let keys = match input.get("TagKeys") {
        Some(Value::Array(keys)) => keys,
        None | Some(Value::Null) => return Err(AwsError::member("TagKeys", "is required")),
        Some(_) => return Err(AwsError::member("TagKeys", "must be a list of tag keys")),
    };
    let mut names = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let path = format!("TagKeys[{i}]");
        let key = key.as_str().ok_or_else(|| AwsError::member(&path, "must be a string"))?;
        check_key(key, &path)?;
        names.push(key.to_owned());
    }
    refuse_deleted(&arn, live)?;
    let resource = arn.clone();
    let removed = state.store.call(move |db| db.remove_tags(&resource, &names)).await?;
    tracing::info!(resource = %arn, removed, "resource untagged");
    Ok(json!({}))
}

pub(crate) async fn list_tags(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (arn, _) = resource(state, input).await?;
    let tags = state.store.call(move |db| db.tags(&arn)).await?;
    let list: Vec<Value> = tags.into_iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    Ok(json!({ "Tags": list }))
}

fn refuse_deleted(arn: &str, live: bool) -> Result<(), AwsError> {
    if live {
        return Ok(());
    }
    Err(AwsError::new(
        "InvalidStateException",
        axum::http::StatusCode::BAD_REQUEST,
        format!("{arn} is deleted; a deleted resource cannot be tagged or untagged"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: Value) -> Result<BTreeMap<String, String>, AwsError> {
        parse(&json!({ "Tags": list }))
    }

    #[test]
    fn tags_are_read_into_a_map_and_an_absent_member_is_none() {
        let read = tags(json!([{ "Key": "team", "Value": "web" }, { "Key": "empty" }])).unwrap();
        assert_eq!(read, BTreeMap::from([("empty".into(), String::new()), ("team".into(), "web".into())]));
        assert!(parse(&json!({})).unwrap().is_empty());
        let longest = tags(json!([{ "Key": "k".repeat(128), "Value": "é".repeat(256) }])).unwrap();
        assert_eq!(longest.len(), 1, "lengths count characters, not bytes");
    }

    #[test]
    fn bad_tags_are_refused_naming_the_member() {
        let fifty_one: Vec<Value> =
            (0..51).map(|i| json!({ "Key": format!("k{i}"), "Value": "v" })).collect();
        let cases = [
            (json!([{ "Key": "aws:x", "Value": "v" }]), "Tags[0].Key", "aws:"),
            (json!([{ "Key": "ok" }, { "Key": "", "Value": "v" }]), "Tags[1].Key", "1 to 128"),
            (json!([{ "Key": "k".repeat(129) }]), "Tags[0].Key", "1 to 128"),
            (json!([{ "Value": "v" }]), "Tags[0].Key", "required"),
            (json!([{ "Key": "k", "Value": "v".repeat(257) }]), "Tags[0].Value", "256"),
            (json!([{ "Key": "k", "Value": 1 }]), "Tags[0].Value", "string"),
            (json!([{ "Key": "k" }, { "Key": "k" }]), "Tags[1].Key", "twice"),
            (json!(["k"]), "Tags[0]", "structure"),
            (json!({ "k": "v" }), "Tags", "list"),
            (Value::Array(fifty_one), "Tags", "at most 50"),
        ];
        for (input, member, why) in cases {
            let e = tags(input.clone()).expect_err(&input.to_string());
            assert_eq!(e.code, "InvalidRequestException");
            assert!(
                e.message.starts_with(&format!("{member}: ")) && e.message.contains(why),
                "{input}: {e:?}"
            );
        }
    }

    #[test]
    fn fifty_tags_are_allowed() {
        let fifty: Vec<Value> = (0..50).map(|i| json!({ "Key": format!("k{i}"), "Value": "v" })).collect();
        assert_eq!(tags(Value::Array(fifty)).unwrap().len(), 50);
    }
}
