//! A call log imported on AWS: the CSV through API Gateway to the API function, each row's
//! fetch queued on the webhook queue, the webhooks function fetching its media from a file host
//! on a real socket and taking the call in, the chain scoring it. Every message is delivered
//! twice; every function's calls are held to its policy.

use serde_json::json;

use crate::chain::tenant;
use crate::emulator::Cloud;
use crate::feed;

#[tokio::test]
async fn a_call_log_becomes_scored_calls_through_the_webhooks_function_once_each() {
    let host = testkit::files::MediaHost::start(&[
        ("a84d.vtt", crate::chain::sample("call-001.vtt")),
        ("b19e.srt", crate::chain::sample("call-004.srt")),
    ])
    .await;
    let cloud = Cloud::start_with(|d| d.config.allow_private_webhook_targets = true).await;
    import_a_call_log(&cloud, &host).await;
}

/// Tenant acme imports a two-row IvozProvider call log whose transcripts `host` serves: both
/// calls are fetched once, by the webhooks function, and scored.
pub(crate) async fn import_a_call_log(cloud: &Cloud, host: &testkit::files::MediaHost) {
    let csv = format!(
        "callid,startTime,duration,caller,callee,price,direction,ddiId,endpointType,endpointId,endpointName,Transcript\n\
         a84d@10.0.0.1,2026-11-02 09:15:03,95,+14155550161,+34944048182,0.02,inbound,7,RetailAccount,3,desk,{0}/media/a84d.vtt\n\
         b19e@10.0.0.1,2026-11-02 10:40:00,312,+34944048182,+14155550162,0.11,outbound,7,RetailAccount,3,desk,{0}/media/b19e.srt\n",
        host.url
    );
    let before = cloud.recorder.messages_to("webhooks").len();
    let (status, report) = feed::api_with(
        cloud,
        "POST",
        "/calls/import",
        Some("acme"),
        Some(
            json!({"layout": "ivozprovider", "columns": {"transcript_url": "Transcript"},
                    "time_zone": "Europe/Madrid", "csv": csv}),
        ),
    )
    .await;
    assert_eq!(status, 202, "{report}");
    assert_eq!(report["accepted"].as_array().unwrap().len(), 2, "{report}");
    feed::settle(cloud, 2).await;
    // One fetch job a row, on the webhook queue; one download a file, though each job came
    // twice.
    let fetches = cloud.recorder.messages_to("webhooks")[before..]
        .iter()
        .filter(|m| m.contains("fetch_logged_call"))
        .count();
    assert_eq!(fetches, 2);
    assert_eq!((host.hits("a84d.vtt"), host.hits("b19e.srt")), (1, 1));
    for accepted in report["accepted"].as_array().unwrap() {
        let call_id = shared::domain::CallId::parse(accepted["call_id"].as_str().unwrap()).unwrap();
        let call = feed::call(cloud, &tenant(), &call_id).await;
        assert_eq!(call.status, shared::domain::CallStatus::Scored, "{call:?}");
    }
}
