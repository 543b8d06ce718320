//! The scheduled sweep on the embedded store: each tenant with decaying rules is re-scored
//! once a day (not once per sweep), a tenant without them is left alone, and a challenger is
//! tried weekly; the re-score reaches every lead with the day's cause.

use chrono::{TimeDelta, Utc};
use shared::domain::{Lead, PhoneNumber, ScoreCause, TenantId, Tier};
use shared::handlers::schedule::{Swept, sweep};
use shared::local::LocalApp;
use shared::ports::Job;

/// A lead whose stored score is stale (99, hot): any re-score changes it.
async fn stale_lead(app: &LocalApp, tenant: &TenantId, phone: &str) -> Lead {
    let now = Utc::now();
    let mut lead = Lead::new(tenant.clone(), PhoneNumber::parse(phone).unwrap(), now);
    lead.lead_score = Some(99);
    lead.tier = Some(Tier::Hot);
    app.deps.leads.insert_lead(&lead).await.unwrap();
    lead
}

#[tokio::test]
async fn the_sweep_rescores_decaying_tenants_daily_and_tries_a_challenger_weekly() {
    let dir = tempfile::tempdir().unwrap();
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let worker = app.worker();
    let acme = TenantId::parse("acme").unwrap();
    let quiet = TenantId::parse("quiet").unwrap();
    // GIVEN two tenants that have scored a lead (their starting rules seeded); `quiet` has
    // turned off every rule that decays
    for (tenant, phone) in [(&acme, "+14155550101"), (&quiet, "+14155550102")] {
        let lead = stale_lead(&app, tenant, phone).await;
        app.deps
            .queue
            .send(&Job::Score {
                tenant_id: tenant.clone(),
                lead_id: lead.lead_id,
                cause: ScoreCause::Recompute {
                    nonce: "first".into(),
                },
            })
            .await
            .unwrap();
    }
    worker.drain().await.unwrap();
    for mut rule in app.deps.rules.list_rules(&quiet).await.unwrap() {
        if rule.half_life_days.is_some() {
            rule.enabled = false;
            app.deps.rules.update_rule(&rule).await.unwrap();
        }
    }
    assert_eq!(
        app.deps.rules.tenants(None, 10).await.unwrap(),
        vec![acme.clone(), quiet.clone()]
    );
    let stale = stale_lead(&app, &acme, "+14155550103").await;
    // and a lead never scored (its only call waits for its transcript)
    let waiting = Lead::new(
        acme.clone(),
        PhoneNumber::parse("+14155550104").unwrap(),
        Utc::now(),
    );
    app.deps.leads.insert_lead(&waiting).await.unwrap();

    // WHEN the sweep runs
    let t0 = Utc::now();
    let swept = sweep(&app.deps, None, t0).await.unwrap();
    // THEN acme, with rules that decay, is re-scored; quiet is not; the week starts
    assert_eq!(
        swept,
        Swept {
            tenants: 2,
            decays: 1,
            retrains: 0,
            polls: 0,
            gong_pulls: 0,
            dispatched: 0,
        }
    );
    worker.drain().await.unwrap();
    let history = app
        .deps
        .leads
        .score_history(&acme, &stale.lead_id)
        .await
        .unwrap();
    let day = t0.format("%Y-%m-%d").to_string();
    // A decay has nothing to fade on a lead never scored: it stays unscored, last in the list.
    let untouched = app
        .deps
        .leads
        .get_lead(&acme, &waiting.lead_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.lead_score, None);
    assert!(
        app.deps
            .leads
            .score_history(&acme, &waiting.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        history
            .iter()
            .any(|c| c.cause == ScoreCause::Decay { day: day.clone() } && c.previous == Some(99)),
        "{history:#?}"
    );
    // Hourly sweeps the same day queue nothing more.
    let later = sweep(&app.deps, None, t0 + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!((later.decays, later.retrains), (0, 0));
    // The next day, the next re-score.
    let next_day = sweep(&app.deps, None, t0 + TimeDelta::hours(25))
        .await
        .unwrap();
    assert_eq!((next_day.decays, next_day.retrains), (1, 0));
    worker.drain().await.unwrap();
    // A week on, a challenger is tried for each tenant (none trains: no outcomes yet), and
    // nothing fails.
    let week = sweep(&app.deps, None, t0 + TimeDelta::days(7))
        .await
        .unwrap();
    assert_eq!((week.decays, week.retrains), (1, 2));
    worker.drain().await.unwrap();
    assert_eq!(app.store.queue_counts().await.unwrap().dead, 0);
    let schedule = shared::handlers::schedule::load(&app.deps, &acme)
        .await
        .unwrap();
    assert_eq!(schedule.retrained_at, Some(t0 + TimeDelta::days(7)));
}
