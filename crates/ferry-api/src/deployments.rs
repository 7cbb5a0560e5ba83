//! Changing what a service runs: update, deploy, rollback, pause, resume; and its revisions.
//!
//! Each call is a command (`ferry_command`): judged against the state the service will be in when its
//! turn comes, then queued as an operation behind any that are pending; one runs at a time, oldest first.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_command::{Command, Target};
use ferry_model::ServiceStatus;
use ferry_wire::{ErrorBody, RevisionList, RollbackRequest, ServiceOperation, UpdateServiceRequest};

use crate::extract::{Body, Caller, OptionalBody, Segment};
use crate::services::find;
use crate::views::revision_view;
use crate::{ApiError, AppState, ErrorKind, convert};

type Queued = (StatusCode, Json<ServiceOperation>);

impl AppState {
    async fn run(&self, command: Command, trigger: ferry_model::Trigger) -> Result<Queued, ApiError> {
        let outcome = self.commands.execute(command, trigger).await?;
        self.operation_answer(StatusCode::ACCEPTED, outcome).await
    }
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
    Caller(trigger): Caller,
    Segment(name): Segment,
    Body(mut req): Body<UpdateServiceRequest>,
) -> Result<Queued, ApiError> {
    let scaling = req.autoscaling.take();
    if req.instances.is_some() && scaling.is_some() {
        return Err(ApiError::from(ferry_model::ValidationError::new(
            "autoscaling",
            "give instances (a fixed count) or autoscaling, not both",
        )));
    }
    // Secrets the update refers to must exist (those it keeps were checked when they were added).
    if let Some(image) = &req.image {
        let refs =
            convert::secret_refs(image.secrets.clone()).map_err(|e| ApiError::from(e.under("image")))?;
        crate::secrets::require(&state, "image.secrets", refs.into_map()).await?;
    }
    if let Some(code) = &req.code {
        let refs = convert::secret_refs(code.secrets.clone()).map_err(|e| ApiError::from(e.under("code")))?;
        crate::secrets::require(&state, "code.secrets", refs.into_map()).await?;
        crate::connections::require(&state, "code.connection", code.connection.as_deref()).await?;
    }
    // A named configuration is read now; values are put over the spec's own inside the transaction.
    let (named, default) = match &scaling {
        Some(input) if input.configuration.is_some() => {
            (Some(crate::autoscaling::choose(&state, input.clone(), None).await?), None)
        }
        Some(_) => (None, Some(crate::autoscaling::default_scaling(&state).await?)),
        None => (None, None),
    };
    // Applied to the newest desired spec inside the command's transaction, so concurrent updates build on
    // each other instead of overwriting each other.
    let change = Box::new(move |spec: &ferry_model::ServiceSpec| {
        let mut spec = convert::update_request(spec, req)?;
        match (named, scaling) {
            (Some(named), _) => spec.autoscaling = Some(named),
            (None, Some(input)) => {
                let base = spec
                    .autoscaling
                    .clone()
                    .or(default)
                    .unwrap_or_else(ferry_model::AutoScaling::app_runner_default);
                spec.autoscaling = Some(crate::autoscaling::merge(&input, &base)?);
            }
            (None, None) => {}
        }
        Ok(spec)
    });
    state.run(Command::Update { service: Target::Name(name), change }, trigger).await
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
    Caller(trigger): Caller,
    Segment(name): Segment,
) -> Result<Queued, ApiError> {
    state.run(Command::Deploy { service: Target::Name(name) }, trigger).await
}

/// Goes back to an earlier revision: the one that served before the one that will serve once the queued
/// deployments have run, or the one named. Its image is used as it was: pulled again by digest if it was
/// pruned (a code revision whose image is gone and was not pushed to a build registry is built again from
/// its commit).
#[utoipa::path(
    post, path = "/v1/services/{name}/rollback", tag = "deployments",
    params(("name" = String, Path, description = "The service's name")),
    request_body = RollbackRequest,
    responses(
        (status = 202, description = "The revision deploys as the returned operation", body = ServiceOperation),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Nothing to roll back to", body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Caller(trigger): Caller,
    Segment(name): Segment,
    OptionalBody(body): OptionalBody<RollbackRequest>,
) -> Result<Queued, ApiError> {
    let to = match body.and_then(|b| b.revision) {
        None => None,
        Some(n) => Some(u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::new(
                ErrorKind::InvalidRequest,
                format!("{n} is not a revision number; revisions count from 1"),
            )
            .with_field("revision")
        })?),
    };
    state.run(Command::Rollback { service: Target::Name(name), to }, trigger).await
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
    Caller(trigger): Caller,
    Segment(name): Segment,
) -> Result<Queued, ApiError> {
    state.run(Command::Pause { service: Target::Name(name) }, trigger).await
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
    Caller(trigger): Caller,
    Segment(name): Segment,
) -> Result<Queued, ApiError> {
    state.run(Command::Resume { service: Target::Name(name) }, trigger).await
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
    Segment(name): Segment,
) -> Result<Json<RevisionList>, ApiError> {
    let service = find(&state, name).await?;
    let id = service.id.clone();
    let revisions = state.store.call(move |db| db.revisions(&id)).await?;
    let serving = |n: u32| {
        matches!(service.status, ServiceStatus::Running | ServiceStatus::OperationInProgress)
            && service.active_revision == Some(n)
    };
    Ok(Json(RevisionList {
        revisions: revisions.iter().map(|r| revision_view(r, serving(r.number))).collect(),
    }))
}
