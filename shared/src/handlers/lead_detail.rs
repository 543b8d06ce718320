//! One lead with everything behind its score, bounded whatever its history: what `GET
//! /leads/{id}` answers and `leadscore show` prints.

use serde::Serialize;

use crate::Deps;
use crate::domain::{Call, Lead, LeadId, ScoreChange, SmsEvent, TenantId, Transcript};
use crate::error::Error;

/// A call as the API shows it: the stored call plus the start of its transcript as text (the
/// whole, segment by segment, at `transcript_path`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallView {
    #[serde(flatten)]
    pub call: Call,
    /// `Speaker: text` lines, up to `TRANSCRIPT_EXCERPT_CHARS` characters.
    pub call_transcript: Option<String>,
    /// Whether `call_transcript` stops before the transcript does.
    pub call_transcript_truncated: bool,
    /// `GET` it for the whole transcript, paged (`/calls/{id}/transcript`).
    pub transcript_path: Option<String>,
}

/// A lead with everything behind its score: its latest calls (with the start of each
/// transcript), its score ledger and its latest texts. Bounded whatever the lead's history:
/// the rest is paged at `/leads/{id}/sms_log` and `/calls/{id}/transcript`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LeadDetail {
    #[serde(flatten)]
    pub lead: Lead,
    /// The latest `DETAIL_CALLS` calls, oldest first.
    pub calls: Vec<CallView>,
    pub calls_total: usize,
    pub score_history: Vec<ScoreChange>,
    /// The latest `DETAIL_SMS_EVENTS` texts, consent changes, clicks and surveys, oldest first.
    pub sms_log: Vec<SmsEvent>,
    pub sms_log_total: usize,
}

/// How many of a lead's calls its detail shows (the latest).
pub const DETAIL_CALLS: usize = 50;
/// How much of each call's transcript the detail shows, in characters.
pub const TRANSCRIPT_EXCERPT_CHARS: usize = 2_000;
/// How many of a lead's SMS events its detail shows (the latest).
pub const DETAIL_SMS_EVENTS: usize = 100;

/// Gather a lead's detail view (`GET /leads/{id}`, `leadscore show`).
pub async fn lead_detail(deps: &Deps, tenant: &TenantId, id: &LeadId) -> crate::Result<LeadDetail> {
    let lead = deps
        .leads
        .get_lead(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
    let all_calls = deps.calls.calls_for_lead(tenant, id).await?;
    let calls_total = all_calls.len();
    let mut calls = Vec::new();
    for call in all_calls
        .into_iter()
        .skip(calls_total.saturating_sub(DETAIL_CALLS))
    {
        let (call_transcript, call_transcript_truncated) = match &call.transcript_key {
            Some(key) => {
                let text =
                    serde_json::from_slice::<Transcript>(&deps.blobs.get(key).await?)?.to_text();
                let truncated = text.chars().count() > TRANSCRIPT_EXCERPT_CHARS;
                let excerpt = if truncated {
                    text.chars().take(TRANSCRIPT_EXCERPT_CHARS).collect()
                } else {
                    text
                };
                (Some(excerpt), truncated)
            }
            None => (None, false),
        };
        calls.push(CallView {
            transcript_path: call
                .transcript_key
                .as_ref()
                .map(|_| format!("/calls/{}/transcript", call.call_id)),
            call,
            call_transcript,
            call_transcript_truncated,
        });
    }
    let score_history = deps.leads.score_history(tenant, id).await?;
    let events = deps.sms.sms_events(tenant, id).await?;
    let ordered = crate::sms::ordered(&events);
    let sms_log_total = ordered.len();
    let sms_log = ordered
        .into_iter()
        .skip(sms_log_total.saturating_sub(DETAIL_SMS_EVENTS))
        .cloned()
        .collect();
    Ok(LeadDetail {
        lead,
        calls,
        calls_total,
        score_history,
        sms_log,
        sms_log_total,
    })
}
