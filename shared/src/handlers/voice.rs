//! Calls recorded at Twilio: the recording's status callback (`POST /twilio/{tenant}/recording`,
//! signed, checked by the API) queues `Job::FetchRecording`; the job reads the call from
//! Twilio's Call resource, fetches the recording, and takes it in as the call's audio through
//! `ingest::register`, as if the file had been dropped with its sidecar. The call is named by
//! the recording (`twilio-<RecordingSid>`), so a redelivered callback or job finds it and
//! changes nothing.

use chrono::Utc;
use tracing::{info, instrument};

use crate::Deps;
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::keys;
use crate::ports::Job;
use crate::voice::{
    self, Account, CallResource, MAX_RECORDING_BYTES, MediaFormat, RecordingCallback,
};

use super::ingest::{self, Artifact, Media};
use super::sms::TwilioAccount;

/// How long a recording's download may take: within the webhooks function's 60 s.
pub const DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

/// The name of the call a Twilio recording becomes.
pub fn stem(recording_sid: &str) -> String {
    format!("twilio-{recording_sid}")
}

/// A recording status callback whose signature held. A recording that is not `completed`
/// (`absent`: nothing was recorded) is noted and left; one already taken in is left too.
#[instrument(skip_all, fields(tenant = %tenant, recording = %callback.recording_sid))]
pub async fn recording_status(
    deps: &Deps,
    tenant: &TenantId,
    callback: RecordingCallback,
) -> Result<()> {
    if callback.status != "completed" {
        info!(status = %callback.status, error_code = ?callback.error_code, "a recording that is not ready is not fetched");
        return Ok(());
    }
    let call_id = keys::call_of_stem(tenant, &stem(&callback.recording_sid));
    if let Some(call) = deps.calls.get_call(tenant, &call_id).await?
        && call.recording_key.is_some()
    {
        info!(call_id = %call.call_id, "the recording is here already");
        return Ok(());
    }
    deps.queue
        .send(&Job::FetchRecording {
            tenant_id: tenant.clone(),
            account_sid: callback.account_sid,
            call_sid: callback.call_sid,
            recording_sid: callback.recording_sid,
            channels: callback.channels,
            duration_seconds: callback.duration_seconds,
        })
        .await
}

/// What `Job::FetchRecording` carries.
pub struct Fetch<'a> {
    pub account_sid: &'a str,
    pub call_sid: &'a str,
    pub recording_sid: &'a str,
    pub channels: u8,
    pub duration_seconds: Option<u32>,
}

/// `Job::FetchRecording`: the call from Twilio, the recording, the call registered with its
/// audio; then, when the tenant asks, the recording deleted at Twilio. A Twilio outage is
/// `Transient` (the queue retries); a refusal (credentials, a recording gone) is permanent and
/// named.
#[instrument(skip_all, fields(tenant = %tenant, recording = %job.recording_sid))]
pub async fn fetch(deps: &Deps, tenant: &TenantId, job: Fetch<'_>) -> Result<()> {
    let saved = TwilioAccount::load(deps, tenant).await?.ok_or_else(|| {
        Error::validation(
            "the tenant has no Twilio account saved (PUT /settings/twilio): the recording \
             cannot be fetched",
        )
    })?;
    if let Some(want) = &saved.account_sid
        && want != job.account_sid
    {
        return Err(Error::validation(format!(
            "the recording is of account {}, not the tenant's",
            job.account_sid
        )));
    }
    let account = Account {
        base: &deps.config.twilio_api_url,
        account_sid: job.account_sid,
        auth_token: &saved.auth_token,
    };
    let name = stem(job.recording_sid);
    let call_id = keys::call_of_stem(tenant, &name);
    let stored = deps
        .calls
        .get_call(tenant, &call_id)
        .await?
        .is_some_and(|c| c.recording_key.is_some());
    if !stored {
        let answer = deps
            .http
            .send(&account.call(job.call_sid))
            .await
            .map_err(|e| Error::transient(format!("Twilio's call {}", job.call_sid), e))?;
        let metadata = CallResource::parse(&answer)?.metadata(
            job.call_sid,
            job.channels,
            &deps.config.default_region,
        )?;
        let format = MediaFormat::for_recording(job.duration_seconds, job.channels);
        let media = deps
            .http
            .download(
                &account.media(job.recording_sid, format, job.channels),
                MAX_RECORDING_BYTES,
                DOWNLOAD_TIMEOUT,
            )
            .await
            .map_err(|e| {
                if e.starts_with("the file is longer") {
                    Error::validation(format!("recording {}: {e}", job.recording_sid))
                } else {
                    Error::transient(format!("Twilio's recording {}", job.recording_sid), e)
                }
            })?;
        if !(200..300).contains(&media.status) {
            return Err(voice::problem(
                "the recording's download",
                &crate::ports::VendorResponse::new(
                    media.status,
                    String::from_utf8_lossy(&media.bytes),
                ),
            ));
        }
        let artifact = Artifact::Audio {
            file_name: format!("{name}.{}", format.extension()),
            media: Media::Bytes(media.bytes),
        };
        let report = ingest::register(deps, tenant, &name, metadata, artifact, Utc::now()).await?;
        info!(call_id = %report.call.call_id, outcome = ?report.outcome, "a Twilio recording taken in");
    }
    if super::settings::load(deps, tenant)
        .await?
        .twilio_recordings
        .delete_at_twilio
    {
        let answer = deps
            .http
            .send(&account.delete(job.recording_sid))
            .await
            .map_err(|e| {
                Error::transient(format!("Twilio's recording {}", job.recording_sid), e)
            })?;
        // 404: deleted by an earlier delivery of this job.
        if !(200..300).contains(&answer.status) && answer.status != 404 {
            return Err(voice::problem("the recording's deletion", &answer));
        }
        info!("the recording is deleted at Twilio");
    }
    Ok(())
}
