//! Least privilege, proven: one tour through every path each function has (a transcript and a
//! recording dropped in the bucket, a redelivery after a lost message, failed transcriptions
//! and jobs, the API's reads and writes of leads, rules, settings, secrets, models and
//! uploads, an API key through the authorizer, the audit log and the usage counted, webhook
//! events from every function that makes them, delivered, retried, redelivered and
//! unsubscribed; a CRM connected on its consent screen, pushed to with rotating refresh tokens,
//! synced and disconnected; the hourly sweep; a lead
//! exported and erased), then every grant of the template is held against the calls recorded on the
//! way.
//! A grant no handler used is a grant too many. (Each test also checks the other way when its
//! `Cloud` is dropped: every call it made is granted.)

use serde_json::json;
use shared::keys::transcription_job as job_name;
use shared::ports::Job;

use crate::chain::{call_id, sample, tenant, transcription_completes, wav};
use crate::emulator::Cloud;
use crate::feed;

async fn api(
    cloud: &Cloud,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let (status, answer) = feed::api_with(cloud, method, path, Some("acme"), body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

#[tokio::test]
async fn every_grant_is_used() {
    let hubspot = testkit::hubspot::HubSpot::start("pat-na1-tour").await;
    use crate::texts::{ACCOUNT, NUMBER, TOKEN};
    let twilio = testkit::twilio::Twilio::start(ACCOUNT, TOKEN, &[NUMBER]).await;
    let gong = testkit::gong::Gong::start("KEY", "SECRET", 1).await;
    // Webhooks go to a receiver on this machine, retried after a second.
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.webhook_retry_delays = vec![std::time::Duration::from_secs(1)];
        // The twelve outcomes below train the first model in the score function.
        d.config.retrain_after_outcomes = 12;
        // API Gateway's own address (what Twilio's sample request was signed over), where a
        // CRM's consent screen sends the browser back; the deployment's HubSpot app.
        d.config.public_url = Some("https://abc123.execute-api.us-east-1.amazonaws.com".into());
        feed::hubspot_app(&mut d.config, &hubspot.url);
        d.config.twilio_api_url = twilio.url.clone();
        // The stack's own user pool, whose web client the web app signs in with.
        crate::access::with_web_sign_in(d);
    })
    .await;
    let settings = cloud.app.deployment.clone();
    // The web app asks how to sign people in (the web function reads the stack's parameter).
    crate::access::put_template_sign_in(&cloud).await;
    let (status, sign_in) = feed::api_through(&cloud, "GET", "/app/sign-in.json", None, None).await;
    assert_eq!(status, 200, "{sign_in}");

    // A subscription to every event, so each function that makes one stores and queues it;
    // its receiver turns the first attempt away, so one is retried.
    let secret = testkit::webhooks::secret();
    let receiver = testkit::webhooks::Receiver::start(&secret).await;
    receiver.control(json!({"fail_next": 1})).await;
    let subscription = api(
        &cloud,
        "POST",
        "/webhooks",
        Some(json!({"url": receiver.url, "secret": secret, "events": [
            "lead.created", "lead.score_changed", "lead.tier_changed", "call.scored",
            "call.failed", "lead.opted_out", "model.trained"]})),
    )
    .await;
    let subscription = subscription["subscription_id"].as_str().unwrap().to_owned();

    // A CRM connected on its consent screen (the refresh token into SSM, a full sync and an
    // import queued): every score change on the tour is marked, queued and pushed to the
    // stand-in by the webhooks function. HubSpot rotates refresh tokens and its access tokens
    // last less than the minute before expiry at which a session is made again, so each job
    // refreshes and keeps the new token in SSM. A contact already in HubSpot becomes a lead
    // through the first sync's import.
    hubspot.add_contact(&[("phone", "+15125559001"), ("lifecyclestage", "customer")]);
    hubspot.oauth(|o| {
        o.set_rotation(true);
        o.set_lifetime(Some(std::time::Duration::from_secs(30)));
    });
    let started = api(
        &cloud,
        "POST",
        "/integrations/hubspot/authorize",
        Some(json!({"base_url": hubspot.url, "create_missing": true})),
    )
    .await;
    let (_, status, page) = feed::consent(&cloud, started["authorize_url"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{page}");

    // A transcript dropped without a sidecar (so the optional sidecar read is a 404): taken,
    // and removed from recordings/.
    let transcript = "recordings/acme/20261104T150000Z_+18885550142_+14155550100_inbound.txt";
    feed::upload(
        &cloud,
        transcript,
        &sample("20261104T150000Z_+18885550142_+14155550100_inbound.txt"),
    )
    .await;
    feed::settle(&cloud, 1).await;

    // A recording with its sidecar, transcribed by Amazon Transcribe and analysed; its score
    // job is lost, and so is the record of its delivery: the delivery repeated re-drives it.
    feed::upload(
        &cloud,
        "recordings/acme/call-002.meta.json",
        &sample("call-002.meta.json"),
    )
    .await;
    let recording = feed::upload(&cloud, "recordings/acme/call-002.wav", &wav(2)).await;
    let id = call_id("call-002");
    transcription_completes(&cloud, &id).await;
    feed::pump(
        &cloud,
        &settings.analyze_queue_url,
        1,
        std::time::Duration::from_secs(5),
    )
    .await;
    cloud
        .sqs
        .purge_queue()
        .queue_url(&settings.score_queue_url)
        .send()
        .await
        .unwrap();
    feed::forget_handled_events(&cloud).await;
    feed::ingest(&cloud, &recording).await;
    feed::settle(&cloud, 1).await;
    assert_eq!(
        feed::call(&cloud, &tenant(), &id).await.status,
        shared::domain::CallStatus::Scored
    );

    // A transcription that failed without saying why in its event: the function asks.
    feed::upload(
        &cloud,
        "recordings/acme/call-003.meta.json",
        &sample("call-002.meta.json"),
    )
    .await;
    feed::upload(&cloud, "recordings/acme/call-003.wav", &wav(1)).await;
    let failed = job_name(&tenant(), &call_id("call-003"));
    feed::transcribed(&cloud, &feed::transcribe_event(&failed, "FAILED", None)).await;

    // Jobs that fail for good go to their stage's dead-letter queue.
    cloud
        .sqs
        .send_message()
        .queue_url(&settings.webhook_queue_url)
        .message_body("not a job")
        .send()
        .await
        .unwrap();
    cloud
        .app
        .deps
        .queue
        .send(&Job::Analyze {
            tenant_id: tenant(),
            call_id: call_id("call-003"),
        })
        .await
        .unwrap();
    cloud
        .sqs
        .send_message()
        .queue_url(&settings.score_queue_url)
        .message_body("not a job")
        .send()
        .await
        .unwrap();
    cloud
        .sqs
        .send_message()
        .queue_url(&settings.crm_queue_url)
        .message_body("not a job")
        .send()
        .await
        .unwrap();
    feed::settle(&cloud, 1).await;

    // The API: lists and details, an upload, settings and secrets, rules, outcomes and a model.
    let leads = api(&cloud, "GET", "/leads", None).await;
    let lead_id = leads["leads"][0]["lead_id"].as_str().unwrap().to_owned();
    api(&cloud, "GET", &format!("/leads/{lead_id}"), None).await;
    // A rep's adjustment, scored inside the request (its outbox item deleted once handed on).
    api(
        &cloud,
        "PUT",
        &format!("/leads/{lead_id}/adjustment"),
        Some(json!({"points": -15, "reason": "asked to be called next quarter"})),
    )
    .await;
    api(
        &cloud,
        "POST",
        &format!("/leads/{lead_id}/consent"),
        Some(json!({"action": "opt_out", "source": "asked on a call"})),
    )
    .await;
    // A stored recording, played by a browser from the presigned URL the API signs.
    let link = api(&cloud, "GET", &format!("/calls/{id}/recording"), None).await;
    let played = link["url"].as_str().unwrap();
    cloud.recorder.presigned("GET", played);
    let audio = reqwest::get(played).await.unwrap();
    assert!(audio.status().is_success(), "{}", audio.status());
    assert_eq!(audio.bytes().await.unwrap().as_ref(), wav(2).as_slice());
    let ticket = api(
        &cloud,
        "POST",
        "/calls",
        Some(json!({"caller": "+15125550147", "recording": {"file_name": "r.wav"}})),
    )
    .await;
    let url = ticket["upload_url"].as_str().unwrap();
    cloud.recorder.presigned("PUT", url);
    let put = reqwest::Client::new()
        .put(url)
        .body(wav(1))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    api(
        &cloud,
        "POST",
        "/calls",
        Some(json!({"caller": "+15125550148", "transcript": {"format": "text", "content": "Customer: please call me back about pricing"}})),
    )
    .await;
    api(&cloud, "GET", "/settings", None).await;
    api(
        &cloud,
        "PUT",
        "/settings",
        Some(json!({"tiers": {"hot": 70, "warm": 40}})),
    )
    .await;
    api(
        &cloud,
        "PUT",
        "/settings/twilio",
        Some(json!({"auth_token": "0123456789abcdef0123456789abcdef"})),
    )
    .await;
    api(
        &cloud,
        "POST",
        "/scoring_rules",
        Some(json!({"rule_id": "asked-twice", "criteria": "calls.count >= 2", "weight": 5, "description": "called twice"})),
    )
    .await;
    api(
        &cloud,
        "PUT",
        "/scoring_rules/asked-twice",
        Some(json!({"criteria": "calls.count >= 2", "weight": 8, "description": "called twice"})),
    )
    .await;
    // Twilio's webhook, checked against the tenant's token.
    let (status, _, twiml) = feed::api_event(&cloud, &feed::sample("apigw-twilio-sms.json")).await;
    assert_eq!(status, 200, "{twiml}");
    for i in 0..12 {
        let lead = api(
            &cloud,
            "POST",
            "/leads",
            Some(json!({"phone_number": format!("+1512555{:04}", 2000 + i), "crm": {"channel": if i % 2 == 0 { "referral" } else { "cold" }}})),
        )
        .await;
        let id = lead["lead_id"].as_str().unwrap();
        let outcome = if i % 2 == 0 { "won" } else { "lost" };
        api(
            &cloud,
            "PUT",
            &format!("/leads/{id}/outcome"),
            Some(json!({"outcome": outcome})),
        )
        .await;
    }
    // The outcomes' check runs once their five-second round is over (a delayed message): the
    // score function trains a first model and puts it in force.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    feed::settle(&cloud, 1).await;
    let first = api(&cloud, "GET", "/model", None).await;
    assert_eq!(first["last_challenge"]["promoted"], true, "{first}");
    // A report reads the tenant's leads (the ranked index) and its tier thresholds: the six
    // won above and HubSpot's customer the import brought.
    let conversion = api(&cloud, "GET", "/reports/conversion", None).await;
    assert_eq!(conversion["won"], 7, "{conversion}");
    let trained = api(&cloud, "POST", "/model/train", None).await;
    api(&cloud, "GET", "/model", None).await;
    feed::settle(&cloud, 1).await;
    // The re-score the model started has queued every lead.
    let rescore = api(
        &cloud,
        "GET",
        trained["rescore"]["path"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(rescore["state"], "done", "{rescore}");
    assert!(rescore["leads_queued"].as_u64().unwrap() >= 12, "{rescore}");

    // The hourly sweep, as EventBridge Scheduler sends it: the tenants listed, the tenant's
    // schedule read and written, its decay re-score queued.
    feed::send_sweep(&cloud).await;
    feed::settle(&cloud, 1).await;

    // An API key: made, passed by the authorizer (its use recorded), revoked.
    let key = api(
        &cloud,
        "POST",
        "/api_keys",
        Some(json!({"name": "tour", "role": "viewer"})),
    )
    .await;
    let bearer = format!("Bearer {}", key["token"].as_str().unwrap());
    assert!(
        crate::access::authorize(&cloud, None, Some(&bearer))
            .await
            .is_some()
    );
    let id = key["key_id"].as_str().unwrap();
    api(&cloud, "DELETE", &format!("/api_keys/{id}"), None).await;
    // The lead with the recording (opted out above) is exported, then erased: its items and
    // calls in batches, its recording and transcripts, Transcribe's job; its number's digest
    // kept.
    api(&cloud, "GET", &format!("/leads/{lead_id}/export"), None).await;
    api(&cloud, "DELETE", &format!("/leads/{lead_id}"), None).await;
    feed::settle(&cloud, 1).await;

    // Webhooks: the retry comes due and is taken; a delivery read and redelivered; the
    // subscription deleted with its secret.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    feed::settle(&cloud, 1).await;
    let page = api(
        &cloud,
        "GET",
        &format!("/webhooks/{subscription}/deliveries?limit=100"),
        None,
    )
    .await;
    let deliveries = page["deliveries"].as_array().unwrap();
    assert!(
        deliveries.iter().all(|d| d["state"] == "delivered"),
        "{page:#}"
    );
    let event_id = deliveries[0]["event_id"].as_str().unwrap();
    api(
        &cloud,
        "POST",
        &format!("/webhooks/{subscription}/deliveries/{event_id}/redeliver"),
        None,
    )
    .await;
    feed::settle(&cloud, 1).await;
    api(&cloud, "DELETE", &format!("/webhooks/{subscription}"), None).await;
    // A text asked for in the lead's quiet hours, queued, and sent by the webhooks function
    // when its minute comes.
    crate::texts::queue_a_text_and_send_it_when_its_minute_comes(&cloud, &twilio).await;
    // A call recorded at Twilio, fetched by the webhooks function and heard by Transcribe.
    crate::recordings::take_in_a_twilio_recording(&cloud, &twilio).await;
    // Calls pulled from Gong: connected, pulled by the webhooks function, pulled again by the
    // sweep in the score function, disconnected.
    crate::gong::pull_from_gong(&cloud, &gong).await;
    // Every scored lead on its contact; then a full sync asked for, and the connection
    // deleted with leads still waiting for it (as a sync the API started would leave them).
    assert!(hubspot.stats().batch_inputs >= 2, "{:?}", hubspot.stats());
    api(&cloud, "POST", "/integrations/hubspot/sync", None).await;
    feed::settle(&cloud, 1).await;
    let waiting = cloud
        .app
        .deps
        .leads
        .lead_ids(&tenant(), None, 10)
        .await
        .unwrap();
    cloud
        .app
        .deps
        .crm
        .mark_pending(&tenant(), shared::domain::Crm::Hubspot, &waiting, 1)
        .await
        .unwrap();
    api(&cloud, "DELETE", "/integrations/hubspot", None).await;
    let received = receiver.received().await;
    for event in [
        "lead.created",
        "lead.score_changed",
        "lead.tier_changed",
        "call.scored",
        "call.failed",
        "lead.opted_out",
        "model.trained",
    ] {
        assert!(
            received
                .iter()
                .any(|r| r["type"] == event && r["verified"] == true),
            "no {event} on the tour"
        );
    }

    // What the tour used, counted by every function on the way.
    let usage = api(&cloud, "GET", "/usage", None).await;
    assert!(usage["calls_ingested"].as_u64().unwrap() >= 2, "{usage}");
    assert!(
        usage["webhooks_delivered"].as_u64().unwrap() >= 7,
        "{usage}"
    );
    // Every write above is in the audit log, the last first.
    let log = api(&cloud, "GET", "/audit_log?limit=1", None).await;
    assert_eq!(log["entries"][0]["path"], "/integrations/hubspot");
    assert_eq!(log["entries"][0]["method"], "DELETE");

    let unused = cloud.recorder.unused_grants();
    assert!(
        unused.is_empty(),
        "infra/template.yaml grants what no handler used on the tour; remove it, or add the \
         path that needs it to the tour:\n  {}",
        unused.join("\n  ")
    );
}
