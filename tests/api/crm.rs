//! CRM sync with HubSpot, against a stateful stand-in of HubSpot's API on a real socket
//! (`testkit::hubspot`): connecting creates the properties, every scored lead's score lands on
//! its contact (found by phone number however it was typed, else created), a second sync
//! writes nothing, the app's signed webhooks bring stages and deals back as outcomes, and a
//! burst of a thousand score changes stays inside the account's rate limit.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::domain::{Lead, PhoneNumber, Tier};
use testkit::hubspot::HubSpot;

use crate::helpers::{TestApp, spawn_app};

pub(crate) const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
const CLIENT_SECRET: &str = "8c2d0f3e-6b1a-4c55-9e1e-3f2b7a9d0c11";

pub(crate) fn copy_samples(app: &TestApp) {
    let samples = crate::helpers::repo_root().join("samples/calls");
    for entry in std::fs::read_dir(samples).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        // Transcripts and sidecars; recordings wait for a speech engine these tests do not
        // install.
        if [".txt", ".vtt", ".srt", ".json"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            std::fs::copy(&path, app.app.inbox_dir().join(&name)).unwrap();
        }
    }
}

pub(crate) async fn connect(app: &TestApp, hubspot: &HubSpot, extra: Value) -> Value {
    let mut body = json!({
        "token": TOKEN,
        "client_secret": CLIENT_SECRET,
        "base_url": hubspot.url,
        "create_missing": true,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, answer) = app
        .send(Method::PUT, "/integrations/hubspot", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Every lead, as the API lists them.
async fn leads(app: &TestApp) -> Vec<Value> {
    let (_, page) = app.get("/leads?limit=200").await;
    page["leads"].as_array().unwrap().clone()
}

fn synced(lead: &Value) -> bool {
    lead["lead_score"].is_null() || lead["crm_sync"]["hubspot"]["state"] == "synced"
}

#[tokio::test]
async fn scores_reach_hubspot_contacts_and_stages_and_deals_come_back_as_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let hubspot = HubSpot::start(TOKEN).await;
    // GIVEN a contact already in HubSpot with a demo caller's number, typed nationally, and
    // the demo's calls scored
    let existing = hubspot.add_contact(&[
        ("firstname", "Dana"),
        ("phone", "(415) 555-0134"),
        ("lifecyclestage", "lead"),
    ]);
    copy_samples(&app);
    app.settle().await;
    let scored = leads(&app)
        .await
        .into_iter()
        .filter(|l| !l["lead_score"].is_null())
        .count();
    assert!(scored >= 20, "{scored} leads scored");

    // A token HubSpot refuses is a 400 that says so, and nothing is connected.
    let (status, answer) = app
        .send(
            Method::PUT,
            "/integrations/hubspot",
            &json!({"token": "pat-na1-wrong", "base_url": hubspot.url}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("INVALID_AUTHENTICATION"),
        "{answer}"
    );
    let (status, _) = app.get("/integrations/hubspot").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // WHEN the tenant connects HubSpot
    let connection = connect(&app, &hubspot, json!({})).await;
    assert_eq!(connection["state"], "connected");
    assert!(
        !serde_json::to_string(&connection).unwrap().contains(TOKEN)
            && !serde_json::to_string(&connection)
                .unwrap()
                .contains(CLIENT_SECRET)
    );
    // THEN the properties exist, and every scored lead's score is on its contact
    assert!(hubspot.has_property("leadscore_score") && hubspot.has_property("leadscore_reasons"));
    let all = app
        .wait_for("/leads?limit=200", |page| {
            page["leads"].as_array().unwrap().iter().all(synced)
        })
        .await;
    let contacts = hubspot.contacts();
    for lead in all["leads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["lead_score"].is_null())
    {
        let sync = &lead["crm_sync"]["hubspot"];
        let contact = &contacts[sync["record_id"].as_str().unwrap()];
        assert_eq!(
            contact["leadscore_score"],
            lead["lead_score"].to_string(),
            "{lead}"
        );
        assert_eq!(contact["leadscore_tier"], lead["tier"].as_str().unwrap());
        assert_eq!(
            PhoneNumber::parse_with_region(&contact["phone"], Some("US"))
                .unwrap()
                .as_str(),
            lead["phone_number"].as_str().unwrap()
        );
        assert!(
            contact["leadscore_link"]
                .ends_with(&format!("/leads/{}", lead["lead_id"].as_str().unwrap()))
        );
        let reasons = contact["leadscore_reasons"].lines().count();
        assert!((1..=3).contains(&reasons), "{contact:?}");
    }
    // The existing contact was matched by its number, not duplicated.
    let dana = all["leads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["phone_number"] == "+14155550134")
        .unwrap();
    assert_eq!(dana["crm_sync"]["hubspot"]["record_id"], existing);
    assert_eq!(contacts.len(), scored);
    let (_, status) = app.get("/integrations/hubspot").await;
    assert_eq!(status["counts"]["pushed"], scored);
    assert_eq!(status["counts"]["created"], scored - 1);

    // A second sync writes nothing: every contact shows its lead's score already.
    let before = hubspot.stats();
    let (status, _) = app
        .send(Method::POST, "/integrations/hubspot/sync", "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.settle().await;
    let after = hubspot.stats();
    assert_eq!(after.batch_inputs, before.batch_inputs);
    assert_eq!(after.searches, before.searches);

    // WHEN a rep marks the contact a customer in HubSpot, and the app's webhook says so
    let hook = app.url(&format!("/hubspot/{}/events", app.app.deps.config.tenant));
    hubspot.set_property(&existing, "lifecyclestage", "customer");
    hubspot.set_property(&existing, "hubspot_owner_id", "4711");
    let event = json!([{
        "eventId": 100, "subscriptionId": 1, "portalId": 62515, "appId": 1,
        "occurredAt": chrono::Utc::now().timestamp_millis(),
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": existing.parse::<u64>().unwrap(), "changeSource": "CRM",
        "propertyName": "lifecyclestage", "propertyValue": "customer"
    }]);
    let now = chrono::Utc::now().timestamp_millis();
    let (status, answer) = HubSpot::send_webhook(&hook, CLIENT_SECRET, &event, now).await;
    assert_eq!(
        (status, answer["queued"].clone()),
        (202, json!(1)),
        "{answer}"
    );
    app.settle().await;
    // THEN the lead is won, with the owner as a CRM field, and it is scored again
    let path = format!("/leads/{}", dana["lead_id"].as_str().unwrap());
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["outcome"]["converted"], true);
    assert_eq!(lead["crm"]["owner"], "4711");
    assert_eq!(lead["crm_lead_status"], "customer");
    let (_, status) = app.get("/integrations/hubspot").await;
    assert_eq!(status["counts"]["received"], 1);
    // The same delivery again changes nothing.
    let (status, _) = HubSpot::send_webhook(&hook, CLIENT_SECRET, &event, now).await;
    assert_eq!(status, 202);
    app.settle().await;
    let (_, again) = app.get(&path).await;
    assert_eq!(again["outcome"], lead["outcome"]);
    let (_, status) = app.get("/integrations/hubspot").await;
    assert_eq!(
        status["counts"]["received"], 1,
        "nothing changed the second time"
    );

    // A deal lost with its amount becomes the outcome, with its value.
    let deal = hubspot.add_deal(
        &[("dealstage", "closedlost"), ("amount", "5000")],
        &[&existing],
    );
    let deal_event = json!([{
        "eventId": 101, "subscriptionType": "deal.propertyChange",
        "objectId": deal.parse::<u64>().unwrap(), "propertyName": "dealstage",
        "propertyValue": "closedlost"
    }]);
    let (status, answer) = HubSpot::send_webhook(
        &hook,
        CLIENT_SECRET,
        &deal_event,
        chrono::Utc::now().timestamp_millis(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    app.settle().await;
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["outcome"]["converted"], false);
    assert_eq!(lead["outcome"]["value"], 5000.0);

    // Forged, stale or unsigned requests are refused and change nothing.
    let (status, _) = HubSpot::send_webhook(&hook, "not-the-secret", &event, now).await;
    assert_eq!(status, 403);
    let stale = now - 6 * 60 * 1000;
    let (status, _) = HubSpot::send_webhook(&hook, CLIENT_SECRET, &event, stale).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/hubspot/{}/events", app.app.deps.config.tenant),
            "[]",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["outcome"]["converted"], false);

    // Disconnecting forgets the credentials; the webhook is refused from then on.
    let (status, _) = app.send(Method::DELETE, "/integrations/hubspot", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = HubSpot::send_webhook(
        &hook,
        CLIENT_SECRET,
        &event,
        chrono::Utc::now().timestamp_millis(),
    )
    .await;
    assert_eq!(status, 403);
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_a_thousand_score_changes_stays_inside_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let hubspot = HubSpot::start(TOKEN).await;
    // An account that takes 40 requests per rolling ten seconds.
    hubspot.set_limit(40);
    // GIVEN a thousand scored leads, all pushed
    let tenant = app.app.deps.config.tenant.clone();
    let now = chrono::Utc::now();
    for i in 0..1000u32 {
        let phone = PhoneNumber::parse(&format!("+1212555{:04}", i)).unwrap();
        let mut lead = Lead::new(tenant.clone(), phone, now);
        lead.lead_score = Some(10);
        lead.tier = Some(Tier::Cold);
        lead.score_updated_at = Some(now);
        app.app.deps.leads.insert_lead(&lead).await.unwrap();
    }
    connect(&app, &hubspot, json!({"requests_per_10s": 40})).await;
    app.wait_for("/integrations/hubspot", |c| c["counts"]["pushed"] == 1000)
        .await;
    assert_eq!(hubspot.contacts().len(), 1000);
    let before = hubspot.stats();

    // WHEN a new rule changes every lead's score at once
    let (status, answer) = app
        .send(
            Method::POST,
            "/scoring_rules",
            &json!({"criteria": "calls.count == 0", "weight": 7, "description": "Never called yet"}).to_string(),
        )
        .await;
    assert!(status.is_success(), "{answer}");
    // THEN every contact shows its new score, in batches of 100, and HubSpot never answered 429
    let done = || {
        hubspot
            .contacts()
            .values()
            .all(|c| c["leadscore_score"] != "10")
    };
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{:?}",
            hubspot.stats()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.settle().await;
    let after = hubspot.stats();
    assert_eq!(after.rate_limited, 0, "{after:?}");
    assert!(after.max_in_window <= 40, "{after:?}");
    let updates = after.batch_calls - before.batch_calls;
    assert!(
        updates <= 20,
        "1,000 changes took {updates} batch calls ({after:?})"
    );
    assert_eq!(after.batch_inputs - before.batch_inputs, 1000, "{after:?}");
    app.stop().await;
}

/// The HubSpot webhook's events about contacts and deals, as HubSpot sends them.
fn contact_changed(id: &str, event_id: u64) -> Value {
    json!([{
        "eventId": event_id, "subscriptionType": "contact.propertyChange",
        "objectId": id.parse::<u64>().unwrap(), "propertyName": "lifecyclestage",
        "occurredAt": chrono::Utc::now().timestamp_millis()
    }])
}

#[tokio::test]
async fn stages_won_and_lost_in_hubspot_train_a_model_once_enough_have_arrived() {
    let dir = tempfile::tempdir().unwrap();
    // A threshold of ten outcomes, so the demo's leads are enough.
    let config = shared::Config {
        retrain_after_outcomes: 10,
        ..shared::Config::default()
    };
    let app = crate::helpers::spawn_app_with(dir.path(), config).await;
    let hubspot = HubSpot::start(TOKEN).await;
    copy_samples(&app);
    app.settle().await;
    connect(&app, &hubspot, json!({})).await;
    app.wait_for("/leads?limit=200", |page| {
        page["leads"].as_array().unwrap().iter().all(synced)
    })
    .await;
    let contacts: Vec<String> = hubspot.contacts().into_keys().collect();
    let hook = app.url(&format!("/hubspot/{}/events", app.app.deps.config.tenant));

    // WHEN reps mark nine contacts customer or unqualified in HubSpot
    for (i, id) in contacts.iter().take(10).enumerate() {
        let stage = if i % 2 == 0 {
            "customer"
        } else {
            "unqualified"
        };
        hubspot.set_property(id, "lifecyclestage", stage);
        if i == 9 {
            // THEN up to nine outcomes, there is no model
            app.settle().await;
            let (status, _) = app.get("/model").await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        let now = chrono::Utc::now().timestamp_millis();
        let (status, answer) =
            HubSpot::send_webhook(&hook, CLIENT_SECRET, &contact_changed(id, i as u64), now).await;
        assert_eq!(status, 202, "{answer}");
    }
    // AND the tenth trains the first model, put in force with why
    // (The comparison is kept just after the model is put in force.)
    let model = app
        .wait_for("/model", |m| {
            m["version"].as_u64().is_some() && m["last_challenge"]["version"] == m["version"]
        })
        .await;
    assert_eq!(model["metrics"]["rows"], 10);
    let challenge = &model["last_challenge"];
    assert_eq!(challenge["promoted"], true, "{model:#}");
    assert_eq!(challenge["new_outcomes"], 10);
    assert_eq!(challenge["version"], model["version"]);
    app.settle().await;
    // The leads are scored with it: a probability on each.
    let (_, lead) = app.get("/leads?limit=1").await;
    assert!(lead["leads"][0]["probability"].is_number(), "{lead:#}");

    // Ten more: a challenger, but ten recent outcomes are too few to judge it on, so the
    // model in force stays, and GET /model says why.
    for (i, id) in contacts.iter().skip(10).take(10).enumerate() {
        let stage = if i % 2 == 0 { "closedlost" } else { "customer" };
        hubspot.set_property(id, "lifecyclestage", stage);
        let now = chrono::Utc::now().timestamp_millis();
        let (status, _) = HubSpot::send_webhook(
            &hook,
            CLIENT_SECRET,
            &contact_changed(id, 100 + i as u64),
            now,
        )
        .await;
        assert_eq!(status, 202);
    }
    let after = app
        .wait_for("/model", |m| m["last_challenge"]["outcomes"] == 20)
        .await;
    assert_eq!(after["version"], model["version"], "{after:#}");
    assert_eq!(after["last_challenge"]["promoted"], false);
    assert!(
        after["last_challenge"]["reason"]
            .as_str()
            .unwrap()
            .contains("too few"),
        "{after:#}"
    );
    app.stop().await;
}

/// Leads with a CRM field `segment` and an outcome each, `at` minutes apart from `start`.
async fn labelled(
    app: &shared::local::LocalApp,
    from: u32,
    n: u32,
    won: &str,
    start: chrono::DateTime<chrono::Utc>,
) {
    for i in 0..n {
        let k = from + i;
        let phone = PhoneNumber::parse(&format!("+1646555{k:04}")).unwrap();
        let mut lead = Lead::new(app.deps.config.tenant.clone(), phone, start);
        let segment = if k.is_multiple_of(2) { "a" } else { "b" };
        lead.crm.insert("segment".into(), segment.into());
        lead.outcome = Some(shared::domain::Outcome {
            converted: segment == won,
            value: None,
            at: start + chrono::TimeDelta::minutes(i64::from(k)),
        });
        app.deps.leads.insert_lead(&lead).await.unwrap();
    }
}

#[tokio::test]
async fn a_challenger_is_judged_against_the_model_in_force_on_the_latest_outcomes() {
    use shared::handlers::model::challenge;
    let dir = tempfile::tempdir().unwrap();
    let app = shared::local::LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let tenant = app.deps.config.tenant.clone();
    let start = chrono::Utc::now() - chrono::TimeDelta::days(30);
    // Segment a converts.
    labelled(&app, 0, 100, "a", start).await;
    assert_eq!(
        challenge(&app.deps, &tenant, 101).await.unwrap(),
        None,
        "too few new outcomes"
    );
    let first = challenge(&app.deps, &tenant, 50).await.unwrap().unwrap();
    assert!(first.promoted && first.version == Some(1), "{first:?}");
    // Then the market turns: segment b converts, 300 outcomes later.
    labelled(&app, 100, 300, "b", start).await;
    let second = challenge(&app.deps, &tenant, 50).await.unwrap().unwrap();
    // The model in force ranks the latest outcomes backwards; the challenger, trained on the
    // outcomes before them, has learnt the turn: it replaces the model.
    assert_eq!(second.new_outcomes, 300);
    assert_eq!(second.holdout_rows, 80);
    let (champion, challenger) = (second.champion_auc.unwrap(), second.challenger_auc.unwrap());
    assert!(champion < 0.5 && challenger > 0.5, "{second:?}");
    assert!(second.promoted && second.version == Some(2), "{second:?}");
    assert_eq!(
        shared::handlers::model::last_challenge(&app.deps, &tenant)
            .await
            .unwrap(),
        Some(second)
    );
}

#[tokio::test]
async fn a_new_tenant_with_history_in_hubspot_starts_with_its_leads_and_a_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        retrain_after_outcomes: 20,
        ..shared::Config::default()
    };
    let app = crate::helpers::spawn_app_with(dir.path(), config).await;
    let hubspot = HubSpot::start(TOKEN).await;
    // GIVEN 150 contacts in HubSpot (two pages and a half), 40 decided: referrals won,
    // the others lost; and some without a phone number
    for i in 0..150u32 {
        let phone = format!("(303) 555-{:04}", 1000 + i);
        let source = if i % 2 == 0 {
            "REFERRALS"
        } else {
            "PAID_SOCIAL"
        };
        let stage = match i {
            0..40 if i % 2 == 0 => "customer",
            0..40 => "unqualified",
            _ => "lead",
        };
        let mut props = vec![
            ("firstname", "Pat"),
            ("lifecyclestage", stage),
            ("hs_analytics_source", source),
        ];
        if i % 50 != 49 {
            props.push(("phone", &phone));
        }
        hubspot.add_contact(&props);
    }
    // WHEN the tenant connects HubSpot
    connect(&app, &hubspot, json!({"create_missing": false})).await;
    // THEN each contact with a number is a lead, the decided ones with their outcome, and a
    // first model is trained from them
    let status = app
        .wait_for("/integrations/hubspot", |c| c["counts"]["imported"] == 147)
        .await;
    assert_eq!(status["counts"]["imported_outcomes"], 40, "{status:#}");
    let model = app
        .wait_for("/model", |m| m["last_challenge"]["version"] == 1)
        .await;
    assert_eq!(model["metrics"]["rows"], 40);
    assert!(
        model["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "source"),
        "the CRM's source is a feature: {model:#}"
    );
    app.settle().await;
    let (_, page) = app.get("/leads?limit=200").await;
    let leads = page["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 147);
    let won = leads
        .iter()
        .filter(|l| l["outcome"]["converted"] == true)
        .count();
    assert_eq!(won, 20);
    // Scored with the model, and their scores pushed back to their contacts.
    assert!(leads.iter().all(|l| l["probability"].is_number()));
    assert!(leads.iter().all(synced), "{page:#}");
    let contacts = hubspot.contacts();
    assert_eq!(contacts.len(), 150, "matched, not created");
    app.stop().await;
}

/// The outbox: a score saved by a process that died before handing its events on (the save
/// made, the emit not) reaches HubSpot at the next sweep, once.
#[tokio::test]
async fn a_score_change_whose_process_died_before_its_emit_reaches_hubspot_at_the_next_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let hubspot = HubSpot::start(TOKEN).await;
    copy_samples(&app);
    app.settle().await;
    connect(&app, &hubspot, json!({})).await;
    app.wait_for("/leads?limit=200", |page| {
        page["leads"].as_array().unwrap().iter().all(synced)
    })
    .await;
    let deps = &app.app.deps;
    // The day's decay re-score done, so the sweep below has only the outbox to do.
    shared::handlers::schedule::sweep(deps, None, chrono::Utc::now())
        .await
        .unwrap();
    app.settle().await;
    let (_, all) = app.get("/leads?limit=1").await;
    let listed = all["leads"][0].clone();
    assert_eq!(
        listed["crm_sync"]["hubspot"]["state"], "synced",
        "{listed:#}"
    );
    let id = shared::domain::LeadId::parse(listed["lead_id"].as_str().unwrap()).unwrap();
    let tenant = shared::domain::TenantId::default_tenant();

    // GIVEN a score change saved by a process that died before it emitted its events
    testkit::contract::save_score_without_emit(deps, &tenant, &id, 3).await;
    app.settle().await;
    let record = listed["crm_sync"]["hubspot"]["record_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        hubspot.contacts()[&record]["leadscore_score"],
        listed["lead_score"].to_string(),
        "nothing handed the change on"
    );

    // WHEN the hourly sweep runs
    let swept = shared::handlers::schedule::sweep(deps, None, chrono::Utc::now())
        .await
        .unwrap();
    app.settle().await;
    // THEN the change is handed on from the outbox and its score is on the contact
    assert_eq!(swept.dispatched, 1, "{swept:?}");
    assert_eq!(hubspot.contacts()[&record]["leadscore_score"], "3");
    let (_, shown) = app.get(&format!("/leads/{id}")).await;
    assert_eq!(shown["crm_sync"]["hubspot"]["state"], "synced", "{shown:#}");
    // AND once: the next sweep finds nothing waiting
    let again = shared::handlers::schedule::sweep(deps, None, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(again.dispatched, 0);
}
