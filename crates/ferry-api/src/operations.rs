//! Operations: what every mutating call did, and its log.

use axum::Json;
use axum::extract::State;
use ferry_model::OperationId;
use ferry_wire::{ErrorBody, OperationDetail, OperationEventView, OperationList};
use serde::Deserialize;

use crate::extract::{Params, Segment};
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
    Segment(name): Segment,
) -> Result<Json<OperationList>, ApiError> {
    let service = find(&state, name).await?;
    let id = service.id.clone();
    let ops = state.store.call(move |db| db.operations(&id, 100)).await?;
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
    Segment(id): Segment,
    Params(q): Params<DetailQuery>,
) -> Result<Json<OperationDetail>, ApiError> {
    let id = OperationId::parse(&id).map_err(|e| ApiError::new(ErrorKind::InvalidRequest, e.message))?;
    let not_found = ApiError::new(ErrorKind::NotFound, format!("no operation has id {id}"));
    let found = state
        .store
        .call(move |db| {
            let Some(op) = db.operation(&id)? else { return Ok(None) };
            let Some(service) = db.service(&op.service_id)? else { return Ok(None) };
            let events = db.events(&id, q.after, 1000)?;
            Ok::<_, ferry_store::StoreError>(Some((op, service, events)))
        })
        .await?;
    let (op, service, events) = found.ok_or(not_found)?;
    Ok(Json(OperationDetail {
        operation: state.operation_view(&op, &service),
        events: events
            .into_iter()
            .map(|e| OperationEventView { seq: e.seq, at: rfc3339(e.at), message: e.message })
            .collect(),
    }))
}
