//! The hooks host on the router's listener: the router hands its requests to the API's hooks routes.
//!
//! Git hosts and registries must reach ferry where the internet does, and only the router's listener
//! faces it (the API stays on loopback). So the router answers one host itself, `ferry.<domain>` unless
//! `--hooks-host` says otherwise, through an internal route that runs `ferry_api::hooks_router` in the
//! request's task. A service whose host name would be the same one is refused at create.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::Router;
use bytes::Bytes;
use ferry_router::{InternalHandler, Protocol, RouteTarget, ServiceRoute};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tower::ServiceExt;

/// The hooks host's handler. Its routes are set once the command layer exists (which needs the
/// controllers, which need the route book this handler is published in); until then it answers 503.
#[derive(Default)]
pub(crate) struct Hooks(OnceLock<Router>);

impl Hooks {
    /// The route the router serves the hooks host with.
    pub(crate) fn route(self: &Arc<Self>) -> ServiceRoute {
        ServiceRoute {
            service: "ferry hooks".to_owned(),
            target: RouteTarget::Internal(self.clone()),
            protocol: Protocol::Http1,
            request_timeout: ServiceRoute::DEFAULT_REQUEST_TIMEOUT,
            capacity: None,
            https_redirect: false,
            hsts: None,
            metrics: None,
            request_log: None,
        }
    }

    pub(crate) fn set(&self, router: Router) {
        let _ = self.0.set(router);
    }
}

impl InternalHandler for Hooks {
    fn handle(&self, req: Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Bytes>> + Send + '_>> {
        Box::pin(async move {
            let Some(router) = self.0.get() else {
                let mut response = Response::new(Bytes::from_static(b"ferry: starting; retry\n"));
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                return response;
            };
            let req = req.map(|body| axum::body::Body::new(Limited::new(body, ferry_api::MAX_HOOK_BODY)));
            let response = match router.clone().oneshot(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(collected) => Response::from_parts(parts, collected.to_bytes()),
                Err(e) => {
                    tracing::warn!(error = %e, "a hooks answer could not be read");
                    let mut response = Response::new(Bytes::from_static(b"ferry: internal error\n"));
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    response
                }
            }
        })
    }
}
