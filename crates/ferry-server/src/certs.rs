//! The certificate manager: custom domains routed to their services, their certificates got from the ACME
//! CA, served by the router's TLS listener, and renewed before they expire, without a restart.
//!
//! # LIFECYCLE of a domain's certificate
//!
//! 1. `ferry domain add` writes the domain (`PENDING_CERTIFICATE_VALIDATION`) and wakes the manager, which
//!    routes the name (and `www.`) to the service at once and asks the CA, one domain at a time: the
//!    router answers the CA's challenge (HTTP-01 on the plain listener, TLS-ALPN-01 on the TLS one) or the
//!    DNS hook sets the TXT record (DNS-01).
//! 2. Issued: the chain and key go to `<data dir>/tls/certs/<domain>/` (key 0600), the router serves them
//!    from the next handshake, the domain is `ACTIVE` with its expiry and when it renews (two thirds
//!    through its life).
//! 3. Failed: the domain is `CREATE_FAILED` with the CA's reason and asked again after a back-off (a minute
//!    doubling to six hours); a failed renewal keeps serving the certificate it has (still `ACTIVE`).
//! 4. At start the stored certificates are served before anything is asked; a removed domain's certificate
//!    leaves the router and the disk.
//!
//! With `--default-certificates acme`, the services' own hosts share one wildcard certificate
//! (`*.<domain>`, DNS-01), kept the same way under that name (its state is in memory and on disk only).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_acme::{CertStore, Issued};
use ferry_model::{ChallengeMethod, CustomDomain, DomainName, ServiceId, Timestamp};
use ferry_router::Router;
use ferry_store::{CertificateOutcome, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::https::AcmeSettings;
use crate::routes::RouteBook;

/// Look again at least this often, whatever is due (a clock jump, a file put back by hand).
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// One order, from the first request to the CA to the chain downloaded.
const ORDER_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) struct CertManager {
    pub(crate) store: Store,
    pub(crate) router: Arc<Router>,
    pub(crate) routes: Arc<RouteBook>,
    pub(crate) files: CertStore,
    pub(crate) acme: AcmeSettings,
    /// Where the ACME account is kept.
    pub(crate) dir: PathBuf,
    /// `*.<domain>` when the services' own hosts get their certificate from the CA.
    pub(crate) wildcard: Option<String>,
    pub(crate) wake: Arc<Notify>,
    pub(crate) shutdown: CancellationToken,
}

/// What the manager knows between passes.
#[derive(Default)]
struct State {
    /// Names whose certificate the router serves, with the names it covers and when it renews.
    installed: HashMap<String, (Vec<String>, SystemTime)>,
    client: Option<Arc<ferry_acme::Acme>>,
    /// The wildcard's own back-off (it has no row).
    wildcard_failures: u32,
    wildcard_next: Option<SystemTime>,
}

impl CertManager {
    pub(crate) async fn run(self) {
        let mut state = State::default();
        loop {
            let next = match self.pass(&mut state).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the custom domains; trying again in a minute");
                    SystemTime::now() + Duration::from_secs(60)
                }
            };
            let sleep = next.duration_since(SystemTime::now()).unwrap_or_default().min(MAX_SLEEP);
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Routes every domain, serves what is stored, asks the CA for what is due; when to look next.
    async fn pass(&self, state: &mut State) -> Result<SystemTime, ferry_store::StoreError> {
        let domains = self.store.call(|db| db.all_domains()).await?;
        let mut aliases: HashMap<ServiceId, Vec<String>> = HashMap::new();
        for d in &domains {
            aliases
                .entry(d.service_id.clone())
                .or_default()
                .extend(d.names().iter().map(DomainName::to_string));
        }
        self.routes.set_aliases(aliases);

        let wanted: HashSet<String> =
            domains.iter().map(|d| d.name.to_string()).chain(self.wildcard.iter().cloned()).collect();
        let gone: Vec<String> = state.installed.keys().filter(|n| !wanted.contains(*n)).cloned().collect();
        for name in gone {
            self.uninstall(state, &name);
        }
        for name in &wanted {
            if !state.installed.contains_key(name) {
                self.install_stored(state, name);
            }
        }

        let now = SystemTime::now();
        let mut next = now + MAX_SLEEP;
        for d in &domains {
            if self.shutdown.is_cancelled() {
                break;
            }
            let due = due_at(d);
            if due <= now {
                let outcome = self.attempt(state, &d.name.to_string(), &names_of(d), d.method).await;
                let (record, at) = self.outcome(outcome, d.failures);
                next = next.min(at);
                let name = d.name.clone();
                self.store.call(move |db| db.record_certificate(&name, &record)).await?;
            } else {
                next = next.min(due);
            }
        }
        if let Some(wildcard) = &self.wildcard {
            let renew = state.installed.get(wildcard).map(|(_, renew)| *renew);
            let due = match (renew, state.wildcard_next) {
                (_, Some(retry)) => retry,
                (Some(renew), None) => renew,
                (None, None) => now,
            };
            if due <= now && !self.shutdown.is_cancelled() {
                match self
                    .attempt(state, wildcard, std::slice::from_ref(wildcard), ChallengeMethod::Dns01)
                    .await
                {
                    Ok(_) => {
                        state.wildcard_failures = 0;
                        state.wildcard_next = None;
                    }
                    Err(reason) => {
                        state.wildcard_failures += 1;
                        let wait = ferry_acme::retry_after(state.wildcard_failures, jitter());
                        tracing::warn!(name = %wildcard, %reason, retry_in = ?wait, "no certificate for the services' hosts");
                        state.wildcard_next = Some(now + wait);
                    }
                }
            } else {
                next = next.min(due);
            }
            if let Some(at) = state.wildcard_next {
                next = next.min(at);
            }
            if let Some((_, renew)) = state.installed.get(wildcard) {
                next = next.min(*renew);
            }
        }
        Ok(next)
    }

    /// Asks the CA for `names`' certificate and serves it; the reason in the CA's words on failure.
    async fn attempt(
        &self,
        state: &mut State,
        name: &str,
        names: &[String],
        method: ChallengeMethod,
    ) -> Result<Issued, String> {
        tracing::info!(domain = name, method = method.as_str(), "asking the CA for a certificate");
        let client = self.client(state).await?;
        let responder = crate::acme_responder::RouterResponder::new(&self.router, self.acme.dns_hook.clone());
        let progress = |line: &str| tracing::info!(domain = name, "{line}");
        let order = client.issue(names, acme_method(method), &responder, &progress);
        let issued = match tokio::time::timeout(ORDER_TIMEOUT, order).await {
            Ok(Ok(issued)) => issued,
            Ok(Err(e)) => return Err(reason_of(&e)),
            Err(_) => return Err(format!("the CA did not finish within {}s", ORDER_TIMEOUT.as_secs())),
        };
        if let Err(e) = self.files.save(name, &issued) {
            tracing::warn!(domain = name, error = %e, "cannot store a certificate; it is served until ferry stops");
        }
        self.install(state, name, &issued)?;
        tracing::info!(domain = name, not_after = ?issued.not_after, "certificate issued and served");
        Ok(issued)
    }

    async fn client(&self, state: &mut State) -> Result<Arc<ferry_acme::Acme>, String> {
        if let Some(client) = &state.client {
            return Ok(client.clone());
        }
        let ca_pem = match &self.acme.ca_file {
            Some(path) => Some(
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("cannot read {} (--acme-ca-file): {e}", path.display()))?,
            ),
            None => None,
        };
        let config = ferry_acme::AcmeConfig {
            ca_bundle_pem: ca_pem,
            contact_email: self.acme.email.clone(),
            ..ferry_acme::AcmeConfig::new(self.acme.directory.clone())
        };
        let client = Arc::new(ferry_acme::Acme::new(&self.dir, config).map_err(|e| reason_of(&e))?);
        state.client = Some(client.clone());
        Ok(client)
    }

    fn outcome(&self, result: Result<Issued, String>, failures: u32) -> (CertificateOutcome, SystemTime) {
        match result {
            Ok(issued) => {
                let renew = ferry_acme::renew_at(issued.not_before, issued.not_after);
                (
                    CertificateOutcome::Issued { not_after: stamp(issued.not_after), renew_at: stamp(renew) },
                    renew,
                )
            }
            Err(reason) => {
                let at = SystemTime::now() + ferry_acme::retry_after(failures + 1, jitter());
                tracing::warn!(%reason, "certificate not issued");
                (CertificateOutcome::Failed { reason, next_attempt: stamp(at) }, at)
            }
        }
    }

    /// Serves a certificate stored by an earlier run, if there is one.
    fn install_stored(&self, state: &mut State, name: &str) {
        match self.files.load(name) {
            Ok(Some(issued)) => {
                if let Err(e) = self.install(state, name, &issued) {
                    tracing::warn!(domain = name, error = %e, "a stored certificate cannot be served");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(domain = name, error = %e, "cannot read a stored certificate"),
        }
    }

    fn install(&self, state: &mut State, name: &str, issued: &Issued) -> Result<(), String> {
        let key =
            ferry_router::certified_key_from_pem(issued.chain_pem.as_bytes(), issued.key_pem.as_bytes())
                .map_err(|e| format!("the CA's certificate cannot be served: {e}"))?;
        let key = Arc::new(key);
        for host in &issued.names {
            self.router.certificates().set(host, key.clone());
        }
        let renew = ferry_acme::renew_at(issued.not_before, issued.not_after);
        state.installed.insert(name.to_owned(), (issued.names.clone(), renew));
        Ok(())
    }

    fn uninstall(&self, state: &mut State, name: &str) {
        if let Some((names, _)) = state.installed.remove(name) {
            for host in names {
                self.router.certificates().remove(&host);
            }
        }
        if let Err(e) = self.files.remove(name) {
            tracing::warn!(domain = name, error = %e, "cannot remove a certificate's files");
        }
        tracing::info!(domain = name, "certificate no longer served");
    }
}

/// When a domain should be asked for next: a failure's retry, a renewal, or now.
fn due_at(d: &CustomDomain) -> SystemTime {
    match (d.next_attempt, d.renew_at) {
        (Some(retry), _) => system(retry),
        (None, Some(renew)) => system(renew),
        (None, None) => SystemTime::UNIX_EPOCH,
    }
}

fn names_of(d: &CustomDomain) -> Vec<String> {
    d.names().iter().map(DomainName::to_string).collect()
}

fn acme_method(method: ChallengeMethod) -> ferry_acme::Method {
    match method {
        ChallengeMethod::Http01 => ferry_acme::Method::Http01,
        ChallengeMethod::TlsAlpn01 => ferry_acme::Method::TlsAlpn01,
        ChallengeMethod::Dns01 => ferry_acme::Method::Dns01,
    }
}

/// The CA's own words when it gave a problem document, else the error's.
fn reason_of(e: &ferry_acme::AcmeError) -> String {
    e.to_string()
}

fn stamp(t: SystemTime) -> Timestamp {
    let ms = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}

fn system(t: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(t.millis()).unwrap_or(0))
}

/// A number in [0, 1) for the retry's jitter: the clock's nanoseconds are random enough to keep domains
/// that failed together from retrying in step.
fn jitter() -> f64 {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(nanos) / 1e9
}
