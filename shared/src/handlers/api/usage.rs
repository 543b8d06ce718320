//! `/usage`: what the tenant used in a month, the basis of pay-per-use.

use super::routing::{Build, Routes, get_with};
use axum::Json;
use axum::extract::State;
use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::domain::{Month, Usage};
use crate::handlers::usage;

use super::AppState;
use super::extract::{ApiResult, Q, Tenant};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new().api_route(
        "/usage",
        get_with(get_usage, |op| {
            op.id("get_usage")
                .tag("access")
                .summary("What the tenant used in a month")
                .description(
                    "Calls ingested, audio minutes transcribed, transcripts analysed, leads \
                     scored, texts processed and API requests, per calendar month (UTC). Each \
                     is counted once the work is stored and only when it was new: a \
                     redelivered event or a retried request never counts twice.",
                )
        }),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UsageQuery {
    /// `2026-11`; this month (UTC) when unset.
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}$"))]
    month: Option<String>,
}

async fn get_usage(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<UsageQuery>,
) -> ApiResult<Json<Usage>> {
    let month = match q.month {
        Some(m) => Month::parse(&m)?,
        None => Month::of(Utc::now()),
    };
    Ok(Json(usage::usage(&deps, &tenant, month).await?))
}
