//! Errors as RFC 9457 problem documents (`application/problem+json`).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

#[derive(Debug, Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
}

/// An error on its way out of the API.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl ApiError {
    pub fn validation(msg: impl Into<String>) -> Self {
        Self(Error::validation(msg))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = match &self.0 {
            Error::Validation(_) => (
                StatusCode::BAD_REQUEST,
                "validation",
                "The request is not valid",
            ),
            Error::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Who is asking is not known",
            ),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Error::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with stored data",
            ),
            Error::KeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "The idempotency key was used with another request",
            ),
            Error::Concurrent(_) => (
                StatusCode::CONFLICT,
                "concurrent-update",
                "Changed by someone else; retry",
            ),
            Error::Transient { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            Error::Internal { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        };
        let detail = match &self.0 {
            Error::Internal { .. } | Error::Transient { .. } => {
                tracing::error!(error = %self.0.report(), "request failed");
                format!("{}; the server log has the details", self.0)
            }
            e => e.to_string(),
        };
        let body = Problem {
            kind: format!("urn:leadscore:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}
