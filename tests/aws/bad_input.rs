//! Bad input on AWS: each gets a clear reason on its call (or a logged rejection when there is
//! no call), the function does not fail (so nothing is retried in a loop), and the calls beside
//! it go on.

use shared::domain::{CallId, CallStatus, Stage, TenantId};
use shared::keys::transcription_job as job_name;

use crate::chain::wav;
use crate::emulator::Cloud;
use crate::{feed, logs};

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

async fn call_status(cloud: &Cloud, stem: &str) -> Option<(CallStatus, Option<Stage>, String)> {
    let id = CallId::derive(&tenant(), &format!("name:{stem}"));
    cloud
        .app
        .deps
        .calls
        .get_call(&tenant(), &id)
        .await
        .unwrap()
        .map(|c| {
            (
                c.status,
                c.failed_stage,
                c.status_detail.unwrap_or_default(),
            )
        })
}

async fn calls_stored(cloud: &Cloud) -> i32 {
    cloud
        .dynamo
        .scan()
        .table_name("calls")
        .send()
        .await
        .unwrap()
        .count()
}

#[tokio::test]
async fn objects_outside_a_tenants_recordings_are_logged_and_left() {
    logs::init();
    let cloud = Cloud::start().await;
    for key in [
        "uploads/acme/20261120T170000Z_+14155550134_inbound.wav",
        "recordings/20261120T170001Z_+14155550134_inbound.wav",
        "recordings/Not_A_Tenant/20261120T170002Z_+14155550134_inbound.wav",
    ] {
        feed::upload(&cloud, key, &wav(1)).await;
    }
    assert_eq!(calls_stored(&cloud).await, 0);
    let logged = logs::captured();
    assert!(logged.contains("is not under recordings/"), "{logged}");
    assert!(
        logged.contains("is not of the form recordings/<tenant>/<file>"),
        "{logged}"
    );
    assert!(logged.contains("is not a valid tenant id"), "{logged}");
}

#[tokio::test]
async fn unusable_files_fail_their_call_with_the_reason() {
    logs::init();
    let cloud = Cloud::start_with(|s| {
        s.max_object_bytes = 10_000;
        s.config.metadata_wait = std::time::Duration::from_secs(1);
    })
    .await;
    // A format nobody transcribes, an empty file, and one over the size limit.
    feed::upload(
        &cloud,
        "recordings/acme/20261120T170000Z_+14155550134_inbound.pdf",
        b"%PDF-1.7",
    )
    .await;
    feed::upload(
        &cloud,
        "recordings/acme/20261120T170100Z_+14155550135_inbound.wav",
        b"",
    )
    .await;
    feed::upload(
        &cloud,
        "recordings/acme/20261120T170200Z_+14155550136_inbound.wav",
        &vec![0u8; 20_000],
    )
    .await;
    // A transcript with no usable lines; and a file that says nothing of its caller.
    feed::upload(
        &cloud,
        "recordings/acme/20261120T170300Z_+14155550137_inbound.vtt",
        b"WEBVTT\n\nnot a cue\n",
    )
    .await;
    feed::upload(&cloud, "recordings/acme/mystery.wav", &wav(1)).await;
    // And a good one beside them.
    feed::upload(
        &cloud,
        "recordings/acme/20261120T170400Z_+14155550138_inbound.txt",
        b"Agent: Thanks for calling Brightline.\nCustomer: Can you send me the pricing? We want to move forward.\n",
    )
    .await;
    // The one that says nothing of its caller waits a second for its sidecar, then fails.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    feed::settle(&cloud, 1).await;

    let (status, stage, detail) = call_status(&cloud, "20261120T170000Z_+14155550134_inbound")
        .await
        .expect("a call for the pdf");
    assert_eq!((status, stage), (CallStatus::Failed, Some(Stage::Ingest)));
    assert!(detail.contains("unsupported file type `.pdf`"), "{detail}");

    let (status, _, detail) = call_status(&cloud, "20261120T170100Z_+14155550135_inbound")
        .await
        .unwrap();
    assert_eq!(status, CallStatus::Failed);
    assert!(detail.contains("is empty"), "{detail}");

    let (status, _, detail) = call_status(&cloud, "20261120T170200Z_+14155550136_inbound")
        .await
        .unwrap();
    assert_eq!(status, CallStatus::Failed);
    assert!(
        detail.contains("20000 bytes; the limit is 10000 bytes (MAX_OBJECT_BYTES)"),
        "{detail}"
    );

    let (status, stage, detail) = call_status(&cloud, "20261120T170300Z_+14155550137_inbound")
        .await
        .unwrap();
    assert_eq!(
        (status, stage),
        (CallStatus::Failed, Some(Stage::Transcribe))
    );
    assert!(
        detail.contains("not a readable WebVTT transcript"),
        "{detail}"
    );

    assert_eq!(call_status(&cloud, "mystery").await, None);
    assert!(
        logs::captured().contains("cannot tell who the lead is on call `mystery`"),
        "{}",
        logs::captured()
    );

    let (status, _, _) = call_status(&cloud, "20261120T170400Z_+14155550138_inbound")
        .await
        .unwrap();
    assert_eq!(status, CallStatus::Scored);
}

#[tokio::test]
async fn a_failed_transcription_says_why_on_its_call() {
    logs::init();
    let cloud = Cloud::start().await;
    let stem = "20261120T170000Z_+14155550134_inbound";
    feed::upload(&cloud, &format!("recordings/acme/{stem}.wav"), &wav(1)).await;
    let id = CallId::derive(&tenant(), &format!("name:{stem}"));
    let job = job_name(&tenant(), &id);
    // Mono: Transcribe tells the voices apart.
    let settings = cloud
        .transcribe
        .get_transcription_job()
        .transcription_job_name(&job)
        .send()
        .await
        .unwrap()
        .transcription_job
        .unwrap()
        .settings
        .unwrap();
    assert_eq!(
        (
            settings.show_speaker_labels(),
            settings.max_speaker_labels()
        ),
        (Some(true), Some(2))
    );
    let reason = "The media format provided does not match the detected media format.";
    let failed = feed::transcribe_event(&job, "FAILED", Some(reason));
    feed::transcribed(&cloud, &failed).await;
    feed::transcribed(&cloud, &failed).await;
    let (status, stage, detail) = call_status(&cloud, stem).await.unwrap();
    assert_eq!(
        (status, stage),
        (CallStatus::Failed, Some(Stage::Transcribe))
    );
    assert!(detail.contains(reason), "{detail}");

    // Events for jobs leadscore did not start, or for calls it does not know, are logged.
    feed::transcribed(
        &cloud,
        &feed::transcribe_event("someone-elses-job", "COMPLETED", None),
    )
    .await;
    feed::transcribed(
        &cloud,
        &feed::transcribe_event("acme--ca_000000000000000000000000", "COMPLETED", None),
    )
    .await;
    let logged = logs::captured();
    assert!(logged.contains("was not started by leadscore"), "{logged}");
    assert!(
        logged.contains("call ca_000000000000000000000000 not found"),
        "{logged}"
    );
}

#[tokio::test]
async fn a_missing_setting_is_named() {
    let vars = std::collections::HashMap::from([("LEADS_TABLE", "leads")]);
    let err = shared_aws::Deployment::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("the environment variable CALLS_TABLE is not set"),
        "{err}"
    );
    let vars = std::collections::HashMap::from([
        ("LEADS_TABLE", "l"),
        ("CALLS_TABLE", "c"),
        ("RULES_TABLE", "r"),
        ("IDEMPOTENCY_TABLE", "i"),
        ("BUCKET", "b"),
        ("ANALYZE_QUEUE_URL", "a"),
        ("SCORE_QUEUE_URL", "s"),
        ("MAX_OBJECT_BYTES", "lots"),
    ]);
    let err = shared_aws::Deployment::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("MAX_OBJECT_BYTES is `lots`"),
        "{err}"
    );
}
