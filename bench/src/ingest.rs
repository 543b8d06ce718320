//! How fast a backfill goes: `leadscore ingest` of a telephony export (transcripts with their
//! sidecars, two calls per caller) into a fresh data folder, end to end (taken, analysed,
//! scored), on disk and on tmpfs.
//!
//!     cargo build --release -p leadscore -p leadscore-bench
//!     target/release/ingest-bench [--runs N] [--baseline-bin PATH] [--disk DIR] [CALLS...]
//!
//! (10,000 calls when none are given; each figure the median of N runs, 1 by default.) Baselines in the same run: the same export into a data
//! folder on tmpfs (`/dev/shm`; what durability on disk costs), the analysis alone in this
//! process (what the pipeline adds to it), the first size (what the size costs per call: a
//! linear backfill keeps the ratio near 1), and with `--baseline-bin` another build of
//! `leadscore` (an earlier commit) on the same disk. Peak RSS is the ingest process's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use shared::analysis::analyze;
use shared::domain::{Direction, TranscriptFormat};
use shared::formats::parse_transcript;

#[path = "release.rs"]
mod release;

const AREAS: [u32; 12] = [415, 512, 617, 212, 303, 602, 720, 404, 615, 773, 206, 305];

/// The bundled sample calls, each export file one of them with a line of its own.
static SAMPLES: &[&str] = &[
    include_str!("../../samples/calls/20261104T150000Z_+18885550142_+14155550100_inbound.txt"),
    include_str!("../../samples/calls/20261104T153000Z_+15125550147_+14155550100_inbound.txt"),
    include_str!("../../samples/calls/20261108T184000Z_+17025550156_+14155550100_inbound.txt"),
    include_str!("../../samples/calls/20261113T213000Z_+18015550138_+14155550100_inbound.txt"),
];

struct Run {
    seconds: f64,
    peak_mib: f64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut baseline_bin = None;
    let mut runs = 1;
    let mut disk = std::env::temp_dir();
    let mut sizes = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--baseline-bin" => baseline_bin = args.next().map(PathBuf::from),
            "--disk" => disk = args.next().map(PathBuf::from).expect("--disk DIR"),
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            n => sizes.push(n.parse::<usize>().unwrap_or_else(|_| {
                eprintln!(
                    "usage: ingest-bench [--runs N] [--baseline-bin PATH] [--disk DIR] [CALLS...]"
                );
                std::process::exit(2)
            })),
        }
    }
    if sizes.is_empty() {
        sizes.push(10_000);
    }
    let bin = release::leadscore();
    let tmpfs = Path::new("/dev/shm")
        .is_dir()
        .then(|| PathBuf::from("/dev/shm"));
    let mut first_ms_per_call = None;
    for &calls in &sizes {
        let export = tempfile::tempdir_in(&disk).expect("a folder for the export");
        write_export(export.path(), calls);
        let analysis = analysis_seconds(export.path());
        let on_disk = ingest(&bin, &disk, export.path(), calls, runs);
        let per_call = on_disk.seconds * 1000.0 / calls as f64;
        let first = *first_ms_per_call.get_or_insert(per_call);
        println!(
            "{{\"calls\": {calls}, \"place\": \"disk\", \"seconds\": {:.1}, \"calls_per_second\": {:.0}, \"ms_per_call\": {per_call:.2}, \"peak_rss_mib\": {:.1}, \"per_call_vs_first_size\": {:.2}, \"vs_analysis_alone\": {:.1}}}",
            on_disk.seconds,
            calls as f64 / on_disk.seconds,
            on_disk.peak_mib,
            per_call / first,
            on_disk.seconds / analysis,
        );
        if let Some(tmpfs) = &tmpfs {
            let in_memory = ingest(&bin, tmpfs, export.path(), calls, runs);
            println!(
                "{{\"calls\": {calls}, \"place\": \"tmpfs\", \"seconds\": {:.1}, \"peak_rss_mib\": {:.1}, \"disk_vs_tmpfs\": {:.2}}}",
                in_memory.seconds,
                in_memory.peak_mib,
                on_disk.seconds / in_memory.seconds
            );
        }
        println!(
            "{{\"calls\": {calls}, \"place\": \"analysis alone, in process\", \"seconds\": {analysis:.2}, \"ms_per_call\": {:.3}}}",
            analysis * 1000.0 / calls as f64
        );
        if let Some(baseline) = &baseline_bin {
            let before = ingest(baseline, &disk, export.path(), calls, 1);
            println!(
                "{{\"calls\": {calls}, \"place\": \"disk\", \"binary\": \"{}\", \"seconds\": {:.1}, \"peak_rss_mib\": {:.1}, \"this_build_vs_baseline\": {:.2}}}",
                baseline.display(),
                before.seconds,
                before.peak_mib,
                on_disk.seconds / before.seconds
            );
        }
    }
}

/// `calls` transcripts with sidecars, two calls per caller, a day apart in time order.
fn write_export(dir: &Path, calls: usize) {
    let callers = calls.div_ceil(2);
    for i in 0..calls {
        let c = i % callers;
        let caller = format!("+1{}555{:04}", AREAS[c / 10_000 % AREAS.len()], c % 10_000);
        let started = chrono::DateTime::parse_from_rfc3339("2025-01-01T09:00:00Z").unwrap()
            + chrono::Duration::minutes(i as i64 * 50);
        let stem = format!("call-{i:06}");
        let text = format!(
            "{}\nAgent: Your reference is {i}.\n",
            SAMPLES[i % SAMPLES.len()]
        );
        std::fs::write(dir.join(format!("{stem}.txt")), text).expect("write the export");
        let meta = serde_json::json!({
            "caller": caller,
            "callee": "+14155550100",
            "started_at": started.to_rfc3339(),
            "direction": "inbound",
            "external_id": format!("EXT{i}"),
        });
        std::fs::write(dir.join(format!("{stem}.meta.json")), meta.to_string())
            .expect("write the export");
    }
}

/// Parse and analyse every transcript of the export once, in this process.
fn analysis_seconds(export: &Path) -> f64 {
    let texts: Vec<Vec<u8>> = std::fs::read_dir(export)
        .expect("read the export")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read(p).expect("read a transcript"))
        .collect();
    let start = Instant::now();
    let mut check = 0;
    for t in &texts {
        let t = parse_transcript(TranscriptFormat::PlainText, t).expect("the samples parse");
        check += analyze(&t, None, Direction::Inbound).keywords.len();
    }
    assert!(check > 0);
    start.elapsed().as_secs_f64()
}

/// `bin ingest EXPORT` into a new data folder under `place`, `runs` times: the median time and
/// the highest peak RSS.
#[expect(
    clippy::zombie_processes,
    reason = "the child is waited for by wait4, which also reads its peak RSS"
)]
fn ingest(bin: &Path, place: &Path, export: &Path, calls: usize, runs: usize) -> Run {
    let mut seconds = Vec::new();
    let mut peak_kib = 0;
    for run in 1..=runs.max(1) {
        let data = tempfile::tempdir_in(place).expect("a data folder");
        eprintln!(
            "ingesting {calls} calls with {} into {} (run {run} of {runs}) ...",
            bin.display(),
            place.display()
        );
        let start = Instant::now();
        let child = Command::new(bin)
            .arg("--data-dir")
            .arg(data.path())
            .arg("ingest")
            .arg(export)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start leadscore ingest");
        let (status, peak) = wait_with_peak(child.id());
        seconds.push(start.elapsed().as_secs_f64());
        assert!(status == 0, "leadscore ingest failed (status {status})");
        peak_kib = peak_kib.max(peak);
    }
    seconds.sort_by(f64::total_cmp);
    Run {
        seconds: seconds[seconds.len() / 2],
        peak_mib: peak_kib as f64 / 1024.0,
    }
}

/// Wait for the child and read its own peak RSS (KiB) from the kernel's accounting.
fn wait_with_peak(pid: u32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills; pid is our own child, waited once.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid as libc::pid_t, "wait for leadscore ingest");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss)
}
