//! `/v1/connections`: named git credentials that services building from a private repository use (App
//! Runner's connections). A connection is made without credentials (`PENDING_HANDSHAKE`); giving it some
//! is ferry's handshake (`AVAILABLE`, admin tokens only). Builds and polls read them from the store each
//! time, so new credentials apply to the next build. No answer ever carries them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_model::{ServiceName, Timestamp, ValidationError};
use ferry_store::{ConnectionRecord, StoreError};
use ferry_wire::{
    ConnectionCredentialsRequest, ConnectionList, ConnectionView, CreateConnectionRequest, ErrorBody,
    GitCredentialsInput,
};

use crate::extract::{Body, Params, Segment};
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteParams {
    #[serde(default)]
    force: bool,
}

fn view(record: &ConnectionRecord, services: &[ServiceName]) -> ConnectionView {
    ConnectionView {
        name: record.name.clone(),
        provider: record.provider.clone(),
        status: record.status().to_owned(),
        credentials: record.credentials.as_ref().map(|c| c.kind().to_owned()),
        created_at: rfc3339(record.created_at),
        services: services.iter().map(|s| s.to_string()).collect(),
    }
}

fn name(segment: &str) -> Result<String, ApiError> {
    ferry_model::check_connection_name(segment).map_err(|e| ApiError::from(e).with_field("name"))?;
    Ok(segment.to_owned())
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no connection is named {name:?}; `ferry connection list` shows them"),
    )
    .with_field("name")
}

/// Makes a connection, without credentials (`PENDING_HANDSHAKE`): give it some with
/// `PUT /v1/connections/{name}/credentials`.
#[utoipa::path(
    post, path = "/v1/connections", tag = "connections",
    request_body = CreateConnectionRequest,
    responses(
        (status = 201, description = "Made", body = ConnectionView),
        (status = 400, description = "A bad name or provider", body = ErrorBody),
        (status = 409, description = "A connection has this name", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(req): Body<CreateConnectionRequest>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    let name = name(&req.name)?;
    let provider = ferry_model::connection_provider(req.provider.as_deref().unwrap_or("git"))?;
    let key = name.clone();
    let made = state.store.call(move |db| db.create_connection(&key, provider, Timestamp::now())).await?;
    let Some(record) = made else {
        return Err(ApiError::new(ErrorKind::Conflict, format!("a connection is already named {name:?}"))
            .with_field("name"));
    };
    tracing::info!(connection = %record.name, provider = %record.provider, "connection created");
    Ok((StatusCode::CREATED, Json(view(&record, &[]))))
}

/// Lists the connections, by name, with their status and the services that use each; never their
/// credentials.
#[utoipa::path(
    get, path = "/v1/connections", tag = "connections",
    responses((status = 200, body = ConnectionList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<ConnectionList>, ApiError> {
    let (records, users) =
        state.store.call(|db| Ok::<_, StoreError>((db.connections()?, db.connection_users()?))).await?;
    let connections =
        records.iter().map(|r| view(r, users.get(&r.name).map(Vec::as_slice).unwrap_or_default())).collect();
    Ok(Json(ConnectionList { connections }))
}

/// Gives a connection its credentials (the handshake), replacing any it had: the next build or poll of
/// every service that uses it fetches with them.
#[utoipa::path(
    put, path = "/v1/connections/{name}/credentials", tag = "connections",
    params(("name" = String, Path, description = "The connection's name")),
    request_body = ConnectionCredentialsRequest,
    responses(
        (status = 200, description = "Set: the connection is AVAILABLE", body = ConnectionView),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn set_credentials(
    State(state): State<AppState>,
    Segment(segment): Segment,
    Body(req): Body<ConnectionCredentialsRequest>,
) -> Result<Json<ConnectionView>, ApiError> {
    let name = name(&segment)?;
    let input = GitCredentialsInput {
        username: req.username,
        password: req.password,
        ssh_private_key: req.ssh_private_key,
    };
    let credentials = crate::convert::git_credentials(input)?;
    let key = name.clone();
    let found = state
        .store
        .call(move |db| {
            db.transaction(|db| {
                if !db.set_connection_credentials(&key, &credentials, Timestamp::now())? {
                    return Ok::<_, StoreError>(None);
                }
                let users = db.connection_users()?.remove(&key).unwrap_or_default();
                Ok(db.connection(&key)?.map(|r| (r, users)))
            })
        })
        .await?;
    let (record, users) = found.ok_or_else(|| not_found(&name))?;
    tracing::info!(connection = %record.name, "connection credentials set");
    Ok(Json(view(&record, &users)))
}

/// Deletes a connection. One that live services use is kept (409, naming them) unless `force=true`:
/// their builds and polls then fail until they are given another.
#[utoipa::path(
    delete, path = "/v1/connections/{name}", tag = "connections",
    params(
        ("name" = String, Path, description = "The connection's name"),
        ("force" = Option<bool>, Query, description = "Delete it even if services use it"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Services use it", body = ErrorBody),
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
    let force = params.force;
    let arn = state.config.arn.clone();
    let outcome = state
        .store
        .call(move |db| {
            db.transaction(|db| {
                let users = db.connection_users()?.remove(&key).unwrap_or_default();
                let Some(found) = db.connection(&key)? else { return Ok::<_, StoreError>(Ok(false)) };
                if !users.is_empty() && !force {
                    return Ok(Err(users));
                }
                // Its App Runner tags go with it, whichever API deletes it.
                db.forget_tags(&arn.connection(&found.name, &found.id))?;
                Ok(Ok(db.delete_connection(&key)?))
            })
        })
        .await?;
    match outcome {
        Ok(true) => {
            tracing::info!(connection = %name, "connection deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(false) => Err(not_found(&name)),
        Err(users) => Err(ApiError::in_use(
            "connection",
            &name,
            &users,
            "give them other credentials first (ferry service update SERVICE --connection OTHER)",
        )),
    }
}

/// Refuses a service that names a connection that does not exist. One without credentials yet is
/// taken: its builds say how to give it some.
pub(crate) async fn require(state: &AppState, field: &str, connection: Option<&str>) -> Result<(), ApiError> {
    let Some(name) = connection.filter(|c| !c.is_empty()) else { return Ok(()) };
    ferry_model::check_connection_name(name)
        .map_err(|e| ApiError::from(ValidationError::new(field, e.message)))?;
    let key = name.to_owned();
    if state.store.call(move |db| db.connection(&key)).await?.is_some() {
        return Ok(());
    }
    Err(ApiError::from(ValidationError::new(
        field,
        format!("connection {name} does not exist; make it first: ferry connection create {name}"),
    )))
}
