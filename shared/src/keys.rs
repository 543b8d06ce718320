//! Every name the product gives a stored thing, in one place: blob keys (the bucket on AWS,
//! `blobs/` in a data folder), speech-engine job names, and the identities ids are derived
//! from. A key's layout is a promise to the IAM policies in `infra/template.yaml` (which grant
//! by prefix) and to data already stored, so it changes here or nowhere.
//!
//! ```text
//! recordings/<tenant>/<file>                 a drop: recording, transcript or .meta.json sidecar
//! recordings/<tenant>/<call>/<file>          a recording stored with its call
//! transcripts/<tenant>/<call>/transcript.json      the normalised, redacted transcript
//! transcripts/<tenant>/<call>/source/<file>        the file as delivered (when kept)
//! transcripts/<tenant>/<call>/transcribe.json      Amazon Transcribe's output
//! transcripts/<tenant>/<call>/speech.json          the local speech engine's output
//! models/<tenant>/v000001.json, current.json       trained models and the one in force
//! settings/<tenant>.json                           the tenant's settings
//! rescores/<tenant>/<id>.json                      a background re-score's progress
//! ```

use crate::domain::{CallId, TenantId};
use crate::error::{Error, Result};

/// Where files are dropped (the bucket's trigger prefix).
pub const DROPS: &str = "recordings/";

/// A dropped file: `recordings/<tenant>/<file>`.
pub fn drop(tenant: &TenantId, file_name: &str) -> String {
    format!("{DROPS}{tenant}/{file_name}")
}

/// The dropped files of one stem (`call-7.` finds `call-7.wav` and `call-7.meta.json`).
pub fn drops_of_stem(tenant: &TenantId, stem: &str) -> String {
    format!("{DROPS}{tenant}/{stem}.")
}

/// The tenant and file name of a dropped file's key.
pub fn parse_drop(key: &str) -> Result<(TenantId, &str)> {
    let rest = key.strip_prefix(DROPS).ok_or_else(|| {
        Error::validation(format!(
            "`{key}` is not under {DROPS}; recordings go to {DROPS}<tenant>/<file>"
        ))
    })?;
    match rest.split('/').collect::<Vec<_>>()[..] {
        [tenant, file] if !file.is_empty() => Ok((
            TenantId::parse(tenant).map_err(|e| e.context(format!("`{key}`")))?,
            file,
        )),
        _ => Err(Error::validation(format!(
            "`{key}` is not of the form {DROPS}<tenant>/<file>"
        ))),
    }
}

/// Whether `key` is a recording kept with its call (`recording`), not a dropped file: what
/// the bucket's drop trigger sees when a fetched recording (from Twilio) is stored.
pub fn is_kept_recording(key: &str) -> bool {
    key.strip_prefix(DROPS)
        .is_some_and(|rest| rest.split('/').count() == 3)
}

/// A recording kept with its call.
pub fn recording(tenant: &TenantId, call: &CallId, file_name: &str) -> String {
    format!("{DROPS}{tenant}/{call}/{}", safe_name(file_name))
}

/// A call's normalised transcript.
pub fn transcript(tenant: &TenantId, call: &CallId) -> String {
    format!("transcripts/{tenant}/{call}/transcript.json")
}

/// A transcript file as it was delivered (kept only where the tenant allows unredacted text).
pub fn transcript_source(tenant: &TenantId, call: &CallId, file_name: &str) -> String {
    format!(
        "transcripts/{tenant}/{call}/source/{}",
        safe_name(file_name)
    )
}

/// Where Amazon Transcribe writes a call's transcript.
pub fn transcribe_output(tenant: &TenantId, call: &CallId) -> String {
    format!("transcripts/{tenant}/{call}/transcribe.json")
}

/// Where the local speech engine's transcript of a call is kept.
pub fn speech_output(tenant: &TenantId, call: &CallId) -> String {
    format!("transcripts/{tenant}/{call}/speech.json")
}

/// The pointer to a tenant's model in force.
pub fn current_model(tenant: &TenantId) -> String {
    format!("models/{tenant}/current.json")
}

/// A tenant's trained model, by version.
pub fn model(tenant: &TenantId, version: u64) -> String {
    format!("models/{tenant}/v{version:06}.json")
}

/// A tenant's settings.
pub fn settings(tenant: &TenantId) -> String {
    format!("settings/{tenant}.json")
}

/// A background re-score's progress.
pub fn rescore(tenant: &TenantId, id: &str) -> String {
    format!("rescores/{tenant}/{id}.json")
}

/// The speech engine's job name for a call: `<tenant>--<call id>` (Transcribe job names are
/// unique per account, so a second start of the same call is refused).
pub fn transcription_job(tenant: &TenantId, call: &CallId) -> String {
    format!("{tenant}--{call}")
}

/// The tenant and call a job name was made for.
pub fn parse_transcription_job(name: &str) -> Result<(TenantId, CallId)> {
    let (tenant, call) = name.rsplit_once("--").ok_or_else(|| {
        Error::validation(format!(
            "transcription job `{name}` was not started by leadscore (no `<tenant>--<call>`)"
        ))
    })?;
    Ok((TenantId::parse(tenant)?, CallId::parse(call)?))
}

/// The call a dropped file belongs to: its stem names it, so a recording, its transcript and
/// its sidecar meet on one call whichever arrives first, and a redelivery finds the same call.
pub fn call_of_stem(tenant: &TenantId, stem: &str) -> CallId {
    CallId::derive(tenant, &format!("name:{stem}"))
}

/// A file name as a key's last part: letters, digits and `._-+` kept, anything else `_`, no
/// leading dots, at most 150 characters.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "file".to_owned()
    } else {
        trimmed.chars().take(150).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_name_gives_back_its_tenant_and_call() {
        let tenant = TenantId::parse("acme").unwrap();
        let call = call_of_stem(&tenant, "call-7");
        let name = transcription_job(&tenant, &call);
        assert_eq!(parse_transcription_job(&name).unwrap(), (tenant, call));
        assert!(parse_transcription_job("someone-elses-job").is_err());
    }

    #[test]
    fn file_names_cannot_leave_their_folder() {
        let tenant = TenantId::parse("acme").unwrap();
        let call = call_of_stem(&tenant, "x");
        assert_eq!(
            recording(&tenant, &call, "../../etc/passwd"),
            format!("recordings/acme/{call}/_.._etc_passwd")
        );
        assert_eq!(
            transcript_source(&tenant, &call, "..."),
            format!("transcripts/acme/{call}/source/file")
        );
    }
}
