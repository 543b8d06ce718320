//! The job dispatcher: which handler runs a queued job, and where a job that failed for good
//! is recorded. The local worker runs every job (`run_job`); on AWS each queue's function
//! runs its queue's (`run_analyze_job`, `run_score_job`, `run_webhook_job`, `run_crm_job`),
//! so each function links only its own handlers. Both runtimes call these and nothing else.

use crate::Deps;
use crate::domain::Stage;
use crate::error::{Error, Result};
use crate::ports::{Job, JobQueue};

use super::records::mark_failed;
use super::{
    analyze, call_log, crm, gong, ingest, model, privacy, schedule, score, texts, transcribed,
    voice, webhooks,
};

/// Run one queued job through its handler, whichever queue it travels on (the local worker).
pub async fn run_job(deps: &Deps, job: &Job) -> Result<()> {
    match job.queue() {
        JobQueue::Analyze => run_analyze_job(deps, job).await,
        JobQueue::Score => run_score_job(deps, job).await,
        JobQueue::Webhook => run_webhook_job(deps, job).await,
        JobQueue::Crm => run_crm_job(deps, job).await,
    }
}

/// A job that came on a queue other than its own (`Job::queue`), for the consumer of `queue`:
/// bad input, never retried, and nothing done. On AWS each queue's function runs its own
/// jobs alone, so that it links and is allowed (by its IAM policy) only what they need.
fn not_on(job: &Job, queue: JobQueue) -> Error {
    Error::validation(format!(
        "a {} job does not belong on the {queue} queue (it travels on the {} queue); it was \
         not run",
        job.stage(),
        job.queue()
    ))
}

/// The analyze queue's jobs (the analyze function on AWS).
pub async fn run_analyze_job(deps: &Deps, job: &Job) -> Result<()> {
    match job {
        Job::Analyze { tenant_id, call_id } => analyze::handle(deps, tenant_id, call_id).await,
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
        _ => Err(not_on(job, JobQueue::Analyze)),
    }
}

/// The score queue's jobs (the score function on AWS).
pub async fn run_score_job(deps: &Deps, job: &Job) -> Result<()> {
    match job {
        Job::Score {
            tenant_id,
            lead_id,
            cause,
        } => score::handle(deps, tenant_id, lead_id, cause)
            .await
            .map(|_| ()),
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
        Job::Erase { tenant_id, lead_id } => privacy::erase(deps, tenant_id, lead_id).await,
        Job::Retrain { tenant_id, weekly } => {
            let min_new = if *weekly {
                1
            } else {
                deps.config.retrain_after_outcomes
            };
            model::challenge(deps, tenant_id, min_new).await.map(|_| ())
        }
        Job::Sweep { after } => schedule::sweep(deps, after.as_ref(), chrono::Utc::now())
            .await
            .map(|_| ()),
        _ => Err(not_on(job, JobQueue::Score)),
    }
}

/// The webhook queue's jobs (the webhooks function on AWS).
pub async fn run_webhook_job(deps: &Deps, job: &Job) -> Result<()> {
    match job {
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
        _ => Err(not_on(job, JobQueue::Webhook)),
    }
}

/// The CRM queue's jobs (the webhooks function on AWS).
pub async fn run_crm_job(deps: &Deps, job: &Job) -> Result<()> {
    match job {
        Job::CrmPush { tenant_id, crm } => crm::push(deps, tenant_id, *crm).await.map(|_| ()),
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
        Job::CrmPoll { tenant_id, crm } => crm::poll(deps, tenant_id, *crm).await.map(|_| ()),
        _ => Err(not_on(job, JobQueue::Crm)),
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
