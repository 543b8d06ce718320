//! The web app in a real browser: Debian's chromium, driven by Playwright
//! (`cli/tests/browser/web.mjs`), against `leadscore serve` loaded with the demo's leads.
//! What a rep relies on: the list in score order, the hot filter, a quote that scrolls its
//! transcript, a rule editor that shows a typo at its column and previews, saves and
//! re-ranks, the won button feeding the conversion report, no serious accessibility
//! violation on any view, and a page that fits a phone; and signing in with an OpenID Connect
//! provider (`cli/tests/browser/sign-in.mjs`). Screenshots go to `target/screenshots/` (the
//! README's come from there).

use std::process::Command;

use crate::common::{leadscore, serve};

/// Run one of the browser scripts against `url`; its output, when every check passed.
fn run_script(script: &str, url: &str) -> String {
    let tools = testkit::browser::installed();
    let shots = testkit::venv::workspace().join("target/screenshots");
    let out = Command::new("node")
        .arg(
            testkit::venv::workspace()
                .join("cli/tests/browser")
                .join(script),
        )
        .env("BASE_URL", url)
        .env("CHROMIUM", &tools.chromium)
        .env("NODE_MODULES", &tools.node_modules)
        .env("SHOTS", &shots)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the checks of {script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every check passed"), "{stdout}");
    stdout
}

#[test]
fn a_rep_works_the_leads_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let demo = leadscore(dir.path(), &["demo", "--no-speech"]);
    assert!(demo.status.success(), "{demo:?}");
    let (_server, url) = serve(dir.path(), &["--rate-limit", "0"]);
    testkit::venv::say("running the web app's checks in chromium (about 20 s)");
    run_script("web.mjs", &url);
    let shots = testkit::venv::workspace().join("target/screenshots");
    for shot in ["leads", "lead", "rules", "reports", "leads-360"] {
        assert!(shots.join(format!("{shot}.png")).is_file(), "{shot}.png");
    }
}

#[test]
fn a_rep_signs_in_with_the_identity_provider_and_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let demo = leadscore(dir.path(), &["demo", "--no-speech"]);
    assert!(demo.status.success(), "{demo:?}");
    // The provider lives in this process while the server and the browser use it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rep = testkit::oidc::User {
        sub: "rep-1".into(),
        email: "rep@example.com".into(),
        tenant: "default".into(),
        groups: vec!["rep".into()],
    };
    let provider = runtime.block_on(testkit::oidc::Provider::start(
        "leadscore-web",
        &[],
        vec![rep],
    ));
    // Tokens that need renewing a second after they are issued.
    provider.set_token_lifetime(std::time::Duration::from_secs(61));
    let (_server, url) = serve(
        dir.path(),
        &[
            "--rate-limit",
            "0",
            "--oidc-issuer",
            &provider.issuer,
            "--oidc-client-id",
            "leadscore-web",
        ],
    );
    provider.allow_redirect(&format!("{url}/"));
    testkit::venv::say("signing in to the web app in chromium (about 10 s)");
    run_script("sign-in.mjs", &url);
    let stats = provider.stats();
    assert_eq!(
        (stats.codes_issued, stats.codes_traded),
        (1, 1),
        "{stats:?}"
    );
    assert!(stats.refreshes >= 1, "the ID token was renewed: {stats:?}");
    assert_eq!(stats.logouts, 1, "{stats:?}");
    assert_eq!(
        stats.refused, 0,
        "the page asked the provider for nothing it refused: {stats:?}"
    );
}
