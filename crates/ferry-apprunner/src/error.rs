//! App Runner's errors as awsJson1_0 carries them: `{"__type": "<Code>", "Message": "…"}` with an HTTP
//! status (client errors 400, the server fault 500; ferry answers an unknown resource 404 and refused
//! authentication 403, as AWS's front end does).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_command::CommandError;
use ferry_model::ValidationError;

pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl AwsError {
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self { code, status, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", StatusCode::BAD_REQUEST, message)
    }

    /// An invalid input member: the message names it.
    pub fn member(member: &str, why: impl std::fmt::Display) -> Self {
        Self::invalid(format!("{member}: {why}"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalServiceErrorException", StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<ferry_store::StoreError> for AwsError {
    fn from(e: ferry_store::StoreError) -> Self {
        tracing::error!(error = %e, "store failed under the App Runner API");
        Self::internal("an internal error occurred; the server's log has the details")
    }
}

impl From<CommandError> for AwsError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::NoSuchService(_) => Self::not_found(e.to_string()),
            CommandError::Invalid(v) => Self::from(v),
            CommandError::NameTaken(_) => Self::invalid(e.to_string()),
            CommandError::Refused { .. } | CommandError::CannotRollBack { .. } => {
                Self::new("InvalidStateException", StatusCode::BAD_REQUEST, e.to_string())
            }
            CommandError::Store(s) => Self::from(s),
        }
    }
}

impl From<ValidationError> for AwsError {
    fn from(e: ValidationError) -> Self {
        Self::invalid(format!("{}: {}", e.field, e.message))
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.code, "Message": self.message });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        response
    }
}
