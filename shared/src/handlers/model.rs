//! The tenant's model: put a trained model in force (and re-score the tenant's leads with it),
//! and retrain from the outcomes reps recorded.

use tracing::info;

use crate::Deps;
use crate::domain::{Lead, ScoreCause, TenantId};
use crate::error::{Error, Result};
use crate::handlers::score::Rescore;
use crate::model::{self, Model, TargetSpec, TrainOptions};
use crate::ports::LeadQuery;
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
        let table = model::read_csv(
            &csv,
            &TargetSpec {
                column: TARGET.to_owned(),
                positive: Some("yes".to_owned()),
                drop: Vec::new(),
            },
        )?;
        model::train(&table, &options, &|_, _, _| {})
    })
    .await
    .map_err(|e| Error::internal("training stopped", e))??;
    adopt(deps, tenant, trained).await
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
