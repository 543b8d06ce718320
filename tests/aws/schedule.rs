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
