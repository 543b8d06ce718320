//! Webhooks as AWS runs them: events stored and queued by the functions that make them, the
//! webhook queue drained by the webhooks function with every message delivered twice (SQS's
//! at-least-once), retries as delayed messages, and the receiver (verifying with the Standard
//! Webhooks reference library) getting each event once. And the hosted path's refusal of
//! targets that are not on the public internet.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::webhooks::{Receiver, secret};

use crate::chain::sample;
use crate::emulator::Cloud;
use crate::feed;
use crate::feed::post_call as call;

async fn api(cloud: &Cloud, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    feed::api_with(cloud, method, path, Some("acme"), body).await
}

#[tokio::test]
async fn events_reach_a_subscriber_once_each_through_the_webhook_queue_with_retries() {
    // The receiver is on this machine: this deployment allows it (the next test shows the
    // hosted default refusing it).
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.webhook_retry_delays = vec![Duration::from_secs(1)];
    })
    .await;
    let secret = secret();
    let receiver = Receiver::start(&secret).await;
    let (status, created) = api(
        &cloud,
        "POST",
        "/webhooks",
        Some(json!({
            "url": receiver.url,
            "events": ["lead.created", "lead.tier_changed", "call.scored", "call.failed"],
            "secret": secret,
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["subscription_id"].as_str().unwrap().to_owned();

    // A call through the API: the API function stores lead.created, the score function
    // lead.tier_changed and call.scored; every queue delivers every message twice.
    let transcript = String::from_utf8(sample("call-007.txt")).unwrap();
    let lead = call(&cloud, "+15125550190", &transcript).await;
    feed::settle(&cloud, 2).await;
    let received = receiver.received().await;
    let mut types: Vec<&str> = received
        .iter()
        .filter(|r| r["payload"]["data"]["lead_id"] == lead.as_str())
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["call.scored", "lead.created", "lead.tier_changed"],
        "each event once, however often SQS delivered its message: {received:#?}"
    );
    assert!(
        received
            .iter()
            .all(|r| r["verified"] == true && r["answered"] == 200)
    );
    // One message per event and subscription was sent to the webhook queue, by the function
    // that made the event.
    let queued = cloud.recorder.messages_to("webhooks");
    assert_eq!(queued.len(), 3, "{queued:#?}");

    // The receiver fails once: the webhooks function records the 503 and sends the retry
    // as a delayed message; a second later it is taken.
    receiver.control(json!({"fail_next": 1})).await;
    let second = call(
        &cloud,
        "+15125550191",
        "Customer: Not interested, wrong number.",
    )
    .await;
    feed::settle(&cloud, 2).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    feed::settle(&cloud, 2).await;
    let (_, page) = api(&cloud, "GET", &format!("/webhooks/{id}/deliveries"), None).await;
    let retried = page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["state"] == "delivered"
                && d["attempts"].as_array().unwrap().len() == 2
                && d["payload"].as_str().unwrap().contains(&second)
        })
        .unwrap_or_else(|| panic!("a delivery taken at its second attempt: {page:#}"));
    assert_eq!(retried["attempts"][0]["status"], 503);
    assert_eq!(retried["attempts"][1]["status"], 200);

    // Down for a whole schedule: the delivery fails and the subscription is disabled; once
    // back, enabled and redelivered (through the API function and the queue), it is taken.
    receiver.control(json!({"down": true})).await;
    let (status, _) = api(
        &cloud,
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(json!({"events": ["lead.created"]})),
    )
    .await;
    assert_eq!(status, 200);
    let third = call(&cloud, "+15125550192", "Customer: Send me the brochure.").await;
    feed::settle(&cloud, 1).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    feed::settle(&cloud, 1).await;
    let (_, sub) = api(&cloud, "GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(sub["enabled"], false, "{sub:#}");
    let (_, page) = api(&cloud, "GET", &format!("/webhooks/{id}/deliveries"), None).await;
    let failed = page["deliveries"][0].clone();
    assert_eq!(failed["state"], "failed", "{page:#}");
    assert!(failed["payload"].as_str().unwrap().contains(&third));
    receiver.control(json!({"down": false})).await;
    let (status, _) = api(
        &cloud,
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let event_id = failed["event_id"].as_str().unwrap();
    let (status, again) = api(
        &cloud,
        "POST",
        &format!("/webhooks/{id}/deliveries/{event_id}/redeliver"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{again}");
    feed::settle(&cloud, 2).await;
    receiver
        .wait_for(Duration::from_secs(1), |r| {
            r["id"] == event_id && r["answered"] == 200
        })
        .await;

    // What was taken is what usage counts.
    let taken = receiver
        .received()
        .await
        .iter()
        .filter(|r| r["answered"] == 200)
        .count();
    let (_, usage) = api(&cloud, "GET", "/usage", None).await;
    assert_eq!(usage["webhooks_delivered"], taken as u64, "{usage}");
}

#[tokio::test]
async fn the_hosted_api_refuses_targets_off_the_public_internet() {
    let cloud = Cloud::start().await;
    for (url, why) in [
        ("http://hooks.example.com/", "must be https"),
        ("https://127.0.0.1:8443/hook", "not a public address"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "not a public address",
        ),
        ("https://[fd00::1]/hook", "not a public address"),
        ("https://localhost/hook", "not a public address"),
    ] {
        let (status, problem) = api(
            &cloud,
            "POST",
            "/webhooks",
            Some(json!({"url": url, "events": ["lead.tier_changed"]})),
        )
        .await;
        assert_eq!(status, 400, "{url}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(why),
            "{url}: {problem}"
        );
    }
    let (_, listed) = api(&cloud, "GET", "/webhooks", None).await;
    assert_eq!(listed["webhooks"], json!([]));
}
