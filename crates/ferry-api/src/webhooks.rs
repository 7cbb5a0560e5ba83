//! `/v1/services/{name}/webhook` and `/v1/registries`: what git hosts and registries need to tell ferry
//! of pushes (the URLs on the hooks host, the secret, the token).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_model::{ImageRef, Timestamp, Webhook};
use ferry_wire::{
    ErrorBody, RegistryHookList, RegistryHookRequest, RegistryHookView, WebhookRequest, WebhookView,
};

use crate::extract::{Body, OptionalBody, Segment};
use crate::services::find;
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

impl AppState {
    fn webhook_view(&self, hook: &Webhook) -> WebhookView {
        WebhookView {
            url: format!("{}/git/{}", self.config.hooks_url, hook.hook_id),
            secret: hook.secret.clone(),
            content_type: "application/json".to_owned(),
            created_at: rfc3339(hook.created_at),
        }
    }
}

/// The service's push webhook: its payload URL and secret, made on first use; with `rotate`, new ones
/// (the old stop working at once).
#[utoipa::path(
    post, path = "/v1/services/{name}/webhook", tag = "services",
    params(("name" = String, Path, description = "The service's name")),
    request_body = WebhookRequest,
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    Segment(name): Segment,
    OptionalBody(req): OptionalBody<WebhookRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let rotate = req.unwrap_or_default().rotate;
    let service = find(&state, name).await?;
    if service.spec.source.image().is_some() {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!(
                "{} runs an image, not a repository: it follows its tag through its registry's notifications \
                 (`ferry registry add HOST`) or by polling, with automatic deployments on (`--auto-deploy`)",
                service.name
            ),
        ));
    }
    let fresh = Webhook {
        service_id: service.id.clone(),
        hook_id: ferry_hooks::generate_secret()[..32].to_owned(),
        secret: ferry_hooks::generate_secret(),
        created_at: Timestamp::now(),
    };
    let hook = state
        .store
        .call(move |db| {
            db.transaction(|db| match db.webhook(&fresh.service_id)? {
                Some(hook) if !rotate => Ok(hook),
                _ => db.put_webhook(&fresh).map(|()| fresh),
            })
        })
        .await?;
    Ok(Json(state.webhook_view(&hook)))
}

/// Accepts push notifications from the registry at `host`: a new token, shown once (replacing the one it
/// had), to put in the registry's `notifications` configuration.
#[utoipa::path(
    post, path = "/v1/registries", tag = "registries",
    request_body = RegistryHookRequest,
    responses((status = 200, body = RegistryHookView), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn add_registry(
    State(state): State<AppState>,
    Body(req): Body<RegistryHookRequest>,
) -> Result<Json<RegistryHookView>, ApiError> {
    let host = registry_host(&req.host)?;
    let token = ferry_hooks::generate_secret();
    let (hash, now, stored) = (crate::hash_token(&token), Timestamp::now(), host.clone());
    state.store.call(move |db| db.put_registry_hook(&stored, &hash, now)).await?;
    Ok(Json(RegistryHookView {
        url: format!("{}/registry", state.config.hooks_url),
        host,
        token: Some(token),
        created_at: rfc3339(now),
    }))
}

#[utoipa::path(
    get, path = "/v1/registries", tag = "registries",
    responses((status = 200, body = RegistryHookList)),
    security(("bearer" = []))
)]
pub(crate) async fn list_registries(
    State(state): State<AppState>,
) -> Result<Json<RegistryHookList>, ApiError> {
    let hooks = state.store.call(|db| db.registry_hooks()).await?;
    let url = format!("{}/registry", state.config.hooks_url);
    let registries = hooks
        .into_iter()
        .map(|h| RegistryHookView {
            host: h.host,
            url: url.clone(),
            token: None,
            created_at: rfc3339(h.created_at),
        })
        .collect();
    Ok(Json(RegistryHookList { registries }))
}

/// Stops accepting a registry's notifications.
#[utoipa::path(
    delete, path = "/v1/registries/{host}", tag = "registries",
    params(("host" = String, Path, description = "The registry's host, e.g. 127.0.0.1:5000")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn delete_registry(
    State(state): State<AppState>,
    Segment(host): Segment,
) -> Result<StatusCode, ApiError> {
    let host = registry_host(&host)?;
    let shown = host.clone();
    if state.store.call(move |db| db.delete_registry_hook(&host)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorKind::NotFound,
            format!(
                "no registry {shown:?} sends notifications here; `ferry registry list` shows those that do"
            ),
        ))
    }
}

/// A registry host as image references write it, lower-cased.
fn registry_host(given: &str) -> Result<String, ApiError> {
    let host = given.trim().trim_end_matches('/').to_ascii_lowercase();
    let parsed = ImageRef::parse(&format!("{host}/probe:tag")).ok().filter(|i| i.registry() == host);
    match parsed {
        Some(_) => Ok(host),
        None => Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!("{given:?} is not a registry host; use e.g. registry.example.com or 127.0.0.1:5000"),
        )
        .with_field("host")),
    }
}
