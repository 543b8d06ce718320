//! WebVTT captions: cues with `<v Speaker>` voice tags or `Speaker:` prefixes.

use crate::domain::{Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};

use super::{parse_clock, split_speaker};

pub fn parse(text: &str) -> Result<Transcript> {
    let mut lines = text.lines().enumerate().peekable();
    match lines.next() {
        Some((_, first)) if first.trim_start().starts_with("WEBVTT") => {}
        _ => {
            return Err(Error::validation(
                "line 1: a WebVTT file starts with `WEBVTT`",
            ));
        }
    }
    let mut segments = Vec::new();
    let mut last_speaker = "Speaker".to_owned();
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("NOTE") || line.starts_with("STYLE") || line.starts_with("REGION") {
            // A block that runs to the next blank line.
            while lines.peek().is_some_and(|(_, l)| !l.trim().is_empty()) {
                lines.next();
            }
            continue;
        }
        // An optional cue identifier, then the timing line.
        let (n, timing) = if line.contains("-->") {
            (n, line)
        } else {
            match lines.next() {
                Some((m, l)) if l.contains("-->") => (m, l.trim()),
                _ => {
                    return Err(Error::validation(format!(
                        "line {}: expected a cue timing line like `00:00:01.000 --> 00:00:04.000`",
                        n + 2
                    )));
                }
            }
        };
        let (start, end) = parse_timing(timing).ok_or_else(|| {
            Error::validation(format!(
                "line {}: `{timing}` is not a cue timing like `00:00:01.000 --> 00:00:04.000`",
                n + 1
            ))
        })?;
        let mut payload = Vec::new();
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            payload.push(lines.next().expect("peeked").1.trim());
        }
        let (speaker, text) = cue_speaker(&payload.join(" "));
        let speaker = speaker.unwrap_or_else(|| last_speaker.clone());
        last_speaker.clone_from(&speaker);
        if !text.is_empty() {
            segments.push(Segment {
                speaker,
                start,
                end: end.max(start),
                text,
                confidence: None,
            });
        }
    }
    Ok(Transcript {
        format: TranscriptFormat::WebVtt,
        by_channel: false,
        segments,
    })
}

fn parse_timing(line: &str) -> Option<(f64, f64)> {
    let (a, b) = line.split_once("-->")?;
    let end = b.split_whitespace().next()?; // cue settings may follow the end time
    Some((parse_clock(a)?, parse_clock(end)?))
}

/// The speaker (from a `<v Name>` tag or a `Name:` prefix) and the plain text of a cue.
fn cue_speaker(payload: &str) -> (Option<String>, String) {
    let mut speaker = None;
    let mut text = String::with_capacity(payload.len());
    let mut rest = payload;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            text.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if let Some(v) = tag.strip_prefix('v').filter(|t| t.starts_with([' ', '.'])) {
            // `<v Name>` or `<v.class Name>`
            let name = v.split_once(' ').map_or("", |(_, n)| n).trim();
            if !name.is_empty() && speaker.is_none() {
                speaker = Some(name.to_owned());
            }
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    let text = unescape(text.trim());
    if speaker.is_none()
        && let Some((name, t)) = split_speaker(&text)
    {
        return (Some(name.to_owned()), t.to_owned());
    }
    (speaker, text)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&lrm;", "")
        .replace("&rlm;", "")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_tags_prefixes_and_ids_are_understood() {
        let vtt = "WEBVTT - call\n\nNOTE exported by X\nsecond line\n\n1\n00:00:01.000 --> 00:00:03.500 align:start\n<v Maya>Thanks for calling Brightline,\nthis is Maya.</v>\n\n00:03.600 --> 00:05.000\nCaller: Hi, how much &amp; when?\n\n00:05.100 --> 00:06.000\n<c.loud>Still me</c>\n";
        let t = parse(vtt).unwrap();
        assert_eq!(t.segments.len(), 3);
        assert_eq!(t.segments[0].speaker, "Maya");
        assert_eq!(
            t.segments[0].text,
            "Thanks for calling Brightline, this is Maya."
        );
        assert_eq!(t.segments[0].start, 1.0);
        assert_eq!(t.segments[1].speaker, "Caller");
        assert_eq!(t.segments[1].text, "Hi, how much & when?");
        assert_eq!(
            t.segments[2].speaker, "Caller",
            "a cue without a speaker continues the last one"
        );
        assert_eq!(t.segments[2].text, "Still me");
    }

    #[test]
    fn errors_give_the_line() {
        assert!(
            parse("1\n00:00:01.000 --> 00:00:02.000\nhi")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        let err = parse("WEBVTT\n\n00:00:01.000 --> soon\nhi\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        let err = parse("WEBVTT\n\nsome id\nno timing here\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4"), "{err}");
    }
}
