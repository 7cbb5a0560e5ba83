//! What the server counts of its services: their recent history (`GET /v1/services/{name}/metrics`) and
//! every counter in the Prometheus text format (`GET /metrics`).
//!
//! Both need a token like the rest of the API; a read-only one suffices (`required_scope` lets any GET
//! through with it). Prometheus sends it with `authorization: {credentials_file: …}` in its scrape config.
//! The numbers themselves come from the server's [`MetricsSource`]: the API only shapes them.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::{Json, response::Response};
use ferry_model::{ServiceId, Timestamp};
use ferry_wire::{ErrorBody, MetricsPoint, MetricsView};
use serde::Deserialize;

use crate::extract::{Params, Segment};
use crate::services::find;
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

/// The content type of Prometheus' text exposition format, version 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How far back the history goes at most, in minutes (the server keeps an hour).
pub const MAX_MINUTES: u32 = 60;

/// Where the API reads metrics from: the server's registry of services' counters and samples.
pub trait MetricsSource: Send + Sync + 'static {
    /// The service's samples of the last `minutes` minutes, oldest first (none for a service the server
    /// has not sampled yet).
    fn history(&self, service: &ServiceId, minutes: u32) -> MetricsHistory;

    /// Every metric, in Prometheus' text exposition format (0.0.4).
    fn prometheus(&self) -> String;
}

/// A service's samples, one per interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsHistory {
    pub interval: Duration,
    pub points: Vec<MetricsSample>,
}

/// One interval of a service: counts within it, the rest as seen at its end.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSample {
    /// When the interval ended.
    pub at: Timestamp,
    /// Responses within the interval by status class, 1xx first.
    pub responses: [u64; 5],
    /// Time to the response head within the interval, in seconds: median and 99th percentile.
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    pub in_flight: u64,
    /// Ready instances at the sample.
    pub instances: u32,
    /// Percent of one core, summed over the instances.
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
}

impl MetricsSample {
    /// A sample of nothing: no request, no instance, nothing known of CPU and memory.
    pub fn empty(at: Timestamp) -> Self {
        Self {
            at,
            responses: [0; 5],
            p50_seconds: None,
            p99_seconds: None,
            in_flight: 0,
            instances: 0,
            cpu_percent: None,
            memory_bytes: None,
        }
    }
}

/// The wire form of a sample.
pub fn point_view(s: &MetricsSample) -> MetricsPoint {
    let status = s
        .responses
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(class, n)| (format!("{}xx", class + 1), *n))
        .collect();
    // Milliseconds to a tenth of a microsecond: enough for a chart, shorter on the wire.
    let ms = |seconds: f64| (seconds * 1e7).round() / 1e4;
    MetricsPoint {
        at: rfc3339(s.at),
        requests: s.responses.iter().sum(),
        errors: s.responses[4],
        status,
        p50_ms: s.p50_seconds.map(ms),
        p99_ms: s.p99_seconds.map(ms),
        in_flight: s.in_flight,
        instances: s.instances,
        cpu_percent: s.cpu_percent.map(|p| (p * 100.0).round() / 100.0),
        memory_bytes: s.memory_bytes,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct MetricsQuery {
    /// How many of the last minutes to show, 1 to 60 (default 60).
    minutes: Option<i64>,
}

/// A service's requests, errors, latency, instances, CPU and memory over the last minutes, one point per
/// interval of the server's sampler (10 s by default), oldest first.
#[utoipa::path(
    get, path = "/v1/services/{name}/metrics", tag = "metrics",
    params(("name" = String, Path, description = "The service's name"), MetricsQuery),
    responses((status = 200, body = MetricsView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    Segment(name): Segment,
    Params(q): Params<MetricsQuery>,
) -> Result<Json<MetricsView>, ApiError> {
    let minutes = match q.minutes {
        None => MAX_MINUTES,
        Some(m) if (1..=i64::from(MAX_MINUTES)).contains(&m) => m as u32,
        Some(m) => {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!("minutes {m} is out of range; use 1 to {MAX_MINUTES}"),
            )
            .with_field("minutes"));
        }
    };
    let service = find(&state, name).await?;
    let history = state.config.metrics.history(&service.id, minutes);
    Ok(Json(MetricsView {
        interval_seconds: u32::try_from(history.interval.as_secs()).unwrap_or(u32::MAX),
        points: history.points.iter().map(point_view).collect(),
    }))
}

/// Every metric in Prometheus' text format: what a Prometheus server scrapes.
pub(crate) async fn prometheus(State(state): State<AppState>) -> Response {
    ([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], state.config.metrics.prometheus()).into_response()
}

/// A source with nothing in it, for tests that do not look at metrics.
#[cfg(test)]
pub(crate) struct NoMetrics;

#[cfg(test)]
impl MetricsSource for NoMetrics {
    fn history(&self, _service: &ServiceId, _minutes: u32) -> MetricsHistory {
        MetricsHistory { interval: Duration::from_secs(10), points: Vec::new() }
    }

    fn prometheus(&self) -> String {
        String::new()
    }
}
