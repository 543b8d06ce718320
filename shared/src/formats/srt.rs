//! SubRip (SRT) subtitles: numbered blocks, `hh:mm:ss,mmm --> hh:mm:ss,mmm`, text with an
//! optional `Speaker:` or `[Speaker]` prefix.

use crate::domain::{Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};

use super::{parse_clock, split_speaker};

pub fn parse(text: &str) -> Result<Transcript> {
    let mut segments = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut last_speaker = "Speaker".to_owned();
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !line.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::validation(format!(
                "line {}: expected a subtitle number, found `{}`",
                n + 1,
                truncate(line)
            )));
        }
        let (m, timing) = lines.next().ok_or_else(|| {
            Error::validation(format!(
                "line {}: subtitle {line} has no timing line",
                n + 2
            ))
        })?;
        let (start, end) = timing
            .split_once("-->")
            .and_then(|(a, b)| Some((parse_clock(a)?, parse_clock(b.split_whitespace().next()?)?)))
            .ok_or_else(|| {
                Error::validation(format!(
                    "line {}: `{}` is not a timing like `00:00:01,000 --> 00:00:04,000`",
                    m + 1,
                    truncate(timing.trim())
                ))
            })?;
        let mut payload = Vec::new();
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            payload.push(strip_tags(lines.next().expect("peeked").1.trim()));
        }
        let joined = payload.join(" ");
        let (speaker, body) = match bracket_speaker(&joined).or_else(|| split_speaker(&joined)) {
            Some((s, b)) => (s.to_owned(), b.to_owned()),
            None => (last_speaker.clone(), joined.clone()),
        };
        last_speaker.clone_from(&speaker);
        if !body.is_empty() {
            segments.push(Segment {
                speaker,
                start,
                end: end.max(start),
                text: body,
                confidence: None,
            });
        }
    }
    Ok(Transcript {
        format: TranscriptFormat::Srt,
        by_channel: false,
        segments,
    })
}

fn bracket_speaker(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('[')?;
    let (name, body) = rest.split_once(']')?;
    (!name.is_empty() && name.len() <= 40).then(|| (name.trim(), body.trim()))
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_with_speakers_parse() {
        let srt = "1\n00:00:01,000 --> 00:00:02,500\nAgent: Hello, <i>Brightline</i>.\n\n2\n00:00:03,000 --> 00:00:05,000\n[Caller] Hi there.\nSecond line.\n\n3\n00:00:05,000 --> 00:00:06,000\nStill the caller\n";
        let t = parse(srt).unwrap();
        assert_eq!(t.segments.len(), 3);
        assert_eq!(
            (t.segments[0].speaker.as_str(), t.segments[0].text.as_str()),
            ("Agent", "Hello, Brightline.")
        );
        assert_eq!(
            (t.segments[1].speaker.as_str(), t.segments[1].text.as_str()),
            ("Caller", "Hi there. Second line.")
        );
        assert_eq!(t.segments[2].speaker, "Caller");
        assert_eq!(t.segments[1].end, 5.0);
    }

    #[test]
    fn errors_give_the_line() {
        let err = parse("1\n00:00:01,000 -> 00:00:02,000\nhi\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("WEBVTT\n").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("subtitle number"),
            "{err}"
        );
    }
}
