//! `/model`: the tenant's model in force, and retraining it.

use super::routing::{Build, Routes, get_with, post_with};
use axum::Json;
use axum::extract::State;
use chrono::Utc;
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::Error;
use crate::handlers::model as tenant_model;
use crate::model::{Model, TrainOptions};

use super::AppState;
use super::doc::{Problems, Rescoring};
use super::extract::{AdminTenant, ApiResult, Tenant};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/model",
            get_with(get_model, |op| {
                op.id("get_model")
                    .tag("model")
                    .summary("The model in force, the metrics it was trained with, and the last champion/challenger comparison")
                    .description(&format!(
                        "Once {} outcomes (by default) have arrived since the model in force \
                         was trained (recorded by reps, or won and lost in the CRM), a \
                         challenger is trained; it is put in force only if its AUC on the most \
                         recent 20% of outcomes, trained on the ones before, is at least the \
                         model in force's on the same outcomes. `last_challenge` has both \
                         figures and the verdict.",
                        crate::Config::DEFAULT_RETRAIN_AFTER_OUTCOMES
                    ))
                    .problem::<404>("No model is trained yet for the tenant")
            }),
        )
        .api_route(
            "/model/train",
            post_with(train_model, |op| {
                op.id("train_model")
                    .tag("model")
                    .summary("Retrain from the recorded outcomes and put the model in force")
                    .description(
                        "On failure (too few outcomes, or of one kind only) the current model \
                         stays. Every lead is re-scored in the background.",
                    )
            }),
        )
}

/// A trained model: what it predicts, from which features, and how well.
#[derive(Serialize, JsonSchema)]
struct ModelSummary {
    version: u64,
    trained_at: chrono::DateTime<Utc>,
    target: String,
    kind: crate::model::ModelKind,
    features: Vec<String>,
    metrics: crate::model::Metrics,
    /// The last champion/challenger comparison (made once enough new outcomes arrived): both
    /// models' AUC on the most recent outcomes, and whether the challenger was put in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_challenge: Option<tenant_model::Challenge>,
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
            last_challenge: None,
        }
    }
}

/// `GET /model`: the model in force and the metrics it was trained with.
async fn get_model(
    State(deps): State<AppState>,
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
    let mut summary = ModelSummary::from(model.as_ref());
    summary.last_challenge = tenant_model::last_challenge(&deps, &tenant).await?;
    Ok(Json(summary))
}

/// `POST /model/train`: retrain from the recorded outcomes and put the model in force; on
/// failure the current model stays.
async fn train_model(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
) -> ApiResult<Rescoring<ModelSummary, 201>> {
    let (model, rescore) = tenant_model::retrain(&deps, &tenant, &TrainOptions::default()).await?;
    Ok(Rescoring::new(ModelSummary::from(&model), &rescore))
}
