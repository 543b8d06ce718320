//! Handlers: the pipeline's stages, driven by Lambda functions on AWS and by the local runner.
//! Each takes `&Deps` and a request, and is idempotent: delivering the same request twice
//! has the effect of delivering it once.

pub mod analyze;
pub mod api;
pub mod ingest;
pub mod model;
pub mod score;
pub mod sms;
pub mod transcribed;

use chrono::Utc;

use crate::Deps;
use crate::domain::{Lead, LeadId, NewLead, PhoneNumber, Stage, TenantId};
use crate::error::{Error, Result};
use crate::ports::Job;

/// Run one queued job through its handler.
pub async fn run_job(deps: &Deps, job: &Job) -> Result<()> {
    match job {
        Job::Analyze { tenant_id, call_id } => analyze::handle(deps, tenant_id, call_id).await,
        Job::Score {
            tenant_id,
            lead_id,
            cause,
        } => score::handle(deps, tenant_id, lead_id, cause)
            .await
            .map(|_| ()),
        Job::Transcribe {
            tenant_id,
            call_id,
            media_key,
        } => transcribed::run_here(deps, tenant_id, call_id, media_key).await,
        Job::AwaitMetadata {
            tenant_id,
            file_name,
            received_at,
        } => ingest::metadata_deadline(deps, tenant_id, file_name, *received_at).await,
        Job::Rescore {
            tenant_id,
            rescore_id,
            cause,
            after,
            queued_before,
        } => {
            score::rescore_page(
                deps,
                tenant_id,
                rescore_id,
                cause,
                after.as_ref(),
                *queued_before,
            )
            .await
        }
    }
}

/// A job failed for good (bad input, or out of retries): say so on the call it was for, so the
/// failure is visible where people look.
pub async fn record_failure(deps: &Deps, job: &Job, reason: &str) -> Result<()> {
    let (tenant, call_id, stage) = match job {
        Job::Analyze { tenant_id, call_id } => (tenant_id, call_id, Stage::Analyze),
        Job::Score {
            tenant_id,
            cause: crate::domain::ScoreCause::NewCall { call_id },
            ..
        } => (tenant_id, call_id, Stage::Score),
        Job::Score { .. } | Job::Rescore { .. } | Job::AwaitMetadata { .. } => return Ok(()),
        Job::Transcribe {
            tenant_id, call_id, ..
        } => (tenant_id, call_id, Stage::Transcribe),
    };
    mark_failed(deps, tenant, call_id, stage, reason).await
}

pub(crate) async fn mark_failed(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &crate::domain::CallId,
    stage: Stage,
    reason: &str,
) -> Result<()> {
    modify_call(deps, tenant, call_id, |call| {
        call.fail(stage, reason);
        true
    })
    .await
}

/// Change a stored call with `change` (which returns whether it changed anything), re-reading
/// and retrying when someone else wrote first. A call that no longer exists is left alone.
pub(crate) async fn modify_call(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &crate::domain::CallId,
    change: impl Fn(&mut crate::domain::Call) -> bool,
) -> Result<()> {
    for _ in 0..5 {
        let Some(mut call) = deps.calls.get_call(tenant, call_id).await? else {
            return Ok(());
        };
        if !change(&mut call) {
            return Ok(());
        }
        match deps.calls.update_call(&call).await {
            Err(crate::Error::Concurrent(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(crate::Error::concurrent(format!(
        "call {call_id} kept changing; try again"
    )))
}

/// The tenant's lead for a phone number, created if there is none. Metadata fills only the
/// fields the lead does not have yet.
pub(crate) async fn lead_for(
    deps: &Deps,
    tenant: &TenantId,
    phone: &PhoneNumber,
    details: &NewLead,
) -> Result<Lead> {
    for _ in 0..5 {
        match deps.leads.find_lead_by_phone(tenant, phone).await? {
            Some(mut lead) => {
                let before = lead.clone();
                lead.fill_missing(details);
                if lead == before {
                    return Ok(lead);
                }
                lead.updated_at = Utc::now();
                match deps.leads.update_lead(&lead).await {
                    Err(Error::Concurrent(_)) => continue,
                    other => return other,
                }
            }
            None => {
                let mut lead = Lead::new(tenant.clone(), phone.clone(), Utc::now());
                lead.fill_missing(details);
                match deps.leads.insert_lead(&lead).await {
                    Ok(()) => return Ok(lead),
                    // Created concurrently by another delivery: use that one.
                    Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Err(Error::concurrent(format!(
        "the lead for {phone} kept changing; try again"
    )))
}

/// Change a stored lead with `change`, re-reading and retrying when someone else updated it
/// first (optimistic concurrency). `NotFound` when there is no such lead.
pub(crate) async fn modify_lead(
    deps: &Deps,
    tenant: &TenantId,
    id: &LeadId,
    mut change: impl FnMut(&mut Lead) -> Result<()>,
) -> Result<Lead> {
    for _ in 0..5 {
        let mut lead = deps
            .leads
            .get_lead(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
        change(&mut lead)?;
        lead.updated_at = Utc::now();
        match deps.leads.update_lead(&lead).await {
            // A phone number taken by another lead is a conflict to report.
            Err(Error::Concurrent(_)) => continue,
            other => return other,
        }
    }
    Err(Error::concurrent(format!(
        "lead {id} kept changing; try again"
    )))
}
