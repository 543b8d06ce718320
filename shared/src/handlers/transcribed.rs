//! Transcribed: a speech engine finished (Amazon Transcribe's "Transcribe Job State Change"
//! event on AWS; a local engine later). Load its output from the blob store and normalise it
//! onto the call, or record why transcription failed.

use tracing::{info, instrument};

use crate::Deps;
use crate::domain::{CallId, CallStatus, Counter, Stage, TenantId, TranscriptFormat};
use crate::error::{Error, Result};
use crate::handlers::ingest::accept_transcript;

/// How a transcription job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TranscriptionResult {
    /// The engine wrote its output to the blob store under `key`.
    Completed {
        key: String,
        format: TranscriptFormat,
    },
    Failed {
        reason: String,
    },
}

#[instrument(skip_all, fields(tenant = %tenant, call_id = %call_id))]
pub async fn handle(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &CallId,
    result: TranscriptionResult,
) -> Result<()> {
    for _ in 0..5 {
        let mut call = deps
            .calls
            .get_call(tenant, call_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("call {call_id}")))?;
        if call.transcript_key.is_some() {
            // Already normalised (a repeated event), or a transcript was dropped meanwhile.
            return Ok(());
        }
        let outcome = match &result {
            TranscriptionResult::Completed { key, format } => {
                let content = deps.blobs.get(key).await?;
                call.transcript_source_key = Some(key.clone());
                let name = key.rsplit('/').next().unwrap_or(key).to_owned();
                let accepted = accept_transcript(deps, &mut call, &name, *format, &content).await;
                if accepted.is_ok() {
                    // The audio's length: from the recording's metadata, else the transcript's.
                    let seconds = call.call_duration.unwrap_or(0.0).max(0.0).ceil() as u64;
                    super::usage::count(deps, tenant, Counter::AudioSecondsTranscribed, seconds)
                        .await;
                }
                accepted
            }
            TranscriptionResult::Failed { reason } => {
                if call.status != CallStatus::Failed {
                    call.fail(Stage::Transcribe, format!("transcription failed: {reason}"));
                    call = match deps.calls.update_call(&call).await {
                        Ok(stored) => stored,
                        Err(e) => {
                            if matches!(e, Error::Concurrent(_)) {
                                continue;
                            }
                            return Err(e);
                        }
                    };
                }
                // A repeated event tells subscribers again: the same event, delivered once.
                let failed = super::webhooks::call_failed(&call, call.updated_at);
                super::webhooks::emit(deps, tenant, &[failed]).await
            }
        };
        match outcome {
            Err(Error::Concurrent(_)) => continue,
            other => {
                info!(
                    status = call.status.as_str(),
                    "transcription result applied"
                );
                return other;
            }
        }
    }
    Err(Error::concurrent(format!(
        "call {call_id} kept changing; try again"
    )))
}

/// Transcribe a call's recording with the engine that runs here (local mode's `Job::Transcribe`),
/// then apply the result as any engine's: the duration from the audio where the call has none,
/// the transcript normalised onto the call, or the reason it could not be transcribed.
#[instrument(skip_all, fields(tenant = %tenant, call_id = %call_id))]
pub async fn run_here(
    deps: &Deps,
    tenant: &TenantId,
    call_id: &CallId,
    media_key: &str,
) -> Result<()> {
    let Some(call) = deps.calls.get_call(tenant, call_id).await? else {
        return Ok(());
    };
    if call.transcript_key.is_some() {
        return Ok(());
    }
    let audio = deps.blobs.get(media_key).await?;
    let extension = media_key.rsplit_once('.').map_or("", |(_, e)| e);
    let result = match deps.transcriber.transcribe(&audio, extension).await {
        Ok(speech) if speech.transcript.segments.is_empty() => TranscriptionResult::Failed {
            reason: format!(
                "no speech was heard in {:.0} seconds of audio (silence, or not a call)",
                speech.duration
            ),
        },
        Ok(speech) => {
            let duration = speech.duration;
            crate::handlers::modify_call(deps, tenant, call_id, |call| {
                let unset = call.call_duration.is_none();
                if unset {
                    call.call_duration = Some((duration * 10.0).round() / 10.0);
                }
                unset
            })
            .await?;
            let key = crate::keys::speech_output(tenant, call_id);
            deps.blobs
                .put(&key, &serde_json::to_vec(&speech.transcript)?)
                .await?;
            TranscriptionResult::Completed {
                key,
                format: TranscriptFormat::Segments,
            }
        }
        Err(Error::Validation(reason)) => TranscriptionResult::Failed { reason },
        Err(e) => return Err(e),
    };
    handle(deps, tenant, call_id, result).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::ingest::{FileDrop, ingest_file};
    use crate::local::LocalApp;

    /// A data folder with no speech engine, whatever this machine has installed.
    fn no_engine_app(dir: &std::path::Path) -> LocalApp {
        LocalApp::open(dir, crate::Config::default())
            .unwrap()
            .with_engine_store(crate::adapters::local::EngineStore::at(dir.join("engines")))
    }

    async fn waiting_call(app: &LocalApp) -> crate::domain::Call {
        let drop = FileDrop {
            tenant: TenantId::default_tenant(),
            file_name: "20261120T170000Z_+12065550177.wav".into(),
            content: b"RIFF....WAVEfmt ".to_vec(),
            sidecar: None,
            received_at: chrono::Utc::now(),
        };
        let call = ingest_file(&app.deps, drop).await.unwrap().call;
        assert_eq!(call.status, CallStatus::AwaitingTranscript);
        call
    }

    #[tokio::test]
    async fn a_completed_job_is_normalised_analysed_and_scored_once() {
        // GIVEN audio waiting for its transcript, and the engine's output in the blob store
        let dir = tempfile::tempdir().unwrap();
        let app = no_engine_app(dir.path());
        let call = waiting_call(&app).await;
        let key = format!("transcripts/default/{}/engine.json", call.call_id);
        let output = br#"{"results":{"items":[
          {"type":"pronunciation","start_time":"0.1","end_time":"0.5","speaker_label":"spk_0","alternatives":[{"content":"Brightline"}]},
          {"type":"pronunciation","start_time":"0.5","end_time":"0.9","speaker_label":"spk_0","alternatives":[{"content":"Solar."}]},
          {"type":"pronunciation","start_time":"1.5","end_time":"1.9","speaker_label":"spk_1","alternatives":[{"content":"Pricing"}]},
          {"type":"pronunciation","start_time":"1.9","end_time":"2.3","speaker_label":"spk_1","alternatives":[{"content":"please."}]}
        ]}}"#;
        app.deps.blobs.put(&key, output).await.unwrap();
        let done = TranscriptionResult::Completed {
            key,
            format: TranscriptFormat::AmazonTranscribe,
        };
        // WHEN the completion arrives, twice
        handle(&app.deps, &call.tenant_id, &call.call_id, done.clone())
            .await
            .unwrap();
        handle(&app.deps, &call.tenant_id, &call.call_id, done)
            .await
            .unwrap();
        app.worker().drain().await.unwrap();
        // THEN the call went on to be scored, once
        let stored = app
            .deps
            .calls
            .get_call(&call.tenant_id, &call.call_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, CallStatus::Scored);
        assert_eq!(stored.call_duration, Some(2.3));
        let history = app
            .deps
            .leads
            .score_history(&call.tenant_id, &call.lead_id)
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
    }

    #[tokio::test]
    async fn a_failed_job_fails_the_call_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let app = no_engine_app(dir.path());
        let call = waiting_call(&app).await;
        let failed = TranscriptionResult::Failed {
            reason: "The media format is not supported".into(),
        };
        handle(&app.deps, &call.tenant_id, &call.call_id, failed)
            .await
            .unwrap();
        let stored = app
            .deps
            .calls
            .get_call(&call.tenant_id, &call.call_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.status, stored.failed_stage),
            (CallStatus::Failed, Some(Stage::Transcribe))
        );
        assert!(
            stored
                .status_detail
                .unwrap()
                .contains("media format is not supported")
        );
        // An unknown call is reported, not invented.
        let unknown = CallId::parse("ca_unknown").unwrap();
        let err = handle(
            &app.deps,
            &call.tenant_id,
            &unknown,
            TranscriptionResult::Failed { reason: "x".into() },
        )
        .await;
        assert!(matches!(err, Err(Error::NotFound(_))));
    }
}
