//! The reports over the demo's leads: spread, conversion and value by band, gains,
//! calibration and the success metrics, as JSON and as CSV; an outcome recorded moves them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn report(app: &TestApp, name: &str) -> Value {
    let (status, body) = app.get(&format!("/reports/{name}")).await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    body
}

async fn outcome(app: &TestApp, lead: &Value, outcome: &str, value: f64) {
    let (status, body) = app
        .send(
            Method::PUT,
            &format!("/leads/{}/outcome", lead["lead_id"].as_str().unwrap()),
            &json!({"outcome": outcome, "value": value}).to_string(),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

#[tokio::test]
async fn reports_show_how_scores_convert_and_what_they_won() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    crate::crm::copy_samples(&app);
    app.settle().await;
    let (_, page) = app.get("/leads?limit=200").await;
    let leads = page["leads"].as_array().unwrap().clone();
    let scored: Vec<&Value> = leads
        .iter()
        .filter(|l| l["lead_score"].is_number())
        .collect();
    assert!(scored.len() >= 20, "{}", scored.len());

    // The spread: every scored lead in one band, the tiers adding up.
    let spread = report(&app, "distribution").await;
    assert_eq!(spread["leads_read"], leads.len());
    assert_eq!(spread["truncated"], false);
    let banded: u64 = spread["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["leads"].as_u64().unwrap())
        .sum();
    assert_eq!(banded as usize, scored.len());
    assert_eq!(
        (spread["hot"].as_u64().unwrap()
            + spread["warm"].as_u64().unwrap()
            + spread["cold"].as_u64().unwrap()) as usize,
        scored.len()
    );
    assert_eq!(
        spread["unscored"].as_u64().unwrap() as usize,
        leads.len() - scored.len()
    );

    // Nothing decided yet: no rates, no gains.
    let before = report(&app, "conversion").await;
    assert_eq!(before["won"], 0);
    assert!(before["conversion_rate"].is_null());
    assert_eq!(report(&app, "gains").await["points"], json!([]));

    // WHEN reps record outcomes: the three hottest won, the two coldest scored lost
    let hottest = &scored[..3];
    let coldest = &scored[scored.len() - 2..];
    for (lead, value) in hottest.iter().zip([12_500.0, 4_000.0, 0.0]) {
        outcome(&app, lead, "won", value).await;
    }
    for lead in coldest {
        outcome(&app, lead, "lost", 0.0).await;
    }
    app.settle().await;

    // THEN conversion and value won show in the bands the winners are in
    let after = report(&app, "conversion").await;
    assert_eq!(
        (after["won"].as_u64(), after["lost"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(after["conversion_rate"], 0.6);
    assert_eq!(after["value_won"], 16_500.0);
    let top_band = |score: u64| (score.min(99) / 10) as usize;
    let band = &after["bands"][top_band(hottest[0]["lead_score"].as_u64().unwrap())];
    assert!(
        band["won"].as_u64().unwrap() >= 1 && band["value_won"].as_f64().unwrap() >= 12_500.0,
        "{band}"
    );
    // AND working the top of the list first captures every conversion early
    let gains = report(&app, "gains").await;
    let points = gains["points"].as_array().unwrap();
    assert_eq!(
        (gains["decided"].as_u64(), gains["won"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(points.len(), 10);
    assert_eq!(points[5]["conversions"], 1.0, "{gains}");
    // AND the success metrics: the hot tier's calls are right, ranking is perfect here
    let model = report(&app, "model").await;
    assert_eq!(model["decided"], 5);
    assert_eq!(model["auc"], 1.0, "{model}");
    assert_eq!(model["recall"], 1.0, "{model}");
    assert!(model["brier"].as_f64().unwrap() < 0.5);
    let calibration = report(&app, "calibration").await;
    assert_eq!(calibration["decided"], 5);
    assert_eq!(
        calibration["deciles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["leads"].as_u64().unwrap())
            .sum::<u64>(),
        5
    );

    // As CSV, for a spreadsheet.
    let csv = app
        .client
        .get(app.url("/reports/conversion?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "from,to,leads,won,lost,conversion_rate,value_won");
    assert_eq!(lines.len(), 11, "{text}");
    assert!(lines[10].starts_with("90,100,"), "{text}");
    // A format it does not make is named.
    let (status, problem) = app.get("/reports/gains?format=xml").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("format"),
        "{problem}"
    );
}

/// A call `hours_ago`, from `caller`, taken by `agent` (if any), saying `said`; its lead once
/// scored with it.
async fn call(
    app: &TestApp,
    caller: &str,
    hours_ago: i64,
    agent: Option<&str>,
    said: &str,
) -> Value {
    let started = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
    let mut body = json!({
        "caller": caller,
        "started_at": started.to_rfc3339(),
        "external_id": format!("CA-{caller}-{hours_ago}"),
        "transcript": {"format": "text", "content": format!("Agent: Brightline Solar, how can I help?\nCaller: {said}\n")}
    });
    if let Some(agent) = agent {
        body["agent"] = agent.into();
    }
    let (status, accepted) = app.send(Method::POST, "/calls", &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let call = accepted["call_id"].as_str().unwrap().to_owned();
    let path = format!("/leads/{}", accepted["lead_id"].as_str().unwrap());
    app.wait_for(&path, |l| {
        l["calls"].as_array().is_some_and(|calls| {
            calls
                .iter()
                .any(|c| c["call_id"] == call && c["status"] == "scored")
        })
    })
    .await
}

#[tokio::test]
async fn call_reports_show_the_weeks_the_time_to_touch_the_signals_and_the_agents() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let keen = "I'm the owner and we want to buy this month. What's the price for the panels? \
                Can you come out for a site visit? We have the budget approved.";
    // Dana turned hot 50 hours ago and was called again a day later; Ben turned hot 5 hours
    // ago and waits; Carl objected.
    let dana = call(&app, "+14155550101", 50, Some("Maya"), keen).await;
    assert_eq!(dana["tier"], "hot", "{dana}");
    call(
        &app,
        "+14155550101",
        26,
        Some("Sam"),
        "Thanks, the visit works for us, we are ready to sign.",
    )
    .await;
    let ben = call(&app, "+14155550102", 5, Some("Maya"), keen).await;
    assert_eq!(ben["tier"], "hot", "{ben}");
    call(
        &app,
        "+14155550103",
        72,
        None,
        "That's too expensive for us, I'm not interested.",
    )
    .await;
    outcome(&app, &dana, "won", 9000.0).await;

    let touch = report(&app, "time_to_touch").await;
    assert_eq!(touch["calls_read"], 4, "{touch}");
    assert_eq!(touch["calls_truncated"], false);
    assert_eq!(
        (
            touch["hot_leads"].as_u64(),
            touch["touched"].as_u64(),
            touch["waiting"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{touch}"
    );
    assert_eq!(touch["median_hours_to_touch"], 24.0, "{touch}");
    assert_eq!(touch["touched_within_24h"], 1);
    let waiting = &touch["longest_waiting"][0];
    assert_eq!(waiting["lead_id"], ben["lead_id"]);
    assert!(
        (waiting["hours"].as_f64().unwrap() - 5.0).abs() < 0.1,
        "{touch}"
    );

    let weeks = report(&app, "activity?weeks=2").await;
    let weeks = weeks["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 2);
    let total = |field: &str| {
        weeks
            .iter()
            .map(|w| w[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (total("calls"), total("new_leads"), total("turned_hot")),
        (4, 3, 2)
    );

    let signals = report(&app, "signals").await;
    let find = |group: &str, kind: &str| {
        signals[group]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {signals}"))
            .clone()
    };
    let purchase = find("intents", "purchase");
    assert_eq!(
        (purchase["leads"].as_u64(), purchase["won"].as_u64()),
        (Some(2), Some(1)),
        "{purchase}"
    );
    assert_eq!(purchase["conversion_rate"], 1.0);
    assert_eq!(find("objections", "too_expensive")["leads"], 1);

    let agents = report(&app, "agents").await;
    assert_eq!(agents["calls_without_agent"], 1);
    let maya = &agents["agents"][0];
    assert_eq!(maya["agent"], "Maya", "{agents}");
    assert_eq!(
        (
            maya["calls"].as_u64(),
            maya["leads"].as_u64(),
            maya["hot_leads"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(
        (maya["won"].as_u64(), maya["value_won"].as_f64()),
        (Some(1), Some(9000.0))
    );
    assert_eq!(agents["agents"][1]["agent"], "Sam");

    // As CSV, and a bad window named.
    let response = app
        .client
        .get(format!("http://{}/reports/agents?format=csv", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("agent,calls,leads,hot_leads,won,lost,"),
        "{text}"
    );
    assert!(
        text.contains("\nMaya,2,2,2,1,0,1.0000,9000.00,2,"),
        "{text}"
    );
    let (status, problem) = app.get("/reports/activity?weeks=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("weeks"),
        "{problem}"
    );
}
