//! `analysis-bench`: the analysis's throughput on one core, and its peak memory.
//! Run by `bench/analysis.sh`, which also runs the Python reference on the same corpus.
//!
//! ```text
//! analysis-bench speed CORPUS_DIR [MIN_SECONDS]   parse + analyse every .txt, repeatedly
//! analysis-bench memory FILE                       parse + analyse one transcript once
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use shared::analysis::analyze;
use shared::domain::{Direction, TranscriptFormat};
use shared::formats::parse_transcript;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("speed") if args.len() >= 3 => {
            let min = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3.0);
            speed(Path::new(&args[2]), Duration::from_secs_f64(min));
        }
        Some("memory") if args.len() == 3 => memory(Path::new(&args[2])),
        _ => {
            eprintln!(
                "usage: analysis-bench speed CORPUS_DIR [MIN_SECONDS] | analysis-bench memory FILE"
            );
            std::process::exit(2);
        }
    }
}

fn run(text: &[u8]) -> usize {
    let t = parse_transcript(TranscriptFormat::PlainText, text).expect("corpus files parse");
    let a = analyze(&t, None, Direction::Inbound);
    a.intents.len() + a.keywords.len()
}

fn speed(dir: &Path, min: Duration) {
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("read the corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read(p).expect("read a corpus file"))
        .collect();
    files.sort();
    let bytes: usize = files.iter().map(Vec::len).sum();
    // Warm up once, then repeat the corpus until at least `min` has passed.
    let mut sink = files.iter().map(|f| run(f)).sum::<usize>();
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < min {
        sink += files.iter().map(|f| run(f)).sum::<usize>();
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = files.len() as f64 * f64::from(rounds);
    println!(
        "{{\"transcripts\": {}, \"rounds\": {rounds}, \"seconds\": {secs:.3}, \"transcripts_per_second\": {:.1}, \"mb_per_second\": {:.2}, \"check\": {sink}}}",
        files.len(),
        n / secs,
        bytes as f64 * f64::from(rounds) / secs / 1e6
    );
}

/// Peak resident memory of this process, from /proc (Linux), in KiB.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn memory(file: &Path) {
    let text = std::fs::read(file).expect("read the transcript");
    let before = peak_kib();
    let start = Instant::now();
    let check = run(&text);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"bytes\": {}, \"seconds\": {secs:.4}, \"peak_kib_before\": {}, \"peak_kib\": {}, \"check\": {check}}}",
        text.len(),
        before.unwrap_or(0),
        peak_kib().unwrap_or(0)
    );
}
