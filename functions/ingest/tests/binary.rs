//! The ingest binary as Lambda runs it: its configuration from the environment, its AWS clients
//! pointed at moto by the SDK's standard `AWS_ENDPOINT_URL`, and its event from a stand-in for
//! the Lambda Runtime API on a real socket (`GET .../invocation/next`, then `POST .../response`
//! or `.../error`). The same binary `cargo lambda build` packages for `sam deploy`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use shared::domain::{CallId, CallStatus, TenantId};
use shared::keys::transcription_job as job_name;
use testkit::emulator::{BUCKET, Cloud, workspace};
use tokio::process::Command;
use tokio::sync::mpsc;

/// What the function posted back: `response`, `error` or `init-error`, and the body.
type Outcome = (&'static str, Value);

struct RuntimeApi {
    event: Mutex<Option<Value>>,
    posted: mpsc::UnboundedSender<Outcome>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    let Some(event) = api.event.lock().unwrap().take() else {
        // One invocation per test: the next poll waits until the process is stopped.
        return std::future::pending().await;
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:ingest"
            .parse()
            .unwrap(),
    );
    (headers, axum::Json(event)).into_response()
}

impl RuntimeApi {
    fn record(&self, kind: &'static str, body: &[u8]) {
        let _ = self
            .posted
            .send((kind, serde_json::from_slice(body).unwrap_or(Value::Null)));
    }
}

async fn response(State(api): State<Arc<RuntimeApi>>, body: Bytes) {
    api.record("response", &body);
}

async fn error(State(api): State<Arc<RuntimeApi>>, body: Bytes) {
    api.record("error", &body);
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) {
    api.record("init-error", &body);
}

/// Serve the Runtime API for one event; returns its `host:port` and the outcomes it receives.
async fn runtime_api(event: Value) -> (String, mpsc::UnboundedReceiver<Outcome>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        event: Mutex::new(Some(event)),
        posted: tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, rx)
}

/// The binary with Lambda's environment and nothing of this machine's (no profile, no region).
fn function(runtime_api: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ingest"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "ingest")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

fn wav() -> Vec<u8> {
    let data = vec![0u8; 3200];
    let mut w = b"RIFF".to_vec();
    w.extend((36 + data.len() as u32).to_le_bytes());
    w.extend(b"WAVEfmt \x10\0\0\0\x01\0\x02\0");
    w.extend(8000u32.to_le_bytes());
    w.extend((8000u32 * 4).to_le_bytes());
    w.extend(4u16.to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend((data.len() as u32).to_le_bytes());
    w.extend(data);
    w
}

#[tokio::test]
async fn the_deployed_binary_starts_transcription_through_aws_endpoint_url() {
    let cloud = Cloud::start().await;
    // A telephony export's name: when, who called, which way.
    let stem = "20261102T141503Z_+14155550134_inbound";
    let key = format!("recordings/acme/{stem}.wav");
    let put = cloud
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(wav().into())
        .send()
        .await
        .unwrap();
    let text = std::fs::read_to_string(workspace().join("events/s3-recording-put.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let object = &mut event["Records"][0]["s3"];
    object["bucket"]["name"] = BUCKET.into();
    // Keys arrive URL-encoded in S3 events.
    object["object"]["key"] = key.replace('+', "%2B").into();
    object["object"]["size"] = wav().len().into();
    object["object"]["eTag"] = put.e_tag().unwrap().trim_matches('"').into();

    let (address, mut outcomes) = runtime_api(event).await;
    let mut cmd = function(&address);
    cmd.env("AWS_ENDPOINT_URL", &cloud.emulator.url);
    for (name, value) in &cloud.env {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(60), outcomes.recv()).await;
    child.kill().await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    let (kind, body) = outcome
        .unwrap_or_else(|_| panic!("no answer from the function in a minute; its logs:\n{logs}"))
        .unwrap();
    assert_eq!(kind, "response", "{body}\n{logs}");

    // The job moto knows is the one the function started, on the object where it lies
    // (path-style: moto has no per-bucket host names).
    let tenant = TenantId::parse("acme").unwrap();
    let call = CallId::derive(&tenant, &format!("name:{stem}"));
    let job = cloud
        .transcribe
        .get_transcription_job()
        .transcription_job_name(job_name(&tenant, &call))
        .send()
        .await
        .unwrap_or_else(|e| panic!("no Transcribe job ({e}); the function's logs:\n{logs}"))
        .transcription_job
        .unwrap();
    let uri = job.media.unwrap().media_file_uri.unwrap();
    assert!(uri.ends_with(&format!("{BUCKET}/{key}")), "{uri}");
    assert!(
        job.settings.unwrap().channel_identification == Some(true),
        "a stereo recording is transcribed per channel"
    );
    let stored = cloud
        .app
        .deps
        .calls
        .get_call(&tenant, &call)
        .await
        .unwrap()
        .expect("the call is stored");
    assert_eq!(stored.status, CallStatus::Transcribing);

    // Structured logs, one JSON object per line, with the request id.
    let first = logs.lines().next().expect("the function logs");
    let line: Value = serde_json::from_str(first).unwrap_or_else(|_| panic!("JSON logs: {first}"));
    assert!(line.get("level").is_some(), "{line}");
    assert!(logs.contains("req-1"), "{logs}");
}

#[tokio::test]
async fn a_missing_setting_stops_the_function_at_start_and_is_named() {
    let (address, _outcomes) = runtime_api(Value::Null).await;
    let mut cmd = function(&address);
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let cloud_env = [
        ("CALLS_TABLE", "calls"),
        ("RULES_TABLE", "rules"),
        ("IDEMPOTENCY_TABLE", "idempotency"),
        ("BUCKET", BUCKET),
        ("ANALYZE_QUEUE_URL", "http://127.0.0.1:9/q/analyze"),
        ("SCORE_QUEUE_URL", "http://127.0.0.1:9/q/score"),
    ];
    cmd.envs(cloud_env);
    let output = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the function stops at once")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LEADS_TABLE"), "{stderr}");
}
