//! `/rescores/{id}`: a re-score of every lead that a change started.

use super::routing::{Build, Routes, get_with};
use axum::Json;
use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::Error;
use crate::handlers::score;

use super::ApiError;
use super::AppState;
use super::doc::Problems;
use super::extract::{ApiResult, Tenant};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new().api_route(
        "/rescores/{id}",
        get_with(get_rescore, |op| {
            op.id("get_rescore")
                .tag("operations")
                .summary("How far a re-score of every lead has got")
                .problem::<404>("No such re-score in the tenant")
        }),
    )
}

/// `{id}` of `/rescores/{id}`.
#[derive(Deserialize, JsonSchema)]
struct RescorePath {
    /// The re-score's id, from the change that started it.
    id: String,
}

/// `GET /rescores/{id}`: how far a re-score of every lead has got.
async fn get_rescore(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(RescorePath { id }): Path<RescorePath>,
) -> ApiResult<Json<score::Rescore>> {
    score::Rescore::load(&deps, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(Error::not_found(format!("re-score `{id}`"))))
}
