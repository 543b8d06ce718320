//! How good a probability is: ranking (AUC), accuracy of the probabilities (Brier score,
//! calibration error, calibration by decile), and what a sales team sees at a threshold
//! (precision, recall, F1) or in its top tenth of leads (lift).

use serde::{Deserialize, Serialize};

/// Area under the ROC curve: the chance that a random converted lead scores above a random
/// lost one (ties count half). `NaN` without both outcomes.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum += rank;
                positives += 1;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return f64::NAN;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

/// Mean squared difference between the probability and the outcome (0 is perfect).
pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    probabilities
        .iter()
        .zip(labels)
        .map(|(p, &y)| (p - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / probabilities.len().max(1) as f64
}

/// One tenth of the leads, ordered by probability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Decile {
    /// 1 = the tenth with the highest probabilities.
    pub decile: u8,
    pub leads: usize,
    pub predicted: f64,
    pub converted: f64,
    /// The tenth's conversion rate over the overall rate.
    pub lift: f64,
}

/// Deciles by probability, highest first: calibration (predicted vs converted) and lift.
pub fn deciles(probabilities: &[f64], labels: &[bool]) -> Vec<Decile> {
    let n = probabilities.len();
    if n == 0 {
        return Vec::new();
    }
    let base = labels.iter().filter(|&&y| y).count() as f64 / n as f64;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    (0..10)
        .filter_map(|d| {
            let (from, to) = (d * n / 10, (d + 1) * n / 10);
            let rows = &order[from..to];
            if rows.is_empty() {
                return None;
            }
            let k = rows.len() as f64;
            let converted = rows.iter().filter(|&&i| labels[i]).count() as f64 / k;
            Some(Decile {
                decile: d as u8 + 1,
                leads: rows.len(),
                predicted: rows.iter().map(|&i| probabilities[i]).sum::<f64>() / k,
                converted,
                lift: if base > 0.0 { converted / base } else { 0.0 },
            })
        })
        .collect()
}

/// Expected calibration error over ten equal-count bins: the leads-weighted mean gap between
/// the predicted and the observed conversion rate.
pub fn calibration_error(probabilities: &[f64], labels: &[bool]) -> f64 {
    let n = probabilities.len().max(1) as f64;
    deciles(probabilities, labels)
        .iter()
        .map(|d| d.leads as f64 / n * (d.predicted - d.converted).abs())
        .sum()
}

/// Precision, recall and F1 when leads at or above `threshold` are called "will convert".
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct AtThreshold {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Leads at or above the threshold.
    pub flagged: usize,
}

pub fn at_threshold(probabilities: &[f64], labels: &[bool], threshold: f64) -> AtThreshold {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&p, &y) in probabilities.iter().zip(labels) {
        match (p >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fneg);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    AtThreshold {
        threshold,
        precision,
        recall,
        f1,
        flagged: tp + fp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_half_ties() {
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            0.75
        );
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), 0.5);
        assert_eq!(auc(&[0.1, 0.9], &[false, true]), 1.0);
        assert!(auc(&[0.1, 0.9], &[true, true]).is_nan());
    }

    #[test]
    fn brier_calibration_and_threshold_figures() {
        assert_eq!(brier(&[1.0, 0.0], &[true, false]), 0.0);
        assert_eq!(brier(&[0.5, 0.5], &[true, false]), 0.25);
        let p: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let y: Vec<bool> = (0..100).map(|i| i >= 50).collect();
        let d = deciles(&p, &y);
        assert_eq!(d.len(), 10);
        assert_eq!(d[0].converted, 1.0);
        assert_eq!(d[0].lift, 2.0);
        assert_eq!(d[9].converted, 0.0);
        let t = at_threshold(&p, &y, 0.5);
        assert_eq!(
            (t.precision, t.recall, t.f1, t.flagged),
            (1.0, 1.0, 1.0, 50)
        );
        // Calibrated probabilities: every tenth converts at the predicted rate.
        let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        assert!(calibration_error(&[0.25; 1000], &y) < 1e-12);
        // Over-confident ones are off by the gap.
        assert!((calibration_error(&[0.9; 1000], &y) - 0.65).abs() < 1e-12);
    }
}
