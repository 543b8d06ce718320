//! `/audit_log`: who wrote what, when. Every write request that names a caller (made with an
//! API key, by a signed-in user, or on the local machine) is recorded as it is answered,
//! refusals included; admins read it, newest first.

use super::routing::{Build, Routes, get_with};
use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{AUDIT_RETENTION_DAYS, AuditEntry, Caller};

use super::AppState;
use super::extract::{AdminTenant, ApiResult, Q};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new().api_route(
        "/audit_log",
        get_with(audit_log, |op| {
            op.id("audit_log")
                .tag("access")
                .summary("Who wrote what, when: the tenant's write requests, newest first")
                .description(&format!(
                    "One entry per write request (POST, PUT, PATCH, DELETE) with its caller, \
                     role, path and answer status, refusals included; never a body. Kept \
                     {AUDIT_RETENTION_DAYS} days."
                ))
        }),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// 1..=200; 50 when unset.
    #[schemars(range(min = 1, max = 200))]
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct AuditPage {
    entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    next_cursor: Option<String>,
}

async fn audit_log(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Q(q): Q<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(super::ApiError::validation(format!(
            "limit: {limit} is outside 1..=200"
        )));
    }
    let page = deps
        .audit
        .entries(&tenant, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(AuditPage {
        entries: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Record each write request that names a caller, with the status it was answered. An entry
/// that cannot be stored is said in the log; the request's own answer stands (what it wrote is
/// written).
pub(super) async fn record_writes(
    axum::extract::State(deps): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let caller = request.extensions().get::<Caller>().cloned();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let (true, Some(caller)) = (write, caller) {
        let entry = AuditEntry::new(
            &caller,
            &method,
            &path,
            response.status().as_u16(),
            chrono::Utc::now(),
        );
        if let Err(e) = deps.audit.record(&entry).await {
            tracing::warn!(error = %e.report(), method, path, "a write was not recorded in the audit log");
        }
    }
    response
}
