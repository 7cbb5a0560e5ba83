//! Custom domains as App Runner names them: `AssociateCustomDomain`, `DescribeCustomDomains` and
//! `DisassociateCustomDomain`, on the same rows `/v1/services/{name}/domains` and `ferry domain` use: what
//! one API adds, the other shows.
//!
//! App Runner hands back `CertificateValidationRecords`: CNAMEs the customer creates so that ACM can
//! validate the domain. ferry needs none: it answers the CA's HTTP-01 and TLS-ALPN-01 challenges itself
//! (the domain's DNS already points at the router, `DNSTarget`), and DNS-01 (wildcards) through the
//! server's `--acme-dns-hook`. The list is always empty.
//!
//! A domain routes over plain HTTP as soon as it is associated; its certificate follows (`Status`).
//! Disassociating removes it at once: the answer says `DELETING`, as App Runner's does, and the domain is
//! gone from both APIs by then.

use ferry_model::{ChallengeMethod, CustomDomain, DomainName, DomainStatus, Service, Timestamp};
use serde_json::{Value, json};

use crate::error::AwsError;
use crate::operations::{boolean, find, page, paged, required};
use crate::{ApiState, AppRunnerTls};

/// ferry's domain status in App Runner's `CustomDomainAssociationStatus` words.
fn status(status: DomainStatus) -> &'static str {
    match status {
        // ferry proves control itself; what App Runner's customer waits for here is the same: the CA.
        DomainStatus::PendingCertificateValidation => "PENDING_CERTIFICATE_DNS_VALIDATION",
        DomainStatus::Active => "ACTIVE",
        DomainStatus::CreateFailed => "CREATE_FAILED",
    }
}

fn shape(domain: &CustomDomain, status: &str) -> Value {
    json!({
        "DomainName": domain.name.as_str(),
        "EnableWWWSubdomain": domain.www,
        "CertificateValidationRecords": [],
        "Status": status,
    })
}

/// The answer's frame: `DNSTarget` is the service's own host, what a CNAME for the domain points at.
fn answer(state: &ApiState, service: &Service) -> Value {
    json!({
        "DNSTarget": format!("{}.{}", service.name.host_label(), state.config.domain),
        "ServiceArn": state.config.service_arn(service),
        "VpcDNSTargets": [],
    })
}

fn tls(state: &ApiState) -> Result<&AppRunnerTls, AwsError> {
    state.config.tls.as_ref().ok_or_else(|| {
        AwsError::invalid(
            "custom domains need HTTPS, and this server has no HTTPS listener: start it with \
             --https-listen (e.g. 0.0.0.0:443)",
        )
    })
}

fn domain_name(input: &Value) -> Result<DomainName, AwsError> {
    let name = required(input, "DomainName", "DomainName")?;
    DomainName::parse(name).map_err(|e| AwsError::member("DomainName", e.message))
}

pub(crate) async fn associate(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let tls = tls(state)?.clone();
    let service = find(state, input).await?;
    let name = domain_name(input)?;
    // As App Runner's: the `www.` subdomain comes along unless asked otherwise.
    let www = boolean(input, "EnableWWWSubdomain", "EnableWWWSubdomain")?.unwrap_or(true);
    let method = ChallengeMethod::for_domain(&name, None, tls.dns01)
        .map_err(|e| AwsError::member("DomainName", e.message))?;
    name.check_custom(&state.config.domain, &state.config.hooks_host)
        .map_err(|e| AwsError::member("DomainName", e.message))?;
    let domain = CustomDomain::new(name, service.id.clone(), www, method, Timestamp::now());
    let (row, id, service_name) = (domain.clone(), service.id.clone(), service.name.clone());
    // A `ServiceArn` still names a deleted service (DescribeService shows it), which must take no domain:
    // nothing would ever free it. Checked in the same store call as the claim, so a deletion cannot
    // come between.
    state
        .store
        .call(move |db| {
            if db.service(&id)?.is_none_or(|s| s.deleted_at.is_some()) {
                return Err(AwsError::new(
                    "InvalidStateException",
                    axum::http::StatusCode::BAD_REQUEST,
                    format!(
                        "service {service_name} is deleted; associate the domain with a live service \
                         (ListServices lists them)"
                    ),
                ));
            }
            match db.claim_domain(&row)? {
                None => Ok(()),
                Some(taken) => Err(AwsError::invalid(format!(
                    "{taken} is a custom domain of a service already (ferry domain list shows whose); \
                     disassociate it there first"
                ))),
            }
        })
        .await?;
    (tls.domains_changed)();
    tracing::info!(service = %service.name, domain = %domain.name, method = method.as_str(), "custom domain associated");
    let mut out = answer(state, &service);
    out["CustomDomain"] = shape(&domain, status(domain.status));
    Ok(out)
}

/// `MaxResults` 1 to 5 as App Runner's model says; without it, every domain (ferry has no limit of five).
pub(crate) async fn describe(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let (start, max) = page(input, 5)?;
    let service = find(state, input).await?;
    let id = service.id.clone();
    let domains = state.store.call(move |db| db.service_domains(&id)).await?;
    let max = if input.get("MaxResults").is_some_and(|v| !v.is_null()) { max } else { domains.len().max(1) };
    let items = domains.iter().map(|d| shape(d, status(d.status))).collect();
    let listed = paged(items, start, max, "CustomDomains");
    let mut out = answer(state, &service);
    out["CustomDomains"] = listed["CustomDomains"].clone();
    if let Some(token) = listed.get("NextToken") {
        out["NextToken"] = token.clone();
    }
    Ok(out)
}

pub(crate) async fn disassociate(state: &ApiState, input: &Value) -> Result<Value, AwsError> {
    let service = find(state, input).await?;
    let name = domain_name(input)?;
    let lookup = name.clone();
    let (id, gone) = (service.id.clone(), name.clone());
    let removed = state
        .store
        .call(move |db| {
            db.transaction(|db| {
                let found = db.domain(&lookup)?.filter(|d| d.service_id == id);
                if found.is_some() {
                    db.delete_domain(&id, &gone)?;
                }
                Ok::<_, ferry_store::StoreError>(found)
            })
        })
        .await?;
    let Some(domain) = removed else {
        return Err(AwsError::not_found(format!(
            "{} has no custom domain {name}; DescribeCustomDomains lists its domains",
            service.name
        )));
    };
    if let Some(tls) = &state.config.tls {
        (tls.domains_changed)();
    }
    tracing::info!(service = %service.name, domain = %name, "custom domain disassociated");
    let mut out = answer(state, &service);
    out["CustomDomain"] = shape(&domain, "DELETING");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// botocore's `CustomDomainAssociationStatus`.
    const APP_RUNNER: [&str; 7] = [
        "CREATING",
        "CREATE_FAILED",
        "ACTIVE",
        "DELETING",
        "DELETE_FAILED",
        "PENDING_CERTIFICATE_DNS_VALIDATION",
        "BINDING_CERTIFICATE",
    ];

    #[test]
    fn statuses_are_app_runners_words() {
        assert_eq!(status(DomainStatus::PendingCertificateValidation), "PENDING_CERTIFICATE_DNS_VALIDATION");
        assert_eq!(status(DomainStatus::Active), "ACTIVE");
        assert_eq!(status(DomainStatus::CreateFailed), "CREATE_FAILED");
        for s in
            [DomainStatus::PendingCertificateValidation, DomainStatus::Active, DomainStatus::CreateFailed]
        {
            assert!(APP_RUNNER.contains(&status(s)), "{}", status(s));
        }
    }
}
