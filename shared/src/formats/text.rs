//! Plain text: one turn per line, `Speaker: text`, optionally led by a `[mm:ss]` or
//! `[hh:mm:ss]` time. Lines without a speaker continue the turn before them. Without times,
//! segment times are estimated from word counts at 150 words a minute.

use crate::domain::{Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};

use super::{parse_clock, split_speaker};

const SECONDS_PER_WORD: f64 = 0.4;

pub fn parse(text: &str) -> Result<Transcript> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut clock = 0.0_f64;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (stamp, rest) = leading_time(line);
        match split_speaker(rest) {
            Some((speaker, body)) => {
                let start = stamp.unwrap_or(clock).max(clock);
                let words = body.split_whitespace().count() as f64;
                let end = start + words.max(1.0) * SECONDS_PER_WORD;
                clock = end;
                if let Some(prev) = segments
                    .last_mut()
                    .filter(|p| stamp.is_some() && p.end > start)
                {
                    prev.end = start;
                }
                segments.push(Segment {
                    speaker: speaker.to_owned(),
                    start,
                    end,
                    text: body.to_owned(),
                    confidence: None,
                });
            }
            None => match segments.last_mut() {
                Some(prev) => {
                    let words = rest.split_whitespace().count() as f64;
                    prev.text.push(' ');
                    prev.text.push_str(rest);
                    prev.end += words * SECONDS_PER_WORD;
                    clock = prev.end;
                }
                None => {
                    return Err(Error::validation(format!(
                        "line {}: expected `Speaker: text`, found `{}`",
                        n + 1,
                        line.chars().take(60).collect::<String>()
                    )));
                }
            },
        }
    }
    if segments.is_empty() {
        return Err(Error::validation("no `Speaker: text` lines found"));
    }
    Ok(Transcript {
        format: TranscriptFormat::PlainText,
        by_channel: false,
        segments,
    })
}

/// `[01:23] Agent: ...` or `01:23 Agent: ...` -> (Some(83.0), "Agent: ...").
fn leading_time(line: &str) -> (Option<f64>, &str) {
    let (token, rest) = match line.strip_prefix('[') {
        Some(r) => match r.split_once(']') {
            Some((t, rest)) => (t, rest),
            None => return (None, line),
        },
        None => match line.split_once(char::is_whitespace) {
            Some((t, rest)) if t.contains(':') && t.starts_with(|c: char| c.is_ascii_digit()) => {
                (t, rest)
            }
            _ => return (None, line),
        },
    };
    match parse_clock(token) {
        Some(t) => (Some(t), rest.trim_start()),
        None => (None, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_continuations_and_times() {
        let t =
            parse("Agent: Hello there.\nCaller: Hi.\nI need a quote.\n\n[00:30] Agent: Sure.\n")
                .unwrap();
        assert_eq!(t.segments.len(), 3);
        assert_eq!(t.segments[1].text, "Hi. I need a quote.");
        assert_eq!(t.segments[2].start, 30.0);
        assert!(t.segments[0].start < t.segments[1].start);
    }

    #[test]
    fn text_without_speakers_is_rejected_with_the_line() {
        let err = parse("hello world\nAgent: hi").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("Speaker: text"),
            "{err}"
        );
        assert!(parse("\n\n").is_err());
    }
}
