//! The route book: each service's current route, assembled into the routers' tables.
//!
//! Service controllers publish their own service's route whenever its pool changes, under every host the
//! service answers to; the book rebuilds the whole table and swaps it into the router. Building happens
//! under a mutex so swaps are applied in the order they were made; the router itself never takes a lock.
//!
//! Two routers share the routes (and so their endpoints, in-flight counts and queues): the public one, on
//! the listeners that face clients, has every service but the private ones; the internal one, on the
//! listener that only services' containers reach, has every service.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use ferry_acme::LocalCa;
use ferry_model::ServiceId;
use ferry_router::{RouteTable, Router, ServiceRoute};

/// A service's hosts, its route, and whether it is private (internal router only).
type Entry = (Vec<String>, Arc<ServiceRoute>, bool);

/// Who reaches a service and how HTTPS treats it: its spec's say, the server's policy where it says nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Exposure {
    /// Routed from the internal listener only.
    pub(crate) private: bool,
    pub(crate) https_redirect: Option<bool>,
    /// 0: no HSTS.
    pub(crate) hsts: Option<u32>,
}

pub(crate) struct RouteBook {
    router: Arc<Router>,
    /// The internal listener's router, if there is one: every service, private ones included.
    internal_router: Option<Arc<Router>>,
    entries: Mutex<HashMap<ServiceId, Entry>>,
    /// Routes the router answers itself (the hooks host), under their hosts; they win over a service's.
    answered: Mutex<Vec<(String, Arc<ServiceRoute>)>>,
    /// Each service's custom domains: more hosts for the route it publishes. Locked after `entries`.
    aliases: Mutex<HashMap<ServiceId, Vec<String>>>,
    /// With `--default-certificates local`: the CA that certifies the services' own hosts as they appear.
    local: Option<LocalCerts>,
    https: HttpsPolicy,
}

/// What every service's route does about HTTPS (the server's flags).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HttpsPolicy {
    /// Plain HTTP requests for a host with a certificate are redirected to HTTPS.
    pub(crate) redirect: bool,
    /// `Strict-Transport-Security`'s max-age on HTTPS responses.
    pub(crate) hsts: Option<u32>,
}

/// Certificates for the hosts under `--domain`, made by the local CA the first time a host is routed.
pub(crate) struct LocalCerts {
    pub(crate) ca: Arc<LocalCa>,
    pub(crate) domain: String,
    issued: Mutex<HashSet<String>>,
}

impl LocalCerts {
    pub(crate) fn new(ca: Arc<LocalCa>, domain: String) -> Self {
        Self { ca, domain, issued: Mutex::new(HashSet::new()) }
    }

    /// Certifies each of `hosts` under the domain that has no certificate yet (a few hundred microseconds
    /// each, once per host per process).
    fn certify<'a>(&self, router: &Router, hosts: impl Iterator<Item = &'a str>) {
        let suffix = format!(".{}", self.domain);
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        for host in hosts.filter(|h| h.ends_with(&suffix)) {
            if issued.contains(host) {
                continue;
            }
            let made = self.ca.issue(&[host.to_owned()]).map_err(|e| e.to_string()).and_then(|cert| {
                ferry_router::certified_key_from_pem(cert.chain_pem.as_bytes(), cert.key_pem.as_bytes())
                    .map_err(|e| e.to_string())
            });
            match made {
                Ok(key) => {
                    router.certificates().set(host, Arc::new(key));
                    issued.insert(host.to_owned());
                }
                Err(e) => tracing::warn!(host, error = %e, "the local CA cannot certify a host"),
            }
        }
    }
}

impl RouteBook {
    pub(crate) fn new(
        router: Arc<Router>,
        internal_router: Option<Arc<Router>>,
        local: Option<LocalCerts>,
        https: HttpsPolicy,
    ) -> Self {
        Self {
            https,
            router,
            internal_router,
            entries: Mutex::new(HashMap::new()),
            answered: Mutex::new(Vec::new()),
            aliases: Mutex::new(HashMap::new()),
            local,
        }
    }

    /// Replaces every service's custom domains (the hosts its route is published under beside its own).
    pub(crate) fn set_aliases(&self, aliases: HashMap<ServiceId, Vec<String>>) {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let mut current = self.aliases.lock().unwrap_or_else(PoisonError::into_inner);
        if *current == aliases {
            return;
        }
        *current = aliases;
        drop(current);
        self.rebuild(&entries);
    }

    /// Serves `host` with `route` from now on, whatever services publish.
    pub(crate) fn publish_internal(&self, host: &str, route: ServiceRoute) {
        self.answered.lock().unwrap_or_else(PoisonError::into_inner).push((host.to_owned(), Arc::new(route)));
        self.rebuild(&self.entries.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Sets (or with `None`, removes) the route of one service, under each of `hosts`; a private one only
    /// on the internal router.
    pub(crate) fn publish(
        &self,
        service: &ServiceId,
        hosts: &[String],
        route: Option<ServiceRoute>,
        exposure: Exposure,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match route {
            Some(mut r) => {
                r.https_redirect = exposure.https_redirect.unwrap_or(self.https.redirect);
                r.hsts = exposure.hsts.or(self.https.hsts).filter(|age| *age > 0);
                entries.insert(service.clone(), (hosts.to_vec(), Arc::new(r), exposure.private))
            }
            None => entries.remove(service),
        };
        self.rebuild(&entries);
    }

    /// Swaps in a table of `entries` and the internal routes. Called with `entries` locked, so swaps are
    /// applied in the order they were made.
    fn rebuild(&self, entries: &HashMap<ServiceId, Entry>) {
        let mut table = RouteTable::new();
        let mut inner = self.internal_router.as_ref().map(|_| RouteTable::new());
        let aliases = self.aliases.lock().unwrap_or_else(PoisonError::into_inner);
        for (service, (hosts, route, private)) in entries {
            for host in hosts.iter().chain(aliases.get(service).into_iter().flatten()) {
                if !private {
                    table.insert(host, route.clone());
                }
                if let Some(inner) = &mut inner {
                    inner.insert(host, route.clone());
                }
            }
        }
        drop(aliases);
        let answered = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
        for (host, route) in answered.iter() {
            table.insert(host, route.clone());
        }
        if let Some(local) = &self.local {
            let own = entries
                .values()
                .filter(|(_, _, private)| !private)
                .flat_map(|(hosts, _, _)| hosts.iter())
                .chain(answered.iter().map(|(h, _)| h));
            local.certify(&self.router, own.map(String::as_str));
        }
        self.router.set_routes(table);
        if let (Some(router), Some(inner)) = (&self.internal_router, inner) {
            router.set_routes(inner);
        }
    }
}
