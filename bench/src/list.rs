//! How the lead list holds up under a team: `leadscore serve` (the release binary, its own
//! process) over a data folder of scored leads, and 100 connections asking at once, each
//! again as soon as it has its answer, for a while: requests per second and latency
//! percentiles for a page of 50 leads (`GET /leads?limit=50`), a page of hot leads by last
//! activity, and one lead (`GET /leads/{id}`).
//!
//!     cargo build --release -p leadscore -p leadscore-bench
//!     target/release/list-bench [--connections N] [--seconds S] [--baseline-bin PATH] [LEADS...]
//!
//! (100,000 leads, 100 connections, 10 s per endpoint by default.) Baselines in the same run:
//! `GET /health` under the same load (what the server and this load generator cost, with no
//! store behind them) and, with `--baseline-bin`, another build of `leadscore` serving the same
//! folder. That build must know this build's schema (an older `leadscore` refuses a database
//! a newer one migrated); for a build from before a migration, run its own `list-bench`. The load generator shares the machine's cores with the server, as a team's browsers
//! would not: the figures are an upper bound on what one machine serves.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::local::LocalApp;

#[path = "release.rs"]
mod release;

struct Args {
    connections: usize,
    seconds: u64,
    baseline_bin: Option<PathBuf>,
    sizes: Vec<usize>,
}

fn args() -> Args {
    let mut a = Args {
        connections: 100,
        seconds: 10,
        baseline_bin: None,
        sizes: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!(
            "usage: list-bench [--connections N] [--seconds S] [--baseline-bin PATH] [LEADS...]"
        );
        std::process::exit(2)
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--connections" => a.connections = value().parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage()),
            "--baseline-bin" => a.baseline_bin = Some(PathBuf::from(value())),
            n => a.sizes.push(n.parse().unwrap_or_else(|_| usage())),
        }
    }
    if a.sizes.is_empty() {
        a.sizes.push(100_000);
    }
    a
}

/// `leadscore serve` on a free port, killed when dropped.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(bin: &Path, data: &Path) -> Server {
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        // No per-tenant request limit: the bench is one tenant asking as a whole team.
        .args(["serve", "--port", "0", "--rate-limit", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start leadscore serve");
    let mut out = BufReader::new(child.stdout.take().expect("its stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("the server's first line");
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the server prints its address")
        .trim_end_matches('/')
        .to_owned();
    Server(child, url)
}

/// The path a client asks for on its `i`th request.
type Paths = Arc<dyn Fn(usize) -> String + Send + Sync>;

struct Figures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    bytes: usize,
    /// Requests refused or not answered.
    failed: usize,
}

/// `connections` clients asking for the paths `next` gives, each again as soon as answered,
/// for `seconds`.
async fn load(base: &str, connections: usize, seconds: u64, next: Paths) -> Figures {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (base, next) = (base.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            // One client per connection, as one browser each.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("an HTTP client");
            let (mut times, mut bytes, mut failed, mut i) = (Vec::new(), 0, 0, c);
            while Instant::now() < until {
                let t = Instant::now();
                i += connections;
                let res = match client.get(format!("{base}{}", next(i))).send().await {
                    Ok(res) if res.status().is_success() => res,
                    _ => {
                        failed += 1;
                        continue;
                    }
                };
                bytes = res.bytes().await.map_or(0, |b| b.len());
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            (times, bytes, failed)
        }));
    }
    let (mut all, mut bytes, mut failed) = (Vec::new(), 0, 0);
    for t in tasks {
        let (times, b, f) = t.await.expect("a client task");
        all.extend(times);
        bytes = bytes.max(b);
        failed += f;
    }
    assert!(!all.is_empty(), "no request was answered");
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures {
        per_second: all.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: all.last().copied().unwrap_or(0.0),
        bytes,
        failed,
    }
}

async fn measure(bin: &Path, data: &Path, ids: &Arc<Vec<String>>, a: &Args, label: &str) {
    let server = serve(bin, data);
    let url = server.1.clone();
    let ids = ids.clone();
    let endpoints: [(&str, Paths); 4] = [
        ("GET /health", Arc::new(|_| "/health".to_owned())),
        (
            "GET /leads?limit=50",
            Arc::new(|_| "/leads?limit=50".to_owned()),
        ),
        (
            "GET /leads?tier=hot&sort=last_activity",
            Arc::new(|_| "/leads?tier=hot&sort=last_activity&limit=50".to_owned()),
        ),
        (
            "GET /leads/{id}",
            Arc::new(move |i| format!("/leads/{}", ids[i % ids.len()])),
        ),
    ];
    for (name, next) in endpoints {
        eprintln!("{label}: {name}, {} connections ...", a.connections);
        let f = load(&url, a.connections, a.seconds, next).await;
        println!(
            "{label:<24} {name:<40} {:>7.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  {:>6} bytes  {} failed",
            f.per_second, f.p50_ms, f.p99_ms, f.max_ms, f.bytes, f.failed
        );
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let bin = release::leadscore();
    for &n in &a.sizes {
        let place = Path::new("/dev/shm");
        let dir = if place.is_dir() {
            tempfile::tempdir_in(place)
        } else {
            tempfile::tempdir()
        }
        .expect("a data folder");
        let ids = {
            let app = LocalApp::open(dir.path(), shared::Config::default()).expect("open it");
            let tenant = app.deps.config.tenant.clone();
            let filled = Instant::now();
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let lead = testkit::leads::lead(&tenant, i);
                ids.push(lead.lead_id.to_string());
                app.deps
                    .leads
                    .insert_lead(&lead)
                    .await
                    .expect("store a lead");
            }
            eprintln!(
                "{n} leads stored in {:.1} s",
                filled.elapsed().as_secs_f64()
            );
            Arc::new(ids)
        };
        measure(&bin, dir.path(), &ids, &a, &format!("{n} leads")).await;
        if let Some(baseline) = &a.baseline_bin {
            measure(
                baseline,
                dir.path(),
                &ids,
                &a,
                &format!("{n} leads, baseline"),
            )
            .await;
        }
    }
}
