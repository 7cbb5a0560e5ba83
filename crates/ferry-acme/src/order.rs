//! One order, from the new-order request to the downloaded chain (the LIFECYCLE is in the crate's docs).

use std::time::Duration;

use instant_acme::{AuthorizationStatus, Identifier, NewOrder, Order, OrderStatus};
use rcgen::{CertificateParams, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256};
use tokio::time::{Instant, sleep};

use crate::challenge::tls_alpn01_cert;
use crate::{Acme, AcmeError, Issued, Method, Problem, Responder};

/// Polling starts fast (pebble and Let's Encrypt often validate within a second) and slows down to this.
const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(5);
const ACCOUNT_GONE: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// What progress messages go to: the caller's status line or operation log. Called from the issuing task.
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// A challenge answer that was put in place and must be taken away.
enum Placed {
    Http01 { token: String },
    TlsAlpn01 { domain: String },
    Dns01 { domain: String, value: String },
}

impl Acme {
    /// Orders a certificate for `names` (the first one is the one shown as its subject), validating every name with
    /// `method` through `responder`, and returns it with the fresh P-256 key its CSR was made with. `progress`
    /// hears each step, for people. Every challenge answer set is cleared before this returns, on failure too.
    ///
    /// A failed validation is [`AcmeError::Validation`] with the CA's words; wildcard names need [`Method::Dns01`].
    /// Dropping the future mid-order (shutdown) skips the cleanup: answers set so far stay with the responder.
    pub async fn issue(
        &self,
        names: &[String],
        method: Method,
        responder: &dyn Responder,
        progress: Progress<'_>,
    ) -> Result<Issued, AcmeError> {
        crate::validate_names(names)?;
        if method != Method::Dns01
            && let Some(name) = names.iter().find(|name| name.starts_with("*."))
        {
            return Err(AcmeError::WildcardNeedsDns01 { name: name.clone() });
        }
        let identifiers: Vec<Identifier> = names.iter().map(|name| Identifier::Dns(name.clone())).collect();
        let new_order = NewOrder::new(&identifiers);
        progress("creating the order");
        let account = self.account().await?;
        let mut order = match account.new_order(&new_order).await {
            Err(instant_acme::Error::Api(problem)) if problem.r#type.as_deref() == Some(ACCOUNT_GONE) => {
                tracing::warn!(directory = %self.config.directory_url, "the CA no longer knows the saved account");
                self.replace_account().await?.new_order(&new_order).await?
            }
            result => result?,
        };
        tracing::info!(names = ?names, method = %method, order = order.url(), "acme order created");

        let mut placed = Vec::new();
        let validated = self.validate(&mut order, method, responder, progress, &mut placed).await;
        clear(responder, placed).await;
        validated?;

        progress("all names validated, finalizing");
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name = DistinguishedName::new();
        let csr = params.serialize_request(&key)?;
        order.finalize_csr(csr.der()).await?;
        let chain = self.download(&mut order).await?;
        let issued = Issued::from_pem(chain, key.serialize_pem())?;
        tracing::info!(names = ?issued.names, not_after = ?issued.not_after, "acme certificate issued");
        progress("certificate issued");
        Ok(issued)
    }

    /// Puts every pending authorization's challenge in place, asks for validation and waits for the order to be
    /// ready. Everything set is pushed on `placed` as soon as it is set.
    async fn validate(
        &self,
        order: &mut Order,
        method: Method,
        responder: &dyn Responder,
        progress: Progress<'_>,
        placed: &mut Vec<Placed>,
    ) -> Result<(), AcmeError> {
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            let name = authorization.identifier().to_string();
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => {
                    progress(&format!("{name}: already validated"));
                    continue;
                }
                status => {
                    return Err(AcmeError::Validation {
                        domain: name,
                        problem: problem_text(&format!("the authorization is {status:?}").to_lowercase()),
                    });
                }
            }
            let Some(mut challenge) = authorization.challenge(method.challenge_type()) else {
                return Err(AcmeError::NoChallenge { domain: name, method: method.as_str() });
            };
            let domain = match &challenge.identifier().identifier {
                Identifier::Dns(domain) => domain.clone(),
                _ => name.clone(),
            };
            let key_authorization = challenge.key_authorization();
            let responder_error =
                |source| AcmeError::Responder { domain: name.clone(), method: method.as_str(), source };
            match method {
                Method::Http01 => {
                    let token = challenge.token.clone();
                    responder
                        .set_http01(&token, key_authorization.as_str())
                        .await
                        .map_err(responder_error)?;
                    placed.push(Placed::Http01 { token });
                }
                Method::TlsAlpn01 => {
                    let cert = tls_alpn01_cert(&domain, key_authorization.as_str())?;
                    responder.set_tls_alpn01(&domain, &cert).await.map_err(responder_error)?;
                    placed.push(Placed::TlsAlpn01 { domain });
                }
                Method::Dns01 => {
                    let value = key_authorization.dns_value();
                    responder.set_dns01(&domain, &value).await.map_err(responder_error)?;
                    placed.push(Placed::Dns01 { domain, value });
                }
            }
            progress(&format!("{name}: {method} challenge in place, the CA is validating"));
            challenge.set_ready().await.map_err(|e| in_validation(&name, e))?;
        }

        let started = Instant::now();
        let mut delay = FIRST_POLL;
        loop {
            match order.refresh().await?.status {
                OrderStatus::Ready | OrderStatus::Processing | OrderStatus::Valid => return Ok(()),
                OrderStatus::Invalid => return Err(why_invalid(order).await),
                OrderStatus::Pending => {}
            }
            if started.elapsed() + delay > self.config.timeout {
                return Err(AcmeError::Timeout { what: "the CA to validate", after: self.config.timeout });
            }
            sleep(delay).await;
            delay = (delay * 2).min(MAX_POLL);
        }
    }

    /// Waits for the finalized order to be valid and downloads its chain.
    async fn download(&self, order: &mut Order) -> Result<String, AcmeError> {
        let started = Instant::now();
        let mut delay = FIRST_POLL;
        loop {
            if let Some(chain) = order.certificate().await? {
                return Ok(chain);
            }
            if started.elapsed() + delay > self.config.timeout {
                return Err(AcmeError::Timeout {
                    what: "the CA to issue the certificate",
                    after: self.config.timeout,
                });
            }
            sleep(delay).await;
            delay = (delay * 2).min(MAX_POLL);
        }
    }
}

/// An error while asking for validation of `name`: the CA's problem is about that name.
fn in_validation(name: &str, error: instant_acme::Error) -> AcmeError {
    match error {
        instant_acme::Error::Api(problem) => {
            AcmeError::Validation { domain: name.to_owned(), problem: (&problem).into() }
        }
        other => other.into(),
    }
}

fn problem_text(detail: &str) -> Problem {
    Problem { kind: None, detail: Some(detail.to_owned()), subproblems: Vec::new() }
}

/// Why an order became invalid: the first failed challenge's problem, else the order's own.
async fn why_invalid(order: &mut Order) -> AcmeError {
    let order_problem = order.state().error.as_ref().map(Problem::from);
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let Ok(mut authorization) = authorization else { continue };
        let name = authorization.identifier().to_string();
        let Ok(state) = authorization.refresh().await else { continue };
        if let Some(problem) = state.challenges.iter().find_map(|challenge| challenge.error.as_ref()) {
            return AcmeError::Validation { domain: name, problem: problem.into() };
        }
        if state.status == AuthorizationStatus::Invalid {
            return AcmeError::Validation {
                domain: name,
                problem: problem_text("the CA marked the name invalid"),
            };
        }
    }
    AcmeError::Server(
        order_problem.unwrap_or_else(|| problem_text("the order became invalid without a reason")),
    )
}

/// Takes away every answer that was set; a failure here is logged, the order's outcome stands.
async fn clear(responder: &dyn Responder, placed: Vec<Placed>) {
    for answer in placed {
        let (what, result) = match &answer {
            Placed::Http01 { token } => ("http-01", responder.clear_http01(token).await),
            Placed::TlsAlpn01 { domain } => ("tls-alpn-01", responder.clear_tls_alpn01(domain).await),
            Placed::Dns01 { domain, value } => ("dns-01", responder.clear_dns01(domain, value).await),
        };
        if let Err(error) = result {
            tracing::warn!(challenge = what, %error, "clearing a challenge answer failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lead spawns orders and shares the client: the future is `Send`, the client `Send + Sync`.
    #[test]
    fn an_order_can_run_on_any_thread() {
        fn send<T: Send>(_: &T) {}
        fn shared<T: Send + Sync>() {}
        shared::<Acme>();
        shared::<crate::LocalCa>();
        let dir = std::path::Path::new("/nonexistent");
        let acme = Acme::new(dir, crate::AcmeConfig::new("https://127.0.0.1:1/dir")).unwrap();
        let hook = crate::DnsHook::new("/bin/true");
        let order = acme.issue(&[], Method::Dns01, &hook, &|_| {});
        send(&order);
    }

    #[test]
    fn the_directory_must_be_https() {
        let err = Acme::new(std::path::Path::new("/x"), crate::AcmeConfig::new("http://ca/dir")).unwrap_err();
        assert!(matches!(err, AcmeError::DirectoryUrl { .. }), "{err}");
    }
}
