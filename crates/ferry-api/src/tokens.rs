//! `/v1/tokens`: named, scoped, expiring API tokens. Only admin tokens reach these handlers
//! ([`crate::auth::required_scope`]). A token's secret is returned once, by its creation; the store
//! keeps its SHA-256 only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_model::Timestamp;
use ferry_store::{NewToken, StoreError, TokenRecord};
use ferry_wire::{CreateTokenRequest, ErrorBody, TokenList, TokenView};

use crate::auth::Scope;
use crate::extract::{Body, Segment};
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind, hash_token};

/// The longest expiry a token may be given: ten years (none: never expires).
const MAX_EXPIRY_SECS: i64 = 10 * 366 * 24 * 3600;

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!(
                "{name:?} is not a token name; use 1 to 64 letters, digits, '-', '_' or '.', starting with a \
                 letter or digit, e.g. ci-deploy"
            ),
        )
        .with_field("name"))
    }
}

fn view(t: &TokenRecord, now: Timestamp) -> TokenView {
    TokenView {
        name: t.name.clone(),
        scope: t.scope.clone(),
        created_at: rfc3339(t.created_at),
        expires_at: t.expires_at.map(rfc3339),
        last_used_at: t.last_used_at.map(rfc3339),
        expired: t.expired(now),
        token: None,
    }
}

/// Makes a token; its secret is in this answer only.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens",
    request_body = CreateTokenRequest,
    responses((status = 200, body = TokenView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(req): Body<CreateTokenRequest>,
) -> Result<Json<TokenView>, ApiError> {
    check_name(&req.name)?;
    let Some(scope) = Scope::parse(&req.scope) else {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!("{:?} is not a scope; use read-only, deploy or admin", req.scope),
        )
        .with_field("scope"));
    };
    let now = Timestamp::now();
    let expires_at = match req.expires_in_seconds {
        None => None,
        Some(secs) if (1..=MAX_EXPIRY_SECS).contains(&secs) => Some(now.plus_millis(secs * 1000)),
        Some(secs) => {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{secs} is out of range; a token expires 1 to {MAX_EXPIRY_SECS} seconds from now, or never \
                     (leave it out)"
                ),
            )
            .with_field("expires_in_seconds"));
        }
    };
    let secret = format!("ferry_{}", ferry_hooks::generate_secret());
    let hash = hash_token(&secret);
    let id = ferry_hooks::generate_secret()[..32].to_owned();
    let name = req.name.clone();
    let record = TokenRecord {
        id: id.clone(),
        name: req.name.clone(),
        scope: scope.as_str().to_owned(),
        created_at: now,
        expires_at,
        last_used_at: None,
    };
    let stored = state
        .store
        .call(move |db| {
            db.create_token(&NewToken {
                id: &id,
                name: &name,
                hash: &hash,
                scope: scope.as_str(),
                created_at: now,
                expires_at,
            })
        })
        .await;
    match stored {
        Ok(()) => {}
        Err(StoreError::NameTaken(name)) => {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("a token is already named {name:?}; choose another name or revoke it first"),
            )
            .with_field("name"));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(token = %record.name, scope = %record.scope, "API token created");
    Ok(Json(TokenView { token: Some(secret), ..view(&record, now) }))
}

/// Every token, without secrets.
#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<TokenList>, ApiError> {
    let tokens = state.store.call(|db| db.tokens()).await?;
    let now = Timestamp::now();
    Ok(Json(TokenList { tokens: tokens.iter().map(|t| view(t, now)).collect() }))
}

/// Revokes a token: it stops working at once.
#[utoipa::path(
    delete, path = "/v1/tokens/{name}", tag = "tokens",
    params(("name" = String, Path, description = "The token's name")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Segment(name): Segment,
) -> Result<StatusCode, ApiError> {
    let stored = name.clone();
    if state.store.call(move |db| db.delete_token(&stored)).await? {
        tracing::info!(token = %name, "API token revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no token is named {name:?}; `ferry token list` shows those that are"),
        ))
    }
}
