//! Figures for the model: how long training takes on a CRM export (each model's fit, and the
//! whole cross-validated `train`), and how long predicting one row takes.
//!
//! usage: model-bench train CSV TARGET POSITIVE [DROP,COLS] [FOLDS_OUT]
//!        model-bench score CSV TARGET POSITIVE [DROP,COLS]
//!
//! `score`: the time to score one lead with 50 analysed calls under the default rules, alone
//! and with a model trained on the CSV (the lead's CRM fields are the CSV's first row).
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
        Some("score") if args.len() >= 5 => score_figures(
            Path::new(&args[2]),
            &args[3],
            &args[4],
            args.get(5).map(String::as_str).unwrap_or(""),
        ),
        _ => {
            eprintln!(
                "usage: model-bench train CSV TARGET POSITIVE [DROP,COLS] [FOLDS_OUT]\n       \
                 model-bench score CSV TARGET POSITIVE [DROP,COLS]"
            );
            std::process::exit(2);
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn spec(target: &str, positive: &str, drop: &str) -> TargetSpec {
    TargetSpec {
        column: target.into(),
        positive: Some(positive.into()),
        drop: drop
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

/// One lead with 50 analysed calls (a real sample call, a day apart), scored repeatedly.
fn score_figures(csv: &Path, target: &str, positive: &str, drop: &str) {
    use chrono::{Duration as Days, Utc};
    use shared::domain::{
        Call, CallId, CallStatus, Direction, Lead, PhoneNumber, TenantId, TranscriptFormat,
    };
    use shared::scoring::{Context, RuleSet, default_rules, score_lead};

    let bytes = std::fs::read(csv).expect("read the CSV");
    let spec = spec(target, positive, drop);
    let table = read_csv(&bytes, &spec).expect("a usable CSV");
    let model = train(&table, &TrainOptions::default(), &|_, _, _| {}).expect("training");

    let tenant = TenantId::default_tenant();
    let now = Utc::now();
    let mut lead = Lead::new(
        tenant.clone(),
        PhoneNumber::parse("+15125550147").unwrap(),
        now,
    );
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .expect("three candidates");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let header = reader.headers().expect("a header").clone();
    let first = reader.records().next().expect("a row").expect("a row");
    for (k, v) in header.iter().zip(first.iter()) {
        lead.crm.insert(k.to_owned(), v.to_owned());
    }
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/calls/20261104T153000Z_+15125550147_+14155550100_inbound.txt"
    );
    let text = std::fs::read(sample).expect("the sample call");
    let transcript =
        shared::formats::parse_transcript(TranscriptFormat::PlainText, &text).expect("parses");
    let analysis = shared::analysis::analyze(&transcript, None, Direction::Inbound);
    let calls: Vec<Call> = (0..50)
        .map(|i| {
            let at = now - Days::days(i);
            Call {
                tenant_id: tenant.clone(),
                call_id: CallId::derive(&tenant, &format!("bench-{i}")),
                lead_id: lead.lead_id.clone(),
                call_start_time: at,
                call_duration: Some(240.0),
                direction: Direction::Inbound,
                caller: lead.phone_number.clone(),
                callee: None,
                external_id: None,
                source_name: format!("bench-{i}.txt"),
                recording_key: None,
                recording_sha256: None,
                transcript_source_key: None,
                transcript_sha256: None,
                transcript_key: None,
                status: CallStatus::Analyzed,
                status_detail: None,
                failed_stage: None,
                agent_speaker: None,
                sentiment_score: Some(analysis.sentiment.customer),
                keywords: analysis.keywords.clone(),
                pii_masked: 0,
                analysis: Some(analysis.clone()),
                attributes: Default::default(),
                created_at: at,
                updated_at: at,
                version: 1,
            }
        })
        .collect();
    let rules = RuleSet::compile(&default_rules(&tenant, now));
    let tiers = Default::default();
    let time = |model: Option<&shared::model::Model>| {
        let cx = Context {
            rules: &rules,
            model,
            tiers: &tiers,
            now,
        };
        let runs = 2000;
        let t = Instant::now();
        let mut last = None;
        for _ in 0..runs {
            last = Some(std::hint::black_box(score_lead(&lead, &calls, &cx)));
        }
        (t.elapsed().as_secs_f64() * 1e6 / runs as f64, last.unwrap())
    };
    let (rules_only, s) = time(None);
    println!(
        "score one lead with 50 calls, default rules: {rules_only:.0} us (score {}, {} factors)",
        s.value,
        s.factors.len()
    );
    let (with_model, s) = time(Some(&model));
    println!(
        "... and a {:?} model on {} columns (with each input's effect for the explanation): \
         {with_model:.0} us (score {}, probability {:.3})",
        model.kind,
        model.encoder.features.len(),
        s.value,
        s.probability.unwrap_or_default()
    );
    let t = Instant::now();
    for _ in 0..200 {
        std::hint::black_box(RuleSet::compile(&default_rules(&tenant, now)));
    }
    println!(
        "compiling the {} default rules: {:.0} us",
        shared::scoring::DEFAULT_RULES.len(),
        t.elapsed().as_secs_f64() * 1e6 / 200.0
    );
}

fn train_figures(csv: &Path, target: &str, positive: &str, drop: &str, folds_out: Option<&Path>) {
    let started = Instant::now();
    let bytes = std::fs::read(csv).expect("read the CSV");
    let table = read_csv(&bytes, &spec(target, positive, drop)).expect("a usable CSV");
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
