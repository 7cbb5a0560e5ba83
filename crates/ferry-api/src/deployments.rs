//! Changing what a service runs: update, deploy, rollback, pause, resume; and its revisions.
//!
//! Each call is judged against the state the service will be in when its turn comes
//! (`ferry_plan::admission`), then queued as an operation behind any that are pending: one runs at a
//! time, oldest first.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_model::{Operation, OperationType, Revision, Service, ServiceStatus, Timestamp};
use ferry_plan::admission::{Facts, admit};
use ferry_store::Store;
use ferry_wire::{ErrorBody, RevisionList, RollbackRequest, ServiceOperation, UpdateServiceRequest};

use crate::services::{find, json_error};
use crate::views::revision_view;
use crate::{ApiError, AppState, ErrorKind, convert};

fn refused(message: String) -> ApiError {
    ApiError::new(ErrorKind::InvalidState, message)
}

fn check(store: &Store, service: &Service, kind: OperationType) -> Result<(), ApiError> {
    let ops = store.operations(&service.id, 100)?;
    admit(kind, service.name.as_str(), Facts::of(service, &ops)).map_err(refused)
}

impl AppState {
    /// Queues `op` (with the revision it deploys, if new), nudges the controller and answers 202.
    async fn queued(
        &self,
        service: Service,
        op: Operation,
        revision: Option<Revision>,
    ) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
        let (op_id, id) = (op.id.clone(), service.id.clone());
        tracing::info!(service = %service.name, operation = %op.id, kind = %op.kind, "operation queued");
        self.db(move |store| {
            Ok(store.queue_deployment(&op, ServiceStatus::OperationInProgress, revision.as_ref())?)
        })
        .await?;
        self.control.operation_queued(&id);
        let service = self.db(move |store| Ok(store.service(&id)?)).await?.unwrap_or(service);
        let view = self.view_of(service).await?;
        Ok((StatusCode::ACCEPTED, Json(ServiceOperation { service: view, operation_id: op_id.to_string() })))
    }
}

/// A new revision of `service` with `spec`, numbered after the last one.
fn next_revision(
    store: &Store,
    service: &Service,
    spec: ferry_model::ServiceSpec,
    now: Timestamp,
) -> Result<Revision, ApiError> {
    Ok(Revision {
        service_id: service.id.clone(),
        number: store.next_revision_number(&service.id)?,
        spec,
        image_digest: None,
        image_id: None,
        created_at: now,
        activated_at: None,
        image_pruned: false,
        build: None,
    })
}

/// Changes the configuration (App Runner's `UpdateService`) and deploys it as a new revision. Members
/// left out stay as they are. Also how a `CREATE_FAILED` service is rebuilt.
#[utoipa::path(
    patch, path = "/v1/services/{name}", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    request_body = UpdateServiceRequest,
    responses(
        (status = 202, description = "The new revision deploys as the returned operation", body = ServiceOperation),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not now: paused or being deleted", body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<UpdateServiceRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let Json(req) = body.map_err(json_error)?;
    let service = find(&state, name).await?;
    let spec = convert::update_request(&service.spec, req)?;
    let svc = service.clone();
    let (op, revision) = state
        .db(move |store| {
            check(store, &svc, OperationType::UpdateService)?;
            let now = Timestamp::now();
            let revision = next_revision(store, &svc, spec, now)?;
            let op = Operation::queued(
                svc.id.clone(),
                OperationType::UpdateService,
                Some(revision.number),
                "SERVICE_UPDATE",
                now,
            );
            Ok((op, revision))
        })
        .await?;
    state.queued(service, op, Some(revision)).await
}

/// Deploys the current configuration again as a new revision, resolving the image tag anew (App
/// Runner's `StartDeployment`).
#[utoipa::path(
    post, path = "/v1/services/{name}/deployments", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    responses(
        (status = 202, description = "The new revision deploys as the returned operation", body = ServiceOperation),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn deploy(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let service = find(&state, name).await?;
    let svc = service.clone();
    let (op, revision) = state
        .db(move |store| {
            check(store, &svc, OperationType::StartDeployment)?;
            let now = Timestamp::now();
            let revision = next_revision(store, &svc, svc.spec.clone(), now)?;
            let op = Operation::queued(
                svc.id.clone(),
                OperationType::StartDeployment,
                Some(revision.number),
                "START_DEPLOYMENT",
                now,
            );
            Ok((op, revision))
        })
        .await?;
    state.queued(service, op, Some(revision)).await
}

/// Goes back to an earlier revision without rebuilding it: the one that served before the current one,
/// or the one named. Its image is used as it was (pulled again by digest if it was pruned).
#[utoipa::path(
    post, path = "/v1/services/{name}/rollback", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    request_body = RollbackRequest,
    responses(
        (status = 202, description = "The revision deploys as the returned operation", body = ServiceOperation),
        (status = 404, body = ErrorBody), (status = 409, description = "Nothing to roll back to", body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Option<Json<RollbackRequest>>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let wanted = body.and_then(|Json(b)| b.revision);
    let service = find(&state, name).await?;
    let svc = service.clone();
    let op = state
        .db(move |store| {
            check(store, &svc, OperationType::StartDeployment)?;
            let revisions = store.revisions(&svc.id)?;
            let target = match wanted {
                Some(n) => revisions.iter().find(|r| r.number == n).ok_or_else(|| ApiError {
                    kind: ErrorKind::NotFound,
                    message: format!(
                        "service {} has no revision {n}; `ferry revisions {}` lists them",
                        svc.name, svc.name
                    ),
                    field: Some("revision".to_owned()),
                })?,
                None => revisions
                    .iter()
                    .filter(|r| r.activated_at.is_some() && Some(r.number) != svc.active_revision)
                    .max_by_key(|r| r.activated_at)
                    .ok_or_else(|| {
                        refused(format!("service {} has no earlier revision to roll back to", svc.name))
                    })?,
            };
            if Some(target.number) == svc.active_revision {
                return Err(refused(format!("revision {} already serves {}", target.number, svc.name)));
            }
            if target.image_id.is_none() && target.image_digest.is_none() {
                return Err(refused(format!(
                    "revision {} never got as far as an image (its deployment failed before the pull); \
                     there is nothing to roll back to",
                    target.number
                )));
            }
            Ok(Operation::queued(
                svc.id.clone(),
                OperationType::StartDeployment,
                Some(target.number),
                "ROLLBACK",
                Timestamp::now(),
            ))
        })
        .await?;
    state.queued(service, op, None).await
}

/// Stops every instance; the router answers 503 until the service is resumed. Configuration, revisions
/// and URL are kept (App Runner's `PauseService`).
#[utoipa::path(
    post, path = "/v1/services/{name}/pause", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 202, body = ServiceOperation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    queue_plain(state, name, OperationType::PauseService, "SERVICE_PAUSE").await
}

/// Queues an operation that makes no new revision (pause, resume), once the service admits it. A resume
/// brings back the revision that served last.
async fn queue_plain(
    state: AppState,
    name: String,
    kind: OperationType,
    trigger: &'static str,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let service = find(&state, name).await?;
    let svc = service.clone();
    let op = state
        .db(move |store| {
            check(store, &svc, kind)?;
            let revision = if kind == OperationType::ResumeService { svc.active_revision } else { None };
            Ok(Operation::queued(svc.id.clone(), kind, revision, trigger, Timestamp::now()))
        })
        .await?;
    state.queued(service, op, None).await
}

/// Brings a paused service back on the revision it last served, without a rebuild (App Runner's
/// `ResumeService`).
#[utoipa::path(
    post, path = "/v1/services/{name}/resume", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 202, body = ServiceOperation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    queue_plain(state, name, OperationType::ResumeService, "SERVICE_RESUME").await
}

/// A service's revisions, newest first, with the one serving traffic.
#[utoipa::path(
    get, path = "/v1/services/{name}/revisions", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 200, body = RevisionList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn revisions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RevisionList>, ApiError> {
    let service = find(&state, name).await?;
    let id = service.id.clone();
    let revisions = state.db(move |store| Ok(store.revisions(&id)?)).await?;
    let serving = |n: u32| {
        service.status == ServiceStatus::Running && service.active_revision == Some(n)
            || service.status == ServiceStatus::OperationInProgress && service.active_revision == Some(n)
    };
    Ok(Json(RevisionList {
        revisions: revisions.iter().map(|r| revision_view(r, serving(r.number))).collect(),
    }))
}
