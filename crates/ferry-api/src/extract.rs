//! Extractors whose every rejection is an [`ApiError`], so a malformed request gets the same JSON error
//! shape as any other refusal (axum's own extractors answer in plain text), and who is asking.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use ferry_model::Trigger;
use serde::de::DeserializeOwned;

use crate::{ApiError, ErrorKind};

/// The largest request body the API reads. Every request of the API is a small JSON document.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("the request body is larger than the API takes ({} bytes)", MAX_BODY_BYTES),
    )
}

/// A JSON request body.
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            ErrorKind::InvalidRequest,
            "the request body must be JSON, sent with `Content-Type: application/json`",
        ),
        _ => ApiError::new(
            ErrorKind::InvalidRequest,
            format!("the request body is not what this call takes: {}", rejection.body_text()),
        ),
    }
}

/// A JSON request body that may be left out (an empty body).
pub(crate) struct OptionalBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes =
            Bytes::from_request(req, state).await.map_err(|rejection: BytesRejection| {
                match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                    _ => ApiError::new(ErrorKind::InvalidRequest, rejection.body_text()),
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        serde_json::from_slice(&bytes).map(|v| OptionalBody(Some(v))).map_err(|e| {
            ApiError::new(
                ErrorKind::InvalidRequest,
                format!("the request body is not what this call takes: {e}"),
            )
        })
    }
}

/// The query string.
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidRequest,
        format!("the query string is not valid: {}", rejection.body_text()),
    )
}

/// The one path parameter of a route (`{name}`, `{id}`).
pub(crate) struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segment(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

pub(crate) fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::new(ErrorKind::InvalidRequest, format!("the path is not valid: {}", rejection.body_text()))
}

/// Who is asking: the ferry CLI (a person: [`Trigger::Manual`]) or another client ([`Trigger::Api`]), by
/// the `User-Agent` the CLI sends.
pub(crate) struct Caller(pub Trigger);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let agent = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
        Ok(Caller(if agent.starts_with("ferry-cli/") { Trigger::Manual } else { Trigger::Api }))
    }
}
