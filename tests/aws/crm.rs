//! CRM sync as AWS runs it: the API function connects HubSpot (the token into SSM), the score
//! function marks each score change and queues a push on the CRM queue, the webhooks function
//! drains that queue (every message delivered twice) and writes the scores to the stand-in's
//! contacts once; HubSpot's signed webhook comes through API Gateway without an authorizer.
//! Every call each function made is held against its policy when the `Cloud` drops.

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use testkit::hubspot::HubSpot;

use crate::emulator::Cloud;
use crate::feed;
use crate::feed::post_call as call;

const TOKEN: &str = "pat-na1-aws-test-token";
const CLIENT_SECRET: &str = "client-secret-of-the-hubspot-app";
const PUBLIC_URL: &str = "https://api.leadscore.example";

async fn api(cloud: &Cloud, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    feed::api_with(cloud, method, path, Some("acme"), body).await
}

/// HubSpot's webhook request as API Gateway hands it over: no authorizer, signed with the
/// app's client secret over the URL HubSpot called (`PUBLIC_URL` and the path).
async fn hubspot_webhook(cloud: &Cloud, events: &Value) -> (u16, String) {
    let path = "/hubspot/acme/events";
    let body = events.to_string();
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(format!("POST{PUBLIC_URL}{path}{body}{timestamp}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let headers = json!({
        "x-hubspot-signature-v3": signature,
        "x-hubspot-request-timestamp": timestamp,
    });
    let (status, _, text) = feed::api_event(cloud, &feed::vendor_post(path, headers, body)).await;
    (status, text)
}

#[tokio::test]
async fn scores_reach_hubspot_through_the_crm_queue_once_each_and_outcomes_come_back() {
    // The stand-in is on this machine: this deployment allows it (the hosted default refuses
    // it, below).
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.public_url = Some(PUBLIC_URL.to_owned());
    })
    .await;
    let hubspot = HubSpot::start(TOKEN).await;
    let existing = hubspot.add_contact(&[("phone", "512-555-0190"), ("lifecyclestage", "lead")]);
    let (status, connection) = api(
        &cloud,
        "PUT",
        "/integrations/hubspot",
        Some(json!({
            "token": TOKEN, "client_secret": CLIENT_SECRET, "base_url": hubspot.url,
            "create_missing": true,
        })),
    )
    .await;
    assert_eq!(status, 200, "{connection}");
    assert!(!connection.to_string().contains(TOKEN));

    // The first sync imports the contact as a lead (every SQS message delivered twice).
    feed::settle(&cloud, 2).await;
    let (_, status) = api(&cloud, "GET", "/integrations/hubspot", None).await;
    assert_eq!(status["counts"]["imported"], 1, "{status:#}");
    // Two calls through the API.
    let transcript = String::from_utf8(crate::chain::sample("call-007.txt")).unwrap();
    let hot = call(&cloud, "+15125550190", &transcript).await;
    let cold = call(
        &cloud,
        "+15125550191",
        "Customer: Not interested, wrong number.",
    )
    .await;
    feed::settle(&cloud, 2).await;

    let contacts = hubspot.contacts();
    for lead in [&hot, &cold] {
        let (_, got) = api(&cloud, "GET", &format!("/leads/{lead}"), None).await;
        let sync = &got["crm_sync"]["hubspot"];
        assert_eq!(sync["state"], "synced", "{got:#}");
        let contact = &contacts[sync["record_id"].as_str().unwrap()];
        assert_eq!(contact["leadscore_score"], got["lead_score"].to_string());
        assert_eq!(
            contact["leadscore_link"],
            format!("{PUBLIC_URL}/leads/{lead}")
        );
    }
    let (_, hot_lead) = api(&cloud, "GET", &format!("/leads/{hot}"), None).await;
    assert_eq!(hot_lead["crm_sync"]["hubspot"]["record_id"], existing);
    assert_eq!(contacts.len(), 2, "matched, not duplicated: {contacts:#?}");
    // Each lead's score written once per change, however often SQS delivered the pushes.
    let stats = hubspot.stats();
    let changes = cloud.recorder.messages_to("crm");
    println!("CRM queue messages: {}; HubSpot: {stats:?}", changes.len());
    assert!(
        stats.batch_inputs <= 4,
        "two leads, two score changes at most each: {stats:?}"
    );
    assert_eq!(stats.rate_limited, 0);
    // The API's full sync and import, and a push per score change at most (the imported
    // lead's first score, then each call's), one more after a push that found more waiting:
    // not a message per attempt or per delivery.
    let pushes = changes.iter().filter(|m| m.contains("crm_push")).count();
    assert!(changes.len() - pushes == 2 && pushes <= 4, "{changes:#?}");

    // The app's webhook: the contact became a customer.
    hubspot.set_property(&existing, "lifecyclestage", "customer");
    let events = json!([{
        "eventId": 7, "subscriptionType": "contact.propertyChange",
        "objectId": existing.parse::<u64>().unwrap(), "propertyName": "lifecyclestage",
        "propertyValue": "customer", "occurredAt": chrono::Utc::now().timestamp_millis()
    }]);
    let (status, answer) = hubspot_webhook(&cloud, &events).await;
    assert_eq!(status, 202, "{answer}");
    feed::settle(&cloud, 2).await;
    let (_, won) = api(&cloud, "GET", &format!("/leads/{hot}"), None).await;
    assert_eq!(won["outcome"]["converted"], true, "{won:#}");

    // The hosted default: a CRM on a private address or over plain http is refused.
    let hosted = Cloud::start().await;
    let (status, refused) = feed::api_with(
        &hosted,
        "PUT",
        "/integrations/hubspot",
        Some("acme"),
        Some(json!({"token": TOKEN, "base_url": hubspot.url})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("base_url"),
        "{refused}"
    );
}

/// Once the first sync's import has run (every message delivered twice): call-007, a hot
/// call, from +15125550190 through the API, worked through; its lead's id, and the lead.
async fn hot_lead_after_the_import(cloud: &Cloud) -> (String, Value) {
    feed::settle(cloud, 2).await;
    let transcript = String::from_utf8(crate::chain::sample("call-007.txt")).unwrap();
    let hot = call(cloud, "+15125550190", &transcript).await;
    feed::settle(cloud, 2).await;
    let (_, lead) = api(cloud, "GET", &format!("/leads/{hot}"), None).await;
    (hot, lead)
}

/// Pipedrive's webhook notification as API Gateway hands it over: no authorizer, the basic
/// credentials leadscore subscribed the webhook with.
async fn pipedrive_webhook(cloud: &Cloud, url: &str, body: &Value, authorization: &str) -> u16 {
    let path = url
        .strip_prefix(PUBLIC_URL)
        .expect("the webhook points at the deployment");
    let headers = json!({"authorization": authorization, "user-agent": "Pipedrive Webhooks"});
    feed::api_event(cloud, &feed::vendor_post(path, headers, body.to_string()))
        .await
        .0
}

#[tokio::test]
async fn scores_reach_pipedrive_and_a_deal_won_there_comes_back_through_api_gateway() {
    use testkit::pipedrive::Pipedrive;
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.public_url = Some(PUBLIC_URL.to_owned());
    })
    .await;
    let pipedrive = Pipedrive::start(TOKEN).await;
    let person = pipedrive.add_person("Robin Ames", &["(512) 555-0190"], &[]);
    let (status, connection) = api(
        &cloud,
        "PUT",
        "/integrations/pipedrive",
        Some(json!({"token": TOKEN, "base_url": pipedrive.url, "create_missing": true})),
    )
    .await;
    assert_eq!(status, 200, "{connection}");
    assert_eq!(connection["hooks"].as_array().unwrap().len(), 2);
    assert_eq!(
        pipedrive.webhooks()[0],
        format!("{PUBLIC_URL}/pipedrive/acme/events")
    );
    let (hot, lead) = hot_lead_after_the_import(&cloud).await;
    assert_eq!(
        lead["crm_sync"]["pipedrive"]["record_id"], person,
        "{lead:#}"
    );
    assert_eq!(
        pipedrive.custom_value(&person, "leadscore score"),
        Some(lead["lead_score"].clone())
    );
    assert_eq!(
        pipedrive.persons().len(),
        1,
        "matched by the import, not created"
    );
    assert_eq!(
        pipedrive.stats().searches,
        0,
        "the import matched it: no search"
    );

    // A rep wins the person's deal: Pipedrive's notification comes through API Gateway.
    let deal = pipedrive.add_deal(&person, 2400.0);
    let notifications = pipedrive.deal_notifications(&deal, "won");
    assert_eq!(notifications.len(), 1);
    let (url, body, authorization) = &notifications[0];
    assert_eq!(
        pipedrive_webhook(&cloud, url, body, authorization).await,
        200
    );
    assert_eq!(
        pipedrive_webhook(&cloud, url, body, "Basic Zm9vOmJhcg==").await,
        401
    );
    feed::settle(&cloud, 2).await;
    let (_, won) = api(&cloud, "GET", &format!("/leads/{hot}"), None).await;
    assert_eq!(won["outcome"]["converted"], true, "{won:#}");
    assert_eq!(won["outcome"]["value"], 2400.0);

    // Disconnecting removes the webhooks from Pipedrive and the token from SSM.
    let (status, _) = api(&cloud, "DELETE", "/integrations/pipedrive", None).await;
    assert_eq!(status, 204);
    assert!(pipedrive.webhooks().is_empty());
}

#[tokio::test]
async fn scores_reach_salesforce_and_the_hourly_sweep_polls_its_changes_back() {
    use testkit::salesforce::Salesforce;
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.public_url = Some(PUBLIC_URL.to_owned());
    })
    .await;
    let org = Salesforce::start("3MVG9.aws", "consumer-secret", "refresh-aws").await;
    org.add_fields("Contact");
    let contact = org.add(
        "Contact",
        &[
            ("LastName", json!("Ames")),
            ("Phone", json!("512.555.0190")),
        ],
    );
    let (status, connection) = api(
        &cloud,
        "PUT",
        "/integrations/salesforce",
        Some(json!({"token": "refresh-aws", "client_id": "3MVG9.aws",
                    "client_secret": "consumer-secret", "base_url": org.url})),
    )
    .await;
    assert_eq!(status, 200, "{connection}");
    assert_eq!(connection["objects"], json!(["Lead", "Contact"]));
    let (hot, lead) = hot_lead_after_the_import(&cloud).await;
    assert_eq!(
        lead["crm_sync"]["salesforce"]["record_id"], contact,
        "{lead:#}"
    );
    assert_eq!(
        org.get(&contact, "LeadScore__c"),
        Some(lead["lead_score"].clone())
    );
    assert_eq!(
        org.stats().searches,
        0,
        "the import matched the contact: no search"
    );

    // A rep wins an opportunity with the contact; the hourly sweep (the score function)
    // queues the poll, which the CRM queue's function works through.
    let deal = org.add(
        "Opportunity",
        &[
            ("StageName", json!("Closed Won")),
            ("Amount", json!(3100.0)),
        ],
    );
    org.add(
        "OpportunityContactRole",
        &[
            ("OpportunityId", json!(deal)),
            ("ContactId", json!(contact)),
        ],
    );
    let before = cloud.recorder.messages_to("crm").len();
    feed::send_sweep(&cloud).await;
    feed::settle(&cloud, 2).await;
    let polls = cloud.recorder.messages_to("crm")[before..]
        .iter()
        .filter(|m| m.contains("crm_poll"))
        .count();
    assert_eq!(polls, 1);
    let (_, won) = api(&cloud, "GET", &format!("/leads/{hot}"), None).await;
    assert_eq!(won["outcome"]["converted"], true, "{won:#}");
    assert_eq!(won["outcome"]["value"], 3100.0);
    let (_, status) = api(&cloud, "GET", "/integrations/salesforce", None).await;
    assert!(
        status["polled_until"].is_string() && status["api_usage"]["limit"] == 15000,
        "{status:#}"
    );
}

#[tokio::test]
async fn hubspot_connects_on_its_consent_screen_and_a_rotated_refresh_token_is_kept_in_ssm() {
    let hubspot = HubSpot::start("pat-unused").await;
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.public_url = Some(PUBLIC_URL.to_owned());
        feed::hubspot_app(&mut d.config, &hubspot.url);
    })
    .await;
    hubspot.add_contact(&[("phone", "512-555-0190"), ("lifecyclestage", "lead")]);
    let (status, started) = api(
        &cloud,
        "POST",
        "/integrations/hubspot/authorize",
        Some(json!({"base_url": hubspot.url, "create_missing": true})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    // The admin allows leadscore; HubSpot sends the browser back through API Gateway.
    let (location, status, page) =
        feed::consent(&cloud, started["authorize_url"].as_str().unwrap()).await;
    assert!(
        location.starts_with(&format!("{PUBLIC_URL}/oauth/callback?")),
        "{location}"
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("HubSpot is connected"), "{page}");
    // Replayed, it finds nothing.
    let (status, _, _) = feed::api_event(&cloud, &feed::browser_get(&location)).await;
    assert_eq!(status, 400);

    // WHEN HubSpot rotates refresh tokens, the access token lapses, and a call comes in
    hubspot.oauth(|o| {
        o.set_rotation(true);
        o.expire_all();
    });
    let (hot, lead) = hot_lead_after_the_import(&cloud).await;
    // THEN the webhooks function refreshed once, kept the new refresh token in SSM (its
    // policy allows the put), and the score is on the contact
    assert_eq!(lead["crm_sync"]["hubspot"]["state"], "synced", "{lead:#}");
    let contact = &hubspot.contacts()[lead["crm_sync"]["hubspot"]["record_id"].as_str().unwrap()];
    assert_eq!(contact["leadscore_score"], lead["lead_score"].to_string());
    let stats = hubspot.oauth(|o| o.stats.clone());
    assert_eq!((stats.codes_traded, stats.refused), (1, 0), "{stats:?}");
    assert!(stats.refreshes >= 1, "{stats:?}");
    let kept = hubspot.oauth(|o| o.refresh_tokens());
    let stored = cloud
        .app
        .deps
        .secrets
        .get_secret(
            &shared::domain::TenantId::parse("acme").unwrap(),
            &shared::ports::SecretName::parse("crm-hubspot").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.contains(&kept[0]),
        "the rotated refresh token is the one kept"
    );
    // The next lapse signs in with the kept token.
    hubspot.oauth(|o| o.expire_all());
    let (status, _) = api(
        &cloud,
        "PUT",
        &format!("/leads/{hot}/adjustment"),
        Some(json!({"points": -40, "reason": "duplicate of another lead"})),
    )
    .await;
    assert_eq!(status, 200);
    feed::settle(&cloud, 2).await;
    let (_, adjusted) = api(&cloud, "GET", &format!("/leads/{hot}"), None).await;
    assert_eq!(
        adjusted["crm_sync"]["hubspot"]["state"], "synced",
        "{adjusted:#}"
    );
    assert_eq!(hubspot.oauth(|o| o.stats.refused), 0);
}
