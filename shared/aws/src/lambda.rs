//! What the Lambda functions do with their events, so that each function binary is only wiring
//! and the tests drive exactly this code:
//!
//! - `on_s3_event` (ingest): a recording or transcript created under `recordings/<tenant>/`;
//! - `on_transcribe_event` (transcribed): Amazon Transcribe's "Transcribe Job State Change";
//! - `on_analyze_batch`, `on_score_batch`, `on_webhooks_batch`: a batch of jobs from the
//!   function's queues, reporting the ones that failed (each runs its queues' jobs alone);
//! - `api`: the REST API's router, acting for the tenant the JWT authorizer's claim names.
//!
//! Every event is claimed in the idempotency table before it is handled and marked done after,
//! so a redelivery is skipped; the handlers are idempotent besides, so a redelivery that slips
//! through (after a crash between the work and the record) changes nothing either.
//!
//! Failures: a failure that may pass is returned (S3 and EventBridge: the invocation is
//! retried, then goes to the function's dead-letter queue) or reported as a batch item failure
//! (SQS: that message alone is retried, then goes to the queue's dead-letter queue). A
//! permanent one (bad input) is recorded on its call where there is one, counted in the
//! `PermanentFailures` metric (alarmed on), logged redacted, and not retried: an SQS message
//! goes to its stage's dead-letter queue at once, with the reason in its attributes.

use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::{Instrument, error, info, info_span, warn};

use aws_lambda_events::event::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};

use crate::{AwsApp, Claim, Deployment, DynamoIdempotency};
use shared::Deps;
use shared::adapters::oidc::IdTokens;
use shared::analysis::redact::redact;
use shared::domain::{Caller, TenantId, TranscriptFormat};
use shared::error::{Error, Result};
use shared::formats::{self, CallMetadata, FileKind};
use shared::handlers::ingest::{self, Artifact, FileDrop, Media};
use shared::handlers::jobs::{run_analyze_job, run_crm_job, run_score_job, run_webhook_job};
use shared::handlers::transcribed::{self, TranscriptionResult};
use shared::handlers::{api, record_failure};
use shared::keys;
use shared::ports::{Job, JobQueue};

/// How long a handler has before Lambda stops it: from the invocation's deadline (epoch ms).
pub fn time_left(deadline_ms: u64) -> Duration {
    let now = Utc::now().timestamp_millis().max(0) as u64;
    Duration::from_millis(deadline_ms.saturating_sub(now)).max(Duration::from_secs(1))
}

/// Run `work` once per `key`: skipped when done before, refused (retryable) while another
/// invocation runs it. Success completes the claim; any failure releases it, so the retry (or
/// the redelivery) runs the work again. Work that ends a permanent failure itself (records it
/// and hands the event on) returns `Ok`.
async fn once<F>(app: &AwsApp, key: &str, run_for: Duration, work: F) -> Result<()>
where
    F: Future<Output = Result<()>>,
{
    match app.idempotency.claim(key, run_for).await? {
        Claim::Completed => {
            info!("already handled; skipped");
            return Ok(());
        }
        Claim::InProgress => {
            return Err(Error::concurrent(
                "another invocation is handling this event; try again later",
            ));
        }
        Claim::Acquired => {}
    }
    let result = work.await;
    match &result {
        Ok(()) => app.idempotency.complete(key).await?,
        Err(_) => app.idempotency.release(key).await?,
    }
    result
}

/// The metric a permanent failure counts in, in CloudWatch's embedded metric format: one JSON
/// line on standard output, which Lambda's log agent turns into `leadscore/PermanentFailures`
/// (no dimensions, so one alarm covers every stage; the stage is a property to search by).
pub fn permanent_failure_metric(stage: &str) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "leadscore",
                "Dimensions": [[]],
                "Metrics": [{"Name": "PermanentFailures", "Unit": "Count"}],
            }],
        },
        "stage": stage,
        "PermanentFailures": 1,
    })
    .to_string()
}

fn count_permanent_failure(stage: &str) {
    println!("{}", permanent_failure_metric(stage));
}

/// S3 event keys are URL-encoded, with `+` for a space.
fn decode_key(raw: &str) -> String {
    let plus_decoded = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_decoded)
        .decode_utf8_lossy()
        .into_owned()
}

/// The ingest function: every object created under `recordings/`.
pub async fn on_s3_event(app: &AwsApp, event: S3Event, run_for: Duration) -> Result<()> {
    let mut retry = None;
    for record in &event.records {
        let key = decode_key(record.s3.object.key.as_deref().unwrap_or_default());
        let span = info_span!("object", key = %redact(&key));
        if let Err(e) = on_s3_record(app, record, &key, run_for)
            .instrument(span)
            .await
        {
            // The other records are still handled; the event is retried for this one (the
            // records done meanwhile are skipped then).
            error!(key = %redact(&key), error = %e, "ingest failed; the event will be retried");
            retry = Some(e);
        }
    }
    retry.map_or(Ok(()), Err)
}

async fn on_s3_record(
    app: &AwsApp,
    record: &S3EventRecord,
    key: &str,
    run_for: Duration,
) -> Result<()> {
    let event_name = record.event_name.as_deref().unwrap_or_default();
    if !event_name.starts_with("ObjectCreated") {
        info!(event_name, "not an object creation; ignored");
        return Ok(());
    }
    if keys::is_kept_recording(key) {
        // Stored by the product itself (a recording fetched from Twilio), already its call's.
        info!("a recording kept with its call; not a drop");
        return Ok(());
    }
    let (tenant, file_name) = match keys::parse_drop(key) {
        Ok(found) => found,
        Err(e) => {
            warn!(reason = %e, "rejected: no tenant");
            return Ok(());
        }
    };
    let object = &record.s3.object;
    let fingerprint = object
        .e_tag
        .clone()
        .or_else(|| object.sequencer.clone())
        .unwrap_or_default();
    let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
    let claim = DynamoIdempotency::key("ingest", &format!("{bucket}/{key}#{fingerprint}"));
    let size = object.size.unwrap_or(0).max(0) as u64;
    let work = ingest_object(
        app,
        &tenant,
        file_name,
        key,
        size,
        fingerprint,
        record.event_time,
    );
    once(app, &claim, run_for, async {
        match work.await {
            Err(e) if !e.is_retryable() => {
                warn!(tenant = %tenant, reason = %redact(&e.to_string()), "rejected");
                count_permanent_failure("ingest");
                Ok(())
            }
            other => other,
        }
    })
    .await
}

async fn ingest_object(
    app: &AwsApp,
    tenant: &TenantId,
    file_name: &str,
    key: &str,
    size: u64,
    fingerprint: String,
    received_at: chrono::DateTime<Utc>,
) -> Result<()> {
    let deps = &app.deps;
    let stem = formats::stem(file_name);
    let sidecar_name = format!("{stem}.meta.json");
    if file_name == sidecar_name {
        return sidecar_landed(app, tenant, stem, key, received_at).await;
    }
    let sidecar = match deps.blobs.get(&keys::drop(tenant, &sidecar_name)).await {
        Ok(bytes) => Some((sidecar_name, bytes)),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let object = Object {
        tenant,
        file_name,
        key,
        size,
        fingerprint,
        received_at,
    };
    let result = take(app, &object, sidecar.as_ref()).await;
    if let Err(Error::Validation(reason)) = &result {
        // Say why on the call, where people look (when the file names its caller).
        // By the sidecar or the file name: the file itself may be what could not be read.
        let metadata = ingest::metadata_for(deps, stem, sidecar.as_ref(), None)
            .or_else(|_| ingest::metadata_for(deps, stem, None, None))?;
        if let Some(call) =
            ingest::reject(deps, tenant, stem, &metadata, reason, received_at).await?
        {
            info!(call_id = %call.call_id, status = call.status.as_str(), "the call shows why");
        }
    }
    result
}

/// A sidecar landed: a recording or transcript of its call that arrived first (and waits for
/// it, not saying who called) is taken now, with it. Arriving first itself, the sidecar is
/// read when they arrive.
async fn sidecar_landed(
    app: &AwsApp,
    tenant: &TenantId,
    stem: &str,
    sidecar_key: &str,
    received_at: chrono::DateTime<Utc>,
) -> Result<()> {
    let deps = &app.deps;
    // Files wait only while their call does not exist: a call registered already (its file
    // name said who called) has what it needs, and taking its file again would re-drive it.
    let call_id = keys::call_of_stem(tenant, stem);
    if deps.calls.get_call(tenant, &call_id).await?.is_some() {
        info!("call metadata; its call is registered already");
        return Ok(());
    }
    let sidecar_name = format!("{stem}.meta.json");
    let sidecar = (sidecar_name.clone(), deps.blobs.get(sidecar_key).await?);
    let waiting = deps.blobs.list(&keys::drops_of_stem(tenant, stem)).await?;
    let mut taken = 0;
    for blob in waiting {
        let Some((_, file_name)) = blob.key.rsplit_once('/') else {
            continue;
        };
        if file_name == sidecar_name || formats::stem(file_name) != stem {
            continue;
        }
        let object = Object {
            tenant,
            file_name,
            key: &blob.key,
            size: blob.size,
            fingerprint: blob.fingerprint.clone(),
            received_at,
        };
        take(app, &object, Some(&sidecar)).await?;
        taken += 1;
    }
    info!(taken, "call metadata; the files waiting for it are taken");
    Ok(())
}

/// Whether the object must wait for its sidecar (nothing says who called yet, and uploads are
/// not ordered): then its deadline is queued, and it stays where it landed until the sidecar
/// lands (`sidecar_landed`) or the deadline fails it.
async fn awaits_metadata(
    app: &AwsApp,
    o: &Object<'_>,
    sidecar: Option<&(String, Vec<u8>)>,
    embedded: Option<CallMetadata>,
) -> Result<bool> {
    let stem = formats::stem(o.file_name);
    let decided = ingest::arrival(
        &app.deps,
        o.tenant,
        stem,
        sidecar,
        embedded,
        o.received_at,
        Utc::now(),
    )
    .await?;
    let ingest::Arrival::AwaitMetadata { until } = decided else {
        return Ok(false);
    };
    let deadline = Job::AwaitMetadata {
        tenant_id: o.tenant.clone(),
        file_name: o.file_name.to_owned(),
        received_at: o.received_at,
    };
    let left = (until - Utc::now()).to_std().unwrap_or_default();
    app.deps.queue.send_after(&deadline, left).await?;
    info!(until = %until, "awaiting its metadata (`<stem>.meta.json`)");
    Ok(true)
}

/// An object that arrived in the bucket.
struct Object<'a> {
    tenant: &'a TenantId,
    file_name: &'a str,
    key: &'a str,
    size: u64,
    fingerprint: String,
    received_at: chrono::DateTime<Utc>,
}

/// Attach the object to its call: audio where it lies, a transcript read and normalised.
async fn take(app: &AwsApp, o: &Object<'_>, sidecar: Option<&(String, Vec<u8>)>) -> Result<()> {
    let deps = &app.deps;
    let limit = app.deployment.max_object_bytes;
    if o.size > limit {
        return Err(Error::validation(format!(
            "`{}` is {} bytes; the limit is {limit} bytes (MAX_OBJECT_BYTES)",
            o.file_name, o.size
        )));
    }
    if o.size == 0 {
        return Err(Error::validation(format!("`{}` is empty", o.file_name)));
    }
    let stem = formats::stem(o.file_name);
    if formats::is_audio(o.file_name) {
        if awaits_metadata(app, o, sidecar, None).await? {
            return Ok(());
        }
        let artifact = Artifact::Audio {
            file_name: o.file_name.to_owned(),
            media: Media::Stored {
                key: o.key.to_owned(),
                fingerprint: o.fingerprint.clone(),
            },
        };
        let metadata = ingest::metadata_for(deps, stem, sidecar, None)?;
        return ingest::register(deps, o.tenant, stem, metadata, artifact, o.received_at)
            .await
            .map(|_| ());
    }
    // Refused by its size from the event, before it is read.
    formats::check_transcript_size(&format!("`{}`", o.file_name), o.size)?;
    let content = match deps.blobs.get(o.key).await {
        Ok(content) => content,
        // A redelivery of a transcript already taken (and removed, below).
        Err(Error::NotFound(_)) => {
            info!("the object is gone: taken by an earlier delivery");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let classified = formats::classify(o.file_name, &content)?;
    let embedded = match classified.kind {
        FileKind::Sidecar => {
            info!("call metadata; read when its recording or transcript arrives");
            return Ok(());
        }
        // A Gong document says who the lead is itself.
        FileKind::Transcript(format) => {
            formats::embedded_metadata(format, &content, &deps.config.default_region)?
        }
        FileKind::Audio => None,
    };
    if awaits_metadata(app, o, sidecar, embedded).await? {
        return Ok(());
    }
    let drop = FileDrop {
        tenant: o.tenant.clone(),
        file_name: o.file_name.to_owned(),
        content,
        sidecar: sidecar.cloned(),
        received_at: o.received_at,
    };
    ingest::ingest_file(deps, drop).await?;
    // The call holds the transcript redacted; the file as delivered is not kept (as the inbox
    // removes a taken file), unless the deployment keeps originals.
    if !deps.config.keep_original_transcripts {
        deps.blobs.delete(o.key).await?;
    }
    Ok(())
}

/// The detail of Amazon Transcribe's "Transcribe Job State Change" event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TranscribeJobStateChange {
    pub transcription_job_name: String,
    pub transcription_job_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// The transcribed function.
pub async fn on_transcribe_event(
    app: &AwsApp,
    event: EventBridgeEvent<TranscribeJobStateChange>,
    run_for: Duration,
) -> Result<()> {
    let detail = &event.detail;
    let (tenant, call_id) = match keys::parse_transcription_job(&detail.transcription_job_name) {
        Ok(ids) => ids,
        Err(e) => {
            warn!(reason = %e, "rejected: not a leadscore job");
            return Ok(());
        }
    };
    let result = match detail.transcription_job_status.as_str() {
        "COMPLETED" => TranscriptionResult::Completed {
            key: keys::transcribe_output(&tenant, &call_id),
            format: TranscriptFormat::AmazonTranscribe,
        },
        "FAILED" => TranscriptionResult::Failed {
            reason: match &detail.failure_reason {
                Some(r) => r.clone(),
                None => app
                    .transcribe
                    .failure_reason(&detail.transcription_job_name)
                    .await?
                    .unwrap_or_else(|| "Amazon Transcribe gave no reason".to_owned()),
            },
        },
        other => {
            info!(status = other, "job not finished; ignored");
            return Ok(());
        }
    };
    let identity = event
        .id
        .clone()
        .unwrap_or_else(|| format!("{}#{:?}", detail.transcription_job_name, result));
    let claim = DynamoIdempotency::key("transcribed", &identity);
    let span = info_span!("transcription", job = %detail.transcription_job_name);
    once(app, &claim, run_for, async {
        match transcribed::handle(&app.deps, &tenant, &call_id, result).await {
            Err(e) if !e.is_retryable() => {
                warn!(reason = %redact(&e.to_string()), "rejected");
                count_permanent_failure("transcribed");
                Ok(())
            }
            other => other,
        }
    })
    .instrument(span)
    .await
}

/// The analyze function: a batch from the analyze queue.
pub async fn on_analyze_batch(
    app: &AwsApp,
    event: SqsEvent,
    run_for: Duration,
) -> SqsBatchResponse {
    on_sqs_batch(app, event, run_for, run_analyze_job).await
}

/// The score function: a batch from the score queue.
pub async fn on_score_batch(app: &AwsApp, event: SqsEvent, run_for: Duration) -> SqsBatchResponse {
    on_sqs_batch(app, event, run_for, run_score_job).await
}

/// The webhooks function: a batch from the webhook queue or the CRM queue.
pub async fn on_webhooks_batch(
    app: &AwsApp,
    event: SqsEvent,
    run_for: Duration,
) -> SqsBatchResponse {
    on_sqs_batch(
        app,
        event,
        run_for,
        async |deps: &Deps, job: &Job| match job.queue() {
            JobQueue::Crm => run_crm_job(deps, job).await,
            _ => run_webhook_job(deps, job).await,
        },
    )
    .await
}

/// A queue function's batch: every message is handled on its own by `run` (the function's
/// queues' jobs, `shared::handlers::jobs`: a job of another queue fails for good), and the
/// ones that failed are reported so that SQS retries them alone.
async fn on_sqs_batch(
    app: &AwsApp,
    event: SqsEvent,
    run_for: Duration,
    run: impl AsyncFn(&Deps, &Job) -> Result<()>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let span = info_span!("message", message_id = %id);
        if let Err(e) = on_sqs_message(app, message, &id, run_for, &run)
            .instrument(span)
            .await
        {
            warn!(message_id = %id, error = %e, "message failed; SQS will retry it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn on_sqs_message(
    app: &AwsApp,
    message: &SqsMessage,
    id: &str,
    run_for: Duration,
    run: &impl AsyncFn(&Deps, &Job) -> Result<()>,
) -> Result<()> {
    let body = message.body.as_deref().unwrap_or_default();
    let job: Job = match serde_json::from_str(body) {
        Ok(job) => job,
        Err(e) => {
            let reason = format!("the message body is not a job: {e}");
            return give_up(app, message, "decode", &reason).await;
        }
    };
    let claim = DynamoIdempotency::key("job", id);
    once(app, &claim, run_for, async {
        match run(&app.deps, &job).await {
            Err(e) if !e.is_retryable() => {
                // Bad input fails the same way every time: say why on the call, and move the
                // message to the dead-letter queue now rather than retrying it.
                let reason = e.to_string();
                record_failure(&app.deps, &job, &reason).await?;
                give_up(app, message, job.stage(), &reason).await
            }
            other => other,
        }
    })
    .await
}

/// A message that can never succeed: into the stage's dead-letter queue with the reason
/// (redacted), counted in the `PermanentFailures` metric the template alarms on. Without a
/// dead-letter queue configured the message is reported failed, so SQS moves it there after
/// its tries.
async fn give_up(app: &AwsApp, message: &SqsMessage, stage: &str, reason: &str) -> Result<()> {
    let reason = redact(reason);
    error!(stage, reason = %reason, "failed for good; the message goes to the dead-letter queue");
    count_permanent_failure(stage);
    let body = message.body.as_deref().unwrap_or_default();
    match dead_letter_queue(&app.deployment, message.event_source_arn.as_deref()) {
        Some(dlq) => app.sqs.dead_letter(dlq, body, stage, &reason).await,
        None => Err(Error::validation(reason)),
    }
}

/// The dead-letter queue of the queue a message came from: the CRM queue's for a message
/// from the CRM queue (`arn:...:<name>` against `https://.../<name>`), the function's own
/// otherwise.
fn dead_letter_queue<'d>(
    deployment: &'d Deployment,
    source_arn: Option<&str>,
) -> Option<&'d String> {
    let name = |url: &str| url.rsplit('/').next().map(str::to_owned);
    let from_crm = source_arn
        .and_then(|arn| arn.rsplit(':').next())
        .is_some_and(|queue| name(&deployment.crm_queue_url).as_deref() == Some(queue));
    if from_crm {
        deployment.crm_dead_letter_queue_url.as_ref()
    } else {
        deployment.dead_letter_queue_url.as_ref()
    }
}

/// The API function's router: local mode's operations (not its pages, [`web`]), each request
/// acting for the caller the Lambda authorizer vouched for (a request without one is refused
/// with 401 where it needs one).
pub fn api(app: &AwsApp) -> Router {
    api::operations(app.deps.clone()).layer(tower::util::MapRequestLayer::new(
        |mut request: axum::http::Request<axum::body::Body>| {
            if let Some(caller) = caller_from_authorizer(&request) {
                request.extensions_mut().insert(caller);
            }
            request
        },
    ))
}

/// The web function's router: local mode's pages (the web app, the OpenAPI document and its
/// reference page; `api::PAGE_PATHS`), with the web app's sign-in where the deployment has one
/// (`AwsApp::web_sign_in`).
pub fn web(app: &AwsApp) -> Router {
    let pages = api::pages(app.deps.clone());
    match app.web_sign_in() {
        Some(sign_in) => pages.layer(axum::Extension(sign_in)),
        None => pages,
    }
}

/// The caller the deployment's Lambda authorizer vouched for (its context: `tenant`, `role`,
/// `actor`). `None` on a route without the authorizer (health, Twilio's webhooks, short
/// links, the CRMs' callbacks) or a context that names no valid caller: the request is then
/// refused with 401 where it needs a caller.
fn caller_from_authorizer<B>(request: &axum::http::Request<B>) -> Option<Caller> {
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV2(context)) = request.extensions().get::<RequestContext>()
    else {
        return None;
    };
    let fields = &context.authorizer.as_ref()?.fields;
    let caller = Caller::from_context(fields);
    if caller.is_none() && !fields.is_empty() {
        warn!("the authorizer's context names no valid caller");
    }
    caller
}

/// The Lambda authorizer: who a request's `Authorization: Bearer` names. An API key
/// (`lsk_...`) is checked against its stored hash; anything else is a JWT of the deployment's
/// identity provider, verified against its keys, whose claims name the tenant and the role.
/// API Gateway caches each answer for the token (the template's `ReauthorizeEvery`), so a
/// caller costs one check in five minutes.
pub async fn authorize(
    app: &AwsApp,
    tokens: Option<&IdTokens>,
    request: ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse<serde_json::Map<String, serde_json::Value>> {
    let header = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().cloned())
        .or_else(|| {
            request
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let verdict = match shared::domain::bearer_token(&header) {
        None => Err(Error::Unauthorized("no bearer token".into())),
        Some(token) if token.starts_with(shared::domain::KEY_PREFIX) => {
            shared::handlers::access::caller_for_key(&app.deps, token, Utc::now()).await
        }
        Some(token) => match tokens {
            None => Err(Error::Unauthorized(
                "this deployment takes API keys only (no JWT issuer is configured)".into(),
            )),
            Some(tokens) => tokens.caller(token).await,
        },
    };
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match verdict {
        Ok(caller) => {
            response.is_authorized = true;
            response.context = caller.to_context();
        }
        // A store or key set that cannot answer denies too (a hiccup must let no one in); the
        // log says why, never the token.
        Err(e) => info!(reason = %e.report(), "a request was not authorized"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_keys_name_their_tenant() {
        assert!(keys::is_kept_recording(
            "recordings/acme/c_0123/twilio-RE1.wav"
        ));
        assert!(!keys::is_kept_recording("recordings/acme/call 1.wav"));
        let (tenant, file) = keys::parse_drop("recordings/acme/call 1.wav").unwrap();
        assert_eq!((tenant.as_str(), file), ("acme", "call 1.wav"));
        for bad in [
            "uploads/acme/x.wav",
            "recordings/x.wav",
            "recordings/acme/",
            "recordings/acme/ca_1/x.wav",
            "recordings/ACME/x.wav",
        ] {
            assert!(keys::parse_drop(bad).is_err(), "{bad}");
        }
        assert_eq!(
            decode_key("recordings/acme/call+1%2B2.wav"),
            "recordings/acme/call 1+2.wav"
        );
    }

    #[test]
    fn a_permanent_failure_is_one_embedded_metric_line() {
        let line = permanent_failure_metric("score");
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "leadscore");
        assert_eq!(directive["Metrics"][0]["Name"], "PermanentFailures");
        // Every metric named in the directive is a number at the top level.
        assert_eq!(v["PermanentFailures"], 1);
        assert_eq!(v["stage"], "score");
        assert!(v["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    }

    #[test]
    fn time_left_counts_down_to_the_deadline() {
        let now = Utc::now().timestamp_millis() as u64;
        let left = time_left(now + 30_000);
        assert!(left > Duration::from_secs(25) && left <= Duration::from_secs(30));
        assert_eq!(time_left(now - 5_000), Duration::from_secs(1));
    }
}
