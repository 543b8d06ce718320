//! Errors as RFC 9457 problem documents (`application/problem+json`).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

/// An error, as RFC 9457 describes it: `type` says which kind (one URN per kind, stable for
/// programs to match on), `detail` says what was wrong with this request, naming the field or
/// value at fault.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({
    "type": "urn:leadscore:problem:validation",
    "title": "The request is not valid",
    "status": 400,
    "detail": "phone_number: `12` is not a valid phone number: not a number"
}))]
pub struct Problem {
    /// `urn:leadscore:problem:<kind>`: validation, unauthorized, forbidden, not-found,
    /// conflict, idempotency-key-reused, concurrent-update, rate-limited, too-large,
    /// method-not-allowed, unavailable, internal; for a text the rules forbid, opted-out,
    /// no-consent or quiet-hours.
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

/// The largest request body the API reads (a transcript sent as JSON included); API Gateway's
/// own limit is 10 MB and Lambda's 6 MB.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A problem document with its status: the one shape every error of the API takes.
fn problem(status: StatusCode, slug: &str, title: &'static str, detail: String) -> Response {
    let body = Problem {
        kind: format!("urn:leadscore:problem:{slug}"),
        title,
        status: status.as_u16(),
        detail,
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// What the router and axum's extractors answer themselves (a method the path does not take,
/// a body past the limit, a path that does not decode) comes as plain text from axum: the same
/// problem documents as every other error, the text kept as the detail.
pub async fn router_errors_as_problems(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let status = response.status();
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (slug, title, detail) = match status {
        // axum adds `Allow` once this layer has run, so the detail points at it.
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this endpoint does not take that method; the Allow header lists the ones it takes"
                .to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            "Request body too large",
            format!("the request body is over the limit of {MAX_BODY_BYTES} bytes"),
        ),
        _ => {
            let (kind, title) = match status {
                s if s.is_server_error() => ("internal", "Internal error"),
                StatusCode::NOT_FOUND => ("not-found", "Not found"),
                _ => ("validation", "The request is not valid"),
            };
            // axum's rejections are short sentences; keep at most a line of one.
            const MAX_DETAIL: usize = 1_000;
            let bytes = axum::body::to_bytes(response.into_body(), MAX_DETAIL * 4)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            let detail: String = text.trim().chars().take(MAX_DETAIL).collect();
            let detail = if detail.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                detail
            };
            (kind, title, detail)
        }
    };
    problem(status, slug, title, detail)
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
            Error::Refused { rule, .. } => (StatusCode::CONFLICT, *rule, "Refused by a rule"),
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
        problem(status, slug, title, detail)
    }
}

/// 429 with `Retry-After` (whole seconds, rounded up) and a problem saying whose limit it is
/// (`tenant acme`, `API key ak_...`).
pub fn rate_limited(whose: &str, limit: u32, retry_after: std::time::Duration) -> Response {
    let seconds = retry_after.as_millis().div_ceil(1000).max(1);
    let mut response = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!("{whose} made more than {limit} requests this minute; try again in {seconds} s"),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(seconds as u64),
    );
    response
}
