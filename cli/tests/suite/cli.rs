//! The `leadscore` command as a user runs it: the demo, `serve` with the inbox across a hard
//! kill and restart, `ingest`, `leads`, `show`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{leadscore, serve, stdout};

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

/// A backfill killed hard (kill -9) while it takes files and again while it scores them, then
/// run to its end: every call is stored once and every lead scored, as if it had never stopped
/// (the group commit loses at most its open group, and the next run takes that again).
#[test]
fn a_backfill_killed_twice_and_run_again_stores_every_call_once() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("export");
    std::fs::create_dir(&calls).unwrap();
    let texts: Vec<String> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    // 240 calls from 120 callers (fictional 555-01xx numbers in two area codes).
    let (n, callers) = (240, 120);
    for i in 0..n {
        let caller = format!(
            "+1{}55501{:02}",
            [512, 303][i % callers / 100],
            i % callers % 100
        );
        let name = format!(
            "2026{:02}{:02}T150000Z_{caller}_+14155550100_inbound.txt",
            1 + i / 28,
            1 + i % 28
        );
        let text = format!(
            "{}\nAgent: Your reference is {i}.\n",
            texts[i % texts.len()]
        );
        std::fs::write(calls.join(name), text).unwrap();
    }
    let data = dir.path().join("data");
    let ingest = || {
        crate::common::command(&data)
            .arg("ingest")
            .arg(&calls)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let lines_of = |child: &mut std::process::Child, want: usize| {
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..want {
            out.next().unwrap().unwrap();
        }
    };
    // Killed a quarter of the way through the files, then right after the last one.
    for after_lines in [n / 4, n] {
        let mut run = ingest();
        lines_of(&mut run, after_lines);
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        run.kill().unwrap();
        run.wait().unwrap();
    }
    let last = ingest().wait_with_output().unwrap();
    assert!(last.status.success());
    let summary = stdout(&last);
    let leads: serde_json::Value = serde_json::from_str(&stdout(&leadscore(
        &data,
        &["leads", "--json", "--limit", "500"],
    )))
    .unwrap();
    let leads = leads["leads"].as_array().unwrap();
    assert_eq!(leads.len(), callers, "{summary}");
    let stored: u64 = leads
        .iter()
        .map(|l| l["call_count"].as_u64().unwrap())
        .sum();
    assert_eq!(stored, n as u64, "every call once: {summary}");
    assert!(
        leads.iter().all(|l| l["lead_score"].is_number()),
        "every lead scored"
    );
    // A run after the end changes nothing.
    let again = stdout(&leadscore(&data, &["ingest", calls.to_str().unwrap()]));
    assert!(
        again.contains(&format!(
            "0 new calls, 0 added to earlier calls, {n} already ingested"
        )),
        "{again}"
    );
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

    let connect = crate::common::command(dir.path())
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
