//! `/v1/secrets`: set, list and delete the named values services get as environment variables; and the
//! check that a service refers only to secrets that exist. No answer ever carries a value.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_model::{SecretName, SecretValue, ServiceSpec, Timestamp, ValidationError};
use ferry_store::{SecretRecord, SecretSet, StoreError};
use ferry_wire::{ErrorBody, SecretList, SecretSetView, SecretView, SetSecretRequest};
use serde::Deserialize;

use crate::extract::{Body, Params, Segment};
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

fn view(record: SecretRecord, services: Vec<String>) -> SecretView {
    SecretView {
        name: record.name.to_string(),
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
        version: record.version,
        services,
    }
}

fn name(segment: &str) -> Result<SecretName, ApiError> {
    SecretName::parse(segment).map_err(|e| ApiError::from(e).with_field("name"))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("no secret is named {name:?}")).with_field("name")
}

/// Makes a secret or gives it a new value. Instances started from then on get the new value: redeploy a
/// service (`POST /v1/services/{name}/deployments`) to replace the ones running.
#[utoipa::path(
    put, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "1 to 128 of A-Z a-z 0-9 / _ + = . @ - (a / sent as %2F)")),
    request_body = SetSecretRequest,
    responses(
        (status = 201, description = "Made", body = SecretSetView),
        (status = 200, description = "Given a new value", body = SecretSetView),
        (status = 400, description = "A bad name or value", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn set(
    State(state): State<AppState>,
    Segment(segment): Segment,
    Body(req): Body<SetSecretRequest>,
) -> Result<(StatusCode, Json<SecretSetView>), ApiError> {
    let name = name(&segment)?;
    let value = SecretValue::new(req.value)?;
    let now = Timestamp::now();
    let (outcome, record, users) = state
        .store
        .call(move |db| {
            db.transaction(|db| {
                let outcome = db.set_secret(&name, &value, now)?;
                let record = db.secrets()?.into_iter().find(|s| s.name == name);
                let users = db.secret_users()?.remove(&name).unwrap_or_default();
                Ok::<_, StoreError>((outcome, record, users))
            })
        })
        .await?;
    let record = record.ok_or_else(|| ApiError::new(ErrorKind::Internal, "the secret set is not there"))?;
    tracing::info!(secret = %record.name, version = record.version, "secret set");
    let created = outcome == SecretSet::Created;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let services = users.iter().map(|s| s.to_string()).collect();
    Ok((status, Json(SecretSetView { secret: view(record, services), created })))
}

/// Lists the secrets, by name, with the services that refer to each; never their values.
#[utoipa::path(
    get, path = "/v1/secrets", tag = "secrets",
    responses((status = 200, body = SecretList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<SecretList>, ApiError> {
    let (records, mut users) =
        state.store.call(|db| Ok::<_, StoreError>((db.secrets()?, db.secret_users()?))).await?;
    let secrets = records
        .into_iter()
        .map(|r| {
            let services = users.remove(&r.name).unwrap_or_default().iter().map(|s| s.to_string()).collect();
            view(r, services)
        })
        .collect();
    Ok(Json(SecretList { secrets }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteParams {
    #[serde(default)]
    force: bool,
}

/// Deletes a secret. One that live services refer to is kept (409, naming them) unless `force=true`:
/// their running instances keep the value they have, and their next deployment fails until the secret is
/// set again or the reference removed.
#[utoipa::path(
    delete, path = "/v1/secrets/{name}", tag = "secrets",
    params(
        ("name" = String, Path, description = "The secret's name (a / sent as %2F)"),
        ("force" = Option<bool>, Query, description = "Delete it even if services refer to it"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Services refer to it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Segment(segment): Segment,
    Params(params): Params<DeleteParams>,
) -> Result<StatusCode, ApiError> {
    let name = name(&segment)?;
    let key = name.clone();
    let outcome = state
        .store
        .call(move |db| {
            db.transaction(|db| {
                if !db.secret_exists(&key)? {
                    return Ok::<_, StoreError>(Ok(false));
                }
                let users = db.secret_users()?.remove(&key).unwrap_or_default();
                if !users.is_empty() && !params.force {
                    return Ok(Err(users));
                }
                Ok(Ok(db.delete_secret(&key)?))
            })
        })
        .await?;
    match outcome {
        Ok(true) => {
            tracing::info!(secret = %name, "secret deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(false) => Err(not_found(name.as_str())),
        Err(users) => Err(ApiError::in_use(
            "secret",
            name.as_str(),
            &users,
            "remove it from them first (ferry service update SERVICE --remove-secret ENV)",
        )),
    }
}

/// Refuses references to secrets that do not exist, naming the first: `refs` is variable → secret, and
/// `field` where they were given (`source.image.secrets`).
pub(crate) async fn require(
    state: &AppState,
    field: &str,
    refs: BTreeMap<String, SecretName>,
) -> Result<(), ApiError> {
    if refs.is_empty() {
        return Ok(());
    }
    let names: Vec<SecretName> = refs.values().cloned().collect();
    let found = state.store.call(move |db| db.existing_secrets(&names)).await?;
    match refs.into_iter().find(|(_, name)| !found.contains(name)) {
        None => Ok(()),
        Some((var, name)) => Err(ApiError::from(ValidationError::new(
            format!("{field}.{var}"),
            format!("secret {name} does not exist; make it first: ferry secret set {name}"),
        ))),
    }
}

/// The references of a configuration to check when a service is created.
pub(crate) fn references(spec: &ServiceSpec) -> BTreeMap<String, SecretName> {
    spec.source.config().secrets.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()
}
