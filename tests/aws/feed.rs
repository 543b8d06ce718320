//! Playing AWS's part: objects put into the bucket, and the events S3, EventBridge, SQS and
//! API Gateway would deliver, made from the samples in `events/` and handed to the same
//! functions the Lambda binaries call.

use std::time::{Duration, Instant};

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::{Value, json};
use shared::domain::{Call, CallId, TenantId};
use shared_aws::lambda::{self, TranscribeJobStateChange};

use crate::emulator::{BUCKET, Cloud, workspace};
use crate::iam::Function;

const RUN_FOR: Duration = Duration::from_secs(60);

pub fn sample(name: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Put an object into the bucket; returns its ETag.
pub async fn put(cloud: &Cloud, key: &str, bytes: &[u8]) -> String {
    cloud
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(bytes.to_vec().into())
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned()
}

/// The S3 notification for a created object (keys in events are URL-encoded, `+` for space).
pub fn s3_event(key: &str, size: usize, etag: &str) -> S3Event {
    let mut event = sample("s3-recording-put.json");
    let encoded = key
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace(' ', "+");
    // Delivered now, as S3 delivers it moments after the upload.
    event["Records"][0]["eventTime"] = chrono::Utc::now().to_rfc3339().into();
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = BUCKET.into();
    s3["object"]["key"] = encoded.into();
    s3["object"]["size"] = size.into();
    s3["object"]["eTag"] = etag.into();
    serde_json::from_value(event).unwrap()
}

/// Put an object and deliver its notification to the ingest function.
pub async fn upload(cloud: &Cloud, key: &str, bytes: &[u8]) -> S3Event {
    let etag = put(cloud, key, bytes).await;
    let event = s3_event(key, bytes.len(), &etag);
    ingest(cloud, &event).await;
    event
}

pub async fn ingest(cloud: &Cloud, event: &S3Event) {
    lambda::on_s3_event(cloud.function(Function::Ingest), event.clone(), RUN_FOR)
        .await
        .expect("ingest");
}

pub fn transcribe_event(
    job: &str,
    status: &str,
    reason: Option<&str>,
) -> EventBridgeEvent<TranscribeJobStateChange> {
    let mut event = sample("transcribe-job-completed.json");
    event["id"] = format!("evt-{job}-{status}").into();
    event["detail"]["TranscriptionJobName"] = job.into();
    event["detail"]["TranscriptionJobStatus"] = status.into();
    if let Some(r) = reason {
        event["detail"]["FailureReason"] = r.into();
    }
    serde_json::from_value(event).unwrap()
}

pub async fn transcribed(cloud: &Cloud, event: &EventBridgeEvent<TranscribeJobStateChange>) {
    lambda::on_transcribe_event(
        cloud.function(Function::Transcribed),
        event.clone(),
        RUN_FOR,
    )
    .await
    .expect("transcribed");
}

pub async fn queue_depth(cloud: &Cloud, url: &str) -> (u64, u64) {
    let attrs = cloud
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let n = |a: &QueueAttributeName| attrs.get(a).and_then(|v| v.parse().ok()).unwrap_or(0);
    (
        n(&QueueAttributeName::ApproximateNumberOfMessages),
        n(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Receive one batch as Lambda's SQS poller does, as the event the function gets.
pub async fn receive(cloud: &Cloud, url: &str) -> Option<(SqsEvent, Vec<String>)> {
    let out = cloud
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return None;
    }
    // As Lambda's poller hands them over: with the queue's ARN.
    let arn = cloud
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .unwrap();
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "attributes": m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect::<std::collections::HashMap<_, _>>()).unwrap_or_default(),
                "messageAttributes": {},
            })
        })
        .collect();
    let handles = messages
        .iter()
        .map(|m| m.receipt_handle().unwrap_or_default().to_owned())
        .collect();
    let event = serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    Some((event, handles))
}

/// Deliver every message of the queue to its function's `on_*_batch`, `times` times each (an at-least-once
/// redelivery), and delete the ones not reported failed, as Lambda's poller does. Returns the
/// responses. Stops when the queue is empty, or after `patience` when messages keep failing.
pub async fn pump(
    cloud: &Cloud,
    url: &str,
    times: usize,
    patience: Duration,
) -> Vec<SqsBatchResponse> {
    let deployment = &cloud.app.deployment;
    let consumer = if *url == deployment.analyze_queue_url {
        Function::Analyze
    } else if *url == deployment.webhook_queue_url || *url == deployment.crm_queue_url {
        Function::Webhooks
    } else {
        assert_eq!(
            *url, deployment.score_queue_url,
            "a queue a function consumes"
        );
        Function::Score
    };
    let started = Instant::now();
    let mut responses = Vec::new();
    loop {
        let Some((event, handles)) = receive(cloud, url).await else {
            let (visible, in_flight) = queue_depth(cloud, url).await;
            if visible + in_flight == 0 || started.elapsed() > patience {
                return responses;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut failed = Vec::new();
        for _ in 0..times {
            let app = cloud.function(consumer);
            let response = match consumer {
                Function::Analyze => lambda::on_analyze_batch(app, event.clone(), RUN_FOR).await,
                Function::Score => lambda::on_score_batch(app, event.clone(), RUN_FOR).await,
                _ => lambda::on_webhooks_batch(app, event.clone(), RUN_FOR).await,
            };
            failed.extend(
                response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.clone()),
            );
            responses.push(response);
        }
        for (record, handle) in event.records.iter().zip(handles) {
            if !failed.contains(record.message_id.as_ref().unwrap()) {
                cloud
                    .sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// Run the analyze, score, webhook and CRM queues until all are empty (webhook retries
/// waiting for their time are left waiting).
pub async fn settle(cloud: &Cloud, times: usize) {
    let settings = &cloud.app.deployment;
    for _ in 0..3 {
        pump(
            cloud,
            &settings.crm_queue_url,
            times,
            Duration::from_secs(5),
        )
        .await;
        pump(
            cloud,
            &settings.webhook_queue_url,
            times,
            Duration::from_secs(5),
        )
        .await;
        pump(
            cloud,
            &settings.analyze_queue_url,
            times,
            Duration::from_secs(5),
        )
        .await;
        pump(
            cloud,
            &settings.score_queue_url,
            times,
            Duration::from_secs(5),
        )
        .await;
    }
}

/// A request through API Gateway (HTTP API, the Lambda authorizer) to the API function's
/// router, from an admin of `tenant`.
pub async fn api(
    cloud: &Cloud,
    method: &str,
    path_and_query: &str,
    tenant: Option<&str>,
) -> (u16, Value) {
    api_with(cloud, method, path_and_query, tenant, None).await
}

/// An API Gateway request with a JSON body, from an admin of `tenant` (as the authorizer
/// vouches for one); no tenant: a request the authorizer vouched for no one.
pub async fn api_with(
    cloud: &Cloud,
    method: &str,
    path_and_query: &str,
    tenant: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let context = tenant.map(
        |t| serde_json::json!({"tenant": t, "role": "admin", "actor": "user:5f2b0c1e-admin-1"}),
    );
    api_through(cloud, method, path_and_query, context, body).await
}

/// An API Gateway request that the Lambda authorizer let through with `context` (none: a
/// route without the authorizer).
pub async fn api_through(
    cloud: &Cloud,
    method: &str,
    path_and_query: &str,
    context: Option<Value>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut event = sample("apigw-get-leads.json");
    if let Some(body) = body {
        event["body"] = body.to_string().into();
        event["isBase64Encoded"] = false.into();
        event["headers"]["content-type"] = "application/json".into();
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    event["rawPath"] = path.into();
    event["rawQueryString"] = query.into();
    event["queryStringParameters"] = serde_json::Value::Object(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect(),
    );
    event["routeKey"] = format!("{method} {path}").into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    match context {
        Some(context) => {
            event["requestContext"]["authorizer"] = serde_json::json!({ "lambda": context })
        }
        None => {
            event["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
    }
    let (status, _, body) = gateway(cloud, &event).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// `event`, answered by the function API Gateway sends it to (the web function for the pages:
/// the template's routes to it are `api::PAGE_PATHS`, `infra.rs` checks; the API function for
/// everything else), through the adapter both functions run (`shared_aws::gateway`): the
/// status, the headers, and the body as API Gateway sends it on (base64 decoded).
async fn gateway(cloud: &Cloud, event: &Value) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    let event: ApiGatewayV2httpRequest =
        serde_json::from_value(event.clone()).expect("an API Gateway event");
    let path = event.raw_path.as_deref().unwrap_or_default();
    let router = if shared::handlers::api::is_page_path(path) {
        lambda::web(cloud.function(Function::Web))
    } else {
        lambda::api(cloud.function(Function::Api))
    };
    let response = shared_aws::gateway::handle(router, event).await;
    let body = match response.body {
        None => Vec::new(),
        Some(Body::Text(text)) => {
            assert!(!response.is_base64_encoded);
            text.into_bytes()
        }
        Some(Body::Binary(bytes)) => {
            assert!(response.is_base64_encoded);
            bytes
        }
        Some(other) => panic!("an unexpected body: {other:?}"),
    };
    let mut headers = response.headers;
    for cookie in response.cookies {
        headers.append("set-cookie", cookie.parse().unwrap());
    }
    (response.status_code as u16, headers, body)
}

/// Hand an API Gateway event to the function the route names, as it is: the status, the
/// headers (with the cookies as `Set-Cookie`) and the body as text.
pub async fn api_event(cloud: &Cloud, event: &Value) -> (u16, axum::http::HeaderMap, String) {
    let (status, headers, body) = gateway(cloud, event).await;
    (status, headers, String::from_utf8(body).unwrap())
}

/// Delete every idempotency record, as their expiry (or a crash between the work and the
/// record) would; returns how many there were.
pub async fn forget_handled_events(cloud: &Cloud) -> usize {
    let records = cloud
        .dynamo
        .scan()
        .table_name("idempotency")
        .send()
        .await
        .unwrap();
    for item in records.items() {
        cloud
            .dynamo
            .delete_item()
            .table_name("idempotency")
            .key("id", item["id"].clone())
            .send()
            .await
            .unwrap();
    }
    records.items().len()
}

/// The stored call, which must exist.
pub async fn call(cloud: &Cloud, tenant: &TenantId, id: &CallId) -> Call {
    cloud
        .app
        .deps
        .calls
        .get_call(tenant, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("call {id} is stored"))
}

/// Every object of the bucket (at most the first 1,000), key and content.
pub async fn every_object(cloud: &Cloud) -> Vec<(String, Vec<u8>)> {
    let listed = cloud
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let mut all = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap_or_default().to_owned();
        let body = cloud
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec();
        all.push((key, body));
    }
    all
}

/// A call with a plain-text transcript through `POST /calls`, from an admin of `acme`; its
/// lead's id.
pub async fn post_call(cloud: &Cloud, caller: &str, transcript: &str) -> String {
    let (status, accepted) = api_with(
        cloud,
        "POST",
        "/calls",
        Some("acme"),
        Some(serde_json::json!({"caller": caller, "transcript": {"format": "text", "content": transcript}})),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    accepted["lead_id"].as_str().unwrap().to_owned()
}

/// The hourly sweep as EventBridge Scheduler sends it (`SweepSchedule`'s `Input`, which
/// `tests/aws/schedule.rs` holds to this): a message on the score queue, not yet worked through.
pub async fn send_sweep(cloud: &Cloud) {
    cloud
        .sqs
        .send_message()
        .queue_url(&cloud.env["SCORE_QUEUE_URL"])
        .message_body(r#"{"job": "sweep"}"#)
        .send()
        .await
        .unwrap();
}

/// A vendor's POST to `path` as API Gateway hands it over on a route without an authorizer,
/// with these headers beside the host and content type.
pub fn vendor_post(path: &str, headers: Value, body: String) -> Value {
    let mut event = sample("apigw-get-leads.json");
    event["rawPath"] = path.into();
    event["rawQueryString"] = "".into();
    event["queryStringParameters"] = json!({});
    event["routeKey"] = format!("POST {path}").into();
    event["requestContext"]["http"]["method"] = "POST".into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let mut all = json!({
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "content-type": "application/json",
    });
    all.as_object_mut()
        .unwrap()
        .extend(headers.as_object().unwrap().clone());
    event["headers"] = all;
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
    event
}

/// A browser's GET of `location` (the admin's, coming back from a CRM's consent screen), as
/// API Gateway hands it over on a route without an authorizer.
pub fn browser_get(location: &str) -> Value {
    let url = url::Url::parse(location).unwrap();
    let query: serde_json::Map<String, Value> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
        .collect();
    let mut event = vendor_post(url.path(), json!({}), String::new());
    event["rawQueryString"] = url.query().unwrap_or_default().into();
    event["queryStringParameters"] = Value::Object(query);
    event["routeKey"] = format!("GET {}", url.path()).into();
    event["requestContext"]["http"]["method"] = "GET".into();
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("content-type");
    event.as_object_mut().unwrap().remove("body");
    event
}

/// An admin allowing leadscore on a CRM's consent screen (a stand-in's: it consents at once)
/// and the browser sent back through API Gateway: where it was sent, the callback's status
/// and its page.
pub async fn consent(cloud: &Cloud, authorize_url: &str) -> (String, u16, String) {
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(authorize_url)
        .send()
        .await
        .unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let (status, _, page) = api_event(cloud, &browser_get(&location)).await;
    (location, status, page)
}

/// This deployment's HubSpot app is the stand-in's, its consent screen at `url`.
pub fn hubspot_app(config: &mut shared::Config, url: &str) {
    let crm = shared::domain::Crm::Hubspot;
    config.oauth_apps.insert(
        crm,
        shared::config::OAuthApp {
            client_id: testkit::hubspot::CLIENT_ID.into(),
            client_secret: testkit::hubspot::CLIENT_SECRET.into(),
        },
    );
    config.oauth_urls.insert(crm, url.to_owned());
}
