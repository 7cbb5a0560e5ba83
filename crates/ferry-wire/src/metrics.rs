//! `GET /v1/services/{name}/metrics`: a service's recent traffic, instances and resource use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The service's points over the minutes asked for, oldest first. The server keeps an hour of them in
/// memory (they start again when it restarts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsView {
    /// Seconds between two points (the server's `--metrics-interval`, 10 by default).
    pub interval_seconds: u32,
    pub points: Vec<MetricsPoint>,
}

/// One interval of a service: counts within it, the rest as seen at its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsPoint {
    /// When the interval ended (RFC 3339, UTC).
    pub at: String,
    /// Responses sent within the interval (the router's own 502/503/504 included).
    pub requests: u64,
    /// Those with a 5xx status.
    pub errors: u64,
    /// Responses by status class (`1xx` … `5xx`); classes with none are left out.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub status: BTreeMap<String, u64>,
    /// Median time to the response head within the interval, in milliseconds; null with no request.
    pub p50_ms: Option<f64>,
    /// 99th percentile of the same; null with no request.
    pub p99_ms: Option<f64>,
    /// Requests being answered at the sample (held and queued ones included).
    pub in_flight: u64,
    /// Ready instances at the sample.
    pub instances: u32,
    /// CPU used over the interval, in percent of one core, summed over the instances; null when the engine
    /// did not say.
    pub cpu_percent: Option<f64>,
    /// Memory in use at the sample (the engine's figure less the page cache), in bytes, summed over the
    /// instances; null when the engine did not say.
    pub memory_bytes: Option<u64>,
}
