//! Calls recorded at Twilio, on AWS: the signed recording status callback through API Gateway
//! to the API function, the fetch by the webhooks function from the Twilio stand-in (the Call
//! resource and the WAV), Amazon Transcribe, and the call scored. Every function's calls are
//! held to its policy; every SQS message is delivered twice.

use base64::Engine;
use serde_json::{Value, json};
use shared::sms::twilio::{self, Algorithm};

use crate::chain::{self, tenant, transcription_completes};
use crate::emulator::Cloud;
use crate::feed;
use crate::texts::{ACCOUNT, NUMBER, TOKEN};

const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";
const LEAD: &str = "+15305550111";

/// Twilio's recording status callback for `recording` of `call`, as API Gateway delivers it,
/// signed with `token`.
fn callback(call: &str, recording: &str, token: &str) -> Value {
    let mut event = feed::sample("apigw-twilio-sms.json");
    let params: Vec<(String, String)> = [
        ("AccountSid", ACCOUNT),
        ("CallSid", call),
        ("RecordingSid", recording),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "39"),
        ("RecordingChannels", "2"),
        ("RecordingSource", "DialVerb"),
        ("ErrorCode", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let path = "/twilio/acme/recording";
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["pathParameters"]["hook"] = "recording".into();
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(body)
        .into();
    event["headers"]["x-twilio-signature"] = twilio::signature(
        Algorithm::HmacSha1,
        token,
        &format!("https://{HOST}{path}"),
        &params,
    )
    .into();
    event
}

#[tokio::test]
async fn a_twilio_recording_becomes_a_scored_call_once_through_the_webhooks_function() {
    let stand_in = testkit::twilio::Twilio::start(ACCOUNT, TOKEN, &[NUMBER]).await;
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
        d.config.twilio_api_url = stand_in.url.clone();
    })
    .await;
    take_in_a_twilio_recording(&cloud, &stand_in).await;
}

/// Tenant acme connects `stand_in`'s account, asks for its recordings to be deleted there once
/// stored, and a recorded call's callback comes (a forged one first): the webhooks function
/// fetches the recording once although every message comes twice, Transcribe hears it, the
/// call is scored; the callback delivered again after that changes nothing.
pub(crate) async fn take_in_a_twilio_recording(cloud: &Cloud, stand_in: &testkit::twilio::Twilio) {
    let started = chrono::DateTime::parse_from_rfc3339("2026-11-20T16:00:00Z")
        .unwrap()
        .to_utc();
    let call = stand_in.add_call(LEAD, NUMBER, "inbound", started, 39);
    let recording = stand_in.add_recording(&call, chain::wav(2));
    let (status, body) = feed::api_with(
        cloud,
        "PUT",
        "/settings/twilio",
        Some("acme"),
        Some(json!({"auth_token": TOKEN, "account_sid": ACCOUNT})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = feed::api_with(
        cloud,
        "PATCH",
        "/settings",
        Some("acme"),
        Some(json!({"twilio_recordings": {"delete_at_twilio": true}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A forged callback is refused and queues nothing.
    let before = cloud.recorder.messages_to("webhooks").len();
    let forged = callback(&call, &recording, "ffffffffffffffffffffffffffffffff");
    let (status, _, _) = feed::api_event(cloud, &forged).await;
    assert_eq!(status, 403);
    assert_eq!(cloud.recorder.messages_to("webhooks").len(), before);

    // The callback: one fetch job on the webhook queue.
    let event = callback(&call, &recording, TOKEN);
    let (status, _, twiml) = feed::api_event(cloud, &event).await;
    assert_eq!(status, 200, "{twiml}");
    let jobs = cloud.recorder.messages_to("webhooks")[before..].to_vec();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(jobs[0].contains("fetch_recording"), "{jobs:?}");

    // The webhooks function fetches it (each message delivered twice), registers the call and
    // starts its transcription; Transcribe finishes; the call is scored.
    feed::settle(cloud, 2).await;
    let id = shared::keys::call_of_stem(&tenant(), &format!("twilio-{recording}"));
    transcription_completes(cloud, &id).await;
    feed::settle(cloud, 2).await;
    let stored = feed::call(cloud, &tenant(), &id).await;
    assert_eq!(
        stored.status,
        shared::domain::CallStatus::Scored,
        "{stored:?}"
    );
    assert_eq!(stored.call_start_time, started);
    assert_eq!(stored.external_id.as_deref(), Some(call.as_str()));
    assert_eq!(
        stand_in.recording(&recording),
        (1, true),
        "downloaded once although its job came twice, then deleted at Twilio"
    );

    // Twilio's retry of the callback, after the fact: nothing queued, nothing fetched.
    let before = cloud.recorder.messages_to("webhooks").len();
    let (status, _, _) = feed::api_event(cloud, &event).await;
    assert_eq!(status, 200);
    assert_eq!(cloud.recorder.messages_to("webhooks").len(), before);
    assert_eq!(stand_in.recording(&recording), (1, true));
}
