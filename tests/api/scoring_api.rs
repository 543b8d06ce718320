//! Scoring over the REST API: manual adjustments, tenant tiers, outcomes and the model they
//! train.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const CALL: &str = "Agent: Thanks for calling Brightline Solar, this is Maya.\n\
    Caller: Hi, I'm the owner and I'd like a quote for panels on our roof.\n\
    Agent: Happy to help.\n\
    Caller: Could someone come out for a site visit next week?\n";

/// Submit one call and wait until its lead is scored; the lead's path and body.
async fn scored_lead(app: &TestApp) -> (String, Value) {
    let body = json!({
        "caller": "(512) 555-0147",
        "started_at": chrono::Utc::now().to_rfc3339(),
        "external_id": "CA-ADJ",
        "transcript": { "format": "text", "content": CALL }
    });
    let (status, accepted) = app.send(Method::POST, "/calls", &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let path = format!("/leads/{}", accepted["lead_id"].as_str().unwrap());
    let lead = app.wait_for(&path, |l| l["lead_score"].is_number()).await;
    (path, lead)
}

fn factor<'a>(lead: &'a Value, rule_id: &str) -> Option<&'a Value> {
    lead["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == rule_id)
}

fn score(lead: &Value) -> i64 {
    lead["lead_score"].as_i64().unwrap()
}

#[tokio::test]
async fn a_manual_adjustment_survives_rescoring_until_removed() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (path, before) = scored_lead(&app).await;
    let base = score(&before);
    assert!(base < 80, "room for the adjustment: {before:#}");

    // A rep adds 20 points: the score moves at once, and the factor says who and why.
    let (status, adjusted) = app
        .send(
            Method::PUT,
            &format!("{path}/adjustment"),
            r#"{"points": 20, "reason": "Signed the LOI on site", "by": "maya"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{adjusted}");
    assert_eq!(score(&adjusted), base + 20);
    let manual = factor(&adjusted, "manual").expect("a manual factor");
    assert_eq!(
        (manual["kind"].as_str(), manual["points"].as_f64()),
        (Some("manual"), Some(20.0))
    );
    assert_eq!(manual["evidence"][0]["value"], "Signed the LOI on site");

    // A rule change re-scores the lead; the adjustment is still added on top.
    let (status, _) = app
        .send(
            Method::POST,
            "/scoring_rules",
            r#"{"rule_id": "visit", "criteria": "intent.meeting", "weight": 5}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let rescored = app.wait_for(&path, |l| factor(l, "visit").is_some()).await;
    assert!(factor(&rescored, "manual").is_some(), "{rescored:#}");
    assert_eq!(score(&rescored), base + 25);
    let causes: Vec<&str> = rescored["score_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(causes, ["new_call", "manual", "rule_changed"]);

    // Removing it goes back to the computed score; there is nothing left to remove.
    let (status, removed) = app
        .send(Method::DELETE, &format!("{path}/adjustment"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(score(&removed), base + 5);
    assert!(factor(&removed, "manual").is_none());
    let (status, _) = app
        .send(Method::DELETE, &format!("{path}/adjustment"), "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad adjustments are refused and change nothing.
    for (body, needle) in [
        (r#"{"points": 500, "reason": "x"}"#, "outside -100..100"),
        (r#"{"points": 5, "reason": " "}"#, "reason: required"),
        (r#"{"points": 5}"#, "missing field `reason`"),
    ] {
        let (status, problem) = app
            .send(Method::PUT, &format!("{path}/adjustment"), body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
    }
    let (_, after) = app.get(&path).await;
    assert_eq!(score(&after), base + 5);
    app.stop().await;
}

#[tokio::test]
async fn tier_thresholds_are_the_tenants_own() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (path, lead) = scored_lead(&app).await;
    let base = score(&lead);
    assert!((6..100).contains(&base), "{lead:#}");

    let (_, settings) = app.get("/settings").await;
    assert_eq!(
        settings,
        json!({
            "tiers": {"hot": 70, "warm": 40},
            "surveys": [],
            "texting": {"require_consent": false, "window": {"start_hour": 8, "end_hour": 21},
                        "in_quiet_hours": "refuse"},
            "follow_ups": [],
            "twilio_recordings": {"delete_at_twilio": false}
        })
    );
    for body in [
        r#"{"tiers": {"hot": 40, "warm": 40}}"#,
        r#"{"tiers": {"hot": 101, "warm": 40}}"#,
        r#"{"tiers": {"hot": 70}}"#,
    ] {
        let (status, problem) = app.send(Method::PUT, "/settings", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
    }
    // A threshold at the lead's score makes it hot: boundaries are inclusive.
    let body = json!({"tiers": {"hot": base, "warm": base - 5}}).to_string();
    let (status, _) = app.send(Method::PUT, "/settings", &body).await;
    assert_eq!(status, StatusCode::OK);
    app.wait_for(&path, |l| l["tier"] == "hot").await;
    let body = json!({"tiers": {"hot": base + 1, "warm": base}}).to_string();
    app.send(Method::PUT, "/settings", &body).await;
    app.wait_for(&path, |l| l["tier"] == "warm").await;

    // A change names what it changes: surveys saved, then tiers alone, keep the surveys.
    let survey = json!({"id": "fit", "questions": [
        {"id": "soon", "text": "How soon? Reply 1-5", "answers": {"scale": {"min": 1, "max": 5}}}
    ]});
    let (status, saved) = app
        .send(
            Method::PUT,
            "/settings",
            &json!({"surveys": [survey]}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["tiers"]["hot"], base + 1, "{saved}");
    let (status, saved) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({"tiers": {"hot": 80, "warm": 50}}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (_, settings) = app.get("/settings").await;
    assert_eq!(settings["tiers"], json!({"hot": 80, "warm": 50}));
    assert_eq!(settings["surveys"][0]["id"], "fit", "{settings}");
    app.stop().await;
}

#[tokio::test]
async fn recorded_outcomes_train_a_model_that_scores_every_lead() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (status, problem) = app.send(Method::POST, "/model/train", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no lead has an outcome yet"),
        "{problem}"
    );
    let (status, problem) = app.get("/model").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        problem["detail"],
        "the tenant's model (none is trained yet: record outcomes and POST /model/train, or \
         run `leadscore train`) not found"
    );

    // 60 leads from the CRM; referrals mostly convert, cold lists mostly do not.
    let mut ids = Vec::new();
    for i in 0..60 {
        let referral = i % 2 == 0;
        let converted = if referral { i % 10 != 0 } else { i % 10 == 3 };
        let body = json!({
            "phone_number": format!("+1512555{:04}", 1000 + i),
            "crm": {
                "channel": if referral { "referral" } else { "cold_list" },
                "interactions": (i % 7).to_string(),
            }
        });
        let (status, lead) = app.send(Method::POST, "/leads", &body.to_string()).await;
        assert_eq!(status, StatusCode::CREATED, "{lead}");
        let id = lead["lead_id"].as_str().unwrap().to_owned();
        let outcome = json!({"outcome": if converted { "won" } else { "lost" }});
        let (status, lead) = app
            .send(
                Method::PUT,
                &format!("/leads/{id}/outcome"),
                &outcome.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{lead}");
        assert_eq!(lead["outcome"]["converted"], converted);
        ids.push((id, referral));
    }
    let (status, problem) = app
        .send(
            Method::PUT,
            &format!("/leads/{}/outcome", ids[0].0),
            r#"{"outcome": "maybe"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().contains("`maybe`"));

    // A lead without outcome or CRM fields, there when the model comes.
    let (status, stranger) = app
        .send(
            Method::POST,
            "/leads",
            &json!({"phone_number": "+15125559999"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stranger}");
    let stranger_path = format!("/leads/{}", stranger["lead_id"].as_str().unwrap());

    let (status, model) = app.send(Method::POST, "/model/train", "").await;
    assert_eq!(status, StatusCode::CREATED, "{model}");
    assert_eq!(model["version"], 1);
    assert_eq!(model["metrics"]["rows"], 60);
    assert!(
        model["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "channel"),
        "{model}"
    );
    assert!(model["metrics"]["auc"].as_f64().unwrap() > 0.75, "{model}");

    // Every lead is re-scored with it: referrals come out likelier, with the model's reasons.
    // With 60 outcomes, and both of its inputs known (`channel`, and `crm.interactions`: the
    // call features and the lead age are constant here and left out), the model
    // weighs 60 / (60 + 200) = 23% against the rules, which give these leads nothing: the
    // blended probabilities stay modest.
    let probability = |id: &str| {
        let path = format!("/leads/{id}");
        let app = &app;
        async move {
            let lead = app.wait_for(&path, |l| l["probability"].is_number()).await;
            let model = factor(&lead, "model").expect("a model factor").clone();
            assert_eq!(model["kind"], "model");
            (lead["probability"].as_f64().unwrap(), model)
        }
    };
    let (referral, why) = probability(&ids[2].0).await;
    let (cold, _) = probability(&ids[1].0).await;
    assert!(referral > cold + 0.1, "{referral} vs {cold}");
    assert!(
        why["note"].as_str().unwrap().contains(
            "trained on 60 outcomes; knows 2 of its 2 inputs for this lead; weighted 23% \
                 against the rules"
        ),
        "{why:#}"
    );
    assert!(
        why["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "channel" && e["value"] == "referral"),
        "{why:#}"
    );
    // A lead the model knows nothing about (no CRM fields) gets no probability: its score is
    // the rules', and the model factor says so.
    let stranger = app
        .wait_for(&stranger_path, |l| factor(l, "model").is_some())
        .await;
    assert!(stranger["probability"].is_null(), "{stranger:#}");
    let note = factor(&stranger, "model").unwrap()["note"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(note.contains("knows 0 of its 2 inputs"), "{note}");
    let (_, current) = app.get("/model").await;
    assert_eq!(current["version"], 1);
    app.stop().await;
}

#[tokio::test]
async fn a_rule_is_checked_as_typed_and_tried_on_the_current_leads_before_saving() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (path, lead) = scored_lead(&app).await;
    let (before, tier) = (score(&lead), lead["tier"].clone());
    let (_, rules) = app.send(Method::GET, "/scoring_rules", "").await;
    let rule_count = rules["scoring_rules"].as_array().unwrap().len();

    // The field reference, and checks as a person types.
    let (status, fields) = app.send(Method::GET, "/scoring_rules/fields", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        fields["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "intent.meeting" && f["type"] == "true/false value"),
        "{fields}"
    );
    let check = |criteria: &str| {
        let body = json!({ "criteria": criteria }).to_string();
        let app = &app;
        async move { app.send(Method::POST, "/scoring_rules/check", &body).await }
    };
    let (status, typo) = check("calls.count >= 1 and intent.meting").await;
    assert_eq!(status, StatusCode::OK, "{typo}");
    assert_eq!(typo["valid"], false);
    assert_eq!(typo["column"], 22);
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `intent.meeting`"),
        "{typo}"
    );
    let (_, fine) = check("intent.meeting and calls.count >= 1").await;
    assert_eq!(
        fine,
        json!({"valid": true, "fields": ["intent.meeting", "calls.count"]})
    );

    // A new rule tried: the lead would drop; nothing is stored.
    let preview = |body: Value| {
        let app = &app;
        async move {
            app.send(Method::POST, "/scoring_rules/preview", &body.to_string())
                .await
        }
    };
    let (status, tried) = preview(json!({
        "rule": {"criteria": "intent.meeting", "weight": -100, "description": "Visits cost us"}
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{tried}");
    assert_eq!(tried["leads_considered"], 1);
    assert_eq!(tried["changed"], 1);
    let moved = &tried["leads"][0];
    assert_eq!(moved["lead_id"], lead["lead_id"]);
    assert_eq!(moved["score"].as_i64(), Some(before));
    assert_eq!(moved["tier"], tier);
    assert!(moved["new_score"].as_i64().unwrap() < before, "{tried}");
    let (_, unchanged) = app.send(Method::GET, &path, "").await;
    assert_eq!(score(&unchanged), before);
    let (_, rules) = app.send(Method::GET, "/scoring_rules", "").await;
    assert_eq!(rules["scoring_rules"].as_array().unwrap().len(), rule_count);

    // An edit of a default rule, and new tier thresholds.
    let (_, off) = preview(json!({"rule_id": "default-meeting", "rule": {"enabled": false}})).await;
    assert!(
        off["leads"][0]["new_score"].as_i64().unwrap() < before,
        "{off}"
    );
    let (_, strict) = preview(json!({"tiers": {"hot": 100, "warm": 99}})).await;
    assert_eq!(strict["leads"][0]["new_tier"], "cold", "{strict}");
    assert_eq!(strict["leads"][0]["new_score"].as_i64(), Some(before));
    assert_eq!(strict["tier_down"], 1);

    // What cannot be tried says why.
    for (body, status, says) in [
        (
            json!({"rule": {"criteria": "intent.meting", "weight": 5}}),
            StatusCode::BAD_REQUEST,
            "at column 1",
        ),
        (
            json!({"rule_id": "no-such-rule", "rule": {"weight": 5}}),
            StatusCode::NOT_FOUND,
            "rule no-such-rule",
        ),
        (
            json!({"rule_id": "default-meeting"}),
            StatusCode::BAD_REQUEST,
            "rule: required",
        ),
        (
            json!({"tiers": {"hot": 30, "warm": 60}}),
            StatusCode::BAD_REQUEST,
            "tiers",
        ),
    ] {
        let (got, problem) = preview(body.clone()).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{body}: {problem}"
        );
    }
    let (status, problem) = app
        .send(
            Method::POST,
            "/scoring_rules",
            &json!({"rule_id": "preview", "criteria": "intent.pricing", "weight": 5}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}
