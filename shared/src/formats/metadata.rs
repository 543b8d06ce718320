//! Call metadata: from a sidecar JSON file beside the recording, and failing that from the
//! file name. See the README ("Dropping calls") for both conventions.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Direction, PhoneNumber};
use crate::error::{Error, Result};

/// What is known about a call before its transcript is read. Every field is optional here;
/// ingest decides what is required.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallMetadata {
    pub caller: Option<PhoneNumber>,
    pub callee: Option<PhoneNumber>,
    pub started_at: Option<DateTime<Utc>>,
    pub direction: Option<Direction>,
    pub duration_seconds: Option<f64>,
    pub external_id: Option<String>,
    /// The speaker label or channel of the tenant's agent (`spk_0`, `ch_0`, `Maya`).
    pub agent_speaker: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub source: Option<String>,
    /// Fields not listed above, kept on the call as delivered.
    pub attributes: BTreeMap<String, Value>,
}

/// A call's metadata as a sidecar file or `POST /calls` gives it. Telephony exports' own
/// names are taken too (`from`/`To`, `start_time`, `CallSid`, `Duration`...); fields not
/// listed are kept on the call as attributes.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct Sidecar {
    /// Who called: the lead on an inbound call.
    #[serde(alias = "from", alias = "From", alias = "caller_number")]
    #[schemars(extend("examples" = ["+14155550134"]))]
    caller: Option<String>,
    /// Who was called: the lead on an outbound call.
    #[serde(alias = "to", alias = "To", alias = "callee_number")]
    callee: Option<String>,
    /// When the call started (RFC 3339).
    #[serde(alias = "start_time", alias = "call_start_time", alias = "StartTime")]
    #[schemars(extend("examples" = ["2026-11-02T14:15:03Z"]))]
    started_at: Option<String>,
    /// `inbound` (the default) or `outbound`.
    #[serde(alias = "Direction")]
    #[schemars(extend("examples" = ["inbound"]))]
    direction: Option<String>,
    /// Seconds, 0 to 86400, as a number or a string.
    #[serde(alias = "duration", alias = "call_duration", alias = "Duration")]
    #[schemars(with = "Option<f64>", range(min = 0, max = 86_400))]
    duration_seconds: Option<Value>,
    /// The call's id at its source (a telephony call SID): a second delivery with the same id
    /// is the same call.
    #[serde(alias = "call_sid", alias = "CallSid", alias = "call_id")]
    #[schemars(with = "Option<String>")]
    external_id: Option<Value>,
    /// The speaker label or channel of the tenant's agent (`spk_0`, `ch_0`, `Maya`).
    #[serde(alias = "agent_channel")]
    agent_speaker: Option<String>,
    /// The caller's full name, split into first and last when those are not given.
    #[serde(alias = "name")]
    caller_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    email: Option<String>,
    source: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

impl CallMetadata {
    /// The lead's number on the call: the caller of an inbound call, the callee of an
    /// outbound one.
    pub fn lead_phone(&self) -> Option<PhoneNumber> {
        match self.direction.unwrap_or_default() {
            crate::domain::Direction::Inbound => self.caller.clone(),
            crate::domain::Direction::Outbound => self.callee.clone(),
        }
    }

    /// Parse a sidecar JSON document. A field that is present but wrong is an error naming it;
    /// unknown fields are kept as attributes.
    pub fn from_sidecar(content: &[u8], default_region: &str) -> Result<Self> {
        let s: Sidecar = serde_json::from_slice(content)
            .map_err(|e| Error::validation(format!("not a JSON object of call metadata: {e}")))?;
        let phone = |field: &str, v: &Option<String>| -> Result<Option<PhoneNumber>> {
            v.as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    PhoneNumber::parse_with_region(p, Some(default_region))
                        .map_err(|e| e.context(format!("\"{field}\"")))
                })
                .transpose()
        };
        let started_at = s
            .started_at
            .as_deref()
            .map(|v| {
                parse_time(v).ok_or_else(|| {
                    Error::validation(format!(
                        "\"started_at\": `{v}` is not a date and time like 2026-11-02T14:15:03Z (RFC 3339)"
                    ))
                })
            })
            .transpose()?;
        let direction = s
            .direction
            .as_deref()
            .map(|d| {
                parse_direction(d).ok_or_else(|| {
                    Error::validation(format!(
                        "\"direction\": `{d}` is neither \"inbound\" nor \"outbound\""
                    ))
                })
            })
            .transpose()?;
        let duration_seconds = s
            .duration_seconds
            .as_ref()
            .map(|v| {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(t) => t.trim().parse::<f64>().ok(),
                    _ => None,
                };
                n.filter(|d| d.is_finite() && *d >= 0.0 && *d <= 86_400.0)
                    .ok_or_else(|| {
                        Error::validation(format!(
                            "\"duration_seconds\": {v} is not a number of seconds from 0 to 86400"
                        ))
                    })
            })
            .transpose()?;
        let external_id = s
            .external_id
            .map(|v| match v {
                Value::String(t) if !t.trim().is_empty() && t.len() <= 200 => {
                    Ok(t.trim().to_owned())
                }
                Value::Number(n) => Ok(n.to_string()),
                other => Err(Error::validation(format!(
                    "\"external_id\": {other} is not an id"
                ))),
            })
            .transpose()?;
        let (first_name, last_name) = match (s.first_name, s.last_name, s.caller_name) {
            (None, None, Some(full)) => split_name(&full),
            (f, l, _) => (f, l),
        };
        Ok(Self {
            caller: phone("caller", &s.caller)?,
            callee: phone("callee", &s.callee)?,
            started_at,
            direction,
            duration_seconds,
            external_id,
            agent_speaker: s.agent_speaker.filter(|a| !a.trim().is_empty()),
            first_name,
            last_name,
            company: s.company,
            email: s.email,
            source: s.source,
            attributes: s.rest,
        })
    }

    /// Read what a file stem says: `_`-separated tokens, in any order, of which a date-time
    /// (`20261102T141503Z`, `2026-11-02T14-15-03Z`), phone numbers (the first is the caller, the
    /// second the callee) and a direction (`inbound`/`in`, `outbound`/`out`) are understood, and
    /// anything else ignored. Times without a zone are UTC.
    pub fn from_file_name(stem: &str, default_region: &str) -> Self {
        let mut m = Self::default();
        for token in stem.split(['_', ' ']).filter(|t| !t.is_empty()) {
            if m.started_at.is_none()
                && let Some(t) = parse_compact_time(token)
            {
                m.started_at = Some(t);
            } else if let Some(d) = parse_direction(token).filter(|_| m.direction.is_none()) {
                m.direction = Some(d);
            } else if looks_like_phone(token)
                && let Ok(p) = PhoneNumber::parse_with_region(token, Some(default_region))
            {
                if m.caller.is_none() {
                    m.caller = Some(p);
                } else if m.callee.is_none() {
                    m.callee = Some(p);
                }
            }
        }
        m
    }

    /// Fields set in `self` win; the rest come from `fallback`.
    pub fn or(self, fallback: Self) -> Self {
        let mut attributes = fallback.attributes;
        attributes.extend(self.attributes);
        Self {
            caller: self.caller.or(fallback.caller),
            callee: self.callee.or(fallback.callee),
            started_at: self.started_at.or(fallback.started_at),
            direction: self.direction.or(fallback.direction),
            duration_seconds: self.duration_seconds.or(fallback.duration_seconds),
            external_id: self.external_id.or(fallback.external_id),
            agent_speaker: self.agent_speaker.or(fallback.agent_speaker),
            first_name: self.first_name.or(fallback.first_name),
            last_name: self.last_name.or(fallback.last_name),
            company: self.company.or(fallback.company),
            email: self.email.or(fallback.email),
            source: self.source.or(fallback.source),
            attributes,
        }
    }
}

pub(super) fn split_name(full: &str) -> (Option<String>, Option<String>) {
    let full = full.trim();
    match full.rsplit_once(' ') {
        Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
        None if !full.is_empty() => (Some(full.to_owned()), None),
        None => (None, None),
    }
}

fn parse_direction(s: &str) -> Option<Direction> {
    match s.trim().to_ascii_lowercase().as_str() {
        "inbound" | "in" | "incoming" => Some(Direction::Inbound),
        // Twilio writes "outbound-api" and "outbound-dial".
        "outbound" | "out" | "outgoing" | "outbound-api" | "outbound-dial" => {
            Some(Direction::Outbound)
        }
        _ => None,
    }
}

fn looks_like_phone(token: &str) -> bool {
    let digits = token.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && token
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '(' | ')'))
}

/// RFC 3339; RFC 2822 (Twilio's `StartTime`: `Sat, 28 Nov 2026 17:00:00 +0000`); or a date
/// and time without a zone (taken as UTC).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s).or_else(|_| DateTime::parse_from_rfc2822(s)) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

/// File-name times: `20261102T141503Z`, `20261102-141503`, `2026-11-02T14-15-03Z`,
/// `2026-11-02T14.15.03`.
fn parse_compact_time(token: &str) -> Option<DateTime<Utc>> {
    let t = token.strip_suffix(['Z', 'z']).unwrap_or(token);
    let (date, time) = t.split_once(['T', 't']).or_else(|| {
        // 20261102-141503: the date has no dashes, so the first dash separates.
        (t.len() == 15 && t.as_bytes()[8] == b'-').then(|| (&t[..8], &t[9..]))
    })?;
    let date = NaiveDate::parse_from_str(date, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(date, "%Y-%m-%d"))
        .ok()?;
    let time = ["%H%M%S", "%H-%M-%S", "%H.%M.%S", "%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(time, f).ok())?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_time_numbers_and_direction() {
        let m = CallMetadata::from_file_name(
            "20261102T141503Z_+14155550134_+15125550100_outbound",
            "US",
        );
        assert_eq!(
            m.started_at.unwrap().to_rfc3339(),
            "2026-11-02T14:15:03+00:00"
        );
        assert_eq!(m.caller.unwrap().as_str(), "+14155550134");
        assert_eq!(m.callee.unwrap().as_str(), "+15125550100");
        assert_eq!(m.direction, Some(Direction::Outbound));

        let m = CallMetadata::from_file_name("call_2026-11-02T14-15-03Z_415-555-0134", "US");
        assert_eq!(m.caller.unwrap().as_str(), "+14155550134");
        assert!(m.started_at.is_some());

        let m = CallMetadata::from_file_name("recording", "US");
        assert_eq!(m, CallMetadata::default());
    }

    #[test]
    fn twilios_own_start_time_is_read() {
        // As Twilio's Call resource and recording callbacks write it (RFC 2822).
        let m = CallMetadata::from_sidecar(
            br#"{"From":"+14155550134","StartTime":"Sat, 28 Nov 2026 17:00:00 +0000"}"#,
            "US",
        )
        .unwrap();
        assert_eq!(
            m.started_at.unwrap().to_rfc3339(),
            "2026-11-28T17:00:00+00:00"
        );
    }

    #[test]
    fn sidecars_accept_common_aliases_and_keep_unknown_fields() {
        let m = CallMetadata::from_sidecar(
            br#"{"From":"(415) 555-0134","To":"+15125550100","start_time":"2026-11-02T09:15:03-05:00",
                 "direction":"outbound-dial","duration":"312","CallSid":"CA42","name":"Dana Whitfield","campaign":"fall"}"#,
            "US",
        )
        .unwrap();
        assert_eq!(m.caller.unwrap().as_str(), "+14155550134");
        assert_eq!(
            m.started_at.unwrap().to_rfc3339(),
            "2026-11-02T14:15:03+00:00"
        );
        assert_eq!(m.direction, Some(Direction::Outbound));
        assert_eq!(m.duration_seconds, Some(312.0));
        assert_eq!(m.external_id.as_deref(), Some("CA42"));
        assert_eq!(
            (m.first_name.as_deref(), m.last_name.as_deref()),
            (Some("Dana"), Some("Whitfield"))
        );
        assert_eq!(m.attributes["campaign"], "fall");
    }

    #[test]
    fn bad_sidecar_fields_are_named() {
        let err = |json: &str| {
            CallMetadata::from_sidecar(json.as_bytes(), "US")
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"caller":"+1 555"}"#).contains("\"caller\""));
        assert!(err(r#"{"started_at":"yesterday"}"#).contains("\"started_at\": `yesterday`"));
        assert!(err(r#"{"direction":"sideways"}"#).contains("\"direction\""));
        assert!(err(r#"{"duration":-4}"#).contains("\"duration_seconds\""));
        assert!(err("[1,2]").contains("not a JSON object"));
    }

    #[test]
    fn the_sidecar_wins_over_the_file_name() {
        let side = CallMetadata {
            direction: Some(Direction::Outbound),
            ..Default::default()
        };
        let name = CallMetadata::from_file_name("20261102T141503Z_+14155550134_in", "US");
        let m = side.or(name);
        assert_eq!(m.direction, Some(Direction::Outbound));
        assert!(m.caller.is_some() && m.started_at.is_some());
    }
}
