//! Observability configurations as App Runner names them: `Create`, `Describe`, `List` and
//! `DeleteObservabilityConfiguration`, and a service's `ObservabilityConfiguration`.
//!
//! ferry has no tracing backend: a configuration is stored and reported, and a service records which
//! revision it uses; nothing collects traces. Revisions and ARNs are as for auto scaling configurations
//! (`…:observabilityconfiguration/<name>/<revision>/<id>`, the id derived the same way, `autoscaling.rs`).

use ferry_model::{ObservabilityRef, Service, ServiceSpec, Timestamp};
use ferry_store::ObservabilityRecord;
use serde_json::{Value, json};

use crate::autoscaling::Revisioned;
use crate::error::AwsError;
use crate::operations::{boolean, object, page, paged, required, string};
use crate::{ApiState, AppRunnerConfig};

const KIND: Revisioned = Revisioned {
    kind: "observabilityconfiguration",
    what: "observability configuration",
    member: "ObservabilityConfigurationArn",
};

/// App Runner keeps this name for its own configuration: it cannot be created, nor a revision of it.
const RESERVED: &str = "DefaultConfiguration";

/// The tracing vendors App Runner knows.
const VENDORS: &[&str] = &["AWSXRAY"];

impl AppRunnerConfig {
    pub(crate) fn observability_arn(&self, name: &str, revision: u32) -> String {
        self.revisioned_arn(KIND.kind, name, revision)
    }
}

/// The live revision an ARN names (its latest if the ARN stops after the name).
pub(crate) async fn by_arn(state: &ApiState, arn: &str) -> Result<ObservabilityRecord, AwsError> {
    let parsed = KIND.parse(&state.config, arn)?;
    let (name, revision) = (parsed.name.to_owned(), parsed.revision);
    let found = state.store.call(move |db| db.observability(&name, revision)).await?;
    match found {
        Some(found) if parsed.id_fits(found.revision) => Ok(found),
        _ => Err(KIND.not_found(arn)),
    }
}

/// A service's `ObservabilityConfiguration` input: the revision to use, or `None` when
/// `ObservabilityEnabled` is false.
pub(crate) async fn service_input(
    state: &ApiState,
    given: &Value,
) -> Result<Option<ObservabilityRef>, AwsError> {
    const BASE: &str = "ObservabilityConfiguration";
    let enabled = boolean(given, "ObservabilityEnabled", &format!("{BASE}.ObservabilityEnabled"))?
        .ok_or_else(|| AwsError::member(&format!("{BASE}.ObservabilityEnabled"), "is required"))?;
    let arn =
        string(given, "ObservabilityConfigurationArn", &format!("{BASE}.ObservabilityConfigurationArn"))?;
    match (enabled, arn) {
        (true, Some(arn)) => {
            let found = by_arn(state, arn).await?;
            Ok(Some(ObservabilityRef { name: found.name, revision: found.revision }))
        }
        (true, None) => Err(AwsError::member(
            &format!("{BASE}.ObservabilityConfigurationArn"),
            "is required when ObservabilityEnabled is true",
        )),
        (false, None) => Ok(None),
        (false, Some(_)) => Err(AwsError::member(
            &format!("{BASE}.ObservabilityConfigurationArn"),
            "is given only when ObservabilityEnabled is true; leave it out, or enable observability",
        )),
    }
}

/// The `ObservabilityConfiguration` member of App Runner's `Service`.
pub(crate) fn service_shape(config: &AppRunnerConfig, spec: &ServiceSpec) -> Value {
    match &spec.observability {
        Some(used) => json!({
            "ObservabilityEnabled": true,
            "ObservabilityConfigurationArn": config.observability_arn(&used.name, used.revision),
        }),
        None => json!({ "ObservabilityEnabled": false }),
    }
}

/// App Runner's `ObservabilityConfiguration`. `latest`: no later live revision has this name.
fn shape(state: &ApiState, c: &ObservabilityRecord, latest: bool) -> Value {
    let mut out = json!({
        "ObservabilityConfigurationArn": state.config.observability_arn(&c.name, c.revision),
        "ObservabilityConfigurationName": c.name,
        "ObservabilityConfigurationRevision": c.revision,
        "Latest": latest,
        "Status": if c.deleted_at.is_some() { "INACTIVE" } else { "ACTIVE" },
        "CreatedAt": c.created_at.epoch_seconds(),
    });
    if let Some(vendor) = &c.trace_vendor {
        out["TraceConfiguration"] = json!({ "Vendor": vendor });
    }
    if let Some(at) = c.deleted_at {
        out["DeletedAt"] = json!(at.epoch_seconds());
    }
    out
}

fn is_latest(c: &ObservabilityRecord, all: &[ObservabilityRecord]) -> bool {
    !all.iter().any(|o| o.name == c.name && o.revision > c.revision)
}

fn uses(service: &Service, name: &str, revision: u32) -> bool {
    service.spec.observability.as_ref().is_some_and(|r| r.name == name && r.revision == revision)
}

pub(crate) async fn create(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    const MEMBER: &str = "ObservabilityConfigurationName";
    let name = required(input, MEMBER, MEMBER)?.to_owned();
    ferry_model::AutoScalingConfiguration::check_name(&name)
        .map_err(|e| AwsError::member(MEMBER, e.message))?;
    if name == RESERVED {
        return Err(AwsError::member(
            MEMBER,
            format!("{RESERVED} is reserved for App Runner's own configuration; choose another name"),
        ));
    }
    let vendor = match object(input, "TraceConfiguration", "TraceConfiguration")? {
        None => None,
        Some(trace) => {
            let vendor = required(trace, "Vendor", "TraceConfiguration.Vendor")?;
            if !VENDORS.contains(&vendor) {
                return Err(AwsError::member(
                    "TraceConfiguration.Vendor",
                    format!("{vendor:?} is not one of {}", VENDORS.join(", ")),
                ));
            }
            Some(vendor.to_owned())
        }
    };
    let tags = crate::tags::parse(input)?;
    let made = state
        .store
        .call(move |db| db.create_observability(&name, vendor.as_deref(), Timestamp::now()))
        .await?;
    tracing::info!(name = %made.name, revision = made.revision, "observability configuration created");
    crate::tags::attach(state, &state.config.observability_arn(&made.name, made.revision), tags).await?;
    Ok(json!({ "ObservabilityConfiguration": shape(state, &made, true) }))
}

pub(crate) async fn describe(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let found = by_arn(state, required(input, KIND.member, KIND.member)?).await?;
    let all = state.store.call(|db| db.observability_configurations()).await?;
    Ok(json!({ "ObservabilityConfiguration": shape(state, &found, is_latest(&found, &all)) }))
}

/// As App Runner lists them: `LatestOnly` is true unless asked otherwise.
pub(crate) async fn list(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 100)?;
    let name = string(input, "ObservabilityConfigurationName", "ObservabilityConfigurationName")?;
    let latest_only = boolean(input, "LatestOnly", "LatestOnly")?.unwrap_or(true);
    let all = state.store.call(|db| db.observability_configurations()).await?;
    let items = all
        .iter()
        .filter(|c| name.is_none_or(|n| n == c.name))
        .filter(|c| !latest_only || is_latest(c, &all))
        .map(|c| {
            // A summary identifies the revision only.
            json!({
                "ObservabilityConfigurationArn": state.config.observability_arn(&c.name, c.revision),
                "ObservabilityConfigurationName": c.name,
                "ObservabilityConfigurationRevision": c.revision,
            })
        })
        .collect();
    Ok(paged(items, start, max, "ObservabilityConfigurationSummaryList"))
}

/// Refused while a service uses the revision, naming the services.
pub(crate) async fn delete(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let found = by_arn(state, required(input, KIND.member, KIND.member)?).await?;
    // One store call: no service can start using the revision between the check and the deletion.
    let (name, revision, now) = (found.name.clone(), found.revision, Timestamp::now());
    let vanished = KIND.not_found(&state.config.observability_arn(&found.name, found.revision));
    let all = state
        .store
        .call(move |db| {
            let (all, services) = (db.observability_configurations()?, db.list_services()?);
            let users: Vec<&str> =
                services.iter().filter(|s| uses(s, &name, revision)).map(|s| s.name.as_str()).collect();
            if !users.is_empty() {
                return Err(AwsError::invalid(format!(
                    "observability configuration {name} revision {revision} is used by the service(s) {}; \
                     update them to another configuration (or ObservabilityEnabled=false) first",
                    users.join(", ")
                )));
            }
            if !db.delete_observability(&name, revision, now)? {
                // Deleted by another call since it was read.
                return Err(vanished);
            }
            Ok(all)
        })
        .await?;
    tracing::info!(name = %found.name, revision = found.revision, "observability configuration deleted");
    let arn = state.config.observability_arn(&found.name, found.revision);
    crate::tags::forget(state, &arn).await;
    let latest = is_latest(&found, &all);
    let gone = ObservabilityRecord { deleted_at: Some(now), ..found };
    Ok(json!({ "ObservabilityConfiguration": shape(state, &gone, latest) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_services_member_says_whether_observability_is_on_and_with_which_revision() {
        let config = AppRunnerConfig {
            arn: ferry_model::Arn { region: "local".into(), account: "000000000000".into() },
            domain: "localhost".into(),
            port: None,
            hooks_host: "hooks.localhost".into(),
            tls: None,
        };
        let mut spec = ServiceSpec::for_image(ferry_model::ImageRef::parse("127.0.0.1:5000/web:1").unwrap());
        assert_eq!(service_shape(&config, &spec), json!({ "ObservabilityEnabled": false }));
        spec.observability = Some(ObservabilityRef { name: "tracing".into(), revision: 2 });
        let shown = service_shape(&config, &spec);
        assert_eq!(shown["ObservabilityEnabled"], true);
        let arn = shown["ObservabilityConfigurationArn"].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:apprunner:local:000000000000:observabilityconfiguration/tracing/2/"),
            "{arn}"
        );
        let parsed = KIND.parse(&config, arn).unwrap();
        assert_eq!((parsed.name, parsed.revision), ("tracing", Some(2)));
        assert!(parsed.id_fits(2) && !parsed.id_fits(1));
    }
}
