//! At-least-once delivery and crashes: work interrupted half-way resumes on the next start and
//! is never done twice.

use std::time::Duration;

use shared::domain::{ScoreCause, TenantId};
use shared::local::{LocalApp, group_files, ingest_group};
use shared::ports::Job;

use crate::helpers::sample;

async fn ingest(app: &LocalApp, names: &[&str]) {
    let groups = group_files(names.iter().map(|n| sample(n)));
    for g in groups {
        let outcome = ingest_group(&app.deps, &TenantId::default_tenant(), &g).await;
        assert!(outcome.all_ok(), "{:?}", outcome.results);
    }
}

#[tokio::test]
async fn a_job_interrupted_by_a_crash_resumes_after_restart_and_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    {
        // GIVEN a call ingested and its analysis claimed by a worker that then dies
        let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
        ingest(&app, &["call-001.vtt", "call-001.meta.json"]).await;
        let claimed = app
            .store
            .claim(Duration::from_millis(200))
            .await
            .unwrap()
            .expect("an analyze job");
        assert!(matches!(claimed.job, Job::Analyze { .. }));
    } // the process is gone; the job is still marked running

    // WHEN the app starts again on the same folder
    tokio::time::sleep(Duration::from_millis(250)).await;
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let ran = app.worker().drain().await.unwrap();

    // THEN the interrupted job ran (analyze, then score) and the lead is scored once
    assert_eq!(ran, 2);
    let page = app
        .deps
        .leads
        .list_leads(&tenant, &Default::default())
        .await
        .unwrap();
    let lead = &page.items[0];
    assert!(lead.lead_score.is_some());
    assert_eq!(
        app.deps
            .leads
            .score_history(&tenant, &lead.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );

    // AND a redelivered score message (SQS may do that) changes nothing
    let call = &app
        .deps
        .calls
        .calls_for_lead(&tenant, &lead.lead_id)
        .await
        .unwrap()[0];
    let again = Job::Score {
        tenant_id: tenant.clone(),
        lead_id: lead.lead_id.clone(),
        cause: ScoreCause::NewCall {
            call_id: call.call_id.clone(),
        },
    };
    shared::ports::Queue::send(&app.store, &again)
        .await
        .unwrap();
    let redelivered = Job::Analyze {
        tenant_id: tenant.clone(),
        call_id: call.call_id.clone(),
    };
    shared::ports::Queue::send(&app.store, &redelivered)
        .await
        .unwrap();
    app.worker().drain().await.unwrap();
    assert_eq!(
        app.deps
            .leads
            .score_history(&tenant, &lead.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
    let after = app
        .deps
        .leads
        .get_lead(&tenant, &lead.lead_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.call_count, after.lead_score), (1, lead.lead_score));
}

#[tokio::test]
async fn a_lost_queue_message_is_sent_again_when_the_file_is_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    ingest(&app, &["call-005.json", "call-005.meta.json"]).await;
    // The analyze message is lost (taken and never run).
    let lost = app
        .store
        .claim(Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    app.store.complete(lost.id).await.unwrap();
    assert_eq!(app.worker().drain().await.unwrap(), 0);

    // The bucket delivers the object again: ingest sees a duplicate but re-queues the next stage.
    ingest(&app, &["call-005.json", "call-005.meta.json"]).await;
    assert_eq!(app.worker().drain().await.unwrap(), 2);
    let page = app
        .deps
        .leads
        .list_leads(&TenantId::default_tenant(), &Default::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        (page.items[0].call_count, page.items[0].lead_score.is_some()),
        (1, true)
    );
}

#[tokio::test]
async fn concurrent_deliveries_of_one_call_make_one_call_and_one_lead() {
    let dir = tempfile::tempdir().unwrap();
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(
                async move { ingest(&app, &["call-012.json", "call-012.meta.json"]).await },
            )
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    app.worker().drain().await.unwrap();
    let tenant = TenantId::default_tenant();
    let page = app
        .deps
        .leads
        .list_leads(&tenant, &Default::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].call_count, 1);
    assert_eq!(
        app.deps
            .leads
            .score_history(&tenant, &page.items[0].lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A change that re-scores every lead answers at once and re-scores in the background, a page
/// of leads per job, with a resource to watch; a crash part-way loses nothing: the next start
/// finishes it, and every lead is re-scored exactly once.
#[tokio::test]
async fn a_rescore_of_every_lead_runs_in_pages_and_resumes_after_a_crash() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let leads = 450; // three pages of 200
    let rescore_path = {
        let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
        for i in 0..leads {
            let lead = shared::domain::Lead::new(
                tenant.clone(),
                shared::domain::PhoneNumber::parse(&format!("+1512555{:04}", 3000 + i)).unwrap(),
                chrono::Utc::now(),
            );
            app.deps.leads.insert_lead(&lead).await.unwrap();
        }
        // GIVEN new tiers saved through the API
        let response = shared::handlers::api::router(app.deps.clone())
            .oneshot(
                Request::put("/settings")
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"tiers": {"hot": 80, "warm": 50}}"#))
                    .unwrap(),
            )
            .await
            .unwrap();
        // THEN it answers before any lead is re-scored, naming the re-score to watch
        assert_eq!(response.status(), 200);
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["tiers"]["hot"], 80);
        assert_eq!(body["rescore"]["state"], "queued");
        let path = body["rescore"]["path"].as_str().unwrap().to_owned();
        assert_eq!(link, format!("<{path}>; rel=\"monitor\""));
        // WHEN the first page runs, and the process dies holding the second page's job
        assert!(app.worker().run_one().await.unwrap());
        let claimed = app
            .store
            .claim(Duration::from_millis(200))
            .await
            .unwrap()
            .expect("a job");
        assert!(matches!(
            claimed.job,
            Job::Score { .. } | Job::Rescore { .. }
        ));
        path
    };
    tokio::time::sleep(Duration::from_millis(250)).await;
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    app.worker().drain().await.unwrap();

    // THEN the re-score finished after the restart, and every lead was re-scored once with it
    let id = rescore_path.trim_start_matches("/rescores/");
    let rescore = shared::handlers::score::Rescore::load(&app.deps, &tenant, id)
        .await
        .unwrap()
        .expect("the re-score");
    assert_eq!(rescore.state, shared::handlers::score::RescoreState::Done);
    assert_eq!(rescore.leads_queued, leads as usize);
    let mut after = None;
    let mut rescored = 0;
    loop {
        let ids = app
            .deps
            .leads
            .lead_ids(&tenant, after.as_ref(), 200)
            .await
            .unwrap();
        let Some(last) = ids.last().cloned() else {
            break;
        };
        for id in &ids {
            let history = app.deps.leads.score_history(&tenant, id).await.unwrap();
            let with_cause = history
                .iter()
                .filter(|c| matches!(&c.cause, ScoreCause::Recompute { nonce } if nonce.starts_with("settings@")))
                .count();
            assert_eq!(with_cause, 1, "lead {id}");
            rescored += 1;
        }
        after = Some(last);
    }
    assert_eq!(rescored, leads);
}
