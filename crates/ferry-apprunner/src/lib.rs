//! The App Runner-compatible API: the real AWS CLI and SDKs drive ferry by changing only the endpoint URL.
//!
//! awsJson1_0 on `POST /` of the API listener: `X-Amz-Target: AppRunner.<Operation>`, a JSON body, answers
//! in `application/x-amz-json-1.0`, errors as `__type` + `Message` (`error.rs`). Every request is signed with
//! AWS Signature Version 4 by an access key ferry issued (`ferry access-key create`; `sigv4.rs`). Changes go
//! through the command layer, as `/v1`'s do, so what one API makes the other shows (`operations.rs`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use ferry_command::Commands;
use ferry_model::{Arn, Timestamp};
use ferry_store::Store;

mod autoscaling;
mod code;
mod configure;
mod connections;
mod domains;
mod error;
mod observability;
mod operations;
mod shapes;
pub mod sigv4;
mod tags;
mod update;
mod validate;
mod vpc;

pub use error::AwsError;

/// What the API needs to know about the server.
pub struct AppRunnerConfig {
    /// The region and account in ARNs.
    pub arn: Arn,
    /// The domain services' hosts are under: a service's `ServiceUrl` is `<name>.<domain>[:port]`.
    pub domain: String,
    /// The router's public port, when not the scheme's default (it is part of `ServiceUrl` then).
    pub port: Option<u16>,
    /// The webhooks' host: ferry routes it, so it cannot be a custom domain.
    pub hooks_host: String,
    /// The server's HTTPS; `None` without an HTTPS listener (custom domains are refused then).
    pub tls: Option<AppRunnerTls>,
}

/// The server's HTTPS, as far as custom domains need it.
#[derive(Clone)]
pub struct AppRunnerTls {
    /// Wildcard domains (DNS-01) can be certified: the server has a DNS hook.
    pub dns01: bool,
    /// Told after a domain is associated or disassociated: routes and certificates follow.
    pub domains_changed: Arc<dyn Fn() + Send + Sync>,
}

#[derive(Clone)]
pub(crate) struct ApiState {
    pub store: Store,
    pub commands: Commands,
    pub config: Arc<AppRunnerConfig>,
}

/// Adds `POST /` to `api` (the API listener's router).
pub fn mount(api: Router, store: Store, commands: Commands, config: AppRunnerConfig) -> Router {
    let state = ApiState { store, commands, config: Arc::new(config) };
    api.route("/", axum::routing::post(handle).with_state(state))
}

async fn handle(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve(&state, &method, &uri, &headers, &body).await {
        Ok(value) => {
            let mut response = value.to_string().into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(error::CONTENT_TYPE));
            response
        }
        Err(e) => {
            tracing::info!(code = e.code, message = %e.message, "App Runner API call refused");
            e.into_response()
        }
    }
}

async fn serve(
    state: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, AwsError> {
    let key_id = authenticate(state, method, uri, headers, body).await?;
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(operation) = target.strip_prefix("AppRunner.") else {
        return Err(AwsError::new(
            "UnknownOperationException",
            axum::http::StatusCode::BAD_REQUEST,
            format!("X-Amz-Target {target:?} is not an App Runner operation; send AppRunner.<Operation>"),
        ));
    };
    let input: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            AwsError::new(
                "SerializationException",
                axum::http::StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            )
        })?
    };
    if !input.is_object() {
        return Err(AwsError::invalid("the body must be a JSON object"));
    }
    tracing::info!(operation, access_key = %key_id, "App Runner API call");
    validate::input(operation, &input)?;
    operations::dispatch(state, operation, &input).await
}

/// Checks the signature; the access key's id when it is good.
async fn authenticate(
    state: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, AwsError> {
    let auth = sigv4::parse_authorization(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()))?;
    let id = auth.key_id.clone();
    let secret = state.store.call(move |db| db.access_key_secret(&id)).await?;
    let request = sigv4::Signed {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers,
        body,
    };
    sigv4::verify(&request, &auth, secret.as_deref(), time::OffsetDateTime::now_utc())?;
    let (id, now) = (auth.key_id.clone(), Timestamp::now());
    state.store.submit("access key use", move |db| db.touch_access_key(&id, now));
    Ok(auth.key_id)
}
