//! The hourly sweep as AWS runs it: EventBridge Scheduler's message (the template's own
//! `Input`, sent to the score queue as its role allows) is worked through by the score
//! function, which lists the tenants through the rules table's sparse index and re-scores the
//! tenant with decaying rules; every call held against the function's policy.

use serde_json::Value;
use shared::handlers::score::{Rescore, RescoreState};

use crate::emulator::{Cloud, template};
use crate::feed;

#[tokio::test]
async fn the_scheduled_sweep_reaches_the_score_function_and_rescores_the_decaying_tenant() {
    let cloud = Cloud::start().await;
    // GIVEN a tenant that has scored a lead (its starting rules, some decaying, seeded)
    let lead = feed::post_call(&cloud, "+15125550170", "Customer: Send me a quote.").await;
    feed::settle(&cloud, 2).await;

    // The schedule sends the template's Input to the score queue, as its role may.
    let resources = &template()["Resources"];
    let target = &resources["SweepSchedule"]["Properties"]["Target"];
    let arn = format!("{:?}", target["Arn"]);
    assert!(
        arn.contains("GetAtt") && arn.contains("ScoreQueue.Arn"),
        "{arn}"
    );
    let statement = &resources["SweepScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"][0];
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(statement["Resource"], target["Arn"]);
    let input = target["Input"].as_str().unwrap();
    let job: shared::ports::Job = serde_json::from_str(input).unwrap();
    assert_eq!(job, shared::ports::Job::Sweep { after: None });
    assert_eq!(
        serde_json::from_str::<Value>(input).unwrap(),
        serde_json::json!({"job": "sweep"}),
        "feed::send_sweep sends what the schedule sends"
    );
    let before = cloud.recorder.messages_to("score").len();
    feed::send_sweep(&cloud).await;

    // WHEN the score function works it through (every message delivered twice)
    feed::settle(&cloud, 2).await;

    // THEN the tenant's leads were re-scored with the day's decay, once
    let tenant = shared::domain::TenantId::parse("acme").unwrap();
    let day = chrono::Utc::now().format("%Y%m%d").to_string();
    let rescore = Rescore::load(&cloud.app.deps, &tenant, &format!("decay{day}"))
        .await
        .unwrap()
        .expect("the day's decay re-score");
    assert_eq!(rescore.state, RescoreState::Done, "{rescore:?}");
    assert_eq!(rescore.leads_queued, 1);
    let schedule = shared::handlers::schedule::load(&cloud.app.deps, &tenant)
        .await
        .unwrap();
    assert!(schedule.decayed_at.is_some() && schedule.retrained_at.is_some());
    // The sweep queued the re-score, the re-score its one lead: two messages, however often
    // SQS delivered them.
    let sent: Vec<String> = cloud.recorder.messages_to("score")[before..].to_vec();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let (_, got): (u16, Value) =
        feed::api_with(&cloud, "GET", &format!("/leads/{lead}"), Some("acme"), None).await;
    assert!(got["lead_score"].is_number());
}

/// The outbox on DynamoDB: a score change saved by a process that died before its emit (the
/// save made, the events not handed on) is handed on by the next sweep, in the score function,
/// its outbox item then gone; a subscriber hears of it once.
#[tokio::test]
async fn the_sweep_hands_on_a_score_change_whose_process_died_before_its_emit() {
    let cloud = Cloud::start_with(|d| d.config.allow_private_webhook_targets = true).await;
    let secret = testkit::webhooks::secret();
    let receiver = testkit::webhooks::Receiver::start(&secret).await;
    let (status, _) = feed::api_with(
        &cloud,
        "POST",
        "/webhooks",
        Some("acme"),
        Some(serde_json::json!({"url": receiver.url, "secret": secret, "events": ["lead.score_changed"]})),
    )
    .await;
    assert_eq!(status, 201);
    let lead = feed::post_call(&cloud, "+15125550171", "Customer: Send me a quote.").await;
    feed::settle(&cloud, 2).await;
    // The day's decay done, so the sweep below has only the outbox to do.
    feed::send_sweep(&cloud).await;
    feed::settle(&cloud, 2).await;

    // GIVEN a change saved as `score::handle` saves it, by a process that then died
    let tenant = shared::domain::TenantId::parse("acme").unwrap();
    let deps = &cloud.app.deps;
    let id = shared::domain::LeadId::parse(&lead).unwrap();
    testkit::contract::save_score_without_emit(deps, &tenant, &id, 1).await;
    let later = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    assert_eq!(
        deps.leads
            .undispatched(&tenant, later, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // WHEN the hourly sweep runs (every message delivered twice)
    feed::send_sweep(&cloud).await;
    feed::settle(&cloud, 2).await;

    // THEN the subscriber hears of the change, once, and nothing waits
    let manual = |r: &Value| r["payload"]["data"]["cause"]["type"] == "manual";
    let heard = receiver
        .wait_for(std::time::Duration::from_secs(10), manual)
        .await;
    assert_eq!(heard["payload"]["data"]["score"], 1, "{heard:#}");
    assert_eq!(heard["verified"], true, "{heard:#}");
    let times = receiver
        .received()
        .await
        .iter()
        .filter(|r| manual(r) && r["answered"].as_u64() == Some(200))
        .count();
    assert_eq!(times, 1);
    assert!(
        deps.leads
            .undispatched(&tenant, later, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
