//! `/rescores/{id}`: a re-score of every lead, and how a change that starts one answers.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::Deps;
use crate::error::Error;
use crate::handlers::score;

use super::ApiError;
use super::extract::{ApiResult, Tenant};

pub(super) fn routes() -> Router<Deps> {
    Router::new().route("/rescores/{id}", get(get_rescore))
}

/// A change that re-scores every lead answers with the change itself and the re-score it
/// started (which runs in the background): `rescore` in the body, and a `Link` with
/// `rel="monitor"` to `GET /rescores/{id}`.
pub(super) fn with_rescore(
    status: StatusCode,
    item: impl Serialize,
    rescore: &score::Rescore,
) -> Response {
    #[derive(Serialize)]
    struct WithRescore<T> {
        #[serde(flatten)]
        item: T,
        rescore: serde_json::Value,
    }
    let body = WithRescore {
        item,
        rescore: serde_json::json!({
            "rescore_id": rescore.rescore_id,
            "state": rescore.state,
            "path": rescore.path(),
        }),
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(link) =
        header::HeaderValue::from_str(&format!("<{}>; rel=\"monitor\"", rescore.path()))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// `GET /rescores/{id}`: how far a re-score of every lead has got.
async fn get_rescore(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<score::Rescore>> {
    score::Rescore::load(&deps, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(Error::not_found(format!("re-score `{id}`"))))
}
