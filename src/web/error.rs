//! [`ApiError`]: every non-2xx answer, as API.md writes it:
//! `{"error": {"code": "<stable code>", "message": "<for a person>"}}`. Storage failures are
//! logged and answered `unavailable`, without their details.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::Error;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`: malformed or ill-typed input, a bad name, conflicting fields.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`: no or wrong credentials.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is needed",
        )
    }

    /// 403 `forbidden`: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 `method_not_allowed`: the path exists, but not for this method; `allow` lists the
    /// methods it serves.
    pub fn method_not_allowed(request: &actix_web::HttpRequest, allow: &str) -> Self {
        let message = format!(
            "{} is not served at {}; use {allow}",
            request.method(),
            request.path()
        );
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        let message = format!("the body is over the limit of {limit} bytes");
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The text for a person.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ErrorDetail {
    /// A stable code: `bad_request`, `unknown_job_type`, `invalid_args`, `invalid_cron`,
    /// `unknown_time_zone`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `payload_too_large` or `unavailable`.
    code: String,
    /// For a person.
    message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        })
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        let (status, code) = match &error {
            Error::UnknownJobType(_) => (StatusCode::BAD_REQUEST, "unknown_job_type"),
            Error::InvalidArgs { .. } => (StatusCode::BAD_REQUEST, "invalid_args"),
            Error::InvalidCron(_) => (StatusCode::BAD_REQUEST, "invalid_cron"),
            Error::UnknownTimeZone(_) => (StatusCode::BAD_REQUEST, "unknown_time_zone"),
            Error::InvalidName(_)
            | Error::OutOfRange(_)
            | Error::InvalidRetry(_)
            | Error::InvalidOptions(_)
            | Error::InvalidConfig(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::JobNotFound(_) | Error::RecurringNotFound(_) | Error::WorkspaceNotFound(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            Error::WorkspaceExists(_) | Error::Conflict { .. } => {
                (StatusCode::CONFLICT, "conflict")
            }
            Error::Storage(cause) => {
                tracing::error!(error = %cause, "storage failed while answering a request");
                let message = "the workspace's storage cannot be reached right now";
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
            }
            Error::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        ApiError::new(status, code, message)
    }
}
