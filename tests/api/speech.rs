//! The local speech engine for real: faster-whisper with tiny.en, installed on first use into
//! the user's engine store by the product's own installer (`leadscore speech install` shares
//! it; `LEADSCORE_SPEECH_HOME` moves it), transcribing the sample
//! recordings in `samples/audio/` (made by `samples/audio/make.sh` with espeak-ng and sox).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use shared::adapters::local::{EngineStore, WhisperEngine};
use shared::ports::Transcriber;

use crate::helpers::{drop_into, lead_by_phone, repo_root, spawn_app};

const STEREO: &str = "20261120T160000Z_+15305550111_+14155550100_inbound.wav";
const MONO: &str = "20261121T181500Z_+17205550122_+14155550100_inbound.flac";

/// The engine's virtualenv, installed once (or found installed).
fn engine_venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let engine = EngineStore::for_user()
            // Straight to stderr: the test harness captures `eprintln!`, and the person waiting
            // on a 550 MB install should see it start.
            .install(&python, |step| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{step}");
            })
            .unwrap_or_else(|e| panic!("{}", e.report()));
        // `<venv>/bin/python` -> `<venv>`
        engine.parent().unwrap().parent().unwrap().to_owned()
    })
}

/// No engine store: only the data folder's own engine counts.
fn no_store(dir: &Path) -> EngineStore {
    EngineStore::at(dir.join("no-engine-store"))
}

/// A data folder whose speech engine is the installed one (as `leadscore speech install` leaves it).
fn data_dir_with_engine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("speech")).unwrap();
    std::os::unix::fs::symlink(engine_venv(), dir.path().join("speech/venv")).unwrap();
    dir
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("samples/audio").join(name)).unwrap()
}

/// What the script says on a recording, by party (`agent` or `caller`).
fn said(file: &str, party: &str) -> String {
    std::fs::read_to_string(repo_root().join("samples/audio/script.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, '|').collect();
            (f.len() == 4 && f[0] == file && f[1] == party).then(|| f[3].to_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate: word-level edit distance over the reference's length.
fn wer(reference: &str, heard: &str) -> f64 {
    let (r, h) = (words(reference), words(heard));
    let mut row: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, hw) in h.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(rw != hw)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[h.len()] as f64 / r.len() as f64
}

#[test]
fn word_error_rate_counts_edits() {
    assert_eq!(wer("call me back", "call me back"), 0.0);
    assert_eq!(wer("call me back", "Call me, Mac!"), 1.0 / 3.0);
    assert_eq!(wer("a b c d", "a c d e"), 0.5);
}

#[tokio::test]
async fn the_sample_recordings_are_heard_within_15_percent_word_error_per_party() {
    let dir = data_dir_with_engine();
    let engine = WhisperEngine::locate(dir.path(), &no_store(dir.path())).expect("installed");
    let stereo = engine.transcribe(&sample(STEREO), "wav").await.unwrap();
    assert!(stereo.transcript.by_channel, "two channels, two parties");
    assert!((stereo.duration - 39.4).abs() < 0.5, "{}", stereo.duration);
    for (channel, party) in [("ch_0", "agent"), ("ch_1", "caller")] {
        let heard: Vec<&str> = stereo
            .transcript
            .segments
            .iter()
            .filter(|s| s.speaker == channel)
            .map(|s| s.text.as_str())
            .collect();
        let rate = wer(&said(STEREO, party), &heard.join(" "));
        eprintln!("{STEREO} {party}: WER {rate:.3}");
        assert!(rate <= 0.15, "{party}: WER {rate:.3}: {heard:?}");
    }
    let mono = engine.transcribe(&sample(MONO), "flac").await.unwrap();
    assert!(!mono.transcript.by_channel);
    let heard: Vec<&str> = mono
        .transcript
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let rate = wer(&said(MONO, "caller"), &heard.join(" "));
    eprintln!("{MONO}: WER {rate:.3}");
    assert!(rate <= 0.15, "WER {rate:.3}: {heard:?}");
    for s in &mono.transcript.segments {
        assert!(s.start <= s.end && s.end <= mono.duration + 0.5, "{s:?}");
        assert!(s.confidence.is_some_and(|c| (0.0..=1.0).contains(&c)));
    }
}

#[tokio::test]
async fn every_telephony_format_is_decoded() {
    let dir = data_dir_with_engine();
    let engine = WhisperEngine::locate(dir.path(), &no_store(dir.path())).expect("installed");
    for name in [
        "phrase-pcm.wav",
        "phrase-mulaw.wav",
        "phrase.mp3",
        "phrase.m4a",
        "phrase.flac",
        "phrase.ogg",
    ] {
        let ext = name.rsplit('.').next().unwrap();
        let speech = engine
            .transcribe(&sample(&format!("formats/{name}")), ext)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text: String = speech
            .transcript
            .segments
            .iter()
            .map(|s| s.text.to_lowercase())
            .collect();
        assert!(
            text.contains("call me") && text.contains("solar panels"),
            "{name}: {text}"
        );
        assert!(
            (2.7..3.7).contains(&speech.duration),
            "{name}: {}",
            speech.duration
        );
    }
}

/// A mu-law WAV of `seconds` of silence (8 kHz mono), as a telephony system would write it.
fn silent_wav(seconds: u32) -> Vec<u8> {
    let data = 8000 * seconds;
    let mut w = Vec::with_capacity(58 + data as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(50 + data).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&18u32.to_le_bytes());
    w.extend_from_slice(&7u16.to_le_bytes()); // mu-law
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8u16.to_le_bytes());
    w.extend_from_slice(&0u16.to_le_bytes());
    w.extend_from_slice(b"fact");
    w.extend_from_slice(&4u32.to_le_bytes());
    w.extend_from_slice(&data.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data.to_le_bytes());
    w.resize(w.len() + data as usize, 0xFF); // mu-law silence
    w
}

async fn call_of(app: &crate::helpers::TestApp, phone: &str) -> Value {
    let leads = app
        .wait_for("/leads", |b| lead_by_phone(b, phone).is_some())
        .await;
    let id = lead_by_phone(&leads, phone).unwrap()["lead_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for(&format!("/leads/{id}"), |l| {
        matches!(l["calls"][0]["status"].as_str(), Some("scored" | "failed"))
    })
    .await
}

#[tokio::test]
async fn a_stereo_recording_dropped_into_the_inbox_becomes_a_ranked_lead_quoting_the_caller() {
    let dir = data_dir_with_engine();
    let app = spawn_app(dir.path()).await;
    drop_into(&app.app, STEREO, &sample(STEREO));
    let lead = call_of(&app, "+15305550111").await;
    let call = &lead["calls"][0];
    assert_eq!(call["status"], "scored", "{call:#}");
    let duration = call["call_duration"].as_f64().unwrap();
    assert!(
        (duration - 39.4).abs() < 0.5,
        "duration from the audio: {duration}"
    );
    // The caller's channel is the customer: its request is the evidence.
    let callback = lead["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "default-callback" || f["rule_id"] == "default-pricing")
        .unwrap_or_else(|| panic!("an intent from the audio: {:#}", lead["factors"]));
    let roles = &call["analysis"]["roles"];
    assert_eq!(roles["agent"], "ch_0", "{roles}");
    assert_eq!(roles["customer"], "ch_1", "{roles}");
    let quote = &callback["evidence"][0];
    assert_eq!(quote["kind"], "quote");
    assert_eq!(quote["speaker"], "ch_1", "{quote}");
    let text = quote["text"].as_str().unwrap().to_lowercase();
    assert!(
        ["call me back", "how much", "a quote"]
            .iter()
            .any(|w| text.contains(w)),
        "{text}"
    );
    let (_, leads) = app.get("/leads").await;
    assert!(
        lead_by_phone(&leads, "+15305550111").unwrap()["lead_score"]
            .as_u64()
            .unwrap()
            > 0
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_audio_gets_a_clear_status_and_the_engine_keeps_serving() {
    let dir = data_dir_with_engine();
    let app = spawn_app(dir.path()).await;
    let stereo = sample(STEREO);
    let flac = sample(MONO);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "20261122T100000Z_+15305550001.wav",
            silent_wav(5),
            "no speech was heard",
        ),
        (
            "20261122T100000Z_+15305550002.wav",
            silent_wav(2 * 3600),
            "over the 90-minute limit",
        ),
        (
            "20261122T100000Z_+15305550003.mp3",
            b"ID3 this is not really an mp3 at all".repeat(40),
            "not audio",
        ),
        (
            "20261122T100000Z_+15305550004.wav",
            stereo[..2000].to_vec(),
            "no speech was heard",
        ),
    ];
    // A zero-length file never becomes a call: the inbox rejects it with the reason.
    let empty = "20261122T100000Z_+15305550006.wav";
    drop_into(&app.app, empty, b"");
    for (name, bytes, _) in &cases {
        drop_into(&app.app, name, bytes);
    }
    // A FLAC named .wav is still heard: the engine goes by the content.
    drop_into(&app.app, "20261122T100000Z_+15305550005.wav", &flac);
    for (name, _, why) in &cases {
        let phone = &name[17..29];
        let lead = call_of(&app, phone).await;
        let call = &lead["calls"][0];
        assert_eq!(call["status"], "failed", "{name}: {call:#}");
        let detail = call["status_detail"].as_str().unwrap();
        assert!(detail.contains(why), "{name}: {detail}");
        // Said plainly: no errno, no path of the engine's scratch copy.
        assert!(
            !detail.contains("Errno") && !detail.contains("scratch"),
            "{name}: {detail}"
        );
    }
    let renamed = call_of(&app, "+15305550005").await;
    assert_eq!(renamed["calls"][0]["status"], "scored", "{renamed:#}");
    let why = app.app.data_dir.join(format!("rejected/{empty}.error.txt"));
    assert!(
        std::fs::read_to_string(&why)
            .unwrap_or_default()
            .contains("is empty (0 bytes)"),
        "{}",
        why.display()
    );
    app.stop().await;
}

/// A call recorded at Twilio: the signed `RecordingStatusCallback` makes the product read the
/// call from Twilio's Call resource, fetch the recording (the stand-in's, over a socket) and
/// hear it; the call ends scored on the lead, with Twilio's start time and the agent's channel
/// known from the direction (a rep's softphone calling out: the agent is the parent leg,
/// `ch_0`). The callback delivered again changes nothing and fetches nothing; a forged one is
/// refused; the recording is deleted at Twilio once stored, as the tenant asked.
#[tokio::test]
async fn a_twilio_recording_callback_ends_in_a_scored_call_once() {
    use reqwest::{Method, StatusCode};
    use serde_json::json;
    use shared::sms::twilio::{self, Algorithm};

    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let twilio = testkit::twilio::Twilio::start(ACCOUNT, TOKEN, &["+14155550100"]).await;
    let started = chrono::DateTime::parse_from_rfc3339("2026-11-20T16:00:00Z")
        .unwrap()
        .to_utc();
    let call = twilio.add_call("client:maya", "+15305550111", "inbound", started, 39);
    let recording = twilio.add_recording(&call, sample(STEREO));

    let dir = data_dir_with_engine();
    let config = shared::Config {
        twilio_api_url: twilio.url.clone(),
        ..shared::Config::default()
    };
    let app = crate::helpers::spawn_app_with(dir.path(), config).await;
    let (status, saved) = app
        .send(
            Method::PUT,
            "/settings/twilio",
            &json!({"auth_token": TOKEN, "account_sid": ACCOUNT}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        saved["webhooks"]["recording_status_callback"],
        "/twilio/default/recording"
    );
    let (status, body) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({"twilio_recordings": {"delete_at_twilio": true}}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let params: Vec<(String, String)> = [
        ("AccountSid", ACCOUNT),
        ("CallSid", call.as_str()),
        ("RecordingSid", recording.as_str()),
        (
            "RecordingUrl",
            &format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording}"),
        ),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "39"),
        ("RecordingChannels", "2"),
        ("RecordingSource", "OutboundAPI"),
        ("ErrorCode", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let url = app.url("/twilio/default/recording");
    let post = |signature: String| {
        app.client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish(),
            )
            .send()
    };
    let forged = post(twilio::signature(
        Algorithm::HmacSha1,
        "ffffffffffffffffffffffffffffffff",
        &url,
        &params,
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let signature = twilio::signature(Algorithm::HmacSha1, TOKEN, &url, &params);
    for _ in 0..2 {
        let answer = post(signature.clone()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }

    let lead = call_of(&app, "+15305550111").await;
    let calls = lead["calls"].as_array().unwrap();
    assert_eq!(
        calls.len(),
        1,
        "one call however often Twilio calls back: {lead:#}"
    );
    assert_eq!(calls[0]["status"], "scored", "{:#}", calls[0]);
    assert_eq!(calls[0]["call_start_time"], "2026-11-20T16:00:00Z");
    assert_eq!(calls[0]["analysis"]["roles"]["agent"], "ch_0");
    app.settle().await;
    assert_eq!(
        twilio.recording(&recording),
        (1, true),
        "fetched once, then deleted at Twilio"
    );

    // Twilio retries a callback it thinks failed, even hours later: still one call.
    let answer = post(signature).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    app.settle().await;
    let (_, lead) = app
        .get(&format!("/leads/{}", lead["lead_id"].as_str().unwrap()))
        .await;
    assert_eq!(lead["calls"].as_array().unwrap().len(), 1);
    assert_eq!(twilio.recording(&recording), (1, true));
    app.stop().await;
}
