//! Texting on AWS: Twilio's webhook through API Gateway to the API function, the SMS log in
//! DynamoDB, and the score function re-scoring the lead from the score queue.

use base64::Engine;
use serde_json::{Value, json};
use shared::domain::{PhoneNumber, TenantId};
use shared::sms::twilio::{self, Algorithm};

use crate::emulator::Cloud;
use crate::feed;

/// The token `events/apigw-twilio-sms.json` is signed with.
pub(crate) const TOKEN: &str = "0123456789abcdef0123456789abcdef";
/// The account the Twilio stand-ins hold, and the tenant's number in it.
pub(crate) const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const NUMBER: &str = "+15125550100";
const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";
/// The sender in the captured webhook.
const LEAD: &str = "+19253920364";

/// The sample webhook event with another message id and text, signed for its URL.
fn webhook(sid: &str, text: &str) -> Value {
    let mut event = feed::sample("apigw-twilio-sms.json");
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = b64.decode(event["body"].as_str().unwrap()).unwrap();
    let params: Vec<(String, String)> = twilio::parse_form(&body)
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "MessageSid" | "SmsSid" | "SmsMessageSid" => (k, sid.to_owned()),
            "Body" => (k, text.to_owned()),
            _ => (k, v),
        })
        .collect();
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    event["body"] = b64.encode(form.finish()).into();
    let url = format!("https://{HOST}/twilio/acme/sms");
    event["headers"]["x-twilio-signature"] =
        twilio::signature(Algorithm::HmacSha1, TOKEN, &url, &params).into();
    event
}

/// The emulator, with tenant acme's Twilio auth token saved through the API.
async fn cloud_with_token() -> Cloud {
    let cloud = Cloud::start().await;
    let (status, body) = feed::api_with(
        &cloud,
        "PUT",
        "/settings/twilio",
        Some("acme"),
        Some(json!({"auth_token": TOKEN})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.to_string().contains(TOKEN),
        "the token is never shown again: {body}"
    );
    cloud
}

/// The token lives in SSM Parameter Store as a SecureString under the stack's prefix, and
/// nowhere in the bucket.
#[tokio::test]
async fn a_tenants_twilio_token_is_a_secure_parameter_and_not_an_object() {
    let cloud = cloud_with_token().await;
    let ssm = shared_aws::Ssm::new(&cloud.emulator.sdk().await);
    let parameter = ssm
        .get_parameter("/leadscore/tenants/acme/twilio", true)
        .await
        .unwrap()
        .expect("the token's parameter");
    assert_eq!(parameter.kind, "SecureString");
    assert!(
        parameter.value.contains(TOKEN),
        "decrypted, the parameter holds the token"
    );
    for (key, bytes) in crate::feed::every_object(&cloud).await {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "the token is in {key}"
        );
    }
}

async fn lead(cloud: &Cloud) -> shared::domain::Lead {
    cloud
        .app
        .deps
        .leads
        .find_lead_by_phone(
            &TenantId::parse("acme").unwrap(),
            &PhoneNumber::parse(LEAD).unwrap(),
        )
        .await
        .unwrap()
        .expect("the texter is a lead")
}

#[tokio::test]
async fn a_signed_reply_through_api_gateway_rescores_its_lead_once() {
    let cloud = cloud_with_token().await;

    // The sample event as API Gateway delivers it (no JWT: Twilio signs instead), twice.
    let event = feed::sample("apigw-twilio-sms.json");
    for _ in 0..2 {
        let (status, headers, twiml) = feed::api_event(&cloud, &event).await;
        assert_eq!(status, 200, "{twiml}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/xml")
        );
        assert!(twiml.ends_with("<Response></Response>"), "{twiml}");
    }
    // A forged copy: same signature, another text.
    let mut forged = event.clone();
    forged["body"] = webhook("SM1521fa559fb923c1ed64f56cd1bed8ef", "send $1000")["body"].clone();
    let (status, _, text) = feed::api_event(&cloud, &forged).await;
    assert_eq!(status, 403, "{text}");

    feed::settle(&cloud, 1).await;
    let scored = lead(&cloud).await;
    assert_eq!(scored.source.as_deref(), Some("sms"));
    let sms = scored.sms.as_ref().unwrap();
    assert_eq!(sms.replies, 1, "the replay counted once");
    assert_eq!(
        sms.last_reply.as_deref(),
        Some("Yes! Please call me tomorrow at 3pm")
    );
    let call_me = scored
        .factors
        .iter()
        .find(|f| f.rule_id.as_str() == "default-sms-call-me")
        .expect("scored on the reply");
    assert!(call_me.points > 20.0, "{call_me:?}");
    let score = scored.lead_score.unwrap();
    let events = cloud
        .app
        .deps
        .sms
        .sms_events(&scored.tenant_id, &scored.lead_id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");

    // STOP: opted out, SMS points gone, the lead and its log kept.
    let (status, _, _) = feed::api_event(&cloud, &webhook("SM2", "STOP")).await;
    assert_eq!(status, 200);
    feed::settle(&cloud, 1).await;
    let stopped = lead(&cloud).await;
    assert!(stopped.sms.as_ref().unwrap().opted_out);
    assert!(
        stopped.lead_score.unwrap() < score,
        "{score} -> {:?}",
        stopped.lead_score
    );
    let (status, consent) = feed::api(
        &cloud,
        "GET",
        &format!("/leads/{}/consent", stopped.lead_id),
        Some("acme"),
    )
    .await;
    assert_eq!(status, 200, "{consent}");
    assert_eq!(consent["ledger"][0]["action"], "opt_out");
    assert_eq!(consent["ledger"][0]["message_sid"], "SM2");
}

#[tokio::test]
async fn a_tracked_link_redirects_through_api_gateway_and_counts_its_click() {
    let cloud = cloud_with_token().await;
    feed::api_event(&cloud, &webhook("SM1", "How much is it?")).await;
    let id = lead(&cloud).await.lead_id;
    let (status, link) = feed::api_with(
        &cloud,
        "POST",
        &format!("/leads/{id}/links"),
        Some("acme"),
        Some(json!({"url": "https://acme.test/pricing"})),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    let mut click = feed::sample("apigw-get-leads.json");
    let path = link["short_path"].as_str().unwrap();
    click["rawPath"] = path.into();
    click["rawQueryString"] = "".into();
    click["requestContext"]["http"]["path"] = path.into();
    click["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, headers, _) = feed::api_event(&cloud, &click).await;
    assert_eq!(status, 302);
    assert_eq!(headers["location"], "https://acme.test/pricing");
    feed::settle(&cloud, 1).await;
    let clicked = lead(&cloud).await;
    assert_eq!(clicked.sms.unwrap().pricing_clicks, 1);
    assert!(
        clicked
            .factors
            .iter()
            .any(|f| f.rule_id.as_str() == "default-sms-pricing-click")
    );
}

/// A text sent through the API function to Twilio (a stand-in on a real socket): what the
/// function reads and writes on AWS is held to its policy, and an opted-out lead is refused
/// without a request to Twilio.
#[tokio::test]
async fn a_text_is_sent_through_the_api_function_and_an_opted_out_lead_is_refused() {
    let (stand_in, cloud) = sending_cloud().await;
    let call = |method: &'static str, path: String, body: Value| acme(&cloud, method, path, body);
    let id = ready_to_text(
        &cloud,
        json!({"from": NUMBER, "window": {"start_hour": 0, "end_hour": 24}}),
        LEAD,
    )
    .await;

    let (status, sent) = call(
        "POST",
        format!("/leads/{id}/texts"),
        json!({"body": "Your quote is ready."}),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let messages = stand_in.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(sent["event_id"], format!("msg:{}", messages[0].sid));
    let logged = cloud
        .app
        .deps
        .sms
        .sms_events(
            &TenantId::parse("acme").unwrap(),
            &shared::domain::LeadId::parse(&id).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(logged.len(), 1, "logged in DynamoDB: {logged:?}");

    let (status, body) = call(
        "POST",
        format!("/leads/{id}/consent"),
        json!({"action": "opt_out", "source": "phone call"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, problem) = call(
        "POST",
        format!("/leads/{id}/texts"),
        json!({"body": "One more thing"}),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:leadscore:problem:opted-out");
    assert_eq!(
        stand_in.requests(),
        1,
        "the refused text never reached Twilio"
    );
}

/// A text asked for in the lead's quiet hours, queued by the API function on the webhook
/// queue, hops on in the webhooks function while its minute is ahead, and is sent there once
/// when it comes, every message delivered twice.
#[tokio::test]
async fn a_text_queued_for_the_leads_morning_is_sent_once_by_the_webhooks_function() {
    let (stand_in, cloud) = sending_cloud().await;
    queue_a_text_and_send_it_when_its_minute_comes(&cloud, &stand_in).await;
}

/// A Twilio stand-in, and the emulator sending to it.
async fn sending_cloud() -> (testkit::twilio::Twilio, Cloud) {
    let stand_in = testkit::twilio::Twilio::start(ACCOUNT, TOKEN, &[NUMBER]).await;
    let cloud = Cloud::start_with(|d| {
        // The stand-in listens on 127.0.0.1, which outbound requests otherwise refuse.
        d.config.allow_private_webhook_targets = true;
        d.config.twilio_api_url = stand_in.url.clone();
    })
    .await;
    (stand_in, cloud)
}

/// Tenant acme's request through API Gateway to the API function.
async fn acme(cloud: &Cloud, method: &'static str, path: String, body: Value) -> (u16, Value) {
    feed::api_with(cloud, method, &path, Some("acme"), Some(body)).await
}

/// Tenant acme connects the stand-ins' account, sets `texting`, and makes a lead of `phone`:
/// its id.
async fn ready_to_text(cloud: &Cloud, texting: Value, phone: &str) -> String {
    let (status, body) = acme(
        cloud,
        "PUT",
        "/settings/twilio".into(),
        json!({"auth_token": TOKEN, "account_sid": ACCOUNT}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = acme(
        cloud,
        "PATCH",
        "/settings".into(),
        json!({ "texting": texting }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, lead) = acme(
        cloud,
        "POST",
        "/leads".into(),
        json!({"phone_number": phone}),
    )
    .await;
    assert_eq!(status, 201, "{lead}");
    lead["lead_id"].as_str().unwrap().to_owned()
}

/// Tenant acme connects `stand_in`'s account, queues a text to a new lead in its quiet hours
/// through the API function, and the webhooks function hops it on, then sends it once.
pub(crate) async fn queue_a_text_and_send_it_when_its_minute_comes(
    cloud: &Cloud,
    stand_in: &testkit::twilio::Twilio,
) {
    use shared::domain::{LeadId, TextState};
    // Walnut Creek, California: Pacific time, from its area code.
    const LEAD: &str = "+19255550142";
    let call = |method: &'static str, path: String, body: Value| acme(cloud, method, path, body);
    let start = testkit::twilio::closed_window_start(chrono_tz::America::Los_Angeles);
    let id = ready_to_text(
        cloud,
        json!({"from": NUMBER, "in_quiet_hours": "queue",
               "window": {"start_hour": start, "end_hour": start + 1}}),
        LEAD,
    )
    .await;
    let before = cloud.recorder.messages_to("webhooks").len();

    // WHEN the text is asked for through API Gateway
    let (status, queued) = call(
        "POST",
        format!("/leads/{id}/texts"),
        json!({"body": "Good morning! Still keen?"}),
    )
    .await;
    // THEN it is queued, its first hop on the webhook queue, and nothing went to Twilio
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["state"], "queued");
    let text_id = queued["text_id"].as_str().unwrap().to_owned();
    // The text's jobs among what was sent to the webhook queue since `from`.
    let text_jobs = |from: usize| -> Vec<shared::ports::Job> {
        cloud.recorder.messages_to("webhooks")[from..]
            .iter()
            .filter_map(|m| serde_json::from_str(m).ok())
            .filter(
                |j| matches!(j, shared::ports::Job::SendText { text_id: t, .. } if *t == text_id),
            )
            .collect()
    };
    let sent = text_jobs(before);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let job = sent[0].clone();
    assert!(
        matches!(&job, shared::ports::Job::SendText { hop: 0, .. }),
        "{job:?}"
    );
    assert_eq!(stand_in.requests(), 0);

    // WHEN the hop's job comes while the minute is still ahead (twice)
    let send_job = |job: &shared::ports::Job| {
        let body = serde_json::to_string(job).unwrap();
        async move {
            cloud
                .sqs
                .send_message()
                .queue_url(&cloud.env["WEBHOOK_QUEUE_URL"])
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    };
    send_job(&job).await;
    let before = cloud.recorder.messages_to("webhooks").len();
    feed::settle(cloud, 2).await;
    // THEN the webhooks function sent the next hop once, delayed, and recorded it
    let hops = text_jobs(before);
    assert_eq!(
        hops.len(),
        1,
        "a copy of a hop's job dies at its hop: {hops:?}"
    );
    let (tenant, lead_id) = (
        TenantId::parse("acme").unwrap(),
        LeadId::parse(&id).unwrap(),
    );
    let store = &cloud.app.deps.sms;
    let mut text = store
        .get_text(&tenant, &lead_id, &text_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((text.state, text.hop), (TextState::Queued, 1));

    // WHEN the minute has come (as if the clock moved on: the minute is past, the window
    // open) and hop 1's job comes, twice
    text.send_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    store.put_text(&text).await.unwrap();
    let (status, body) = call(
        "PATCH",
        "/settings".into(),
        json!({"texting": {"from": NUMBER, "in_quiet_hours": "queue",
                           "window": {"start_hour": 0, "end_hour": 24}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    send_job(&hops[0]).await;
    feed::settle(cloud, 2).await;

    // THEN the text went to Twilio once, and the lead's log in DynamoDB has it
    let messages = stand_in.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, LEAD);
    let text = store
        .get_text(&tenant, &lead_id, &text_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text.state, TextState::Sent);
    assert_eq!(text.sid.as_deref(), Some(messages[0].sid.as_str()));
    let logged = store.sms_events(&tenant, &lead_id).await.unwrap();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].event_id, format!("msg:{}", messages[0].sid));
}

/// A lead turning hot in the score function starts the tenant's follow-up once, however often
/// SQS delivers the score job: one queued text, one job on the webhook queue.
#[tokio::test]
async fn a_lead_turning_hot_in_the_score_function_queues_one_follow_up() {
    let cloud = Cloud::start().await;
    let (status, body) = feed::api_with(
        &cloud,
        "PATCH",
        "/settings",
        Some("acme"),
        Some(json!({
            // Any scored lead is hot.
            "tiers": {"hot": 2, "warm": 1},
            "follow_ups": [{"id": "hot-no-touch", "when": "turned_hot", "after_hours": 2,
                            "text": "Hi {first_name}, would a call today help?"}]
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = cloud.recorder.messages_to("webhooks").len();
    let lead = feed::post_call(
        &cloud,
        "+15125550170",
        "Caller: I need a quote for a new roof this week.",
    )
    .await;
    // Every message delivered twice.
    feed::settle(&cloud, 2).await;
    let (tenant, lead_id) = (
        TenantId::parse("acme").unwrap(),
        shared::domain::LeadId::parse(&lead).unwrap(),
    );
    let texts = cloud
        .app
        .deps
        .sms
        .texts_for_lead(&tenant, &lead_id)
        .await
        .unwrap();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let text = &texts[0];
    assert_eq!(text.origin.as_deref(), Some("follow-up:hot-no-touch"));
    assert_eq!(text.state, shared::domain::TextState::Queued);
    assert_eq!(text.body, "Hi there, would a call today help?");
    let jobs: Vec<String> = cloud.recorder.messages_to("webhooks")[before..]
        .iter()
        .filter(|m| m.contains("send_text"))
        .cloned()
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
}

/// A lead who texts "call me tomorrow at 3pm" (the captured webhook), delivered by Twilio
/// twice, gets one call task in HubSpot, made by the webhooks function from the webhook
/// queue (every SQS message delivered twice), for the contact's owner, due 15:00 in the lead's
/// zone (a 925 number: Los Angeles); the lead's log notes it.
#[tokio::test]
async fn a_lead_asking_for_a_call_gets_one_hubspot_task_through_the_webhooks_function() {
    use chrono::TimeZone;
    let hubspot = testkit::hubspot::HubSpot::start("pat-na1-aws-task").await;
    let contact = hubspot.add_contact(&[("phone", LEAD), ("hubspot_owner_id", "77")]);
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        // API Gateway's own address, which the captured request was signed over.
        d.config.public_url = Some(format!("https://{HOST}"));
    })
    .await;
    for (method, path, body) in [
        ("PUT", "/settings/twilio", json!({"auth_token": TOKEN})),
        (
            "PUT",
            "/integrations/hubspot",
            json!({"token": "pat-na1-aws-task", "base_url": hubspot.url}),
        ),
        (
            "PATCH",
            "/settings",
            json!({"follow_ups": [{"id": "call-back", "when": "asked_for_a_call",
                                   "action": "crm_task", "text": "Call {first_name} back"}]}),
        ),
    ] {
        let (status, answer) = acme(&cloud, method, path.into(), body).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
    }
    feed::settle(&cloud, 2).await;
    let before = cloud.recorder.messages_to("webhooks").len();
    let event = feed::sample("apigw-twilio-sms.json");
    for _ in 0..2 {
        let (status, _, twiml) = feed::api_event(&cloud, &event).await;
        assert_eq!(status, 200, "{twiml}");
    }
    feed::settle(&cloud, 2).await;

    let tasks = hubspot.tasks();
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let (task_id, (properties, contacts)) = tasks.into_iter().next().unwrap();
    assert_eq!(contacts, [contact]);
    assert_eq!(properties["hubspot_owner_id"], "77");
    assert_eq!(properties["hs_task_subject"], "Call the lead back");
    let zone = chrono_tz::America::Los_Angeles;
    let asked = lead(&cloud).await;
    let logged = cloud
        .app
        .deps
        .sms
        .sms_events(&asked.tenant_id, &asked.lead_id)
        .await
        .unwrap();
    let message_at = logged[0].at.with_timezone(&zone);
    let due = zone
        .from_local_datetime(
            &(message_at.date_naive() + chrono::Days::new(1))
                .and_hms_opt(15, 0, 0)
                .unwrap(),
        )
        .unwrap()
        .with_timezone(&chrono::Utc);
    let at: chrono::DateTime<chrono::Utc> = properties["hs_timestamp"].parse().unwrap();
    assert_eq!(at, due);
    let noted: Vec<_> = logged
        .iter()
        .filter(|e| matches!(&e.kind, shared::domain::SmsEventKind::TaskCreated { task_id: t, .. } if *t == task_id))
        .collect();
    assert_eq!(noted.len(), 1, "{logged:#?}");
    // One step, one job for it on the webhook queue, however often the text came.
    let texts = cloud
        .app
        .deps
        .sms
        .texts_for_lead(&asked.tenant_id, &asked.lead_id)
        .await
        .unwrap();
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert_eq!(texts[0].state, shared::domain::TextState::Sent);
    let jobs = cloud.recorder.messages_to("webhooks")[before..]
        .iter()
        .filter(|m| m.contains("send_text"))
        .count();
    assert_eq!(jobs, 1);
}
