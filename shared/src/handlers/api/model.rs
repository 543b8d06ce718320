//! `/model`: the tenant's model in force, and retraining it.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use serde::Serialize;

use crate::Deps;
use crate::error::Error;
use crate::handlers::model as tenant_model;
use crate::model::{Model, TrainOptions};

use super::extract::{ApiResult, Tenant};
use super::rescores::with_rescore;

pub(super) fn routes() -> Router<Deps> {
    Router::new()
        .route("/model", get(get_model))
        .route("/model/train", post(train_model))
}

#[derive(Serialize)]
struct ModelSummary {
    version: u64,
    trained_at: chrono::DateTime<Utc>,
    target: String,
    kind: crate::model::ModelKind,
    features: Vec<String>,
    metrics: crate::model::Metrics,
}

impl From<&Model> for ModelSummary {
    fn from(m: &Model) -> Self {
        Self {
            version: m.version,
            trained_at: m.trained_at,
            target: m.target.clone(),
            kind: m.kind,
            features: m.feature_names().into_iter().map(str::to_owned).collect(),
            metrics: m.metrics.clone(),
        }
    }
}

/// `GET /model`: the model in force and the metrics it was trained with.
async fn get_model(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<ModelSummary>> {
    let model = Model::load_cached(deps.blobs.as_ref(), &tenant)
        .await?
        .ok_or_else(|| {
            Error::not_found(
                "the tenant's model (none is trained yet: record outcomes and POST \
                 /model/train, or run `leadscore train`)",
            )
        })?;
    Ok(Json(ModelSummary::from(model.as_ref())))
}

/// `POST /model/train`: retrain from the recorded outcomes and put the model in force; on
/// failure the current model stays.
async fn train_model(State(deps): State<Deps>, Tenant(tenant): Tenant) -> ApiResult<Response> {
    let (model, rescore) = tenant_model::retrain(&deps, &tenant, &TrainOptions::default()).await?;
    Ok(with_rescore(
        StatusCode::CREATED,
        ModelSummary::from(&model),
        &rescore,
    ))
}
