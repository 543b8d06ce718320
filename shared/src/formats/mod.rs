//! Input formats: transcripts (Amazon Transcribe JSON, Gong JSON, WebVTT, SRT, `Speaker: text`)
//! and call metadata (a sidecar JSON file, what a Gong document says of its call, or the file
//! name). Pure functions from bytes to domain types.

pub mod audio;
pub mod call_log;
mod gong;
mod metadata;
mod srt;
mod text;
mod transcribe;
mod webvtt;

pub use metadata::{CallMetadata, Sidecar};

use crate::domain::{Transcript, TranscriptFormat};
use crate::error::{Error, Result};

/// Audio extensions that telephony exports use. Audio needs a speech engine.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "mp3", "m4a", "mp4", "flac", "ogg", "opus", "webm", "amr",
];
/// Transcript extensions (`.json` is an Amazon Transcribe output or a Gong document unless it
/// is a sidecar).
pub const TRANSCRIPT_EXTENSIONS: &[&str] = &["json", "vtt", "srt", "txt"];

/// What a dropped file is, judged from its name (and, for `.json`, its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Audio,
    Transcript(TranscriptFormat),
    /// Call metadata for the recording or transcript with the same stem.
    Sidecar,
}

/// A file's stem and kind. The stem names the call: `call-17.wav`, `call-17.vtt` and
/// `call-17.meta.json` are three parts of call `call-17`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub stem: String,
    pub kind: FileKind,
}

/// Whether a file name is a recording's (by its extension).
pub fn is_audio(file_name: &str) -> bool {
    file_name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && AUDIO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    })
}

/// Classify a file by name, looking into `.json` content to tell a Transcribe output from a
/// sidecar. Unsupported and empty files are rejected with the reason.
pub fn classify(file_name: &str, content: &[u8]) -> Result<Classified> {
    if is_sidecar_name(file_name) {
        return Ok(Classified {
            stem: stem(file_name).to_owned(),
            kind: FileKind::Sidecar,
        });
    }
    let Some((stem, ext)) = file_name.rsplit_once('.').filter(|(s, _)| !s.is_empty()) else {
        return Err(Error::validation(format!(
            "`{file_name}` has no file extension: {}",
            supported()
        )));
    };
    let ext = ext.to_ascii_lowercase();
    let kind = if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        FileKind::Audio
    } else {
        match ext.as_str() {
            "vtt" => FileKind::Transcript(TranscriptFormat::WebVtt),
            "srt" => FileKind::Transcript(TranscriptFormat::Srt),
            "txt" => FileKind::Transcript(TranscriptFormat::PlainText),
            "json" if looks_like_transcribe_output(content) => {
                FileKind::Transcript(TranscriptFormat::AmazonTranscribe)
            }
            "json" if gong::looks_like_gong(content) => {
                FileKind::Transcript(TranscriptFormat::Gong)
            }
            "json" => FileKind::Sidecar,
            _ => {
                return Err(Error::validation(format!(
                    "`{file_name}`: unsupported file type `.{ext}`: {}",
                    supported()
                )));
            }
        }
    };
    if content.is_empty() {
        return Err(Error::validation(format!(
            "`{file_name}` is empty (0 bytes)"
        )));
    }
    Ok(Classified {
        stem: stem.to_owned(),
        kind,
    })
}

fn is_sidecar_name(file_name: &str) -> bool {
    file_name.len() > ".meta.json".len() && file_name.to_ascii_lowercase().ends_with(".meta.json")
}

/// The stem a file belongs to: `x.meta.json` -> `x`, `x.vtt` -> `x`. Files with the same stem
/// are parts of one call.
pub fn stem(file_name: &str) -> &str {
    if is_sidecar_name(file_name) {
        return &file_name[..file_name.len() - ".meta.json".len()];
    }
    file_name
        .rsplit_once('.')
        .map_or(file_name, |(s, _)| if s.is_empty() { file_name } else { s })
}

/// Whether telling this file's kind needs its content (only `.json`: a Transcribe output, a
/// Gong document or a sidecar).
pub fn needs_content(file_name: &str) -> bool {
    !is_sidecar_name(file_name) && file_name.to_ascii_lowercase().ends_with(".json")
}

fn supported() -> String {
    format!(
        "expected audio (.{}), a transcript (.vtt .srt .txt, or Amazon Transcribe or Gong .json) or call metadata (.meta.json)",
        AUDIO_EXTENSIONS.join(" .")
    )
}

fn looks_like_transcribe_output(content: &[u8]) -> bool {
    // Scan for `results` with `items` or `transcripts` without building a JSON tree.
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Probe {
        results: Option<Results>,
    }
    #[derive(serde::Deserialize)]
    struct Results {
        items: Option<IgnoredAny>,
        transcripts: Option<IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(content)
        .ok()
        .and_then(|p| p.results)
        .is_some_and(|r| r.items.is_some() || r.transcripts.is_some())
}

/// Parse a transcript of a known format. Errors say where (line, item) and what is wrong.
pub fn parse_transcript(format: TranscriptFormat, content: &[u8]) -> Result<Transcript> {
    check_transcript_size(
        &format!("the {} transcript", format.label()),
        content.len() as u64,
    )?;
    let parsed = match format {
        TranscriptFormat::AmazonTranscribe => transcribe::parse(content),
        TranscriptFormat::Gong => gong::parse(content),
        TranscriptFormat::WebVtt => webvtt::parse(&decode_text(content)),
        TranscriptFormat::Srt => srt::parse(&decode_text(content)),
        TranscriptFormat::PlainText => text::parse(&decode_text(content)),
        TranscriptFormat::Segments => serde_json::from_slice(content)
            .map_err(|e| Error::validation(format!("not a segments JSON document: {e}"))),
    };
    // Error messages quote the input; they go to logs and call statuses, so mask PII in them.
    let transcript = parsed.map_err(|e| match e {
        Error::Validation(m) => Error::Validation(crate::analysis::redact::redact(&m).into_owned()),
        other => other,
    })?;

    if transcript.segments.iter().all(|s| s.text.trim().is_empty()) {
        return Err(Error::validation(format!(
            "the {} transcript has no words in it",
            format.label()
        )));
    }
    check_segments(&transcript)?;
    Ok(transcript)
}

/// What a transcript says of its own call (a Gong document names its parties, time and
/// direction); `None` for the formats that hold only words. Errors name the field.
pub fn embedded_metadata(
    format: TranscriptFormat,
    content: &[u8],
    default_region: &str,
) -> Result<Option<CallMetadata>> {
    match format {
        TranscriptFormat::Gong => gong::metadata(content, default_region).map(Some),
        TranscriptFormat::AmazonTranscribe
        | TranscriptFormat::WebVtt
        | TranscriptFormat::Srt
        | TranscriptFormat::PlainText
        | TranscriptFormat::Segments => Ok(None),
    }
}

/// The largest transcript file taken, in bytes: an Amazon Transcribe JSON of a four-hour call
/// (word by word, with confidences) is about 10 MB; a text transcript of one, 250 KB.
pub const MAX_TRANSCRIPT_BYTES: u64 = 16 * 1024 * 1024;
/// The most segments a transcript may have (a four-hour call is a few thousand).
pub const MAX_SEGMENTS: usize = 50_000;
/// The longest call taken, in seconds (Amazon Transcribe's own limit is four hours).
pub const MAX_CALL_SECONDS: f64 = 4.0 * 3600.0;

/// Refuse a transcript file by its size, before it is read: `what` names it in the error.
/// Recordings are limited separately (`MAX_OBJECT_BYTES` on AWS, 90 minutes locally).
pub fn check_transcript_size(what: &str, bytes: u64) -> Result<()> {
    if bytes > MAX_TRANSCRIPT_BYTES {
        return Err(Error::validation(format!(
            "{what} is {bytes} bytes; a transcript may be at most {MAX_TRANSCRIPT_BYTES} bytes \
             (16 MiB)"
        )));
    }
    Ok(())
}

/// Segment count and times within bounds: every time a number from 0 to `MAX_CALL_SECONDS`,
/// no segment ending before it starts.
fn check_segments(t: &Transcript) -> Result<()> {
    if t.segments.len() > MAX_SEGMENTS {
        return Err(Error::validation(format!(
            "the transcript has {} segments; at most {MAX_SEGMENTS} are taken",
            t.segments.len()
        )));
    }
    for (i, s) in t.segments.iter().enumerate() {
        let n = i + 1;
        let in_range = |x: f64| x.is_finite() && (0.0..=MAX_CALL_SECONDS).contains(&x);
        if !in_range(s.start) || !in_range(s.end) {
            return Err(Error::validation(format!(
                "segment {n}: times {} to {} s are not within a call of at most {} hours",
                s.start,
                s.end,
                MAX_CALL_SECONDS / 3600.0
            )));
        }
        if s.end < s.start {
            return Err(Error::validation(format!(
                "segment {n}: ends at {} s, before it starts at {} s",
                s.end, s.start
            )));
        }
    }
    Ok(())
}

/// Text files arrive as UTF-8 (with or without a byte-order mark) or, from older systems,
/// Windows-1252/Latin-1. Never fails: bytes that are not UTF-8 are read as Latin-1.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Parse `hh:mm:ss.mmm`, `mm:ss.mmm` (WebVTT) or `hh:mm:ss,mmm` (SRT) into seconds.
pub(crate) fn parse_clock(s: &str) -> Option<f64> {
    let s = s.trim().replace(',', ".");
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?, s),
        [m, s] => (0, m.parse::<u32>().ok()?, s),
        _ => return None,
    };
    if m >= 60 || !sec.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let sec: f64 = sec.parse().ok()?;
    (sec < 60.0).then(|| f64::from(h) * 3600.0 + f64::from(m) * 60.0 + sec)
}

/// Split a leading `Speaker:` off a line of text, if it has one. A speaker is a short name that
/// starts with a letter (so `10:30` or a URL is not mistaken for one).
pub(crate) fn split_speaker(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once(':')?;
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= 40
        && name.chars().next().is_some_and(char::is_alphabetic)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '\'' | '-'))
        && (rest.is_empty() || rest.starts_with(char::is_whitespace));
    ok.then(|| (name, rest.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_classified_by_name_and_content() {
        let k = |n: &str, c: &[u8]| classify(n, c).map(|c| (c.stem, c.kind));
        assert_eq!(k("a.WAV", b"RIFF").unwrap(), ("a".into(), FileKind::Audio));
        assert_eq!(
            k("a.vtt", b"WEBVTT").unwrap(),
            ("a".into(), FileKind::Transcript(TranscriptFormat::WebVtt))
        );
        assert_eq!(
            k("a.meta.json", b"{}").unwrap(),
            ("a".into(), FileKind::Sidecar)
        );
        assert_eq!(
            k("a.json", br#"{"caller":"+1"}"#).unwrap(),
            ("a".into(), FileKind::Sidecar)
        );
        assert_eq!(
            k("a.json", br#"{"results":{"items":[]}}"#).unwrap(),
            (
                "a".into(),
                FileKind::Transcript(TranscriptFormat::AmazonTranscribe)
            )
        );
        let err = k("report.pdf", b"%PDF").unwrap_err().to_string();
        assert!(err.contains("unsupported file type `.pdf`"), "{err}");
        let err = k("a.vtt", b"").unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        assert!(k("noextension", b"x").is_err());
    }

    #[test]
    fn stems_group_a_call_and_only_json_needs_reading() {
        for (name, stem_of) in [
            ("x.meta.json", "x"),
            ("X.META.JSON", "X"),
            ("x.vtt", "x"),
            ("a.b.srt", "a.b"),
            (".hidden", ".hidden"),
        ] {
            assert_eq!(stem(name), stem_of, "{name}");
        }
        assert!(
            needs_content("x.json") && !needs_content("x.meta.json") && !needs_content("x.wav")
        );
    }

    #[test]
    fn clocks_parse_in_both_notations() {
        assert_eq!(parse_clock("00:01:02.500"), Some(62.5));
        assert_eq!(parse_clock("01:02,250"), Some(62.25));
        assert_eq!(parse_clock("1:00:00,000"), Some(3600.0));
        assert_eq!(parse_clock("00:61:00.000"), None);
        assert_eq!(parse_clock("ab:cd"), None);
    }

    #[test]
    fn speakers_are_not_confused_with_times_or_urls() {
        assert_eq!(split_speaker("Agent: hello"), Some(("Agent", "hello")));
        assert_eq!(split_speaker("Dr. Kim: yes"), Some(("Dr. Kim", "yes")));
        assert_eq!(split_speaker("10:30 works"), None);
        assert_eq!(split_speaker("see https://x.io"), None);
    }

    #[test]
    fn latin1_text_is_read_not_rejected() {
        assert_eq!(decode_text(b"caf\xe9"), "café");
        assert_eq!(decode_text("\u{feff}hi".as_bytes()), "hi");
    }
}
