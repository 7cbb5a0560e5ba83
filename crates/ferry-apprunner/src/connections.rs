//! Connections as App Runner names them: `CreateConnection`, `ListConnections`, `DeleteConnection`, on the
//! store `/v1/connections` uses.
//!
//! An ARN is `arn:aws:apprunner:<region>:<account>:connection/<name>/<id>`, the id random at creation, so
//! a name deleted and taken again is another connection. App Runner's handshake happens in its console;
//! ferry's is giving the connection its git credentials (`ferry connection credentials NAME`), which
//! turns it from `PENDING_HANDSHAKE` to `AVAILABLE`.

use ferry_model::Timestamp;
use ferry_store::ConnectionRecord;
use serde_json::{Value, json};

use crate::error::AwsError;
use crate::operations::{page, paged, required, string};
use crate::{ApiState, AppRunnerConfig};

/// What `CreateConnection` takes: App Runner's providers. ferry's own `GIT` (any other host) is made
/// with `ferry connection create --provider git`.
const PROVIDERS: [&str; 2] = ["GITHUB", "BITBUCKET"];

impl AppRunnerConfig {
    fn connection_prefix(&self) -> String {
        format!("arn:aws:apprunner:{}:{}:connection/", self.arn.region, self.arn.account)
    }

    pub(crate) fn connection_arn(&self, name: &str, id: &str) -> String {
        self.arn.connection(name, id)
    }

    /// A connection's ARN without its id, for where only the name is at hand ([`by_arn`] takes it).
    pub(crate) fn connection_name_arn(&self, name: &str) -> String {
        self.arn.connection(name, "")
    }
}

/// The connection `arn` names. As App Runner does, the ARN may stop after the name.
pub(crate) async fn by_arn(state: &ApiState, arn: &str) -> Result<ConnectionRecord, AwsError> {
    lookup(state, arn, "ConnectionArn").await
}

async fn lookup(state: &ApiState, arn: &str, member: &str) -> Result<ConnectionRecord, AwsError> {
    let prefix = state.config.connection_prefix();
    let not_found = || AwsError::not_found(format!("no connection has the ARN {arn}"));
    let Some(rest) = arn.strip_prefix(&prefix) else {
        if arn.starts_with("arn:") && arn.contains(":connection/") {
            return Err(not_found());
        }
        return Err(AwsError::member(
            member,
            format!("{arn:?} is not a connection ARN; use {prefix}<name>/<id>"),
        ));
    };
    let (name, id) = match rest.split_once('/') {
        Some((name, id)) => (name.to_owned(), Some(id)),
        None => (rest.to_owned(), None),
    };
    let found = state.store.call(move |db| db.connection(&name)).await?.ok_or_else(not_found)?;
    if id.is_some_and(|id| id != found.id) {
        return Err(not_found());
    }
    Ok(found)
}

/// The name of the connection a service's `AuthenticationConfiguration.ConnectionArn` names, once it is
/// there and `AVAILABLE`: a build could not fetch with it otherwise.
pub(crate) async fn usable(state: &ApiState, arn: &str) -> Result<String, AwsError> {
    let member = "SourceConfiguration.AuthenticationConfiguration.ConnectionArn";
    let found = lookup(state, arn, member).await.map_err(|e| match e.code {
        // A member of the request that names nothing is an invalid request, as App Runner answers it.
        "ResourceNotFoundException" => AwsError::member(member, e.message),
        _ => e,
    })?;
    if found.credentials.is_none() {
        return Err(AwsError::member(
            member,
            format!(
                "connection {0} is {1}: it has no credentials yet; complete the handshake with \
                 `ferry connection credentials {0} --username USER` (the password or token on stdin) or \
                 `--ssh-key FILE`, then try again",
                found.name,
                found.status()
            ),
        ));
    }
    Ok(found.name)
}

/// App Runner's `Connection` (and `ConnectionSummary`: the same members).
fn shape(config: &AppRunnerConfig, c: &ConnectionRecord) -> Value {
    json!({
        "ConnectionName": c.name,
        "ConnectionArn": config.connection_arn(&c.name, &c.id),
        "ProviderType": c.provider,
        "Status": c.status(),
        "CreatedAt": c.created_at.epoch_seconds(),
    })
}

pub(crate) async fn create(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let name = required(input, "ConnectionName", "ConnectionName")?.to_owned();
    ferry_model::check_connection_name(&name).map_err(|e| AwsError::member("ConnectionName", e.message))?;
    let provider = required(input, "ProviderType", "ProviderType")?;
    let Some(provider) = PROVIDERS.into_iter().find(|p| *p == provider) else {
        return Err(AwsError::member(
            "ProviderType",
            format!(
                "{provider:?} is not one of {}; for another git host use `ferry connection create NAME --provider git`",
                PROVIDERS.join(", ")
            ),
        ));
    };
    let tags = crate::tags::parse(input)?;
    let lookup = name.clone();
    let made = state
        .store
        .call(move |db| db.create_connection(&lookup, provider, Timestamp::now()))
        .await?
        .ok_or_else(|| {
        AwsError::member(
            "ConnectionName",
            format!(
                "a connection named {name} exists already; choose another name, or delete that one first"
            ),
        )
    })?;
    tracing::info!(connection = %made.name, provider, "connection created");
    crate::tags::attach(state, &state.config.connection_arn(&made.name, &made.id), tags).await?;
    Ok(json!({ "Connection": shape(&state.config, &made) }))
}

pub(crate) async fn list(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 100)?;
    let name = string(input, "ConnectionName", "ConnectionName")?;
    let all = state.store.call(|db| db.connections()).await?;
    let items =
        all.iter().filter(|c| name.is_none_or(|n| n == c.name)).map(|c| shape(&state.config, c)).collect();
    Ok(paged(items, start, max, "ConnectionSummaryList"))
}

/// Refused while a service uses the connection: in its configuration, or in the revision that serves
/// (a rebuild fetches with it again).
pub(crate) async fn delete(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let arn = required(input, "ConnectionArn", "ConnectionArn")?;
    let found = by_arn(state, arn).await?;
    let (name, id, vanished) = (
        found.name.clone(),
        found.id.clone(),
        AwsError::not_found(format!("no connection has the ARN {arn}")),
    );
    // One store call: no service can start using it between the check and the deletion, and a
    // connection made under the name since it was looked up (another ARN) is not the one deleted.
    let users = state
        .store
        .call(move |db| {
            if db.connection(&name)?.is_none_or(|c| c.id != id) {
                return Err(vanished);
            }
            let users = db.connection_users()?.remove(&name).unwrap_or_default();
            if users.is_empty() {
                db.delete_connection(&name)?;
            }
            Ok(users)
        })
        .await?;
    if !users.is_empty() {
        let names: Vec<&str> = users.iter().map(|s| s.as_str()).collect();
        return Err(AwsError::invalid(format!(
            "connection {} is used by the service(s) {}; delete them, or move them to another connection \
             (UpdateService), first",
            found.name,
            names.join(", ")
        )));
    }
    tracing::info!(connection = %found.name, "connection deleted");
    crate::tags::forget(state, &state.config.connection_arn(&found.name, &found.id)).await;
    let mut out = shape(&state.config, &found);
    out["Status"] = json!("DELETED");
    Ok(json!({ "Connection": out }))
}
