//! Auto scaling configurations as App Runner names them: `Create`, `Describe`, `List`, `Delete` and
//! `UpdateDefault…AutoScalingConfiguration`, on the same store `/v1/autoscaling` uses.
//!
//! An ARN is `arn:aws:apprunner:<region>:<account>:autoscalingconfiguration/<name>/<revision>/<id>`. ferry
//! keeps no id per revision, so `<id>` is derived: the first 32 hex digits of SHA-256 of `<name>/<revision>`,
//! stable across restarts and servers. As App Runner does, an ARN may stop after the name (the latest
//! revision) or after the revision.

use ferry_model::{AutoScaling, AutoScalingConfiguration, Service, Timestamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::AwsError;
use crate::operations::{boolean, integer, page, paged, required, string};
use crate::{ApiState, AppRunnerConfig};

impl AppRunnerConfig {
    /// A configuration revision's ARN, with its derived id.
    pub(crate) fn autoscaling_arn(&self, name: &str, revision: u32) -> String {
        self.revisioned_arn(AUTOSCALING.kind, name, revision)
    }

    /// A revision's ARN for any resource revisioned by name (`kind` as the ARN spells it, e.g.
    /// `observabilityconfiguration`), with the id derived as for auto scaling configurations.
    pub(crate) fn revisioned_arn(&self, kind: &str, name: &str, revision: u32) -> String {
        let (region, account) = (&self.arn.region, &self.arn.account);
        format!(
            "arn:aws:apprunner:{region}:{account}:{kind}/{name}/{revision}/{}",
            revision_id(name, revision)
        )
    }
}

/// The id that ends a revision's ARN: 32 hex digits of SHA-256 of `<name>/<revision>`.
fn revision_id(name: &str, revision: u32) -> String {
    let digest = Sha256::digest(format!("{name}/{revision}").as_bytes());
    hex::encode(&digest[..16])
}

/// What names a revisioned resource (`kind` as its ARN spells it; `what` as people do; `member` the input
/// member the ARN came in).
pub(crate) struct Revisioned {
    pub kind: &'static str,
    pub what: &'static str,
    pub member: &'static str,
}

/// An ARN of a [`Revisioned`] kind, taken apart: the name, the revision if given, and the id if given.
pub(crate) struct RevisionArn<'a> {
    pub name: &'a str,
    pub revision: Option<u32>,
    id: Option<&'a str>,
}

impl RevisionArn<'_> {
    /// Whether the ARN's id (if it has one) is that of `revision` of its name.
    pub(crate) fn id_fits(&self, revision: u32) -> bool {
        self.id.is_none_or(|id| id == revision_id(self.name, revision))
    }
}

impl Revisioned {
    pub(crate) fn not_found(&self, arn: &str) -> AwsError {
        AwsError::not_found(format!("no {} has the ARN {arn}", self.what))
    }

    /// `arn` taken apart, if it is this server's ARN of this kind: an invalid member when it is not an
    /// ARN of this kind at all, not found when it is another server's or malformed past the kind. As App
    /// Runner does, an ARN may stop after the name (the latest revision) or after the revision.
    pub(crate) fn parse<'a>(
        &self,
        config: &AppRunnerConfig,
        arn: &'a str,
    ) -> Result<RevisionArn<'a>, AwsError> {
        let prefix = format!("arn:aws:apprunner:{}:{}:{}/", config.arn.region, config.arn.account, self.kind);
        let Some(rest) = arn.strip_prefix(&prefix) else {
            if arn.starts_with("arn:") && arn.contains(&format!(":{}/", self.kind)) {
                return Err(self.not_found(arn));
            }
            return Err(AwsError::member(
                self.member,
                format!("{arn:?} is not an {} ARN; use {prefix}<name>[/<revision>[/<id>]]", self.what),
            ));
        };
        let mut parts = rest.split('/');
        let name = parts.next().unwrap_or_default();
        let revision = match parts.next() {
            None => None,
            Some(n) => Some(n.parse::<u32>().map_err(|_| self.not_found(arn))?),
        };
        let id = parts.next();
        if parts.next().is_some() {
            return Err(self.not_found(arn));
        }
        Ok(RevisionArn { name, revision, id })
    }
}

const AUTOSCALING: Revisioned = Revisioned {
    kind: "autoscalingconfiguration",
    what: "auto scaling configuration",
    member: "AutoScalingConfigurationArn",
};

/// The live revision an ARN names (its latest if the ARN stops after the name).
pub(crate) async fn by_arn(state: &ApiState, arn: &str) -> Result<AutoScalingConfiguration, AwsError> {
    let parsed = AUTOSCALING.parse(&state.config, arn)?;
    let (name, revision) = (parsed.name.to_owned(), parsed.revision);
    let found = state.store.call(move |db| db.autoscaling(&name, revision)).await?;
    match found {
        Some(found) if parsed.id_fits(found.revision) => Ok(found),
        _ => Err(AUTOSCALING.not_found(arn)),
    }
}

fn used_by<'a>(c: &AutoScalingConfiguration, services: &'a [Service]) -> Vec<&'a str> {
    services.iter().filter(|s| c.used_by(&s.spec)).map(|s| s.name.as_str()).collect()
}

/// App Runner's `AutoScalingConfiguration`. `latest`: no later live revision has this name.
fn shape(state: &ApiState, c: &AutoScalingConfiguration, latest: bool, services: &[Service]) -> Value {
    json!({
        "AutoScalingConfigurationArn": state.config.autoscaling_arn(&c.name, c.revision),
        "AutoScalingConfigurationName": c.name,
        "AutoScalingConfigurationRevision": c.revision,
        "Latest": latest,
        "Status": "ACTIVE",
        "MaxConcurrency": c.max_concurrency,
        "MinSize": c.min_size,
        "MaxSize": c.max_size,
        "CreatedAt": c.created_at.epoch_seconds(),
        "HasAssociatedService": !used_by(c, services).is_empty(),
        "IsDefault": c.is_default,
    })
}

async fn everything(state: &ApiState) -> Result<(Vec<AutoScalingConfiguration>, Vec<Service>), AwsError> {
    let read = |db: &mut ferry_store::Db| {
        Ok::<_, ferry_store::StoreError>((db.autoscaling_configurations()?, db.list_services()?))
    };
    Ok(state.store.call(read).await?)
}

fn is_latest(c: &AutoScalingConfiguration, all: &[AutoScalingConfiguration]) -> bool {
    !all.iter().any(|o| o.name == c.name && o.revision > c.revision)
}

pub(crate) async fn create(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let name = required(input, "AutoScalingConfigurationName", "AutoScalingConfigurationName")?.to_owned();
    AutoScalingConfiguration::check_name(&name)
        .map_err(|e| AwsError::member("AutoScalingConfigurationName", e.message))?;
    let tags = crate::tags::parse(input)?;
    let defaults = AutoScaling::app_runner_default();
    // The ranges make each fit in u32. MinSize may be 0 (App Runner's least is 1): ferry scales to zero.
    let value = |member: &str, range, or: u32| {
        integer(input, member, member, range).map(|n| n.map_or(or, |n| n as u32))
    };
    let scaling = AutoScaling {
        max_concurrency: value("MaxConcurrency", (1, 200), defaults.max_concurrency)?,
        min_size: value("MinSize", (0, 25), defaults.min_size)?,
        max_size: value("MaxSize", (1, 25), defaults.max_size)?,
        configuration: None,
    };
    if scaling.min_size > scaling.max_size {
        return Err(AwsError::member(
            "MinSize",
            format!(
                "{} is above MaxSize {}; make MinSize at most MaxSize",
                scaling.min_size, scaling.max_size
            ),
        ));
    }
    scaling.validate()?;
    let values = (scaling.max_concurrency, scaling.min_size, scaling.max_size);
    let made = state.store.call(move |db| db.create_autoscaling(&name, values, Timestamp::now())).await?;
    tracing::info!(name = %made.name, revision = made.revision, "auto scaling configuration created");
    crate::tags::attach(state, &state.config.autoscaling_arn(&made.name, made.revision), tags).await?;
    Ok(json!({ "AutoScalingConfiguration": shape(state, &made, true, &[]) }))
}

pub(crate) async fn describe(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let arn = required(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")?;
    let found = by_arn(state, arn).await?;
    let (all, services) = everything(state).await?;
    Ok(json!({ "AutoScalingConfiguration": shape(state, &found, is_latest(&found, &all), &services) }))
}

pub(crate) async fn list(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 100)?;
    let name = string(input, "AutoScalingConfigurationName", "AutoScalingConfigurationName")?;
    // App Runner's default is true (botocore's ListAutoScalingConfigurationsRequest.LatestOnly).
    let latest_only = boolean(input, "LatestOnly", "LatestOnly")?.unwrap_or(true);
    let (all, services) = everything(state).await?;
    let items = all
        .iter()
        .filter(|c| name.is_none_or(|n| n == c.name))
        .filter(|c| !latest_only || is_latest(c, &all))
        .map(|c| {
            let mut out = shape(state, c, is_latest(c, &all), &services);
            // A summary carries no values.
            if let Some(map) = out.as_object_mut() {
                for member in ["Latest", "MaxConcurrency", "MinSize", "MaxSize"] {
                    map.remove(member);
                }
            }
            out
        })
        .collect();
    Ok(paged(items, start, max, "AutoScalingConfigurationSummaryList"))
}

/// Refused, as `/v1` refuses it, for the default configuration and while a service uses the revision.
pub(crate) async fn delete(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let arn = required(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")?;
    let found = by_arn(state, arn).await?;
    let all_revisions = boolean(input, "DeleteAllRevisions", "DeleteAllRevisions")?.unwrap_or(false);
    // As App Runner: deleting every revision takes the ARN that names no revision.
    let names_revision =
        arn.split_once(":autoscalingconfiguration/").is_some_and(|(_, rest)| rest.contains('/'));
    if all_revisions && names_revision {
        return Err(AwsError::member(
            "AutoScalingConfigurationArn",
            format!(
                "{arn} names one revision, and DeleteAllRevisions deletes them all: give the ARN that stops \
                 after the name ({})",
                state.config.arn.autoscaling(&found.name, 0).trim_end_matches("/0")
            ),
        ));
    }
    // One store call: no service can start using a revision between the check and the deletion.
    let (name, revision, vanished) = (found.name.clone(), found.revision, AUTOSCALING.not_found(arn));
    let (all, doomed) = state
        .store
        .call(move |db| {
            let (all, services) = (db.autoscaling_configurations()?, db.list_services()?);
            // Read again: it may have been deleted, or made the default, since it was looked up.
            let Some(current) = all.iter().find(|c| c.name == name && c.revision == revision) else {
                return Err(vanished);
            };
            if current.is_default {
                return Err(AwsError::invalid(format!(
                    "{name} is the default auto scaling configuration; make another the default first \
                     (UpdateDefaultAutoScalingConfiguration)"
                )));
            }
            let doomed: Vec<AutoScalingConfiguration> = all
                .iter()
                .filter(|c| c.name == name && (all_revisions || c.revision == revision))
                .cloned()
                .collect();
            let users: Vec<&str> = doomed.iter().flat_map(|c| used_by(c, &services)).collect();
            if !users.is_empty() {
                return Err(AwsError::invalid(format!(
                    "auto scaling configuration {name} is used by the service(s) {}; move them to another \
                     configuration first",
                    users.join(", ")
                )));
            }
            db.delete_autoscaling(&name, (!all_revisions).then_some(revision), Timestamp::now())?;
            Ok((all, doomed))
        })
        .await?;
    for gone in &doomed {
        crate::tags::forget(state, &state.config.autoscaling_arn(&gone.name, gone.revision)).await;
    }
    tracing::info!(name = %found.name, revision = found.revision, all_revisions, "auto scaling configuration deleted");
    let mut out = shape(state, &found, is_latest(&found, &all), &[]);
    out["Status"] = json!("INACTIVE");
    out["DeletedAt"] = json!(Timestamp::now().epoch_seconds());
    Ok(json!({ "AutoScalingConfiguration": out }))
}

/// The ARNs of the services that use the revision (the latest, for an ARN that stops after the name).
pub(crate) async fn services_using(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 100)?;
    let arn = required(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")?;
    let found = by_arn(state, arn).await?;
    let services = state.store.call(|db| db.list_services()).await?;
    let items = services
        .iter()
        .filter(|s| found.used_by(&s.spec))
        .map(|s| json!(state.config.service_arn(s)))
        .collect();
    Ok(paged(items, start, max, "ServiceArnList"))
}

/// ferry's default is a name (new services get its latest revision), so the ARN's name is what counts.
pub(crate) async fn update_default(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let arn = required(input, "AutoScalingConfigurationArn", "AutoScalingConfigurationArn")?;
    let found = by_arn(state, arn).await?;
    let name = found.name.clone();
    state.store.call(move |db| db.set_default_autoscaling(&name)).await?;
    tracing::info!(name = %found.name, "default auto scaling configuration set");
    let (all, services) = everything(state).await?;
    let latest = all.iter().filter(|c| c.name == found.name).max_by_key(|c| c.revision).unwrap_or(&found);
    Ok(json!({ "AutoScalingConfiguration": shape(state, latest, true, &services) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revisions_id_is_32_hex_digits_stable_and_its_own() {
        let id = revision_id("small", 1);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(id, revision_id("small", 1));
        assert_ne!(id, revision_id("small", 2));
        assert_ne!(id, revision_id("smal", 11));
        // SHA-256("small/1"), so another server derives the same ARN.
        let digest = Sha256::digest(b"small/1");
        assert_eq!(id, hex::encode(&digest[..16]));
    }
}
