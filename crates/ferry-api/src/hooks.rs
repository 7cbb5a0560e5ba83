//! The hooks host: push webhooks from git hosts and push notifications from registries.
//!
//! These routes are not under `/v1` and take no API token: git hosts and registries reach them on the
//! router's public listener, at the hooks host (`ferry.<domain>` unless configured). Each request is
//! authenticated by what only its sender knows: a git webhook by its signature (or GitLab's token) made
//! with the service's webhook secret, at a URL whose id is itself random; a registry's notification by its
//! bearer token. Anything else gets the same bare 401, whether or not the hook exists, and a line in the
//! server's log: nothing answers which services exist, and nothing unauthenticated can start a build.
//!
//! A verified push becomes a command (`Commands::source_changed`); the answer tells the sender what
//! became of it (deploying, queued behind a deployment, already current, ignored and why), which git
//! hosts show in their delivery logs.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ferry_command::{Commands, PushOutcome};
use ferry_hooks::{GitEvent, HookError, Push};
use ferry_model::{Ignored, Seen, Service, ServiceStatus, Source, SourceVersion, Timestamp, Via};
use ferry_store::{Store, StoreError};
use serde::Serialize;

/// The largest webhook body taken. GitHub caps its payloads at 25 MB, but a push's is far smaller: a
/// payload lists at most 20 commits (GitLab 20 too), and Docker Distribution batches few events.
pub const MAX_HOOK_BODY: usize = 5 * 1024 * 1024;

#[derive(Clone)]
struct HookState {
    store: Store,
    commands: Commands,
}

/// The hooks host's routes: `POST /git/{hook_id}` and `POST /registry`.
pub fn hooks_router(store: Store, commands: Commands) -> Router {
    Router::new()
        .route("/git/{hook_id}", post(git_push))
        .route("/registry", post(registry_events))
        .fallback(|| async { (StatusCode::NOT_FOUND, "ferry: no hook here\n") })
        .with_state(HookState { store, commands })
        .layer(DefaultBodyLimit::max(MAX_HOOK_BODY))
}

/// What became of a hook, for the sender's delivery log.
#[derive(Debug, Serialize)]
struct Answer {
    /// `deploying`, `queued`, `current`, `recorded`, `ignored` or `pong`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn answer(
    status: StatusCode,
    result: &'static str,
    operation: Option<String>,
    reason: Option<String>,
) -> Response {
    (status, Json(Answer { result, operation, reason })).into_response()
}

fn unauthenticated() -> Response {
    (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "message": "webhook not authenticated" })))
        .into_response()
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "a webhook could not be taken; the sender will retry");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({ "message": "ferry cannot take webhooks now; retry" })),
    )
        .into_response()
}

async fn git_push(
    State(state): State<HookState>,
    Path(hook_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lookup = hook_id.clone();
    let found = state
        .store
        .call(move |db| {
            let Some(hook) = db.webhook_by_hook_id(&lookup)? else { return Ok::<_, StoreError>(None) };
            Ok(db.service(&hook.service_id)?.map(|s| (hook, s)))
        })
        .await;
    let (hook, service) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::warn!("webhook refused: no service has this hook id");
            return unauthenticated();
        }
        Err(e) => return unavailable(&e),
    };
    let event = match ferry_hooks::verify_git(&headers, &body, hook.secret.as_bytes()) {
        Ok(event) => event,
        Err(HookError::Unauthenticated(why)) => {
            tracing::warn!(service = %service.name, why, "webhook refused");
            return unauthenticated();
        }
        Err(HookError::Malformed(message)) => {
            tracing::info!(service = %service.name, %message, "webhook malformed");
            return answer(StatusCode::BAD_REQUEST, "ignored", None, Some(message));
        }
    };
    let push = match event {
        GitEvent::Push(push) => push,
        GitEvent::Ping => return answer(StatusCode::OK, "pong", None, None),
        GitEvent::Ignored(kind) => {
            let reason = format!("{kind} events do not deploy; only pushes do");
            return answer(StatusCode::ACCEPTED, "ignored", None, Some(reason));
        }
    };
    match not_deployable(&service, &push) {
        Some(reason) => {
            tracing::info!(service = %service.name, %reason, "push ignored");
            let (id, ignored) =
                (service.id.clone(), Ignored { at: Timestamp::now(), reason: reason.clone() });
            if let Err(e) = state.store.call(move |db| db.record_ignored(&id, &ignored)).await {
                return unavailable(&e);
            }
            answer(StatusCode::ACCEPTED, "ignored", None, Some(reason))
        }
        None => {
            let head = push.head.as_ref();
            let seen = Seen {
                version: SourceVersion::Commit(push.after.clone().unwrap_or_default()),
                at: Timestamp::now(),
                via: Via::Webhook,
                author: head.and_then(|h| h.author.clone()),
                subject: head.and_then(|h| h.subject.clone()),
            };
            tracing::info!(service = %service.name, commit = seen.version.as_str(), host = push.host.as_str(), "push received");
            outcome_answer(state.commands.source_changed(service.id.clone(), seen).await)
        }
    }
}

/// Why a verified push does not deploy this service, if it does not.
fn not_deployable(service: &Service, push: &Push) -> Option<String> {
    let Source::Code(code) = &service.spec.source else {
        return Some("the service runs an image, not a repository".to_owned());
    };
    let Some(branch) = &push.branch else {
        return Some(format!(
            "a push to {}, not to a branch; the service watches branch {}",
            push.git_ref, code.branch
        ));
    };
    if *branch != code.branch {
        return Some(format!("a push to branch {branch}; the service watches branch {}", code.branch));
    }
    if push.after.is_none() {
        return Some(format!("branch {branch} was deleted"));
    }
    if let (Some(paths), Some(dir)) = (&push.paths, &code.source_directory)
        && ferry_hooks::all_outside(paths, dir)
    {
        return Some(format!("nothing changed under the service's source directory {dir}"));
    }
    None
}

fn outcome_answer(outcome: Result<PushOutcome, ferry_command::CommandError>) -> Response {
    match outcome {
        Ok(PushOutcome::Deploying(o)) => {
            answer(StatusCode::ACCEPTED, "deploying", Some(o.operation.id.to_string()), None)
        }
        Ok(PushOutcome::Waiting { behind }) => answer(
            StatusCode::ACCEPTED,
            "queued",
            None,
            Some(format!("deploys when operation {behind} ends, unless a newer push comes first")),
        ),
        Ok(PushOutcome::Current) => {
            answer(StatusCode::OK, "current", None, Some("the service already has this version".to_owned()))
        }
        Ok(PushOutcome::Off) => answer(
            StatusCode::ACCEPTED,
            "recorded",
            None,
            Some(
                "automatic deployments are off for this service; `ferry service deploy` deploys it"
                    .to_owned(),
            ),
        ),
        Ok(PushOutcome::NotNow(status)) => answer(
            StatusCode::ACCEPTED,
            "recorded",
            None,
            Some(format!("the service is {status}; it deploys once the service runs again")),
        ),
        Err(ferry_command::CommandError::Store(e)) => unavailable(&e),
        Err(e) => answer(StatusCode::CONFLICT, "ignored", None, Some(e.to_string())),
    }
}

async fn registry_events(State(state): State<HookState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = ferry_hooks::bearer_token(&headers) else {
        tracing::warn!("registry notification refused: no bearer token");
        return unauthenticated();
    };
    let hash = crate::hash_token(token);
    let found = state
        .store
        .call(move |db| {
            let Some(host) = db.registry_hook_by_token(&hash)? else { return Ok::<_, StoreError>(None) };
            Ok(Some((host, db.list_services()?)))
        })
        .await;
    let (host, services) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::warn!("registry notification refused: unknown token");
            return unauthenticated();
        }
        Err(e) => return unavailable(&e),
    };
    let events = match ferry_hooks::parse_registry_events(&body) {
        Ok(events) => events,
        // Answered 200 all the same: a registry retries an envelope until it gets a 2xx, and holds back the
        // ones after it meanwhile; retrying this one cannot make it better.
        Err(e) => {
            tracing::warn!(registry = %host, error = %e, "a registry notification was not understood");
            return answer(StatusCode::OK, "ignored", None, Some(e.to_string()));
        }
    };
    let mut deploying = 0;
    for event in &events {
        for service in services.iter().filter(|s| watches(s, &host, &event.repository, &event.tag)) {
            let seen = Seen {
                version: SourceVersion::Digest(event.digest.clone()),
                at: Timestamp::now(),
                via: Via::Notification,
                author: None,
                subject: None,
            };
            tracing::info!(service = %service.name, digest = %event.digest, registry = %host, "image push received");
            match state.commands.source_changed(service.id.clone(), seen).await {
                Ok(PushOutcome::Deploying(_)) => deploying += 1,
                Ok(_) => {}
                Err(ferry_command::CommandError::Store(e)) => return unavailable(&e),
                Err(e) => tracing::warn!(service = %service.name, error = %e, "an image push was not taken"),
            }
        }
    }
    let result = if deploying > 0 { "deploying" } else { "recorded" };
    answer(
        StatusCode::OK,
        result,
        None,
        Some(format!("push events: {}, deployments: {deploying}", events.len())),
    )
}

/// Whether `service` follows `repository:tag` in the registry at `host`.
fn watches(service: &Service, host: &str, repository: &str, tag: &str) -> bool {
    let Source::Image(source) = &service.spec.source else { return false };
    let image = &source.image;
    service.status != ServiceStatus::Deleted
        && image.digest().is_none()
        && image.registry().eq_ignore_ascii_case(host)
        && image.repository() == repository
        && image.pull_tag() == tag
}
