//! `/scoring_rules`: the tenant's rules; a change re-scores every lead.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, put};
use chrono::Utc;
use serde::Serialize;

use crate::Deps;
use crate::domain::{RuleDraft, RuleId, ScoringRule};
use crate::error::Error;
use crate::handlers::score;
use crate::scoring;

use super::extract::{ApiResult, Tenant, body};
use super::rescores::with_rescore;

pub(super) fn routes() -> Router<Deps> {
    Router::new()
        .route("/scoring_rules", get(list_rules).post(create_rule))
        .route("/scoring_rules/{id}", put(update_rule))
}

#[derive(Serialize)]
struct RuleList {
    scoring_rules: Vec<ScoringRule>,
}

async fn list_rules(State(deps): State<Deps>, Tenant(tenant): Tenant) -> ApiResult<Json<RuleList>> {
    let scoring_rules = score::tenant_rules(&deps, &tenant).await?;
    Ok(Json(RuleList { scoring_rules }))
}

async fn create_rule(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let draft: RuleDraft = body(&headers, &bytes)?;
    // Make sure the defaults exist first, so a tenant's first own rule adds to them.
    score::tenant_rules(&deps, &tenant).await?;
    let rule = draft.merge(&tenant, None, Utc::now())?;
    scoring::validate_criteria(&rule.criteria)?;
    deps.rules.insert_rule(&rule).await?;
    let rescore = score::rule_changed(&deps, &rule).await?;
    let location = format!("/scoring_rules/{}", rule.rule_id);
    let mut response = with_rescore(StatusCode::CREATED, &rule, &rescore);
    if let Ok(location) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn update_rule(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let id = RuleId::parse(&id)?;
    let draft: RuleDraft = body(&headers, &bytes)?;
    score::tenant_rules(&deps, &tenant).await?;
    let current = deps
        .rules
        .get_rule(&tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("rule {id}")))?;
    let rule = draft.merge(&tenant, Some(&current), Utc::now())?;
    scoring::validate_criteria(&rule.criteria)?;
    let stored = deps.rules.update_rule(&rule).await?;
    let rescore = score::rule_changed(&deps, &stored).await?;
    Ok(with_rescore(StatusCode::OK, &stored, &rescore))
}
