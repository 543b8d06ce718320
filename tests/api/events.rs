//! The sample events in events/ are real events of the types the Lambda functions take, and
//! their messages are leadscore's own.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::SqsEvent;
use shared::ports::Job;

use crate::helpers::repo_root;

fn event(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("events").join(name)).unwrap()
}

#[test]
fn s3_put_names_a_recording_under_a_tenant() {
    let e: S3Event = serde_json::from_slice(&event("s3-recording-put.json")).unwrap();
    let key = e.records[0].s3.object.key.as_deref().unwrap();
    let mut parts = key.splitn(3, '/');
    assert_eq!(parts.next(), Some("recordings"));
    shared::domain::TenantId::parse(parts.next().unwrap()).unwrap();
    let file = parts.next().unwrap();
    shared::formats::classify(file, b"WEBVTT").unwrap();
}

#[test]
fn transcribe_state_change_carries_a_job_name() {
    let e: EventBridgeEvent<serde_json::Value> =
        serde_json::from_slice(&event("transcribe-job-completed.json")).unwrap();
    assert_eq!(e.detail_type, "Transcribe Job State Change");
    assert_eq!(e.detail["TranscriptionJobStatus"], "COMPLETED");
    let name = e.detail["TranscriptionJobName"].as_str().unwrap();
    let (tenant, call) = name.split_once("--").unwrap();
    shared::domain::TenantId::parse(tenant).unwrap();
    shared::domain::CallId::parse(call).unwrap();
}

#[test]
fn sqs_bodies_are_leadscore_jobs() {
    for (name, kind) in [
        ("sqs-analyze.json", "analyze"),
        ("sqs-score.json", "score"),
        ("sqs-webhooks.json", "deliver"),
        ("sqs-crm.json", "crm-push"),
    ] {
        let e: SqsEvent = serde_json::from_slice(&event(name)).unwrap();
        let job: Job = serde_json::from_str(e.records[0].body.as_deref().unwrap()).unwrap();
        assert!(job.key().starts_with(kind), "{name}: {job:?}");
    }
}

#[test]
fn api_request_is_a_get_of_leads_the_authorizer_let_through() {
    let e: ApiGatewayV2httpRequest =
        serde_json::from_slice(&event("apigw-get-leads.json")).unwrap();
    assert_eq!(e.raw_path.as_deref(), Some("/leads"));
    let context = &e.request_context.authorizer.unwrap().fields;
    let caller = shared::domain::Caller::from_context(context).expect("a caller");
    assert_eq!(caller.tenant.as_str(), "default");
    assert_eq!(caller.role, shared::domain::Role::Rep);
}

#[test]
fn page_request_is_a_browsers_get_of_a_page_with_no_token() {
    let e: ApiGatewayV2httpRequest = serde_json::from_slice(&event("apigw-get-page.json")).unwrap();
    let path = e.raw_path.as_deref().unwrap();
    // A path API Gateway sends to the web function, on a route without the authorizer.
    assert!(shared::handlers::api::is_page_path(path), "{path}");
    assert!(e.request_context.authorizer.is_none());
    assert!(!e.headers.contains_key("authorization"));
}

#[test]
fn authorizer_request_carries_the_bearer_token() {
    use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
    let e: ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_slice(&event("apigw-authorizer.json")).unwrap();
    let token = e.identity_source.unwrap()[0].clone();
    let key = token.strip_prefix("Bearer ").expect("a bearer token");
    assert!(shared::domain::parse_key_token(key).is_some(), "{key}");
}

#[test]
fn the_twilio_webhook_is_signed_for_its_url_and_body() {
    use base64::Engine;
    use shared::sms::twilio::{self, Algorithm, Body, Inbound};
    let e: ApiGatewayV2httpRequest =
        serde_json::from_slice(&event("apigw-twilio-sms.json")).unwrap();
    assert!(
        e.request_context.authorizer.is_none(),
        "Twilio sends no token"
    );
    let body = base64::engine::general_purpose::STANDARD
        .decode(e.body.as_deref().unwrap())
        .unwrap();
    let params = twilio::parse_form(&body);
    let url = format!(
        "https://{}{}",
        e.headers["host"].to_str().unwrap(),
        e.raw_path.as_deref().unwrap()
    );
    let signature = e.headers["x-twilio-signature"].to_str().unwrap();
    let token = "0123456789abcdef0123456789abcdef";
    assert!(twilio::verify(
        Algorithm::HmacSha1,
        token,
        &url,
        Body::Form(&params),
        signature
    ));
    assert_eq!(
        Inbound::from_params(&params).unwrap().body,
        "Yes! Please call me tomorrow at 3pm"
    );
}
