//! What is held about a lead, handed over (GDPR Art. 20) or erased (Art. 17).
//!
//! Erasure runs as a job (`Job::Erase`): the lead's calls with their recordings, transcripts
//! (the delivered file, the normalised one, the speech engine's output), files left beside
//! them and the speech engine's job record; its SMS log and tracked links; its score ledger,
//! markers and phone claim; the lead itself, last, so a run cut short is finished by the next.
//! What the law asks to keep stays: a lead that opted out of texts leaves a digest of its
//! number on the tenant's suppression list, and a lead made later for that number starts opted
//! out. Audit entries, webhook deliveries and usage counts hold lead ids, never names, numbers
//! or addresses, and stay.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::info;

use crate::Deps;
use crate::domain::{
    Call, ConsentAction, ConsentChange, Lead, LeadId, ScoreChange, SmsEvent, SmsEventKind,
    TenantId, TrackedLink, Transcript, suppression_digest,
};
use crate::error::{Error, Result};
use crate::ports::Job;

/// How many calls one export page holds, each with its whole transcript.
pub const EXPORT_CALLS: usize = 100;

/// Ask for a lead to be erased: the job is queued, and the lead as it stood is returned.
pub async fn request_erasure(deps: &Deps, tenant: &TenantId, id: &LeadId) -> Result<Lead> {
    let lead = deps
        .leads
        .get_lead(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
    deps.queue
        .send(&Job::Erase {
            tenant_id: tenant.clone(),
            lead_id: id.clone(),
        })
        .await?;
    info!(tenant = %tenant, lead = %id, "erasure queued");
    Ok(lead)
}

/// Erase everything held about the lead. Run again (a redelivery, or after a failure part-way)
/// it erases what is left; for a lead already gone it does nothing.
pub async fn erase(deps: &Deps, tenant: &TenantId, id: &LeadId) -> Result<()> {
    let Some(lead) = deps.leads.get_lead(tenant, id).await? else {
        return Ok(());
    };
    let events = deps.sms.sms_events(tenant, id).await?;
    if crate::sms::engagement(&events).opted_out {
        // TCPA: a number that said STOP is never texted again, whatever became of its lead.
        deps.sms
            .suppress(tenant, &suppression_digest(tenant, &lead.phone_number))
            .await?;
    }
    let calls = deps.calls.calls_for_lead(tenant, id).await?;
    for call in &calls {
        erase_call(deps, call).await?;
    }
    deps.sms.erase_sms(tenant, id).await?;
    deps.leads.erase_lead(tenant, id).await?;
    info!(tenant = %tenant, lead = %id, calls = calls.len(), texts = events.len(), "lead erased");
    Ok(())
}

async fn erase_call(deps: &Deps, call: &Call) -> Result<()> {
    let tenant = &call.tenant_id;
    let mut keys: Vec<String> = [
        &call.recording_key,
        &call.transcript_source_key,
        &call.transcript_key,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    // Everything kept under the call (the engine's output, the delivered transcript), and
    // what is left of its drop beside it (a sidecar, a file of the same name).
    for prefix in [
        format!("transcripts/{tenant}/{}/", call.call_id),
        crate::keys::drops_of_stem(tenant, &call.source_name),
    ] {
        keys.extend(deps.blobs.list(&prefix).await?.into_iter().map(|b| b.key));
    }
    for key in keys {
        deps.blobs.delete(&key).await?;
    }
    deps.transcriber.forget(call).await?;
    deps.calls.delete_call(tenant, &call.call_id).await
}

/// A new lead whose number is on the tenant's suppression list starts opted out, with the
/// reason in its consent ledger.
pub async fn honour_suppression(deps: &Deps, lead: &Lead) -> Result<()> {
    let tenant = &lead.tenant_id;
    if !deps
        .sms
        .is_suppressed(tenant, &suppression_digest(tenant, &lead.phone_number))
        .await?
    {
        return Ok(());
    }
    deps.sms
        .append_sms_event(&SmsEvent {
            tenant_id: tenant.clone(),
            lead_id: lead.lead_id.clone(),
            event_id: format!("consent:suppressed:{}", lead.lead_id),
            at: lead.created_at,
            kind: SmsEventKind::Consent(ConsentChange {
                action: ConsentAction::OptOut,
                via: "suppression list".to_owned(),
                message_sid: None,
                evidence: "this number opted out under a lead since erased".to_owned(),
                by: None,
            }),
            request_sha256: None,
        })
        .await
        .map(|_| ())
}

/// Everything held about a lead, machine-readable (`GET /leads/{id}/export`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LeadExport {
    pub exported_at: DateTime<Utc>,
    /// The lead as stored: contact details, CRM fields, score, tier, factors with evidence,
    /// adjustment, outcome.
    pub lead: Lead,
    /// Its calls, oldest first, `EXPORT_CALLS` from `calls_offset`, each with its whole
    /// (redacted) transcript.
    pub calls: Vec<CallExport>,
    pub calls_total: usize,
    /// Pass as `calls_offset` for the rest of the calls; null when these are the last.
    pub next_calls_offset: Option<usize>,
    /// Every score change with its cause.
    pub score_history: Vec<ScoreChange>,
    /// Every text, delivery status, consent change, click and survey answer, oldest first.
    pub sms_log: Vec<SmsEvent>,
    pub links: Vec<TrackedLink>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallExport {
    #[serde(flatten)]
    pub call: Call,
    /// The normalised transcript, segment by segment; none before one exists.
    pub transcript: Option<Transcript>,
}

pub async fn export(
    deps: &Deps,
    tenant: &TenantId,
    id: &LeadId,
    calls_offset: usize,
) -> Result<LeadExport> {
    let lead = deps
        .leads
        .get_lead(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
    let all_calls = deps.calls.calls_for_lead(tenant, id).await?;
    let calls_total = all_calls.len();
    let mut calls = Vec::new();
    for call in all_calls.into_iter().skip(calls_offset).take(EXPORT_CALLS) {
        let transcript = match &call.transcript_key {
            Some(key) => match deps.blobs.get(key).await {
                Ok(bytes) => Some(serde_json::from_slice(&bytes)?),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        calls.push(CallExport { call, transcript });
    }
    let next = calls_offset + calls.len();
    Ok(LeadExport {
        exported_at: Utc::now(),
        score_history: deps.leads.score_history(tenant, id).await?,
        sms_log: crate::sms::ordered(&deps.sms.sms_events(tenant, id).await?)
            .into_iter()
            .cloned()
            .collect(),
        links: deps.sms.links_for_lead(tenant, id).await?,
        lead,
        calls,
        calls_total,
        next_calls_offset: (next < calls_total).then_some(next),
    })
}
