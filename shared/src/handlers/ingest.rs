//! Ingest: a recording, a transcript or both arrive for a call. Register the call, attach it to
//! the caller's lead (one lead per phone number), count repeat calls once, and move the call
//! on: a transcript is normalised and queued for analysis; audio goes to the speech engine, or
//! waits for a transcript where there is none.
//!
//! A call is identified by its file stem (for the API: its external id, or a digest of the
//! submission), so the parts of one call (`x.wav`, `x.vtt`, `x.meta.json`) meet on one call,
//! and the same file delivered twice changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, instrument};

use crate::Deps;
use crate::analysis::redact::{redact, redact_transcript};
use crate::domain::{
    Call, CallId, CallStatus, Counter, Direction, NewLead, Stage, TenantId, TranscriptFormat,
};
use crate::error::{Error, Result};
use crate::formats::{self, CallMetadata, FileKind};
use crate::keys;
use crate::ports::{Job, TranscriptionStart};

/// A file that arrived (in the inbox, or in the bucket), with its sidecar if one was beside it.
#[derive(Debug, Clone)]
pub struct FileDrop {
    pub tenant: TenantId,
    pub file_name: String,
    pub content: Vec<u8>,
    /// `(file name, content)` of the `<stem>.meta.json` (or `<stem>.json`) sidecar.
    pub sidecar: Option<(String, Vec<u8>)>,
    /// When the file arrived: the call's start time when nothing else says.
    pub received_at: DateTime<Utc>,
}

/// A recording's bytes, or where they already are.
#[derive(Debug, Clone)]
pub enum Media {
    /// The bytes, to be stored under the call.
    Bytes(Vec<u8>),
    /// Already in the blob store under `key` (a recording dropped into the bucket);
    /// `fingerprint` tells one content from another (S3's ETag).
    Stored { key: String, fingerprint: String },
}

/// The recording or transcript being attached to a call.
#[derive(Debug, Clone)]
pub enum Artifact {
    Audio {
        file_name: String,
        media: Media,
    },
    Transcript {
        file_name: String,
        format: TranscriptFormat,
        content: Vec<u8>,
    },
}

impl Artifact {
    /// Tells one content from another: a digest of the bytes, or the store's fingerprint.
    fn digest(&self) -> String {
        match self {
            Artifact::Audio {
                media: Media::Bytes(content),
                ..
            }
            | Artifact::Transcript { content, .. } => sha256(content),
            Artifact::Audio {
                media: Media::Stored { fingerprint, .. },
                ..
            } => format!("stored:{fingerprint}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new call was registered.
    Created,
    /// The file was added to a call that already existed (a transcript for waiting audio).
    Attached,
    /// The same file had been delivered before: nothing changed.
    Duplicate,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub outcome: Outcome,
    pub call: Call,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Ingest one dropped file.
#[instrument(skip_all, fields(tenant = %drop.tenant, file = %redact(&drop.file_name)))]
pub async fn ingest_file(deps: &Deps, drop: FileDrop) -> Result<IngestReport> {
    let classified = formats::classify(&drop.file_name, &drop.content)?;
    let artifact = match classified.kind {
        FileKind::Sidecar => {
            return Err(Error::validation(format!(
                "`{}` is call metadata, but no recording or transcript named `{}.*` came with it",
                drop.file_name, classified.stem
            )));
        }
        FileKind::Audio => Artifact::Audio {
            file_name: drop.file_name.clone(),
            media: Media::Bytes(drop.content),
        },
        FileKind::Transcript(format) => Artifact::Transcript {
            file_name: drop.file_name.clone(),
            format,
            content: drop.content,
        },
    };
    let embedded = embedded_metadata(deps, &artifact)?;
    let metadata = metadata_for(deps, &classified.stem, drop.sidecar.as_ref(), embedded)?;
    register(
        deps,
        &drop.tenant,
        &classified.stem,
        metadata,
        artifact,
        drop.received_at,
    )
    .await
}

/// What is known of call `stem`: its sidecar `(file name, content)` if one came, over what
/// the transcript says of its call (`embedded`: a Gong document's parties), over what the
/// file name says.
pub fn metadata_for(
    deps: &Deps,
    stem: &str,
    sidecar: Option<&(String, Vec<u8>)>,
    embedded: Option<CallMetadata>,
) -> Result<CallMetadata> {
    let region = &deps.config.default_region;
    let mut known = CallMetadata::from_file_name(stem, region);
    if let Some(embedded) = embedded {
        known = embedded.or(known);
    }
    Ok(match sidecar {
        Some((name, bytes)) => CallMetadata::from_sidecar(bytes, region)
            .map_err(|e| e.context(format!("`{name}`")))?
            .or(known),
        None => known,
    })
}

/// What a file says of its own call, if it is a transcript that says it (a Gong document).
/// Errors name the file.
pub fn embedded_metadata(deps: &Deps, artifact: &Artifact) -> Result<Option<CallMetadata>> {
    match artifact {
        Artifact::Transcript {
            file_name,
            format,
            content,
        } => formats::embedded_metadata(*format, content, &deps.config.default_region)
            .map_err(|e| e.context(format!("`{}`", redact(file_name)))),
        Artifact::Audio { .. } => Ok(None),
    }
}

/// What to do with a recording or transcript that arrived at `received_at`, the one decision
/// both runtimes make (the inbox and the bucket).
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// Who the lead is is known (from the sidecar, the file name, or the call already
    /// registered for the stem): take it in.
    Take,
    /// Nothing says who the lead is yet: its sidecar may still be on its way (uploads are not
    /// ordered), so it waits until `until` (`Config::metadata_wait` after it arrived).
    AwaitMetadata { until: DateTime<Utc> },
}

/// Decide for the recording or transcript of call `stem`. After the wait, a file that still
/// does not say who the lead is is refused (`Validation`) with the reason; a sidecar that does
/// not parse is refused at once.
pub async fn arrival(
    deps: &Deps,
    tenant: &TenantId,
    stem: &str,
    sidecar: Option<&(String, Vec<u8>)>,
    embedded: Option<CallMetadata>,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Arrival> {
    let metadata = metadata_for(deps, stem, sidecar, embedded)?;
    if metadata.lead_phone().is_some() {
        return Ok(Arrival::Take);
    }
    let call_id = keys::call_of_stem(tenant, stem);
    if deps.calls.get_call(tenant, &call_id).await?.is_some() {
        return Ok(Arrival::Take);
    }
    let until = received_at + deps.config.metadata_wait;
    if now < until {
        return Ok(Arrival::AwaitMetadata { until });
    }
    Err(Error::validation(format!(
        "{}; none came within {} after the file",
        no_lead(stem, &metadata),
        wait_text(deps.config.metadata_wait)
    )))
}

fn wait_text(wait: std::time::Duration) -> String {
    match wait.as_secs() {
        s if s >= 120 => format!("{} minutes", s / 60),
        1 => "1 second".to_owned(),
        s => format!("{s} seconds"),
    }
}

/// The deadline of a file that waited for its sidecar (`Job::AwaitMetadata`, delivered when
/// the wait is over): nothing to do when its call was registered meanwhile; else the file is
/// refused with the reason, a permanent failure the runtime makes visible (on AWS the
/// dead-letter queue, with the reason, and the failure metric).
pub async fn metadata_deadline(
    deps: &Deps,
    tenant: &TenantId,
    file_name: &str,
    received_at: DateTime<Utc>,
) -> Result<()> {
    let stem = formats::stem(file_name);
    // As of the deadline, whatever the clocks say: the queue delivers it when it is due.
    let due = received_at + deps.config.metadata_wait;
    // A file that waited said nothing of its lead itself (not even a Gong document's parties).
    match arrival(
        deps,
        tenant,
        stem,
        None,
        None,
        received_at,
        due.max(Utc::now()),
    )
    .await
    {
        Err(e) => Err(e.context(format!("`{}`", redact(file_name)))),
        Ok(_) => Ok(()),
    }
}

fn no_lead(source_name: &str, m: &CallMetadata) -> String {
    let role = if m.direction.unwrap_or_default() == Direction::Inbound {
        "caller"
    } else {
        "callee"
    };
    format!(
        "cannot tell who the lead is on call `{source_name}`: no {role} number in a sidecar \
         (`{source_name}.meta.json` with \"{role}\") or in the file name \
         (e.g. `20261102T141503Z_+14155550134_inbound.vtt`)"
    )
}

/// Register (or find) the call for `metadata` and attach `artifact` to it.
pub async fn register(
    deps: &Deps,
    tenant: &TenantId,
    source_name: &str,
    metadata: CallMetadata,
    artifact: Artifact,
    received_at: DateTime<Utc>,
) -> Result<IngestReport> {
    // The stem names the call, so every part of it meets on one call whether or not each part
    // came with its sidecar.
    let call_id = keys::call_of_stem(tenant, source_name);
    // Concurrent deliveries of one call race on its version: the losers re-read, and then
    // find the work done (a duplicate) or still to do.
    let mut tries = 0;
    let mut created_here = false;
    let (call, outcome) = loop {
        let mut call = match deps.calls.get_call(tenant, &call_id).await? {
            Some(existing) => existing,
            None => {
                let (call, created) = create_call(
                    deps,
                    tenant,
                    call_id.clone(),
                    source_name,
                    &metadata,
                    received_at,
                )
                .await?;
                created_here |= created;
                call
            }
        };
        // Count the call on its lead; idempotent, so a retry after a crash finishes the job.
        deps.leads
            .note_call(tenant, &call.lead_id, &call.call_id, call.call_start_time)
            .await?;
        match attach(deps, &mut call, &artifact).await {
            Ok(attached) => {
                let outcome = match (created_here, attached) {
                    (true, _) => Outcome::Created,
                    (false, true) => Outcome::Attached,
                    (false, false) => Outcome::Duplicate,
                };
                break (call, outcome);
            }
            Err(Error::Concurrent(_)) if tries < 5 => tries += 1,
            Err(e) => return Err(e),
        }
    };
    // Re-drive the next stage when this delivery changed nothing: an earlier delivery may have
    // stopped between storing the call and queueing its job, and this one finishes the job.
    // A delivery that attached its file queued the next stage itself; queueing it again
    // would cost a second message, which SQS (unlike the embedded queue) keeps.
    if outcome == Outcome::Duplicate {
        match call.status {
            CallStatus::Transcribed => deps.queue.send(&Job::analyze(&call)).await?,
            CallStatus::Analyzed => deps.queue.send(&Job::score_new_call(&call)).await?,
            _ => {}
        }
    }
    if outcome == Outcome::Created {
        super::usage::count(deps, tenant, Counter::CallsIngested, 1).await;
    }
    info!(call_id = %call.call_id, lead_id = %call.lead_id, ?outcome, status = call.status.as_str(), "ingested");
    Ok(IngestReport { outcome, call })
}

/// A file that cannot be taken (too large, a format no engine reads): the call it was for is
/// registered and marked failed with `reason`, so the failure shows where people look. A call
/// that already has its transcript, or failed already, is left alone. Without a lead to attach the call to there
/// is no call; the caller logs the rejection. Returns the failed call, if any.
pub async fn reject(
    deps: &Deps,
    tenant: &TenantId,
    source_name: &str,
    metadata: &CallMetadata,
    reason: &str,
    received_at: DateTime<Utc>,
) -> Result<Option<Call>> {
    let call_id = keys::call_of_stem(tenant, source_name);
    let call = match deps.calls.get_call(tenant, &call_id).await? {
        Some(call) => call,
        None => {
            match create_call(deps, tenant, call_id, source_name, metadata, received_at).await {
                Ok((call, _)) => call,
                Err(Error::Validation(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    deps.leads
        .note_call(tenant, &call.lead_id, &call.call_id, call.call_start_time)
        .await?;
    // A call with its transcript is fine; one that failed already says why.
    if call.transcript_key.is_some() || call.status == CallStatus::Failed {
        return Ok(Some(call));
    }
    super::mark_failed(deps, tenant, &call.call_id, Stage::Ingest, reason).await?;
    deps.calls.get_call(tenant, &call.call_id).await
}

async fn create_call(
    deps: &Deps,
    tenant: &TenantId,
    call_id: CallId,
    source_name: &str,
    m: &CallMetadata,
    received_at: DateTime<Utc>,
) -> Result<(Call, bool)> {
    let direction = m.direction.unwrap_or_default();
    let Some(lead_phone) = m.lead_phone() else {
        return Err(Error::validation(no_lead(source_name, m)));
    };
    let details = NewLead {
        phone_number: lead_phone.to_string(),
        first_name: m.first_name.clone(),
        last_name: m.last_name.clone(),
        company: m.company.clone(),
        email: m.email.clone(),
        source: Some(m.source.clone().unwrap_or_else(|| "call".to_owned())),
        crm_lead_status: None,
        crm: Default::default(),
    };
    details.validate(&deps.config.default_region)?;
    let lead = super::lead_for(deps, tenant, &lead_phone, &details).await?;
    let now = Utc::now();
    let call = Call {
        tenant_id: tenant.clone(),
        call_id: call_id.clone(),
        lead_id: lead.lead_id,
        call_start_time: m.started_at.unwrap_or(received_at),
        call_duration: m.duration_seconds,
        direction,
        caller: m.caller.clone().unwrap_or_else(|| lead_phone.clone()),
        callee: m.callee.clone(),
        external_id: m.external_id.clone(),
        source_name: source_name.to_owned(),
        recording_key: None,
        recording_sha256: None,
        transcript_source_key: None,
        transcript_sha256: None,
        transcript_key: None,
        status: CallStatus::Received,
        status_detail: None,
        failed_stage: None,
        agent_speaker: m.agent_speaker.clone(),
        analysis: None,
        pii_masked: 0,
        sentiment_score: None,
        keywords: Vec::new(),
        attributes: m.attributes.clone(),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    if deps.calls.insert_call(&call).await? {
        Ok((call, true))
    } else {
        // Someone else registered it between our read and write: theirs stands.
        let existing = deps
            .calls
            .get_call(tenant, &call_id)
            .await?
            .ok_or_else(|| {
                Error::internal(
                    "a call vanished after its insert conflicted",
                    format!("call {call_id}"),
                )
            })?;
        Ok((existing, false))
    }
}

/// Set a call's status for how its speech engine answered. Where the engine runs here, the
/// job to queue once the call is stored (queued earlier, a worker could finish it first and
/// have its result overwritten).
fn begin_transcription(call: &mut Call, key: &str, start: TranscriptionStart) -> Option<Job> {
    match start {
        TranscriptionStart::Started { job_name } => {
            call.set_status(
                CallStatus::Transcribing,
                Some(format!("transcription job {job_name} is running")),
            );
            None
        }
        TranscriptionStart::RunHere => {
            call.set_status(
                CallStatus::Transcribing,
                Some("transcribing with the local speech engine".to_owned()),
            );
            Some(Job::Transcribe {
                tenant_id: call.tenant_id.clone(),
                call_id: call.call_id.clone(),
                media_key: key.to_owned(),
            })
        }
        TranscriptionStart::Unavailable { reason } => {
            call.set_status(CallStatus::AwaitingTranscript, Some(reason));
            None
        }
    }
}

/// Store the call, then queue its transcription job if it has one.
async fn store_then_queue(deps: &Deps, call: &mut Call, job: Option<Job>) -> Result<()> {
    *call = deps.calls.update_call(call).await?;
    if let Some(job) = job {
        deps.queue.send(&job).await?;
    }
    Ok(())
}

/// Attach the artifact; returns whether anything changed.
async fn attach(deps: &Deps, call: &mut Call, artifact: &Artifact) -> Result<bool> {
    let digest = artifact.digest();
    let tenant = call.tenant_id.clone();
    match artifact {
        Artifact::Audio { file_name, media } => {
            match &call.recording_sha256 {
                // Delivered again while it waits for a speech engine: if one is here now
                // (installed since), start it.
                Some(d)
                    if *d == digest
                        && call.status == CallStatus::AwaitingTranscript
                        && call.transcript_key.is_none() =>
                {
                    let Some(key) = call.recording_key.clone() else {
                        return Ok(false);
                    };
                    match deps.transcriber.start(call, &key).await? {
                        TranscriptionStart::Unavailable { .. } => return Ok(false),
                        start => {
                            let job = begin_transcription(call, &key, start);
                            store_then_queue(deps, call, job).await?;
                            return Ok(true);
                        }
                    }
                }
                Some(d) if *d == digest => return Ok(false),
                Some(_) => {
                    return Err(Error::conflict(format!(
                        "call `{}` already has a different recording; give the new one another name to add it as a new call",
                        call.source_name
                    )));
                }
                None => {}
            }
            let key = match media {
                Media::Bytes(content) => {
                    let key = keys::recording(&tenant, &call.call_id, file_name);
                    deps.blobs.put(&key, content).await?;
                    key
                }
                Media::Stored { key, .. } => key.clone(),
            };
            call.recording_key = Some(key.clone());
            call.recording_sha256 = Some(digest);
            let waiting_for_audio = call.transcript_key.is_none()
                && matches!(
                    call.status,
                    CallStatus::Received | CallStatus::AwaitingTranscript | CallStatus::Failed
                );
            let mut job = None;
            if waiting_for_audio {
                let start = deps.transcriber.start(call, &key).await?;
                job = begin_transcription(call, &key, start);
            }
            store_then_queue(deps, call, job).await?;
            Ok(true)
        }
        Artifact::Transcript {
            file_name,
            format,
            content,
        } => {
            let replacing_failed =
                call.failed_stage == Some(Stage::Transcribe) && call.status == CallStatus::Failed;
            match &call.transcript_sha256 {
                Some(d) if *d == digest => return Ok(false),
                Some(_) if !replacing_failed => {
                    return Err(Error::conflict(format!(
                        "call `{}` already has a different transcript; give the new one another name to add it as a new call",
                        call.source_name
                    )));
                }
                _ => {}
            }
            // The file as delivered is kept only where the tenant allows unredacted text.
            if deps.config.keep_original_transcripts {
                let source_key = keys::transcript_source(&tenant, &call.call_id, file_name);
                deps.blobs.put(&source_key, content).await?;
                call.transcript_source_key = Some(source_key);
            }
            call.transcript_sha256 = Some(digest);
            accept_transcript(deps, call, file_name, *format, content).await?;
            Ok(true)
        }
    }
}

/// Normalise a transcript onto a call and queue its analysis; a transcript that does not parse
/// fails the call with the parser's reason. Used by ingest and by the `transcribed` stage.
pub async fn accept_transcript(
    deps: &Deps,
    call: &mut Call,
    file_name: &str,
    format: TranscriptFormat,
    content: &[u8],
) -> Result<()> {
    match formats::parse_transcript(format, content) {
        Ok(mut transcript) => {
            let masked = if deps.config.keep_original_transcripts {
                0
            } else {
                redact_transcript(&mut transcript)
            };
            let key = keys::transcript(&call.tenant_id, &call.call_id);
            deps.blobs
                .put(&key, &serde_json::to_vec(&transcript)?)
                .await?;
            call.transcript_key = Some(key);
            call.pii_masked = masked as u32;
            if call.call_duration.is_none() {
                call.call_duration = Some((transcript.duration() * 10.0).round() / 10.0);
            }
            call.set_status(
                CallStatus::Transcribed,
                Some(format!(
                    "{} transcript, {} segments{}",
                    format.label(),
                    transcript.segments.len(),
                    match masked {
                        0 => String::new(),
                        n => format!(", {n} PII items masked"),
                    }
                )),
            );
            *call = deps.calls.update_call(call).await?;
            deps.queue.send(&Job::analyze(call)).await
        }
        Err(e) => {
            call.fail(
                Stage::Transcribe,
                format!(
                    "`{file_name}` is not a readable {} transcript: {e}",
                    format.label()
                ),
            );
            *call = deps.calls.update_call(call).await?;
            let failed = super::webhooks::call_failed(call, call.updated_at);
            super::webhooks::emit_or_log(deps, &call.tenant_id, &[failed]).await;
            Err(e.context(format!("`{file_name}`")))
        }
    }
}
