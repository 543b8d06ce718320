//! The API's OpenAPI document against the API itself: schemathesis (from PyPI) drives
//! `leadscore serve`, loaded with the demo's leads, through every operation (examples, the
//! boundaries of each schema, random requests, and sequences that follow the document's links
//! from a created lead or rule to what it names). Every answer must be documented: its status,
//! content type, headers and body. A server error, or an answer that breaks the document, fails.

use std::process::Command;

use crate::common::{leadscore, serve_with_env};

/// What schemathesis holds each answer to. The authentication checks are left out: locally,
/// on 127.0.0.1, the API takes no credentials.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Fixed, so a run is repeatable: the same document gives the same requests.
const SEED: &str = "20261202";

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let demo = leadscore(dir.path(), &["demo", "--no-speech"]);
    assert!(demo.status.success(), "{demo:?}");
    // Texts go to a Twilio stand-in, as the product's own tests send them: the random
    // accounts schemathesis saves are refused there (Twilio's 20003), as Twilio would.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let twilio = runtime.block_on(testkit::twilio::Twilio::start(
        "AC0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef",
        &["+15125550100"],
    ));
    // No rate limit: schemathesis sends thousands of requests a minute.
    let (_server, url) = serve_with_env(
        dir.path(),
        &["--rate-limit", "0"],
        &[("TWILIO_API_URL", &twilio.url)],
    );
    let venv = testkit::venv::installed("schemathesis", "tools/schemathesis.txt");
    testkit::venv::say("running schemathesis against `leadscore serve` (about 40 s)");
    let out = Command::new(venv.join("bin/schemathesis"))
        .args(["run", &format!("{url}/openapi.json")])
        .args(["--checks", CHECKS])
        .args(["--seed", SEED, "--max-examples", "40", "--no-color"])
        // Its cache (`.schemathesis/`) goes with the data folder, not into the clone.
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.find("SUMMARY").map_or(text.as_ref(), |at| &text[at..]);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every operation in the document was exercised, and the stateful phase ran.
    let total = summary
        .split("Selected: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.split_once('/'))
        .map(|(_, total)| total.to_owned())
        .unwrap_or_else(|| panic!("no operation count in {summary}"));
    assert!(summary.contains(&format!("Tested: {total}")), "{summary}");
    assert!(text.contains("Stateful"), "{text}");
    println!("{summary}");
}
