//! A service's route as the controller publishes it: its hosts, its target (the ready instances that speak
//! the route's protocol; paused; or, when none is ready and one is expected, a wait for it), its capacity
//! limit (the max concurrency per instance, when it scales with its load), its protocol and request timeout (`ferry_plan::routing` chooses while
//! a deployment switches protocol). Published again only when something changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_model::{InstanceId, RequestLogs, RequestTimeout, ServiceId, UpstreamProtocol};
use ferry_plan::routing::{RouteSettings, route_settings};
use ferry_router::{Capacity, Endpoint, Protocol, RouteTarget, ServiceMetrics, ServiceRoute, Waiting};

use super::revisions::Revisions;
use crate::requests::RequestSink;
use crate::routes::{Exposure, RouteBook};

/// What was last published, to publish again only on a change.
#[derive(PartialEq, Eq)]
struct Published {
    hosts: Vec<String>,
    instances: Vec<InstanceId>,
    paused: bool,
    /// Requests are held for an instance (none is ready, one is expected).
    holding: bool,
    /// The capacity limit, by identity.
    capacity: Option<usize>,
    protocol: UpstreamProtocol,
    timeout: RequestTimeout,
    exposure: Exposure,
    /// The request log's sink, by identity.
    request_log: Option<usize>,
}

/// What a service's route says, and what it said last.
pub(crate) struct Route {
    service: ServiceId,
    /// The hosts the service answers to; `None` until the service is known, and after it is gone.
    hosts: Option<Vec<String>>,
    name: String,
    /// Who reaches it, and how HTTPS treats it.
    exposure: Exposure,
    last: Option<Published>,
    /// The protocol of the endpoints last published: kept while any ready instance speaks it.
    serving: UpstreamProtocol,
    /// Where the router sends the service's request records, when its request logs are on.
    request_log: Option<Arc<RequestSink>>,
    /// What the router counts of the service's requests: one for the service's life, in every route.
    metrics: Arc<ServiceMetrics>,
}

impl Route {
    pub(crate) fn new(service: ServiceId, metrics: Arc<ServiceMetrics>) -> Self {
        Self {
            metrics,
            service,
            hosts: None,
            name: String::new(),
            exposure: Exposure::default(),
            last: None,
            serving: UpstreamProtocol::default(),
            request_log: None,
        }
    }

    /// Follows the service's request log setting: a sink from `start` when it turns on, none when it turns
    /// off; a change of the sampling rate goes to the sink in place.
    pub(crate) fn set_request_logs(
        &mut self,
        setting: RequestLogs,
        start: impl FnOnce() -> Option<Arc<RequestSink>>,
    ) {
        match (&self.request_log, setting.one_in()) {
            (Some(sink), Some(_)) => sink.set(setting),
            (None, Some(_)) => self.request_log = start(),
            (_, None) => self.request_log = None,
        }
    }

    /// The service answers to `hosts` under `name` (while it is not gone), as `exposure` says.
    pub(crate) fn set(&mut self, name: &str, hosts: Vec<String>, exposure: Exposure) {
        name.clone_into(&mut self.name);
        self.exposure = exposure;
        if self.hosts.as_ref() != Some(&hosts) {
            self.hosts = Some(hosts);
        }
    }

    /// Publishes the route if it changed; returns whether it published.
    pub(crate) fn publish(
        &mut self,
        book: &RouteBook,
        ready: &[(InstanceId, u32, Arc<Endpoint>)],
        revisions: &Revisions,
        paused: bool,
        hold: Option<&Arc<Waiting>>,
        capacity: Option<&Arc<Capacity>>,
    ) -> bool {
        let Some(hosts) = &self.hosts else { return false };
        let mut settings: HashMap<u32, RouteSettings> = HashMap::new();
        for &(_, number, _) in ready {
            settings.entry(number).or_insert_with(|| {
                revisions
                    .cached(number)
                    .map(|r| (r.spec.protocol, r.spec.request_timeout))
                    .unwrap_or_default()
            });
        }
        let numbers: Vec<u32> = ready.iter().map(|(_, n, _)| *n).collect();
        let (protocol, timeout) = route_settings(&numbers, &settings, self.serving);
        let speaks = |number: &u32| settings.get(number).map(|s| s.0).unwrap_or_default();
        let chosen: Vec<&(InstanceId, u32, Arc<Endpoint>)> =
            ready.iter().filter(|(_, n, _)| speaks(n) == protocol).collect();
        // With no ready instance, requests wait for one if one is expected.
        let holding = !paused && chosen.is_empty() && hold.is_some();
        let key = Published {
            hosts: hosts.clone(),
            instances: chosen.iter().map(|(id, _, _)| id.clone()).collect(),
            paused,
            holding,
            capacity: capacity.map(|c| Arc::as_ptr(c) as usize),
            protocol,
            timeout,
            exposure: self.exposure,
            request_log: self.request_log.as_ref().map(|s| Arc::as_ptr(s) as usize),
        };
        if self.last.as_ref() == Some(&key) {
            return false;
        }
        let target = match hold {
            _ if paused => RouteTarget::Paused,
            Some(waiting) if holding => RouteTarget::Waiting(Arc::clone(waiting)),
            _ => RouteTarget::Instances(chosen.iter().map(|(_, _, e)| Arc::clone(e)).collect()),
        };
        let route = ServiceRoute {
            service: self.name.clone(),
            target,
            protocol: match protocol {
                UpstreamProtocol::Http1 => Protocol::Http1,
                UpstreamProtocol::Http2 => Protocol::Http2,
            },
            request_timeout: Duration::from_secs(u64::from(timeout.secs())),
            capacity: capacity.cloned(),
            https_redirect: false,
            hsts: None,
            metrics: Some(self.metrics.clone()),
            request_log: self.request_log.clone().map(|s| s as Arc<dyn ferry_router::RequestLog>),
        };
        if let Some(sink) = &self.request_log {
            sink.set_revisions(chosen.iter().map(|(id, n, _)| (id, *n)));
        }
        book.publish(&self.service, hosts, Some(route), self.exposure);
        self.serving = protocol;
        self.last = Some(key);
        true
    }

    /// Takes the service out of the router for good.
    pub(crate) fn unpublish(&mut self, book: &RouteBook) {
        if let Some(hosts) = self.hosts.take() {
            book.publish(&self.service, &hosts, None, Exposure::default());
        }
        self.last = None;
    }
}
