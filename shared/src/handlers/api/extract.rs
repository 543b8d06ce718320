//! What every route shares: the tenant a request acts for, the JSON body and query parsers
//! whose errors name the field, and paging.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::{LeadId, TenantId};
use crate::error::Error;

pub(super) type ApiResult<T> = Result<T, ApiError>;

/// The tenant a request acts for. Local mode has one; on AWS the authorizer's claim names it.
pub(super) struct Tenant(pub(super) TenantId);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<TenantId>()
            .cloned()
            .map(Tenant)
            .ok_or_else(|| {
                ApiError(Error::Unauthorized(
                    "the request names no tenant: send a bearer token with a tenant claim".into(),
                ))
            })
    }
}

/// Parse a JSON body; the error names the field, line and column.
pub(super) fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> ApiResult<T> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && !ct.starts_with("application/json")
    {
        return Err(ApiError::validation(format!(
            "the body must be application/json, not {ct}"
        )));
    }
    if bytes.is_empty() {
        return Err(ApiError::validation(
            "the request has no body; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::validation(format!("the body is not valid: {e}")))
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::validation(e.body_text()))
}

pub(super) fn lead_id(raw: &str) -> ApiResult<LeadId> {
    LeadId::parse(raw).map_err(ApiError)
}

/// The largest page of transcript segments or SMS events.
pub const MAX_PAGE: usize = 500;

/// `?offset=&limit=` for paged lists (oldest first).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

impl PageQuery {
    pub(super) fn window<T>(&self, items: Vec<T>) -> serde_json::Value
    where
        T: Serialize,
    {
        let total = items.len();
        let limit = self.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let page: Vec<T> = items.into_iter().skip(self.offset).take(limit).collect();
        let next = self.offset + page.len();
        serde_json::json!({
            "items": page,
            "offset": self.offset,
            "total": total,
            "next_offset": (next < total).then_some(next),
        })
    }
}
