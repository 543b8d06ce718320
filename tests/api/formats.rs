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

#[test]
fn roles_on_both_transcribe_samples() {
    use shared::analysis::{Hints, analyze_with};
    use shared::domain::Direction;
    // Channel identification: each channel is a party; metadata settles which one is ours.
    let channels = transcribe("tscribe_02-channel-identification.json");
    let detected = analyze_with(&channels, &Hints::default()).roles;
    assert!(
        detected.customer.is_some()
            && detected.agent.is_some()
            && detected.customer != detected.agent
    );
    assert!(
        detected.confidence < 1.0,
        "a read-aloud passage has no greeting to be sure from"
    );
    let told = analyze_with(
        &channels,
        &Hints {
            agent: Some("ch_0"),
            ..Hints::default()
        },
    )
    .roles;
    assert_eq!(
        (
            told.agent.as_deref(),
            told.customer.as_deref(),
            told.confidence
        ),
        (Some("ch_0"), Some("ch_1"), 1.0)
    );
    // Speaker labels, three voices: the one who answers an inbound call is the agent.
    let speakers = transcribe("tscribe_03-speaker-identification.json");
    let r = analyze_with(
        &speakers,
        &Hints {
            direction: Direction::Inbound,
            ..Hints::default()
        },
    )
    .roles;
    assert_eq!(r.agent.as_deref(), Some("spk_0"));
    assert!(r.customer.as_deref().is_some_and(|c| c != "spk_0"));
}

#[test]
fn roles_match_the_sidecars_on_the_bundled_calls() {
    use shared::analysis::{Hints, analyze_with};
    let dir = repo_root().join("samples/calls");
    let (mut checked, mut right) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".meta.json") else {
            continue;
        };
        let side: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Some(agent) = side["agent"].as_str() else {
            continue;
        };
        // Text formats name the agent; Transcribe outputs label voices, not people.
        let Some(transcript) = ["txt", "vtt", "srt"].iter().find_map(|ext| {
            let p = dir.join(format!("{stem}.{ext}"));
            let bytes = std::fs::read(&p).ok()?;
            let FileKind::Transcript(f) = classify(p.file_name()?.to_str()?, &bytes).ok()?.kind
            else {
                return None;
            };
            parse_transcript(f, &bytes).ok()
        }) else {
            continue;
        };
        let meta = CallMetadata::from_sidecar(&std::fs::read(&path).unwrap(), "US").unwrap();
        let roles = analyze_with(
            &transcript,
            &Hints {
                direction: meta.direction.unwrap_or_default(),
                ..Hints::default()
            },
        )
        .roles;
        checked += 1;
        right += usize::from(roles.agent.as_deref() == Some(agent));
    }
    assert!(checked >= 20, "{checked} calls checked");
    assert_eq!(
        right, checked,
        "the agent is found on every bundled call with a named agent"
    );
}
