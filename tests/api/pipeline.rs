//! The pipeline through the inbox: files dropped in, ranked leads out, on a real SQLite file.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{drop_into, drop_sample, lead_by_phone, sample, spawn_app, spawn_app_waiting};

#[tokio::test]
async fn the_whole_sample_set_ranks_buyers_first_and_junk_last() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    for entry in std::fs::read_dir(sample("")).unwrap() {
        let path = entry.unwrap().path();
        drop_into(
            &app.app,
            path.file_name().unwrap().to_str().unwrap(),
            &std::fs::read(&path).unwrap(),
        );
    }
    app.settle().await;
    let (_, body) = app.get("/leads?limit=100").await;
    let leads = body["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 23, "one lead per caller");
    assert!(
        std::fs::read_dir(app.app.rejected_dir()).map_or(true, |mut d| d.next().is_none()),
        "nothing rejected"
    );

    // Ranked: scores never rise down the list.
    let scores: Vec<i64> = leads
        .iter()
        .map(|l| l["lead_score"].as_i64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let tier = |phone: &str| {
        lead_by_phone(&body, phone).unwrap()["tier"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Buyers are hot; robocalls, wrong numbers and do-not-call are cold.
    for buyer in ["+14155550134", "+13035550182", "+17205550193"] {
        assert_eq!(tier(buyer), "hot", "{buyer}");
    }
    for junk in ["+18885550142", "+16465550177", "+14045550129"] {
        assert_eq!(tier(junk), "cold", "{junk}");
        assert_eq!(
            lead_by_phone(&body, junk).unwrap()["lead_score"],
            0,
            "{junk}"
        );
    }
    // Repeat callers are counted once per call.
    assert_eq!(
        lead_by_phone(&body, "+14805550133").unwrap()["call_count"],
        3
    );

    // Filters and cursor pagination see the same ranking.
    let (_, hot) = app.get("/leads?tier=hot").await;
    assert!(
        hot["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["tier"] == "hot")
    );
    let mut seen = Vec::new();
    let mut next = Some("/leads?limit=5".to_owned());
    while let Some(url) = next {
        let (_, page) = app.get(&url).await;
        seen.extend(
            page["leads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["lead_id"].clone()),
        );
        next = page["next_cursor"]
            .as_str()
            .map(|c| format!("/leads?limit=5&cursor={c}"));
    }
    assert_eq!(
        seen,
        leads
            .iter()
            .map(|l| l["lead_id"].clone())
            .collect::<Vec<_>>()
    );
    let (_, found) = app.get("/leads?q=whitfield").await;
    assert_eq!(found["leads"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_dropped_call_appears_ranked_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    drop_sample(&app.app, "call-001.meta.json");
    drop_sample(&app.app, "call-001.vtt");
    let body = app
        .wait_for("/leads", |b| {
            lead_by_phone(b, "+14155550134").is_some_and(|l| l["lead_score"].is_number())
        })
        .await;
    let score = lead_by_phone(&body, "+14155550134").unwrap()["lead_score"].clone();
    app.stop().await;

    let app = spawn_app(dir.path()).await;
    let (status, body) = app.get("/leads").await;
    assert_eq!(status, StatusCode::OK);
    let lead = lead_by_phone(&body, "+14155550134").expect("the lead is still there");
    assert_eq!(
        (lead["lead_score"].clone(), lead["first_name"].as_str()),
        (score, Some("Dana"))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_file_twice_is_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    drop_sample(&app.app, "call-007.meta.json");
    drop_sample(&app.app, "call-007.txt");
    let lead = app
        .wait_for("/leads", |b| {
            lead_by_phone(b, "+16025550119").is_some_and(|l| l["lead_score"].is_number())
        })
        .await;
    let path = format!(
        "/leads/{}",
        lead_by_phone(&lead, "+16025550119").unwrap()["lead_id"]
            .as_str()
            .unwrap()
    );
    drop_sample(&app.app, "call-007.meta.json");
    drop_sample(&app.app, "call-007.txt");
    app.settle().await;
    let (_, detail) = app.get(&path).await;
    assert_eq!(detail["call_count"], 1);
    assert_eq!(detail["calls"].as_array().unwrap().len(), 1);
    assert_eq!(
        detail["score_history"].as_array().unwrap().len(),
        1,
        "scored once"
    );
    app.stop().await;
}

pub(crate) fn rejected(app: &crate::helpers::TestApp, name: &str) -> String {
    let note = app.app.rejected_dir().join(format!("{name}.error.txt"));
    std::fs::read_to_string(&note).unwrap_or_else(|_| panic!("no rejection note for {name}"))
}

pub(crate) async fn wait_rejected(app: &crate::helpers::TestApp, name: &str) -> String {
    for _ in 0..300 {
        if app
            .app
            .rejected_dir()
            .join(format!("{name}.error.txt"))
            .exists()
        {
            return rejected(app, name);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not rejected");
}

#[tokio::test]
async fn bad_files_are_rejected_with_reasons_and_harm_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_waiting(dir.path(), 1).await;
    drop_sample(&app.app, "call-007.meta.json");
    drop_sample(&app.app, "call-007.txt");
    let before = app
        .wait_for("/leads", |b| {
            lead_by_phone(b, "+16025550119").is_some_and(|l| l["lead_score"].is_number())
        })
        .await;

    drop_into(&app.app, "empty_+15125550100.vtt", b"");
    assert!(
        wait_rejected(&app, "empty_+15125550100.vtt")
            .await
            .contains("is empty (0 bytes)")
    );
    drop_into(&app.app, "notes.pdf", b"%PDF-1.7");
    assert!(
        wait_rejected(&app, "notes.pdf")
            .await
            .contains("unsupported file type `.pdf`")
    );
    drop_into(&app.app, "nobody.txt", b"Agent: hello\nCaller: hi\n");
    assert!(
        wait_rejected(&app, "nobody.txt")
            .await
            .contains("cannot tell who the lead is")
    );
    drop_into(
        &app.app,
        "badphone.meta.json",
        br#"{"caller": "+1 555 01"}"#,
    );
    drop_into(&app.app, "badphone.txt", b"Agent: hello\nCaller: hi\n");
    let reason = wait_rejected(&app, "badphone.txt").await;
    assert!(
        reason.contains("badphone.meta.json") && reason.contains("\"caller\""),
        "{reason}"
    );
    assert!(rejected(&app, "badphone.meta.json").contains("was rejected"));
    drop_into(
        &app.app,
        "baddate.meta.json",
        br#"{"caller": "+15125550111", "started_at": "last Tuesday"}"#,
    );
    drop_into(
        &app.app,
        "baddate.srt",
        b"1\n00:00:01,000 --> 00:00:02,000\nAgent: hi\n",
    );
    assert!(
        wait_rejected(&app, "baddate.srt")
            .await
            .contains("\"started_at\": `last Tuesday`")
    );

    // Same name, different content: refused, and the stored call is unchanged.
    drop_into(
        &app.app,
        "call-007.txt",
        b"Agent: Something else entirely.\nCaller: Yes.\n",
    );
    assert!(
        wait_rejected(&app, "call-007.txt")
            .await
            .contains("already has a different transcript")
    );

    app.settle().await;
    let (_, after) = app.get("/leads").await;
    assert_eq!(
        lead_by_phone(&after, "+16025550119"),
        lead_by_phone(&before, "+16025550119")
    );
    assert_eq!(
        after["leads"].as_array().unwrap().len(),
        1,
        "no lead came from a bad file"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_transcript_that_does_not_parse_fails_the_call_until_a_good_one_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let name = "20261102T141503Z_+16175550188_inbound";
    drop_into(
        &app.app,
        &format!("{name}.srt"),
        b"1\n00:00:01,000 -> 00:00:02,000\nCaller: hi\n",
    );
    assert!(
        wait_rejected(&app, &format!("{name}.srt"))
            .await
            .contains("line 2")
    );
    let body = app
        .wait_for("/leads", |b| lead_by_phone(b, "+16175550188").is_some())
        .await;
    let path = format!(
        "/leads/{}",
        lead_by_phone(&body, "+16175550188").unwrap()["lead_id"]
            .as_str()
            .unwrap()
    );
    let (_, lead) = app.get(&path).await;
    let call = &lead["calls"][0];
    assert_eq!(
        (call["status"].as_str(), call["failed_stage"].as_str()),
        (Some("failed"), Some("transcribe"))
    );
    assert!(
        call["status_detail"].as_str().unwrap().contains("line 2"),
        "{call}"
    );

    // The corrected file under the same name replaces the failed one.
    drop_into(&app.app, &format!("{name}.srt"), b"1\n00:00:01,000 --> 00:00:03,000\nAgent: Brightline Solar, this is Maya.\n\n2\n00:00:03,500 --> 00:00:06,000\nCaller: How much would panels cost for my house?\n");
    let lead = app
        .wait_for(&path, |l| l["calls"][0]["status"] == "scored")
        .await;
    assert_eq!(lead["call_count"], 1);
    assert!(
        lead["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "default-pricing")
    );
    app.stop().await;
}

#[tokio::test]
async fn audio_waits_for_its_transcript_then_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // A recording with a sidecar, and no speech engine here.
    drop_into(&app.app, "rec-77.meta.json", br#"{"caller": "+12065550177", "started_at": "2026-11-20T17:00:00Z", "caller_name": "Ivy Moss"}"#);
    drop_into(&app.app, "rec-77.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ");
    let body = app
        .wait_for("/leads", |b| lead_by_phone(b, "+12065550177").is_some())
        .await;
    let path = format!(
        "/leads/{}",
        lead_by_phone(&body, "+12065550177").unwrap()["lead_id"]
            .as_str()
            .unwrap()
    );
    let lead = app
        .wait_for(&path, |l| l["calls"][0]["status"] == "awaiting_transcript")
        .await;
    let call = &lead["calls"][0];
    assert!(
        call["status_detail"]
            .as_str()
            .unwrap()
            .contains("rec-77.vtt"),
        "the status says what to do: {call}"
    );
    assert!(
        call["status_detail"]
            .as_str()
            .unwrap()
            .contains("run `leadscore speech install`"),
        "and how to install the engine: {call}"
    );
    assert!(
        call["recording_key"]
            .as_str()
            .unwrap()
            .ends_with("rec-77.wav")
    );
    assert_eq!(lead["first_name"], "Ivy");

    // Its transcript arrives later under the same stem, without the sidecar.
    drop_into(&app.app, "rec-77.txt", b"Agent: Thanks for calling Brightline Solar, this is Maya.\nIvy: I'd like to schedule a consultation.\n");
    let lead = app
        .wait_for(&path, |l| l["calls"][0]["status"] == "scored")
        .await;
    assert_eq!(
        lead["call_count"], 1,
        "the transcript joined the waiting call"
    );
    assert!(lead["calls"][0]["recording_key"].is_string());
    assert!(
        lead["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "default-meeting")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_lone_sidecar_waits_then_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let app = shared::local::LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    drop_into(&app, "orphan.meta.json", br#"{"caller": "+12065550177"}"#);
    let mut inbox = shared::local::Inbox::new(app.clone());
    inbox.process_all(&mut |_| {}).await.unwrap();
    assert!(
        app.inbox_dir().join("orphan.meta.json").exists(),
        "kept while its recording may still come"
    );
    inbox.sidecar_grace = Duration::ZERO;
    inbox.process_all(&mut |_| {}).await.unwrap();
    let note =
        std::fs::read_to_string(app.rejected_dir().join("orphan.meta.json.error.txt")).unwrap();
    assert!(
        note.contains("no recording or transcript named `orphan.*`"),
        "{note}"
    );
}

/// What is not a plain file with a readable name is moved aside with the reason, once, and
/// never opened: a link is not followed out of the inbox (its target stays as it was and
/// becomes no call), and a folder, a FIFO and a name that is not UTF-8 do not sit in the inbox
/// for ever. A second file rejected under a name keeps the first one's copy and reason.
#[tokio::test]
async fn odd_inbox_entries_are_moved_aside_and_rejections_keep_each_file() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_waiting(dir.path(), 1).await;
    let inbox = app.app.inbox_dir();
    let outside = dir.path().join("elsewhere_+15125550181_inbound.txt");
    std::fs::write(&outside, "Agent: hello\nCaller: I want to buy today\n").unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("link_+15125550181_inbound.txt")).unwrap();
    std::fs::create_dir(inbox.join("a folder")).unwrap();
    let fifo = inbox.join("pipe_+15125550182.txt");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9_+15125550183.txt");
    std::fs::write(inbox.join(latin1), "Agent: hello\nCaller: hi\n").unwrap();

    assert!(
        wait_rejected(&app, "link_+15125550181_inbound.txt")
            .await
            .contains("symbolic link")
    );
    assert!(wait_rejected(&app, "a folder").await.contains("folder"));
    assert!(
        wait_rejected(&app, "pipe_+15125550182.txt")
            .await
            .contains("not a regular file")
    );
    assert!(
        wait_rejected(&app, "caf\u{fffd}_+15125550183.txt")
            .await
            .contains("not UTF-8")
    );
    let rejected_dir = app.app.rejected_dir();
    assert!(
        rejected_dir
            .join("link_+15125550181_inbound.txt")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link moved as a link"
    );
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "Agent: hello\nCaller: I want to buy today\n"
    );
    let left: Vec<_> = std::fs::read_dir(&inbox).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // The same bad name twice: both kept, each with its reason.
    drop_into(&app.app, "nobody.txt", b"Agent: hello\nCaller: hi\n");
    wait_rejected(&app, "nobody.txt").await;
    drop_into(&app.app, "nobody.txt", b"Agent: second try\n");
    let second = wait_rejected(&app, "nobody (2).txt").await;
    assert!(second.contains("cannot tell who the lead is"), "{second}");
    assert_eq!(
        std::fs::read_to_string(rejected_dir.join("nobody.txt")).unwrap(),
        "Agent: hello\nCaller: hi\n"
    );
    assert_eq!(
        std::fs::read_to_string(rejected_dir.join("nobody (2).txt")).unwrap(),
        "Agent: second try\n"
    );
    let (_, leads) = app.get("/leads").await;
    assert_eq!(
        leads["leads"],
        serde_json::json!([]),
        "nothing became a call"
    );
    app.stop().await;
}

/// Uploads are not ordered: a transcript that does not say who called waits for its sidecar
/// (15 minutes by default) and is taken when the sidecar lands; one whose sidecar never comes
/// is refused after the wait, saying why.
#[tokio::test]
async fn a_transcript_waits_for_a_sidecar_that_lands_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    drop_into(
        &app.app,
        "late-1.txt",
        b"Agent: Acme Solar.\nCaller: Please send me a quote today.\n",
    );
    // Several scans later it still waits in the inbox, neither taken nor rejected.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.app.inbox_dir().join("late-1.txt").exists());
    assert!(!app.app.rejected_dir().join("late-1.txt").exists());
    drop_into(
        &app.app,
        "late-1.meta.json",
        br#"{"caller": "+15125550171", "caller_name": "Ines Park"}"#,
    );
    let leads = app
        .wait_for("/leads", |b| {
            lead_by_phone(b, "+15125550171").is_some_and(|l| l["lead_score"].is_number())
        })
        .await;
    assert_eq!(
        lead_by_phone(&leads, "+15125550171").unwrap()["first_name"],
        "Ines"
    );
    app.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_waiting(dir.path(), 1).await;
    drop_into(&app.app, "lonely.txt", b"Agent: hello\nCaller: hi\n");
    let reason = wait_rejected(&app, "lonely.txt").await;
    assert!(reason.contains("cannot tell who the lead is"), "{reason}");
    assert!(reason.contains("none came within 1 second"), "{reason}");
    app.stop().await;
}
