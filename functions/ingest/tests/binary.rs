//! The ingest binary as Lambda runs it: its configuration from the environment, its AWS clients
//! pointed at moto by the SDK's standard `AWS_ENDPOINT_URL`, and its event from a stand-in for
//! the Lambda Runtime API on a real socket (`testkit::runtime`). The same binary `cargo lambda
//! build` packages for `sam deploy`.

use std::time::Duration;

use serde_json::Value;
use shared::domain::{CallId, CallStatus, TenantId};
use shared::keys::transcription_job as job_name;
use testkit::emulator::{BUCKET, Cloud, workspace};
use testkit::runtime::RuntimeApi;
use tokio::process::Command;

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

    let runtime = RuntimeApi::start().await;
    runtime.push(event);
    let mut cmd = function(&runtime.address);
    cmd.env("AWS_ENDPOINT_URL", &cloud.emulator.url);
    for (name, value) in &cloud.env {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().unwrap();
    let answer = runtime.answer(0, Duration::from_secs(60)).await;
    child.kill().await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    let answer = answer.unwrap_or_else(|| {
        panic!(
            "no answer from the function in a minute (init error: {:?}); its logs:\n{logs}",
            runtime.init_error()
        )
    });
    assert_eq!(answer.kind, "response", "{}\n{logs}", answer.body);

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
    let runtime = RuntimeApi::start().await;
    let mut cmd = function(&runtime.address);
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
