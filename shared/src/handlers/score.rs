//! Score: recompute a lead's score from its calls under the tenant's rules, and record the
//! change in its ledger, once per cause.

use chrono::Utc;
use tracing::{info, instrument};

use crate::Deps;
use crate::domain::{
    CallStatus, LeadId, Score, ScoreCause, ScoreChange, ScoringRule, TenantId, TenantSettings,
};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::ports::Job;
use crate::scoring;

/// What the score handler did.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    Saved(Score),
    /// This cause had already been applied to the lead.
    AlreadyApplied,
}

#[instrument(skip_all, fields(tenant = %tenant, lead_id = %lead_id, cause = %cause.key()))]
pub async fn handle(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    cause: &ScoreCause,
) -> Result<Scored> {
    let rules = scoring::RuleSet::compile(&tenant_rules(deps, tenant).await?);
    let model = Model::load_cached(deps.blobs.as_ref(), tenant).await?;
    let settings = TenantSettings::load(deps.blobs.as_ref(), tenant, &deps.config).await?;
    // Optimistic concurrency: if the lead changes between read and write, score it again.
    for _ in 0..8 {
        let mut lead = deps
            .leads
            .get_lead(tenant, lead_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("lead {lead_id}")))?;
        let calls = deps.calls.calls_for_lead(tenant, lead_id).await?;
        let now = Utc::now();
        let cx = scoring::Context {
            rules: &rules,
            model: model.as_deref(),
            tiers: &settings.tiers,
            now,
        };
        let score = scoring::score_lead(&lead, &calls, &cx);
        let change = ScoreChange {
            cause: cause.clone(),
            previous: lead.lead_score,
            score: score.value,
            tier: score.tier,
            at: now,
        };
        lead.lead_score = Some(score.value);
        lead.tier = Some(score.tier);
        lead.factors = score.factors.clone();
        lead.probability = score.probability;
        lead.score_updated_at = Some(now);
        if let Some(latest) = calls.iter().rev().find(|c| c.analysis.is_some()) {
            lead.ai_sentiment = latest.sentiment_score;
            lead.ai_keywords = latest.keywords.clone();
        }
        lead.updated_at = now;
        let saved = match deps.leads.save_score(&lead, &change).await {
            Ok(saved) => saved,
            Err(Error::Concurrent(_)) => continue,
            Err(e) => return Err(e),
        };
        if let ScoreCause::NewCall { call_id } = cause {
            mark_scored(deps, tenant, call_id, score.value).await?;
        }
        if saved {
            info!(
                score = score.value,
                tier = score.tier.as_str(),
                "lead scored"
            );
            return Ok(Scored::Saved(score));
        }
        return Ok(Scored::AlreadyApplied);
    }
    Err(Error::concurrent(format!(
        "lead {lead_id} kept changing while it was scored; try again"
    )))
}

async fn mark_scored(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &crate::domain::CallId,
    value: u8,
) -> Result<()> {
    super::modify_call(deps, tenant, call_id, |call| {
        if call.status != CallStatus::Analyzed {
            return false;
        }
        call.set_status(CallStatus::Scored, Some(format!("lead scored {value}")));
        true
    })
    .await
}

/// The tenant's rules, seeding the defaults the first time a tenant is seen.
pub async fn tenant_rules(deps: &Deps, tenant: &TenantId) -> Result<Vec<ScoringRule>> {
    let rules = deps.rules.list_rules(tenant).await?;
    if !rules.is_empty() {
        return Ok(rules);
    }
    if deps
        .rules
        .seed_rules(tenant, &scoring::default_rules(tenant, Utc::now()))
        .await?
    {
        return deps.rules.list_rules(tenant).await;
    }
    Ok(rules)
}

/// A rule was created or changed: re-score every lead of its tenant, once per rule version.
pub async fn rule_changed(deps: &Deps, rule: &ScoringRule) -> Result<usize> {
    let cause = ScoreCause::RuleChanged {
        rule_id: rule.rule_id.clone(),
        version: rule.version,
    };
    rescore_all(deps, &rule.tenant_id, &cause).await
}

/// Queue every lead of the tenant for re-scoring with `cause`.
pub async fn rescore_all(deps: &Deps, tenant: &TenantId, cause: &ScoreCause) -> Result<usize> {
    let mut query = crate::ports::LeadQuery {
        limit: Some(crate::ports::LeadQuery::MAX_LIMIT),
        ..Default::default()
    };
    let mut queued = 0;
    loop {
        let page = deps.leads.list_leads(tenant, &query).await?;
        let jobs: Vec<Job> = page
            .items
            .iter()
            .map(|lead| Job::Score {
                tenant_id: tenant.clone(),
                lead_id: lead.lead_id.clone(),
                cause: cause.clone(),
            })
            .collect();
        deps.queue.send_all(&jobs).await?;
        queued += jobs.len();
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(queued),
        }
    }
}
