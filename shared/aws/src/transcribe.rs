//! Amazon Transcribe: one batch job per recording, named after the call so that a repeated
//! start is refused by Transcribe itself, writing its output into the bucket where the
//! `transcribed` function picks it up.

use async_trait::async_trait;
use aws_sdk_transcribe::Client;
use aws_sdk_transcribe::operation::delete_transcription_job::DeleteTranscriptionJobError;
use aws_sdk_transcribe::operation::start_transcription_job::StartTranscriptionJobError;
use aws_sdk_transcribe::types::{
    ContentRedaction, LanguageCode, Media, MediaFormat, RedactionOutput, RedactionType, Settings,
};
use tracing::{info, instrument};

use super::sdk_error;
use shared::domain::Call;
use shared::error::{Error, Result};
use shared::formats::audio;
use shared::keys;
use shared::ports::{Transcriber, TranscriptionStart};

#[derive(Clone)]
pub struct AmazonTranscribe {
    client: Client,
    s3: aws_sdk_s3::Client,
    bucket: String,
    language: LanguageCode,
    redact_pii: bool,
}

impl AmazonTranscribe {
    pub fn new(
        client: Client,
        s3: aws_sdk_s3::Client,
        bucket: String,
        language: &str,
        redact_pii: bool,
    ) -> Self {
        Self {
            client,
            s3,
            bucket,
            language: LanguageCode::from(language),
            redact_pii,
        }
    }

    /// The channel count, from the first 64 KiB of the recording (WAV and FLAC say; for the
    /// other formats it is unknown and speakers are told apart by voice).
    async fn channels(&self, key: &str) -> Option<u16> {
        let head = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range("bytes=0-65535")
            .send()
            .await
            .ok()?;
        let bytes = head.body.collect().await.ok()?.into_bytes();
        audio::channels(&bytes)
    }
}

impl AmazonTranscribe {
    /// Why a job failed, as Transcribe recorded it (`None` when it gave no reason).
    pub async fn failure_reason(&self, job_name: &str) -> Result<Option<String>> {
        let out = self
            .client
            .get_transcription_job()
            .transcription_job_name(job_name)
            .send()
            .await
            .map_err(|e| sdk_error("Transcribe GetTranscriptionJob", e))?;
        Ok(out
            .transcription_job()
            .and_then(|j| j.failure_reason())
            .map(str::to_owned))
    }
}

/// Transcribe's media format for a file name, or a clear refusal.
pub fn media_format(key: &str) -> Result<MediaFormat> {
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "wav" => MediaFormat::Wav,
        "mp3" => MediaFormat::Mp3,
        "mp4" => MediaFormat::Mp4,
        "m4a" => MediaFormat::M4A,
        "flac" => MediaFormat::Flac,
        "ogg" | "opus" => MediaFormat::Ogg,
        "webm" => MediaFormat::Webm,
        "amr" => MediaFormat::Amr,
        other => {
            return Err(Error::validation(format!(
                "`{other}` recordings cannot be transcribed; Amazon Transcribe takes wav, mp3, \
                 mp4, m4a, flac, ogg, webm and amr"
            )));
        }
    })
}

#[async_trait]
impl Transcriber for AmazonTranscribe {
    #[instrument(name = "transcribe.start", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id, media_key = %media_key))]
    async fn start(&self, call: &Call, media_key: &str) -> Result<TranscriptionStart> {
        let format = media_format(media_key)?;
        let name = keys::transcription_job(&call.tenant_id, &call.call_id);
        let channels = self.channels(media_key).await;
        // Two channels: one party on each, which tells agent from caller best. Otherwise
        // Transcribe tells the two voices apart.
        let settings = if channels == Some(2) {
            Settings::builder().channel_identification(true).build()
        } else {
            Settings::builder()
                .show_speaker_labels(true)
                .max_speaker_labels(2)
                .build()
        };
        let mut request = self
            .client
            .start_transcription_job()
            .transcription_job_name(&name)
            .language_code(self.language.clone())
            .media_format(format)
            .media(
                Media::builder()
                    .media_file_uri(format!("s3://{}/{media_key}", self.bucket))
                    .build(),
            )
            .output_bucket_name(&self.bucket)
            .output_key(keys::transcribe_output(&call.tenant_id, &call.call_id))
            .settings(settings);
        if self.redact_pii {
            request = request.content_redaction(
                ContentRedaction::builder()
                    .redaction_type(RedactionType::Pii)
                    .redaction_output(RedactionOutput::Redacted)
                    .build()
                    .map_err(|e| Error::internal("the redaction settings are incomplete", e))?,
            );
        }
        match request.send().await {
            Ok(_) => {
                info!(job = %name, ?channels, "transcription job started");
                Ok(TranscriptionStart::Started { job_name: name })
            }
            // The job exists: an earlier delivery started it, and its result will arrive.
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(StartTranscriptionJobError::ConflictException(_))
                ) =>
            {
                info!(job = %name, "transcription job was already started");
                Ok(TranscriptionStart::Started { job_name: name })
            }
            Err(err) => match err.as_service_error() {
                Some(StartTranscriptionJobError::BadRequestException(e)) => {
                    Err(Error::validation(format!(
                        "Amazon Transcribe refused the recording: {}",
                        e.message().unwrap_or("bad request")
                    )))
                }
                _ => Err(sdk_error("Transcribe StartTranscriptionJob", err)),
            },
        }
    }

    /// Transcribe keeps a job's record (with the recording's key) for 90 days: an erased call
    /// takes its job with it. A job never started (or deleted before) is not an error
    /// (Transcribe answers BadRequest for a name it does not know).
    #[instrument(name = "transcribe.forget", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn forget(&self, call: &Call) -> Result<()> {
        let name = keys::transcription_job(&call.tenant_id, &call.call_id);
        match self
            .client
            .delete_transcription_job()
            .transcription_job_name(&name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(DeleteTranscriptionJobError::BadRequestException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(sdk_error("Transcribe DeleteTranscriptionJob", err)),
        }
    }
}
