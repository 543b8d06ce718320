//! How soon the web app's lead list is usable, at 10,000 and 100,000 leads: a data folder
//! filled with scored leads, `leadscore serve`'s router on a real socket, and Debian's chromium
//! driven by Playwright (`bench/web.mjs`, the tools the web app's tests install) opening the
//! list cold: the time until the first page of leads is on screen, the bytes the first load
//! moved, and the time a filter (hot) and the next page take. The baseline, in the same run, is
//! the same list with 100 leads: the ratio says what the lead count costs.
//!
//!     cargo run --release -p leadscore-bench --bin web-bench -- [LEADS...]
//!
//! (10,000 and 100,000 when none are given.) The data folder is made on tmpfs (`/dev/shm`)
//! where there is one, so that filling it is quick; the list reads it the same either way.

use std::process::Command;
use std::time::Instant;

use shared::local::LocalApp;

use testkit::leads::lead;

const BASELINE: usize = 100;

#[derive(serde::Deserialize)]
struct Figures {
    usable_ms: f64,
    first_load_bytes: f64,
    filter_ms: f64,
    next_page_ms: f64,
}

/// A data folder with `n` leads, served; the figures chromium measured.
async fn measure(n: usize, tools: &testkit::browser::Browser) -> Figures {
    let base = std::path::Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let tenant = app.deps.config.tenant.clone();
    let filled = Instant::now();
    for i in 0..n {
        app.deps.leads.insert_lead(&lead(&tenant, i)).await.unwrap();
    }
    eprintln!(
        "{n} leads stored in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shared::local::serve(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let script = testkit::venv::workspace().join("bench/web.mjs");
    let out = tokio::task::spawn_blocking({
        let (chromium, modules) = (tools.chromium.clone(), tools.node_modules.clone());
        move || {
            Command::new("node")
                .arg(script)
                .env("BASE_URL", format!("http://{addr}"))
                .env("CHROMIUM", chromium)
                .env("NODE_MODULES", modules)
                .output()
                .expect("run node")
        }
    })
    .await
    .unwrap();
    let _ = stop.send(());
    let _ = server.await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the figures as JSON")
}

#[tokio::main]
async fn main() {
    let mut counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("LEADS are numbers"))
        .collect();
    if counts.is_empty() {
        counts = vec![10_000, 100_000];
    }
    let tools = testkit::browser::installed();
    let baseline = measure(BASELINE, &tools).await;
    println!(
        "{:>8}  {:>10}  {:>6}  {:>14}  {:>10}  {:>13}",
        "leads", "usable ms", "ratio", "first load KB", "filter ms", "next page ms"
    );
    let row = |n: usize, f: &Figures| {
        println!(
            "{n:>8}  {:>10.0}  {:>6.2}  {:>14.1}  {:>10.0}  {:>13.0}",
            f.usable_ms,
            f.usable_ms / baseline.usable_ms,
            f.first_load_bytes / 1024.0,
            f.filter_ms,
            f.next_page_ms
        )
    };
    row(BASELINE, &baseline);
    for n in counts {
        let figures = measure(n, &tools).await;
        row(n, &figures);
    }
}
