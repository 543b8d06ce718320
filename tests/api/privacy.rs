//! PII: no card number, e-mail address or phone number said on a call survives in a stored
//! transcript, an error, or a log line, unless the tenant keeps originals.

use std::path::Path;

use shared::local::{Inbox, LocalApp};

use crate::helpers::drop_into;

const CARD: &str = "4111 1111 1111 1111";
const EMAIL: &str = "dana.w@whitfield-dental.example.com";
const SSN: &str = "123-45-6789";
const SAID_PHONE: &str = "(415) 555-0187";

fn transcript() -> String {
    format!(
        "Agent: Thanks for calling Brightline Solar, this is Maya.\n\
         Caller: I'd like a quote. My card is {CARD} and my email is {EMAIL}.\n\
         Caller: My social is {SSN}, and call me back at {SAID_PHONE} or dana at whitfield dot com.\n"
    )
}

/// Every stored file's bytes, as text, except inputs that were rejected: those are the
/// tenant's own files, kept as delivered in `rejected/` so that they can be fixed and dropped
/// again (their `.error.txt` notes are checked).
fn stored(dir: &Path) -> String {
    files_as_text(dir, |name| {
        let rejected_input = name.contains("/rejected/") && !name.ends_with(".error.txt");
        !rejected_input && !name.ends_with("leadscore.db")
    })
}

/// The path and bytes of every file under `dir` that `wanted` (given its path) keeps.
fn files_as_text(dir: &Path, wanted: impl Fn(&str) -> bool) -> String {
    let mut all = String::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if wanted(&p.to_string_lossy()) {
                all.push_str(&p.to_string_lossy());
                all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
    }
    all
}

async fn run(app: &LocalApp) {
    drop_into(
        app,
        "20261102T141503Z_+14155550134.txt",
        transcript().as_bytes(),
    );
    // A transcript that does not parse, whose error would quote the card number.
    drop_into(
        app,
        "20261102T150000Z_+14155550134_x.txt",
        format!("card {CARD} at the top\nAgent: hi\n").as_bytes(),
    );
    Inbox::new(app.clone())
        .process_all(&mut |_| {})
        .await
        .unwrap();
    app.worker().drain().await.unwrap();
}

#[tokio::test]
async fn no_card_email_ssn_or_phone_survives_in_stored_transcripts_errors_or_logs() {
    crate::helpers::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    run(&app).await;

    let tenant = shared::domain::TenantId::default_tenant();
    let lead = app
        .deps
        .leads
        .list_leads(&tenant, &Default::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let logs = crate::helpers::captured_logs();
    let ours = |needle: &str| {
        logs.lines()
            .any(|l| l.contains(lead.lead_id.as_str()) && l.contains(needle))
    };
    assert!(
        ours("ingested") && ours("lead scored"),
        "this test's lines were captured: {logs}"
    );
    let stored = stored(dir.path());
    assert!(
        stored.contains("[CARD]") && stored.contains("[EMAIL]") && stored.contains("[SSN]"),
        "{stored}"
    );
    assert!(
        stored.contains("found `card [CARD] at the top`"),
        "the rejection note is masked: {stored}"
    );
    // The call's status, the lead's factors and the database rows.
    let detail = serde_json::to_string(
        &shared::handlers::lead_detail::lead_detail(&app.deps, &tenant, &lead.lead_id)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        detail.contains("\"pii_masked\":5"),
        "card, e-mail, SSN, phone and spoken e-mail masked: {detail}"
    );
    assert!(
        !lead.ai_keywords.iter().any(|k| k == "ssn"),
        "masks are not keywords: {:?}",
        lead.ai_keywords
    );
    let db = String::from_utf8_lossy(&std::fs::read(dir.path().join("leadscore.db")).unwrap())
        .into_owned();
    for (place, text) in [
        ("logs", &logs),
        ("stored files", &stored),
        ("the API's view", &detail),
        ("the database", &db),
    ] {
        for secret in [
            CARD,
            EMAIL,
            SSN,
            SAID_PHONE,
            "dana at whitfield",
            "555-0187",
        ] {
            assert!(!text.contains(secret), "`{secret}` survived in {place}");
        }
    }
    // The lead's own number is its identity, and the pricing request still counts.
    assert_eq!(lead.phone_number.as_str(), "+14155550134");
    assert!(
        lead.factors
            .iter()
            .any(|f| f.rule_id.as_str() == "default-pricing")
    );
}

#[tokio::test]
async fn a_tenant_that_keeps_originals_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        keep_original_transcripts: true,
        ..Default::default()
    };
    let app = LocalApp::open(dir.path(), config).unwrap();
    run(&app).await;
    let stored = stored(dir.path());
    assert!(
        stored.contains(CARD) && stored.contains(EMAIL),
        "originals are kept when allowed"
    );
}

/// Every byte under `dir` (the database, its write-ahead log, blobs, secrets), with each
/// file's path, as text.
fn every_byte(dir: &Path) -> String {
    files_as_text(dir, |_| true)
}

#[tokio::test]
async fn an_erased_lead_leaves_no_trace_in_the_database_its_log_the_files_or_the_logs() {
    use reqwest::{Method, StatusCode};
    use serde_json::json;
    const NUMBER: &str = "2135550199";
    const NAME: &str = "Quillfeather";
    const EMAIL: &str = "zebulon@quillhats.example";
    let dir = tempfile::tempdir().unwrap();
    let app = crate::helpers::spawn_app(dir.path()).await;
    let post = |path: String, body: serde_json::Value| {
        let app = &app;
        async move {
            let (status, answer) = app.send(Method::POST, &path, &body.to_string()).await;
            assert!(status.is_success(), "POST {path}: {status} {answer}");
            answer
        }
    };

    // Two calls (a file drop with its sidecar, and one through the API), an e-mail address,
    // a text, an opt-out and a tracked link; and another lead that must stay whole.
    let stem = format!("20261201T170000Z_+1{NUMBER}_+14155550100_inbound");
    drop_into(
        &app.app,
        &format!("{stem}.meta.json"),
        json!({"caller_name": format!("Zebulon {NAME}"), "company": "Quillfeather Hats"})
            .to_string()
            .as_bytes(),
    );
    drop_into(
        &app.app,
        &format!("{stem}.txt"),
        format!("Agent: Brightline Solar.\nCaller: This is Zebulon {NAME}; how much for panels?\n")
            .as_bytes(),
    );
    app.settle().await;
    let accepted = post(
        "/calls".into(),
        json!({"caller": format!("+1{NUMBER}"), "transcript": {"format": "text",
            "content": format!("Caller: {NAME} again. Ready to buy, send the contract.")}}),
    )
    .await;
    let id = accepted["lead_id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/leads/{id}"),
            &json!({"email": EMAIL}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    post(
        format!("/leads/{id}/messages"),
        json!({"body": format!("Hi {NAME}, here are the prices")}),
    )
    .await;
    post(
        format!("/leads/{id}/links"),
        json!({"url": "https://brightline.example/pricing", "label": "pricing"}),
    )
    .await;
    post(
        format!("/leads/{id}/consent"),
        json!({"action": "opt_out", "source": "asked on a call"}),
    )
    .await;
    let keeper = post(
        "/calls".into(),
        json!({"caller": "+13105550111", "caller_name": "Keeper Stays",
            "transcript": {"format": "text", "content": "Caller: Keeper here, call me back."}}),
    )
    .await;
    app.settle().await;

    // The export holds all of it.
    let (status, export) = app.get(&format!("/leads/{id}/export")).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["lead"]["email"], EMAIL);
    assert_eq!(export["calls_total"], 2);
    assert!(
        export["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["transcript"]["segments"].as_array().unwrap().is_empty()),
        "{export:#}"
    );
    assert!(export.to_string().contains(NAME));
    assert!(!export["score_history"].as_array().unwrap().is_empty());
    assert_eq!(export["links"].as_array().unwrap().len(), 1);
    let log = export["sms_log"].as_array().unwrap();
    assert!(log.iter().any(|e| e["type"] == "message"), "{export:#}");
    assert!(
        every_byte(dir.path()).contains(NAME),
        "the data is there to erase"
    );

    // Erased: 202, then gone.
    let (status, accepted) = app.send(Method::DELETE, &format!("/leads/{id}"), "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["state"], "erasing");
    app.wait_for(&format!("/leads/{id}"), |body| body["status"] == 404)
        .await;
    app.settle().await;
    let (status, _) = app.get(&format!("/leads/{id}/export")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nowhere: not in the database file, its write-ahead log, the blobs, nor any log line.
    let stored = every_byte(dir.path());
    let logs = crate::helpers::captured_logs();
    for (place, text) in [("the data folder", &stored), ("the logs", &logs)] {
        for needle in [NUMBER, "213) 555-0199", NAME, EMAIL, "Zebulon"] {
            assert!(!text.contains(needle), "`{needle}` is still in {place}");
        }
    }
    // The other lead is whole.
    let (_, kept) = app
        .get(&format!("/leads/{}", keeper["lead_id"].as_str().unwrap()))
        .await;
    assert_eq!(kept["first_name"], "Keeper", "{kept}");
    assert!(stored.contains("Keeper"));

    // The number opted out: a new lead for it starts opted out, with why.
    let again = post(
        "/calls".into(),
        json!({"caller": format!("+1{NUMBER}"), "transcript": {"format": "text", "content": "Caller: hello"}}),
    )
    .await;
    let new_id = again["lead_id"].as_str().unwrap();
    assert_ne!(new_id, id);
    let (_, consent) = app.get(&format!("/leads/{new_id}/consent")).await;
    assert!(
        consent.to_string().contains("suppression list"),
        "{consent:#}"
    );
    let (status, refused) = app
        .send(
            Method::POST,
            &format!("/leads/{new_id}/surveys"),
            r#"{"survey": "fit"}"#,
        )
        .await;
    assert!(status.is_client_error(), "{status} {refused}");
    app.stop().await;
}
