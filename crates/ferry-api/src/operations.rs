//! Operations: what every mutating call did, and its log.

use axum::Json;
use axum::extract::{Path, Query, State};
use ferry_model::OperationId;
use ferry_wire::{ErrorBody, OperationDetail, OperationEventView, OperationList};
use serde::Deserialize;

use crate::services::find;
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

/// Lists a service's operations, newest first (at most 100).
#[utoipa::path(
    get, path = "/v1/services/{name}/operations", tag = "operations",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 200, body = OperationList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<OperationList>, ApiError> {
    let service = find(&state, name).await?;
    let id = service.id.clone();
    let ops = state.db(move |store| Ok(store.operations(&id, 100)?)).await?;
    Ok(Json(OperationList { operations: ops.iter().map(|o| state.operation_view(o, &service)).collect() }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct DetailQuery {
    /// Return only log lines numbered after this one (0 for all).
    #[serde(default)]
    after: i64,
}

/// One operation with its log lines (after `after`). Works for deleted services too, so a client can
/// follow a delete to its end.
#[utoipa::path(
    get, path = "/v1/operations/{id}", tag = "operations",
    params(("id" = String, Path, description = "The operation's id"), DetailQuery),
    responses((status = 200, body = OperationDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Json<OperationDetail>, ApiError> {
    let id = OperationId::parse(&id).map_err(|e| ApiError::new(ErrorKind::InvalidRequest, e.message))?;
    let (op, service, events) = state
        .db(move |store| {
            let not_found = || ApiError::new(ErrorKind::NotFound, format!("no operation has id {id}"));
            let op = store.operation(&id)?.ok_or_else(not_found)?;
            let service = store.service(&op.service_id)?.ok_or_else(not_found)?;
            let events = store.events(&id, q.after, 1000)?;
            Ok((op, service, events))
        })
        .await?;
    Ok(Json(OperationDetail {
        operation: state.operation_view(&op, &service),
        events: events
            .into_iter()
            .map(|e| OperationEventView { seq: e.seq, at: rfc3339(e.at), message: e.message })
            .collect(),
    }))
}
