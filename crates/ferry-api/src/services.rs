//! `/v1/services`: create, list, describe, delete.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_model::{Operation, OperationType, Revision, Service, ServiceId, ServiceStatus, Timestamp};
use ferry_store::{Store, StoreError};
use ferry_wire::{CreateServiceRequest, ErrorBody, ServiceList, ServiceOperation, ServiceView};

use crate::{ApiError, AppState, ErrorKind, convert};

impl AppState {
    /// Runs store calls off the async threads.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store)).await.map_err(ApiError::internal)?
    }

    pub(crate) async fn view_of(&self, service: Service) -> Result<ServiceView, ApiError> {
        let this = self.clone();
        self.db(move |store| {
            let active = match service.active_revision {
                Some(n) => store.revision(&service.id, n)?,
                None => None,
            };
            let instances = store.instances(&service.id)?;
            let latest = store.operations(&service.id, 1)?.into_iter().next();
            Ok(this.service_view(&service, active.as_ref(), &instances, latest.as_ref()))
        })
        .await
    }
}

pub(crate) fn json_error(rejection: JsonRejection) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidRequest,
        format!("the request body is not what this call takes: {}", rejection.body_text()),
    )
}

/// Creates a service and starts its first deployment.
#[utoipa::path(
    post, path = "/v1/services", tag = "services",
    request_body = CreateServiceRequest,
    responses(
        (status = 201, description = "Created; the deployment runs as the returned operation", body = ServiceOperation),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 409, description = "A live service already has this name", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    body: Result<Json<CreateServiceRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let Json(req) = body.map_err(json_error)?;
    let (name, spec) = convert::create_request(req)?;
    let now = Timestamp::now();
    let service = Service {
        id: ServiceId::generate(),
        name,
        status: ServiceStatus::OperationInProgress,
        spec: spec.clone(),
        active_revision: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let revision = Revision {
        service_id: service.id.clone(),
        number: 1,
        spec,
        image_digest: None,
        image_id: None,
        created_at: now,
        activated_at: None,
        image_pruned: false,
        build: None,
    };
    let operation =
        Operation::queued(service.id.clone(), OperationType::CreateService, Some(1), "SERVICE_CREATE", now);
    let (svc, op) = (service.clone(), operation.clone());
    state
        .db(move |store| match store.create_service(&svc, &revision, &op) {
            Err(StoreError::NameTaken(name)) => Err(ApiError {
                kind: ErrorKind::Conflict,
                message: format!(
                    "a service named {name:?} already exists; choose another name, or delete it first"
                ),
                field: Some("name".to_owned()),
            }),
            other => Ok(other?),
        })
        .await?;
    tracing::info!(service = %service.name, id = %service.id, operation = %operation.id, "service created");
    state.control.operation_queued(&service.id);
    let view = state.view_of(service).await?;
    Ok((
        StatusCode::CREATED,
        Json(ServiceOperation { service: view, operation_id: operation.id.to_string() }),
    ))
}

/// Lists live services, oldest first.
#[utoipa::path(
    get, path = "/v1/services", tag = "services",
    responses((status = 200, body = ServiceList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<ServiceList>, ApiError> {
    let services = state.db(|store| Ok(store.list_services()?)).await?;
    Ok(Json(ServiceList { services: services.iter().map(|s| state.summary(s)).collect() }))
}

pub(crate) async fn find(state: &AppState, name: String) -> Result<Service, ApiError> {
    state
        .db(move |store| store.service_by_name(&name)?.ok_or_else(|| ApiError::service_not_found(&name)))
        .await
}

/// Describes a service: its configuration, status, URL, running image digest and instances.
#[utoipa::path(
    get, path = "/v1/services/{name}", tag = "services",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 200, body = ServiceView), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn describe(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ServiceView>, ApiError> {
    let service = find(&state, name).await?;
    Ok(Json(state.view_of(service).await?))
}

/// Deletes a service: its instances are stopped and removed, and its name is free again.
/// Deleting a service that is already being deleted returns the delete in progress.
#[utoipa::path(
    delete, path = "/v1/services/{name}", tag = "services",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 202, description = "Deletion runs as the returned operation", body = ServiceOperation),
               (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let service = find(&state, name).await?;
    let svc = service.clone();
    let (operation_id, queued) = state
        .db(move |store| {
            let pending = store
                .operations(&svc.id, 20)?
                .into_iter()
                .find(|o| o.kind == OperationType::DeleteService && !o.status.is_terminal());
            if let Some(op) = pending {
                return Ok((op.id, false));
            }
            let op = Operation::queued(
                svc.id.clone(),
                OperationType::DeleteService,
                None,
                "SERVICE_DELETE",
                Timestamp::now(),
            );
            store.queue_operation(&op, ServiceStatus::OperationInProgress)?;
            Ok((op.id, true))
        })
        .await?;
    if queued {
        tracing::info!(service = %service.name, operation = %operation_id, "service deletion queued");
    }
    state.control.operation_queued(&service.id);
    let id = service.id.clone();
    let service = state.db(move |store| Ok(store.service(&id)?)).await?.unwrap_or(service);
    let view = state.view_of(service).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ServiceOperation { service: view, operation_id: operation_id.to_string() }),
    ))
}
