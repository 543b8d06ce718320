//! The job dispatcher: which handler runs a queued job, and where a job that failed for good
//! is recorded. Both runtimes' workers (the local one and the Lambda queue consumers) call
//! these two and nothing else.

use crate::Deps;
use crate::domain::Stage;
use crate::error::Result;
use crate::ports::Job;

use super::records::mark_failed;
use super::{
    analyze, call_log, crm, gong, ingest, model, privacy, schedule, score, texts, transcribed,
    voice, webhooks,
};

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
        Job::Deliver {
            tenant_id,
            subscription_id,
            event_id,
            attempt,
            not_before,
        } => {
            webhooks::deliver(
                deps,
                tenant_id,
                subscription_id,
                event_id,
                *attempt,
                *not_before,
            )
            .await
        }
        Job::SendText {
            tenant_id,
            lead_id,
            text_id,
            hop,
        } => texts::send_queued(deps, tenant_id, lead_id, text_id, *hop, chrono::Utc::now()).await,
        Job::FetchRecording {
            tenant_id,
            account_sid,
            call_sid,
            recording_sid,
            channels,
            duration_seconds,
        } => {
            let fetch = voice::Fetch {
                account_sid,
                call_sid,
                recording_sid,
                channels: *channels,
                duration_seconds: *duration_seconds,
            };
            voice::fetch(deps, tenant_id, fetch).await
        }
        Job::FetchLoggedCall { tenant_id, call } => call_log::fetch(deps, tenant_id, call).await,
        Job::GongPull {
            tenant_id,
            from,
            cursor,
            latest,
            pending,
        } => {
            let page = gong::Page {
                from: *from,
                cursor: cursor.clone(),
                latest: *latest,
                pending: *pending,
            };
            gong::pull(deps, tenant_id, page, chrono::Utc::now())
                .await
                .map(|_| ())
        }
        Job::Erase { tenant_id, lead_id } => privacy::erase(deps, tenant_id, lead_id).await,
        Job::CrmPush { tenant_id, crm } => crm::push(deps, tenant_id, *crm).await.map(|_| ()),
        Job::CrmSync {
            tenant_id,
            crm,
            after,
        } => crm::sync_page(deps, tenant_id, *crm, after.as_ref()).await,
        Job::CrmImport {
            tenant_id,
            crm,
            after,
            page,
        } => crm::import_page(deps, tenant_id, *crm, after.as_deref(), *page).await,
        Job::CrmEvents {
            tenant_id,
            crm,
            events,
        } => crm::receive(deps, tenant_id, *crm, events)
            .await
            .map(|_| ()),
        Job::Retrain { tenant_id, weekly } => {
            let min_new = if *weekly {
                1
            } else {
                deps.config.retrain_after_outcomes
            };
            model::challenge(deps, tenant_id, min_new).await.map(|_| ())
        }
        Job::CrmPoll { tenant_id, crm } => crm::poll(deps, tenant_id, *crm).await.map(|_| ()),
        Job::Sweep { after } => schedule::sweep(deps, after.as_ref(), chrono::Utc::now())
            .await
            .map(|_| ()),
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
        Job::SendText {
            tenant_id,
            lead_id,
            text_id,
            ..
        } => return texts::give_up(deps, tenant_id, lead_id, text_id, reason).await,
        Job::Score { .. }
        | Job::Rescore { .. }
        | Job::AwaitMetadata { .. }
        | Job::Deliver { .. }
        | Job::FetchRecording { .. }
        | Job::FetchLoggedCall { .. }
        | Job::GongPull { .. }
        | Job::Erase { .. }
        | Job::CrmPush { .. }
        | Job::CrmSync { .. }
        | Job::Retrain { .. }
        | Job::Sweep { .. }
        | Job::CrmPoll { .. }
        | Job::CrmImport { .. }
        | Job::CrmEvents { .. } => return Ok(()),
        Job::Transcribe {
            tenant_id, call_id, ..
        } => (tenant_id, call_id, Stage::Transcribe),
    };
    mark_failed(deps, tenant, call_id, stage, reason).await
}
