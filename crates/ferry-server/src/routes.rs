//! The route book: each service's current route, assembled into the router's table.
//!
//! Service controllers publish their own service's route whenever its pool changes; the book rebuilds
//! the whole table and swaps it into the router. Building happens under a mutex so swaps are applied in
//! the order they were made; the router itself never takes a lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_model::ServiceId;
use ferry_router::{RouteTable, Router, ServiceRoute};

pub(crate) struct RouteBook {
    router: Arc<Router>,
    entries: Mutex<HashMap<ServiceId, (String, Arc<ServiceRoute>)>>,
}

impl RouteBook {
    pub(crate) fn new(router: Arc<Router>) -> Self {
        Self { router, entries: Mutex::new(HashMap::new()) }
    }

    /// Sets (or with `None`, removes) the route of one service, under `host`.
    pub(crate) fn publish(&self, service: &ServiceId, host: &str, route: Option<ServiceRoute>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match route {
            Some(r) => entries.insert(service.clone(), (host.to_owned(), Arc::new(r))),
            None => entries.remove(service),
        };
        let mut table = RouteTable::new();
        for (host, route) in entries.values() {
            table.insert(host, route.clone());
        }
        self.router.set_routes(table);
    }
}
