//! Transcript and metadata formats, on real files: Amazon Transcribe's own outputs and every
//! file of the bundled sample set.

use shared::domain::TranscriptFormat;
use shared::formats::{CallMetadata, FileKind, classify, parse_transcript};

use crate::helpers::{fixture, repo_root};

fn transcribe(name: &str) -> shared::domain::Transcript {
    let bytes = std::fs::read(fixture(&format!("transcribe/{name}"))).unwrap();
    assert_eq!(
        classify(name, &bytes).unwrap().kind,
        FileKind::Transcript(TranscriptFormat::AmazonTranscribe)
    );
    parse_transcript(TranscriptFormat::AmazonTranscribe, &bytes).unwrap()
}

#[test]
fn transcribe_speaker_labels_from_a_real_job() {
    // GIVEN a real output whose items carry no speaker: only speaker_labels.segments do
    let t = transcribe("tscribe_03-speaker-identification.json");
    // THEN every word gets its speaker from the segments
    assert!(!t.by_channel);
    assert_eq!(t.speakers(), ["spk_0", "spk_1", "spk_2"]);
    assert!(
        t.segments[0]
            .text
            .starts_with("She was gone out into the village"),
        "{}",
        t.segments[0].text
    );
    assert_eq!(t.segments[0].start, 0.49);
    assert!(
        t.segments.windows(2).all(|w| w[0].start <= w[1].start),
        "segments are in time order"
    );
    let words: usize = t
        .segments
        .iter()
        .map(|s| s.text.split_whitespace().count())
        .sum();
    let raw: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("transcribe/tscribe_03-speaker-identification.json")).unwrap(),
    )
    .unwrap();
    let pronunciations = raw["results"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "pronunciation")
        .count();
    assert_eq!(words, pronunciations, "no word is lost or invented");
    assert!(
        t.segments
            .iter()
            .all(|s| s.confidence.is_some_and(|c| c > 0.0 && c <= 1.0))
    );
}

#[test]
fn transcribe_channel_identification_from_a_real_job() {
    let t = transcribe("tscribe_02-channel-identification.json");
    assert!(t.by_channel);
    assert_eq!(
        t.speakers(),
        ["ch_1", "ch_0"],
        "ch_1 speaks first in this recording"
    );
    assert_eq!(
        (t.segments[0].speaker.as_str(), t.segments[0].start),
        ("ch_1", 0.49)
    );
    assert!(
        t.segments
            .iter()
            .any(|s| s.speaker == "ch_0" && s.text.starts_with("it will be well for you"))
    );
}

#[test]
fn transcribe_documented_outputs() {
    for (name, a, b) in [
        ("awsdocs_diarization_output_batch.json", "spk_0", "spk_1"),
        ("awsdocs_channel_id_output_batch.json", "ch_0", "ch_1"),
    ] {
        let t = transcribe(name);
        let turns: Vec<(&str, &str)> = t
            .segments
            .iter()
            .map(|s| (s.speaker.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            turns,
            [
                (a, "I've been on hold for an hour."),
                (b, "Sorry about that.")
            ],
            "{name}"
        );
    }
}

#[test]
fn every_bundled_sample_parses() {
    let dir = repo_root().join("samples/calls");
    let mut transcripts = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        match classify(&name, &bytes).unwrap().kind {
            FileKind::Transcript(format) => {
                let t = parse_transcript(format, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(t.speakers().len() >= 2, "{name} has two parties");
                transcripts += 1;
            }
            FileKind::Sidecar => {
                let m = CallMetadata::from_sidecar(&bytes, "US")
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(m.caller.is_some() && m.started_at.is_some(), "{name}");
            }
            FileKind::Audio => panic!("{name}: no audio in the sample set"),
        }
    }
    assert!(transcripts >= 40, "the sample set has {transcripts} calls");
}
