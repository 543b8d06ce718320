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
    let start = testkit::twilio::closed_window_start(chrono_tz::America::Chicago);
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

    // Credentials Twilio does not know are named as the tenant's to fix.
    let (status, body) = app
        .send(
            Method::PUT,
            "/settings/twilio",
            &json!({"auth_token": "ffffffffffffffffffffffffffffffff", "account_sid": ACCOUNT})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = text(&app, &lead, "Hello").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("check the account SID and auth token"),
        "{problem}"
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

/// `POST /leads/{id}/texts` with an `Idempotency-Key`: status, headers and body.
async fn text_with_key(
    app: &TestApp,
    lead: &str,
    key: &str,
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = app
        .client
        .post(app.url(&format!("/leads/{lead}/texts")))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(json!({ "body": body }).to_string())
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap())
}

fn tenant() -> shared::domain::TenantId {
    shared::domain::TenantId::parse("default").unwrap()
}

fn lead_id(id: &str) -> shared::domain::LeadId {
    shared::domain::LeadId::parse(id).unwrap()
}

#[tokio::test]
async fn a_retried_send_with_the_same_key_sends_one_text() {
    let (_dir, app, twilio) = app_sending().await;
    let lead = new_lead(&app, LEAD).await;
    // GIVEN a text sent with a key
    let (status, headers, first) =
        text_with_key(&app, &lead, "quote-1", "Your quote is ready.").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["state"], "sent");
    assert!(headers.get("idempotent-replayed").is_none());
    let location = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/leads/{lead}/texts/{}", first["text_id"].as_str().unwrap())
    );
    // WHEN the client, not having heard, sends it again
    let (status, headers, again) =
        text_with_key(&app, &lead, "quote-1", "Your quote is ready.").await;
    // THEN it gets the same text, marked as a replay, and Twilio got one
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again, first);
    assert_eq!(twilio.messages().len(), 1);
    let (status, read) = app.get(&location).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, first);
    // ... and the key with another text is refused, sending nothing
    let (status, _, problem) = text_with_key(&app, &lead, "quote-1", "Another text").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        problem["type"],
        "urn:leadscore:problem:idempotency-key-reused"
    );
    assert_eq!(twilio.messages().len(), 1);
    // ... while the same key for another lead is another text
    let other = new_lead(&app, "+15125550148").await;
    let (status, _, _) = text_with_key(&app, &other, "quote-1", "Your quote is ready.").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(twilio.messages().len(), 2);
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    assert_eq!(detail["sms_log"].as_array().unwrap().len(), 1, "{detail:#}");
    let (status, _) = app
        .get(&format!("/leads/{lead}/texts/txt_nosuchtext"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_is_looked_for_at_twilio_and_sent_once() {
    for taken in [true, false] {
        let (_dir, app, twilio) = app_sending().await;
        let lead = new_lead(&app, LEAD).await;
        // GIVEN Twilio answers the send with a 500, having taken the text or not
        twilio.fail_next(taken);
        let (status, _, problem) = text_with_key(&app, &lead, "k-7", "See you at 10.").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "the problem says how to find out: {problem}"
        );
        // ... a retry at once finds it still being sent, and sends nothing
        let (status, _, problem) = text_with_key(&app, &lead, "k-7", "See you at 10.").await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(twilio.messages().len(), usize::from(taken));
        // WHEN the same request comes after the lease
        let later = chrono::Utc::now() + shared::handlers::texts::SENDING_LEASE;
        let draft = shared::handlers::texts::TextDraft {
            body: "See you at 10.".to_owned(),
        };
        let outcome = shared::handlers::texts::send_text(
            &app.app.deps,
            &tenant(),
            &lead_id(&lead),
            draft,
            Some("k-7"),
            later,
        )
        .await
        .unwrap();
        // THEN the text went once: found at Twilio when it took it, else sent now
        let messages = twilio.messages();
        assert_eq!(messages.len(), 1, "taken: {taken}");
        assert!(outcome.replayed);
        assert_eq!(outcome.text.sid.as_deref(), Some(messages[0].sid.as_str()));
        // (Not `settle`: the check queued with the 503 waits out the lease, and finds it sent.)
        let detail = app
            .wait_for(&format!("/leads/{lead}"), |d| {
                d["sms_log"].as_array().is_some_and(|l| !l.is_empty())
            })
            .await;
        let log = detail["sms_log"].as_array().unwrap();
        assert_eq!(log.len(), 1, "{detail:#}");
        assert_eq!(log[0]["sid"], messages[0].sid.as_str());
    }
}

/// A lost answer is settled even when the client never asks again: the check queued with the
/// 503 looks at Twilio after the lease and records what it finds. It sends nothing unasked:
/// a text Twilio did not take is `failed` (nothing went), and the client's retry sends it.
#[tokio::test]
async fn a_send_whose_answer_was_lost_is_settled_without_a_retry_and_never_sent_unasked() {
    for taken in [true, false] {
        let (_dir, app, twilio) = app_sending().await;
        let lead = new_lead(&app, LEAD).await;
        // (what the new lead queued is done first, so that the count moves by the check alone)
        app.settle().await;
        let pending = app.app.store.queue_counts().await.unwrap().pending;
        twilio.fail_next(taken);
        let (status, _, problem) = text_with_key(&app, &lead, "k-9", "See you at 11.").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
        assert_eq!(
            app.app.store.queue_counts().await.unwrap().pending,
            pending + 1,
            "the check is queued"
        );
        let (_, texts) = app.get(&format!("/leads/{lead}/texts")).await;
        let text = &texts["texts"][0];
        assert_eq!(text["state"], "sending", "{texts:#}");
        let text_id = text["text_id"].as_str().unwrap().to_owned();
        // WHEN the check comes due (delivered twice, as SQS may)
        let due = chrono::Utc::now()
            + shared::handlers::texts::SENDING_LEASE
            + chrono::Duration::seconds(5);
        for _ in 0..2 {
            shared::handlers::texts::send_queued(
                &app.app.deps,
                &tenant(),
                &lead_id(&lead),
                &text_id,
                0,
                due,
            )
            .await
            .unwrap();
        }
        // THEN the text says what happened, and nothing more went to Twilio
        let (_, text) = app.get(&format!("/leads/{lead}/texts/{text_id}")).await;
        let messages = twilio.messages();
        assert_eq!(messages.len(), usize::from(taken), "taken: {taken}");
        if taken {
            assert_eq!(text["state"], "sent", "{text:#}");
            assert_eq!(text["sid"], messages[0].sid.as_str());
        } else {
            assert_eq!(text["state"], "failed", "{text:#}");
            assert!(
                text["problem"].as_str().unwrap().contains("nothing went"),
                "{text:#}"
            );
            // ... and the client's retry sends it, once
            let (status, _, body) = text_with_key(&app, &lead, "k-9", "See you at 11.").await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["state"], "sent", "{body}");
            assert_eq!(twilio.messages().len(), 1);
        }
    }
}

/// 22:30 in Austin (Central time) on a day well after the test runs, so that no job the
/// local worker holds falls due while it runs.
fn half_past_ten_in_austin() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let day = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    chrono_tz::America::Chicago
        .from_local_datetime(&day.and_hms_opt(22, 30, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Work a queued text's jobs as a queue that holds each for its delay would, from `from`
/// until the text leaves the queue: each job delivered twice. Returns the hops taken.
async fn work_queue(
    app: &TestApp,
    lead: &str,
    text_id: &str,
    from: chrono::DateTime<chrono::Utc>,
) -> u32 {
    let deps = &app.app.deps;
    let mut clock = from;
    loop {
        let text = deps
            .sms
            .get_text(&tenant(), &lead_id(lead), text_id)
            .await
            .unwrap()
            .unwrap();
        if text.state != shared::domain::TextState::Queued {
            return text.hop;
        }
        let due = text.send_at.unwrap();
        // The job of this hop comes when its delay (at most 15 minutes) is over.
        clock = (clock + chrono::Duration::minutes(15)).min(due);
        for _ in 0..2 {
            shared::handlers::texts::send_queued(
                deps,
                &tenant(),
                &lead_id(lead),
                text_id,
                text.hop,
                clock,
            )
            .await
            .unwrap();
        }
    }
}

#[tokio::test]
async fn a_text_at_half_past_ten_in_the_leads_zone_is_queued_to_eight_and_sent_once() {
    let (_dir, app, twilio) = app_sending().await;
    texting(&app, json!({"from": NUMBER, "in_quiet_hours": "queue"})).await;
    let lead = new_lead(&app, LEAD).await;
    let now = half_past_ten_in_austin();
    // WHEN a text is asked for at 22:30 of the lead's day
    let outcome = shared::handlers::texts::send_text(
        &app.app.deps,
        &tenant(),
        &lead_id(&lead),
        shared::handlers::texts::TextDraft {
            body: "Morning! Still keen on the roof inspection?".to_owned(),
        },
        None,
        now,
    )
    .await
    .unwrap();
    // THEN it waits for 8:00 the next morning there, and nothing is sent yet
    let text = outcome.text;
    assert_eq!(text.state, shared::domain::TextState::Queued);
    let eight = text
        .send_at
        .unwrap()
        .with_timezone(&chrono_tz::America::Chicago);
    assert_eq!((eight.hour(), eight.minute()), (8, 0));
    let evening = now.with_timezone(&chrono_tz::America::Chicago);
    assert_eq!(eight.date_naive(), evening.date_naive().succ_opt().unwrap());
    assert_eq!(twilio.requests(), 0);
    let (status, read) = app
        .get(&format!("/leads/{lead}/texts/{}", text.text_id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["state"], "queued", "{read}");
    // WHEN its jobs come, each twice, hop by hop through the night
    let hops = work_queue(&app, &lead, &text.text_id, now).await;
    // THEN it went once, at 8:00, and is in the lead's log
    assert_eq!(hops, 37, "37 hops of 15 minutes, and the 38th job sends it");
    let messages = twilio.messages();
    assert_eq!(messages.len(), 1);
    let (_, read) = app
        .get(&format!("/leads/{lead}/texts/{}", text.text_id))
        .await;
    assert_eq!(read["state"], "sent", "{read}");
    assert_eq!(read["sid"], messages[0].sid.as_str());
    // ... and a late copy of any job changes nothing
    shared::handlers::texts::send_queued(
        &app.app.deps,
        &tenant(),
        &lead_id(&lead),
        &text.text_id,
        0,
        eight.with_timezone(&chrono::Utc),
    )
    .await
    .unwrap();
    assert_eq!(twilio.messages().len(), 1);
    // (The queue still holds the hops' jobs, due in real minutes: the log is read as it is.)
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    assert_eq!(detail["sms_log"][0]["sid"], messages[0].sid.as_str());
}

#[tokio::test]
async fn through_the_api_a_text_in_quiet_hours_is_queued_and_a_lead_who_opts_out_meanwhile_is_not_texted()
 {
    let (_dir, app, twilio) = app_sending().await;
    let lead = new_lead(&app, LEAD).await;
    let start = testkit::twilio::closed_window_start(chrono_tz::America::Chicago);
    texting(
        &app,
        json!({"from": NUMBER, "in_quiet_hours": "queue",
               "window": {"start_hour": start, "end_hour": start + 1}}),
    )
    .await;
    let (status, headers, queued) = text_with_key(&app, &lead, "q-1", "Are you free today?").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["state"], "queued");
    let send_at =
        chrono::DateTime::parse_from_rfc3339(queued["send_at"].as_str().unwrap()).unwrap();
    let local = send_at.with_timezone(&chrono_tz::America::Chicago);
    assert_eq!((local.hour(), local.minute()), (start, 0));
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .ends_with(queued["text_id"].as_str().unwrap())
    );
    // ... a retry is the same queued text
    let (status, headers, again) = text_with_key(&app, &lead, "q-1", "Are you free today?").await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &queued));
    assert_eq!(headers["idempotent-replayed"], "true");
    // WHEN the lead opts out before the minute comes
    consent(&app, &lead, "opt_out").await;
    let text_id = queued["text_id"].as_str().unwrap();
    work_queue(&app, &lead, text_id, chrono::Utc::now()).await;
    // THEN the text is cancelled, naming the rule, and nothing reached Twilio
    let (_, read) = app.get(&format!("/leads/{lead}/texts/{text_id}")).await;
    assert_eq!(read["state"], "cancelled", "{read}");
    assert!(
        read["problem"].as_str().unwrap().contains("opted out"),
        "{read}"
    );
    assert_eq!(twilio.requests(), 0);
}

/// The tenant's follow-up: two hours after a lead turns hot, unless someone texts or calls it.
async fn with_follow_up(app: &TestApp) {
    with_follow_ups(
        app,
        json!([{"id": "hot-no-touch", "when": "turned_hot", "after_hours": 2,
                "text": "Hi {first_name}, Maya from Summit Roofing here: would a call today help?"}]),
    )
    .await;
}

/// The tenant's `follow_ups`, with any scored lead hot.
async fn with_follow_ups(app: &TestApp, follow_ups: Value) {
    let (status, body) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({"tiers": {"hot": 2, "warm": 1}, "follow_ups": follow_ups}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A call from `LEAD` (Dana) that scores it, and the follow-up it queued.
async fn turned_hot(app: &TestApp) -> (String, Value) {
    let body = json!({
        "caller": LEAD,
        "first_name": "Dana",
        "started_at": chrono::Utc::now().to_rfc3339(),
        "transcript": {"format": "text", "content":
            "Agent: Summit Roofing, this is Maya.\nCaller: I need a quote for a new roof this week.\n"}
    });
    let (status, accepted) = app.send(Method::POST, "/calls", &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let lead = accepted["lead_id"].as_str().unwrap().to_owned();
    let texts = app
        .wait_for(&format!("/leads/{lead}/texts"), |t| {
            t["texts"].as_array().is_some_and(|t| !t.is_empty())
        })
        .await;
    (lead, texts["texts"][0].clone())
}

#[tokio::test]
async fn a_hot_lead_no_one_touches_gets_exactly_one_follow_up_however_often_the_trigger_comes() {
    let (_dir, app, twilio) = app_sending().await;
    with_follow_up(&app).await;
    // WHEN a call makes a lead hot
    let (lead, queued) = turned_hot(&app).await;
    // THEN a follow-up waits two hours, in the lead's list of texts
    assert_eq!(queued["state"], "queued", "{queued}");
    assert_eq!(queued["origin"], "follow-up:hot-no-touch");
    assert_eq!(
        queued["body"],
        "Hi Dana, Maya from Summit Roofing here: would a call today help?"
    );
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        at(&queued["send_at"]) - at(&queued["unless_touched_since"]),
        chrono::Duration::hours(2)
    );
    // ... and the same trigger, delivered again and again, starts nothing more
    let text_id = queued["text_id"].as_str().unwrap().to_owned();
    let stored = app
        .app
        .deps
        .sms
        .get_text(&tenant(), &lead_id(&lead), &text_id)
        .await
        .unwrap()
        .unwrap();
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    let call_id = detail["calls"][0]["call_id"].as_str().unwrap().to_owned();
    let event = trigger(&lead, &call_id, stored.unless_touched_since.unwrap());
    for _ in 0..3 {
        shared::handlers::follow_ups::on_events(
            &app.app.deps,
            &tenant(),
            std::slice::from_ref(&event),
        )
        .await
        .unwrap();
    }
    let (_, texts) = app.get(&format!("/leads/{lead}/texts")).await;
    assert_eq!(texts["texts"].as_array().unwrap().len(), 1, "{texts:#}");
    // WHEN two hours pass with no one texting or calling (each job delivered twice)
    work_queue(&app, &lead, &text_id, chrono::Utc::now()).await;
    // THEN the lead got the follow-up, once
    let messages = twilio.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, queued["body"].as_str().unwrap());
    let (_, text) = app.get(&format!("/leads/{lead}/texts/{text_id}")).await;
    assert_eq!(text["state"], "sent", "{text}");
}

/// The event the score handler emitted when call `call_id` made `lead` hot at `at`, delivered
/// again (an event's id is its tenant, type, subject and time).
fn trigger(lead: &str, call_id: &str, at: chrono::DateTime<chrono::Utc>) -> shared::domain::Event {
    use shared::domain::{CallId, Event, EventData, EventType, ScoreCause, ScoreEvent, Tier};
    Event::new(
        &tenant(),
        EventType::LeadTierChanged,
        &format!("{lead}/call:{call_id}"),
        at,
        EventData::Score(ScoreEvent {
            lead_id: lead_id(lead),
            score: 80,
            tier: Tier::Hot,
            previous_score: Some(30),
            previous_tier: Some(Tier::Warm),
            probability: None,
            model_version: None,
            top_factors: Vec::new(),
            cause: ScoreCause::NewCall {
                call_id: CallId::parse(call_id).unwrap(),
            },
            lead_path: format!("/leads/{lead}"),
        }),
    )
}

#[tokio::test]
async fn a_follow_up_is_not_sent_when_the_rep_texted_the_lead_first() {
    let (_dir, app, twilio) = app_sending().await;
    with_follow_up(&app).await;
    let (lead, queued) = turned_hot(&app).await;
    // GIVEN the rep texted the lead after it turned hot
    let (status, sent) = text(&app, &lead, "Hi Dana, I can come by at 4 today.").await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    // WHEN the follow-up's hour comes
    let text_id = queued["text_id"].as_str().unwrap();
    work_queue(&app, &lead, text_id, chrono::Utc::now()).await;
    // THEN it is cancelled, saying why, and only the rep's text went
    let (_, text) = app.get(&format!("/leads/{lead}/texts/{text_id}")).await;
    assert_eq!(text["state"], "cancelled", "{text}");
    assert!(
        text["problem"]
            .as_str()
            .unwrap()
            .starts_with("not needed: a text at "),
        "{text}"
    );
    assert_eq!(twilio.messages().len(), 1);
    let (_, texts) = app.get(&format!("/leads/{lead}/texts")).await;
    let states: Vec<&str> = texts["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["sent", "cancelled"], "newest first: {texts:#}");
}

#[tokio::test]
async fn a_survey_started_through_the_api_is_texted_to_the_lead_within_the_rules() {
    let (_dir, app, twilio) = app_sending().await;
    let (status, body) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({"surveys": [{"id": "fit", "questions": [
                {"id": "likely", "text": "How likely are you to buy? Reply 1-5",
                 "answers": {"scale": {"min": 1, "max": 5}}}]}]})
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lead = new_lead(&app, LEAD).await;
    // WHEN a rep puts the survey to the lead
    let (status, started) = app
        .send(
            Method::POST,
            &format!("/leads/{lead}/surveys"),
            &json!({"survey": "fit"}).to_string(),
        )
        .await;
    // THEN its first question went to the lead, and the answer says so
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["text"]["state"], "sent", "{started}");
    let messages = twilio.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "How likely are you to buy? Reply 1-5");
    assert_eq!(started["text"]["sid"], messages[0].sid.as_str());
    // ... and a lead who opted out is neither surveyed nor texted
    let other = new_lead(&app, "+15125550148").await;
    consent(&app, &other, "opt_out").await;
    let (status, problem) = app
        .send(
            Method::POST,
            &format!("/leads/{other}/surveys"),
            &json!({"survey": "fit"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "urn:leadscore:problem:opted-out");
    assert_eq!(twilio.messages().len(), 1);
}

#[tokio::test]
async fn a_webhook_follow_up_raises_lead_follow_up_due_once_and_texts_no_one() {
    let (_dir, app, twilio) = app_sending().await;
    let secret = testkit::webhooks::secret();
    let receiver = testkit::webhooks::Receiver::start(&secret).await;
    let subscription =
        json!({"url": receiver.url, "events": ["lead.follow_up_due"], "secret": secret});
    let (status, created) = app
        .send(Method::POST, "/webhooks", &subscription.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    with_follow_ups(
        &app,
        json!([{"id": "hot-alert", "when": "turned_hot", "after_hours": 2, "action": "webhook"}]),
    )
    .await;
    // WHEN a call makes a lead hot, the step waits two hours in its list, sending nothing
    let (lead, queued) = turned_hot(&app).await;
    assert_eq!(
        (&queued["state"], &queued["via"], &queued["body"]),
        (&json!("queued"), &json!("webhook"), &json!("")),
        "{queued}"
    );
    // ... and when the hours pass with no one reaching the lead (each job delivered twice)
    let text_id = queued["text_id"].as_str().unwrap();
    work_queue(&app, &lead, text_id, chrono::Utc::now()).await;
    // THEN the tenant's system hears of it once, signed, and the lead was not texted
    let heard = receiver
        .wait_for(std::time::Duration::from_secs(20), |r| {
            r["type"] == "lead.follow_up_due"
        })
        .await;
    assert_eq!(heard["verified"], true, "{heard}");
    let data = &heard["payload"]["data"];
    assert_eq!(data["lead_id"], lead.as_str());
    assert_eq!(data["follow_up_id"], "hot-alert");
    assert_eq!(data["trigger"], "turned_hot");
    assert_eq!(data["lead_path"], format!("/leads/{lead}"));
    // (The hops queued on the way wait out their delays: nothing to settle; a second copy
    // would have come by now.)
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let deliveries = receiver
        .received()
        .await
        .into_iter()
        .filter(|r| r["type"] == "lead.follow_up_due")
        .count();
    assert_eq!(deliveries, 1);
    assert_eq!(twilio.requests(), 0);
    let (_, step) = app.get(&format!("/leads/{lead}/texts/{text_id}")).await;
    assert_eq!(step["state"], "sent", "{step}");
}
