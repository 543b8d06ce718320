//! Analyze: read a call's normalised transcript, find what matters in it, store the findings
//! on the call and queue its lead for scoring.

use tracing::{info, instrument};

use crate::Deps;
use crate::analysis;
use crate::domain::{CallId, CallStatus, Counter, TenantId, Transcript};
use crate::error::{Error, Result};
use crate::ports::Job;

#[instrument(skip_all, fields(tenant = %tenant, call_id = %call_id))]
pub async fn handle(deps: &Deps, tenant: &TenantId, call_id: &CallId) -> Result<()> {
    let mut call = deps
        .calls
        .get_call(tenant, call_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("call {call_id}")))?;
    match call.status {
        CallStatus::Transcribed => {}
        // Already analysed (a repeated delivery): make sure scoring was queued, then stop.
        CallStatus::Analyzed => {
            return deps.queue.send(&Job::score_new_call(&call)).await;
        }
        CallStatus::Scored => return Ok(()),
        other => {
            return Err(Error::validation(format!(
                "call {call_id} is {}, so there is no transcript to analyse",
                other.as_str()
            )));
        }
    }
    let key = call.transcript_key.clone().ok_or_else(|| {
        Error::validation(format!(
            "call {call_id} is transcribed but has no transcript key"
        ))
    })?;
    let transcript: Transcript = serde_json::from_slice(&deps.blobs.get(&key).await?)?;
    let hints = analysis::Hints {
        agent: call.agent_speaker.as_deref(),
        direction: call.direction,
        vocabulary: &deps.config.vocabulary,
    };
    let found = analysis::analyze_with(&transcript, &hints);
    call.sentiment_score = Some((found.sentiment.customer * 1000.0).round() / 1000.0);
    call.keywords = found.keywords.clone();
    let detail = format!(
        "{} intents, {} objections{}",
        found.intents.len(),
        found.objections.len(),
        if found.junk.is_empty() {
            String::new()
        } else {
            format!(", flagged {}", found.junk[0].kind)
        }
    );
    call.analysis = Some(found);
    call.set_status(CallStatus::Analyzed, Some(detail));
    let call = deps.calls.update_call(&call).await?;
    super::usage::count(deps, tenant, Counter::TranscriptsAnalysed, 1).await;
    info!(lead_id = %call.lead_id, "analysed");
    deps.queue.send(&Job::score_new_call(&call)).await
}
