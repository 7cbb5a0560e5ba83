//! `/v1/services/{name}/domains` and `/v1/tls/ca`: custom domains (App Runner's `AssociateCustomDomain`,
//! `DescribeCustomDomains`, `DisassociateCustomDomain`) and the local CA clients trust.
//!
//! Adding a domain routes it to the service at once; its certificate is the server's to get (it is told
//! through [`TlsApi::domains_changed`](crate::TlsApi)), and the domain's status says where that stands.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use ferry_model::{ChallengeMethod, CustomDomain, DomainName, Service, Timestamp};
use ferry_wire::{DomainList, DomainRequest, DomainView, ErrorBody};

use crate::extract::{Body, Segment};
use crate::services::find;
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind, TlsApi};

impl AppState {
    fn tls(&self) -> Result<&TlsApi, ApiError> {
        self.config.tls.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorKind::InvalidRequest,
                "custom domains need HTTPS, and this server has no HTTPS listener: start it with \
                 --https-listen (e.g. 0.0.0.0:443)",
            )
        })
    }

    fn domain_view(&self, service: &Service, domain: &CustomDomain) -> DomainView {
        let url = match self.config.public.https_port {
            Some(443) | None => format!("https://{}", domain.name),
            Some(port) => format!("https://{}:{port}", domain.name),
        };
        DomainView {
            domain: domain.name.to_string(),
            service: service.name.to_string(),
            www: domain.www,
            method: domain.method.as_str().to_owned(),
            status: domain.status.as_str().to_owned(),
            reason: domain.reason.clone(),
            certificate_expires_at: domain.not_after.map(rfc3339),
            renews_at: domain.renew_at.map(rfc3339),
            next_attempt_at: domain.next_attempt.map(rfc3339),
            dns_target: self.config.public.host(&service.name),
            url: url.replace("https://*.", "https://<any>."),
            created_at: rfc3339(domain.created_at),
        }
    }
}

/// Routes a custom domain to the service and starts getting its certificate.
#[utoipa::path(
    post, path = "/v1/services/{name}/domains", tag = "domains",
    params(("name" = String, Path, description = "The service's name")),
    request_body = DomainRequest,
    responses((status = 201, body = DomainView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn add(
    State(state): State<AppState>,
    Segment(name): Segment,
    Body(req): Body<DomainRequest>,
) -> Result<(StatusCode, Json<DomainView>), ApiError> {
    let tls = state.tls()?.clone();
    let domain_name = DomainName::parse(&req.domain)?;
    let asked = req.method.as_deref().map(ChallengeMethod::parse).transpose()?;
    let method = ChallengeMethod::for_domain(&domain_name, asked, tls.dns01)?;
    domain_name.check_custom(&state.config.public.domain, &state.config.hooks_host)?;
    let service = find(&state, name).await?;
    let domain = CustomDomain::new(domain_name, service.id.clone(), req.www, method, Timestamp::now());
    let (row, id) = (domain.clone(), service.id.clone());
    // The service is looked at again in the claim's transaction: a domain claimed after its deletion would
    // route nowhere and could not be removed (nothing finds a deleted service by name).
    let inserted = state
        .store
        .call(move |db| {
            db.transaction(|db| {
                if db.service(&id)?.is_none_or(|s| s.deleted_at.is_some()) {
                    return Ok::<_, ferry_store::StoreError>(Err(()));
                }
                db.claim_domain(&row).map(Ok)
            })
        })
        .await?
        .map_err(|()| {
            ApiError::new(ErrorKind::NotFound, format!("service {} was deleted meanwhile", service.name))
                .with_field("name")
        })?;
    if let Some(taken) = inserted {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!(
                "{taken} is a custom domain already (ferry domain list shows whose); remove it there first"
            ),
        ));
    }
    (tls.domains_changed)();
    tracing::info!(service = %service.name, domain = %domain.name, method = domain.method.as_str(), "custom domain added");
    Ok((StatusCode::CREATED, Json(state.domain_view(&service, &domain))))
}

/// The service's custom domains and their certificates' state.
#[utoipa::path(
    get, path = "/v1/services/{name}/domains", tag = "domains",
    params(("name" = String, Path, description = "The service's name")),
    responses((status = 200, body = DomainList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Segment(name): Segment,
) -> Result<Json<DomainList>, ApiError> {
    let service = find(&state, name).await?;
    let id = service.id.clone();
    let domains = state.store.call(move |db| db.service_domains(&id)).await?;
    Ok(Json(DomainList { domains: domains.iter().map(|d| state.domain_view(&service, d)).collect() }))
}

/// Stops routing a custom domain to the service; its certificate is dropped.
#[utoipa::path(
    delete, path = "/v1/services/{name}/domains/{domain}", tag = "domains",
    params(("name" = String, Path, description = "The service's name"), ("domain" = String, Path, description = "The domain")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    NameAndDomain(name, domain): NameAndDomain,
) -> Result<StatusCode, ApiError> {
    let domain_name = DomainName::parse(&domain)?;
    let service = find(&state, name).await?;
    let (id, lookup) = (service.id.clone(), domain_name.clone());
    let removed = state.store.call(move |db| db.delete_domain(&id, &lookup)).await?;
    if !removed {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!(
                "{} has no custom domain {domain_name}; ferry domain list {} shows its domains",
                service.name, service.name
            ),
        ));
    }
    if let Some(tls) = &state.config.tls {
        (tls.domains_changed)();
    }
    tracing::info!(service = %service.name, domain = %domain_name, "custom domain removed");
    Ok(StatusCode::NO_CONTENT)
}

/// The local CA's certificate, for clients to trust (`curl --cacert`).
#[utoipa::path(
    get, path = "/v1/tls/ca", tag = "domains",
    responses((status = 200, content_type = "application/x-pem-file", body = String), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn local_ca(
    State(state): State<AppState>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let pem = state.config.tls.as_ref().and_then(|t| t.local_ca_pem.clone()).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "this server has no local CA: its certificates come from an ACME CA (or it has no HTTPS listener)",
        )
    })?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/x-pem-file")], pem))
}

/// The two path parameters of `/v1/services/{name}/domains/{domain}`.
pub(crate) struct NameAndDomain(String, String);

impl<S: Send + Sync> FromRequestParts<S> for NameAndDomain {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(Path((name, domain))) => Ok(NameAndDomain(name, domain)),
            Err(rejection) => Err(crate::extract::path_rejection(rejection)),
        }
    }
}
