//! Amazon Transcribe batch output: `results.items` of pronunciations and punctuation, with the
//! speaker in `speaker_label` / `channel_label` on the item (newer outputs) or only in
//! `results.speaker_labels.segments` / `results.channel_labels.channels` (older outputs).

use std::collections::HashMap;

use serde::Deserialize;

use crate::domain::{Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};

/// A new segment starts when the speaker changes or after a pause this long (seconds).
const PAUSE: f64 = 1.5;

#[derive(Deserialize)]
struct Output {
    results: Results,
}

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    items: Vec<Item>,
    speaker_labels: Option<SpeakerLabels>,
    channel_labels: Option<ChannelLabels>,
}

#[derive(Deserialize)]
struct SpeakerLabels {
    #[serde(default)]
    segments: Vec<SpeakerSegment>,
}

#[derive(Deserialize)]
struct SpeakerSegment {
    #[serde(default)]
    items: Vec<LabelledTime>,
}

#[derive(Deserialize)]
struct LabelledTime {
    start_time: String,
    speaker_label: String,
}

#[derive(Deserialize)]
struct ChannelLabels {
    #[serde(default)]
    channels: Vec<Channel>,
}

#[derive(Deserialize)]
struct Channel {
    channel_label: String,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: String,
    start_time: Option<String>,
    end_time: Option<String>,
    #[serde(default)]
    alternatives: Vec<Alternative>,
    speaker_label: Option<String>,
    channel_label: Option<String>,
}

#[derive(Deserialize)]
struct Alternative {
    content: String,
    confidence: Option<String>,
}

struct Word {
    speaker: String,
    start: f64,
    end: f64,
    text: String,
    confidence: Option<f32>,
}

pub fn parse(content: &[u8]) -> Result<Transcript> {
    let out: Output = serde_json::from_slice(content)
        .map_err(|e| Error::validation(format!("not an Amazon Transcribe output: {e}")))?;
    let r = out.results;
    if let Some(ch) = r.channel_labels.filter(|c| !c.channels.is_empty()) {
        // One word stream per channel, segmented per channel, then merged in time order.
        let mut segments = Vec::new();
        for channel in ch.channels {
            let words = words(&channel.items, |_, item| {
                Some(
                    item.channel_label
                        .clone()
                        .unwrap_or_else(|| channel.channel_label.clone()),
                )
            })?;
            segments.extend(group(words));
        }
        segments.sort_by(|a, b| a.start.total_cmp(&b.start));
        return Ok(Transcript {
            format: TranscriptFormat::AmazonTranscribe,
            by_channel: true,
            segments,
        });
    }
    let by_start: HashMap<&str, &str> = r
        .speaker_labels
        .iter()
        .flat_map(|s| &s.segments)
        .flat_map(|seg| &seg.items)
        .map(|i| (i.start_time.as_str(), i.speaker_label.as_str()))
        .collect();
    let words = words(&r.items, |start, item| {
        item.speaker_label
            .clone()
            .or_else(|| item.channel_label.clone())
            .or_else(|| start.and_then(|s| by_start.get(s)).map(|s| (*s).to_owned()))
    })?;
    Ok(Transcript {
        format: TranscriptFormat::AmazonTranscribe,
        by_channel: false,
        segments: group(words),
    })
}

/// Words with their speaker; punctuation is glued to the word before it.
fn words(
    items: &[Item],
    speaker_of: impl Fn(Option<&str>, &Item) -> Option<String>,
) -> Result<Vec<Word>> {
    let mut words: Vec<Word> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let alt = item
            .alternatives
            .first()
            .ok_or_else(|| Error::validation(format!("results.items[{i}] has no alternatives")))?;
        match item.kind.as_str() {
            "punctuation" => {
                if let Some(last) = words.last_mut() {
                    last.text.push_str(&alt.content);
                }
            }
            "pronunciation" => {
                let time = |v: &Option<String>, name: &str| -> Result<f64> {
                    v.as_deref()
                        .and_then(|t| t.parse::<f64>().ok())
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .ok_or_else(|| {
                            Error::validation(format!("results.items[{i}] has no valid {name}"))
                        })
                };
                let start = time(&item.start_time, "start_time")?;
                let end = time(&item.end_time, "end_time")?.max(start);
                words.push(Word {
                    speaker: speaker_of(item.start_time.as_deref(), item)
                        .unwrap_or_else(|| "spk_0".to_owned()),
                    start,
                    end,
                    text: alt.content.clone(),
                    confidence: alt.confidence.as_deref().and_then(|c| c.parse().ok()),
                });
            }
            other => {
                return Err(Error::validation(format!(
                    "results.items[{i}] has unknown type `{other}`"
                )));
            }
        }
    }
    Ok(words)
}

fn group(words: Vec<Word>) -> Vec<Segment> {
    let mut out: Vec<(Segment, Vec<f32>)> = Vec::new();
    for w in words {
        let continues = out
            .last()
            .is_some_and(|(s, _)| s.speaker == w.speaker && w.start - s.end <= PAUSE);
        if !continues {
            out.push((
                Segment {
                    speaker: w.speaker.clone(),
                    start: w.start,
                    end: w.end,
                    text: String::new(),
                    confidence: None,
                },
                Vec::new(),
            ));
        }
        let (seg, confs) = out.last_mut().expect("a segment was just pushed");
        if !seg.text.is_empty() {
            seg.text.push(' ');
        }
        seg.text.push_str(&w.text);
        seg.end = seg.end.max(w.end);
        confs.extend(w.confidence);
    }
    out.into_iter()
        .map(|(mut s, c)| {
            if !c.is_empty() {
                s.confidence = Some(c.iter().sum::<f32>() / c.len() as f32);
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_joins_the_word_before_it_and_speakers_come_from_items() {
        let json = br#"{"results":{"items":[
          {"type":"pronunciation","start_time":"0.5","end_time":"0.9","speaker_label":"spk_0","alternatives":[{"confidence":"0.9","content":"Hello"}]},
          {"type":"punctuation","alternatives":[{"confidence":"0.0","content":"."}]},
          {"type":"pronunciation","start_time":"1.0","end_time":"1.4","speaker_label":"spk_1","alternatives":[{"confidence":"0.7","content":"Hi"}]}
        ]}}"#;
        let t = parse(json).unwrap();
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].text, "Hello.");
        assert_eq!(t.segments[0].speaker, "spk_0");
        assert_eq!(t.segments[1].speaker, "spk_1");
        assert!((t.segments[1].confidence.unwrap() - 0.7).abs() < 1e-6);
    }

    #[test]
    fn a_pause_starts_a_new_segment() {
        let json = br#"{"results":{"items":[
          {"type":"pronunciation","start_time":"0.0","end_time":"0.5","alternatives":[{"content":"one"}]},
          {"type":"pronunciation","start_time":"4.0","end_time":"4.5","alternatives":[{"content":"two"}]}
        ]}}"#;
        assert_eq!(parse(json).unwrap().segments.len(), 2);
    }

    #[test]
    fn errors_point_at_the_item() {
        let json = br#"{"results":{"items":[{"type":"pronunciation","start_time":"x","end_time":"1","alternatives":[{"content":"a"}]}]}}"#;
        let err = parse(json).unwrap_err().to_string();
        assert!(
            err.contains("results.items[0]") && err.contains("start_time"),
            "{err}"
        );
        assert!(
            parse(b"{}")
                .unwrap_err()
                .to_string()
                .contains("not an Amazon Transcribe output")
        );
    }
}
