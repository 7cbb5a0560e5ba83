//! ferry's HTTP API.
//!
//! The native REST API lives under `/v1` and is described by the OpenAPI document at
//! `/v1/openapi.json`. Every `/v1` request needs `Authorization: Bearer <token>`; only the hash of each
//! token is stored. Handlers validate input into `ferry-model` types, write the desired state and an
//! operation to the store, and tell the control plane through [`ControlPlane`]; they never touch
//! containers. Mutating calls return at once with the operation's id (as App Runner's do); clients follow
//! the operation to see it finish.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use ferry_model::{Arn, ServiceId, ServiceName, Timestamp};
use ferry_store::Store;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};

mod auth;
mod convert;
mod deployments;
mod error;
mod logs;
mod openapi;
mod operations;
mod services;
mod views;

pub use error::{ApiError, ErrorKind};
pub use openapi::openapi_json;

/// What the API needs from the rest of the control plane.
pub trait ControlPlane: Send + Sync + 'static {
    /// An operation was queued for this service: start working on it.
    fn operation_queued(&self, service: &ServiceId);

    /// The service's application log: up to `tail` lines from before, then, with `follow`, new lines as
    /// they are written, until the client goes away.
    fn logs(&self, service: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, AppLogLine>;
}

/// One line an instance wrote to stdout or stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLogLine {
    pub at: Timestamp,
    pub instance: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub line: String,
}

/// How services are reached from outside: `<scheme>://<name>.<domain>[:<port>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub scheme: String,
    pub domain: String,
    /// `None` for the scheme's default port.
    pub port: Option<u16>,
}

impl PublicUrl {
    pub fn host(&self, name: &ServiceName) -> String {
        format!("{}.{}", name.host_label(), self.domain)
    }

    pub fn service_url(&self, name: &ServiceName) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host(name)),
            None => format!("{}://{}", self.scheme, self.host(name)),
        }
    }
}

pub struct ApiConfig {
    pub arn: Arn,
    pub public: PublicUrl,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Arc<Store>,
    pub control: Arc<dyn ControlPlane>,
    pub config: Arc<ApiConfig>,
}

/// The API's routes. `/healthz` answers without a token (it says only that the process is up).
pub fn router(store: Arc<Store>, control: Arc<dyn ControlPlane>, config: ApiConfig) -> Router {
    let state = AppState { store, control, config: Arc::new(config) };
    let v1 = Router::new()
        .route("/v1/services", get(services::list).post(services::create))
        .route(
            "/v1/services/{name}",
            get(services::describe).delete(services::delete).patch(deployments::update),
        )
        .route("/v1/services/{name}/deployments", post(deployments::deploy))
        .route("/v1/services/{name}/rollback", post(deployments::rollback))
        .route("/v1/services/{name}/pause", post(deployments::pause))
        .route("/v1/services/{name}/resume", post(deployments::resume))
        .route("/v1/services/{name}/revisions", get(deployments::revisions))
        .route("/v1/services/{name}/operations", get(operations::list))
        .route("/v1/services/{name}/logs", get(logs::stream))
        .route("/v1/operations/{id}", get(operations::detail))
        .route("/v1/openapi.json", get(openapi::serve))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new().route("/healthz", get(|| async { "ok\n" })).merge(v1).with_state(state)
}

/// The stored form of a token: its SHA-256, in hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests;
