//! Figures for the model: how long training takes on a CRM export (each model's fit, and the
//! whole cross-validated `train`), and how long predicting one row takes.
//!
//! usage: model-bench train CSV TARGET POSITIVE [DROP,COLS] [FOLDS_OUT]
//!
//! FOLDS_OUT: write each row's cross-validation fold (one per line), so that a reference
//! implementation can be scored on the very same split.

use std::path::Path;
use std::time::{Duration, Instant};

use shared::model::boost::{BoostParams, Booster};
use shared::model::encode::{Encoder, table_row};
use shared::model::logistic::Logistic;
use shared::model::train::stratified_folds;
use shared::model::{TargetSpec, TrainOptions, read_csv, train};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("train") if args.len() >= 5 => train_figures(
            Path::new(&args[2]),
            &args[3],
            &args[4],
            args.get(5).map(String::as_str).unwrap_or(""),
            args.get(6).map(Path::new),
        ),
        _ => {
            eprintln!("usage: model-bench train CSV TARGET POSITIVE [DROP,COLS] [FOLDS_OUT]");
            std::process::exit(2);
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn train_figures(csv: &Path, target: &str, positive: &str, drop: &str, folds_out: Option<&Path>) {
    let started = Instant::now();
    let bytes = std::fs::read(csv).expect("read the CSV");
    let spec = TargetSpec {
        column: target.into(),
        positive: Some(positive.into()),
        drop: drop
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let table = read_csv(&bytes, &spec).expect("a usable CSV");
    let read = started.elapsed();
    let rows: Vec<usize> = (0..table.rows()).collect();
    if let Some(out) = folds_out {
        let options = TrainOptions::default();
        let folds = stratified_folds(&table.target, options.folds, options.seed);
        let text: String = folds.iter().map(|f| format!("{f}\n")).collect();
        std::fs::write(out, text).expect("write the folds");
    }

    let t = Instant::now();
    let encoder = Encoder::fit(&table, &rows);
    let width = encoder.linear_width();
    let mut linear = Vec::with_capacity(rows.len() * width);
    let mut columns = vec![Vec::with_capacity(rows.len()); encoder.features.len()];
    let mut tree = Vec::new();
    for &r in &rows {
        let raw = table_row(&table, r);
        encoder.linear(&raw, &mut linear);
        tree.clear();
        encoder.tree(&raw, &mut tree);
        for (c, v) in columns.iter_mut().zip(&tree) {
            c.push(*v);
        }
    }
    let encode = t.elapsed();
    let t = Instant::now();
    let logistic = Logistic::fit(linear, width, &table.target).expect("logistic regression");
    let lr = t.elapsed();
    let t = Instant::now();
    let boosted = Booster::fit(&columns, &table.target, &BoostParams::default());
    let gb = t.elapsed();
    let t = Instant::now();
    let mut sum = 0.0;
    for r in &rows {
        let raw = table_row(&table, *r);
        let mut x = Vec::new();
        encoder.tree(&raw, &mut x);
        sum += boosted.margin(&x);
        x.clear();
        encoder.linear(&raw, &mut x);
        sum += logistic.margin(&x);
    }
    let predict = t.elapsed();
    std::hint::black_box(sum);

    let t = Instant::now();
    let model = train(&table, &TrainOptions::default(), &|_, _, _| {}).expect("training");
    let whole = t.elapsed();
    println!(
        "{} rows x {} columns ({} linear inputs); read and typed in {}",
        table.rows(),
        table.columns.len(),
        width,
        seconds(read)
    );
    println!(
        "one fit on every row: encode {}, logistic regression {}, boosted trees {}",
        seconds(encode),
        seconds(lr),
        seconds(gb)
    );
    println!(
        "prediction: {:.1} us per row (both models)",
        predict.as_secs_f64() * 1e6 / rows.len() as f64
    );
    println!(
        "leadscore train (5-fold CV of both models, calibration, final fit, time split): {}",
        seconds(whole)
    );
    println!(
        "{}",
        serde_json::json!({
            "kind": model.metrics.kind,
            "auc": model.metrics.auc,
            "brier": model.metrics.brier,
            "calibration_error": model.metrics.calibration_error,
            "time_split_auc": model.metrics.time_split_auc,
            "candidates": model.metrics.candidates,
            "train_seconds": whole.as_secs_f64(),
        })
    );
}
