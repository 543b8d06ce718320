//! Signed webhooks from `serve` to a receiver over a real socket that verifies every request
//! with the Standard Webhooks reference library (PyPI `standardwebhooks`): a hot call's
//! `lead.tier_changed` within five seconds, retries, a subscription disabled after a whole
//! schedule of failures, redelivery, and the usage counted.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::webhooks::{Receiver, secret};

use crate::helpers::{TestApp, sample, spawn_app_with};

/// A call as `POST /calls` takes it: a sample's sidecar and transcript.
fn call_001() -> String {
    let mut call: Value =
        serde_json::from_slice(&std::fs::read(sample("call-001.meta.json")).unwrap()).unwrap();
    call["transcript"] = json!({
        "format": "webvtt",
        "content": std::fs::read_to_string(sample("call-001.vtt")).unwrap(),
    });
    call.to_string()
}

fn text_call(caller: &str, text: &str) -> String {
    json!({"caller": caller, "transcript": {"format": "text", "content": text}}).to_string()
}

async fn post(app: &TestApp, path: &str, body: &str) -> Value {
    let (status, answer) = app.send(Method::POST, path, body).await;
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer
}

/// The status code of each attempt of a delivery, in order.
fn statuses(delivery: &Value) -> Vec<u64> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64().unwrap_or_default())
        .collect()
}

/// The delivery of `event_type` about `lead`, once `done` holds for it.
async fn delivery_when(
    app: &TestApp,
    subscription: &str,
    event_type: &str,
    lead: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let find = |page: &Value| {
        page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| {
                d["event_type"] == event_type
                    && serde_json::from_str::<Value>(d["payload"].as_str().unwrap()).unwrap()
                        ["data"]["lead_id"]
                        == lead
            })
            .cloned()
    };
    let page = app
        .wait_for(&format!("/webhooks/{subscription}/deliveries"), |page| {
            find(page).is_some_and(|d| done(&d))
        })
        .await;
    find(&page).unwrap()
}

#[tokio::test]
async fn a_hot_call_reaches_a_subscriber_signed_in_seconds_and_failures_are_retried_logged_and_redelivered()
 {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret();
    let receiver = Receiver::start(&secret).await;
    let config = shared::Config {
        // One-second retries, so a whole schedule fails within the test.
        webhook_retry_delays: vec![Duration::from_secs(1); 2],
        ..shared::Config::default()
    };
    let app = spawn_app_with(dir.path(), config).await;

    let (status, created) = app
        .send(
            Method::POST,
            "/webhooks",
            &json!({
                "url": receiver.url,
                "events": ["lead.created", "lead.score_changed", "lead.tier_changed", "call.scored"],
                "description": "hot leads",
                "secret": secret,
            })
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["secret"], secret.as_str());
    let id = created["subscription_id"].as_str().unwrap().to_owned();
    // The secret is shown once: never in a read.
    let (_, listed) = app.get("/webhooks").await;
    assert!(!listed.to_string().contains(&secret[6..]), "{listed}");
    assert_eq!(listed["webhooks"][0]["subscription_id"], id.as_str());

    // A hot call (for this tenant, whose hot starts at 45): its lead turns hot, and the
    // subscriber hears of it within five seconds.
    let (status, _) = app
        .send(
            Method::PUT,
            "/settings",
            r#"{"tiers": {"hot": 45, "warm": 20}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    let accepted = post(&app, "/calls", &call_001()).await;
    let lead = accepted["lead_id"].as_str().unwrap().to_owned();
    // (The re-score the settings started may give the new lead a first tier before its call
    // is analysed: that is another `lead.tier_changed`, to cold.)
    let hot = receiver
        .wait_for(Duration::from_secs(5), |r| {
            let data = &r["payload"]["data"];
            r["type"] == "lead.tier_changed"
                && data["lead_id"] == lead.as_str()
                && data["tier"] == "hot"
        })
        .await;
    println!(
        "lead.tier_changed received {} ms after POST /calls",
        started.elapsed().as_millis()
    );
    assert_eq!(hot["verified"], true, "{hot}");
    let data = &hot["payload"]["data"];
    assert_ne!(data["previous_tier"], "hot", "{data}");
    assert!(data["score"].as_u64().unwrap() >= 45, "{data}");
    assert_eq!(data["cause"]["type"], "new_call", "{data}");
    assert_eq!(data["lead_path"], format!("/leads/{lead}"));
    let factors = data["top_factors"].as_array().unwrap();
    assert!(!factors.is_empty() && factors.len() <= 3, "{data}");
    // No personal data rides along: the caller's name and number stay behind the API.
    let payload = hot["payload"].to_string();
    assert!(
        !payload.contains("Whitfield") && !payload.contains("4155550134"),
        "{payload}"
    );
    for wanted in ["lead.created", "lead.score_changed", "call.scored"] {
        receiver
            .wait_for(Duration::from_secs(5), |r| r["type"] == wanted)
            .await;
    }

    // From here on, one event per call.
    let (status, _) = app
        .send(
            Method::PATCH,
            &format!("/webhooks/{id}"),
            r#"{"events": ["lead.tier_changed"]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The receiver goes down: a new lead's first tier is tried three times, the delivery
    // fails, and the subscription (whose every attempt failed all along) is disabled.
    receiver.control(json!({"down": true})).await;
    let second = post(
        &app,
        "/calls",
        &text_call(
            "+13125550161",
            "Customer: We want to buy this week. Please send the contract today.",
        ),
    )
    .await;
    let lead2 = second["lead_id"].as_str().unwrap().to_owned();
    let failed = delivery_when(&app, &id, "lead.tier_changed", &lead2, |d| {
        d["state"] == "failed"
    })
    .await;
    assert_eq!(statuses(&failed), [503, 503, 503], "{failed:#}");
    assert!(
        failed["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 503"),
        "{failed:#}"
    );
    assert!(
        failed["note"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{failed:#}"
    );
    let disabled = app
        .wait_for(&format!("/webhooks/{id}"), |s| s["enabled"] == false)
        .await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("every attempt failed"),
        "{disabled:#}"
    );
    let event_id = failed["event_id"].as_str().unwrap().to_owned();
    let redeliver = format!("/webhooks/{id}/deliveries/{event_id}/redeliver");
    let (status, refused) = app.send(Method::POST, &redeliver, "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("disabled"),
        "{refused}"
    );

    // Back up, enabled again, redelivered: the same webhook-id, verified, taken.
    receiver.control(json!({"down": false})).await;
    let (status, enabled) = app
        .send(
            Method::PATCH,
            &format!("/webhooks/{id}"),
            r#"{"enabled": true}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    let (status, again) = app.send(Method::POST, &redeliver, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let taken = receiver
        .wait_for(Duration::from_secs(10), |r| {
            r["id"] == event_id.as_str() && r["answered"] == 200
        })
        .await;
    assert_eq!(taken["verified"], true);
    assert_eq!(taken["payload"]["data"]["lead_id"], lead2.as_str());
    let delivered = delivery_when(&app, &id, "lead.tier_changed", &lead2, |d| {
        d["state"] == "delivered"
    })
    .await;
    assert_eq!(delivered["attempt_count"], 4, "{delivered:#}");

    // A receiver that fails once is tried again a second later and takes it.
    receiver.control(json!({"fail_next": 1})).await;
    let third = post(
        &app,
        "/calls",
        &text_call(
            "+13125550162",
            "Customer: Just looking, no budget this year.",
        ),
    )
    .await;
    let lead3 = third["lead_id"].as_str().unwrap().to_owned();
    let retried = delivery_when(&app, &id, "lead.tier_changed", &lead3, |d| {
        d["state"] == "delivered"
    })
    .await;
    assert_eq!(statuses(&retried), [503, 200], "{retried:#}");

    // Every request verified; each taken event taken once; usage counts what was taken.
    let received = receiver.received().await;
    assert!(
        received.iter().all(|r| r["verified"] == true),
        "{received:#?}"
    );
    let mut taken: Vec<&str> = received
        .iter()
        .filter(|r| r["answered"] == 200)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let count = taken.len();
    taken.sort_unstable();
    taken.dedup();
    assert_eq!(
        taken.len(),
        count,
        "an event was taken twice: {received:#?}"
    );
    let (_, usage) = app.get("/usage").await;
    assert_eq!(usage["webhooks_delivered"], count as u64, "{usage}");
    app.stop().await;
}

#[tokio::test]
async fn subscriptions_are_checked_made_with_a_secret_and_deleted_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(dir.path(), shared::Config::default()).await;
    for (body, why) in [
        (
            json!({"url": "ftp://x.example/", "events": ["call.scored"]}),
            "not http or https",
        ),
        (
            json!({"url": "https://x.example/", "events": []}),
            "at least one of",
        ),
        (
            json!({"url": "https://x.example/", "events": ["call.scored"], "secret": "hunter2"}),
            "whsec_",
        ),
        (
            json!({"url": "https://x.example/", "events": ["lead.sold"]}),
            "lead.sold",
        ),
    ] {
        let (status, problem) = app.send(Method::POST, "/webhooks", &body.to_string()).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(problem.to_string().contains(why), "{body}: {problem}");
    }
    // Without a secret, one is made: the Standard Webhooks form, 32 bytes.
    let created = post(
        &app,
        "/webhooks",
        r#"{"url": "https://hooks.example.com/leadscore", "events": ["model.trained"]}"#,
    )
    .await;
    let made = created["secret"].as_str().unwrap();
    assert!(made.starts_with("whsec_") && made.len() == 6 + 44, "{made}");
    let id = created["subscription_id"].as_str().unwrap();
    let secret_file = dir
        .path()
        .join("secrets/default")
        .join(format!("webhook-{}", id.replace('_', "-")));
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), made);
    let (status, _) = app
        .send(Method::DELETE, &format!("/webhooks/{id}"), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !secret_file.exists(),
        "the secret goes with its subscription"
    );
    let (status, _) = app.get(&format!("/webhooks/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A stand-in for a Slack incoming webhook, from Slack's reference ("Sending messages using
/// incoming webhooks"): a JSON body with a `text` is answered `200 ok`; a body that is not
/// JSON `400 invalid_payload`; one without text `400 no_text`. It keeps what it took.
async fn slack_stand_in() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::StatusCode as Http;
    let taken = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = taken.clone();
    let app = axum::Router::new().route(
        "/services/T000/B000/XXXX",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                let Ok(message) = serde_json::from_str::<Value>(&body) else {
                    return (Http::BAD_REQUEST, "invalid_payload");
                };
                match message["text"].as_str() {
                    Some(text) if !text.is_empty() => {
                        kept.lock().unwrap().push(text.to_owned());
                        (Http::OK, "ok")
                    }
                    _ => (Http::BAD_REQUEST, "no_text"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/services/T000/B000/XXXX",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, taken)
}

/// The README's recipe, `docs/recipes/hot_leads_to_slack.py`, between `serve` and Slack.
struct Relay(std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_readme_recipe_posts_a_lead_that_turned_hot_to_slack_and_nothing_else() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(dir.path(), shared::Config::default()).await;
    let (slack, posted) = slack_stand_in().await;
    let secret = secret();
    let venv = testkit::venv::installed("webhooks", "tools/webhooks.txt");
    let mut child = std::process::Command::new(venv.join("bin/python"))
        .arg(crate::helpers::repo_root().join("docs/recipes/hot_leads_to_slack.py"))
        .arg("0")
        .env("LEADSCORE_WEBHOOK_SECRET", &secret)
        .env("SLACK_WEBHOOK_URL", &slack)
        .env("LEADSCORE_API_URL", app.url(""))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the recipe");
    let mut port = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let relay = Relay(child);
    let (status, _) = app
        .send(
            Method::PUT,
            "/settings",
            r#"{"tiers": {"hot": 45, "warm": 20}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    post(
        &app,
        "/webhooks",
        &json!({"url": format!("http://127.0.0.1:{}/", port.trim()), "events": ["lead.tier_changed"], "secret": secret})
            .to_string(),
    )
    .await;

    // A cold lead first: its tier changed, but it is not hot, so Slack hears nothing.
    post(
        &app,
        "/calls",
        &text_call("+13125550170", "Customer: Wrong number, sorry."),
    )
    .await;
    let hot = post(&app, "/calls", &call_001()).await;
    let lead = hot["lead_id"].as_str().unwrap();
    let started = Instant::now();
    while posted.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Slack got nothing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.settle().await;
    let messages = posted.lock().unwrap().clone();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let text = &messages[0];
    assert!(text.contains("A lead turned hot: score"), "{text}");
    assert!(text.contains("Asked about pricing or a quote"), "{text}");
    assert!(text.ends_with(&format!("/leads/{lead}")), "{text}");
    drop(relay);
    app.stop().await;
}
