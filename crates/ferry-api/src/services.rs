//! `/v1/services`: create, list, describe, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_command::{Command, Target};
use ferry_model::Service;
use ferry_wire::{CreateServiceRequest, ErrorBody, ServiceList, ServiceOperation, ServiceView};

use crate::extract::{Body, Caller, Segment};
use crate::{ApiError, AppState, convert};

impl AppState {
    pub(crate) async fn view_of(&self, service: Service) -> Result<ServiceView, ApiError> {
        let id = service.id.clone();
        let active_revision = service.active_revision;
        let (active, instances, latest, watch, scaling) = self
            .store
            .call(move |db| {
                let active = match active_revision {
                    Some(n) => db.revision(&id, n)?,
                    None => None,
                };
                Ok::<_, ferry_store::StoreError>((
                    active,
                    db.instances(&id)?,
                    db.operations(&id, 1)?.into_iter().next(),
                    db.watch(&id)?,
                    db.scaling(&id)?,
                ))
            })
            .await?;
        Ok(self.service_view(
            &service,
            active.as_ref(),
            &instances,
            latest.as_ref(),
            Some(&watch),
            scaling.as_ref(),
        ))
    }

    /// The answer to a mutating call: the service as it is now and the operation carrying the change.
    ///
    /// The command is committed by now: if reading the rest of the view fails (a database locked by a
    /// backup), the answer is still a success, with what the command returned, so a client never retries
    /// (and queues twice) a change that was made.
    pub(crate) async fn operation_answer(
        &self,
        status: StatusCode,
        outcome: ferry_command::Outcome,
    ) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
        let operation_id = outcome.operation.id.to_string();
        let service = match self.view_of(outcome.service.clone()).await {
            Ok(view) => view,
            Err(e) => {
                tracing::warn!(service = %outcome.service.name, error = e.message, "answering with a partial view");
                self.service_view(&outcome.service, None, &[], Some(&outcome.operation), None, None)
            }
        };
        Ok((status, Json(ServiceOperation { service, operation_id })))
    }
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
    Caller(trigger): Caller,
    Body(mut req): Body<CreateServiceRequest>,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let scaling = req.autoscaling.take();
    let fixed = req.instances.is_some();
    if fixed && scaling.is_some() {
        return Err(ApiError::from(ferry_model::ValidationError::new(
            "autoscaling",
            "give instances (a fixed count) or autoscaling, not both",
        )));
    }
    let (name, mut spec) = convert::create_request(req)?;
    let field =
        format!("source.{}.secrets", if spec.source.image().is_some() { "image" } else { "code_repository" });
    crate::secrets::require(&state, &field, crate::secrets::references(&spec)).await?;
    let connection = spec.source.code().and_then(|c| c.connection.as_deref());
    crate::connections::require(&state, "source.code_repository.connection", connection).await?;
    if !fixed {
        spec.autoscaling = Some(crate::autoscaling::choose(&state, scaling.unwrap_or_default(), None).await?);
    }
    if state.config.public.host(&name) == state.config.hooks_host {
        return Err(ApiError::from(ferry_model::ValidationError::new(
            "name",
            format!(
                "{name} is reserved: its host {} is where ferry takes webhooks; choose another name",
                state.config.hooks_host
            ),
        )));
    }
    let command = Command::Create { name, spec: Box::new(spec) };
    let outcome = state.commands.execute(command, trigger).await?;
    state.operation_answer(StatusCode::CREATED, outcome).await
}

/// Lists live services, oldest first.
#[utoipa::path(
    get, path = "/v1/services", tag = "services",
    responses((status = 200, body = ServiceList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<ServiceList>, ApiError> {
    let services = state.store.call(|db| db.list_services()).await?;
    Ok(Json(ServiceList { services: services.iter().map(|s| state.summary(s)).collect() }))
}

pub(crate) async fn find(state: &AppState, name: String) -> Result<Service, ApiError> {
    let lookup = name.clone();
    let found = state.store.call(move |db| db.service_by_name(&lookup)).await?;
    found.ok_or_else(|| ApiError::service_not_found(&name))
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
    Segment(name): Segment,
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
    Caller(trigger): Caller,
    Segment(name): Segment,
) -> Result<(StatusCode, Json<ServiceOperation>), ApiError> {
    let outcome = state.commands.execute(Command::Delete { service: Target::Name(name) }, trigger).await?;
    // Its App Runner tags go with it, whichever API deletes it.
    let arn = state.config.arn.service(&outcome.service.name, &outcome.service.id);
    state.store.submit("forget a deleted service's tags", move |db| db.forget_tags(&arn).map(drop));
    state.operation_answer(StatusCode::ACCEPTED, outcome).await
}
