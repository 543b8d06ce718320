//! How fast scores reach a CRM: the local server (embedded store, worker running) pushing to
//! the HubSpot stand-in (`testkit::hubspot`, a real socket, 100 requests per rolling ten
//! seconds as a private app on Free or Starter gets).
//!
//!     cargo run --release -p leadscore-bench --bin crm-bench -- [LEADS] [CHANGES]
//!
//! 1. A first sync of LEADS scored leads (matched by phone, none found, contacts created):
//!    leads pushed per second, against the ceiling the rate limit allows.
//! 2. A rule that changes every lead's score at once: the re-push, leads per second.
//! 3. CHANGES adjustments made one at a time through the API: the time from the request to
//!    the contact showing the new score (p50, p95), against the worker's batching window.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::domain::{Lead, PhoneNumber, TenantId, Tier};
use shared::local::LocalApp;
use testkit::hubspot::HubSpot;

const TOKEN: &str = "pat-na1-bench";
/// HubSpot's limit for a private app on Free and Starter, per rolling ten seconds.
const LIMIT: usize = 100;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn wait(what: &str, patience: Duration, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < patience, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("LEADS and CHANGES are numbers"))
        .collect();
    let leads = args.first().copied().unwrap_or(2000);
    let changes = args.get(1).copied().unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shared::local::serve(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let hubspot = HubSpot::start(TOKEN).await;
    hubspot.set_limit(LIMIT);
    let tenant = TenantId::default_tenant();
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for i in 0..leads {
        let phone = PhoneNumber::parse(&format!("+1212{:07}", 5_550_000 + i)).unwrap();
        let mut lead = Lead::new(tenant.clone(), phone, now);
        lead.lead_score = Some(10);
        lead.tier = Some(Tier::Cold);
        lead.score_updated_at = Some(now);
        app.deps.leads.insert_lead(&lead).await.unwrap();
        ids.push(lead.lead_id);
    }
    let status = async || -> Value {
        client
            .get(format!("{base}/integrations/hubspot"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };

    // 1. The first sync.
    let started = Instant::now();
    let answer = client
        .put(format!("{base}/integrations/hubspot"))
        .json(
            &json!({"token": TOKEN, "base_url": hubspot.url, "create_missing": true,
                      "requests_per_10s": LIMIT}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    wait("the first sync", Duration::from_secs(600), async || {
        status().await["counts"]["pushed"].as_u64() == Some(leads as u64)
    })
    .await;
    let first = started.elapsed().as_secs_f64();
    let stats = hubspot.stats();
    // Each batch of 100 new leads takes a search and a create: two requests for 100 leads.
    // The push counts LIMIT / 2 requests per fixed ten seconds (so that no rolling ten seconds
    // sees more than LIMIT): a burst of that many goes at once, then that many per window.
    let ceiling = (LIMIT / 2) as f64 / 10.0 / 2.0 * 100.0;
    let burst = (LIMIT / 2) / 2 * 100;
    println!("HubSpot stand-in, {LIMIT} requests per rolling 10 s; {leads} leads");
    println!(
        "  first sync (match by phone, create):  {:.1} s, {:.0} leads/s; {} requests, {} in the busiest 10 s, {} answered 429",
        first,
        leads as f64 / first,
        stats.requests,
        stats.max_in_window,
        stats.rate_limited
    );
    if leads > burst {
        println!(
            "    sustained ceiling at this limit: {ceiling:.0} leads/s after a first burst of {burst}; ratio {:.2}",
            (leads - burst) as f64 / (first - 0.0).max(1e-3) / ceiling
        );
    } else {
        println!(
            "    {leads} leads fit in the first burst ({burst} leads); the sustained ceiling is {ceiling:.0} leads/s (run with more leads to see it)"
        );
    }

    // 2. Every score changes at once.
    let before = hubspot.stats();
    let started = Instant::now();
    let answer = client
        .post(format!("{base}/scoring_rules"))
        .json(&json!({"criteria": "calls.count == 0", "weight": 7, "description": "Never called yet"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    wait("the re-push", Duration::from_secs(600), async || {
        hubspot
            .contacts()
            .values()
            .all(|c| c["leadscore_score"] != "10")
    })
    .await;
    let second = started.elapsed().as_secs_f64();
    let after = hubspot.stats();
    println!(
        "  every score changed (re-score, update by id): {:.1} s, {:.0} leads/s; {} requests ({} batch updates), {} answered 429",
        second,
        leads as f64 / second,
        after.requests - before.requests,
        after.batch_calls - before.batch_calls,
        after.rate_limited
    );

    // 3. One change at a time: request to CRM.
    let mut latency = Vec::new();
    for (n, id) in ids.iter().take(changes).enumerate() {
        let points = if n % 2 == 0 { 25.0 } else { -5.0 };
        let sent = Instant::now();
        let lead: Value = client
            .put(format!("{base}/leads/{id}/adjustment"))
            .json(&json!({"points": points, "reason": "bench"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let score = lead["lead_score"].to_string();
        let record = loop {
            let lead = app.deps.leads.get_lead(&tenant, id).await.unwrap().unwrap();
            if let Some(r) = lead
                .crm_sync
                .values()
                .next()
                .and_then(|s| s.record_id.clone())
            {
                break r;
            }
        };
        wait(
            "the change in HubSpot",
            Duration::from_secs(60),
            async || {
                hubspot
                    .contact(&record)
                    .is_some_and(|c| c["leadscore_score"] == score)
            },
        )
        .await;
        latency.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    let p95 = percentile(&mut latency, 0.95);
    println!(
        "  {changes} changes one at a time, request to CRM: p50 {:.0} ms  p95 {:.0} ms  max {:.0} ms",
        percentile(&mut latency, 0.5),
        p95,
        percentile(&mut latency, 1.0)
    );
    println!(
        "    against the issue's bound (\"within seconds\", 1 s): p95 is {:.2} of it",
        p95 / 1e3
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
