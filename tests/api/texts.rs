//! Texting over the real socket: Twilio's signed webhooks, consent, intents, reply speed,
//! tracked links and surveys, each moving the lead's score on the embedded store.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::sms::twilio::{self, Algorithm};

use crate::helpers::{TestApp, fixture, spawn_app};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
pub(crate) const LEAD: &str = "+15125550147";

pub(crate) async fn app_with_twilio() -> (tempfile::TempDir, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (status, body) = app
        .send(
            Method::PUT,
            "/settings/twilio",
            &json!({"auth_token": TOKEN}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["auth_token"], "saved",
        "the token is not echoed: {body}"
    );
    (dir, app)
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn form(params: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

impl TestApp {
    /// POST a Twilio webhook, signed as Twilio signs it unless `signature` says otherwise.
    async fn twilio(
        &self,
        hook: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> (StatusCode, String) {
        let path = format!("/twilio/default/{hook}");
        let signed = twilio::signature(Algorithm::HmacSha1, TOKEN, &self.url(&path), params);
        let mut req = self
            .client
            .post(self.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(params));
        match signature {
            Some("") => {}
            Some(s) => req = req.header("X-Twilio-Signature", s),
            None => req = req.header("X-Twilio-Signature", signed),
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    pub(crate) async fn text_in(&self, sid: &str, from: &str, body: &str) -> String {
        let (status, twiml) = self
            .twilio(
                "sms",
                &params(&[
                    ("MessageSid", sid),
                    ("AccountSid", "AC00000000000000000000000000000000"),
                    ("From", from),
                    ("To", "+15125550100"),
                    ("Body", body),
                    ("NumMedia", "0"),
                ]),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{twiml}");
        assert!(
            twiml.starts_with("<?xml") && twiml.ends_with("</Response>"),
            "{twiml}"
        );
        twiml
    }

    async fn lead(&self, phone: &str) -> Value {
        let (_, leads) = self.get("/leads").await;
        let id = crate::helpers::lead_by_phone(&leads, phone)
            .unwrap_or_else(|| panic!("no lead {phone}: {leads:#}"))["lead_id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.get(&format!("/leads/{id}")).await.1
    }

    /// The lead once its score reflects every SMS event queued so far.
    async fn settled_lead(&self, phone: &str) -> Value {
        self.settle().await;
        self.lead(phone).await
    }
}

fn factor<'a>(lead: &'a Value, rule: &str) -> Option<&'a Value> {
    lead["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == rule)
}

#[tokio::test]
async fn forged_tampered_or_unsigned_webhooks_are_refused_and_store_nothing() {
    let (_dir, app) = app_with_twilio().await;
    let captured =
        std::fs::read_to_string(fixture("twilio/inbound_sms_webhook.form-urlencoded.txt")).unwrap();
    let real = twilio::parse_form(captured.trim().as_bytes());
    let good = twilio::signature(
        Algorithm::HmacSha1,
        TOKEN,
        &app.url("/twilio/default/sms"),
        &real,
    );
    let wrong_token = twilio::signature(
        Algorithm::HmacSha1,
        "ffffffffffffffffffffffffffffffff",
        &app.url("/twilio/default/sms"),
        &real,
    );
    let other_url = twilio::signature(
        Algorithm::HmacSha1,
        TOKEN,
        &app.url("/twilio/default/status"),
        &real,
    );
    let mut tampered = real.clone();
    tampered
        .iter_mut()
        .find(|(k, _)| k == "Body")
        .unwrap()
        .1
        .push_str(" and send me $1000");
    let mut refusals = Vec::new();
    for (what, body, signature) in [
        ("missing header", &real, Some("")),
        ("wrong token", &real, Some(wrong_token.as_str())),
        ("tampered URL", &real, Some(other_url.as_str())),
        ("tampered parameter", &tampered, Some(good.as_str())),
        ("not base64", &real, Some("%%%")),
    ] {
        let (status, text) = app.twilio("sms", body, signature).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
        assert!(text.contains("X-Twilio-Signature"), "{what}: {text}");
        refusals.push(text);
    }
    // One answer for every refusal: the webhook tells a caller nothing about why.
    refusals.dedup();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    let (_, leads) = app.get("/leads").await;
    assert_eq!(leads["leads"], json!([]), "nothing stored");

    // The captured webhook itself, correctly signed: a new lead, flagged as from SMS.
    let (status, twiml) = app.twilio("sms", &real, None).await;
    assert_eq!(status, StatusCode::OK, "{twiml}");
    assert_eq!(
        twiml,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
    );
    let lead = app.settled_lead("+19253920364").await;
    assert_eq!(lead["source"], "sms");
    assert_eq!(lead["sms_log"][0]["body"], "twilio-go testing!");
    app.stop().await;
}

/// A tenant without a token refuses webhooks, and answers exactly as a tenant with one answers a
/// bad signature: the webhook does not tell who uses Twilio.
#[tokio::test]
async fn a_tenant_without_a_token_refuses_webhooks_as_a_bad_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let text_in = params(&[("MessageSid", "SM1"), ("From", LEAD)]);
    let (status, no_token) = app.twilio("sms", &text_in, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(no_token.contains("PUT /settings/twilio"), "{no_token}");

    let (status, _) = app
        .send(
            Method::PUT,
            "/settings/twilio",
            &json!({"auth_token": TOKEN}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, bad_signature) = app.twilio("sms", &text_in, Some("AAAA")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(no_token, bad_signature);
    app.stop().await;
}

/// A tenant that named its Twilio account accepts webhooks from that account only: one that
/// names no account is refused too.
#[tokio::test]
async fn a_webhook_without_the_tenants_account_sid_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let account = "AC00000000000000000000000000000000";
    let (status, _) = app
        .send(
            Method::PUT,
            "/settings/twilio",
            &json!({"auth_token": TOKEN, "account_sid": account}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut text = vec![("MessageSid", "SM1"), ("From", LEAD), ("Body", "hi")];
    let (status, refused) = app.twilio("sms", &params(&text), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused.contains("AccountSid: missing"), "{refused}");
    text.push(("AccountSid", account));
    let (status, twiml) = app.twilio("sms", &params(&text), None).await;
    assert_eq!(status, StatusCode::OK, "{twiml}");
    let (_, leads) = app.get("/leads").await;
    assert_eq!(leads["leads"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_quick_call_me_reply_raises_the_score_with_the_reply_as_evidence_once() {
    let (_dir, app) = app_with_twilio().await;
    let (status, lead) = app
        .send(
            Method::POST,
            "/leads",
            &json!({"phone_number": LEAD, "first_name": "Rosa"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    let id = lead["lead_id"].as_str().unwrap().to_owned();
    let sent_at = (chrono::Utc::now() - chrono::Duration::minutes(3)).to_rfc3339();
    let (status, logged) = app
        .send(
            Method::POST,
            &format!("/leads/{id}/messages"),
            &json!({"body": "Hi Rosa, Acme Solar here. Still want that quote?", "sent_at": sent_at})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{logged}");
    let before = app.settled_lead(LEAD).await["lead_score"]
        .as_u64()
        .unwrap_or(0);

    app.text_in("SM100", LEAD, "Yes! Please call me tomorrow at 3pm")
        .await;
    let lead = app.settled_lead(LEAD).await;
    let after = lead["lead_score"].as_u64().unwrap();
    assert!(
        after >= before + 25,
        "{before} -> {after}: {:#}",
        lead["factors"]
    );
    let call_me = factor(&lead, "default-sms-call-me").expect("the call-me rule fired");
    assert_eq!(call_me["evidence"][0]["kind"], "sms");
    assert_eq!(
        call_me["evidence"][0]["text"],
        "Yes! Please call me tomorrow at 3pm (proposed: tomorrow at 3pm)"
    );
    assert_eq!(call_me["evidence"][0]["message_sid"], "SM100");
    assert!(
        factor(&lead, "default-sms-fast-reply").is_some(),
        "replied within 5 min"
    );
    let sms = &lead["sms"];
    assert_eq!(sms["replies"], 1);
    assert_eq!(sms["sent"], 1);
    let minutes = sms["reply_minutes"].as_f64().unwrap();
    assert!((2.9..4.0).contains(&minutes), "{minutes}");
    let ledger = lead["score_history"].as_array().unwrap().len();

    // Twilio retries: the same MessageSid counts once, and the score does not move again.
    app.text_in("SM100", LEAD, "Yes! Please call me tomorrow at 3pm")
        .await;
    let again = app.settled_lead(LEAD).await;
    assert_eq!(again["sms"]["replies"], 1);
    assert_eq!(again["lead_score"], lead["lead_score"]);
    assert_eq!(again["score_history"].as_array().unwrap().len(), ledger);
    assert_eq!(again["sms_log"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn stop_opts_out_keeps_the_lead_and_its_ledger_and_removes_sms_points() {
    let (_dir, app) = app_with_twilio().await;
    app.text_in("SM1", LEAD, "START").await;
    app.text_in("SM2", LEAD, "I'm interested, how much is it?")
        .await;
    let engaged = app.settled_lead(LEAD).await;
    assert!(factor(&engaged, "default-sms-opt-in").is_some());
    assert!(factor(&engaged, "default-sms-pricing").is_some());

    let twiml = app.text_in("SM3", LEAD, "  Stop ").await;
    assert!(!twiml.contains("<Message>"), "no reply to STOP: {twiml}");
    let lead = app.settled_lead(LEAD).await;
    assert_eq!(lead["sms"]["opted_out"], true);
    let sms_points: f64 = lead["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("default-sms-"))
        .map(|f| f["points"].as_f64().unwrap())
        .filter(|p| *p > 0.0)
        .sum();
    assert_eq!(sms_points, 0.0, "{:#}", lead["factors"]);
    assert!(
        lead["lead_score"].as_u64() < engaged["lead_score"].as_u64(),
        "{} -> {}",
        engaged["lead_score"],
        lead["lead_score"]
    );

    // The list marks the lead too.
    let (_, leads) = app.get("/leads").await;
    let listed = crate::helpers::lead_by_phone(&leads, LEAD).unwrap();
    assert_eq!(listed["sms"]["opted_out"], true);

    let id = lead["lead_id"].as_str().unwrap();
    let (status, consent) = app.get(&format!("/leads/{id}/consent")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(consent["opted_out"], true);
    let ledger: Vec<(String, String, String)> = consent["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["evidence"].as_str().unwrap().to_owned(),
                e["message_sid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ledger,
        [
            ("opt_in".into(), "START".into(), "SM1".into()),
            ("opt_out".into(), "STOP".into(), "SM3".into())
        ]
    );

    // Consent given on a web form, recorded through the API (with a retry).
    for _ in 0..2 {
        let resp = app
            .client
            .post(app.url(&format!("/leads/{id}/consent")))
            .header("content-type", "application/json")
            .header("Idempotency-Key", "form-42")
            .body(
                json!({"action": "opt_in", "source": "web form /quote", "by": "maya"}).to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let (_, consent) = app.get(&format!("/leads/{id}/consent")).await;
    assert_eq!(consent["ledger"].as_array().unwrap().len(), 3);
    assert_eq!(consent["ledger"][2]["via"], "api");
    assert_eq!(consent["opted_in"], true);
    let (status, bad) = app
        .send(
            Method::POST,
            &format!("/leads/{id}/consent"),
            &json!({"action": "maybe", "source": "x"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    app.stop().await;
}

#[tokio::test]
async fn tracked_links_redirect_count_once_per_window_and_unknown_ones_go_nowhere() {
    let (_dir, app) = app_with_twilio().await;
    app.text_in("SM1", LEAD, "Send me the details").await;
    let id = app.settled_lead(LEAD).await["lead_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, link) = app
        .send(
            Method::POST,
            &format!("/leads/{id}/links"),
            &json!({"url": "https://acme.test/pricing", "label": "pricing"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let short = link["short_path"].as_str().unwrap().to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..3 {
        let resp = browser.get(app.url(&short)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(resp.headers()["location"], "https://acme.test/pricing");
    }
    let lead = app.settled_lead(LEAD).await;
    assert_eq!(lead["sms"]["link_clicks"], 1, "a double tap counts once");
    let click = factor(&lead, "default-sms-pricing-click").expect("pricing click scored");
    assert_eq!(click["evidence"][0]["kind"], "click");

    for bad in ["/r/AAAAAAAAAAAA", "/r/..%2F..%2Fetc", "/r/x"] {
        let resp = browser.get(app.url(bad)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{bad}");
        assert!(resp.headers().get("location").is_none(), "{bad}");
    }
    let (status, bad) = app
        .send(
            Method::POST,
            &format!("/leads/{id}/links"),
            &json!({"url": "javascript:alert(1)"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    app.stop().await;
}

#[tokio::test]
async fn a_survey_by_text_asks_each_question_and_scores_when_complete() {
    let (_dir, app) = app_with_twilio().await;
    let settings = json!({
        "tiers": {"hot": 70, "warm": 40},
        "surveys": [{
            "id": "fit",
            "trigger": "SURVEY",
            "questions": [
                {"id": "likely", "text": "How likely are you to buy? Reply 1-5", "answers": {"scale": {"min": 1, "max": 5}}},
                {"id": "when", "text": "When? Reply NOW or LATER", "answers": {"choices": ["now", "later"]}}
            ],
            "thanks": "Thanks, we'll be in touch!"
        }]
    });
    let (status, body) = app
        .send(Method::PUT, "/settings", &settings.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let q1 = app.text_in("SM1", LEAD, "survey").await;
    assert!(
        q1.contains("<Message>How likely are you to buy? Reply 1-5</Message>"),
        "{q1}"
    );
    let again = app.text_in("SM2", LEAD, "dunno").await;
    assert!(again.contains("Sorry, I didn&apos;t get that."), "{again}");
    let q2 = app.text_in("SM3", LEAD, "5").await;
    assert!(q2.contains("When? Reply NOW or LATER"), "{q2}");
    let thanks = app.text_in("SM4", LEAD, "Now!").await;
    assert!(
        thanks.contains("Thanks, we&apos;ll be in touch!"),
        "{thanks}"
    );

    let lead = app.settled_lead(LEAD).await;
    assert_eq!(lead["sms"]["surveys_completed"], 1);
    assert_eq!(lead["sms"]["survey_score"], 10.0);
    assert!(factor(&lead, "default-sms-survey").is_some());
    let done = lead["sms_log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "survey_completed")
        .expect("a completion event");
    assert_eq!(done["answers"][1]["answer"], "now");
    app.stop().await;
}

#[tokio::test]
async fn status_callbacks_media_long_and_foreign_texts_are_logged_without_double_counting() {
    let (_dir, app) = app_with_twilio().await;
    // A text sent from elsewhere, known only from its callbacks (out of order, and repeated).
    for status in ["delivered", "sent", "delivered"] {
        let (code, twiml) = app
            .twilio(
                "status",
                &params(&[
                    ("MessageSid", "SM9"),
                    ("MessageStatus", status),
                    ("To", LEAD),
                    ("From", "+15125550100"),
                ]),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{twiml}");
    }
    let lead = app.settled_lead(LEAD).await;
    assert_eq!(lead["source"], "sms", "an unknown number becomes a lead");
    assert_eq!(lead["sms"]["sent"], 1);

    // A picture with no words, then 1,600 characters of Cyrillic and emoji.
    let (code, _) = app
        .twilio(
            "sms",
            &params(&[
                ("MessageSid", "MM1"),
                ("From", LEAD),
                ("Body", ""),
                ("NumMedia", "1"),
                ("MediaContentType0", "image/jpeg"),
                ("MediaUrl0", "https://api.twilio.com/media/ME1"),
            ]),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let long: String = "Здравствуйте 👋 ".chars().cycle().take(1600).collect();
    app.text_in("SM10", LEAD, &long).await;
    let lead = app.settled_lead(LEAD).await;
    assert_eq!(lead["sms"]["replies"], 2);
    let log = lead["sms_log"].as_array().unwrap();
    let media = log.iter().find(|e| e["sid"] == "MM1").unwrap();
    assert_eq!(media["media"][0]["content_type"], "image/jpeg");
    let stored = log.iter().find(|e| e["sid"] == "SM10").unwrap();
    assert_eq!(stored["body"].as_str().unwrap().chars().count(), 1600);

    // A webhook without its message id is refused by name.
    let (code, text) = app
        .twilio("sms", &params(&[("From", LEAD), ("Body", "hi")]), None)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(text.contains("MessageSid"), "{text}");
    app.stop().await;
}

/// POST a JSON body with an `Idempotency-Key`: the status, whether it was a replay, the body.
async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    body: Value,
) -> (StatusCode, bool, Value) {
    let resp = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    (status, replayed, resp.json().await.unwrap())
}

/// An idempotency key answers only the request it was first used with: the same key for
/// another lead is another request (an opt-out is never lost to a key collision), and the same
/// key with another body is refused with 422, recording nothing. A real retry gets the first
/// answer again.
#[tokio::test]
async fn idempotency_keys_answer_only_their_own_request() {
    let (_dir, app) = app_with_twilio().await;
    let mut ids = Vec::new();
    for phone in ["+15125550147", "+15125550148"] {
        let (status, lead) = app
            .send(
                Method::POST,
                "/leads",
                &json!({ "phone_number": phone }).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{lead}");
        ids.push(lead["lead_id"].as_str().unwrap().to_owned());
    }
    let (a, b) = (&ids[0], &ids[1]);
    let opt_in = json!({"action": "opt_in", "source": "web form"});
    let opt_out = json!({"action": "opt_out", "source": "phone call"});

    let (status, replayed, first) =
        post_with_key(&app, &format!("/leads/{a}/consent"), "k-1", opt_in.clone()).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{first}");
    // The same key, another lead: its own request, stored.
    let (status, replayed, other) =
        post_with_key(&app, &format!("/leads/{b}/consent"), "k-1", opt_out.clone()).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{other}");
    let (_, ledger_b) = app.get(&format!("/leads/{b}/consent")).await;
    assert_eq!(ledger_b["opted_out"], true, "{ledger_b}");
    // The same key and lead with another body: refused, nothing stored.
    let (status, _, problem) =
        post_with_key(&app, &format!("/leads/{a}/consent"), "k-1", opt_out.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        problem["type"],
        "urn:leadscore:problem:idempotency-key-reused"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("`k-1`"),
        "{problem}"
    );
    let (_, ledger_a) = app.get(&format!("/leads/{a}/consent")).await;
    assert_eq!(
        ledger_a["ledger"].as_array().unwrap().len(),
        1,
        "{ledger_a}"
    );
    assert_eq!(ledger_a["opted_in"], true);
    // A retry of the first request: its first answer, marked as a replay.
    let (status, replayed, again) =
        post_with_key(&app, &format!("/leads/{a}/consent"), "k-1", opt_in).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, true));
    assert_eq!(again, first);

    // A logged message's id is its key the same way.
    let message = |body: &str| json!({"id": "crm-msg-7", "body": body});
    let (status, logged) = app
        .send(
            Method::POST,
            &format!("/leads/{a}/messages"),
            &message("Quote attached").to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{logged}");
    let (status, again) = app
        .send(
            Method::POST,
            &format!("/leads/{a}/messages"),
            &message("Quote attached").to_string(),
        )
        .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &logged));
    for (lead, body) in [(a, "Another text"), (b, "Quote attached")] {
        let (status, problem) = app
            .send(
                Method::POST,
                &format!("/leads/{lead}/messages"),
                &message(body).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    }
    let (_, lead) = app.get(&format!("/leads/{a}")).await;
    assert_eq!(lead["sms"]["sent"], 1, "{:#}", lead["sms"]);
    app.stop().await;
}
