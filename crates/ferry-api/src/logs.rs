//! A service's application log, or its request log (`?requests=true`), as newline-delimited JSON.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferry_wire::{ErrorBody, LogLineView};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::extract::{Params, Segment};
use crate::services::find;
use crate::views::rfc3339;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct LogsQuery {
    /// How many earlier lines to send first (default 100, at most 10000).
    tail: Option<usize>,
    /// Keep the response open and send new lines as they are written.
    #[serde(default)]
    follow: bool,
    /// The request log (a line per request, when the service's request logs are on) instead of the
    /// application log.
    #[serde(default)]
    requests: bool,
}

/// The service's application log (its instances' stdout and stderr), or with `requests=true` its request
/// log, one JSON object per line.
#[utoipa::path(
    get, path = "/v1/services/{name}/logs", tag = "logs",
    params(("name" = String, Path, description = "The service's name"), LogsQuery),
    responses(
        (status = 200, description = "Newline-delimited JSON, one LogLineView per line (one RequestLogView \
         with requests=true)", body = LogLineView, content_type = "application/x-ndjson"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    Segment(name): Segment,
    Params(q): Params<LogsQuery>,
) -> Result<Response, ApiError> {
    let service = find(&state, name).await?;
    let tail = q.tail.unwrap_or(100).min(10_000);
    if q.requests {
        let lines = state.logs.request_logs(&service.id, tail, q.follow).map(|view| ndjson(&view));
        return Ok(([(CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response());
    }
    let lines = state.logs.logs(&service.id, tail, q.follow).map(|l| {
        let view = LogLineView { at: rfc3339(l.at), instance: l.instance, stream: l.stream, line: l.line };
        ndjson(&view)
    });
    Ok(([(CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
}

fn ndjson(view: &impl serde::Serialize) -> Result<Bytes, std::convert::Infallible> {
    let mut json = serde_json::to_vec(view).unwrap_or_default();
    json.push(b'\n');
    Ok(Bytes::from(json))
}
