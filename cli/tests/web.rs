//! The web app in a real browser: Debian's chromium, driven by Playwright
//! (`cli/tests/browser/web.mjs`), against `leadscore serve` loaded with the demo's leads.
//! What a rep relies on: the list in score order, the hot filter, a quote that scrolls its
//! transcript, a rule editor that shows a typo at its column and previews, saves and
//! re-ranks, the won button feeding the conversion report, no serious accessibility
//! violation on any view, and a page that fits a phone. Screenshots go to
//! `target/screenshots/` (the README's come from there).

mod common;

use std::process::Command;

use common::{leadscore, serve};

#[test]
fn a_rep_works_the_leads_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let demo = leadscore(dir.path(), &["demo", "--no-speech"]);
    assert!(demo.status.success(), "{demo:?}");
    let (_server, url) = serve(dir.path(), &["--rate-limit", "0"]);
    let tools = testkit::browser::installed();
    let shots = testkit::venv::workspace().join("target/screenshots");
    testkit::venv::say("running the web app's checks in chromium (about 20 s)");
    let out = Command::new("node")
        .arg(testkit::venv::workspace().join("cli/tests/browser/web.mjs"))
        .env("BASE_URL", &url)
        .env("CHROMIUM", &tools.chromium)
        .env("NODE_MODULES", &tools.node_modules)
        .env("SHOTS", &shots)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the web app's checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every check passed"), "{stdout}");
    for shot in ["leads", "lead", "rules", "reports", "leads-360"] {
        assert!(shots.join(format!("{shot}.png")).is_file(), "{shot}.png");
    }
}
