//! The REST API over a real socket: leads, scoring rules, calls, errors.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

const TEXT_CALL: &str = "Agent: Thanks for calling Brightline Solar, this is Maya.\n\
    Caller: Hi, I'm the owner of a bakery and I'd like a quote for panels on our roof.\n\
    Agent: Happy to help.\n\
    Caller: Could someone come out for a site visit next week? That would be great.\n";

fn call_body(external_id: &str) -> String {
    json!({
        "caller": "(512) 555-0147",
        "started_at": "2026-11-02T14:15:03Z",
        "external_id": external_id,
        "caller_name": "Lena Ortiz",
        "company": "Ortiz Bakery",
        "transcript": { "format": "text", "content": TEXT_CALL }
    })
    .to_string()
}

#[tokio::test]
async fn health_answers() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (status, body) = app.get("/health").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    app.stop().await;
}

#[tokio::test]
async fn leads_are_created_read_updated_and_kept_unique_by_phone() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;

    // POST /leads, with a national number normalised to E.164
    let resp = app
        .client
        .post(app.url("/leads"))
        .json(&json!({"phone_number": "(415) 555-0134", "first_name": "Dana", "company": "Whitfield Dental"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let lead: Value = resp.json().await.unwrap();
    assert_eq!(lead["phone_number"], "+14155550134");
    assert_eq!(
        location,
        format!("/leads/{}", lead["lead_id"].as_str().unwrap())
    );
    // Its phone number finds it too, as `leadscore show` does; neither an id nor a number is
    // refused, saying so.
    for by_phone in ["/leads/+14155550134", "/leads/(415)%20555-0134"] {
        let (status, found) = app.get(by_phone).await;
        assert_eq!(status, StatusCode::OK, "{by_phone}: {found}");
        assert_eq!(found["lead_id"], lead["lead_id"]);
    }
    let (status, problem) = app.get("/leads/+15125550100").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, problem) = app.get("/leads/+12").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("neither a lead id")
    );
    // The seed schema's names are there.
    for field in [
        "lead_id",
        "first_name",
        "last_name",
        "company",
        "phone_number",
        "email",
        "lead_score",
        "call_count",
        "last_called_at",
        "ai_sentiment",
        "ai_keywords",
        "crm_lead_status",
    ] {
        assert!(lead.get(field).is_some(), "lead lacks `{field}`: {lead}");
    }

    // The same number again is a conflict, as a problem document.
    let (status, problem) = app
        .send(
            Method::POST,
            "/leads",
            r#"{"phone_number": "+1 415 555 0134"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "urn:leadscore:problem:conflict");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(lead["lead_id"].as_str().unwrap())
    );

    // PUT changes what it names, clears what is null, keeps the rest.
    let (status, updated) =
        app.send(Method::PUT, &location, r#"{"email": "dana@whitfield.example", "company": null, "crm_lead_status": "Contacted"}"#).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            updated["email"].as_str(),
            updated["company"].as_null(),
            updated["first_name"].as_str()
        ),
        (Some("dana@whitfield.example"), Some(()), Some("Dana"))
    );
    let (_, read) = app.get(&location).await;
    assert_eq!(read["crm_lead_status"], "Contacted");
    assert_eq!(read["calls"], json!([]));

    // A bad PUT changes nothing.
    let (status, problem) = app
        .send(
            Method::PUT,
            &location,
            r#"{"email": "nope", "first_name": "X"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().contains("email"));
    assert_eq!(app.get(&location).await.1["first_name"], "Dana");

    let (status, problem) = app
        .send(Method::PUT, &location, r#"{"nickname": "D"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `nickname`"),
        "{problem}"
    );

    let (status, problem) = app.get("/leads/ld_nobody").await;
    assert_eq!(
        (status, problem["title"].as_str()),
        (StatusCode::NOT_FOUND, Some("Not found"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_submitted_call_is_scored_with_quoted_evidence_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;

    let (status, accepted) = app.send(Method::POST, "/calls", &call_body("CA-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(
        (accepted["outcome"].as_str(), accepted["status"].as_str()),
        (Some("created"), Some("transcribed"))
    );
    let path = format!("/leads/{}", accepted["lead_id"].as_str().unwrap());

    // The worker analyses and scores it.
    let lead = app
        .wait_for(&path, |l| {
            l["lead_score"].is_number() && l["calls"][0]["status"] == "scored"
        })
        .await;
    assert_eq!(
        (lead["first_name"].as_str(), lead["company"].as_str()),
        (Some("Lena"), Some("Ortiz Bakery"))
    );
    assert_eq!(lead["call_count"], 1);
    let pricing = lead["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "default-pricing")
        .expect("pricing factor");
    assert_eq!(pricing["evidence"][0]["kind"], "quote");
    assert_eq!(
        pricing["evidence"][0]["text"],
        "Hi, I'm the owner of a bakery and I'd like a quote for panels on our roof."
    );
    let call = &lead["calls"][0];
    for field in [
        "call_id",
        "lead_id",
        "call_start_time",
        "call_duration",
        "call_transcript",
        "sentiment_score",
        "keywords",
    ] {
        assert!(!call[field].is_null(), "call lacks `{field}`: {call}");
    }
    assert!(
        call["call_transcript"]
            .as_str()
            .unwrap()
            .contains("Caller: Could someone come out")
    );

    // The same submission again changes nothing.
    let (status, again) = app.send(Method::POST, "/calls", &call_body("CA-1")).await;
    assert_eq!(
        (status, again["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    app.settle().await;
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["call_count"], 1);
    assert_eq!(lead["score_history"].as_array().unwrap().len(), 1);

    // A second, different call from the same number joins the same lead.
    let (status, second) = app.send(Method::POST, "/calls", &call_body("CA-2")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(second["lead_id"], accepted["lead_id"]);
    let lead = app
        .wait_for(&path, |l| {
            l["call_count"] == 2 && l["score_history"].as_array().unwrap().len() == 2
        })
        .await;
    assert!(
        lead["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "default-repeat"),
        "{lead:#}"
    );
    app.stop().await;
}

/// What `GET /usage` and `leadscore usage` count is what was done: each call, analysis, score,
/// text and request once, however often the same one is sent again.
#[tokio::test]
async fn usage_counts_what_was_done_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // GIVEN two calls (the first sent twice), a text logged twice with one id, and the reads
    let (_, first) = app.send(Method::POST, "/calls", &call_body("CA-1")).await;
    app.send(Method::POST, "/calls", &call_body("CA-1")).await;
    app.send(Method::POST, "/calls", &call_body("CA-2")).await;
    app.settle().await;
    let lead = first["lead_id"].as_str().unwrap();
    for _ in 0..2 {
        let (status, _) = app
            .send(
                Method::POST,
                &format!("/leads/{lead}/messages"),
                &json!({"body": "Here is the quote", "id": "SM-1"}).to_string(),
            )
            .await;
        assert!(status.is_success(), "{status}");
    }
    // (the text's rescore runs on the worker, after the answer)
    app.settle().await;
    // AND the pages a browser loads, which are not API use (on AWS another function serves
    // them, outside the limits and the usage)
    for page in ["/openapi.json", "/docs", "/"] {
        let (status, _) = app.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
    }
    // WHEN the usage is read (the sixth request)
    let (status, usage) = app.get("/usage").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    // THEN each thing done counts once; every request counts
    assert_eq!(usage["calls_ingested"], 2, "{usage}");
    assert_eq!(usage["transcripts_analysed"], 2, "{usage}");
    // Scored after each call, and again for the text (a new touch moves the score).
    assert_eq!(usage["leads_scored"], 3, "{usage}");
    assert_eq!(usage["texts_processed"], 1, "{usage}");
    assert_eq!(usage["api_requests"], 6, "{usage}");
    // Transcripts sent as text are not audio.
    assert_eq!(usage["audio_minutes_transcribed"], 0.0, "{usage}");
    assert_eq!(
        usage["month"],
        chrono::Utc::now().format("%Y-%m").to_string()
    );
    // Another month is empty; a month that is not one is refused by name.
    let (_, october) = app.get("/usage?month=2020-10").await;
    assert_eq!(october["api_requests"], 0);
    let (status, problem) = app.get("/usage?month=2026-13").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        problem["detail"],
        "month: `2026-13` is not a month such as 2026-11"
    );
}

#[tokio::test]
async fn submitted_segments_and_bad_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;

    let body = json!({
        "caller": "+13035550182", "external_id": "SEG-1",
        "transcript": {"format": "segments", "segments": [
            {"speaker": "agent", "start": 0.0, "end": 2.0, "text": "Brightline Solar, this is Jordan."},
            {"speaker": "customer", "start": 2.5, "end": 6.0, "text": "We're ready to sign the contract this week."}
        ]}
    });
    let (status, accepted) = app.send(Method::POST, "/calls", &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let path = format!("/leads/{}", accepted["lead_id"].as_str().unwrap());
    let lead = app.wait_for(&path, |l| l["lead_score"].is_number()).await;
    assert!(
        lead["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "default-purchase"),
        "{lead:#}"
    );

    // A WebVTT body without its header: 400 naming the line, and the call records the failure.
    let bad = json!({"caller": "+13035550182", "external_id": "BAD-1",
        "transcript": {"format": "webvtt", "content": "00:00:01.000 --> 00:00:02.000\nhello"}});
    let (status, problem) = app.send(Method::POST, "/calls", &bad.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("line 1: a WebVTT file starts with `WEBVTT`"),
        "{problem}"
    );
    let lead = app
        .wait_for(&path, |l| l["calls"].as_array().unwrap().len() == 2)
        .await;
    let failed = lead["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "failed")
        .expect("a failed call");
    assert_eq!(failed["failed_stage"], "transcribe");
    assert!(failed["status_detail"].as_str().unwrap().contains("WEBVTT"));
    assert_eq!(
        lead["lead_score"],
        app.get(&path).await.1["lead_score"],
        "the failed call did not disturb the score"
    );

    for (body, needle) in [
        (r#"{"caller": "+13035550182"}"#, "transcript: required"),
        (
            r#"{"caller": "+13035550182", "transcript": {"format": "doc", "content": "x"}}"#,
            "`doc` is not one of",
        ),
        (
            r#"{"caller": "12", "transcript": {"format": "text", "content": "A: hi"}}"#,
            "\"caller\"",
        ),
        (
            r#"{"transcript": {"format": "text", "content": "A: hi"}}"#,
            "caller: required, the lead's phone number",
        ),
        (
            r#"{"direction": "outbound", "caller": "+13035550100", "transcript": {"format": "text", "content": "A: hi"}}"#,
            "callee: required",
        ),
        (r#"[1, 2]"#, "the body is not valid"),
        ("", "no body"),
        // Audio goes through the inbox here; upload URLs are the S3 deployment's.
        (
            r#"{"caller": "+13035550182", "recording": {"file_name": "c.wav"}}"#,
            "drop the file (and its .meta.json) into the inbox",
        ),
    ] {
        let (status, problem) = app.send(Method::POST, "/calls", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn rule_changes_rescore_every_lead_and_bad_rules_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (_, accepted) = app.send(Method::POST, "/calls", &call_body("CA-R")).await;
    let path = format!("/leads/{}", accepted["lead_id"].as_str().unwrap());
    let before = app.wait_for(&path, |l| l["lead_score"].is_number()).await;

    // The defaults are listed under the seed schema's names.
    let (_, rules) = app.get("/scoring_rules").await;
    let first = &rules["scoring_rules"][0];
    for field in ["rule_id", "criteria", "weight", "description"] {
        assert!(!first[field].is_null(), "rule lacks `{field}`");
    }

    // A new rule applies to existing leads.
    let (status, rule) = app
        .send(Method::POST, "/scoring_rules", r#"{"rule_id": "bakeries", "criteria": "intent.meeting and calls.count >= 1", "weight": 7, "description": "Bakery wants a visit"}"#)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let after = app
        .wait_for(&path, |l| {
            l["factors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule_id"] == "bakeries")
        })
        .await;
    let expected = (before["lead_score"].as_i64().unwrap() + 7).min(100);
    assert_eq!(after["lead_score"].as_i64().unwrap(), expected);
    assert_eq!(
        after["score_history"].as_array().unwrap().last().unwrap()["cause"]["type"],
        "rule_changed"
    );

    // Disabling it takes it out again.
    let (status, rule) = app
        .send(
            Method::PUT,
            "/scoring_rules/bakeries",
            r#"{"enabled": false}"#,
        )
        .await;
    assert_eq!(
        (status, rule["version"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    app.wait_for(&path, |l| {
        !l["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "bakeries")
    })
    .await;

    // Rules that do not parse are refused with the column, and nothing changes.
    for (body, needle) in [
        (
            r#"{"criteria": "intent.pricng", "weight": 5}"#,
            "at column 1: unknown field `intent.pricng` (did you mean `intent.pricing`?)",
        ),
        (
            r#"{"criteria": "calls.count >=", "weight": 5}"#,
            "at column 15",
        ),
        (
            r#"{"criteria": "intent.pricing", "weight": 500}"#,
            "outside -100..100",
        ),
        (r#"{"criteria": "intent.pricing"}"#, "weight: required"),
        (
            r#"{"criteria": "calls.count / (2 - 2) > 1", "weight": 5}"#,
            "at column 15: division by zero",
        ),
        (
            r#"{"criteria": "lead.source matches '\\w{100}{100}'", "weight": 5}"#,
            "at column 21: the pattern is too large",
        ),
        (
            r#"{"criteria": "intent.pricing", "weight": 5, "group_cap": 10}"#,
            "group_cap: the rule has no group",
        ),
        (
            r#"{"criteria": "intent.pricing", "weight": 5, "half_life_days": -3}"#,
            "half_life_days: -3 is outside",
        ),
        (
            r#"{"rule_id": "model", "criteria": "intent.pricing", "weight": 5}"#,
            "`model` is reserved",
        ),
        (
            r#"{"rule_id": "bakeries", "criteria": "intent.pricing", "weight": 1}"#,
            "already exists",
        ),
    ] {
        let (status, problem) = app.send(Method::POST, "/scoring_rules", body).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT,
            "{body}: {status}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
    }
    let (status, _) = app
        .send(Method::PUT, "/scoring_rules/nope", r#"{"weight": 1}"#)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, rules_after) = app.get("/scoring_rules").await;
    assert_eq!(
        rules_after["scoring_rules"].as_array().unwrap().len(),
        rules["scoring_rules"].as_array().unwrap().len() + 1
    );
    app.stop().await;
}
