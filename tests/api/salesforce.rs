//! CRM sync with Salesforce, against a stateful stand-in of its REST API on a real socket
//! (`testkit::salesforce`): connecting trades the refresh token for a session, checks the
//! leadscore fields on leads and contacts (and says which are missing, and how to add them),
//! reads the daily limit; the import reads leads and contacts; every scored lead's score lands
//! on its Salesforce lead (matched by number however typed, else created); an expired session
//! is renewed; the hourly sweep polls what reps changed: a lead's status and an opportunity
//! won become outcomes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::salesforce::Salesforce;

use crate::helpers::{TestApp, spawn_app};

pub(crate) const CLIENT_ID: &str = "3MVG9ZL0ppGP5UrBztM0Qn.example.consumer.key";
pub(crate) const CLIENT_SECRET: &str = "E1F0C3A55B2D4E6F";
pub(crate) const REFRESH: &str =
    "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrjrXqHyE2wpUQmzyBAk.example";

pub(crate) async fn connect(app: &TestApp, org: &Salesforce, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({
        "token": REFRESH, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "base_url": org.url, "create_missing": true,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.send(Method::PUT, "/integrations/salesforce", &body.to_string())
        .await
}

fn settled(lead: &Value) -> bool {
    lead["lead_score"].is_null()
        || ["synced", "failed"].contains(
            &lead["crm_sync"]["salesforce"]["state"]
                .as_str()
                .unwrap_or(""),
        )
}

#[tokio::test]
async fn scores_reach_salesforce_leads_and_polled_changes_come_back_as_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let org = Salesforce::start(CLIENT_ID, CLIENT_SECRET, REFRESH).await;
    // GIVEN a Salesforce lead with a demo caller's number typed nationally, a contact with
    // another's, and the demo's calls scored
    let dana = org.add(
        "Lead",
        &[
            ("LastName", json!("Reyes")),
            ("Company", json!("Reyes Roofing")),
            ("Phone", json!("(415) 555-0134")),
            ("Status", json!("Open - Not Contacted")),
        ],
    );
    crate::crm::copy_samples(&app);
    app.settle().await;
    let (_, page) = app.get("/leads?limit=200").await;
    let demo: Vec<Value> = page["leads"].as_array().unwrap().clone();
    let other_phone = demo
        .iter()
        .map(|l| l["phone_number"].as_str().unwrap().to_owned())
        .find(|p| p != "+14155550134")
        .unwrap();
    let contact = org.add(
        "Contact",
        &[
            ("LastName", json!("Okafor")),
            ("Phone", json!(other_phone.clone())),
        ],
    );

    // Refusals say what is wrong, and nothing is connected.
    let (status, answer) = connect(&app, &org, json!({"token": "stale-refresh-token"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("invalid_grant"),
        "{answer}"
    );
    let (status, answer) = connect(&app, &org, json!({"client_id": null})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("client_id"));

    // WHEN the tenant connects Salesforce (contacts lack the leadscore fields)
    let (status, connection) = connect(&app, &org, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{connection}");
    // THEN leads are written, contacts are not, and the setup says how to add their fields
    assert_eq!(connection["objects"], json!(["Lead"]));
    let setup = connection["setup"].to_string();
    assert!(
        setup.contains("Contact: missing LeadScore__c")
            && setup.contains("Setup > Object Manager > Contact"),
        "{setup}"
    );
    assert!(setup.contains("daily API requests"), "{setup}");
    assert!(!connection.to_string().contains(REFRESH));
    assert!(!connection.to_string().contains(CLIENT_SECRET));

    // AND every scored lead's score is on a Salesforce lead: Dana's on hers, the others on new
    // leads; the contact's lead is not made a second time as a Salesforce lead: it fails,
    // saying why
    let all = app
        .wait_for("/leads?limit=200", |page| {
            page["leads"].as_array().unwrap().iter().all(settled)
        })
        .await;
    let leads = all["leads"].as_array().unwrap();
    let scored: Vec<&Value> = leads
        .iter()
        .filter(|l| !l["lead_score"].is_null())
        .collect();
    for lead in scored
        .iter()
        .filter(|l| l["phone_number"] != other_phone.as_str())
    {
        let id = lead["crm_sync"]["salesforce"]["record_id"]
            .as_str()
            .unwrap();
        assert!(id.starts_with("00Q"), "{lead}");
        assert_eq!(
            org.get(id, "LeadScore__c"),
            Some(lead["lead_score"].clone())
        );
        assert_eq!(org.get(id, "LeadTier__c"), Some(lead["tier"].clone()));
    }
    let contact_lead = leads
        .iter()
        .find(|l| l["phone_number"] == other_phone.as_str())
        .unwrap();
    let sync = &contact_lead["crm_sync"]["salesforce"];
    assert_eq!(sync["state"], "failed", "{contact_lead:#}");
    assert!(
        sync["last_error"].as_str().unwrap().contains(&contact),
        "{sync}"
    );
    let dana_lead = leads
        .iter()
        .find(|l| l["phone_number"] == "+14155550134")
        .unwrap();
    assert_eq!(dana_lead["crm_sync"]["salesforce"]["record_id"], dana);
    assert_eq!(
        org.all("Lead").len(),
        scored.len() - 1,
        "matched, not duplicated"
    );

    // WHEN the administrator adds the fields to contacts and connects again
    org.add_fields("Contact");
    let (status, again) = connect(&app, &org, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["objects"], json!(["Lead", "Contact"]));
    // THEN the contact shows its lead's score
    app.wait_for("/leads?limit=200", |page| {
        page["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["lead_score"].is_null() || l["crm_sync"]["salesforce"]["state"] == "synced")
    })
    .await;
    assert_eq!(
        org.get(&contact, "LeadScore__c"),
        Some(contact_lead["lead_score"].clone())
    );
    let (_, status) = app.get("/integrations/salesforce").await;
    assert!(
        status["api_usage"]["used"].as_u64().unwrap() > 0,
        "{status:#}"
    );
    assert_eq!(status["api_usage"]["limit"], 15000);

    // An expired session is renewed once and the push goes through.
    org.expire_sessions();
    let tokens = org.stats().token_requests;
    let path = format!("/leads/{}", dana_lead["lead_id"].as_str().unwrap());
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("{path}/adjustment"),
            &json!({"points": -25, "reason": "moved out of the service area"}).to_string(),
        )
        .await;
    assert!(status.is_success());
    app.settle().await;
    let (_, adjusted) = app.get(&path).await;
    assert_ne!(adjusted["lead_score"], dana_lead["lead_score"]);
    assert_eq!(
        org.get(&dana, "LeadScore__c"),
        Some(adjusted["lead_score"].clone())
    );
    assert_eq!(org.stats().token_requests, tokens + 1);

    // WHEN a rep converts Dana in Salesforce, and wins an opportunity with the contact
    org.set(&dana, "Status", json!("Closed - Converted"));
    org.set(&dana, "OwnerId", json!("0055e000000Rep1"));
    let deal = org.add(
        "Opportunity",
        &[
            ("StageName", json!("Closed Won")),
            ("Amount", json!(7000.0)),
        ],
    );
    org.add(
        "OpportunityContactRole",
        &[
            ("OpportunityId", json!(deal)),
            ("ContactId", json!(contact)),
        ],
    );
    // AND the hourly sweep polls Salesforce
    let swept = shared::handlers::schedule::sweep(&app.app.deps, None, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(swept.polls, 1);
    app.settle().await;
    // THEN Dana is won, with her owner; the contact's lead is won with the deal's amount
    let (_, lead) = app.get(&path).await;
    assert_eq!(lead["outcome"]["converted"], true, "{lead:#}");
    assert_eq!(lead["crm"]["owner"], "0055e000000Rep1");
    let other = leads
        .iter()
        .find(|l| l["phone_number"] == other_phone.as_str())
        .unwrap();
    let (_, other) = app
        .get(&format!("/leads/{}", other["lead_id"].as_str().unwrap()))
        .await;
    assert_eq!(other["outcome"]["converted"], true, "{other:#}");
    assert_eq!(other["outcome"]["value"], 7000.0);
    let (_, status) = app.get("/integrations/salesforce").await;
    // (The leads made in Salesforce came back once too, with the source they were made with.)
    let received = status["counts"]["received"].as_u64().unwrap();
    assert!(received >= 2, "{status:#}");
    let (_, made) = app.get("/leads?limit=200").await;
    assert!(
        made["leads"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["crm_sync"]["salesforce"]["record_id"]
                .as_str()
                .is_some_and(|r| r != dana && r != contact))
            .all(|l| l["crm"]["source"] == "leadscore"),
        "{made:#}"
    );
    assert!(status["polled_until"].is_string());
    // A second poll reads only what changed since (the scores pushed meanwhile), and takes
    // in nothing new.
    shared::handlers::schedule::sweep(
        &app.app.deps,
        None,
        chrono::Utc::now() + chrono::TimeDelta::hours(1),
    )
    .await
    .unwrap();
    app.settle().await;
    let (_, status) = app.get("/integrations/salesforce").await;
    assert_eq!(status["counts"]["received"], received);

    // Disconnected, nothing is polled.
    let (status, _) = app
        .send(Method::DELETE, "/integrations/salesforce", "")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let swept = shared::handlers::schedule::sweep(
        &app.app.deps,
        None,
        chrono::Utc::now() + chrono::TimeDelta::hours(2),
    )
    .await
    .unwrap();
    assert_eq!(swept.polls, 0);
    app.stop().await;
}
