//! Training and honest evaluation: stratified k-fold cross-validation gives every row a
//! prediction from a model that never saw it; the candidates (logistic regression, boosted
//! trees, and their blend) are compared on those, the best is calibrated on them, and the final
//! model is fitted on every row. A time-ordered split (train on the first rows, test on the
//! last) says how it holds up on leads that come later.

use std::time::Instant;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::boost::{BoostParams, Booster};
use super::calibrate::Isotonic;
use super::encode::{Encoder, table_row};
use super::logistic::Logistic;
use super::metrics::{self, AtThreshold, Decile};
use super::table::Table;
use super::{Model, ModelKind};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub folds: usize,
    /// Probability at which a lead is called "will convert", for precision/recall/F1.
    pub threshold: f64,
    /// Share of the last rows held out for the time-ordered check (0 to skip it).
    pub holdout: f64,
    pub seed: u64,
    pub boost: BoostParams,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            threshold: 0.5,
            holdout: 0.2,
            seed: 42,
            boost: BoostParams::default(),
        }
    }
}

/// A model kind's cross-validated ranking quality.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Candidate {
    pub kind: ModelKind,
    /// Cross-validated.
    pub auc: f64,
    /// Trained on the first rows, tested on the last.
    pub time_split_auc: Option<f64>,
}

/// What training measured; saved with the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Metrics {
    pub rows: usize,
    pub positives: usize,
    pub features: usize,
    pub folds: usize,
    pub kind: ModelKind,
    pub candidates: Vec<Candidate>,
    /// Cross-validated, of the calibrated probabilities.
    pub auc: f64,
    pub brier: f64,
    pub calibration_error: f64,
    #[serde(flatten)]
    pub at_threshold: AtThreshold,
    pub deciles: Vec<Decile>,
    /// AUC when trained on the first rows and tested on the last `holdout` share.
    pub time_split_auc: Option<f64>,
    pub holdout: f64,
    pub train_seconds: f64,
}

/// One step done, of how many.
pub type Progress<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

/// Train and evaluate; the error names what is wrong with the data.
pub fn train(table: &Table, options: &TrainOptions, progress: Progress) -> Result<Model> {
    let started = Instant::now();
    let n = table.rows();
    let positives = table.positives();
    let folds = options.folds.clamp(2, 20);
    if positives < folds || n - positives < folds {
        return Err(Error::validation(format!(
            "{positives} of {n} rows converted: {folds}-fold cross-validation needs at least \
             {folds} of each outcome"
        )));
    }
    let holdout_rows = (n as f64 * options.holdout) as usize;
    let time_split = holdout_rows >= 10 && {
        let train = &table.target[..n - holdout_rows];
        let test = &table.target[n - holdout_rows..];
        [train, test]
            .iter()
            .all(|p| p.contains(&true) && p.contains(&false))
    };
    let steps = folds + 1 + usize::from(time_split);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let tick = |what: &str| {
        let step = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(what, step, steps);
    };

    // Out-of-fold margins for each candidate; the folds are fitted side by side.
    let assignment = stratified_folds(&table.target, folds, options.seed);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let fold_margins: Vec<Result<Vec<(usize, f64, f64)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(folds))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= folds {
                            return out;
                        }
                        let (train_rows, test_rows): (Vec<usize>, Vec<usize>) =
                            (0..n).partition(|&r| assignment[r] != k);
                        let margins = Fitted::fit(table, &train_rows, &options.boost).map(|f| {
                            test_rows
                                .iter()
                                .map(|&r| {
                                    let (l, t) = f.margins(table, r);
                                    (r, l, t)
                                })
                                .collect()
                        });
                        tick(&format!("fold {} of {folds}", k + 1));
                        out.push(margins);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a training thread panicked"))
            .collect()
    });
    let mut oof_linear = vec![0.0; n];
    let mut oof_trees = vec![0.0; n];
    for margins in fold_margins {
        for (r, l, t) in margins? {
            oof_linear[r] = l;
            oof_trees[r] = t;
        }
    }
    let oof_blend: Vec<f64> = oof_linear
        .iter()
        .zip(&oof_trees)
        .map(|(l, t)| (l + t) / 2.0)
        .collect();
    let candidates = vec![
        Candidate {
            kind: ModelKind::Logistic,
            auc: metrics::auc(&oof_linear, &table.target),
            time_split_auc: None,
        },
        Candidate {
            kind: ModelKind::Boosted,
            auc: metrics::auc(&oof_trees, &table.target),
            time_split_auc: None,
        },
        Candidate {
            kind: ModelKind::Blend,
            auc: metrics::auc(&oof_blend, &table.target),
            time_split_auc: None,
        },
    ];
    // The simplest model unless a richer one ranks leads better by a margin.
    let mut chosen = candidates[0].clone();
    for c in &candidates[1..] {
        if c.auc > chosen.auc + 0.002 {
            chosen = c.clone();
        }
    }
    let oof = match chosen.kind {
        ModelKind::Logistic => oof_linear,
        ModelKind::Boosted => oof_trees,
        ModelKind::Blend => oof_blend,
    };

    // Calibration, measured honestly: each fold's probabilities come from a map fitted on the
    // other folds' scores.
    let mut calibrated = vec![0.0; n];
    for k in 0..folds {
        let (others, these): (Vec<usize>, Vec<usize>) = (0..n).partition(|&r| assignment[r] != k);
        let map = Isotonic::fit(
            &others.iter().map(|&r| oof[r]).collect::<Vec<_>>(),
            &others.iter().map(|&r| table.target[r]).collect::<Vec<_>>(),
        );
        for r in these {
            calibrated[r] = map.apply(oof[r]);
        }
    }
    let calibrator = Isotonic::fit(&oof, &table.target);

    // The final model on every row and, beside it, the time-ordered check.
    let all: Vec<usize> = (0..n).collect();
    let (fitted, late) = std::thread::scope(|scope| {
        let late = scope.spawn(|| -> Result<Option<[f64; 3]>> {
            if !time_split {
                return Ok(None);
            }
            let (train_rows, test_rows): (Vec<usize>, Vec<usize>) =
                (0..n).partition(|&r| r < n - holdout_rows);
            let early = Fitted::fit(table, &train_rows, &options.boost)?;
            let labels: Vec<bool> = test_rows.iter().map(|&r| table.target[r]).collect();
            let auc = |kind| {
                let scores: Vec<f64> = test_rows
                    .iter()
                    .map(|&r| early.margin(kind, table, r))
                    .collect();
                metrics::auc(&scores, &labels)
            };
            tick("the time-ordered check");
            Ok(Some([
                auc(ModelKind::Logistic),
                auc(ModelKind::Boosted),
                auc(ModelKind::Blend),
            ]))
        });
        let fitted = Fitted::fit(table, &all, &options.boost);
        tick("the final model");
        (fitted, late.join().expect("a training thread panicked"))
    });
    let fitted = fitted?;
    let late = late?;
    let mut candidates = candidates;
    if let Some(aucs) = late {
        for (c, auc) in candidates.iter_mut().zip(aucs) {
            c.time_split_auc = Some(auc);
        }
    }
    let time_split_auc = candidates
        .iter()
        .find(|c| c.kind == chosen.kind)
        .and_then(|c| c.time_split_auc);

    let metrics = Metrics {
        rows: n,
        positives,
        features: table.columns.len(),
        folds,
        kind: chosen.kind,
        candidates,
        auc: metrics::auc(&calibrated, &table.target),
        brier: metrics::brier(&calibrated, &table.target),
        calibration_error: metrics::calibration_error(&calibrated, &table.target),
        at_threshold: metrics::at_threshold(&calibrated, &table.target, options.threshold),
        deciles: metrics::deciles(&calibrated, &table.target),
        time_split_auc,
        holdout: if time_split { options.holdout } else { 0.0 },
        train_seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Model {
        format: Model::FORMAT,
        version: 0,
        trained_at: Utc::now(),
        target: table.target_name.clone(),
        positive: table.positive.clone(),
        kind: chosen.kind,
        encoder: fitted.encoder,
        logistic: matches!(chosen.kind, ModelKind::Logistic | ModelKind::Blend)
            .then_some(fitted.logistic),
        boosted: matches!(chosen.kind, ModelKind::Boosted | ModelKind::Blend)
            .then_some(fitted.boosted),
        calibrator,
        skipped: table.skipped.clone(),
        metrics,
    })
}

/// Both candidate models fitted on some rows.
struct Fitted {
    encoder: Encoder,
    logistic: Logistic,
    boosted: Booster,
}

impl Fitted {
    fn fit(table: &Table, rows: &[usize], boost: &BoostParams) -> Result<Self> {
        let encoder = Encoder::fit(table, rows);
        let width = encoder.linear_width();
        let mut linear = Vec::with_capacity(rows.len() * width);
        let mut columns = vec![Vec::with_capacity(rows.len()); encoder.features.len()];
        let mut tree_row = Vec::with_capacity(encoder.features.len());
        for &r in rows {
            let raw = table_row(table, r);
            encoder.linear(&raw, &mut linear);
            tree_row.clear();
            encoder.tree(&raw, &mut tree_row);
            for (c, v) in columns.iter_mut().zip(&tree_row) {
                c.push(*v);
            }
        }
        let y: Vec<bool> = rows.iter().map(|&r| table.target[r]).collect();
        let logistic = Logistic::fit(linear, width, &y)?;
        let boosted = Booster::fit(&columns, &y, boost);
        Ok(Self {
            encoder,
            logistic,
            boosted,
        })
    }

    fn margins(&self, table: &Table, r: usize) -> (f64, f64) {
        let raw = table_row(table, r);
        let mut linear = Vec::new();
        self.encoder.linear(&raw, &mut linear);
        let mut tree = Vec::new();
        self.encoder.tree(&raw, &mut tree);
        (self.logistic.margin(&linear), self.boosted.margin(&tree))
    }

    fn margin(&self, kind: ModelKind, table: &Table, r: usize) -> f64 {
        let (l, t) = self.margins(table, r);
        match kind {
            ModelKind::Logistic => l,
            ModelKind::Boosted => t,
            ModelKind::Blend => (l + t) / 2.0,
        }
    }
}

/// Fold of each row: converted and lost rows are each shuffled (seeded) and dealt round-robin,
/// so every fold has the overall conversion rate.
pub fn stratified_folds(target: &[bool], folds: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut assignment = vec![0; target.len()];
    for class in [true, false] {
        let mut rows: Vec<usize> = (0..target.len()).filter(|&r| target[r] == class).collect();
        for i in (1..rows.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            rows.swap(i, j);
        }
        for (i, r) in rows.into_iter().enumerate() {
            assignment[r] = i % folds;
        }
    }
    assignment
}
