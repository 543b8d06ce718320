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
    let mut all = String::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.to_string_lossy();
                let rejected_input = name.contains("/rejected/") && !name.ends_with(".error.txt");
                if !rejected_input && !name.ends_with("leadscore.db") {
                    all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
                }
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
