//! What every route shares: the tenant a request acts for, the JSON body and query parsers
//! whose errors name the field, and paging.

use aide::OperationInput;
use aide::generate::GenContext;
use aide::openapi::{Operation, StatusCode as DocStatus};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::domain::{Caller, LeadId, Role, TenantId};
use crate::error::Error;

pub(super) type ApiResult<T> = Result<T, ApiError>;

/// The caller a request acts as: put into the request by `authenticate` (an API key), by the
/// runtime (the AWS authorizer's verdict), or locally on 127.0.0.1 (the machine's own user).
fn caller(parts: &Parts) -> ApiResult<&Caller> {
    parts.extensions.get::<Caller>().ok_or_else(|| {
        ApiError(Error::Unauthorized(
            "the request names no caller: send `Authorization: Bearer <API key or token>`".into(),
        ))
    })
}

/// The tenant a request acts for, whatever the caller's role (reading).
pub(super) struct Tenant(pub(super) TenantId);

/// The tenant a request acts for, when the caller may work its leads (rep or admin).
pub(super) struct RepTenant(pub(super) TenantId);

/// The tenant a request acts for, when the caller runs the tenant (admin).
pub(super) struct AdminTenant(pub(super) TenantId);

macro_rules! role_extractor {
    ($name:ident, $role:expr) => {
        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
                let caller = caller(parts)?;
                if let Some(role) = $role {
                    caller.require(role)?;
                }
                Ok($name(caller.tenant.clone()))
            }
        }

        /// The bearer security requirement, and (for a role above viewer) the 403 a caller
        /// below it gets.
        impl OperationInput for $name {
            fn operation_input(_: &mut GenContext, operation: &mut Operation) {
                let bearer = indexmap::IndexMap::from_iter([("bearer".to_owned(), Vec::new())]);
                if !operation.security.contains(&bearer) {
                    operation.security.push(bearer);
                }
            }

            fn inferred_early_responses(
                ctx: &mut GenContext,
                _: &mut Operation,
            ) -> Vec<(Option<DocStatus>, aide::openapi::Response)> {
                let role: Option<Role> = $role;
                role.map(|role| {
                    let why = format!(
                        "The caller's role is below {}, which this needs",
                        role.as_str()
                    );
                    (
                        Some(DocStatus::Code(403)),
                        super::doc::problem_response(ctx, &why),
                    )
                })
                .into_iter()
                .collect()
            }
        }
    };
}

role_extractor!(Tenant, None::<Role>);

/// Who the request acts as, whatever the role.
pub(super) struct Who(pub(super) crate::domain::Caller);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        Ok(Who(caller(parts)?.clone()))
    }
}

impl OperationInput for Who {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Tenant::operation_input(ctx, operation);
    }
}
role_extractor!(RepTenant, Some(Role::Rep));
role_extractor!(AdminTenant, Some(Role::Admin));

/// A JSON request body of `T`, read with `body` (so its errors name the field, line and
/// column) and documented as `application/json` of `T`.
pub(super) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let headers = request.headers().clone();
        // A body past the limit is refused here (413, made a problem by the router's layer).
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        body(&headers, &bytes)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}

impl<T: JsonSchema> OperationInput for JsonBody<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        axum::Json::<T>::operation_input(ctx, operation);
    }

    fn inferred_early_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<DocStatus>, aide::openapi::Response)> {
        let mut early = <ApiError as aide::OperationOutput>::inferred_responses(ctx, operation);
        early.retain(|(status, _)| *status == Some(DocStatus::Code(400)));
        if let Some((_, response)) = early.first_mut() {
            response.description =
                "The body is not valid JSON of the documented shape: the detail names the \
                 field, line and column"
                    .into();
        }
        let mut too_large = early.first().map(|(_, r)| r.clone());
        if let Some(response) = too_large.as_mut() {
            response.description = format!(
                "The body is over the limit of {} bytes",
                super::problem::MAX_BODY_BYTES
            );
        }
        early.extend(too_large.map(|r| (Some(DocStatus::Code(413)), r)));
        early
    }
}

/// Query parameters of `T`, whose errors name the parameter.
pub(super) struct Q<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        query(Query::<T>::from_request_parts(parts, state).await).map(Q)
    }
}

impl<T: JsonSchema> OperationInput for Q<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Query::<T>::operation_input(ctx, operation);
    }
}

/// `{id}` in a lead's paths.
#[derive(Deserialize, JsonSchema)]
pub(super) struct LeadPath {
    /// The lead's id (`ld_...`).
    #[schemars(pattern("^[A-Za-z0-9._-]{1,128}$"))]
    pub id: String,
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
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    /// How many items to skip.
    #[serde(default)]
    offset: usize,
    /// How many items to give: 100 unless said, at most 500.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<usize>,
}

/// One page of a list, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct Page<T> {
    pub items: Vec<T>,
    pub offset: usize,
    /// How many items there are in all.
    pub total: usize,
    /// The `offset` of the next page; null on the last.
    pub next_offset: Option<usize>,
}

impl PageQuery {
    pub(super) fn window<T>(&self, items: Vec<T>) -> Page<T> {
        let total = items.len();
        let limit = self.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let page: Vec<T> = items.into_iter().skip(self.offset).take(limit).collect();
        let next = self.offset.saturating_add(page.len());
        Page {
            items: page,
            offset: self.offset,
            total,
            next_offset: (next < total).then_some(next),
        }
    }
}
