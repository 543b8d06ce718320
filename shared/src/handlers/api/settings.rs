//! `/settings`: the tenant's tier thresholds and surveys.

use super::routing::{Build, Routes, get_with};
use axum::Json;
use axum::extract::State;
use chrono::Utc;

use crate::domain::{ScoreCause, SettingsPatch, TenantSettings};
use crate::handlers::{self, score};

use super::AppState;
use super::doc::Rescoring;
use super::extract::{AdminTenant, ApiResult, JsonBody, Tenant};

pub(super) fn routes<B: Build>() -> Routes<B> {
    let change = "Only what the request names changes (PUT and PATCH alike): sending the tiers \
                  keeps the surveys. Every lead is re-tiered in the background.";
    Routes::new().api_route(
        "/settings",
        get_with(get_settings, |op| {
            op.id("get_settings")
                .tag("scoring")
                .summary("The tenant's tier thresholds, surveys and texting rules")
        })
        .put_with(put_settings, move |op| {
            op.id("put_settings")
                .tag("scoring")
                .summary("Change the tier thresholds, surveys or texting rules")
                .description(change)
        })
        .patch_with(put_settings, move |op| {
            op.id("patch_settings")
                .tag("scoring")
                .summary("Change the tier thresholds, surveys or texting rules")
                .description(change)
        }),
    )
}

async fn get_settings(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<TenantSettings>> {
    Ok(Json(handlers::settings::load(&deps, &tenant).await?))
}

/// `PUT /settings`: `{"tiers": {"hot": 75, "warm": 45}}`; every lead is re-tiered.
async fn put_settings(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(patch): JsonBody<SettingsPatch>,
) -> ApiResult<Rescoring<TenantSettings, 200>> {
    // What the request does not name keeps its value (PUT and PATCH alike): sending only the
    // tiers must not wipe the surveys.
    let mut settings = handlers::settings::load(&deps, &tenant).await?;
    patch.apply(&mut settings);
    handlers::settings::save(&deps, &tenant, &settings).await?;
    let nonce = format!("settings@{}", Utc::now().timestamp_micros());
    let rescore = score::start_rescore(&deps, &tenant, ScoreCause::Recompute { nonce }).await?;
    Ok(Rescoring::new(settings, &rescore))
}
