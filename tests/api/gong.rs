//! Gong's call transcripts, by file drop and by `POST /calls`: the document's parties say who
//! the lead and who the agent is, so no sidecar is needed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{drop_into, fixture, lead_by_phone, spawn_app, spawn_app_waiting};

fn gong_call() -> Vec<u8> {
    std::fs::read(fixture("gong/call_with_parties.json")).unwrap()
}

#[tokio::test]
async fn a_dropped_gong_document_is_a_scored_call_of_its_external_party() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // GIVEN a Gong export dropped alone: no sidecar, no number in its name
    drop_into(&app.app, "gong-7782342274025937895.json", &gong_call());
    // THEN the external party is the lead, scored, with the rep as the agent
    let leads = app
        .wait_for("/leads", |b| {
            lead_by_phone(b, "+14155550134").is_some_and(|l| l["lead_score"].is_number())
        })
        .await;
    let lead = lead_by_phone(&leads, "+14155550134").unwrap();
    assert_eq!(
        (lead["first_name"].as_str(), lead["last_name"].as_str()),
        (Some("Dana"), Some("Whitfield"))
    );
    let (_, detail) = app
        .get(&format!("/leads/{}", lead["lead_id"].as_str().unwrap()))
        .await;
    let call = &detail["calls"][0];
    assert_eq!(call["call_start_time"], "2026-11-02T14:15:03Z");
    let roles = &call["analysis"]["roles"];
    assert_eq!(
        (roles["agent"].as_str(), roles["customer"].as_str()),
        (Some("Maya Chen"), Some("Dana Whitfield")),
        "{roles}"
    );
    assert_eq!(roles["method"], "call metadata names the agent");
    assert!(
        detail["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "default-pricing"),
        "the customer's pricing question counts: {detail:#}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_gong_document_without_a_lead_number_waits_for_its_sidecar_then_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_waiting(dir.path(), 1).await;
    let mut doc: Value = serde_json::from_slice(&gong_call()).unwrap();
    doc.as_object_mut().unwrap().remove("calls");
    drop_into(&app.app, "gong-no-parties.json", doc.to_string().as_bytes());
    let reason = crate::pipeline::wait_rejected(&app, "gong-no-parties.json").await;
    assert!(reason.contains("cannot tell who the lead is"), "{reason}");

    // A bad number in the parties is named at once, not waited on.
    let bad = String::from_utf8(gong_call())
        .unwrap()
        .replace("(415) 555-0134", "555");
    drop_into(&app.app, "gong-bad-number.json", bad.as_bytes());
    let reason = crate::pipeline::wait_rejected(&app, "gong-bad-number.json").await;
    assert!(reason.contains("parties[1].phoneNumber"), "{reason}");
    let (_, leads) = app.get("/leads").await;
    assert_eq!(leads["leads"].as_array().unwrap().len(), 0, "{leads}");
    app.stop().await;
}

#[tokio::test]
async fn a_gong_document_posted_to_calls_is_one_call_however_often_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let doc: Value = serde_json::from_slice(&gong_call()).unwrap();
    let body = json!({ "transcript": { "format": "gong", "content": doc } }).to_string();
    let (status, accepted) = app.send(Method::POST, "/calls", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let path = format!("/leads/{}", accepted["lead_id"].as_str().unwrap());
    let lead = app
        .wait_for(&path, |l| l["calls"][0]["status"] == "scored")
        .await;
    assert_eq!(lead["phone_number"], "+14155550134");

    // Gong's call id names the call: sent again, it is the same call.
    let (status, again) = app.send(Method::POST, "/calls", &body).await;
    assert_eq!(
        (status, again["outcome"].as_str(), &again["call_id"]),
        (StatusCode::OK, Some("duplicate"), &accepted["call_id"])
    );

    // The submission's own fields win over the document's.
    let body = json!({
        "caller": "+15125550188",
        "external_id": "gong-other",
        "transcript": { "format": "gong", "content": doc }
    });
    let (status, other) = app.send(Method::POST, "/calls", &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{other}");
    assert_ne!(other["lead_id"], accepted["lead_id"]);

    // Without parties and without a caller, the problem says what is missing.
    let mut bare = doc.clone();
    bare.as_object_mut().unwrap().remove("calls");
    let body = json!({ "transcript": { "format": "gong", "content": bare } }).to_string();
    let (status, problem) = app.send(Method::POST, "/calls", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("caller"),
        "{problem}"
    );
    app.settle().await;
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["call_count"], 1);
    app.stop().await;
}

/// The fixture's call as another call: its own id, start and caller.
fn gong_call_as(id: &str, started: chrono::DateTime<chrono::Utc>, phone: &str) -> Value {
    let doc: Value = serde_json::from_slice(&gong_call()).unwrap();
    testkit::gong::call_as(&doc, id, started, phone)
}

/// Gong's API (a stand-in on a real socket, two calls a page): connecting pulls the last 30
/// days at once; a call Gong has not transcribed yet holds the pull back until it is, and is
/// taken then; a call already taken is never asked for again; wrong credentials are refused
/// at connect.
#[tokio::test]
async fn calls_are_pulled_from_gong_once_each_and_a_call_still_being_transcribed_waits() {
    let gong = testkit::gong::Gong::start("KEY", "SECRET", 2).await;
    let now = chrono::Utc::now();
    let days = |n: i64| now - chrono::Duration::days(n);
    gong.add_call(&gong_call_as("901", days(40), "+14155550130"), true);
    gong.add_call(&gong_call_as("902", days(3), "+14155550131"), true);
    gong.add_call(&gong_call_as("903", days(2), "+14155550132"), true);
    gong.add_call(&gong_call_as("904", days(1), "+14155550133"), false);
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let connect = |secret: &str| {
        json!({"access_key": "KEY", "access_key_secret": secret, "base_url": gong.url}).to_string()
    };

    // Wrong credentials: refused at once, nothing kept.
    let (status, problem) = app
        .send(Method::PUT, "/settings/gong", &connect("WRONG"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid credentials"),
        "{problem}"
    );
    let (status, _) = app.get("/settings/gong").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Connected: the last 30 days are pulled, page by page.
    let (status, saved) = app
        .send(Method::PUT, "/settings/gong", &connect("SECRET"))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["access_key_secret"], "saved");
    app.settle().await;
    let (_, leads) = app.get("/leads").await;
    for phone in ["+14155550131", "+14155550132"] {
        assert!(lead_by_phone(&leads, phone).is_some(), "{phone}: {leads:#}");
    }
    assert!(
        lead_by_phone(&leads, "+14155550130").is_none(),
        "40 days ago: not pulled"
    );
    assert!(
        lead_by_phone(&leads, "+14155550133").is_none(),
        "not transcribed yet"
    );
    let (_, status_now) = app.get("/settings/gong").await;
    assert_eq!(status_now["calls_taken"], 2, "{status_now}");
    assert_eq!(
        status_now["pulling_from"].as_str().unwrap(),
        days(1).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "the pull waits at the call still being transcribed"
    );

    // The next pull asks only for that call; once Gong has it, it is taken.
    let asked = gong.asked().len();
    let (status, _) = app.send(Method::POST, "/settings/gong/pull", "").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.settle().await;
    assert_eq!(gong.asked()[asked..], ["904".to_owned()]);
    gong.transcribe("904");
    app.send(Method::POST, "/settings/gong/pull", "").await;
    app.settle().await;
    let leads = app
        .wait_for("/leads", |b| lead_by_phone(b, "+14155550133").is_some())
        .await;
    let lead = lead_by_phone(&leads, "+14155550133").unwrap();
    let (_, detail) = app
        .get(&format!("/leads/{}", lead["lead_id"].as_str().unwrap()))
        .await;
    assert_eq!(detail["calls"][0]["external_id"], "gong-904", "{detail:#}");

    // Pulled again: nothing new, nothing asked for, nothing doubled.
    let asked = gong.asked().len();
    app.send(Method::POST, "/settings/gong/pull", "").await;
    app.settle().await;
    assert_eq!(gong.asked().len(), asked);
    let (_, leads) = app.get("/leads").await;
    assert_eq!(leads["leads"].as_array().unwrap().len(), 3, "{leads:#}");

    // Disconnected: the credentials go, the calls stay.
    let (status, _) = app.send(Method::DELETE, "/settings/gong", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/settings/gong").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
