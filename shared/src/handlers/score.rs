//! Score: recompute a lead's score from its calls under the tenant's rules, and record the
//! change in its ledger, once per cause.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, instrument, warn};

use crate::Deps;
use crate::domain::{
    CallStatus, Counter, LeadId, Score, ScoreCause, ScoreChange, ScoringRule, TenantId,
};
use crate::error::{Error, Result};
use crate::handlers::webhooks;
use crate::model::Model;
use crate::ports::Job;
use crate::scoring;

/// What the score handler did.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    Saved(Score),
    /// This cause had already been applied to the lead.
    AlreadyApplied,
    /// Nothing to do: a day's decay reached a lead that was never scored (its only call
    /// still waits for its transcript). Its first score comes with its own news.
    NothingToDecay,
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
    let settings = super::settings::load(deps, tenant).await?;
    // Optimistic concurrency: if the lead changes between read and write, score it again.
    for _ in 0..8 {
        let mut lead = deps
            .leads
            .get_lead(tenant, lead_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("lead {lead_id}")))?;
        if matches!(cause, ScoreCause::Decay { .. }) && lead.lead_score.is_none() {
            return Ok(Scored::NothingToDecay);
        }
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
            previous_tier: lead.tier,
            score: score.value,
            tier: score.tier,
            at: now,
        };
        lead.hot_since = hot_since(&lead, score.tier, cause, &calls, now);
        lead.lead_score = Some(score.value);
        lead.tier = Some(score.tier);
        lead.factors = score.factors.clone();
        lead.probability = score.probability;
        lead.score_updated_at = Some(now);
        if calls.iter().any(|c| c.analysis.is_some()) {
            (lead.ai_sentiment, lead.ai_keywords) = scoring::lead_voice(&calls, now);
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
        let model_version = model.as_ref().map(|m| m.version);
        // Subscribers hear of it, on a retry too (the change was stored before; the events'
        // ids come from it, so none is delivered twice).
        let events = if saved {
            webhooks::score_events(&lead, &change, Some(&score), model_version)
        } else {
            match deps
                .leads
                .score_history(tenant, lead_id)
                .await?
                .into_iter()
                .find(|c| c.cause == *cause)
            {
                Some(stored) => webhooks::score_events(&lead, &stored, None, model_version),
                None => Vec::new(),
            }
        };
        webhooks::emit(deps, tenant, &events).await?;
        deps.leads.dispatched(tenant, lead_id, &cause.key()).await?;
        if saved {
            super::usage::count(deps, tenant, Counter::LeadsScored, 1).await;
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

/// When `lead`, scored `tier` now for `cause`, turned hot: kept while it stays hot; the start
/// of the call that made it hot (a backfill of old calls dates it then, not at the import);
/// else now; `None` once it is not hot.
fn hot_since(
    lead: &crate::domain::Lead,
    tier: crate::domain::Tier,
    cause: &ScoreCause,
    calls: &[crate::domain::Call],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    use crate::domain::Tier;
    match (tier, lead.tier, lead.hot_since) {
        (Tier::Hot, Some(Tier::Hot), Some(since)) => Some(since),
        (Tier::Hot, ..) => Some(match cause {
            ScoreCause::NewCall { call_id } => calls
                .iter()
                .find(|c| c.call_id == *call_id)
                .map_or(now, |c| c.call_start_time.min(now)),
            _ => now,
        }),
        _ => None,
    }
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
pub async fn rule_changed(deps: &Deps, rule: &ScoringRule) -> Result<Rescore> {
    let cause = ScoreCause::RuleChanged {
        rule_id: rule.rule_id.clone(),
        version: rule.version,
    };
    start_rescore(deps, &rule.tenant_id, cause).await
}

/// How many leads one `Rescore` job queues.
pub const RESCORE_PAGE: u32 = 200;

/// A re-score of every lead of a tenant: where it stands (`GET /rescores/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rescore {
    pub rescore_id: String,
    pub cause: ScoreCause,
    pub state: RescoreState,
    /// Leads queued for their re-score so far; each is re-scored moments after.
    pub leads_queued: usize,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RescoreState {
    /// Waiting for its first page.
    Queued,
    /// Pages of leads are being queued.
    Running,
    /// Every lead is queued for its re-score.
    Done,
}

impl Rescore {
    fn new(rescore_id: String, cause: ScoreCause, now: DateTime<Utc>) -> Self {
        Self {
            rescore_id,
            cause,
            state: RescoreState::Queued,
            leads_queued: 0,
            started_at: now,
            updated_at: now,
            finished_at: None,
        }
    }

    pub fn path(&self) -> String {
        format!("/rescores/{}", self.rescore_id)
    }

    /// The re-score `id` of the tenant, if there is one. Ids are ours: anything else is none.
    pub async fn load(deps: &Deps, tenant: &TenantId, id: &str) -> Result<Option<Self>> {
        if id.is_empty() || id.len() > 40 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        match deps.blobs.get(&crate::keys::rescore(tenant, id)).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn save(&self, deps: &Deps, tenant: &TenantId) -> Result<()> {
        deps.blobs
            .put(
                &crate::keys::rescore(tenant, &self.rescore_id),
                &serde_json::to_vec(self)?,
            )
            .await
    }
}

/// Re-score every lead of the tenant with `cause`, in the background: a `Rescore` job queues
/// the leads a page at a time (so no request waits on it, and a crash resumes at the page it
/// was on). Returns the re-score to watch.
pub async fn start_rescore(deps: &Deps, tenant: &TenantId, cause: ScoreCause) -> Result<Rescore> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let rescore = Rescore::new(id, cause.clone(), Utc::now());
    rescore.save(deps, tenant).await?;
    deps.queue
        .send(&Job::Rescore {
            tenant_id: tenant.clone(),
            rescore_id: rescore.rescore_id.clone(),
            cause,
            after: None,
            queued_before: 0,
        })
        .await?;
    Ok(rescore)
}

/// One page of a re-score: queue the leads after `after`, record the progress, queue the next
/// page. Run again (a redelivery) it queues the same leads again, which their score jobs'
/// cause keys make no-ops, and records the same progress.
pub async fn rescore_page(
    deps: &Deps,
    tenant: &TenantId,
    rescore_id: &str,
    cause: &ScoreCause,
    after: Option<&LeadId>,
    queued_before: usize,
) -> Result<()> {
    let ids = deps.leads.lead_ids(tenant, after, RESCORE_PAGE).await?;
    let jobs: Vec<Job> = ids
        .iter()
        .map(|lead_id| Job::Score {
            tenant_id: tenant.clone(),
            lead_id: lead_id.clone(),
            cause: cause.clone(),
        })
        .collect();
    deps.queue.send_all(&jobs).await?;
    let queued = queued_before + ids.len();
    let now = Utc::now();
    let last_page = ids.len() < RESCORE_PAGE as usize;
    let mut rescore = Rescore::load(deps, tenant, rescore_id)
        .await?
        .unwrap_or_else(|| Rescore::new(rescore_id.to_owned(), cause.clone(), now));
    rescore.leads_queued = queued;
    rescore.updated_at = now;
    rescore.state = if last_page {
        RescoreState::Done
    } else {
        RescoreState::Running
    };
    if last_page {
        rescore.finished_at = Some(now);
    }
    rescore.save(deps, tenant).await?;
    if let (false, Some(last)) = (last_page, ids.last()) {
        deps.queue
            .send(&Job::Rescore {
                tenant_id: tenant.clone(),
                rescore_id: rescore_id.to_owned(),
                cause: cause.clone(),
                after: Some(last.clone()),
                queued_before: queued,
            })
            .await?;
    }
    info!(tenant = %tenant, rescore_id, queued, done = last_page, "re-score page queued");
    Ok(())
}

/// How long a saved score change may wait in the outbox before the sweep hands its events on:
/// the process that saved it emits them itself within this unless it died.
pub const OUTBOX_GRACE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// Changes the sweep hands on per tenant at a time; the rest at the next sweep.
pub const OUTBOX_PAGE: usize = 200;

/// Hand on the events of the tenant's score changes that wait in the outbox past
/// [`OUTBOX_GRACE`] (their process died between the save and the emit): each emitted as a
/// retried job would (the ids come from the change, so nothing is delivered twice), then
/// cleared. How many.
#[instrument(skip_all, fields(tenant = %tenant))]
pub async fn dispatch_waiting(deps: &Deps, tenant: &TenantId, now: DateTime<Utc>) -> Result<usize> {
    let waiting = deps
        .leads
        .undispatched(tenant, now - OUTBOX_GRACE, OUTBOX_PAGE)
        .await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let model_version = Model::load_cached(deps.blobs.as_ref(), tenant)
        .await?
        .map(|m| m.version);
    for (lead_id, cause_key) in &waiting {
        let lead = deps.leads.get_lead(tenant, lead_id).await?;
        let stored = match &lead {
            Some(_) => deps
                .leads
                .score_history(tenant, lead_id)
                .await?
                .into_iter()
                .find(|c| c.cause.key() == *cause_key),
            None => None,
        };
        if let (Some(lead), Some(change)) = (&lead, &stored) {
            let events = webhooks::score_events(lead, change, None, model_version);
            webhooks::emit(deps, tenant, &events).await?;
        }
        deps.leads.dispatched(tenant, lead_id, cause_key).await?;
    }
    warn!(
        changes = waiting.len(),
        "score changes whose events their process did not hand on were handed on"
    );
    Ok(waiting.len())
}
