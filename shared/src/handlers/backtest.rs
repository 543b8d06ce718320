//! A rule change, tried before it is saved: every current lead scored under the tenant's rules
//! and tier thresholds as they are and as they would be, at the same moment, and the leads
//! whose score or tier would move. Nothing is stored.

use std::cmp::Reverse;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Deps;
use crate::domain::{LeadId, RuleDraft, RuleId, ScoringRule, TenantId, Tier, TierThresholds};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::ports::LeadQuery;
use crate::scoring;

/// The most leads one preview scores (highest ranked first); past it the answer says how many
/// it left out. Each lead costs a read of its calls (16 at a time).
pub const MAX_LEADS: usize = 5_000;
/// The most changed leads one preview lists (largest moves first); all are counted.
pub const MAX_LISTED: usize = 200;

/// What to try: a rule edited (`rule_id` names it) or added (no `rule_id`), new tier
/// thresholds, or both.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "rule": {"criteria": "intent.pricing and calls.count >= 2", "weight": 15, "description": "Asked about prices again"}
}))]
pub struct PreviewRequest {
    /// The rule the draft changes; none adds the draft as a new rule.
    #[serde(default)]
    pub rule_id: Option<String>,
    #[serde(default)]
    pub rule: Option<RuleDraft>,
    #[serde(default)]
    pub tiers: Option<TierThresholds>,
}

/// The leads a change would move.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Preview {
    /// Leads scored both ways.
    pub leads_considered: usize,
    /// Leads past `MAX_LEADS` (the lowest ranked), not scored.
    pub leads_left_out: usize,
    /// Leads whose score or tier would change.
    pub changed: usize,
    /// Of those, leads that would move to a higher tier, and to a lower one.
    pub tier_up: usize,
    pub tier_down: usize,
    /// The changed leads, largest move first (at most `MAX_LISTED`).
    pub leads: Vec<PreviewLead>,
}

/// One lead's score now and under the change.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PreviewLead {
    pub lead_id: LeadId,
    /// The person's name, else the company, else the phone number.
    pub name: String,
    pub score: u8,
    pub tier: Tier,
    pub new_score: u8,
    pub new_tier: Tier,
}

/// Score the tenant's leads both ways. The draft is checked as saving it would check it (the
/// criteria's errors name their column).
pub async fn preview(deps: &Deps, tenant: &TenantId, request: &PreviewRequest) -> Result<Preview> {
    let now = Utc::now();
    let current = super::score::tenant_rules(deps, tenant).await?;
    let mut edited = current.clone();
    if let Some(draft) = &request.rule {
        let base = match &request.rule_id {
            Some(id) => {
                let id = RuleId::parse(id)?;
                Some(
                    current
                        .iter()
                        .find(|r| r.rule_id == id)
                        .ok_or_else(|| Error::not_found(format!("rule {id}")))?,
                )
            }
            None => None,
        };
        let rule = draft.merge(tenant, base, now)?;
        scoring::validate_criteria(&rule.criteria)?;
        replace_or_add(&mut edited, rule);
    } else if request.rule_id.is_some() {
        return Err(Error::validation("rule: required with rule_id"));
    }
    let settings = super::settings::load(deps, tenant).await?;
    let tiers = request.tiers.unwrap_or(settings.tiers);
    if request.tiers.is_some() {
        crate::domain::TenantSettings {
            tiers,
            surveys: Vec::new(),
            texting: Default::default(),
            follow_ups: Vec::new(),
            twilio_recordings: Default::default(),
        }
        .validate()?;
    }
    let (before, after) = (
        scoring::RuleSet::compile(&current),
        scoring::RuleSet::compile(&edited),
    );
    let model = Model::load_cached(deps.blobs.as_ref(), tenant).await?;
    let cx = |rules, tiers| scoring::Context {
        rules,
        model: model.as_deref(),
        tiers,
        now,
    };
    let (now_cx, new_cx) = (cx(&before, &settings.tiers), cx(&after, &tiers));

    let mut preview = Preview {
        leads_considered: 0,
        leads_left_out: 0,
        changed: 0,
        tier_up: 0,
        tier_down: 0,
        leads: Vec::new(),
    };
    let mut query = LeadQuery {
        limit: Some(LeadQuery::MAX_LIMIT),
        ..LeadQuery::default()
    };
    loop {
        let page = deps.leads.list_leads(tenant, &query).await?;
        let room = MAX_LEADS - preview.leads_considered;
        preview.leads_left_out += page.items.len().saturating_sub(room);
        let mut leads = page.items;
        leads.truncate(room);
        for (lead, calls) in with_calls(deps, tenant, leads).await? {
            preview.leads_considered += 1;
            let was = scoring::score_lead(&lead, &calls, &now_cx);
            let will = scoring::score_lead(&lead, &calls, &new_cx);
            if (was.value, was.tier) == (will.value, will.tier) {
                continue;
            }
            preview.changed += 1;
            match will.tier.cmp(&was.tier) {
                std::cmp::Ordering::Greater => preview.tier_up += 1,
                std::cmp::Ordering::Less => preview.tier_down += 1,
                std::cmp::Ordering::Equal => {}
            }
            preview.leads.push(PreviewLead {
                name: lead.display_name(),
                lead_id: lead.lead_id,
                score: was.value,
                tier: was.tier,
                new_score: will.value,
                new_tier: will.tier,
            });
        }
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    preview.leads.sort_by_key(|l| {
        (
            Reverse(l.tier != l.new_tier),
            Reverse(l.score.abs_diff(l.new_score)),
            Reverse(l.new_score),
        )
    });
    preview.leads.truncate(MAX_LISTED);
    Ok(preview)
}

/// How many leads' calls are read at once: on DynamoDB a query each, so 5,000 leads take
/// about 5,000 / 16 round trips, well inside API Gateway's 30 seconds.
const READS_AT_ONCE: usize = 16;

/// Each lead with its calls, in order, read `READS_AT_ONCE` at a time.
async fn with_calls(
    deps: &Deps,
    tenant: &TenantId,
    leads: Vec<crate::domain::Lead>,
) -> Result<Vec<(crate::domain::Lead, Vec<crate::domain::Call>)>> {
    let mut out = Vec::with_capacity(leads.len());
    let mut leads = leads.into_iter().peekable();
    while leads.peek().is_some() {
        let mut reads = tokio::task::JoinSet::new();
        for (i, lead) in leads.by_ref().take(READS_AT_ONCE).enumerate() {
            let (deps, tenant) = (deps.clone(), tenant.clone());
            reads.spawn(async move {
                let calls = deps.calls.calls_for_lead(&tenant, &lead.lead_id).await;
                (i, lead, calls)
            });
        }
        let mut batch = Vec::with_capacity(READS_AT_ONCE);
        while let Some(read) = reads.join_next().await {
            let (i, lead, calls) =
                read.map_err(|e| Error::internal("a read of a lead's calls stopped", e))?;
            batch.push((i, lead, calls?));
        }
        batch.sort_by_key(|(i, ..)| *i);
        out.extend(batch.into_iter().map(|(_, lead, calls)| (lead, calls)));
    }
    Ok(out)
}

/// `rule` in place of the rule with its id, or added.
fn replace_or_add(rules: &mut Vec<ScoringRule>, rule: ScoringRule) {
    match rules.iter_mut().find(|r| r.rule_id == rule.rule_id) {
        Some(slot) => *slot = rule,
        None => rules.push(rule),
    }
}
