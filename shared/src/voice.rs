//! Twilio Voice: a call's recording, fetched when Twilio says it is ready. Built from Twilio's
//! reference (twilio.com/docs/voice/api/recording, /docs/voice/api/call-resource,
//! /docs/voice/twiml/recording):
//!
//! - The `RecordingStatusCallback` (a signed form): `AccountSid`, `CallSid` (always the parent
//!   leg of a two-leg call), `RecordingSid`, `RecordingStatus` (`in-progress`, `completed`,
//!   `absent`), `RecordingChannels` (1 or 2), `RecordingDuration` (seconds), `ErrorCode`.
//! - The Call resource, `GET {base}/2010-04-01/Accounts/{AC}/Calls/{CA}.json`: `from`, `to`,
//!   `direction` (`inbound`, `outbound-api`, `outbound-dial`), `start_time` (RFC 2822).
//! - The media, `GET .../Recordings/{RE}.wav` (`.mp3` for long ones), with `RequestedChannels`
//!   so a dual-channel recording comes as two channels.
//! - `DELETE .../Recordings/{RE}.json`: 204.
//!
//! Every request is basic-authenticated with the account SID and the tenant's auth token.
//!
//! Which channel is the agent's: a dual-channel recording holds the parent leg's party on its
//! first channel (`ch_0`) and everyone else on the second. On an inbound call from a phone the
//! parent leg is the caller, the lead, so the agent is `ch_1`; on an outbound call the parent
//! leg is the number called, the lead again, so the agent is `ch_1`; on an inbound call from
//! a Twilio Client or SIP endpoint (an agent's softphone calling out through the account) the
//! parent leg is the agent, `ch_0`, and the lead is the number it dialled (`to`).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{Direction, PhoneNumber};
use crate::error::{Error, Result};
use crate::formats::CallMetadata;
use crate::ports::{VendorRequest, VendorResponse};

/// The largest recording fetched: 64 MiB, what the webhooks function holds in memory with room
/// to spare (256 MB). A WAV of 8 kHz, 16-bit audio is 16 kB a second a channel, so a
/// dual-channel WAV reaches it at about 35 minutes; longer recordings are fetched as MP3
/// (Twilio's MP3 is about a tenth of the size), and one that is still larger is refused with
/// its size named.
pub const MAX_RECORDING_BYTES: usize = 64 << 20;

/// A recording's status callback, as Twilio posts it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingCallback {
    pub account_sid: String,
    pub call_sid: String,
    pub recording_sid: String,
    /// `completed` when the media is ready; `absent` when nothing was recorded.
    pub status: String,
    pub channels: u8,
    pub duration_seconds: Option<u32>,
    pub error_code: Option<String>,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A Twilio SID: two letters (`prefix`) and 32 hex digits.
fn sid(params: &[(String, String)], name: &str, prefix: &str) -> Result<String> {
    let value = param(params, name).ok_or_else(|| {
        Error::validation(format!(
            "{name}: missing; is this Twilio's recording status callback?"
        ))
    })?;
    let ok = value.len() == 34
        && value.starts_with(prefix)
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(Error::validation(format!(
            "{name}: `{}` is not a Twilio {prefix} id ({prefix} and 32 hex digits)",
            value.chars().take(40).collect::<String>()
        )));
    }
    Ok(value.to_owned())
}

impl RecordingCallback {
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        let status = param(params, "RecordingStatus")
            .filter(|s| s.len() <= 20 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
            .ok_or_else(|| Error::validation("RecordingStatus: missing or not a status"))?;
        let channels = match param(params, "RecordingChannels") {
            None => 1,
            Some("1") => 1,
            Some("2") => 2,
            Some(other) => {
                return Err(Error::validation(format!(
                    "RecordingChannels: `{}` is not 1 or 2",
                    other.chars().take(10).collect::<String>()
                )));
            }
        };
        let duration_seconds = match param(params, "RecordingDuration") {
            None => None,
            Some(d) => Some(d.parse::<u32>().map_err(|_| {
                Error::validation(format!(
                    "RecordingDuration: `{}` is not a number of seconds",
                    d.chars().take(20).collect::<String>()
                ))
            })?),
        };
        Ok(Self {
            account_sid: sid(params, "AccountSid", "AC")?,
            call_sid: sid(params, "CallSid", "CA")?,
            recording_sid: sid(params, "RecordingSid", "RE")?,
            status: status.to_owned(),
            channels,
            duration_seconds,
            error_code: param(params, "ErrorCode")
                .filter(|c| *c != "0")
                .map(|c| c.chars().take(10).collect()),
        })
    }
}

/// The account a request goes to and how it authenticates.
pub struct Account<'a> {
    pub base: &'a str,
    pub account_sid: &'a str,
    pub auth_token: &'a str,
}

impl Account<'_> {
    fn request(&self, method: &'static str, path: &str, accept: &str) -> VendorRequest {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.account_sid, self.auth_token));
        VendorRequest {
            method,
            url: format!(
                "{}/2010-04-01/Accounts/{}/{path}",
                self.base.trim_end_matches('/'),
                self.account_sid
            ),
            headers: vec![
                ("authorization", format!("Basic {basic}")),
                ("accept", accept.to_owned()),
            ],
            body: None,
        }
    }

    /// The Call resource of `call_sid`.
    pub fn call(&self, call_sid: &str) -> VendorRequest {
        self.request("GET", &format!("Calls/{call_sid}.json"), "application/json")
    }

    /// The media of `recording_sid` in `format`, with all its channels.
    pub fn media(&self, recording_sid: &str, format: MediaFormat, channels: u8) -> VendorRequest {
        let (ext, mime) = match format {
            MediaFormat::Wav => ("wav", "audio/x-wav"),
            MediaFormat::Mp3 => ("mp3", "audio/mpeg"),
        };
        self.request(
            "GET",
            &format!("Recordings/{recording_sid}.{ext}?RequestedChannels={channels}"),
            mime,
        )
    }

    /// Delete `recording_sid` at Twilio.
    pub fn delete(&self, recording_sid: &str) -> VendorRequest {
        self.request(
            "DELETE",
            &format!("Recordings/{recording_sid}.json"),
            "application/json",
        )
    }
}

/// Which file of a recording to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFormat {
    Wav,
    Mp3,
}

impl MediaFormat {
    /// WAV (lossless, what speech engines read best) unless a WAV of this length would pass
    /// `MAX_RECORDING_BYTES`.
    pub fn for_recording(duration_seconds: Option<u32>, channels: u8) -> Self {
        let wav_bytes = u64::from(duration_seconds.unwrap_or(0)) * 16_000 * u64::from(channels);
        if wav_bytes + 1024 > MAX_RECORDING_BYTES as u64 {
            MediaFormat::Mp3
        } else {
            MediaFormat::Wav
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            MediaFormat::Wav => "wav",
            MediaFormat::Mp3 => "mp3",
        }
    }
}

/// Twilio's error document: `{"code", "message", "more_info", "status"}`.
pub fn problem(what: &str, response: &VendorResponse) -> Error {
    #[derive(Deserialize)]
    struct Problem {
        code: Option<u32>,
        message: Option<String>,
    }
    let detail = serde_json::from_str::<Problem>(&response.body)
        .ok()
        .map(|p| {
            format!(
                "{} (Twilio error {})",
                p.message.unwrap_or_default(),
                p.code.unwrap_or_default()
            )
        })
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    let message = format!("Twilio answered {what} with {}: {detail}", response.status);
    match response.status {
        401 | 403 => Error::validation(format!(
            "{message}; check the account SID and auth token (PUT /settings/twilio)"
        )),
        404 => Error::not_found(message),
        429 | 500.. => Error::transient(message, ""),
        _ => Error::validation(message),
    }
}

/// The parts of the Call resource a recording's call is registered with.
#[derive(Debug, Clone, Deserialize)]
pub struct CallResource {
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<String>,
    /// RFC 2822: `Tue, 10 Aug 2010 08:02:17 +0000`.
    pub start_time: Option<String>,
    pub duration: Option<String>,
}

impl CallResource {
    pub fn parse(response: &VendorResponse) -> Result<Self> {
        if !(200..300).contains(&response.status) {
            return Err(problem("the call's lookup", response));
        }
        serde_json::from_str(&response.body)
            .map_err(|e| Error::transient("Twilio's answer for the call is not a Call resource", e))
    }

    /// What the call says of itself, as a sidecar would: the two numbers, the direction, the
    /// start, the duration, the call SID as its external id, and which channel is the agent's.
    pub fn metadata(
        &self,
        call_sid: &str,
        channels: u8,
        default_region: &str,
    ) -> Result<CallMetadata> {
        let number = |field: &str, value: &Option<String>| -> Result<Option<PhoneNumber>> {
            match value.as_deref() {
                // A Twilio Client or SIP endpoint is a person at the tenant, not a number.
                None | Some("") => Ok(None),
                Some(v) if v.starts_with("client:") || v.starts_with("sip:") => Ok(None),
                Some(v) => PhoneNumber::parse_with_region(v, Some(default_region))
                    .map(Some)
                    .map_err(|e| e.context(format!("the call's `{field}`"))),
            }
        };
        let from_endpoint = self
            .from
            .as_deref()
            .is_some_and(|f| f.starts_with("client:") || f.starts_with("sip:"));
        let direction = match self.direction.as_deref() {
            Some("inbound") | None if !from_endpoint => Direction::Inbound,
            // A softphone calling out through the account: Twilio calls it inbound (the
            // endpoint called Twilio), but the lead is the number it dialled.
            Some("inbound") | None => Direction::Outbound,
            Some(d) if d.starts_with("outbound") => Direction::Outbound,
            Some(other) => {
                return Err(Error::validation(format!(
                    "the call's direction `{}` is not one Twilio documents",
                    other.chars().take(20).collect::<String>()
                )));
            }
        };
        let started_at = match self.start_time.as_deref() {
            None | Some("") => None,
            Some(t) => Some(
                DateTime::parse_from_rfc2822(t)
                    .map_err(|e| {
                        Error::validation(format!(
                            "the call's start_time `{}` is not an RFC 2822 date: {e}",
                            t.chars().take(40).collect::<String>()
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
        };
        Ok(CallMetadata {
            caller: number("from", &self.from)?,
            callee: number("to", &self.to)?,
            started_at,
            direction: Some(direction),
            duration_seconds: self.duration.as_deref().and_then(|d| d.parse().ok()),
            external_id: Some(call_sid.to_owned()),
            agent_speaker: (channels == 2)
                .then(|| if from_endpoint { "ch_0" } else { "ch_1" }.to_owned()),
            source: Some("twilio".to_owned()),
            ..CallMetadata::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const CA: &str = "CA0123456789abcdef0123456789abcdef";
    const RE: &str = "RE0123456789abcdef0123456789abcdef";

    #[test]
    fn a_callback_is_read_and_a_wrong_field_is_named() {
        let ok = params(&[
            ("AccountSid", AC),
            ("CallSid", CA),
            ("RecordingSid", RE),
            ("RecordingStatus", "completed"),
            ("RecordingChannels", "2"),
            ("RecordingDuration", "93"),
            ("ErrorCode", "0"),
        ]);
        let callback = RecordingCallback::from_params(&ok).unwrap();
        assert_eq!(callback.channels, 2);
        assert_eq!(callback.duration_seconds, Some(93));
        assert_eq!(callback.error_code, None);
        for (field, bad) in [
            ("RecordingSid", "RE../../etc"),
            ("CallSid", "SM0123456789abcdef0123456789abcdef"),
            ("RecordingChannels", "3"),
            ("RecordingDuration", "long"),
        ] {
            let mut p = ok.clone();
            p.iter_mut().find(|(k, _)| k == field).unwrap().1 = bad.to_owned();
            let err = RecordingCallback::from_params(&p).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn the_lead_and_the_agents_channel_follow_the_calls_direction() {
        let call = |from: &str, to: &str, direction: &str| CallResource {
            from: Some(from.into()),
            to: Some(to.into()),
            direction: Some(direction.into()),
            start_time: Some("Tue, 10 Aug 2010 08:02:17 +0000".into()),
            duration: Some("93".into()),
        };
        let inbound = call("+14155550134", "+14155550100", "inbound")
            .metadata(CA, 2, "US")
            .unwrap();
        assert_eq!(inbound.direction, Some(Direction::Inbound));
        assert_eq!(inbound.agent_speaker.as_deref(), Some("ch_1"));
        assert_eq!(
            inbound.started_at.unwrap().to_rfc3339(),
            "2010-08-10T08:02:17+00:00"
        );
        let outbound = call("+14155550100", "+14155550134", "outbound-api")
            .metadata(CA, 2, "US")
            .unwrap();
        assert_eq!(outbound.direction, Some(Direction::Outbound));
        assert_eq!(outbound.agent_speaker.as_deref(), Some("ch_1"));
        let softphone = call("client:maya", "+14155550134", "inbound")
            .metadata(CA, 2, "US")
            .unwrap();
        assert_eq!(softphone.direction, Some(Direction::Outbound));
        assert_eq!(softphone.caller, None);
        assert_eq!(softphone.callee.unwrap().as_str(), "+14155550134");
        assert_eq!(softphone.agent_speaker.as_deref(), Some("ch_0"));
        let mono = call("+14155550134", "+14155550100", "inbound")
            .metadata(CA, 1, "US")
            .unwrap();
        assert_eq!(mono.agent_speaker, None);

        let mut bad = call("+14155550134", "+14155550100", "inbound");
        bad.start_time = Some("2010-08-10".into());
        let err = bad.metadata(CA, 2, "US").unwrap_err().to_string();
        assert!(
            err.contains("start_time") && err.contains("RFC 2822"),
            "{err}"
        );
    }

    #[test]
    fn long_recordings_are_fetched_as_mp3() {
        assert_eq!(MediaFormat::for_recording(Some(600), 2), MediaFormat::Wav);
        assert_eq!(MediaFormat::for_recording(Some(3600), 2), MediaFormat::Mp3);
        assert_eq!(MediaFormat::for_recording(Some(3600), 1), MediaFormat::Wav);
        assert_eq!(MediaFormat::for_recording(None, 2), MediaFormat::Wav);
    }
}
