//! function-bench: each Lambda function's binary, built as `sam build` builds it but for this
//! machine (`cargo lambda build --release --x86-64` in a function's folder, so with the Lambda build's
//! settings in `functions/.cargo/config.toml`, into `target/lambda-x86`), run under
//! a stand-in of the Lambda Runtime API against moto's server, with events made by the
//! pipeline itself: transcripts dropped in the bucket (ingest), the jobs they queue (analyze,
//! then score), Transcribe finishing recordings' jobs (transcribed), `GET /leads` through API
//! Gateway (api), a bearer API key (authorizer), webhook attempts to a receiver on this
//! machine (webhooks), and `GET /` (web). For each function it prints the time from start to its first request
//! for an event (init), the first invocation, the warm ones (p50, p95), and its resident
//! memory when idle after them (VmRSS) and at its peak (VmHWM).
//!
//!     cargo run --release -p leadscore-bench --bin function-bench -- [INVOCATIONS] [--target-dir DIR]
//!
//! `--target-dir` builds and runs them elsewhere than `target/lambda-x86`: two builds side by
//! side, such as one with `CARGO_PROFILE_RELEASE_OPT_LEVEL=3` to compare with the Lambda
//! build's `opt-level = "s"`.
//!
//! The figures are this machine's (x86_64, a process per function, moto on loopback), not
//! Lambda's arm64 on Graviton with DynamoDB over the network: they bound what each function
//! does itself; the network adds its round trips on AWS. Baselines (issue 19): init 25-43 ms,
//! idle RSS 15-17 MiB, the first invocation 84-136 ms more than a warm one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use shared::domain::{NewApiKey, Role, TenantId};
use testkit::emulator::{BUCKET, Cloud};
use testkit::lambda::{FUNCTIONS, build_folder, tool};
use testkit::runtime::RuntimeApi;
use testkit::venv::workspace;

/// Where the functions are built by default: apart from `target/release`, whose local builds
/// have the workspace's release profile without the Lambda build's settings (`functions/.cargo`).
fn default_built_dir() -> std::path::PathBuf {
    workspace().join("target/lambda-x86")
}

fn say(line: &str) {
    eprintln!("==> {line}");
}

/// What one function did.
struct Figures {
    name: &'static str,
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    failed: usize,
    rss_kib: u64,
    peak_kib: u64,
    size: u64,
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Run `name`'s binary under a fresh Runtime API with `events`, one at a time.
async fn measure(
    built: &std::path::Path,
    name: &'static str,
    env: &[(String, String)],
    events: Vec<Value>,
) -> anyhow::Result<Figures> {
    let runtime = RuntimeApi::start().await;
    let binary = built.join("lambda").join(name).join("bootstrap");
    let size = std::fs::metadata(&binary)?.len();
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    // Its first poll ends its init; then the events, one by one.
    let init = loop {
        if let Some(at) = runtime.first_poll() {
            break at - started;
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("{name} stopped before its first poll: {status}");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let mut times = Vec::new();
    let mut failed = 0;
    for (i, event) in events.into_iter().enumerate() {
        runtime.push(event);
        let Some(answer) = runtime.answer(i, Duration::from_secs(60)).await else {
            anyhow::bail!("{name} gave no answer to invocation {i} within a minute");
        };
        // A queue consumer that reports failed messages has not done its work.
        let reported = answer.body["batchItemFailures"]
            .as_array()
            .map_or(0, Vec::len);
        if answer.kind != "response" || reported > 0 {
            eprintln!("    invocation {i} failed: {}", answer.body);
            failed += 1;
        }
        times.push(answer.took);
    }
    // Idle again, waiting for its next event: its memory now, and at its peak.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (rss_kib, peak_kib) = (
        status_kib(child.id(), "VmRSS:"),
        status_kib(child.id(), "VmHWM:"),
    );
    child.kill()?;
    child.wait()?;
    Ok(Figures {
        name,
        init,
        first: times[0],
        warm: times[1..].to_vec(),
        failed,
        rss_kib,
        peak_kib,
        size,
    })
}

/// An SQS event of one message, as Lambda's poller hands it (batch size 1: one job a time).
fn sqs_event(id: &str, body: &str) -> Value {
    json!({"Records": [{
        "messageId": id, "receiptHandle": id, "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0",
            "SenderId": "bench", "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench", "awsRegion": "us-east-1"}]})
}

/// Every message waiting in `queue`, each as the event its consumer gets.
async fn drain(cloud: &Cloud, queue: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let out = cloud
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return events;
        }
        for m in messages {
            events.push(sqs_event(m.message_id().unwrap(), m.body().unwrap()));
            cloud
                .sqs
                .delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn sample_event(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(workspace().join("events").join(name)).unwrap())
        .unwrap()
}

fn s3_event(key: &str, size: usize) -> Value {
    let mut event = sample_event("s3-recording-put.json");
    event["Records"][0]["eventTime"] = chrono::Utc::now().to_rfc3339().into();
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = BUCKET.into();
    s3["object"]["key"] = key.replace('+', "%2B").into();
    s3["object"]["size"] = size.into();
    s3["object"]["eTag"] = format!("{size:x}").into();
    event
}

/// A WAV header and a little silence: enough for ingest to tell its channels.
fn wav() -> Vec<u8> {
    let data = vec![0u8; 3200];
    let mut w = b"RIFF".to_vec();
    w.extend((36 + data.len() as u32).to_le_bytes());
    w.extend(b"WAVEfmt \x10\0\0\0\x01\0");
    w.extend(1u16.to_le_bytes());
    w.extend(8000u32.to_le_bytes());
    w.extend(16000u32.to_le_bytes());
    w.extend(2u16.to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend((data.len() as u32).to_le_bytes());
    w.extend(data);
    w
}

async fn put(cloud: &Cloud, key: &str, bytes: Vec<u8>) {
    cloud
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let usage = "usage: function-bench [INVOCATIONS] [--target-dir DIR]";
    let mut args = std::env::args().skip(1);
    let (mut n, mut built) = (20, default_built_dir());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--target-dir" => built = args.next().context(usage)?.into(),
            count => n = count.parse::<usize>().context(usage)?.max(2),
        }
    }
    say(
        "building the functions as `sam build` does, for this machine (`cargo lambda build \
         --release --x86-64` in a function's folder; a quarter of an hour the first time)",
    );
    let mut build = tool("cargo");
    build
        .current_dir(build_folder())
        .args(["lambda", "build", "--release", "--x86-64", "--locked"])
        .args(FUNCTIONS.iter().flat_map(|f| ["--package", f]))
        .env("CARGO_TARGET_DIR", &built);
    anyhow::ensure!(build.status()?.success(), "the functions did not build");
    say("starting moto with the template's tables, queues and bucket");
    let cloud = Cloud::start_with(|d| {
        d.config.allow_private_webhook_targets = true;
    })
    .await;
    let mut env: Vec<(String, String)> = cloud
        .env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    env.extend(
        [
            ("AWS_ENDPOINT_URL", cloud.emulator.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("ALLOW_PRIVATE_WEBHOOK_TARGETS", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let tenant = TenantId::parse("acme")?;
    let deps = &cloud.app.deps;
    let mut results = Vec::new();

    say(&format!("ingest: {n} transcripts dropped in the bucket"));
    let transcript = std::fs::read(workspace().join("samples/calls/call-007.txt"))?;
    let mut events = Vec::new();
    for i in 0..n {
        let key =
            format!("recordings/acme/20261201T1{i:05}Z_+1512555{i:04}_+14155550100_inbound.txt");
        put(&cloud, &key, transcript.clone()).await;
        events.push(s3_event(&key, transcript.len()));
    }
    results.push(measure(&built, "ingest", &env, events).await?);

    say("analyze: the jobs ingest queued");
    let events = drain(&cloud, &cloud.app.deployment.analyze_queue_url).await;
    results.push(measure(&built, "analyze", &env, events).await?);

    say("score: the jobs analyze queued (the first one seeds the tenant's default rules)");
    let events = drain(&cloud, &cloud.app.deployment.score_queue_url).await;
    results.push(measure(&built, "score", &env, events).await?);

    say(&format!(
        "transcribed: {n} recordings whose Transcribe jobs finished"
    ));
    let output = std::fs::read(workspace().join("samples/calls/call-002.json"))?;
    let mut events = Vec::new();
    for i in 0..n {
        let stem = format!("rec-{i:04}");
        let meta = json!({"caller": format!("+1303555{i:04}"), "direction": "inbound",
            "started_at": "2026-12-01T10:00:00Z"});
        for (key, bytes) in [
            (
                format!("recordings/acme/{stem}.meta.json"),
                meta.to_string().into_bytes(),
            ),
            (format!("recordings/acme/{stem}.wav"), wav()),
        ] {
            put(&cloud, &key, bytes.clone()).await;
            let event = serde_json::from_value(s3_event(&key, bytes.len()))?;
            shared_aws::lambda::on_s3_event(&cloud.app, event, Duration::from_secs(60)).await?;
        }
        let call = shared::keys::call_of_stem(&tenant, &stem);
        put(
            &cloud,
            &shared::keys::transcribe_output(&tenant, &call),
            output.clone(),
        )
        .await;
        let mut event = sample_event("transcribe-job-completed.json");
        event["id"] = format!("bench-{i}").into();
        event["detail"]["TranscriptionJobName"] =
            shared::keys::transcription_job(&tenant, &call).into();
        events.push(event);
    }
    results.push(measure(&built, "transcribed", &env, events).await?);

    say(&format!("api: {n} × GET /leads through API Gateway"));
    let mut get = sample_event("apigw-get-leads.json");
    get["requestContext"]["authorizer"]["lambda"] =
        json!({"tenant": "acme", "role": "admin", "actor": "user:bench"});
    get["rawQueryString"] = "".into();
    get["queryStringParameters"] = json!({});
    results.push(measure(&built, "api", &env, vec![get; n]).await?);

    say(&format!("authorizer: {n} × an API key"));
    let (_, token) = shared::handlers::access::issue(
        deps,
        &tenant,
        &NewApiKey {
            name: "bench".into(),
            role: Role::Viewer,
        },
        chrono::Utc::now(),
    )
    .await?;
    let mut auth = sample_event("apigw-authorizer.json");
    auth["identitySource"] = json!([format!("Bearer {token}")]);
    auth["headers"]["authorization"] = format!("Bearer {token}").into();
    results.push(measure(&built, "authorizer", &env, vec![auth; n]).await?);

    say(&format!(
        "web: {n} × GET / (the web app's page) through API Gateway"
    ));
    let page = sample_event("apigw-get-page.json");
    results.push(measure(&built, "web", &env, vec![page; n]).await?);

    say(&format!(
        "webhooks: {n} attempts to a receiver on this machine"
    ));
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", receiver.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            receiver,
            axum::Router::new().route("/hook", axum::routing::post(|| async { "" })),
        )
        .await
    });
    shared::handlers::webhooks::create(
        deps,
        &tenant,
        &shared::domain::NewSubscription {
            url,
            events: [shared::domain::EventType::ModelTrained].into(),
            description: None,
            secret: None,
        },
    )
    .await?;
    let events: Vec<_> = (0..n)
        .map(|i| {
            shared::domain::Event::new(
                &tenant,
                shared::domain::EventType::ModelTrained,
                &i.to_string(),
                chrono::Utc::now(),
                shared::domain::EventData::Model(shared::domain::ModelEvent {
                    version: i as u64,
                    samples: 100,
                    auc: None,
                }),
            )
        })
        .collect();
    shared::handlers::webhooks::emit(deps, &tenant, &events).await?;
    let events = drain(&cloud, &cloud.app.deployment.webhook_queue_url).await;
    results.push(measure(&built, "webhooks", &env, events).await?);

    println!(
        "\n{:<12} {:>8} {:>9} {:>9} {:>9} {:>8} {:>9} {:>9} {:>7}",
        "function",
        "init ms",
        "first ms",
        "warm p50",
        "warm p95",
        "failed",
        "idle MiB",
        "peak MiB",
        "MiB"
    );
    for f in &results {
        let mut warm = f.warm.clone();
        warm.sort();
        println!(
            "{:<12} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>8} {:>9.1} {:>9.1} {:>7.1}",
            f.name,
            ms(f.init),
            ms(f.first),
            ms(percentile(&warm, 0.5)),
            ms(percentile(&warm, 0.95)),
            f.failed,
            f.rss_kib as f64 / 1024.0,
            f.peak_kib as f64 / 1024.0,
            f.size as f64 / 1024.0 / 1024.0,
        );
    }
    let worst_init = results.iter().map(|f| ms(f.init)).fold(0.0, f64::max);
    let worst_idle = results
        .iter()
        .map(|f| f.rss_kib as f64 / 1024.0)
        .fold(0.0, f64::max);
    println!(
        "\nagainst the baseline (issue 19: init 25-43 ms, idle 15-17 MiB): slowest init {worst_init:.1} ms \
         ({:.2}x the baseline's best, goal 15 ms); largest idle {worst_idle:.1} MiB ({:.2}x, goal 20 MiB)",
        worst_init / 25.0,
        worst_idle / 15.0
    );
    let per_call: f64 = ["ingest", "analyze", "score"]
        .iter()
        .filter_map(|name| results.iter().find(|f| f.name == *name))
        .map(|f| {
            let mut warm = f.warm.clone();
            warm.sort();
            ms(percentile(&warm, 0.5))
        })
        .sum();
    println!(
        "one transcript end to end (ingest + analyze + score, warm p50): {per_call:.1} ms of function time; \
         at 256 MB on arm64 ($0.0000133334 per GB-s, billed per ms) ${:.9} a call",
        per_call / 1000.0 * 0.25 * 0.000_013_333_4
    );
    anyhow::ensure!(
        results.iter().all(|f| f.failed == 0),
        "some invocations failed (see above)"
    );
    Ok(())
}
