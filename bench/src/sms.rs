//! How fast a text moves its lead: signed Twilio webhooks posted over a real socket to the
//! local server (embedded store, worker running), timing the webhook's answer and the time until
//! the lead's score is saved again by the re-score the text caused.
//!
//!     cargo run --release -p leadscore-bench --bin sms-bench -- [LEADS] [TEXTS_PER_LEAD]
//!
//! With 200 or more texts per lead it also compares the first 100 texts' answer times with
//! the last 100's: a text costs the same however many came before it (the stored fold is
//! carried on, not the log re-read). The baseline, before the fold, grew from 9 ms to 39 ms
//! over 2,000 texts to one lead (`sms-bench 1 2000`).

use std::time::{Duration, Instant};

use shared::domain::{LeadId, PhoneNumber, TenantId};
use shared::local::LocalApp;
use shared::sms::twilio::{self, Algorithm};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

const TEXTS: &[&str] = &[
    "Yes! Please call me tomorrow at 3pm",
    "How much per month?",
    "Not interested, thanks",
    "Can we book a demo Tuesday 10am?",
    "ok",
    "Who is this? Wrong number",
    "Sounds good, send me the details 👍",
    "STOP",
    "START",
    "Llámame por favor, call me",
];

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("LEADS and TEXTS_PER_LEAD are numbers"))
        .collect();
    let leads = args.first().copied().unwrap_or(50);
    let per_lead = args.get(1).copied().unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        twilio_auth_token: Some(TOKEN.to_owned()),
        // The bench measures texts, not the tenant's request limit (600 a minute).
        rate_limit_per_minute: 0,
        ..Default::default()
    };
    let app = LocalApp::open(dir.path(), config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shared::local::serve(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/twilio/default/sms");
    let client = reqwest::Client::new();
    let tenant = TenantId::default_tenant();

    let mut answer_ms = Vec::new();
    let mut rescored_ms = Vec::new();
    let started = Instant::now();
    for i in 0..leads * per_lead {
        let phone = format!("+1512555{:04}", i % leads);
        let sid = format!("SM{i:032}");
        let params: Vec<(String, String)> = [
            ("MessageSid", sid.as_str()),
            ("From", phone.as_str()),
            ("To", "+15125550100"),
            ("Body", TEXTS[i % TEXTS.len()]),
            ("NumMedia", "0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let signature = twilio::signature(Algorithm::HmacSha1, TOKEN, &url, &params);
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            form.append_pair(k, v);
        }
        let (sent, sent_at) = (Instant::now(), chrono::Utc::now());
        let resp = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(form.finish())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        answer_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        // Wait for the re-score this text caused: the lead's score saved after it was sent
        // (nothing else happens to the lead meanwhile). Reading the lead, not its growing
        // score ledger, keeps the bench's own cost flat.
        let lead: LeadId = app
            .deps
            .leads
            .find_lead_by_phone(&tenant, &PhoneNumber::parse(&phone).unwrap())
            .await
            .unwrap()
            .expect("the texter is a lead")
            .lead_id;
        loop {
            let stored = app.deps.leads.get_lead(&tenant, &lead).await.unwrap();
            if stored.and_then(|l| l.score_updated_at) >= Some(sent_at) {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(30),
                "no re-score for {sid}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        rescored_ms.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    let total = started.elapsed().as_secs_f64();
    let n = answer_ms.len();
    // The p50 of texts `from..from + 100` of every lead.
    let window_p50 = |times: &[f64], from: usize| {
        let mut window: Vec<f64> = (from..from + 100)
            .flat_map(|t| times.get(t * leads..(t + 1) * leads).unwrap_or(&[]))
            .copied()
            .collect();
        percentile(&mut window, 0.5)
    };
    let growth = (per_lead >= 200).then(|| {
        [&answer_ms, &rescored_ms]
            .map(|times| (window_p50(times, 0), window_p50(times, per_lead - 100)))
    });
    println!(
        "{n} signed webhooks from {leads} leads, one at a time, each waited on until re-scored"
    );
    println!(
        "  webhook answered (TwiML):   p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms",
        percentile(&mut answer_ms, 0.5),
        percentile(&mut answer_ms, 0.95),
        percentile(&mut answer_ms, 1.0)
    );
    println!(
        "  text to re-scored lead:     p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms",
        percentile(&mut rescored_ms, 0.5),
        percentile(&mut rescored_ms, 0.95),
        percentile(&mut rescored_ms, 1.0)
    );
    println!(
        "  {:.0} texts/s end to end; the brief's bound is \"in seconds\": p95 is {:.4} of 1 s",
        n as f64 / total,
        percentile(&mut rescored_ms, 0.95) / 1e3
    );
    if let Some([(first, last), (first_scored, last_scored)]) = growth {
        println!(
            "  p50, texts 1-100 per lead vs texts {}-{per_lead}: answered {first:.1} ms vs \
             {last:.1} ms ({:.2}x; before the fold 9 ms vs 39 ms, 4.33x); re-scored \
             {first_scored:.1} ms vs {last_scored:.1} ms ({:.2}x)",
            per_lead - 99,
            last / first,
            last_scored / first_scored
        );
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
