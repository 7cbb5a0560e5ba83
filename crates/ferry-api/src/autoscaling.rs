//! `/v1/autoscaling`: auto scaling configurations (create a revision, list, describe, delete, make one the
//! default), and how a service's scaling is chosen when it is created or updated.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_model::{AutoScaling, AutoScalingConfiguration, Service, Timestamp, ValidationError};
use ferry_wire::{AutoScalingInput, AutoScalingList, AutoScalingRequest, AutoScalingView, ErrorBody};

use crate::extract::{Body, Segment};
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

fn number(field: &str, n: Option<i64>) -> Result<Option<u32>, ValidationError> {
    n.map(|n| u32::try_from(n).map_err(|_| ValidationError::new(field, format!("{n} is out of range"))))
        .transpose()
}

/// What a create or update asks for: a named configuration's latest revision, or values (members left
/// out taken from `base`, else from the default configuration).
pub(crate) async fn choose(
    state: &AppState,
    input: AutoScalingInput,
    base: Option<AutoScaling>,
) -> Result<AutoScaling, ApiError> {
    let values = input.max_concurrency.is_some() || input.min_size.is_some() || input.max_size.is_some();
    match &input.configuration {
        Some(_) if values => Err(ApiError::from(ValidationError::new(
            "autoscaling",
            "give a configuration or values (max_concurrency, min_size, max_size), not both",
        ))),
        Some(name) => {
            let lookup = name.clone();
            let found = state.store.call(move |db| db.autoscaling(&lookup, None)).await?;
            found.map(|c| c.scaling()).ok_or_else(|| not_found(name).with_field("autoscaling.configuration"))
        }
        None => {
            let base = match base {
                Some(base) => base,
                None => default_scaling(state).await?,
            };
            if values { Ok(merge(&input, &base)?) } else { Ok(base) }
        }
    }
}

/// Values for a service alone: `input`'s members over `base`'s.
pub(crate) fn merge(input: &AutoScalingInput, base: &AutoScaling) -> Result<AutoScaling, ValidationError> {
    let value = |field, n, or| number(field, n).map(|n| n.unwrap_or(or)).map_err(|e| e.under("autoscaling"));
    let scaling = AutoScaling {
        max_concurrency: value("max_concurrency", input.max_concurrency, base.max_concurrency)?,
        min_size: value("min_size", input.min_size, base.min_size)?,
        max_size: value("max_size", input.max_size, base.max_size)?,
        configuration: None,
    };
    scaling.validate().map_err(|e| e.under("autoscaling"))?;
    Ok(scaling)
}

/// The default configuration's latest revision (App Runner's values if none is set).
pub(crate) async fn default_scaling(state: &AppState) -> Result<AutoScaling, ApiError> {
    let found = state.store.call(|db| db.default_autoscaling()).await?;
    Ok(found.map(|c| c.scaling()).unwrap_or_else(AutoScaling::app_runner_default))
}

impl AppState {
    /// Every live configuration revision, and the live services (to say which use each).
    async fn autoscaling_and_services(
        &self,
    ) -> Result<(Vec<AutoScalingConfiguration>, Vec<Service>), ApiError> {
        let read = |db: &mut ferry_store::Db| {
            Ok::<_, ferry_store::StoreError>((db.autoscaling_configurations()?, db.list_services()?))
        };
        Ok(self.store.call(read).await?)
    }

    fn autoscaling_view(&self, c: &AutoScalingConfiguration, services: &[Service]) -> AutoScalingView {
        let users = services.iter().filter(|s| c.used_by(&s.spec)).map(|s| s.name.to_string()).collect();
        AutoScalingView {
            name: c.name.clone(),
            revision: c.revision,
            arn: self.config.arn.autoscaling(&c.name, c.revision),
            max_concurrency: c.max_concurrency,
            min_size: c.min_size,
            max_size: c.max_size,
            created_at: rfc3339(c.created_at),
            is_default: c.is_default,
            services: users,
        }
    }
}

/// Creates a configuration, or the next revision of one with this name.
#[utoipa::path(
    post, path = "/v1/autoscaling", tag = "autoscaling",
    request_body = AutoScalingRequest,
    responses((status = 201, body = AutoScalingView), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(req): Body<AutoScalingRequest>,
) -> Result<(StatusCode, Json<AutoScalingView>), ApiError> {
    AutoScalingConfiguration::check_name(&req.name)?;
    let defaults = AutoScaling::app_runner_default();
    let scaling = AutoScaling {
        max_concurrency: number("max_concurrency", req.max_concurrency)?.unwrap_or(defaults.max_concurrency),
        min_size: number("min_size", req.min_size)?.unwrap_or(defaults.min_size),
        max_size: number("max_size", req.max_size)?.unwrap_or(defaults.max_size),
        configuration: None,
    };
    scaling.validate()?;
    let values = (scaling.max_concurrency, scaling.min_size, scaling.max_size);
    let made = state.store.call(move |db| db.create_autoscaling(&req.name, values, Timestamp::now())).await?;
    Ok((StatusCode::CREATED, Json(state.autoscaling_view(&made, &[]))))
}

/// Every live revision of every configuration.
#[utoipa::path(
    get, path = "/v1/autoscaling", tag = "autoscaling",
    responses((status = 200, body = AutoScalingList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<AutoScalingList>, ApiError> {
    let (configs, services) = state.autoscaling_and_services().await?;
    let configurations = configs.iter().map(|c| state.autoscaling_view(c, &services)).collect();
    Ok(Json(AutoScalingList { configurations }))
}

/// A configuration's live revisions, with the services that use each.
#[utoipa::path(
    get, path = "/v1/autoscaling/{name}", tag = "autoscaling",
    params(("name" = String, Path, description = "The configuration's name")),
    responses((status = 200, body = AutoScalingList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn describe(
    State(state): State<AppState>,
    Segment(name): Segment,
) -> Result<Json<AutoScalingList>, ApiError> {
    let (configs, services) = state.autoscaling_and_services().await?;
    let configurations: Vec<AutoScalingView> =
        configs.iter().filter(|c| c.name == name).map(|c| state.autoscaling_view(c, &services)).collect();
    if configurations.is_empty() {
        return Err(not_found(&name));
    }
    Ok(Json(AutoScalingList { configurations }))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no auto scaling configuration is named {name:?}; `ferry autoscaling list` shows them"),
    )
}

/// Deletes every revision of a configuration (`?revision=N`: one). Refused while a service uses it, and
/// for the default configuration.
#[utoipa::path(
    delete, path = "/v1/autoscaling/{name}", tag = "autoscaling",
    params(("name" = String, Path, description = "The configuration's name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Segment(name): Segment,
    crate::extract::Params(query): crate::extract::Params<RevisionQuery>,
) -> Result<StatusCode, ApiError> {
    let lookup = name.clone();
    let (services, default) = state
        .store
        .call(move |db| {
            Ok::<_, ferry_store::StoreError>((db.list_services()?, db.default_autoscaling()?.map(|d| d.name)))
        })
        .await?;
    if default.as_deref() == Some(lookup.as_str()) {
        return Err(ApiError::new(
            ErrorKind::InvalidState,
            format!(
                "{name} is the default configuration; make another the default first (`ferry autoscaling default NAME`)"
            ),
        ));
    }
    let users: Vec<String> = services
        .iter()
        .filter(|s| {
            s.spec
                .autoscaling
                .as_ref()
                .and_then(|a| a.configuration.as_ref())
                .is_some_and(|r| r.name == name && query.revision.is_none_or(|n| n == r.revision))
        })
        .map(|s| s.name.to_string())
        .collect();
    if !users.is_empty() {
        return Err(ApiError::new(
            ErrorKind::InvalidState,
            format!("{name} is used by {}; move them to another configuration first", users.join(", ")),
        ));
    }
    let revision = query.revision;
    let deleted =
        state.store.call(move |db| db.delete_autoscaling(&lookup, revision, Timestamp::now())).await?;
    if deleted == 0 {
        return Err(not_found(&name));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevisionQuery {
    revision: Option<u32>,
}

/// Makes a configuration the one new services get.
#[utoipa::path(
    post, path = "/v1/autoscaling/{name}/default", tag = "autoscaling",
    params(("name" = String, Path, description = "The configuration's name")),
    responses((status = 200, body = AutoScalingList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn make_default(
    State(state): State<AppState>,
    Segment(name): Segment,
) -> Result<Json<AutoScalingList>, ApiError> {
    let lookup = name.clone();
    let found = state
        .store
        .call(move |db| {
            if db.autoscaling(&lookup, None)?.is_none() {
                return Ok(false);
            }
            db.set_default_autoscaling(&lookup).map(|()| true)
        })
        .await?;
    if !found {
        return Err(not_found(&name));
    }
    describe(State(state), Segment(name)).await
}
