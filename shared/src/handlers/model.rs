//! The tenant's model: put a trained model in force (and re-score the tenant's leads with it),
//! retrain from the outcomes reps recorded, and keep learning: once enough new outcomes have
//! arrived (`Config::retrain_after_outcomes`), a challenger is trained and put in force only if
//! it ranks the most recent outcomes at least as well as the model in force (the champion).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::Deps;
use crate::domain::{Lead, ScoreCause, TenantId};
use crate::error::{Error, Result};
use crate::handlers::score::Rescore;
use crate::model::{self, Model, TargetSpec, TrainOptions};
use crate::ports::{Job, LeadQuery};
use crate::scoring::{FIELDS, Features, Value};

/// The column of the outcomes table that says whether a lead converted.
const TARGET: &str = "converted";

/// Save `model` as the tenant's next version, put it in force and start a re-score of every
/// lead with it (in the background). The previous version stays in the store.
pub async fn adopt(deps: &Deps, tenant: &TenantId, model: Model) -> Result<(Model, Rescore)> {
    let model = model.save(deps.blobs.as_ref(), tenant).await?;
    let trained = super::webhooks::model_trained(tenant, &model);
    super::webhooks::emit_or_log(deps, tenant, &[trained]).await;
    let rescore = super::score::start_rescore(
        deps,
        tenant,
        ScoreCause::ModelChanged {
            version: model.version,
        },
    )
    .await?;
    info!(tenant = %tenant, version = model.version, auc = model.metrics.auc, rescore_id = %rescore.rescore_id, "model in force");
    Ok((model, rescore))
}

/// Train a model on the leads whose outcome a rep recorded, and put it in force. Each lead is
/// described as it stood when its outcome was recorded (its calls up to then), so nothing
/// learnt after the fact leaks into the model. A failure leaves the current model in force.
pub async fn retrain(
    deps: &Deps,
    tenant: &TenantId,
    options: &TrainOptions,
) -> Result<(Model, Rescore)> {
    let csv = outcomes_csv(deps, tenant).await?;
    let options = options.clone();
    let trained = tokio::task::spawn_blocking(move || {
        let table = outcomes_table(&csv)?;
        model::train(&table, &options, &|_, _, _| {})
    })
    .await
    .map_err(|e| Error::internal("training stopped", e))??;
    adopt(deps, tenant, trained).await
}

/// The last champion/challenger comparison: the figures behind keeping or replacing the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Challenge {
    pub at: DateTime<Utc>,
    /// Leads with an outcome the challenger learnt from.
    pub outcomes: usize,
    /// Of them, arrived since the champion was trained.
    pub new_outcomes: usize,
    /// The most recent outcomes, held out: both models are judged on them.
    pub holdout_rows: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion_version: Option<u64>,
    /// The champion's AUC on the held-out outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion_auc: Option<f64>,
    /// The challenger's, trained on the outcomes before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger_auc: Option<f64>,
    pub promoted: bool,
    /// The version the challenger became, when promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    pub reason: String,
}

fn challenge_key(tenant: &TenantId) -> String {
    format!("models/{tenant}/challenge.json")
}

/// The tenant's last champion/challenger comparison, if one was made.
pub async fn last_challenge(deps: &Deps, tenant: &TenantId) -> Result<Option<Challenge>> {
    match deps.blobs.get(&challenge_key(tenant)).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Outcomes recorded within this long of one another are checked together.
const RETRAIN_GATHER: std::time::Duration = std::time::Duration::from_secs(5);

/// An outcome was recorded (by a rep, or from the CRM): queue the check whether enough new
/// ones have arrived to train a challenger, a few seconds on so that a burst of outcomes is
/// checked once (the local queue keeps one waiting copy of a job; on SQS each outcome's check
/// runs, and all but the first find too few new outcomes since the last try).
pub async fn outcome_recorded(deps: &Deps, tenant: &TenantId) -> Result<()> {
    let job = Job::Retrain {
        tenant_id: tenant.clone(),
        weekly: false,
    };
    deps.queue.send_after(&job, RETRAIN_GATHER).await
}

/// Train a challenger when at least `min_new` outcomes have arrived since the champion (the
/// model in force) was trained and since the last challenger was, and put it in force only if, on the most recent outcomes held
/// out, it ranks leads at least as well as the champion (AUC); a first model is put in force
/// when it can be trained at all. The comparison is kept (`last_challenge`). `None` when
/// there were too few new outcomes to try.
pub async fn challenge(
    deps: &Deps,
    tenant: &TenantId,
    min_new: usize,
) -> Result<Option<Challenge>> {
    let csv = match outcomes_csv(deps, tenant).await {
        Ok(csv) => csv,
        Err(Error::Validation(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let champion = Model::load_cached(deps.blobs.as_ref(), tenant).await?;
    let options = TrainOptions::default();
    let holdout = options.holdout;
    let table = outcomes_table(&csv)?;
    let outcomes = table.rows();
    // Counted from the last try as well: a challenger that lost is not trained again on
    // every later outcome.
    let tried = last_challenge(deps, tenant)
        .await?
        .map_or(0, |c| c.outcomes);
    let seen = champion.as_ref().map_or(0, |c| c.metrics.rows).max(tried);
    let new_outcomes = outcomes.saturating_sub(seen);
    if new_outcomes < min_new {
        return Ok(None);
    }
    // Training takes the CPU for a while: off the async threads.
    let (table, trained) = tokio::task::spawn_blocking(move || {
        let trained = model::train(&table, &options, &|_, _, _| {});
        (table, trained)
    })
    .await
    .map_err(|e| Error::internal("training stopped", e))?;
    let mut result = Challenge {
        at: Utc::now(),
        outcomes,
        new_outcomes,
        holdout_rows: 0,
        champion_version: champion.as_ref().map(|c| c.version),
        champion_auc: None,
        challenger_auc: None,
        promoted: false,
        version: None,
        reason: String::new(),
    };
    let challenger = match trained {
        Ok(model) => model,
        Err(Error::Validation(why)) => {
            result.reason = format!("no challenger: {why}");
            return keep(deps, tenant, result).await.map(Some);
        }
        Err(e) => return Err(e),
    };
    result.challenger_auc = challenger.metrics.time_split_auc;
    match (&champion, challenger.metrics.time_split_auc) {
        (None, _) => {
            result.promoted = true;
            result.reason = "the first model: nothing to compare it with".to_owned();
        }
        (Some(_), None) => {
            result.reason = "the most recent outcomes are too few, or all of one kind, to \
                             compare the models on; the champion stays"
                .to_owned();
        }
        (Some(champion), Some(challenger_auc)) => {
            let held = (outcomes as f64 * holdout) as usize;
            let rows: Vec<usize> = (outcomes - held..outcomes).collect();
            let labels: Vec<bool> = rows.iter().map(|&r| table.target[r]).collect();
            let champion_auc = model::metrics::auc(&champion.probabilities(&table, &rows), &labels);
            result.holdout_rows = held;
            result.champion_auc = Some(champion_auc);
            result.promoted = challenger_auc >= champion_auc;
            result.reason = format!(
                "on the {held} most recent outcomes the challenger's AUC is \
                 {challenger_auc:.3}, the champion's {champion_auc:.3}: {}",
                if result.promoted {
                    "the challenger is put in force"
                } else {
                    "the champion stays"
                }
            );
        }
    }
    if result.promoted {
        let (model, _) = adopt(deps, tenant, challenger).await?;
        result.version = Some(model.version);
    }
    info!(tenant = %tenant, promoted = result.promoted, reason = %result.reason, "champion and challenger");
    keep(deps, tenant, result).await.map(Some)
}

async fn keep(deps: &Deps, tenant: &TenantId, challenge: Challenge) -> Result<Challenge> {
    deps.blobs
        .put(&challenge_key(tenant), &serde_json::to_vec(&challenge)?)
        .await?;
    Ok(challenge)
}

/// The outcomes table (`outcomes_csv`) read as training data: `converted` is the target.
fn outcomes_table(csv: &[u8]) -> Result<model::Table> {
    model::read_csv(
        csv,
        &TargetSpec {
            column: TARGET.to_owned(),
            positive: Some("yes".to_owned()),
            drop: Vec::new(),
        },
    )
}

/// The tenant's labelled leads as a CSV table: one column per feature and CRM field, and
/// `converted` (`yes`/`no`), oldest outcome first (so the time-ordered check holds out the
/// newest).
pub async fn outcomes_csv(deps: &Deps, tenant: &TenantId) -> Result<Vec<u8>> {
    let mut labelled: Vec<Lead> = Vec::new();
    let mut query = LeadQuery {
        limit: Some(LeadQuery::MAX_LIMIT),
        ..Default::default()
    };
    loop {
        let page = deps.leads.list_leads(tenant, &query).await?;
        labelled.extend(page.items.into_iter().filter(|l| l.outcome.is_some()));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    if labelled.is_empty() {
        return Err(Error::validation(
            "no lead has an outcome yet: record outcomes with PUT /leads/{id}/outcome",
        ));
    }
    labelled.sort_by_key(|l| l.outcome.as_ref().map(|o| o.at));
    let mut crm_fields: Vec<&str> = labelled
        .iter()
        .flat_map(|l| l.crm.keys().map(String::as_str))
        // `stage` and `interactions` are catalogue fields already (`crm.stage`, ...).
        .filter(|k| {
            !FIELDS
                .iter()
                .any(|f| f.0 == *k || f.0.strip_prefix("crm.") == Some(*k))
                && *k != TARGET
        })
        .collect();
    crm_fields.sort_unstable();
    crm_fields.dedup();
    let mut out = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = FIELDS
        .iter()
        .map(|f| f.0)
        .chain(crm_fields.iter().copied())
        .chain([TARGET])
        .collect();
    out.write_record(&header).map_err(csv_error)?;
    for lead in &labelled {
        let outcome = lead.outcome.as_ref().expect("labelled");
        let calls: Vec<_> = deps
            .calls
            .calls_for_lead(tenant, &lead.lead_id)
            .await?
            .into_iter()
            .filter(|c| c.call_start_time <= outcome.at)
            .collect();
        let features = Features::compute(lead, &calls, outcome.at);
        let mut row: Vec<String> = FIELDS
            .iter()
            .map(|f| match features.value_ref(f.0) {
                Some(Value::Num(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Str(s)) => s.clone(),
                None => String::new(),
            })
            .collect();
        row.extend(
            crm_fields
                .iter()
                .map(|k| lead.crm.get(*k).cloned().unwrap_or_default()),
        );
        row.push(if outcome.converted { "yes" } else { "no" }.to_owned());
        out.write_record(&row).map_err(csv_error)?;
    }
    out.into_inner()
        .map_err(|e| Error::internal("the outcomes table", e.into_error()))
}

fn csv_error(e: csv::Error) -> Error {
    Error::internal("the outcomes table", e)
}
