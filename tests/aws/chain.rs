//! The whole chain on the AWS adapters: a recording put in S3 -> ingest (S3 event) starts a
//! Transcribe job -> Transcribe's output appears in the bucket -> transcribed (EventBridge
//! event) -> a real SQS message -> analyze -> score -> the lead in DynamoDB -> GET /leads
//! through API Gateway's event to the API function's router.

use std::collections::BTreeMap;
use std::time::Duration;

use shared::domain::{CallId, CallStatus, Lead, PhoneNumber, ScoreCause, ScoreChange, TenantId};
use shared::keys::{transcribe_output as output_key, transcription_job as job_name};
use shared::ports::Job;

use crate::emulator::{Cloud, workspace};
use crate::feed;

const CALLER: &str = "+14155550134";

pub(crate) fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

pub(crate) fn call_id(stem: &str) -> CallId {
    CallId::derive(&tenant(), &format!("name:{stem}"))
}

/// A WAV header with `channels` channels, then a little silence: what a telephony export
/// writes (Transcribe itself is played by the test, so the audio need not say anything).
pub fn wav(channels: u16) -> Vec<u8> {
    let data = vec![0u8; 3200];
    let mut w = b"RIFF".to_vec();
    w.extend((36 + data.len() as u32).to_le_bytes());
    w.extend(b"WAVEfmt \x10\0\0\0\x01\0");
    w.extend(channels.to_le_bytes());
    w.extend(8000u32.to_le_bytes());
    w.extend((8000 * 2 * u32::from(channels)).to_le_bytes());
    w.extend((2 * channels).to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend((data.len() as u32).to_le_bytes());
    w.extend(data);
    w
}

pub(crate) fn sample(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("samples/calls").join(name)).unwrap()
}

/// A file of `tests/fixtures`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/fixtures").join(name)).unwrap()
}

async fn lead(cloud: &Cloud, phone: &str) -> Lead {
    cloud
        .app
        .deps
        .leads
        .find_lead_by_phone(
            &tenant(),
            &PhoneNumber::parse_with_region(phone, None).unwrap(),
        )
        .await
        .unwrap()
        .expect("the caller's lead")
}

async fn history(cloud: &Cloud, lead: &Lead) -> Vec<ScoreChange> {
    cloud
        .app
        .deps
        .leads
        .score_history(&tenant(), &lead.lead_id)
        .await
        .unwrap()
}

async fn transcription_jobs(cloud: &Cloud) -> Vec<String> {
    cloud
        .transcribe
        .list_transcription_jobs()
        .send()
        .await
        .unwrap()
        .transcription_job_summaries()
        .iter()
        .filter_map(|j| j.transcription_job_name().map(str::to_owned))
        .collect()
}

/// The messages the functions sent for each call: (analyze, score).
fn messages_per_call(cloud: &Cloud) -> BTreeMap<String, (usize, usize)> {
    let mut per_call: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for body in cloud.recorder.messages_to("analyze") {
        if let Job::Analyze { call_id, .. } = serde_json::from_str(&body).unwrap() {
            per_call.entry(call_id.to_string()).or_default().0 += 1;
        }
    }
    for body in cloud.recorder.messages_to("score") {
        if let Job::Score {
            cause: ScoreCause::NewCall { call_id },
            ..
        } = serde_json::from_str(&body).unwrap()
        {
            per_call.entry(call_id.to_string()).or_default().1 += 1;
        }
    }
    per_call
}

/// Amazon Transcribe finishes call `id`'s job: its output (the sample transcript of call-002)
/// lands where the job was told to write it, then its "Transcribe Job State Change" reaches
/// the transcribed function.
pub(crate) async fn transcription_completes(cloud: &Cloud, id: &CallId) {
    feed::put(cloud, &output_key(&tenant(), id), &sample("call-002.json")).await;
    feed::transcribed(
        cloud,
        &feed::transcribe_event(&job_name(&tenant(), id), "COMPLETED", None),
    )
    .await;
}

/// Everything a user could see of the result.
#[derive(Debug, PartialEq)]
struct Outcome {
    score: Option<u8>,
    call_count: u32,
    calls: usize,
    call_status: CallStatus,
    ledger: Vec<(String, u8)>,
    jobs: Vec<String>,
    /// The tenant's usage this month.
    usage: shared::domain::Usage,
}

async fn outcome(cloud: &Cloud) -> Outcome {
    let lead = lead(cloud, CALLER).await;
    let calls = cloud
        .app
        .deps
        .calls
        .calls_for_lead(&tenant(), &lead.lead_id)
        .await
        .unwrap();
    Outcome {
        score: lead.lead_score,
        call_count: lead.call_count,
        calls: calls.len(),
        call_status: calls[0].status,
        ledger: history(cloud, &lead)
            .await
            .iter()
            .map(|c| (c.cause.key(), c.score))
            .collect(),
        jobs: transcription_jobs(cloud).await,
        usage: shared::handlers::usage::usage(
            &cloud.app.deps,
            &tenant(),
            shared::domain::Month::of(chrono::Utc::now()),
        )
        .await
        .unwrap(),
    }
}

/// The chain for call-002 (a stereo recording with its sidecar), each event delivered `times`
/// times.
async fn run_chain(cloud: &Cloud, times: usize) {
    let sidecar = feed::upload(
        cloud,
        "recordings/acme/call-002.meta.json",
        &sample("call-002.meta.json"),
    )
    .await;
    let recording = feed::upload(cloud, "recordings/acme/call-002.wav", &wav(2)).await;
    for _ in 1..times {
        feed::ingest(cloud, &sidecar).await;
        feed::ingest(cloud, &recording).await;
    }
    let id = call_id("call-002");
    let job = job_name(&tenant(), &id);
    feed::put(cloud, &output_key(&tenant(), &id), &sample("call-002.json")).await;
    let done = feed::transcribe_event(&job, "COMPLETED", None);
    for _ in 0..times {
        feed::transcribed(cloud, &done).await;
    }
    feed::settle(cloud, times).await;
}

#[tokio::test]
async fn a_recording_in_the_bucket_becomes_a_ranked_lead() {
    let cloud = Cloud::start().await;
    // Another caller first: a transcript dropped instead of audio, with a colder call.
    feed::upload(
        &cloud,
        "recordings/acme/20261104T150000Z_+18885550142_+14155550100_inbound.txt",
        &sample("20261104T150000Z_+18885550142_+14155550100_inbound.txt"),
    )
    .await;
    feed::upload(
        &cloud,
        "recordings/acme/call-002.meta.json",
        &sample("call-002.meta.json"),
    )
    .await;
    feed::upload(&cloud, "recordings/acme/call-002.wav", &wav(2)).await;

    // Ingest started one Transcribe job, named after the call, on both channels.
    let id = call_id("call-002");
    let job = cloud
        .transcribe
        .get_transcription_job()
        .transcription_job_name(job_name(&tenant(), &id))
        .send()
        .await
        .expect("a Transcribe job for the call")
        .transcription_job
        .unwrap();
    assert_eq!(
        job.media().and_then(|m| m.media_file_uri()),
        Some("s3://leadscore-recordings-123456789012-us-east-1/recordings/acme/call-002.wav")
    );
    assert_eq!(job.media_format().map(|f| f.as_str()), Some("wav"));
    assert_eq!(
        job.settings().and_then(|s| s.channel_identification()),
        Some(true)
    );
    let call = feed::call(&cloud, &tenant(), &id).await;
    assert_eq!(call.status, CallStatus::Transcribing);
    assert_eq!(call.external_id.as_deref(), Some("CA0002BRIGHTLINE"));

    transcription_completes(&cloud, &id).await;
    feed::settle(&cloud, 1).await;

    let dana = lead(&cloud, CALLER).await;
    assert_eq!(dana.first_name.as_deref(), Some("Dana"));
    assert_eq!(dana.call_count, 1);
    let score = dana.lead_score.expect("scored");
    let call = feed::call(&cloud, &tenant(), &id).await;
    assert_eq!(call.status, CallStatus::Scored, "{:?}", call.status_detail);
    let analysis = call.analysis.as_ref().unwrap();
    assert!(
        analysis
            .intents
            .iter()
            .any(|h| h.quote.contains("schedule")),
        "{:?}",
        analysis.intents
    );

    // GET /leads as API Gateway delivers it, for the tenant in the token.
    let (status, body) = feed::api(&cloud, "GET", "/leads", Some("acme")).await;
    assert_eq!(status, 200, "{body}");
    let leads = body["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 2, "{body}");
    assert_eq!(leads[0]["lead_id"], dana.lead_id.as_str());
    assert_eq!(leads[0]["lead_score"], score);
    let scores: Vec<u64> = leads
        .iter()
        .map(|l| l["lead_score"].as_u64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    let (status, body) = feed::api(
        &cloud,
        "GET",
        &format!("/leads/{}", dana.lead_id),
        Some("acme"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Another tenant sees none of it; no tenant at all is refused.
    let (status, body) = feed::api(&cloud, "GET", "/leads", Some("globex")).await;
    assert_eq!((status, body["leads"].as_array().unwrap().len()), (200, 0));
    let (status, body) = feed::api(
        &cloud,
        "GET",
        &format!("/leads/{}", dana.lead_id),
        Some("globex"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = feed::api(&cloud, "GET", "/leads", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:leadscore:problem:unauthorized");

    let transcript_call = call_id("20261104T150000Z_+18885550142_+14155550100_inbound");
    // The transcript file as delivered is gone from recordings/ (its redacted copy is the
    // call's); the recording and its sidecar stay until the bucket's lifecycle expires them.
    let keys: Vec<String> = cloud
        .s3
        .list_objects_v2()
        .bucket(crate::emulator::BUCKET)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert!(
        keys.iter().all(|k| !k.ends_with("_inbound.txt")),
        "{keys:?}"
    );
    assert!(
        keys.contains(&format!(
            "transcripts/acme/{transcript_call}/transcript.json"
        )),
        "{keys:?}"
    );
    assert!(keys.contains(&"recordings/acme/call-002.wav".to_owned()));

    // One message per stage per call: SQS keeps every message it is sent, so a second one
    // would be a second analysis and a second scoring.
    assert_eq!(
        messages_per_call(&cloud),
        BTreeMap::from([
            (id.to_string(), (1, 1)),
            (transcript_call.to_string(), (1, 1))
        ])
    );
}

/// What one call costs on AWS once its tenant is set up (its first call also seeds the
/// tenant's rules), printed for the README's cost table: requests and DynamoDB units per
/// function. Bounded, so that a change that makes each call dearer is seen and argued for.
#[tokio::test]
async fn a_call_costs_a_bounded_number_of_aws_requests_and_capacity_units() {
    let cloud = Cloud::start().await;
    let first = "recordings/acme/20261104T150000Z_+18885550142_+14155550100_inbound.txt";
    feed::upload(&cloud, first, &sample(first.rsplit('/').next().unwrap())).await;
    feed::settle(&cloud, 1).await;
    let mark = cloud.recorder.mark();
    run_chain(&cloud, 1).await;
    eprintln!(
        "AWS calls for a tenant's second call (a recording), end to end:\n{}",
        cloud.recorder.summary_since(&mark)
    );
    let cost = cloud.recorder.cost_since(&mark);
    let units = cost.total_units();
    // 50 requests, 15.5 read and 42 write units when written; the units' margin is for item
    // sizes that move with timestamps and ids.
    assert!(
        cost.requests() <= 50,
        "{}",
        cloud.recorder.summary_since(&mark)
    );
    assert!(
        units.read <= 17.0 && units.write <= 45.0,
        "{}",
        cloud.recorder.summary_since(&mark)
    );
    assert_eq!(lead(&cloud, CALLER).await.call_count, 1);
}

#[tokio::test]
async fn every_event_delivered_twice_gives_the_same_result() {
    let once = Cloud::start().await;
    run_chain(&once, 1).await;
    let expected = outcome(&once).await;
    assert_eq!(expected.call_count, 1);
    assert_eq!(expected.ledger.len(), 1, "{expected:?}");
    assert_eq!(expected.jobs.len(), 1);
    // One call, its audio, one analysis, one score: counted once each (and again below,
    // with every event twice and the idempotency records forgotten: still once).
    let usage = &expected.usage;
    assert_eq!(
        (
            usage.calls_ingested,
            usage.transcripts_analysed,
            usage.leads_scored
        ),
        (1, 1, 1),
        "{usage:?}"
    );
    assert!(usage.audio_minutes_transcribed > 0.0, "{usage:?}");

    let id = call_id("call-002").to_string();
    assert_eq!(
        messages_per_call(&once),
        BTreeMap::from([(id.clone(), (1, 1))])
    );
    eprintln!(
        "AWS calls for one call, end to end:\n{}",
        once.recorder.summary()
    );

    let twice = Cloud::start().await;
    run_chain(&twice, 2).await;
    assert_eq!(outcome(&twice).await, expected);
    assert_eq!(messages_per_call(&twice), BTreeMap::from([(id, (1, 1))]));

    // Redeliveries after the idempotency records are gone (expired, or lost in a crash between
    // the work and the record): the handlers themselves change nothing.
    assert!(feed::forget_handled_events(&twice).await > 0);
    run_chain(&twice, 1).await;
    let lead = lead(&twice, CALLER).await;
    twice
        .app
        .deps
        .queue
        .send(&Job::score_new_call(
            &twice
                .app
                .deps
                .calls
                .calls_for_lead(&tenant(), &lead.lead_id)
                .await
                .unwrap()[0],
        ))
        .await
        .unwrap();
    feed::settle(&twice, 1).await;
    assert_eq!(outcome(&twice).await, expected);
}

#[tokio::test]
async fn a_poison_message_or_a_stray_job_fails_alone_and_ends_in_its_dead_letter_queue() {
    let cloud = Cloud::start().await;
    run_chain(&cloud, 1).await;
    let dana = lead(&cloud, CALLER).await;
    let settings = &cloud.app.deployment;
    let neighbour = Job::Score {
        tenant_id: tenant(),
        lead_id: dana.lead_id.clone(),
        cause: shared::domain::ScoreCause::Recompute {
            nonce: "poison-test".into(),
        },
    };
    cloud.app.deps.queue.send(&neighbour).await.unwrap();
    cloud
        .sqs
        .send_message()
        .queue_url(&settings.score_queue_url)
        .message_body("{\"job\": \"score\", \"tenant_id\": ")
        .send()
        .await
        .unwrap();

    let responses = feed::pump(
        &cloud,
        &settings.score_queue_url,
        1,
        Duration::from_secs(20),
    )
    .await;
    // The poison message went to the dead-letter queue on its first delivery, with why: no
    // retries, nothing reported failed, the neighbour not held up.
    let failures: usize = responses.iter().map(|r| r.batch_item_failures.len()).sum();
    assert_eq!(failures, 0, "{responses:?}");
    let dead = dead_letters(&cloud, &cloud.score_dlq).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].0, "{\"job\": \"score\", \"tenant_id\": ");
    assert_eq!(dead[0].1, "decode");
    assert!(dead[0].2.contains("not a job"), "{dead:?}");
    assert_eq!(
        feed::queue_depth(&cloud, &settings.score_queue_url).await,
        (0, 0)
    );
    // The neighbour was applied exactly once.
    let ledger = history(&cloud, &dana).await;
    let recomputes = ledger
        .iter()
        .filter(|c| c.cause.key() == "recompute:poison-test")
        .count();
    assert_eq!(recomputes, 1);

    // A good job on another function's queue: each function runs its own queue's jobs alone
    // (and its IAM policy allows only those), so the analyze function does not score. It goes
    // to the analyze queue's dead-letter queue at once, saying where it belongs, and is not run.
    let stray = Job::Score {
        tenant_id: tenant(),
        lead_id: dana.lead_id.clone(),
        cause: shared::domain::ScoreCause::Recompute {
            nonce: "stray-test".into(),
        },
    };
    cloud
        .sqs
        .send_message()
        .queue_url(&settings.analyze_queue_url)
        .message_body(serde_json::to_string(&stray).unwrap())
        .send()
        .await
        .unwrap();
    let responses = feed::pump(
        &cloud,
        &settings.analyze_queue_url,
        1,
        Duration::from_secs(20),
    )
    .await;
    let failures: usize = responses.iter().map(|r| r.batch_item_failures.len()).sum();
    assert_eq!(failures, 0, "{responses:?}");
    let dead = dead_letters(&cloud, &cloud.analyze_dlq).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].1, "score");
    assert!(
        dead[0]
            .2
            .contains("does not belong on the analyze queue (it travels on the score queue)"),
        "{dead:?}"
    );
    let strays = history(&cloud, &dana)
        .await
        .iter()
        .filter(|c| c.cause.key() == "recompute:stray-test")
        .count();
    assert_eq!(strays, 0, "the analyze function scored a lead");
}

/// No log line of the chain names a caller: not the numbers of the calls, not a number quoted
/// by an error about a bad sidecar, not an e-mail address. The capture writes through the same
/// redaction the functions' subscribers write through.
#[tokio::test]
async fn the_logs_of_the_chain_name_no_phone_number_or_email() {
    crate::logs::init();
    let cloud = Cloud::start().await;
    run_chain(&cloud, 2).await;
    feed::upload(
        &cloud,
        "recordings/acme/20261104T150000Z_+18885550142_+14155550100_inbound.txt",
        &sample("20261104T150000Z_+18885550142_+14155550100_inbound.txt"),
    )
    .await;
    feed::settle(&cloud, 1).await;
    // Bad input whose errors quote what they refuse.
    feed::upload(
        &cloud,
        "recordings/acme/bad-1.meta.json",
        br#"{"caller": "+1 (512) 555-01", "email": "rosa.diaz@example.com"}"#,
    )
    .await;
    feed::upload(
        &cloud,
        "recordings/acme/bad-1.txt",
        b"Agent: hello\nCaller: hi",
    )
    .await;
    feed::upload(
        &cloud,
        "recordings/acme/bad-2.meta.json",
        br#"{"caller": "+15125550199", "email": "not an address rosa.diaz@example.com"}"#,
    )
    .await;
    feed::upload(
        &cloud,
        "recordings/acme/bad-2.txt",
        b"Agent: hello\nCaller: hi",
    )
    .await;
    let logged = crate::logs::captured();
    assert!(
        logged.contains("rejected"),
        "the bad files were logged: {logged}"
    );
    for pii in [
        "4155550134",
        "555-0134",
        "8885550142",
        "4155550100",
        "512) 555",
        "5125550199",
        "rosa.diaz",
        "example.com",
    ] {
        let line = logged.lines().find(|l| l.contains(pii));
        assert!(line.is_none(), "`{pii}` was logged: {line:?}");
    }
}

/// The messages in a dead-letter queue: body, `failed_stage` and `failure_reason`.
async fn dead_letters(cloud: &Cloud, dlq: &str) -> Vec<(String, String, String)> {
    let out = cloud
        .sqs
        .receive_message()
        .queue_url(dlq)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .map(|m| {
            let attribute = |name: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                m.body().unwrap_or_default().to_owned(),
                attribute("failed_stage"),
                attribute("failure_reason"),
            )
        })
        .collect()
}

/// A job that can never succeed ends visibly: its call failed with the reason, the message in
/// its stage's dead-letter queue at once (not acknowledged as "already handled" on the
/// redelivery, as it was), and a redelivery of it changes nothing more.
#[tokio::test]
async fn a_job_that_fails_for_good_fails_its_call_and_waits_in_the_dead_letter_queue() {
    let cloud = Cloud::start().await;
    // A recording whose transcription is still running: there is nothing to analyse yet.
    feed::upload(
        &cloud,
        "recordings/acme/call-002.meta.json",
        &sample("call-002.meta.json"),
    )
    .await;
    feed::upload(&cloud, "recordings/acme/call-002.wav", &wav(2)).await;
    let id = call_id("call-002");
    let job = Job::Analyze {
        tenant_id: tenant(),
        call_id: id.clone(),
    };
    cloud.app.deps.queue.send(&job).await.unwrap();
    let settings = &cloud.app.deployment;
    // Delivered twice, as SQS may.
    let responses = feed::pump(
        &cloud,
        &settings.analyze_queue_url,
        2,
        Duration::from_secs(10),
    )
    .await;
    let failures: usize = responses.iter().map(|r| r.batch_item_failures.len()).sum();
    assert_eq!(failures, 0, "{responses:?}");

    let call = feed::call(&cloud, &tenant(), &id).await;
    assert_eq!(call.status, CallStatus::Failed);
    let reason = call.status_detail.clone().unwrap_or_default();
    assert!(reason.contains("no transcript to analyse"), "{reason}");
    let dead = dead_letters(&cloud, &cloud.analyze_dlq).await;
    assert_eq!(dead.len(), 1, "one message in the DLQ: {dead:?}");
    assert_eq!(serde_json::from_str::<Job>(&dead[0].0).unwrap(), job);
    assert_eq!(dead[0].1, "analyze");
    assert!(dead[0].2.contains("no transcript to analyse"), "{dead:?}");
    assert_eq!(
        feed::queue_depth(&cloud, &settings.analyze_queue_url).await,
        (0, 0)
    );
}

#[tokio::test]
async fn concurrent_updates_of_one_lead_lose_nothing() {
    let cloud = Cloud::start().await;
    run_chain(&cloud, 1).await;
    let before = lead(&cloud, CALLER).await;
    let deps = &cloud.app.deps;
    let n = 8;
    let mut tasks = Vec::new();
    for i in 0..n {
        let deps = deps.clone();
        let lead_id = before.lead_id.clone();
        tasks.push(tokio::spawn(async move {
            // As SQS would: a job that lost a race is retried.
            let job = Job::Score {
                tenant_id: tenant(),
                lead_id: lead_id.clone(),
                cause: shared::domain::ScoreCause::Recompute {
                    nonce: format!("n{i}"),
                },
            };
            let mut tries = 0;
            loop {
                match shared::handlers::run_job(&deps, &job).await {
                    Err(e) if e.is_retryable() && tries < 50 => tries += 1,
                    other => break other.unwrap(),
                }
            }
            let call = CallId::parse(&format!("ca_extra{i}")).unwrap();
            deps.leads
                .note_call(&tenant(), &lead_id, &call, chrono::Utc::now())
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = lead(&cloud, CALLER).await;
    assert_eq!(after.call_count, before.call_count + n);
    let ledger = history(&cloud, &after).await;
    assert_eq!(ledger.len(), 1 + n as usize, "{ledger:?}");
    assert_eq!(after.version, before.version + 2 * u64::from(n));
}

/// `POST /calls` with a recording's file name: the metadata is kept beside where the audio will
/// land, the client `PUT`s the audio to the presigned URL, and its arrival starts the chain with
/// that metadata. Bad requests are refused and store nothing.
#[tokio::test]
async fn a_recording_uploaded_through_the_api_becomes_a_call_with_its_metadata() {
    let cloud = Cloud::start().await;
    let request = serde_json::json!({
        "caller": "+1 (512) 555-0147",
        "external_id": "CA-77",
        "first_name": "Rosa",
        "recording": {"file_name": "Rosa call.WAV"},
    });
    let (status, ticket) =
        feed::api_with(&cloud, "POST", "/calls", Some("acme"), Some(request)).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(ticket["key"], "recordings/acme/CA-77.wav");
    let id = call_id("CA-77");
    assert_eq!(ticket["call_id"], id.to_string());
    let url = ticket["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&cloud.emulator.url), "{url}");
    assert!(url.contains("X-Amz-Signature="), "a presigned URL: {url}");

    // The client uploads with nothing but the URL (authorised as the API function that
    // signed it).
    cloud.recorder.presigned("PUT", url);
    let put = reqwest::Client::new()
        .put(url)
        .body(wav(1))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{:?}", put.text().await);
    let head = cloud
        .s3
        .head_object()
        .bucket(crate::emulator::BUCKET)
        .key("recordings/acme/CA-77.wav")
        .send()
        .await
        .unwrap();
    let etag = head.e_tag().unwrap().trim_matches('"').to_owned();
    feed::ingest(
        &cloud,
        &feed::s3_event("recordings/acme/CA-77.wav", wav(1).len(), &etag),
    )
    .await;

    let call = feed::call(&cloud, &tenant(), &id).await;
    assert_eq!(
        call.status,
        CallStatus::Transcribing,
        "{:?}",
        call.status_detail
    );
    assert_eq!(call.external_id.as_deref(), Some("CA-77"));
    let rosa = lead(&cloud, "+15125550147").await;
    assert_eq!(rosa.first_name.as_deref(), Some("Rosa"));
    assert_eq!(
        transcription_jobs(&cloud).await,
        vec![job_name(&tenant(), &id)]
    );

    for (body, problem) in [
        (
            serde_json::json!({"caller": "+15125550147", "recording": {"file_name": "notes.pdf"}}),
            "recording.file_name: `notes.pdf` is not a recording",
        ),
        (
            serde_json::json!({"caller": "+15125550147", "recording": {"file_name": "../x.wav"}}),
            "recording.file_name: required, a plain file name",
        ),
        (
            serde_json::json!({"caller": "+15125550147", "recording": {}}),
            "recording.file_name: required",
        ),
        (
            serde_json::json!({"caller": "not a phone", "recording": {"file_name": "y.wav"}}),
            "caller",
        ),
        (
            serde_json::json!({"recording": {"file_name": "z.wav"}, "transcript": {"format": "text", "content": "A: hi"}}),
            "send one of them, not both",
        ),
    ] {
        let (status, answer) =
            feed::api_with(&cloud, "POST", "/calls", Some("acme"), Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains(problem), "{detail}");
    }
    let keys: Vec<String> = cloud
        .s3
        .list_objects_v2()
        .bucket(crate::emulator::BUCKET)
        .prefix("recordings/")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(
        keys,
        [
            "recordings/acme/CA-77.meta.json",
            "recordings/acme/CA-77.wav"
        ],
        "refused requests store nothing"
    );
}

/// Uploads are not ordered: a transcript that does not say who called waits in the bucket for
/// its sidecar and is taken when the sidecar lands (before, it was rejected, and the late
/// sidecar ignored: the call was lost); one whose sidecar never comes fails visibly when the
/// wait is over, in the dead-letter queue with the reason.
#[tokio::test]
async fn a_sidecar_that_lands_after_its_transcript_completes_the_call() {
    let cloud = Cloud::start_with(|s| s.config.metadata_wait = Duration::from_secs(2)).await;
    feed::upload(
        &cloud,
        "recordings/acme/late-1.txt",
        b"Agent: Acme Solar.\nCaller: Please send me a quote today.\n",
    )
    .await;
    let id = call_id("late-1");
    assert!(
        cloud
            .app
            .deps
            .calls
            .get_call(&tenant(), &id)
            .await
            .unwrap()
            .is_none()
    );
    feed::upload(
        &cloud,
        "recordings/acme/late-1.meta.json",
        br#"{"caller": "+15125550171", "caller_name": "Ines Park"}"#,
    )
    .await;
    feed::settle(&cloud, 1).await;
    let ines = lead(&cloud, "+15125550171").await;
    assert_eq!(ines.first_name.as_deref(), Some("Ines"));
    assert!(ines.lead_score.is_some());

    // Another never gets its sidecar.
    feed::upload(
        &cloud,
        "recordings/acme/lonely.txt",
        b"Agent: hello\nCaller: hi\n",
    )
    .await;
    // The deadlines come due (SQS holds them until then).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    feed::settle(&cloud, 1).await;
    let dead = dead_letters(&cloud, &cloud.analyze_dlq).await;
    assert_eq!(dead.len(), 1, "only the lonely one failed: {dead:?}");
    assert_eq!(dead[0].1, "ingest");
    assert!(
        dead[0]
            .2
            .contains("cannot tell who the lead is on call `lonely`"),
        "{dead:?}"
    );
    assert!(dead[0].2.contains("none came within 2 seconds"), "{dead:?}");
    assert_eq!(
        cloud
            .app
            .deps
            .calls
            .get_call(&tenant(), &id)
            .await
            .unwrap()
            .unwrap()
            .status,
        CallStatus::Scored
    );
}

/// A Gong document in the bucket says who the lead is itself: taken at once, alone (the
/// sidecar wait is long here), with one message per stage.
#[tokio::test]
async fn a_gong_document_in_the_bucket_needs_no_sidecar() {
    let cloud = Cloud::start_with(|s| s.config.metadata_wait = Duration::from_secs(600)).await;
    let gong =
        std::fs::read(workspace().join("tests/fixtures/gong/call_with_parties.json")).unwrap();
    feed::upload(
        &cloud,
        "recordings/acme/gong-7782342274025937895.json",
        &gong,
    )
    .await;
    feed::settle(&cloud, 1).await;
    let dana = lead(&cloud, "+14155550134").await;
    assert_eq!(dana.first_name.as_deref(), Some("Dana"));
    assert!(dana.lead_score.is_some(), "scored without waiting");
    let id = call_id("gong-7782342274025937895");
    let call = cloud
        .app
        .deps
        .calls
        .get_call(&tenant(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.agent_speaker.as_deref(), Some("Maya Chen"));
    assert_eq!(
        messages_per_call(&cloud),
        BTreeMap::from([(id.to_string(), (1, 1))])
    );
}

/// A sidecar that lands after its call was registered from the file name (which said who
/// called) takes nothing again: with the call transcribed and its analysis queued, taking the
/// recording again would queue a second analysis.
#[tokio::test]
async fn a_late_sidecar_for_a_registered_call_changes_nothing() {
    let cloud = Cloud::start().await;
    let stem = "20261120T170000Z_+14155550134_inbound";
    feed::upload(&cloud, &format!("recordings/acme/{stem}.wav"), &wav(2)).await;
    let id = call_id(stem);
    transcription_completes(&cloud, &id).await;
    feed::upload(
        &cloud,
        &format!("recordings/acme/{stem}.meta.json"),
        br#"{"caller": "+14155550134", "caller_name": "Late Comer"}"#,
    )
    .await;
    feed::settle(&cloud, 1).await;
    assert_eq!(
        messages_per_call(&cloud),
        BTreeMap::from([(id.to_string(), (1, 1))])
    );
}

/// What a page of the lead list costs on DynamoDB, printed for the README: the API function's
/// requests and read units for a page of 50 in each order, over 120 scored leads (each about
/// as large as the list bench's). Each order is one query of its index, whatever the tenant
/// holds.
#[tokio::test]
async fn a_page_of_the_lead_list_is_one_query_in_each_order() {
    let cloud = Cloud::start().await;
    let tenant = TenantId::parse("acme").unwrap();
    for i in 0..120 {
        let lead = testkit::leads::lead(&tenant, i);
        cloud.app.deps.leads.insert_lead(&lead).await.unwrap();
    }
    for order in ["score", "last_activity", "name"] {
        let path = format!("/leads?limit=50&sort={order}");
        let mark = cloud.recorder.mark();
        let (status, body) = feed::api(&cloud, "GET", &path, Some("acme")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["leads"].as_array().unwrap().len(), 50, "{body}");
        let cost = cloud.recorder.cost_since(&mark);
        let summary = cloud.recorder.summary_since(&mark);
        eprintln!("GET {path}:\n{summary}");
        let queries: usize = cost
            .operations
            .iter()
            .filter(|((_, op), _)| op.contains("Query"))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(queries, 1, "{summary}");
        // Besides the page, the request counts against the tenant's rate and its usage: one
        // update each.
        assert!(cost.requests() <= 3, "{summary}");
        // 51 leads of about 0.65 KB, eventually consistent: 5 units when written.
        assert!(cost.total_units().read <= 6.0, "{summary}");
    }
}
