//! `/scoring_rules`: the tenant's rules; a change re-scores every lead.

use super::routing::{Build, Routes, get_with, post_with, put_with};
use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{RuleDraft, RuleId, ScoringRule};
use crate::error::Error;
use crate::handlers::{backtest, score};
use crate::scoring;

use super::AppState;
use super::doc::{Problems, Rescoring, link};
use super::extract::{AdminTenant, ApiResult, JsonBody, Tenant};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/scoring_rules",
            get_with(list_rules, |op| {
                op.id("list_rules")
                    .tag("scoring")
                    .summary("The tenant's scoring rules")
                    .description("The defaults until the tenant changes them, then its own.")
            })
            .post_with(create_rule, |op| {
                let op = op
                    .id("create_rule")
                    .tag("scoring")
                    .summary("Add a scoring rule")
                    .description(
                        "The criteria are checked first: an error names the column. Every lead \
                         is re-scored in the background; `Link` says where to follow it.",
                    )
                    .problem::<409>("A rule with that `rule_id` exists");
                link(op, 201, "update", "update_rule", "/rule_id")
            }),
        )
        .api_route(
            "/scoring_rules/fields",
            get_with(list_fields, |op| {
                op.id("list_rule_fields")
                    .tag("scoring")
                    .summary("The fields rules can read")
                    .description(
                        "The rule language's catalogue: each field's name, type and meaning \
                         (what a rule editor shows beside the criteria).",
                    )
            }),
        )
        .api_route(
            "/scoring_rules/check",
            post_with(check_rule, |op| {
                op.id("check_rule")
                    .tag("scoring")
                    .summary("Check a rule's criteria as they are typed")
                    .description(
                        "Always 200: `valid`, the fields read, or the error's 1-based `column` \
                         and message, as saving the rule would give them. Nothing is stored.",
                    )
            }),
        )
        .api_route(
            "/scoring_rules/preview",
            post_with(preview_rules, |op| {
                op.id("preview_rules")
                    .tag("scoring")
                    .summary("Try a rule or tier change on the current leads before saving it")
                    .description(
                        "A backtest: every lead (the 5,000 highest ranked at most) scored \
                         under the tenant's rules and thresholds as they are and as they would \
                         be with the draft (`rule_id` names the rule it edits; none adds it) or \
                         the new `tiers`, at the same moment. Answers how many would change \
                         score or tier and the 200 that move most. Nothing is stored.",
                    )
                    .problem::<404>("`rule_id` names no rule of the tenant")
            }),
        )
        .api_route(
            "/scoring_rules/{id}",
            put_with(update_rule, |op| {
                op.id("update_rule")
                    .tag("scoring")
                    .summary("Change a scoring rule")
                    .description(
                        "Only the fields sent change (`enabled: false` turns a rule off). Every \
                         lead is re-scored in the background.",
                    )
                    .problem::<404>("No such rule in the tenant")
                    .problem::<409>("The rule changed meanwhile; retry")
            }),
        )
}

/// `POST /scoring_rules/check`: criteria to check.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"criteria": "intent.pricing and calls.count >= 2"}))]
struct CheckRequest {
    #[schemars(length(max = 1000))]
    criteria: String,
}

/// One field of the rule language's catalogue.
#[derive(Serialize, JsonSchema)]
struct Field {
    name: &'static str,
    /// `true/false value`, `number`, `string` or `list`.
    #[serde(rename = "type")]
    kind: &'static str,
    meaning: &'static str,
}

#[derive(Serialize, JsonSchema)]
struct FieldList {
    fields: Vec<Field>,
}

async fn list_fields(Tenant(_): Tenant) -> Json<FieldList> {
    Json(FieldList {
        fields: scoring::FIELDS
            .iter()
            .map(|(name, kind, meaning)| Field {
                name,
                kind: kind.name(),
                meaning,
            })
            .collect(),
    })
}

async fn check_rule(
    Tenant(_): Tenant,
    JsonBody(request): JsonBody<CheckRequest>,
) -> Json<scoring::CriteriaCheck> {
    Json(scoring::check_criteria(&request.criteria))
}

async fn preview_rules(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(request): JsonBody<backtest::PreviewRequest>,
) -> ApiResult<Json<backtest::Preview>> {
    Ok(Json(backtest::preview(&deps, &tenant, &request).await?))
}

/// `{id}` of `/scoring_rules/{id}`.
#[derive(Deserialize, JsonSchema)]
struct RulePath {
    /// The rule's id (`rl_...`, or a default rule's name).
    #[schemars(pattern(r"^[A-Za-z0-9._-]{1,128}$"))]
    id: String,
}

#[derive(Serialize, JsonSchema)]
struct RuleList {
    scoring_rules: Vec<ScoringRule>,
}

async fn list_rules(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<RuleList>> {
    let scoring_rules = score::tenant_rules(&deps, &tenant).await?;
    Ok(Json(RuleList { scoring_rules }))
}

async fn create_rule(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(draft): JsonBody<RuleDraft>,
) -> ApiResult<Rescoring<ScoringRule, 201>> {
    // Make sure the defaults exist first, so a tenant's first own rule adds to them.
    score::tenant_rules(&deps, &tenant).await?;
    let rule = draft.merge(&tenant, None, Utc::now())?;
    scoring::validate_criteria(&rule.criteria)?;
    deps.rules.insert_rule(&rule).await?;
    let rescore = score::rule_changed(&deps, &rule).await?;
    let location = format!("/scoring_rules/{}", rule.rule_id);
    Ok(Rescoring::new(rule, &rescore).at(location))
}

async fn update_rule(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(RulePath { id }): Path<RulePath>,
    JsonBody(draft): JsonBody<RuleDraft>,
) -> ApiResult<Rescoring<ScoringRule, 200>> {
    let id = RuleId::parse(&id)?;
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
    Ok(Rescoring::new(stored, &rescore))
}
