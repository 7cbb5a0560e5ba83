//! The OpenAPI document, generated from the handlers and the wire types so it cannot drift from them.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ferry",
        description = "The native API of ferry, a self-hosted App Runner. Every call needs `Authorization: Bearer <token>`.",
    ),
    paths(
        crate::services::create,
        crate::services::list,
        crate::services::describe,
        crate::services::delete,
        crate::deployments::update,
        crate::deployments::deploy,
        crate::deployments::rollback,
        crate::deployments::pause,
        crate::deployments::resume,
        crate::deployments::revisions,
        crate::operations::list,
        crate::operations::detail,
        crate::logs::stream,
        crate::metrics::history,
        crate::webhooks::webhook,
        crate::webhooks::add_registry,
        crate::webhooks::list_registries,
        crate::webhooks::delete_registry,
        crate::autoscaling::create,
        crate::autoscaling::list,
        crate::autoscaling::describe,
        crate::autoscaling::delete,
        crate::autoscaling::make_default,
        crate::secrets::set,
        crate::secrets::list,
        crate::secrets::delete,
        crate::connections::create,
        crate::connections::list,
        crate::connections::set_credentials,
        crate::connections::delete,
        crate::tokens::create,
        crate::tokens::list,
        crate::tokens::revoke,
        crate::access_keys::create,
        crate::access_keys::list,
        crate::access_keys::delete,
        crate::domains::add,
        crate::domains::list,
        crate::domains::remove,
        crate::domains::local_ca,
    ),
    // The request log's records: the logs route's body with `requests=true`.
    components(schemas(ferry_wire::RequestLogView)),
    modifiers(&BearerAuth),
    tags(
        (name = "services", description = "Services: create, list, describe, delete"),
        (name = "deployments", description = "Revisions: update, deploy, roll back, pause, resume"),
        (name = "operations", description = "The record of every mutating call"),
        (name = "logs", description = "Application and request logs"),
        (name = "metrics", description = "Requests, errors, latency, instances, CPU and memory over the last hour"),
        (name = "secrets", description = "Secrets: values services get as environment variables, sealed at rest"),
        (name = "connections", description = "Connections: credentials for git hosts that services build from, sealed at rest"),
        (name = "autoscaling", description = "Auto scaling configurations, shared between services"),
        (name = "registries", description = "Registries whose push notifications deploy images"),
        (name = "tokens", description = "API tokens: named, scoped (read-only, deploy, admin), expiring"),
        (name = "access-keys", description = "Access keys for the App Runner-compatible API (AWS SigV4)"),
        (name = "domains", description = "Custom domains and their certificates"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON.
pub fn openapi_json() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

pub(crate) async fn serve() -> Json<serde_json::Value> {
    Json(openapi_json())
}
