//! `/settings`: the tenant's tier thresholds and surveys.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;

use crate::Deps;
use crate::domain::{ScoreCause, SettingsPatch, TenantSettings};
use crate::handlers::{self, score};

use super::extract::{ApiResult, Tenant, body};
use super::rescores::with_rescore;

pub(super) fn routes() -> Router<Deps> {
    Router::new().route(
        "/settings",
        get(get_settings).put(put_settings).patch(put_settings),
    )
}

async fn get_settings(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<TenantSettings>> {
    Ok(Json(handlers::settings::load(&deps, &tenant).await?))
}

/// `PUT /settings`: `{"tiers": {"hot": 75, "warm": 45}}`; every lead is re-tiered.
async fn put_settings(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    // What the request does not name keeps its value (PUT and PATCH alike): sending only the
    // tiers must not wipe the surveys.
    let patch: SettingsPatch = body(&headers, &bytes)?;
    let mut settings = handlers::settings::load(&deps, &tenant).await?;
    patch.apply(&mut settings);
    handlers::settings::save(&deps, &tenant, &settings).await?;
    let nonce = format!("settings@{}", Utc::now().timestamp_micros());
    let rescore = score::start_rescore(&deps, &tenant, ScoreCause::Recompute { nonce }).await?;
    Ok(with_rescore(StatusCode::OK, &settings, &rescore))
}
