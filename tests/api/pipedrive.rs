//! CRM sync with Pipedrive, against a stateful stand-in of Pipedrive's API on a real socket
//! (`testkit::pipedrive`): connecting creates the person fields and keeps the codes Pipedrive
//! gives them, subscribes the webhooks with credentials of its own, imports the persons with
//! their deals' outcomes; every scored lead's score lands on its person; deals won, lost and
//! reopened in Pipedrive come back as outcomes through the webhook; a burst of score changes
//! stays inside the two-second limits; disconnecting removes the webhooks.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::domain::{Lead, PhoneNumber, Tier};
use testkit::pipedrive::Pipedrive;

use crate::helpers::{TestApp, spawn_app_public};

pub(crate) const TOKEN: &str = "4c7b0e5d2f9a8c1b3e6d5f4a2b1c0d9e8f7a6b5c";

pub(crate) async fn connect(
    app: &TestApp,
    pipedrive: &Pipedrive,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"token": TOKEN, "base_url": pipedrive.url, "create_missing": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.send(Method::PUT, "/integrations/pipedrive", &body.to_string())
        .await
}

fn synced(lead: &Value) -> bool {
    lead["lead_score"].is_null() || lead["crm_sync"]["pipedrive"]["state"] == "synced"
}

/// A webhook request with these basic credentials.
async fn post_hook(app: &TestApp, auth: Option<(&str, &str)>) -> reqwest::Response {
    let tenant = &app.app.deps.config.tenant;
    let mut request = app
        .client
        .post(app.url(&format!("/pipedrive/{tenant}/events")))
        .header("content-type", "application/json")
        .body(
            json!({"meta": {"action": "change", "entity": "deal", "entity_id": "1",
                            "version": "2.0"}, "data": {}, "previous": null})
            .to_string(),
        );
    if let Some((user, password)) = auth {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.header("authorization", format!("Basic {basic}"));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn scores_reach_pipedrive_persons_and_deals_won_lost_and_reopened_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_public(dir.path(), shared::Config::default()).await;
    let pipedrive = Pipedrive::start(TOKEN).await;
    // GIVEN a person already in Pipedrive with a demo caller's number, typed nationally; one
    // who bought before (a won deal) and has never called; and the demo's calls scored
    let dana = pipedrive.add_person("Dana Reyes", &["(415) 555-0134"], &["dana@example.com"]);
    let lee = pipedrive.add_person("Lee Brandt", &["+1 720 555 0142"], &[]);
    let old_deal = pipedrive.add_deal(&lee, 900.0);
    pipedrive.set_deal_status(&old_deal, "won").await;
    crate::crm::copy_samples(&app);
    app.settle().await;

    // A token Pipedrive refuses is a 400 that says what it answered; a client secret is
    // refused, since leadscore makes the webhooks' credentials itself.
    let (status, answer) = connect(&app, &pipedrive, json!({"token": "wrong"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("unauthorized access"),
        "{answer}"
    );
    let (status, answer) = connect(&app, &pipedrive, json!({"client_secret": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("client_secret"));
    let (status, _) = app.get("/integrations/pipedrive").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // WHEN the tenant connects Pipedrive
    let (status, connection) = connect(&app, &pipedrive, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{connection}");
    // THEN the person fields exist, their codes are kept, and the webhooks point here
    let names = pipedrive.custom_fields();
    for (name, _, _) in shared::crm::pipedrive::FIELDS {
        assert_eq!(
            connection["field_keys"][name].as_str().map(str::len),
            Some(40),
            "{connection:#}"
        );
    }
    assert_eq!(names.len(), 6, "{names:?}");
    assert_eq!(connection["accepts_webhooks"], true);
    let hook = app.url(&format!("/pipedrive/{}/events", app.app.deps.config.tenant));
    assert_eq!(pipedrive.webhooks(), vec![hook.clone(), hook.clone()]);
    assert!(!connection.to_string().contains(TOKEN));

    // AND Lee, known only to Pipedrive, is a lead who converted; every scored lead's score is on
    // its person, Dana's on hers
    let all = app
        .wait_for("/leads?limit=200", |page| {
            page["leads"].as_array().unwrap().iter().all(synced)
        })
        .await;
    let leads = all["leads"].as_array().unwrap();
    let lee_lead = leads
        .iter()
        .find(|l| l["phone_number"] == "+17205550142")
        .expect("Lee imported");
    assert_eq!(lee_lead["outcome"]["converted"], true, "{lee_lead:#}");
    // Dated when Pipedrive last changed the person, not at the import: the time-ordered
    // check orders it among the others.
    assert_eq!(lee_lead["outcome"]["at"], "2026-11-30T16:20:00Z");
    assert_eq!(lee_lead["crm_sync"]["pipedrive"]["record_id"], lee);
    let scored: Vec<&Value> = leads
        .iter()
        .filter(|l| !l["lead_score"].is_null())
        .collect();
    assert!(scored.len() >= 20, "{} leads scored", scored.len());
    for lead in &scored {
        let person = lead["crm_sync"]["pipedrive"]["record_id"].as_str().unwrap();
        let value = |name: &str| pipedrive.custom_value(person, name).unwrap_or(Value::Null);
        assert_eq!(value("leadscore score"), lead["lead_score"], "{lead}");
        assert_eq!(value("leadscore tier"), lead["tier"]);
        let link = value("leadscore link");
        assert!(
            link.as_str()
                .unwrap()
                .ends_with(&format!("/leads/{}", lead["lead_id"].as_str().unwrap())),
            "{link}"
        );
        assert!(value("leadscore reasons").as_str().is_some());
    }
    let dana_lead = leads
        .iter()
        .find(|l| l["phone_number"] == "+14155550134")
        .unwrap();
    assert_eq!(dana_lead["crm_sync"]["pipedrive"]["record_id"], dana);
    assert_eq!(
        pipedrive.persons().len(),
        scored.len() + usize::from(lee_lead["lead_score"].is_null()),
        "each lead once: matched, not duplicated"
    );
    let stats = pipedrive.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert!(
        stats.max_in_window <= 20 && stats.max_searches_in_window <= 10,
        "{stats:?}"
    );

    // A second sync writes nothing.
    let (status, _) = app
        .send(Method::POST, "/integrations/pipedrive/sync", "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.settle().await;
    let after = pipedrive.stats();
    assert_eq!(
        (after.updates, after.searches, after.creations),
        (stats.updates, stats.searches, stats.creations)
    );

    // WHEN a rep wins Dana's deal in Pipedrive
    pipedrive.set_owner(&dana, 4711);
    let deal = pipedrive.add_deal(&dana, 5000.0);
    assert_eq!(pipedrive.set_deal_status(&deal, "won").await, vec![200]);
    app.settle().await;
    // THEN the lead is won with the deal's value, its owner is a CRM field, and it is scored
    // again
    let path = format!("/leads/{}", dana_lead["lead_id"].as_str().unwrap());
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["outcome"]["converted"], true, "{lead:#}");
    assert_eq!(lead["outcome"]["value"], 5000.0);
    assert_eq!(lead["crm"]["owner"], "4711");
    let (_, status) = app.get("/integrations/pipedrive").await;
    assert_eq!(status["counts"]["received"], 1);
    // The same news again changes nothing.
    assert_eq!(pipedrive.set_deal_status(&deal, "won").await, vec![200]);
    app.settle().await;
    let (_, status) = app.get("/integrations/pipedrive").await;
    assert_eq!(status["counts"]["received"], 1);
    // Reopened, the lead is undecided again; lost, it is lost.
    pipedrive.set_deal_status(&deal, "open").await;
    app.settle().await;
    let (_, lead) = app.get(&path).await;
    assert!(lead["outcome"].is_null(), "{lead:#}");
    pipedrive.set_deal_status(&deal, "lost").await;
    app.settle().await;
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["outcome"]["converted"], false);

    // Requests without the webhook's credentials are refused and change nothing.
    let response = post_hook(&app, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = post_hook(&app, Some(("leadscore", "guessed"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A reconnect replaces the webhooks; disconnecting removes them from Pipedrive.
    let (status, again) = connect(&app, &pipedrive, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again["field_keys"], connection["field_keys"],
        "fields found again"
    );
    assert_eq!(pipedrive.webhooks().len(), 2);
    assert_eq!(pipedrive.custom_fields().len(), 6);
    let (status, _) = app
        .send(Method::DELETE, "/integrations/pipedrive", "")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(pipedrive.webhooks().is_empty());
    assert_eq!(
        pipedrive.set_deal_status(&deal, "won").await,
        Vec::<u16>::new()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_score_changes_stays_inside_pipedrives_two_second_limits() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_public(dir.path(), shared::Config::default()).await;
    let pipedrive = Pipedrive::start(TOKEN).await;
    // An account on Professional: 80 requests per rolling two seconds.
    pipedrive.set_limit(80);
    // GIVEN 200 scored leads, each a person in Pipedrive already, typed every which way
    let tenant = app.app.deps.config.tenant.clone();
    let now = chrono::Utc::now();
    for i in 0..200u32 {
        let phone = PhoneNumber::parse(&format!("+1212555{i:04}")).unwrap();
        let typed = match i % 3 {
            0 => format!("(212) 555-{i:04}"),
            1 => format!("+1 212 555 {i:04}"),
            _ => format!("212.555.{i:04}"),
        };
        pipedrive.add_person(&format!("Caller {i}"), &[&typed], &[]);
        let mut lead = Lead::new(tenant.clone(), phone, now);
        lead.lead_score = Some(10);
        lead.tier = Some(Tier::Cold);
        lead.score_updated_at = Some(now);
        app.app.deps.leads.insert_lead(&lead).await.unwrap();
    }
    let (status, answer) = connect(&app, &pipedrive, json!({"requests_per_10s": 400})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The import matched every lead to its person: no search was needed.
    app.wait_for("/integrations/pipedrive", |c| c["counts"]["pushed"] == 200)
        .await;
    assert_eq!(pipedrive.persons().len(), 200);
    let before = pipedrive.stats();
    assert_eq!(before.searches, 0, "{before:?}");

    // WHEN a new rule changes every lead's score at once
    let (status, answer) = app
        .send(
            Method::POST,
            "/scoring_rules",
            &json!({"criteria": "calls.count == 0", "weight": 7, "description": "Never called yet"}).to_string(),
        )
        .await;
    assert!(status.is_success(), "{answer}");
    // THEN every person shows its new score, one update each, and Pipedrive never answered 429
    let done = || {
        pipedrive
            .persons()
            .keys()
            .all(|id| pipedrive.custom_value(id, "leadscore score") != Some(json!(10)))
    };
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{:?}",
            pipedrive.stats()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.settle().await;
    let after = pipedrive.stats();
    assert_eq!(after.rate_limited, 0, "{after:?}");
    assert!(after.max_in_window <= 80, "{after:?}");
    assert_eq!(after.updates - before.updates, 200, "{after:?}");
    app.stop().await;
}
