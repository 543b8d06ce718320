//! Call logs: a telephony provider's or call tracker's CSV export, a call a row, read through a
//! column mapping. A row becomes a sidecar (who called whom, when, for how long, which way,
//! the call's own id) and the URL of its recording or transcript, which the import fetches.
//!
//! Two published layouts are known by name (their columns as their vendors document them);
//! any other export maps its columns by header:
//!
//! - `didww_inbound`: DIDWW's inbound CDR export (doc.didww.com, "Call Logs", and API v3's
//!   export file): `Date/Time Start (UTC)` (`2020-01-01 11:22:33`), `Source` (the caller,
//!   digits without `+`), `DID` or `Destination DID`, `Duration (secs)` or `Duration (sec)`,
//!   `Call ID`. Every row is inbound.
//! - `ivozprovider`: IvozProvider's call CSV (irontec.github.io/ivozprovider, "Call CSV
//!   schedulers"): `callid`, `startTime`, `duration`, `caller` and `callee` (E.164 with `+`),
//!   `direction` (`inbound` or `outbound`).
//!
//! Neither carries the call's media: a `recording_url` or `transcript_url` column is mapped
//! beside the layout.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// Rows one import takes.
pub const MAX_ROWS: usize = 5_000;
/// The longest URL a row may name.
const MAX_URL: usize = 2_048;

/// A vendor's export, known by its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// DIDWW's inbound CDR export.
    DidwwInbound,
    /// IvozProvider's call CSV.
    Ivozprovider,
}

/// Which column holds what, by its header (matched without case or surrounding spaces). A
/// column given here replaces the layout's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"caller": "Caller Number", "callee": "Tracking Number", "started_at": "Start Time", "duration": "Duration", "direction": "Direction", "recording_url": "Recording"}))]
pub struct Columns {
    /// Who called (the lead on an inbound call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Who was called (the lead on an outbound call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callee: Option<String>,
    /// When the call started: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` or `MM/DD/YYYY HH:MM[:SS]
    /// [AM|PM]`, in `time_zone` unless it names its offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Seconds, or `H:MM:SS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `inbound`/`outbound` (`in`, `out`, `incoming`, `outgoing` too); inbound when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// The call's id at its source: a second import of the same row is the same call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The URL of the call's recording (`https`, reachable without credentials: a public or
    /// pre-signed link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// The URL of the call's transcript file (`.vtt`, `.srt`, `.txt` or `.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_url: Option<String>,
}

impl Layout {
    /// Its columns, each with the headers it has gone by, and its rows' direction if fixed.
    fn columns(self) -> (Vec<(Field, &'static [&'static str])>, Option<&'static str>) {
        match self {
            Layout::DidwwInbound => (
                vec![
                    (Field::Caller, &["Source"]),
                    (Field::Callee, &["DID", "Destination DID"]),
                    (Field::StartedAt, &["Date/Time Start (UTC)"]),
                    (Field::Duration, &["Duration (secs)", "Duration (sec)"]),
                    (Field::CallId, &["Call ID"]),
                ],
                Some("inbound"),
            ),
            Layout::Ivozprovider => (
                vec![
                    (Field::Caller, &["caller"]),
                    (Field::Callee, &["callee"]),
                    (Field::StartedAt, &["startTime"]),
                    (Field::Duration, &["duration"]),
                    (Field::Direction, &["direction"]),
                    (Field::CallId, &["callid"]),
                ],
                None,
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Caller,
    Callee,
    StartedAt,
    Duration,
    Direction,
    CallId,
    RecordingUrl,
    TranscriptUrl,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Caller => "caller",
            Field::Callee => "callee",
            Field::StartedAt => "started_at",
            Field::Duration => "duration",
            Field::Direction => "direction",
            Field::CallId => "call_id",
            Field::RecordingUrl => "recording_url",
            Field::TranscriptUrl => "transcript_url",
        }
    }
}

/// One row, read: its call's name, its metadata as a sidecar, and where its media is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedCall {
    /// Names the call (`log-<call id>`, else a digest of its numbers and time).
    pub name: String,
    /// What a sidecar would say of it (`CallMetadata::from_sidecar` reads it).
    pub sidecar: Value,
    pub media_url: String,
    /// Whether the URL is a transcript (else a recording).
    pub transcript: bool,
}

/// A row read: its line in the file (the header is line 1) and its call.
pub type Row = (u64, LoggedCall);

/// A row left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Rejected {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    pub problem: String,
}

/// Read `csv` through `layout` and `columns` (which replace the layout's); times without an
/// offset are in `zone`. The rows read and those left out. A file whose header lacks a
/// mapped column, that maps no lead number or no media, or has more than [`MAX_ROWS`] rows is
/// refused whole (`Validation`, naming it).
pub fn read(
    csv: &str,
    layout: Option<Layout>,
    columns: &Columns,
    zone: Tz,
    region: &str,
) -> Result<(Vec<Row>, Vec<Rejected>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::validation(format!("csv: the header line does not read: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name.trim()))
    };
    let (preset, fixed_direction) = layout.map(Layout::columns).unwrap_or_default();
    let mut at: HashMap<Field, usize> = HashMap::new();
    for (field, names) in preset {
        if let Some(i) = names.iter().find_map(|n| find(n)) {
            at.insert(field, i);
        }
    }
    for (field, mapped) in [
        (Field::Caller, &columns.caller),
        (Field::Callee, &columns.callee),
        (Field::StartedAt, &columns.started_at),
        (Field::Duration, &columns.duration),
        (Field::Direction, &columns.direction),
        (Field::CallId, &columns.call_id),
        (Field::RecordingUrl, &columns.recording_url),
        (Field::TranscriptUrl, &columns.transcript_url),
    ] {
        let Some(name) = mapped else { continue };
        let i = find(name).ok_or_else(|| {
            Error::validation(format!(
                "columns.{}: the file has no column `{name}`; its columns are {}",
                field.name(),
                headers.join(", ")
            ))
        })?;
        at.insert(field, i);
    }
    if !at.contains_key(&Field::Caller) && !at.contains_key(&Field::Callee) {
        return Err(Error::validation(format!(
            "columns.caller: map the column of the caller's number (or columns.callee), or \
             name a layout; the file's columns are {}",
            headers.join(", ")
        )));
    }
    if !at.contains_key(&Field::RecordingUrl) && !at.contains_key(&Field::TranscriptUrl) {
        return Err(Error::validation(
            "columns.recording_url: map the column with each call's recording URL (or \
             columns.transcript_url): a call is scored on what was said",
        ));
    }
    let mut read = Vec::new();
    let mut rejected = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(Error::validation(format!(
                "csv: more than {MAX_ROWS} rows; import the log in parts"
            )));
        }
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i as u64 + 2, csv::Position::line);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rejected.push(Rejected {
                    line,
                    problem: format!("does not read as CSV: {e}"),
                });
                continue;
            }
        };
        let cell = |f: Field| {
            at.get(&f)
                .and_then(|i| record.get(*i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match row(&cell, fixed_direction, zone, region) {
            Ok(call) => read.push((line, call)),
            Err(problem) => rejected.push(Rejected { line, problem }),
        }
    }
    Ok((read, rejected))
}

/// One row's call, or what is wrong with it.
fn row<'a>(
    cell: &dyn Fn(Field) -> Option<&'a str>,
    fixed_direction: Option<&str>,
    zone: Tz,
    region: &str,
) -> std::result::Result<LoggedCall, String> {
    let number = |f: Field| cell(f).map(e164);
    let started_at = cell(Field::StartedAt)
        .map(|v| {
            parse_time(v, zone).ok_or_else(|| {
                format!(
                    "started_at: `{v}` is not a time (RFC 3339, YYYY-MM-DD HH:MM:SS or \
                     MM/DD/YYYY HH:MM)"
                )
            })
        })
        .transpose()?;
    let duration = cell(Field::Duration)
        .map(|v| parse_duration(v).ok_or_else(|| format!("duration: `{v}` is not seconds")))
        .transpose()?;
    let direction = match (fixed_direction, cell(Field::Direction)) {
        (Some(fixed), _) => Some(fixed.to_owned()),
        (None, None) => None,
        (None, Some(v)) => Some(
            match v.to_ascii_lowercase().as_str() {
                "inbound" | "in" | "incoming" | "inbound call" => "inbound",
                "outbound" | "out" | "outgoing" | "outbound call" => "outbound",
                _ => return Err(format!("direction: `{v}` is neither inbound nor outbound")),
            }
            .to_owned(),
        ),
    };
    let (media_url, transcript) = match (cell(Field::RecordingUrl), cell(Field::TranscriptUrl)) {
        (_, Some(url)) => (url, true),
        (Some(url), None) => (url, false),
        (None, None) => return Err("no recording or transcript URL".to_owned()),
    };
    let column = if transcript {
        "transcript_url"
    } else {
        "recording_url"
    };
    if media_url.len() > MAX_URL
        || !(media_url.starts_with("https://") || media_url.starts_with("http://"))
    {
        return Err(format!(
            "{column}: not an http(s) URL of at most {MAX_URL} characters"
        ));
    }
    let external_id = cell(Field::CallId);
    let (caller, callee) = (number(Field::Caller), number(Field::Callee));
    let started_at = started_at.map(|t| t.to_rfc3339());
    let sidecar = json!({
        "caller": caller,
        "callee": callee,
        "started_at": started_at,
        "direction": direction,
        "duration_seconds": duration,
        "external_id": external_id,
        "source": "call_log",
    });
    // What a sidecar refuses, the row is refused for, before anything is fetched.
    let metadata = super::CallMetadata::from_sidecar(sidecar.to_string().as_bytes(), region)
        .map_err(|e| e.to_string())?;
    if metadata.lead_phone().is_none() {
        return Err(format!(
            "no {} number: the lead is who {}",
            if direction.as_deref() == Some("outbound") {
                "callee"
            } else {
                "caller"
            },
            if direction.as_deref() == Some("outbound") {
                "was called"
            } else {
                "called"
            }
        ));
    }
    let name = match external_id {
        Some(id) => format!("log-{}", digest(&[id])),
        None => format!(
            "log-{}",
            digest(&[
                caller.as_deref().unwrap_or_default(),
                callee.as_deref().unwrap_or_default(),
                started_at.as_deref().unwrap_or_default(),
            ])
        ),
    };
    Ok(LoggedCall {
        name,
        sidecar,
        media_url: media_url.to_owned(),
        transcript,
    })
}

/// A number as exports write it: with `+`, or digits that are a whole international number
/// (11 to 15 of them, as DIDWW writes them); anything else as it is, for the region to read.
fn e164(value: &str) -> String {
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    if digits && (11..=15).contains(&value.len()) {
        format!("+{value}")
    } else {
        value.to_owned()
    }
}

fn parse_time(value: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    const LOCAL: [&str; 8] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%Y-%m-%d %H:%M:%S%.f",
    ];
    LOCAL
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .and_then(|t| zone.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
}

fn parse_duration(value: &str) -> Option<f64> {
    if let Ok(seconds) = value.parse::<f64>() {
        return Some(seconds);
    }
    let parts: Vec<u32> = value
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [m, s] => Some(f64::from(m * 60 + s)),
        [h, m, s] => Some(f64::from(h * 3600 + m * 60 + s)),
        _ => None,
    }
}

fn digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: Tz = chrono_tz::UTC;

    fn media() -> Columns {
        Columns {
            recording_url: Some("Recording".into()),
            ..Columns::default()
        }
    }

    #[test]
    fn didwws_inbound_export_is_read_as_inbound_calls_in_utc() {
        let csv = "Date/Time Start (UTC),Date/Time Connect (UTC),Date/Time End (UTC),Source,DID,Destination,Duration (secs),Disconnect Initiator,Disconnect Code,Disconnect Response,Recording\n\
                   2026-11-02 14:15:03,2026-11-02 14:15:05,2026-11-02 14:20:15,14155550134,18885550100,sip:desk@example.com,310,Origination,200,OK,https://files.example.com/a.wav\n";
        let (rows, rejected) = read(csv, Some(Layout::DidwwInbound), &media(), UTC, "US").unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        let (line, call) = &rows[0];
        assert_eq!(*line, 2);
        assert_eq!(call.sidecar["caller"], "+14155550134");
        assert_eq!(call.sidecar["callee"], "+18885550100");
        assert_eq!(call.sidecar["direction"], "inbound");
        assert_eq!(call.sidecar["duration_seconds"], 310.0);
        assert_eq!(call.sidecar["started_at"], "2026-11-02T14:15:03+00:00");
        assert_eq!(call.media_url, "https://files.example.com/a.wav");
        assert!(!call.transcript);
    }

    #[test]
    fn ivozproviders_export_keeps_its_direction_and_call_id() {
        let csv = "callid,startTime,duration,caller,callee,price,direction,ddiId,endpointType,endpointId,endpointName,Transcript\n\
                   a84d@10.0.0.1,2026-11-02 09:15:03,95,+34944048182,+14155550134,0.02,outbound,7,RetailAccount,3,desk,https://files.example.com/a.vtt\n";
        let columns = Columns {
            transcript_url: Some("transcript".into()),
            ..Columns::default()
        };
        let madrid = chrono_tz::Europe::Madrid;
        let (rows, _) = read(csv, Some(Layout::Ivozprovider), &columns, madrid, "US").unwrap();
        let call = &rows[0].1;
        assert_eq!(call.sidecar["direction"], "outbound");
        assert_eq!(call.sidecar["external_id"], "a84d@10.0.0.1");
        assert_eq!(call.sidecar["started_at"], "2026-11-02T08:15:03+00:00");
        assert!(call.transcript);
        // The same call id names the same call, whatever else the row says.
        let again = csv.replace(",95,", ",96,");
        let (twice, _) = read(&again, Some(Layout::Ivozprovider), &columns, madrid, "US").unwrap();
        assert_eq!(twice[0].1.name, call.name);
    }

    #[test]
    fn a_mapped_export_reads_us_times_and_minutes() {
        let csv = "Caller Number,Tracking Number,Start Time,Duration,Direction,Recording\n\
                   (415) 555-0134,(888) 555-0100,11/02/2026 2:15 PM,5:10,Inbound Call,https://x.example/r.mp3\n";
        let columns = Columns {
            caller: Some("caller number".into()),
            callee: Some("Tracking Number".into()),
            started_at: Some("Start Time".into()),
            duration: Some("Duration".into()),
            direction: Some("Direction".into()),
            ..media()
        };
        let (rows, rejected) =
            read(csv, None, &columns, chrono_tz::America::Los_Angeles, "US").unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        let call = &rows[0].1;
        assert_eq!(call.sidecar["caller"], "(415) 555-0134");
        assert_eq!(call.sidecar["started_at"], "2026-11-02T22:15:00+00:00");
        assert_eq!(call.sidecar["duration_seconds"], 310.0);
    }

    #[test]
    fn bad_rows_are_named_by_line_and_a_bad_mapping_refuses_the_file() {
        let csv = "Source,DID,Date/Time Start (UTC),Duration (secs),Recording\n\
                   14155550134,18885550100,yesterday,10,https://x.example/1.wav\n\
                   ,18885550100,2026-11-02 14:15:03,10,https://x.example/2.wav\n\
                   14155550135,18885550100,2026-11-02 14:15:03,ten,https://x.example/3.wav\n\
                   14155550136,18885550100,2026-11-02 14:15:03,10,ftp://x.example/4.wav\n\
                   14155550137,18885550100,2026-11-02 14:15:03,10,\n";
        let (rows, rejected) = read(csv, Some(Layout::DidwwInbound), &media(), UTC, "US").unwrap();
        assert!(rows.is_empty());
        let said: Vec<(u64, &str)> = rejected
            .iter()
            .map(|r| (r.line, r.problem.as_str()))
            .collect();
        assert_eq!(said[0].0, 2);
        assert!(said[0].1.starts_with("started_at: `yesterday`"), "{said:?}");
        assert!(said[1].1.contains("no caller number"), "{said:?}");
        assert!(said[2].1.starts_with("duration: `ten`"), "{said:?}");
        assert!(
            said[3].1.starts_with("recording_url: not an http(s) URL"),
            "{said:?}"
        );
        assert_eq!(said[4], (6, "no recording or transcript URL"));

        let wrong = Columns {
            recording_url: Some("Audio".into()),
            ..Columns::default()
        };
        let err = read(csv, Some(Layout::DidwwInbound), &wrong, UTC, "US")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("columns.recording_url: the file has no column `Audio`"),
            "{err}"
        );
        let err = read(
            csv,
            Some(Layout::DidwwInbound),
            &Columns::default(),
            UTC,
            "US",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("map the column with each call's recording URL"),
            "{err}"
        );
        let rows = format!(
            "Source,Recording\n{}",
            "14155550134,https://x.example/1.wav\n".repeat(MAX_ROWS + 1)
        );
        let err = read(&rows, Some(Layout::DidwwInbound), &media(), UTC, "US")
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 5000 rows"), "{err}");
    }
}
