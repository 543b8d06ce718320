//! Follow-ups that do not text: a lead who asks by text for a call gets one call task for its
//! owner in the connected CRM (HubSpot, Pipedrive and Salesforce, each a stateful stand-in on
//! a real socket), due when it asked, however often Twilio delivers the text; and a hot lead no
//! one reaches raises `lead.follow_up_due` for the tenant's own system, once.

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::hubspot::HubSpot;
use testkit::pipedrive::Pipedrive;
use testkit::salesforce::Salesforce;

use crate::helpers::TestApp;
use crate::texts::{LEAD, app_with_twilio};

/// The tenant makes a call task in its CRM when a lead asks for a call.
async fn with_call_task(app: &TestApp) {
    let (status, body) = app
        .send(
            Method::PATCH,
            "/settings",
            &json!({"follow_ups": [{"id": "call-back", "when": "asked_for_a_call",
                                    "action": "crm_task"}]})
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Rosa (`LEAD`, an Austin number) texts "call me tomorrow at 10", and Twilio delivers it
/// twice. Her lead's id and the follow-up's one step, once it is done.
async fn rosa_asks_for_a_call(app: &TestApp) -> (String, Value) {
    // A CRM's first import may have made her lead already.
    app.settle().await;
    let (_, leads) = app.get("/leads").await;
    let id = match crate::helpers::lead_by_phone(&leads, LEAD) {
        Some(lead) => lead["lead_id"].as_str().unwrap().to_owned(),
        None => {
            let body = json!({"phone_number": LEAD}).to_string();
            let (status, lead) = app.send(Method::POST, "/leads", &body).await;
            assert_eq!(status, StatusCode::CREATED, "{lead}");
            lead["lead_id"].as_str().unwrap().to_owned()
        }
    };
    let (status, lead) = app
        .send(
            Method::PUT,
            &format!("/leads/{id}"),
            &json!({"first_name": "Rosa"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lead}");
    for _ in 0..2 {
        app.text_in("SM300", LEAD, "Yes please, call me tomorrow at 10")
            .await;
    }
    let texts = app
        .wait_for(&format!("/leads/{id}/texts"), |t| {
            t["texts"]
                .as_array()
                .and_then(|t| t.first())
                .is_some_and(|s| s["state"] != "queued" && s["state"] != "sending")
        })
        .await;
    let steps = texts["texts"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{texts:#}");
    (id, steps[0].clone())
}

/// Tomorrow at 10:00 in Austin, from now.
fn tomorrow_at_ten_in_austin() -> DateTime<Utc> {
    let zone = chrono_tz::America::Chicago;
    let tomorrow = Utc::now().with_timezone(&zone).date_naive() + chrono::Days::new(1);
    zone.from_local_datetime(&tomorrow.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The step is done, names the task the CRM made, and the lead's log says so; a text that
/// declines a call and the same text delivered again later start nothing more.
async fn the_task_is_noted_once(app: &TestApp, lead: &str, step: &Value, crm: &str) -> String {
    assert_eq!(step["state"], "sent", "{step:#}");
    assert_eq!(step["via"], "crm_task");
    assert_eq!(step["crm"], crm);
    assert_eq!(step["origin"], "follow-up:call-back");
    assert_eq!(step["body"], "Call back Rosa");
    let due: DateTime<Utc> = step["call_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, tomorrow_at_ten_in_austin());
    let task_id = step["sid"].as_str().unwrap().to_owned();
    let (_, detail) = app.get(&format!("/leads/{lead}")).await;
    let noted: Vec<&Value> = detail["sms_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "task_created")
        .collect();
    assert_eq!(noted.len(), 1, "{detail:#}");
    assert_eq!(noted[0]["task_id"], task_id.as_str());
    assert_eq!(noted[0]["crm"], crm);
    assert_eq!(noted[0]["follow_up"], "call-back");
    app.text_in("SM301", LEAD, "Actually don't call me, text me instead")
        .await;
    app.text_in("SM300", LEAD, "Yes please, call me tomorrow at 10")
        .await;
    app.settle().await;
    let (_, texts) = app.get(&format!("/leads/{lead}/texts")).await;
    assert_eq!(texts["texts"].as_array().unwrap().len(), 1, "{texts:#}");
    task_id
}

#[tokio::test]
async fn a_lead_asking_for_a_call_gets_one_hubspot_task_for_its_owner_due_when_it_asked() {
    let (_dir, app) = app_with_twilio().await;
    let hubspot = HubSpot::start(crate::crm::TOKEN).await;
    let contact = hubspot.add_contact(&[
        ("firstname", "Rosa"),
        ("phone", "(512) 555-0147"),
        ("hubspot_owner_id", "77"),
    ]);
    crate::crm::connect(&app, &hubspot, json!({"create_missing": false})).await;
    with_call_task(&app).await;
    let (lead, step) = rosa_asks_for_a_call(&app).await;
    let task_id = the_task_is_noted_once(&app, &lead, &step, "hubspot").await;
    let tasks = hubspot.tasks();
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let (properties, contacts) = &tasks[&task_id];
    assert_eq!(contacts, &[contact]);
    assert_eq!(properties["hubspot_owner_id"], "77");
    assert_eq!(properties["hs_task_type"], "CALL");
    assert_eq!(properties["hs_task_status"], "NOT_STARTED");
    assert_eq!(properties["hs_task_subject"], "Call back Rosa");
    assert!(
        properties["hs_task_body"].contains("Asked by text for a call at"),
        "{properties:#?}"
    );
    let due: DateTime<Utc> = properties["hs_timestamp"].parse().unwrap();
    assert_eq!(due, tomorrow_at_ten_in_austin());
}

#[tokio::test]
async fn a_lead_asking_for_a_call_gets_one_pipedrive_call_activity_for_its_persons_owner() {
    let (_dir, app) = app_with_twilio().await;
    let pipedrive = Pipedrive::start(crate::pipedrive::TOKEN).await;
    let person = pipedrive.add_person("Rosa Diaz", &["512-555-0147"], &[]);
    let (status, answer) =
        crate::pipedrive::connect(&app, &pipedrive, json!({"create_missing": false})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    with_call_task(&app).await;
    let (lead, step) = rosa_asks_for_a_call(&app).await;
    let task_id = the_task_is_noted_once(&app, &lead, &step, "pipedrive").await;
    let activities = pipedrive.activities();
    assert_eq!(activities.len(), 1, "{activities:#?}");
    let activity = &activities[&task_id];
    assert_eq!(activity["type"], "call");
    assert_eq!(activity["subject"], "Call back Rosa");
    assert_eq!(activity["person_id"].to_string(), person);
    assert_eq!(activity["owner_id"], 1, "the person's owner");
    // Pipedrive's due date and time are UTC.
    let due = tomorrow_at_ten_in_austin();
    assert_eq!(activity["due_date"], due.format("%Y-%m-%d").to_string());
    assert_eq!(activity["due_time"], due.format("%H:%M").to_string());
}

#[tokio::test]
async fn a_lead_asking_for_a_call_gets_one_salesforce_task_on_its_lead_for_the_owner() {
    let (_dir, app) = app_with_twilio().await;
    let org = Salesforce::start(
        crate::salesforce::CLIENT_ID,
        crate::salesforce::CLIENT_SECRET,
        crate::salesforce::REFRESH,
    )
    .await;
    let record = org.add(
        "Lead",
        &[
            ("FirstName", json!("Rosa")),
            ("LastName", json!("Diaz")),
            ("Company", json!("Diaz Dental")),
            ("Phone", json!("(512) 555-0147")),
            ("OwnerId", json!("0055e000000AbCdAAK")),
        ],
    );
    let (status, answer) =
        crate::salesforce::connect(&app, &org, json!({"create_missing": false})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    with_call_task(&app).await;
    let (lead, step) = rosa_asks_for_a_call(&app).await;
    let task_id = the_task_is_noted_once(&app, &lead, &step, "salesforce").await;
    let tasks = org.all("Task");
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let task = &tasks[&task_id];
    assert_eq!(task["WhoId"], record.as_str());
    assert_eq!(task["OwnerId"], "0055e000000AbCdAAK");
    assert_eq!(task["TaskSubtype"], "Call");
    assert_eq!(task["Subject"], "Call back Rosa");
    let due: DateTime<Utc> = task["ReminderDateTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, tomorrow_at_ten_in_austin());
}

#[tokio::test]
async fn a_call_task_without_a_connected_crm_fails_its_step_saying_so() {
    let (_dir, app) = app_with_twilio().await;
    with_call_task(&app).await;
    let (_, step) = rosa_asks_for_a_call(&app).await;
    assert_eq!(step["state"], "failed", "{step:#}");
    assert!(
        step["problem"]
            .as_str()
            .unwrap()
            .contains("no CRM is connected"),
        "{step:#}"
    );
}
