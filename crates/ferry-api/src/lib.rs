//! ferry's HTTP API.
//!
//! The native REST API lives under `/v1` and is described by the OpenAPI document at
//! `/v1/openapi.json`. Every `/v1` request needs `Authorization: Bearer <token>`; only the hash of each
//! token is stored, and the token's scope (read-only, deploy, admin) decides what it may call: the matrix
//! and the limit on failed authentications are in `auth.rs`. Mutating calls are commands
//! (`ferry_command`): the handler turns the request into one, the command layer admits it, numbers its
//! revision and queues its operation in one transaction, and the call returns at once with the
//! operation's id (as App Runner's do); clients follow the operation to see it finish. Reads go to the store. Handlers never touch containers, and every answer that is not a
//! success has the one JSON error shape of [`ApiError`].

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use ferry_command::Commands;
use ferry_model::{Arn, ServiceId, ServiceName, Timestamp};
use ferry_store::Store;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};

mod access_keys;
mod auth;
mod autoscaling;
mod connections;
mod convert;
mod deployments;
mod domains;
mod error;
mod extract;
mod hooks;
mod logs;
mod metrics;
mod openapi;
mod operations;
mod secrets;
mod services;
mod tokens;
mod views;
mod webhooks;

pub use auth::{ConsoleSession, FAILURE_WINDOW, MAX_FAILURES, Scope, required_scope};
pub use error::{ApiError, ErrorKind};
pub use ferry_wire::RequestLogView;
pub use hooks::{MAX_HOOK_BODY, hooks_router};
pub use metrics::{MetricsHistory, MetricsSample, MetricsSource, PROMETHEUS_CONTENT_TYPE};
pub use openapi::openapi_json;
pub use views::rfc3339;

/// Where the API reads application logs from.
pub trait LogSource: Send + Sync + 'static {
    /// The service's application log: up to `tail` lines from before, then, with `follow`, new lines as
    /// they are written, until the client goes away or the server shuts down.
    fn logs(&self, service: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, AppLogLine>;

    /// The service's request log (a line per request the router answered for it, when its request logs
    /// are on), read as [`LogSource::logs`] reads. None by default.
    fn request_logs(
        &self,
        _service: &ServiceId,
        _tail: usize,
        _follow: bool,
    ) -> BoxStream<'static, ferry_wire::RequestLogView> {
        Box::pin(futures_util::stream::empty())
    }
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
    /// The router's public HTTPS port, when it has an HTTPS listener: where custom domains are served.
    pub https_port: Option<u16>,
}

impl PublicUrl {
    pub fn host(&self, name: &ServiceName) -> String {
        format!("{}.{}", name.host_label(), self.domain)
    }

    pub fn service_url(&self, name: &ServiceName) -> String {
        self.url_of(&self.host(name))
    }

    /// `<scheme>://<host>[:<port>]`.
    pub fn url_of(&self, host: &str) -> String {
        match self.port {
            Some(port) => format!("{}://{host}:{port}", self.scheme),
            None => format!("{}://{host}", self.scheme),
        }
    }
}

pub struct ApiConfig {
    pub arn: Arn,
    pub public: PublicUrl,
    /// The host the router answers webhooks on (no service may take it), and its URL, e.g.
    /// `http://ferry.localhost:8080`.
    pub hooks_host: String,
    pub hooks_url: String,
    /// What the server does for HTTPS; `None` when it has no HTTPS listener (custom domains are refused).
    pub tls: Option<TlsApi>,
    /// What the server counts of its services (`/metrics`, `/v1/services/{name}/metrics`).
    pub metrics: Arc<dyn MetricsSource>,
}

/// The server's HTTPS, as far as the API needs it.
#[derive(Clone)]
pub struct TlsApi {
    /// Wildcard domains (DNS-01) can be certified: the server has a DNS hook.
    pub dns01: bool,
    /// The local CA's certificate (PEM), when the server has one: what clients trust (`curl --cacert`).
    pub local_ca_pem: Option<String>,
    /// Told after a domain is added or removed: routes and certificates follow.
    pub domains_changed: Arc<dyn Fn() + Send + Sync>,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    pub commands: Commands,
    pub logs: Arc<dyn LogSource>,
    pub config: Arc<ApiConfig>,
    pub auth: Arc<auth::Guard>,
}

/// The API's routes. `/healthz` answers without a token (it says only that the process is up).
pub fn router(store: Store, commands: Commands, logs: Arc<dyn LogSource>, config: ApiConfig) -> Router {
    let state = AppState { store, commands, logs, config: Arc::new(config), auth: Arc::default() };
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
        .route("/v1/services/{name}/metrics", get(metrics::history))
        .route("/v1/services/{name}/webhook", post(webhooks::webhook))
        .route("/v1/services/{name}/domains", get(domains::list).post(domains::add))
        .route("/v1/services/{name}/domains/{domain}", axum::routing::delete(domains::remove))
        .route("/v1/tls/ca", get(domains::local_ca))
        .route("/v1/registries", get(webhooks::list_registries).post(webhooks::add_registry))
        .route("/v1/secrets", get(secrets::list))
        .route("/v1/secrets/{name}", axum::routing::put(secrets::set).delete(secrets::delete))
        .route("/v1/connections", get(connections::list).post(connections::create))
        .route("/v1/connections/{name}", axum::routing::delete(connections::delete))
        .route("/v1/connections/{name}/credentials", axum::routing::put(connections::set_credentials))
        .route("/v1/autoscaling", get(autoscaling::list).post(autoscaling::create))
        .route("/v1/autoscaling/{name}", get(autoscaling::describe).delete(autoscaling::delete))
        .route("/v1/autoscaling/{name}/default", post(autoscaling::make_default))
        .route("/v1/registries/{host}", axum::routing::delete(webhooks::delete_registry))
        .route("/v1/operations/{id}", get(operations::detail))
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{name}", axum::routing::delete(tokens::revoke))
        .route("/v1/access-keys", get(access_keys::list).post(access_keys::create))
        .route("/v1/access-keys/{id}", axum::routing::delete(access_keys::delete))
        .route("/v1/openapi.json", get(openapi::serve))
        // Prometheus' conventional path; behind the token like the rest (a read-only one suffices).
        .route("/metrics", get(metrics::prometheus))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(v1)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
}

/// The configuration the API's tests run with: `localhost` on port 8080, no HTTPS.
#[cfg(test)]
pub(crate) fn test_config() -> ApiConfig {
    ApiConfig {
        arn: Arn { region: "local".into(), account: "000000000000".into() },
        public: PublicUrl {
            scheme: "http".into(),
            domain: "localhost".into(),
            port: Some(8080),
            https_port: None,
        },
        hooks_host: "ferry.localhost".into(),
        hooks_url: "http://ferry.localhost:8080".into(),
        tls: None,
        metrics: Arc::new(metrics::NoMetrics),
    }
}

/// A request as the API's tests send it: with `token` as a bearer token, and `body` as JSON.
#[cfg(test)]
pub(crate) fn test_request<M>(
    method: M,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> axum::http::Request<axum::body::Body>
where
    axum::http::Method: TryFrom<M>,
    <axum::http::Method as TryFrom<M>>::Error: Into<axum::http::Error>,
{
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    req.body(body).expect("a valid test request")
}

/// The stored form of a token: its SHA-256, in hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod hooks_tests;
#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod request_logs_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tokens_tests;
