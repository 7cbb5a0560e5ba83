//! How the CA's challenges are answered: HTTP-01 and TLS-ALPN-01 by the router itself (the names already
//! route to it), DNS-01 by the operator's hook command.

use std::sync::Arc;

use async_trait::async_trait;
use ferry_acme::{BoxError, DnsHook, Responder, TlsAlpnCert};
use ferry_router::Router;

pub(crate) struct RouterResponder {
    router: Arc<Router>,
    dns: Option<DnsHook>,
}

impl RouterResponder {
    pub(crate) fn new(router: &Arc<Router>, dns_hook: Option<std::path::PathBuf>) -> Self {
        Self { router: router.clone(), dns: dns_hook.map(DnsHook::new) }
    }
}

#[async_trait]
impl Responder for RouterResponder {
    async fn set_http01(&self, token: &str, key_authorization: &str) -> Result<(), BoxError> {
        self.router.http01().set(token, key_authorization);
        Ok(())
    }

    async fn clear_http01(&self, token: &str) -> Result<(), BoxError> {
        self.router.http01().remove(token);
        Ok(())
    }

    async fn set_tls_alpn01(&self, domain: &str, cert: &TlsAlpnCert) -> Result<(), BoxError> {
        let key = ferry_router::certified_key_from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())?;
        self.router.certificates().set_alpn_challenge(domain, Arc::new(key));
        Ok(())
    }

    async fn clear_tls_alpn01(&self, domain: &str) -> Result<(), BoxError> {
        self.router.certificates().remove_alpn_challenge(domain);
        Ok(())
    }

    async fn set_dns01(&self, domain: &str, value: &str) -> Result<(), BoxError> {
        match &self.dns {
            Some(hook) => hook.set_dns01(domain, value).await,
            None => Err("dns-01 needs a DNS hook: start ferry server with --acme-dns-hook COMMAND".into()),
        }
    }

    async fn clear_dns01(&self, domain: &str, value: &str) -> Result<(), BoxError> {
        match &self.dns {
            Some(hook) => hook.clear_dns01(domain, value).await,
            None => Ok(()),
        }
    }
}
