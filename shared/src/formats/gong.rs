//! Gong call transcripts, as Gong's API gives them: the response of `POST /v2/calls/transcript`
//! (`callTranscripts`, each a list of monologues: `speakerId`, `topic` and `sentences` of
//! `start`/`end` milliseconds and `text`), with the call's parties and facts from
//! `POST /v2/calls/extensive` when they come in the same document: its `calls` array, or one
//! call's `parties` and `metaData` beside `callTranscripts`.
//!
//! One document is one call. Each monologue becomes a segment, spoken by its party's name (or
//! "Rep"/"Customer" by the party's affiliation when the name is missing); Gong's `topic` is
//! not kept (the analysis finds its own). The parties say who the lead is: the first
//! `External` party with a phone number, the caller of an inbound call and the callee of any
//! other; the `Internal` party who spoke is the tenant's agent.

use std::collections::HashMap;

use serde::Deserialize;

use super::CallMetadata;
use crate::domain::{Direction, PhoneNumber, Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    call_transcripts: Vec<CallTranscript>,
    /// `/v2/calls/extensive`'s `calls`.
    #[serde(default)]
    calls: Vec<ExtensiveCall>,
    /// One call's parties and facts, beside its transcript.
    #[serde(default)]
    parties: Vec<Party>,
    meta_data: Option<MetaData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallTranscript {
    call_id: Option<String>,
    #[serde(default)]
    transcript: Vec<Monologue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Monologue {
    speaker_id: Option<String>,
    #[serde(default)]
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    /// Milliseconds from the start of the call.
    start: f64,
    end: f64,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExtensiveCall {
    meta_data: Option<MetaData>,
    #[serde(default)]
    parties: Vec<Party>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaData {
    id: Option<String>,
    /// ISO 8601 with an offset: `2026-11-02T09:15:03-05:00`.
    started: Option<String>,
    /// Seconds.
    duration: Option<f64>,
    /// `Inbound`, `Outbound`, `Conference` or `Unknown`.
    direction: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Party {
    name: Option<String>,
    email_address: Option<String>,
    speaker_id: Option<String>,
    /// `Internal`, `External` or `Unknown`.
    affiliation: Option<String>,
    phone_number: Option<String>,
}

impl Party {
    fn is(&self, affiliation: &str) -> bool {
        self.affiliation
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(affiliation))
    }
}

/// Whether a JSON document is Gong's (it has `callTranscripts`), without building its tree.
pub(super) fn looks_like_gong(content: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        call_transcripts: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(content).is_ok_and(|p| p.call_transcripts.is_some())
}

/// The one call of a document, with the parties and facts that go with it.
struct Call {
    transcript: CallTranscript,
    parties: Vec<Party>,
    meta: Option<MetaData>,
}

fn read(content: &[u8]) -> Result<Call> {
    let doc: Document = serde_json::from_slice(content)
        .map_err(|e| Error::validation(format!("not a Gong call transcript document: {e}")))?;
    let Document {
        mut call_transcripts,
        calls,
        parties,
        meta_data,
    } = doc;
    let transcript = match call_transcripts.len() {
        1 => call_transcripts.remove(0),
        0 => {
            return Err(Error::validation(
                "\"callTranscripts\" is empty: the Gong document holds no call",
            ));
        }
        n => {
            return Err(Error::validation(format!(
                "\"callTranscripts\" holds {n} calls; a Gong document is taken one call at a \
                 time (one file, or one `POST /calls`, per call)"
            )));
        }
    };
    // The extensive call of this transcript: the one with its id, or the only one when
    // either id is missing.
    let want = transcript.call_id.as_deref();
    let belongs = |m: Option<&MetaData>, only: bool| match (m.and_then(|m| m.id.as_deref()), want) {
        (Some(a), Some(b)) => a == b,
        _ => only,
    };
    let (parties, meta) = if calls.is_empty() {
        if !belongs(meta_data.as_ref(), true) {
            return Err(Error::validation(format!(
                "metaData.id is not the transcript's callId `{}`",
                want.unwrap_or_default()
            )));
        }
        (parties, meta_data)
    } else {
        let only = calls.len() == 1;
        let call = calls
            .into_iter()
            .find(|c| belongs(c.meta_data.as_ref(), only))
            .ok_or_else(|| {
                Error::validation(format!(
                    "\"calls\" has no call with the transcript's callId `{}`",
                    want.unwrap_or_default()
                ))
            })?;
        (call.parties, call.meta_data)
    };
    Ok(Call {
        transcript,
        parties,
        meta,
    })
}

/// Each speaker's label: the party's name; else "Rep" or "Customer" by its affiliation, or
/// "Speaker"; numbered when two would read the same.
fn labels(call: &Call) -> HashMap<&str, String> {
    let party_of: HashMap<&str, &Party> = call
        .parties
        .iter()
        .filter_map(|p| p.speaker_id.as_deref().map(|id| (id, p)))
        .collect();
    let mut out: HashMap<&str, String> = HashMap::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    for m in &call.transcript.transcript {
        let id = m.speaker_id.as_deref().unwrap_or_default();
        if out.contains_key(id) {
            continue;
        }
        let party = party_of.get(id);
        let base = party
            .and_then(|p| p.name.as_deref())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| match party {
                Some(p) if p.is("Internal") => "Rep".to_owned(),
                Some(p) if p.is("External") => "Customer".to_owned(),
                _ => "Speaker".to_owned(),
            });
        let n = taken.entry(base.clone()).or_default();
        *n += 1;
        let label = if *n == 1 { base } else { format!("{base} {n}") };
        out.insert(id, label);
    }
    out
}

/// The call's words: a segment per monologue, in time order.
pub fn parse(content: &[u8]) -> Result<Transcript> {
    let call = read(content)?;
    let labels = labels(&call);
    let mut segments = Vec::with_capacity(call.transcript.transcript.len());
    for (i, m) in call.transcript.transcript.iter().enumerate() {
        let text = m
            .sentences
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() {
            continue;
        }
        let start = m
            .sentences
            .iter()
            .map(|s| s.start)
            .fold(f64::INFINITY, f64::min);
        let end = m.sentences.iter().map(|s| s.end).fold(0.0, f64::max);
        if !(start.is_finite() && start >= 0.0) {
            return Err(Error::validation(format!(
                "monologue {}: a sentence starts at {start} ms, not a time in the call",
                i + 1
            )));
        }
        segments.push(Segment {
            speaker: labels[m.speaker_id.as_deref().unwrap_or_default()].clone(),
            start: start / 1000.0,
            end: end / 1000.0,
            text,
            confidence: None,
        });
    }
    // Gong lists monologues in order; a document assembled by hand may not.
    segments.sort_by(|a, b| a.start.total_cmp(&b.start));
    Ok(Transcript {
        format: TranscriptFormat::Gong,
        by_channel: false,
        segments,
    })
}

/// What the document says of the call: its lead (the external party), agent, time, length,
/// direction and Gong id. A phone number that is not one is an error naming the party.
pub fn metadata(content: &[u8], default_region: &str) -> Result<CallMetadata> {
    let call = read(content)?;
    let labels = labels(&call);
    let meta = call.meta.as_ref();
    let direction = meta.and_then(|m| m.direction.as_deref()).and_then(|d| {
        match d.to_ascii_lowercase().as_str() {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    });
    let phone = |i: usize, p: &Party| -> Result<Option<PhoneNumber>> {
        p.phone_number
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|n| {
                PhoneNumber::parse_with_region(n, Some(default_region))
                    .map_err(|e| e.context(format!("parties[{i}].phoneNumber")))
            })
            .transpose()
    };
    let spoke = |p: &Party| {
        p.speaker_id
            .as_deref()
            .is_some_and(|id| labels.contains_key(id))
    };
    // The lead: an external party with a number, one who spoke first.
    let mut lead: Option<(&Party, PhoneNumber)> = None;
    let mut rep_phone = None;
    for (i, p) in call.parties.iter().enumerate() {
        if p.is("External") {
            if let Some(n) = phone(i, p)?
                && lead.as_ref().is_none_or(|(l, _)| !spoke(l) && spoke(p))
            {
                lead = Some((p, n));
            }
        } else if p.is("Internal") && rep_phone.is_none() {
            rep_phone = phone(i, p)?;
        }
    }
    let agent_speaker = call
        .parties
        .iter()
        .find(|p| p.is("Internal") && spoke(p))
        .and_then(|p| labels.get(p.speaker_id.as_deref()?).cloned());
    let lead_number = lead.as_ref().map(|(_, n)| n.clone());
    let (caller, callee) = if direction == Some(Direction::Outbound) {
        (rep_phone, lead_number)
    } else {
        (lead_number, rep_phone)
    };
    let (first_name, last_name) = lead
        .as_ref()
        .and_then(|(p, _)| p.name.as_deref())
        .map_or((None, None), super::metadata::split_name);
    let started_at = meta
        .and_then(|m| m.started.as_deref())
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    Error::validation(format!(
                        "metaData.started: `{s}` is not a date and time like \
                         2026-11-02T09:15:03-05:00"
                    ))
                })
        })
        .transpose()?;
    let duration_seconds = meta
        .and_then(|m| m.duration)
        .filter(|d| d.is_finite() && (0.0..=86_400.0).contains(d));
    Ok(CallMetadata {
        caller,
        callee,
        started_at,
        direction,
        duration_seconds,
        external_id: call
            .transcript
            .call_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty() && id.len() <= 200)
            .map(|id| format!("gong-{id}")),
        agent_speaker,
        first_name,
        last_name,
        email: lead.and_then(|(p, _)| p.email_address.clone()),
        source: Some("gong".to_owned()),
        ..CallMetadata::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{FileKind, classify, parse_transcript};

    const CALL: &[u8] = include_bytes!("../../../tests/fixtures/gong/call_with_parties.json");

    fn doc(transcript: &str, beside: &str) -> Vec<u8> {
        format!(r#"{{"callTranscripts":[{{"callId":"42","transcript":{transcript}}}]{beside}}}"#)
            .into_bytes()
    }

    #[test]
    fn a_gong_document_is_a_transcript_of_its_parties() {
        assert_eq!(
            classify("gong-42.json", CALL).unwrap().kind,
            FileKind::Transcript(TranscriptFormat::Gong)
        );
        let t = parse_transcript(TranscriptFormat::Gong, CALL).unwrap();
        assert_eq!(t.speakers(), ["Maya Chen", "Dana Whitfield"]);
        assert_eq!(t.segments.len(), 4, "a segment per monologue");
        let first = &t.segments[0];
        assert_eq!(
            (first.start, first.end),
            (1.2, 5.6),
            "milliseconds to seconds"
        );
        assert_eq!(
            first.text,
            "Thanks for calling Summit Roofing, this is Maya. How can I help you today?"
        );
    }

    #[test]
    fn the_external_party_is_the_lead_and_the_internal_one_the_agent() {
        let m = metadata(CALL, "US").unwrap();
        assert_eq!(m.direction, Some(Direction::Inbound));
        assert_eq!(
            m.caller.unwrap().as_str(),
            "+14155550134",
            "the lead calls in"
        );
        assert_eq!(m.callee.unwrap().as_str(), "+15125550100");
        assert_eq!(m.agent_speaker.as_deref(), Some("Maya Chen"));
        assert_eq!(
            (m.first_name.as_deref(), m.last_name.as_deref()),
            (Some("Dana"), Some("Whitfield"))
        );
        assert_eq!(m.email.as_deref(), Some("dana.whitfield@example.com"));
        assert_eq!(
            m.started_at.unwrap().to_rfc3339(),
            "2026-11-02T14:15:03+00:00"
        );
        assert_eq!(m.duration_seconds, Some(31.0));
        assert_eq!(m.external_id.as_deref(), Some("gong-7782342274025937895"));

        // Outbound: the rep called the lead.
        let out = String::from_utf8(CALL.to_vec())
            .unwrap()
            .replace("\"Inbound\"", "\"Outbound\"");
        let m = metadata(out.as_bytes(), "US").unwrap();
        assert_eq!(m.callee.unwrap().as_str(), "+14155550134");
        assert_eq!(m.caller.unwrap().as_str(), "+15125550100");
    }

    #[test]
    fn one_calls_parties_may_sit_beside_its_transcript() {
        let content = doc(
            r#"[{"speakerId":"a","sentences":[{"start":0,"end":900,"text":"Hello?"}]},
                {"speakerId":"b","sentences":[{"start":1000,"end":2000,"text":"Hi, it's Summit."}]}]"#,
            r#","metaData":{"id":"42","direction":"Outbound"},
               "parties":[{"speakerId":"a","affiliation":"External","phoneNumber":"+14155550134"},
                          {"speakerId":"b","affiliation":"Internal"}]"#,
        );
        let t = parse_transcript(TranscriptFormat::Gong, &content).unwrap();
        assert_eq!(
            t.speakers(),
            ["Customer", "Rep"],
            "unnamed parties by affiliation"
        );
        let m = metadata(&content, "US").unwrap();
        assert_eq!(m.callee.unwrap().as_str(), "+14155550134");
        assert_eq!(m.agent_speaker.as_deref(), Some("Rep"));
    }

    #[test]
    fn without_parties_the_words_stand_and_the_lead_is_unknown() {
        let content = doc(
            r#"[{"speakerId":"1","sentences":[{"start":0,"end":900,"text":"Hello"}]},
                {"speakerId":"2","sentences":[{"start":900,"end":1800,"text":"Hi"}]},
                {"speakerId":"3","sentences":[{"start":1800,"end":2500,"text":"Hey"}]}]"#,
            "",
        );
        let t = parse_transcript(TranscriptFormat::Gong, &content).unwrap();
        assert_eq!(t.speakers(), ["Speaker", "Speaker 2", "Speaker 3"]);
        let m = metadata(&content, "US").unwrap();
        assert!(m.caller.is_none() && m.callee.is_none() && m.agent_speaker.is_none());
    }

    #[test]
    fn bad_gong_documents_are_refused_with_the_reason() {
        let err = |content: &[u8]| {
            parse_transcript(TranscriptFormat::Gong, content)
                .and_then(|_| metadata(content, "US"))
                .unwrap_err()
                .to_string()
        };
        assert!(err(br#"{"callTranscripts":[]}"#).contains("holds no call"));
        let two = br#"{"callTranscripts":[{"callId":"1","transcript":[]},{"callId":"2","transcript":[]}]}"#;
        assert!(err(two).contains("holds 2 calls"), "{}", err(two));
        let words = r#"[{"speakerId":"a","sentences":[{"start":0,"end":900,"text":"Hi"}]}]"#;
        let e = err(&doc(
            words,
            r#","calls":[{"metaData":{"id":"7"}},{"metaData":{"id":"8"}}]"#,
        ));
        assert!(
            e.contains("no call with the transcript's callId `42`"),
            "{e}"
        );
        let e = err(&doc(
            words,
            r#","parties":[{"speakerId":"a","affiliation":"External","phoneNumber":"+1 555"}]"#,
        ));
        assert!(e.contains("parties[0].phoneNumber"), "{e}");
        let e = err(&doc(words, r#","metaData":{"started":"last Tuesday"}"#));
        assert!(e.contains("metaData.started"), "{e}");
        let e = err(&doc(
            r#"[{"speakerId":"a","sentences":[{"start":-5,"end":900,"text":"Hi"}]}]"#,
            "",
        ));
        assert!(e.contains("monologue 1"), "{e}");
        let e = err(&doc(
            r#"[{"speakerId":"a","sentences":[{"start":0,"end":900,"text":"  "}]}]"#,
            "",
        ));
        assert!(e.contains("no words"), "{e}");
        let e = err(br#"{"callTranscripts":{"callId":"1"}}"#);
        assert!(e.contains("not a Gong call transcript document"), "{e}");
    }
}
