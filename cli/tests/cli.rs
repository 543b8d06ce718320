//! The `leadscore` command as a user runs it: the demo, `serve` with the inbox across a hard
//! kill and restart, `ingest`, `leads`, `show`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{leadscore, serve, stdout};

/// The ranked table's rows: lines that start with a rank.
fn rows(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<usize>().is_ok())
                && l.contains(" +")
        })
        .collect()
}

fn samples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/calls")
}

#[test]
fn demo_ranks_the_samples_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Without the speech engine (tests/api/speech.rs runs it): the recordings wait for it.
    let first = leadscore(dir.path(), &["demo", "--no-speech"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = stdout(&first);
    assert!(out.contains("44 new calls"), "{out}");
    assert!(out.contains("5 SMS conversations"), "{out}");
    assert!(
        out.contains("2 recordings wait for the local speech engine: `leadscore speech install`"),
        "{out}"
    );
    let rows = rows(&out);
    // 23 callers, one lead who only texted, and two recordings not yet transcribed (last).
    assert_eq!(rows.len(), 26, "{out}");
    assert!(
        rows[24].contains(" -  ") && rows[25].contains(" -  "),
        "{out}"
    );
    let row = |phone: &str| rows.iter().find(|r| r.contains(phone)).unwrap().to_owned();
    // Texted STOP: marked, kept.
    assert!(row("+17025550156").contains(" STOP "), "{out}");
    // Opened the pricing link and asked by text for a call: hot, with that reason first.
    let robert = row("+16175550125");
    assert!(
        robert.contains(" hot ") && robert.contains("Asked by text for a call"),
        "{robert}"
    );
    assert!(
        rows[0].contains(" hot "),
        "the top lead is hot: {}",
        rows[0]
    );
    assert!(rows[23].contains(" cold "));
    assert!(out.contains("Said they are ready to buy (+25)"));

    let second = leadscore(dir.path(), &["demo", "--no-speech"]);
    let again = stdout(&second);
    assert!(
        again.contains("0 new calls")
            && again.contains("44 already ingested")
            && again.contains("0 SMS conversations"),
        "{again}"
    );
    assert_eq!(rows, self::rows(&again), "the ranking is the same");

    // `show` explains a lead with quotes; `--json` is the API's shape.
    let show = stdout(&leadscore(dir.path(), &["show", "+1 415 555 0134"]));
    assert!(
        show.contains("Dana Whitfield") && show.contains("Why this score:"),
        "{show}"
    );
    assert!(
        show.contains("\"How much would something like that cost?\""),
        "{show}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&leadscore(dir.path(), &["show", "whitfield", "--json"]).stdout)
            .unwrap();
    assert_eq!(json["calls"].as_array().unwrap().len(), 2);
    let leads: serde_json::Value = serde_json::from_slice(
        &leadscore(dir.path(), &["leads", "--json", "--tier", "hot"]).stdout,
    )
    .unwrap();
    assert!(
        leads["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["tier"] == "hot")
    );

    let missing = leadscore(dir.path(), &["show", "nobody-at-all"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no lead matches `nobody-at-all`"));
}

#[test]
fn ingest_reports_each_file_and_fails_on_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let drops = tempfile::tempdir().unwrap();
    for name in ["call-001.vtt", "call-001.meta.json"] {
        std::fs::copy(samples().join(name), drops.path().join(name)).unwrap();
    }
    std::fs::write(
        drops.path().join("20261102T141503Z_+16175550188.srt"),
        "not a subtitle file",
    )
    .unwrap();
    let out = leadscore(dir.path(), &["ingest", drops.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!out.status.success(), "a bad file makes the command fail");
    assert!(
        text.contains("call-001.vtt") && text.contains("new call"),
        "{text}"
    );
    assert!(
        text.contains("REJECTED") && text.contains("line 1: expected a subtitle number"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 file(s) could not be ingested"));
    // The good call was scored anyway, and the files were left where they were.
    assert!(stdout(&leadscore(dir.path(), &["leads"])).contains("Dana Whitfield"));
    assert!(drops.path().join("call-001.vtt").exists());
}

fn get_leads(url: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::get(format!("{url}/leads"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

#[test]
fn serve_picks_up_a_dropped_call_and_keeps_it_across_a_hard_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = serve(dir.path(), &[]);
    // Drop a sample call into the inbox.
    let inbox = dir.path().join("inbox");
    for name in ["call-041.json", "call-041.meta.json"] {
        std::fs::copy(samples().join(name), inbox.join(name)).unwrap();
    }
    let started = Instant::now();
    let ranked = loop {
        let body = get_leads(&url);
        if body["leads"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["lead_score"].is_number()))
        {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the dropped call never appeared: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let lead = ranked["leads"][0].clone();
    assert_eq!(lead["first_name"], "Ben");
    assert_eq!(lead["tier"], "hot");

    // Kill it hard (no graceful shutdown), start again: the lead is still there.
    drop(server);
    let (_server, url) = serve(dir.path(), &[]);
    let after = get_leads(&url);
    assert_eq!(after["leads"][0]["lead_id"], lead["lead_id"]);
    assert_eq!(after["leads"][0]["lead_score"], lead["lead_score"]);
}

#[test]
fn help_teaches_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .arg("--help")
        .output()
        .unwrap();
    let help = stdout(&out);
    for cmd in ["demo", "serve", "ingest", "leads", "show", "--data-dir"] {
        assert!(help.contains(cmd), "--help lacks {cmd}");
    }
}

/// Each command's help shows the options that command takes: `serve`'s Twilio options are not
/// in `sentiment --help`, and positional arguments say what they are.
#[test]
fn each_commands_help_shows_its_own_options() {
    let help = |args: &[&str]| {
        stdout(
            &Command::new(env!("CARGO_BIN_EXE_leadscore"))
                .args(args)
                .arg("--help")
                .output()
                .unwrap(),
        )
    };
    let sentiment = help(&["sentiment"]);
    assert!(!sentiment.contains("--twilio-auth-token"), "{sentiment}");
    assert!(!sentiment.contains("--public-url"), "{sentiment}");
    let serve = help(&["serve"]);
    assert!(
        serve.contains("--twilio-auth-token") && serve.contains("--public-url"),
        "{serve}"
    );
    assert!(help(&["analyze"]).contains("A transcript file"));
    assert!(help(&["speech", "transcribe"]).contains("Recordings:"));
}

/// `leadscore demo`, then `leadscore crm connect hubspot`: every scored lead's score is on a
/// contact of the HubSpot stand-in (`testkit::hubspot`, on a real socket), the status says so,
/// and the token is never printed.
#[test]
fn crm_connect_after_the_demo_puts_every_score_in_hubspot() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let token = "pat-na1-cli-test-token";
    let hubspot = runtime.block_on(testkit::hubspot::HubSpot::start(token));
    let dir = tempfile::tempdir().unwrap();
    let demo = leadscore(dir.path(), &["demo", "--no-speech"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let leads: serde_json::Value = serde_json::from_str(&stdout(&leadscore(
        dir.path(),
        &["leads", "--json", "--limit", "200"],
    )))
    .unwrap();
    let scored: Vec<&serde_json::Value> = leads["leads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["lead_score"].is_null())
        .collect();

    let connect = common::command(dir.path())
        .args([
            "crm",
            "connect",
            "hubspot",
            "--create-missing",
            "--base-url",
            &hubspot.url,
        ])
        .env("LEADSCORE_CRM_TOKEN", token)
        .output()
        .unwrap();
    let (out, err) = (
        stdout(&connect),
        String::from_utf8_lossy(&connect.stderr).into_owned(),
    );
    assert!(connect.status.success(), "{err}");
    assert!(!out.contains(token) && !err.contains(token));
    assert!(
        err.contains("created the contact property `leadscore_score`"),
        "{err}"
    );
    assert!(
        out.contains(&format!("hubspot: connected at {}", hubspot.url))
            && out.contains(&format!(
                "{} pushed, {} created",
                scored.len(),
                scored.len()
            )),
        "{out}"
    );
    let contacts = hubspot.contacts();
    assert_eq!(contacts.len(), scored.len());
    for lead in &scored {
        let phone = lead["phone_number"].as_str().unwrap();
        let contact = contacts
            .values()
            .find(|c| c.get("phone").map(String::as_str) == Some(phone))
            .unwrap_or_else(|| panic!("no contact for {phone}"));
        assert_eq!(contact["leadscore_score"], lead["lead_score"].to_string());
    }
    // A second sync writes nothing.
    let before = hubspot.stats().batch_inputs;
    let sync = leadscore(dir.path(), &["crm", "sync", "hubspot"]);
    assert!(sync.status.success());
    assert_eq!(hubspot.stats().batch_inputs, before);
    let gone = leadscore(dir.path(), &["crm", "disconnect", "hubspot"]);
    assert!(stdout(&gone).contains("disconnected from hubspot"));
    assert!(stdout(&leadscore(dir.path(), &["crm", "status"])).contains("no CRM connected"));
}
