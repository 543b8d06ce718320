//! Sending texts through Twilio's Messages API (a stateful stand-in on a real socket), held
//! first to the law and the tenant's rules: an opted-out lead is never texted, consent when
//! the tenant requires it, and the lead's own quiet hours.

use chrono::Timelike;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::sms::twilio::{self, Algorithm};
use testkit::twilio::Twilio;

use crate::helpers::{TestApp, spawn_app_with};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15125550100";
/// Austin, Texas: Central time, from its area code.
const LEAD: &str = "+15125550147";

/// An app whose tenant has connected the stand-in's account and set its number, with a window
/// open all day (the tests of the window set their own).
async fn app_sending() -> (tempfile::TempDir, TestApp, Twilio) {
    let twilio = Twilio::start(ACCOUNT, TOKEN, &[NUMBER]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        twilio_api_url: twilio.url.clone(),
        public_url: Some("https://sms.example.com".to_owned()),
        ..shared::Config::default()
    };
    let app = spawn_app_with(dir.path(), config).await;
    let (status, body) = app
        .send(
            Method::PUT,
            "/settings/twilio",
            &json!({"auth_token": TOKEN, "account_sid": ACCOUNT}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    texting(
        &app,
        json!({"from": NUMBER, "window": {"start_hour": 0, "end_hour": 24}}),
    )
    .await;
    (dir, app, twilio)
}

async fn texting(app: &TestApp, rules: Value) {
    let (status, body) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({ "texting": rules }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn new_lead(app: &TestApp, phone: &str) -> String {
    let (status, lead) = app
        .send(
            Method::POST,
            "/leads",
            &json!({ "phone_number": phone }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    lead["lead_id"].as_str().unwrap().to_owned()
}

async fn text(app: &TestApp, lead: &str, body: &str) -> (StatusCode, Value) {
    app.send(
        Method::POST,
        &format!("/leads/{lead}/texts"),
        &json!({ "body": body }).to_string(),
    )
    .await
}

async fn consent(app: &TestApp, lead: &str, action: &str) {
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/leads/{lead}/consent"),
            &json!({"action": action, "source": "web form /quote"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_text_goes_through_twilio_and_is_logged_under_its_sid() {
    let (_dir, app, twilio) = app_sending().await;
    let lead = new_lead(&app, LEAD).await;
    let (status, sent) = text(&app, &lead, "Hi, this is Maya from Summit Roofing.").await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let messages = twilio.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(
        (m.to.as_str(), m.from.as_str(), m.body.as_str()),
        (LEAD, NUMBER, "Hi, this is Maya from Summit Roofing.")
    );
    assert_eq!(
        m.status_callback.as_deref(),
        Some("https://sms.example.com/twilio/default/status"),
        "Twilio reports its delivery to the tenant's status webhook"
    );
    assert_eq!(sent["event_id"], format!("msg:{}", m.sid));
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    let logged = &detail["sms_log"][0];
    assert_eq!(
        (logged["sid"].as_str(), logged["status"].as_str()),
        (Some(m.sid.as_str()), Some("queued")),
        "{detail:#}"
    );
    assert_eq!(logged["direction"], "outbound");

    // Twilio reports the delivery to the callback it was given, signed for that URL.
    let callback = m.status_callback.clone().unwrap();
    let params: Vec<(String, String)> = [
        ("AccountSid", ACCOUNT),
        ("MessageSid", m.sid.as_str()),
        ("MessageStatus", "delivered"),
        ("To", LEAD),
        ("From", NUMBER),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let signature = twilio::signature(Algorithm::HmacSha1, TOKEN, &callback, &params);
    let resp = app
        .client
        .post(app.url("/twilio/default/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    app.settle().await;
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    let logged: Vec<&Value> = detail["sms_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sid"] == m.sid.as_str())
        .collect();
    assert!(
        logged.iter().any(|e| e["status"] == "delivered"),
        "the status callback updates the sent text: {detail:#}"
    );
}

#[tokio::test]
async fn an_opted_out_lead_is_refused_and_nothing_reaches_twilio() {
    let (_dir, app, twilio) = app_sending().await;
    let lead = new_lead(&app, LEAD).await;
    consent(&app, &lead, "opt_out").await;
    let (status, problem) = text(&app, &lead, "One more offer!").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "urn:leadscore:problem:opted-out");
    assert!(
        problem["detail"].as_str().unwrap().contains("TCPA"),
        "{problem}"
    );
    assert_eq!(twilio.requests(), 0, "nothing was sent");
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    assert_eq!(
        detail["sms_log"].as_array().map_or(0, Vec::len),
        1,
        "only the opt-out"
    );
}

#[tokio::test]
async fn consent_is_required_when_the_tenant_says_so() {
    let (_dir, app, twilio) = app_sending().await;
    texting(
        &app,
        json!({"from": NUMBER, "require_consent": true, "window": {"start_hour": 0, "end_hour": 24}}),
    )
    .await;
    let lead = new_lead(&app, LEAD).await;
    let (status, problem) = text(&app, &lead, "Hello").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "urn:leadscore:problem:no-consent");
    assert_eq!(twilio.requests(), 0);
    consent(&app, &lead, "opt_in").await;
    let (status, sent) = text(&app, &lead, "Hello").await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(twilio.messages().len(), 1);
}

#[tokio::test]
async fn outside_the_leads_hours_the_text_is_refused_naming_the_next_allowed_minute() {
    let (_dir, app, twilio) = app_sending().await;
    let lead = new_lead(&app, LEAD).await;
    // A window that the lead's current hour (and the next) is outside of, whatever the
    // time the test runs: Austin's clock, from the area code.
    let hour = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .hour();
    let start = if hour <= 20 { hour + 2 } else { 1 };
    texting(
        &app,
        json!({"from": NUMBER, "window": {"start_hour": start, "end_hour": start + 1}}),
    )
    .await;
    let (status, problem) = text(&app, &lead, "Good morning!").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "urn:leadscore:problem:quiet-hours");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("America/Chicago"), "{detail}");
    let next = detail.rsplit(' ').next().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let local = next.with_timezone(&chrono_tz::America::Chicago);
    assert_eq!((local.hour(), local.minute()), (start, 0), "{detail}");
    assert!(next > chrono::Utc::now() && next < chrono::Utc::now() + chrono::Duration::days(1));
    assert_eq!(twilio.requests(), 0);
}

#[tokio::test]
async fn twilios_own_refusals_and_missing_settings_are_named() {
    let (_dir, app, twilio) = app_sending().await;
    let lead = new_lead(&app, LEAD).await;
    // The lead texted STOP to the number at Twilio, which we never heard.
    twilio.unsubscribe(LEAD);
    let (status, problem) = text(&app, &lead, "Hello").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("21610"),
        "{problem}"
    );
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    assert!(
        detail["sms_log"].as_array().is_none_or(Vec::is_empty),
        "nothing logged"
    );

    let (status, problem) = text(&app, &lead, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("body"),
        "{problem}"
    );

    texting(&app, json!({})).await;
    let (status, problem) = text(&app, &lead, "Hello").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("settings.texting.from: set the Twilio number (or Messaging Service SID) texts come from (PATCH /settings)"),
        "{problem}"
    );
    let (status, problem) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({"texting": {"from": NUMBER, "window": {"start_hour": 9, "end_hour": 9}}})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("texting.window"),
        "{problem}"
    );
}
