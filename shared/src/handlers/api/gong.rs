//! `/settings/gong`: the tenant's Gong company, whose calls are pulled every hour.

use super::routing::{Build, Routes, post_with, put_with};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::AppState;
use super::doc::Problems;
use super::extract::{AdminTenant, ApiResult, JsonBody, Tenant};
use crate::error::Error;
use crate::gong::GongAccount;
use crate::handlers::gong;

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/settings/gong",
            put_with(connect, |op| {
                op.id("connect_gong")
                    .tag("calls")
                    .summary("Connect the tenant's Gong company: its calls are pulled every hour")
                    .description(
                        "The access key and its secret from Gong's API page (a technical \
                         administrator makes them), and the company's base URL shown there. \
                         The secret is stored in the secret store and never shown again. The \
                         first pull takes the calls of the last 30 days and starts at once; \
                         then the scheduled sweep pulls every hour what started since. Each \
                         call Gong has transcribed becomes call `gong-<callId>`, its lead the \
                         first External party with a phone number; a call still being \
                         transcribed is taken by a later pull.",
                    )
                    .problem::<400>("A field is invalid (the detail names it), or the base URL may not be called")
            })
            .get_with(status, |op| {
                op.id("get_gong")
                    .tag("calls")
                    .summary("Where the tenant's Gong pull stands")
                    .problem::<404>("Gong is not connected")
            })
            .delete_with(disconnect, |op| {
                op.id("disconnect_gong")
                    .tag("calls")
                    .summary("Disconnect Gong: the credentials are deleted; the calls taken stay")
                    .response_with::<204, (), _>(|r| r.description("Disconnected"))
                    .problem::<404>("Gong is not connected")
            }),
        )
        .api_route(
            "/settings/gong/pull",
            post_with(pull_now, |op| {
                op.id("pull_gong")
                    .tag("calls")
                    .summary("Pull the calls since the last pull now, without waiting for the hour")
                    .response_with::<202, Json<GongStatus>, _>(|r| r.description("Queued"))
                    .problem::<404>("Gong is not connected")
            }),
        )
}

/// Where a tenant's Gong pull stands.
#[derive(Serialize, JsonSchema)]
struct GongStatus {
    /// The company's base URL.
    base_url: String,
    access_key: String,
    /// Always `saved`: the secret is never shown again.
    access_key_secret: &'static str,
    /// The next pull lists the calls that started at or after this.
    pulling_from: DateTime<Utc>,
    pulled_at: Option<DateTime<Utc>>,
    calls_taken: u64,
}

async fn current(deps: &crate::Deps, tenant: &crate::domain::TenantId) -> ApiResult<GongStatus> {
    let not_connected = || Error::not_found("a Gong connection (PUT /settings/gong)");
    let pull = gong::state(deps, tenant).await?.ok_or_else(not_connected)?;
    let account = gong::account(deps, tenant)
        .await?
        .ok_or_else(not_connected)?;
    Ok(GongStatus {
        base_url: account.base().to_owned(),
        access_key: account.access_key,
        access_key_secret: "saved",
        pulling_from: pull.from,
        pulled_at: pull.pulled_at,
        calls_taken: pull.calls_taken,
    })
}

/// `PUT /settings/gong`: `{"access_key", "access_key_secret", "base_url"}`.
async fn connect(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(account): JsonBody<GongAccount>,
) -> ApiResult<Json<GongStatus>> {
    gong::connect(&deps, &tenant, &account, Utc::now()).await?;
    Ok(Json(current(&deps, &tenant).await?))
}

async fn status(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<GongStatus>> {
    Ok(Json(current(&deps, &tenant).await?))
}

async fn disconnect(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
) -> ApiResult<StatusCode> {
    current(&deps, &tenant).await?;
    gong::disconnect(&deps, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pull_now(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
) -> ApiResult<(StatusCode, Json<GongStatus>)> {
    let status = current(&deps, &tenant).await?;
    deps.queue.send(&gong::first_page(&tenant)).await?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}
