//! Read-modify-write of stored records with optimistic concurrency: re-read and retry when
//! someone else wrote first. Every handler that changes a call or a lead goes through these.

use chrono::Utc;

use crate::Deps;
use crate::domain::{
    Call, CallId, CallStatus, Lead, LeadId, NewLead, PhoneNumber, Stage, TenantId,
};
use crate::error::{Error, Result};

/// Mark a call failed at `stage`, saying why, and tell subscribers (`call.failed`). Run again
/// for the same failure it changes nothing and emits the same event, which subscribers get
/// once.
pub(crate) async fn mark_failed(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &CallId,
    stage: Stage,
    reason: &str,
) -> Result<()> {
    modify_call(deps, tenant, call_id, |call| {
        let same = call.status == CallStatus::Failed
            && call.failed_stage == Some(stage)
            && call.status_detail.as_deref() == Some(reason);
        call.fail(stage, reason);
        !same
    })
    .await?;
    match deps.calls.get_call(tenant, call_id).await? {
        Some(call) if call.status == CallStatus::Failed && call.failed_stage == Some(stage) => {
            let event = super::webhooks::call_failed(&call, call.updated_at);
            super::webhooks::emit(deps, tenant, &[event]).await
        }
        _ => Ok(()),
    }
}

/// Change a stored call with `change` (which returns whether it changed anything), re-reading
/// and retrying when someone else wrote first. A call that no longer exists is left alone.
pub(crate) async fn modify_call(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &CallId,
    change: impl Fn(&mut Call) -> bool,
) -> Result<()> {
    for _ in 0..5 {
        let Some(mut call) = deps.calls.get_call(tenant, call_id).await? else {
            return Ok(());
        };
        if !change(&mut call) {
            return Ok(());
        }
        match deps.calls.update_call(&call).await {
            Err(Error::Concurrent(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(Error::concurrent(format!(
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
                    Ok(()) => {
                        super::privacy::honour_suppression(deps, &lead).await?;
                        // A retry finds the lead and does not emit again: a failure here is
                        // logged rather than failing the work that made the lead.
                        let created = super::webhooks::lead_created(&lead);
                        super::webhooks::emit_or_log(deps, tenant, &[created]).await;
                        return Ok(lead);
                    }
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
