//! The API's one error type: a kind that maps to a status and a stable code, and a message for people.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ferry_command::{CommandError, RollbackRefusal};
use ferry_model::ValidationError;
use ferry_store::StoreError;
use ferry_wire::{ErrorBody, ErrorDetail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Unauthorized,
    /// A valid token whose scope does not allow the call.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InvalidState,
    PayloadTooLarge,
    /// Too many failed authentications from this address; try again after `Retry-After`.
    TooManyRequests,
    /// The server cannot answer now (its database is locked by another process); try again.
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::InvalidState => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest => "InvalidRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::Conflict => "Conflict",
            Self::InvalidState => "InvalidState",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::TooManyRequests => "TooManyRequests",
            Self::Unavailable => "Unavailable",
            Self::Internal => "Internal",
        }
    }
}

/// An error answer. Internal errors are logged with their full chain once, here, and the client gets a
/// message that does not leak internals.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// A deletion refused because live services use what it deletes (409, naming them); `instead` says how
    /// to free it first.
    pub(crate) fn in_use(what: &str, name: &str, users: &[ferry_model::ServiceName], instead: &str) -> Self {
        let users: Vec<&str> = users.iter().map(|s| s.as_str()).collect();
        Self::new(
            ErrorKind::Conflict,
            format!(
                "{what} {name} is used by {}; {instead} or delete it anyway with force=true",
                users.join(", ")
            ),
        )
        .with_field("name")
    }

    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), field: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error answering an API request");
        Self::new(ErrorKind::Internal, "internal error; the server's log has the details")
    }

    pub fn service_not_found(name: &str) -> Self {
        Self::new(ErrorKind::NotFound, CommandError::NoSuchService(name.to_owned()).to_string())
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self { kind: ErrorKind::InvalidRequest, message: e.to_string(), field: Some(e.field) }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => Self::new(ErrorKind::Unavailable, e.to_string()),
            other => Self::internal(&other),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let message = e.to_string();
        match e {
            CommandError::NoSuchService(_) => Self::new(ErrorKind::NotFound, message),
            CommandError::Invalid(e) => e.into(),
            CommandError::NameTaken(_) => Self::new(ErrorKind::Conflict, message).with_field("name"),
            CommandError::CannotRollBack { reason: RollbackRefusal::NoSuchRevision(_), .. } => {
                Self::new(ErrorKind::NotFound, message).with_field("revision")
            }
            CommandError::CannotRollBack { .. } | CommandError::Refused { .. } => {
                Self::new(ErrorKind::InvalidState, message)
            }
            CommandError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.kind.code().to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        (self.kind.status(), Json(body)).into_response()
    }
}

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("no API route is {}; see /v1/openapi.json", uri.path()))
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("{} does not take {method}; see /v1/openapi.json for what it takes", uri.path()),
    )
}
