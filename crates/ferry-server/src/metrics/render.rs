//! The registry as Prometheus sees it: every family, with conventional names and units (seconds, bytes,
//! `_total` for counters), labelled by service name.

use ferry_router::MetricsSnapshot;

use super::prometheus::{Exposition, Kind};
use super::{DEPLOYMENT_OUTCOMES, Registry, lock};

/// One service as shown: read once per scrape.
struct Row {
    name: String,
    counters: MetricsSnapshot,
    ready: usize,
    /// Instance id, CPU seconds used, memory bytes: the engine's figures at the last sample.
    usage: Vec<(String, f64, u64)>,
    deployments: Vec<(&'static str, u64)>,
}

/// How a per-service family's value is read from a row.
type Value = fn(&Row) -> f64;

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

pub(super) fn render(registry: &Registry) -> String {
    let mut rows: Vec<Row> = registry
        .entries()
        .into_iter()
        .filter_map(|(_, entry)| {
            let counters = entry.metrics.snapshot();
            let state = lock(&entry.state);
            if state.name.is_empty() {
                return None;
            }
            Some(Row {
                name: state.name.clone(),
                counters,
                ready: state.ready.len(),
                usage: state
                    .history
                    .usage
                    .iter()
                    .map(|(id, u)| (id.clone(), u.stats.cpu_seconds_total, u.stats.memory_bytes))
                    .collect(),
                deployments: DEPLOYMENT_OUTCOMES
                    .iter()
                    .map(|o| (*o, state.deployments.get(o).copied().unwrap_or(0)))
                    .collect(),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));

    let mut e = Exposition::default();
    let requests = "ferry_http_requests_total";
    e.family(
        requests,
        Kind::Counter,
        "Responses the router sent for the service, by status class (its own 502, 503 and 504 included).",
    );
    for row in &rows {
        for (class, n) in CLASSES.iter().zip(row.counters.responses) {
            e.sample(requests, &[("service", &row.name), ("code", class)], n as f64);
        }
    }
    let histograms = [
        (
            "ferry_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response body (or its abandonment).",
            true,
        ),
        (
            "ferry_http_response_head_duration_seconds",
            "Time from a request's arrival to its response head being sent.",
            false,
        ),
    ];
    for (name, help, total) in histograms {
        e.family(name, Kind::Histogram, help);
        for row in &rows {
            let h = if total { &row.counters.total_latency } else { &row.counters.head_latency };
            e.histogram(name, &[("service", &row.name)], h);
        }
    }
    let per_service: [(&str, Kind, &str, Value); 4] = [
        ("ferry_http_request_bytes_total", Kind::Counter, "Request body bytes read from clients.", |r| {
            r.counters.bytes_in as f64
        }),
        ("ferry_http_response_bytes_total", Kind::Counter, "Response body bytes sent to clients.", |r| {
            r.counters.bytes_out as f64
        }),
        (
            "ferry_http_requests_in_flight",
            Kind::Gauge,
            "Requests being answered now, held and queued ones included.",
            |r| r.counters.in_flight as f64,
        ),
        ("ferry_service_instances", Kind::Gauge, "Instances ready to take requests.", |r| r.ready as f64),
    ];
    for (name, kind, help, value) in per_service {
        e.family(name, kind, help);
        for row in &rows {
            e.sample(name, &[("service", &row.name)], value(row));
        }
    }
    // `instance_id`, not `instance`: Prometheus labels every series of a target `instance` (its address), and
    // would rename ours `exported_instance`.
    let cpu = "ferry_instance_cpu_seconds_total";
    e.family(
        cpu,
        Kind::Counter,
        "CPU time an instance's container has used, as the engine said at the last sample.",
    );
    for row in &rows {
        for (instance, seconds, _) in &row.usage {
            e.sample(cpu, &[("service", &row.name), ("instance_id", instance)], *seconds);
        }
    }
    let memory = "ferry_instance_memory_bytes";
    e.family(
        memory,
        Kind::Gauge,
        "Memory an instance's container uses (less the page cache), at the last sample.",
    );
    for row in &rows {
        for (instance, _, bytes) in &row.usage {
            e.sample(memory, &[("service", &row.name), ("instance_id", instance)], *bytes as f64);
        }
    }
    let deployments = "ferry_deployments_total";
    e.family(deployments, Kind::Counter, "Deployments ended since the server started, by outcome.");
    for row in &rows {
        for (outcome, n) in &row.deployments {
            e.sample(deployments, &[("service", &row.name), ("outcome", outcome)], *n as f64);
        }
    }
    let connections = "ferry_router_connections_open";
    e.family(connections, Kind::Gauge, "Client connections open now, by listener (public: HTTP and HTTPS).");
    for (listener, router) in &registry.routers {
        e.sample(connections, &[("listener", listener)], router.open_connections() as f64);
    }
    let builds = "ferry_build_duration_seconds";
    e.family(builds, Kind::Histogram, "How long builds took (fetch to image), by outcome.");
    let snapshot = lock(&registry.builds).0.clone();
    for (outcome, h) in ["succeeded", "failed"].iter().zip(&snapshot) {
        e.histogram(builds, &[("outcome", outcome)], h);
    }
    e.finish()
}
