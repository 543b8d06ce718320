//! Call logs imported from CSV exports in two published layouts (IvozProvider's call CSV and
//! DIDWW's inbound CDRs), each row's transcript fetched over a real socket from a file host
//! (as a call tracker's media links are), scored once however often the log is imported;
//! rows that are wrong are named by line, and a file mapped wrong is refused whole.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::files::MediaHost;

use crate::helpers::{TestApp, lead_by_phone, sample, spawn_app_with};

/// An app that may fetch from this machine (where the file host listens).
async fn app() -> (tempfile::TempDir, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        allow_private_webhook_targets: true,
        ..shared::Config::default()
    };
    let app = spawn_app_with(dir.path(), config).await;
    (dir, app)
}

async fn import(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.send(Method::POST, "/calls/import", &body.to_string())
        .await
}

#[tokio::test]
async fn an_ivozprovider_call_csv_becomes_scored_calls_once_however_often_it_is_imported() {
    let host = MediaHost::start(&[
        ("a84d.vtt", std::fs::read(sample("call-001.vtt")).unwrap()),
        ("b19e.srt", std::fs::read(sample("call-004.srt")).unwrap()),
    ])
    .await;
    let (_dir, app) = app().await;
    // IvozProvider's columns as its manual lists them, and the tenant's own column of
    // transcript links beside them; times in the platform's zone (Madrid).
    let media = |name: &str| format!("{}/media/{name}", host.url);
    let csv = format!(
        "callid,startTime,duration,caller,callee,price,direction,ddiId,endpointType,endpointId,endpointName,Transcript\n\
         a84d@10.0.0.1,2026-11-02 09:15:03,95,+14155550134,+34944048182,0.02,inbound,7,RetailAccount,3,desk,{}\n\
         b19e@10.0.0.1,2026-11-02 10:40:00,312,+34944048182,+16465550177,0.11,outbound,7,RetailAccount,3,desk,{}\n\
         c2f0@10.0.0.1,2026-11-02 11:00:00,20,,+34944048182,0.00,inbound,7,RetailAccount,3,desk,{}\n\
         d3a1@10.0.0.1,2026-11-02 11:30:00,41,+14155550199,+34944048182,0.01,sideways,7,RetailAccount,3,desk,{}\n\
         e4b2@10.0.0.1,2026-11-02 12:00:00,63,+14155550188,+34944048182,0.01,inbound,7,RetailAccount,3,desk,{}\n",
        media("a84d.vtt"),
        media("b19e.srt"),
        media("c2f0.vtt"),
        media("d3a1.vtt"),
        media("gone.vtt"),
    );
    let body = json!({"layout": "ivozprovider", "columns": {"transcript_url": "Transcript"},
                      "time_zone": "Europe/Madrid", "csv": csv});
    let (status, report) = import(&app, body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{report:#}");
    // THEN the good rows are queued, and the others named by line and why
    let lines = |key: &str| -> Vec<u64> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(lines("accepted"), [2, 3, 6], "{report:#}");
    assert_eq!(lines("rejected"), [4, 5], "{report:#}");
    assert!(
        report["rejected"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("no caller number"),
        "{report:#}"
    );
    assert!(
        report["rejected"][1]["problem"]
            .as_str()
            .unwrap()
            .starts_with("direction: `sideways`"),
        "{report:#}"
    );
    app.settle().await;
    // ... each fetched call scored on its lead: the caller inbound, the callee outbound
    let (_, leads) = app.get("/leads?limit=50").await;
    for phone in ["+14155550134", "+16465550177"] {
        let lead = lead_by_phone(&leads, phone).unwrap_or_else(|| panic!("{phone}: {leads:#}"));
        assert!(lead["lead_score"].is_u64(), "{lead:#}");
    }
    let call_id = report["accepted"][0]["call_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, transcript) = app.get(&format!("/calls/{call_id}/transcript")).await;
    assert_eq!(status, StatusCode::OK, "{transcript}");
    // ... and the link that answered 404 made no call
    assert!(lead_by_phone(&leads, "+14155550188").is_none(), "{leads:#}");
    assert_eq!(host.hits("gone.vtt"), 1);

    // WHEN the same log is imported again
    let (status, again) = import(&app, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again:#}");
    assert_eq!(again["accepted"], report["accepted"], "the same calls");
    app.settle().await;
    // THEN nothing is fetched twice and no call is added
    assert_eq!(host.hits("a84d.vtt"), 1);
    assert_eq!(host.hits("b19e.srt"), 1);
    let (_, after) = app.get("/leads?limit=50").await;
    assert_eq!(after["leads"], leads["leads"]);
}

#[tokio::test]
async fn a_didww_inbound_export_is_read_in_utc_and_a_wrong_mapping_refuses_the_file() {
    let host =
        MediaHost::start(&[("cdr-1.srt", std::fs::read(sample("call-004.srt")).unwrap())]).await;
    let (_dir, app) = app().await;
    // DIDWW's inbound CDR columns; numbers as DIDWW writes them (digits, no +).
    let csv = format!(
        "Date/Time Start (UTC),Date/Time Connect (UTC),Date/Time End (UTC),Source,DID,Destination,Duration (secs),Disconnect Initiator,Disconnect Code,Disconnect Response,Toll-free Amount (USD),Termination Amount (USD),Metered Channels Amount (USD),Recording transcript\n\
         2026-11-07 14:15:00,2026-11-07 14:15:02,2026-11-07 14:20:12,16465550177,14155550100,sip:desk@pbx.example.com,310,Origination,200,OK,0.00,0.00,0.00,{}/media/cdr-1.srt\n",
        host.url
    );
    // A column the file does not have: refused whole, naming it and listing the file's.
    let (status, problem) = import(
        &app,
        json!({"layout": "didww_inbound", "columns": {"transcript_url": "Transcript"}, "csv": csv}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem:#}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("columns.transcript_url: the file has no column `Transcript`")
            && detail.contains("Recording transcript"),
        "{detail}"
    );
    // An unknown zone, named.
    let (status, problem) = import(
        &app,
        json!({"layout": "didww_inbound", "columns": {"transcript_url": "Recording transcript"},
               "time_zone": "Mars/Olympus", "csv": csv}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem:#}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`Mars/Olympus`")
    );
    let (_, leads) = app.get("/leads").await;
    assert_eq!(
        leads["leads"].as_array().unwrap().len(),
        0,
        "nothing queued"
    );

    let (status, report) = import(
        &app,
        json!({"layout": "didww_inbound", "columns": {"transcript_url": "Recording transcript"},
               "csv": csv}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{report:#}");
    assert_eq!(
        report["accepted"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    app.settle().await;
    let (_, leads) = app.get("/leads").await;
    let lead = lead_by_phone(&leads, "+16465550177").expect("the caller is the lead");
    let (_, detail) = app
        .get(&format!("/leads/{}", lead["lead_id"].as_str().unwrap()))
        .await;
    let call = &detail["calls"][0];
    assert_eq!(call["call_start_time"], "2026-11-07T14:15:00Z", "{call:#}");
    assert_eq!(call["direction"], "inbound", "{call:#}");
}
