//! The route book: each service's current route, assembled into the router's table.
//!
//! Service controllers publish their own service's route whenever its pool changes, under every host the
//! service answers to; the book rebuilds the whole table and swaps it into the router. Building happens
//! under a mutex so swaps are applied in the order they were made; the router itself never takes a lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ferry_model::ServiceId;
use ferry_router::{RouteTable, Router, ServiceRoute};

/// A service's hosts and its route.
type Entry = (Vec<String>, Arc<ServiceRoute>);

pub(crate) struct RouteBook {
    router: Arc<Router>,
    entries: Mutex<HashMap<ServiceId, Entry>>,
    /// Routes the router answers itself (the hooks host), under their hosts; they win over a service's.
    internal: Mutex<Vec<(String, Arc<ServiceRoute>)>>,
}

impl RouteBook {
    pub(crate) fn new(router: Arc<Router>) -> Self {
        Self { router, entries: Mutex::new(HashMap::new()), internal: Mutex::new(Vec::new()) }
    }

    /// Serves `host` with `route` from now on, whatever services publish.
    pub(crate) fn publish_internal(&self, host: &str, route: ServiceRoute) {
        self.internal.lock().unwrap_or_else(PoisonError::into_inner).push((host.to_owned(), Arc::new(route)));
        self.rebuild(&self.entries.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Sets (or with `None`, removes) the route of one service, under each of `hosts`.
    pub(crate) fn publish(&self, service: &ServiceId, hosts: &[String], route: Option<ServiceRoute>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match route {
            Some(r) => entries.insert(service.clone(), (hosts.to_vec(), Arc::new(r))),
            None => entries.remove(service),
        };
        self.rebuild(&entries);
    }

    /// Swaps in a table of `entries` and the internal routes. Called with `entries` locked, so swaps are
    /// applied in the order they were made.
    fn rebuild(&self, entries: &HashMap<ServiceId, Entry>) {
        let mut table = RouteTable::new();
        for (hosts, route) in entries.values() {
            for host in hosts {
                table.insert(host, route.clone());
            }
        }
        for (host, route) in self.internal.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            table.insert(host, route.clone());
        }
        self.router.set_routes(table);
    }
}
