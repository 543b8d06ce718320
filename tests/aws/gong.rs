//! Calls pulled from Gong on AWS: connected through the API function, pulled by the webhooks
//! function from the CRM queue (a stand-in of Gong's API on a real socket), and pulled again by
//! the hourly sweep in the score function. Every message is delivered twice; every function's
//! calls are held to its policy.

use serde_json::{Value, json};

use crate::chain::tenant;
use crate::emulator::Cloud;
use crate::feed;

fn gong_call(id: &str, started: chrono::DateTime<chrono::Utc>, phone: &str) -> Value {
    let doc: Value =
        serde_json::from_slice(&crate::chain::fixture("gong/call_with_parties.json")).unwrap();
    testkit::gong::call_as(&doc, id, started, phone)
}

async fn call_of(cloud: &Cloud, id: &str) -> Option<shared::domain::Call> {
    let call_id = shared::keys::call_of_stem(&tenant(), &format!("gong-{id}"));
    cloud
        .app
        .deps
        .calls
        .get_call(&tenant(), &call_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn gong_calls_are_pulled_once_each_by_the_webhooks_function_and_again_by_the_sweep() {
    let gong = testkit::gong::Gong::start("KEY", "SECRET", 1).await;
    let cloud = Cloud::start_with(|d| d.config.allow_private_webhook_targets = true).await;
    pull_from_gong(&cloud, &gong).await;
}

/// Tenant acme connects `gong` (one call a page) holding two calls: both are pulled, each
/// transcript asked for once, though every message comes twice; a third call recorded since is
/// pulled by the hourly sweep, and only it; then Gong is disconnected.
pub(crate) async fn pull_from_gong(cloud: &Cloud, gong: &testkit::gong::Gong) {
    let now = chrono::Utc::now();
    gong.add_call(
        &gong_call("902", now - chrono::Duration::days(3), "+14155550131"),
        true,
    );
    gong.add_call(
        &gong_call("903", now - chrono::Duration::days(2), "+14155550132"),
        true,
    );
    let (status, body) = feed::api_with(
        cloud,
        "PUT",
        "/settings/gong",
        Some("acme"),
        Some(json!({"access_key": "KEY", "access_key_secret": "SECRET", "base_url": gong.url})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.to_string().contains("\"SECRET\""),
        "the secret is never shown: {body}"
    );
    feed::settle(cloud, 2).await;
    for id in ["902", "903"] {
        let call = call_of(cloud, id).await.expect("pulled");
        assert_eq!(call.status, shared::domain::CallStatus::Scored, "{call:?}");
    }
    let asked = gong.asked();
    assert_eq!(
        asked,
        ["902", "903"],
        "each call's transcript asked for once"
    );

    // A call recorded since; the hourly sweep pulls it, and only it.
    gong.add_call(
        &gong_call("904", now - chrono::Duration::hours(1), "+14155550133"),
        true,
    );
    feed::send_sweep(cloud).await;
    feed::settle(cloud, 2).await;
    let call = call_of(cloud, "904").await.expect("pulled by the sweep");
    assert_eq!(call.status, shared::domain::CallStatus::Scored);
    assert_eq!(gong.asked()[asked.len()..], ["904".to_owned()]);

    let (status, _) = feed::api_with(cloud, "DELETE", "/settings/gong", Some("acme"), None).await;
    assert_eq!(status, 204);
    let (status, _) = feed::api_with(cloud, "GET", "/settings/gong", Some("acme"), None).await;
    assert_eq!(status, 404);
}
