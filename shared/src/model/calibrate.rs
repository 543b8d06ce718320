//! Isotonic calibration: a monotone map from a model's raw score to the share of leads with
//! that score that converted, fitted by pool-adjacent-violators on out-of-fold scores, so that
//! "70" means about 70% of such leads convert.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Isotonic {
    /// Block centres (raw scores, increasing) and their conversion rates (non-decreasing).
    xs: Vec<f64>,
    ys: Vec<f64>,
}

/// Probabilities never reach 0 or 1: nobody is certain to convert or not.
const FLOOR: f64 = 0.001;

impl Isotonic {
    pub fn fit(scores: &[f64], labels: &[bool]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        // Blocks of (sum of scores, sum of outcomes, count): equal scores form one block, and
        // blocks merge while their rates run backwards.
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        let mut last_score = f64::NAN;
        for i in order {
            let y = f64::from(u8::from(labels[i]));
            match blocks.last_mut() {
                Some(b) if scores[i] == last_score => *b = (b.0 + scores[i], b.1 + y, b.2 + 1.0),
                _ => blocks.push((scores[i], y, 1.0)),
            }
            last_score = scores[i];
            while blocks.len() > 1 {
                let (s2, y2, n2) = blocks[blocks.len() - 1];
                let (s1, y1, n1) = blocks[blocks.len() - 2];
                if y1 / n1 <= y2 / n2 {
                    break;
                }
                blocks.pop();
                *blocks.last_mut().unwrap() = (s1 + s2, y1 + y2, n1 + n2);
            }
        }
        Self {
            xs: blocks.iter().map(|(s, _, n)| s / n).collect(),
            ys: blocks.iter().map(|(_, y, n)| y / n).collect(),
        }
    }

    /// The calibrated probability of a raw score (linear between block centres).
    pub fn apply(&self, score: f64) -> f64 {
        let p = match self.xs.partition_point(|&x| x < score) {
            _ if self.xs.is_empty() => 0.5,
            0 => self.ys[0],
            i if i == self.xs.len() => self.ys[i - 1],
            i => {
                let (x0, x1, y0, y1) = (self.xs[i - 1], self.xs[i], self.ys[i - 1], self.ys[i]);
                if x1 > x0 {
                    y0 + (y1 - y0) * (score - x0) / (x1 - x0)
                } else {
                    y1
                }
            }
        };
        p.clamp(FLOOR, 1.0 - FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_scores_to_observed_rates_monotonically() {
        // Scores that over-state: those at 0.9 convert half the time.
        let scores = [0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.9, 0.9];
        let labels = [false, false, false, true, true, false, true, false];
        let iso = Isotonic::fit(&scores, &labels);
        assert!((iso.apply(0.1) - FLOOR).abs() < 1e-12);
        assert!((iso.apply(0.9) - 0.5).abs() < 1e-12);
        assert!((iso.apply(0.5) - 0.5).abs() < 1e-12);
        let mut last = 0.0;
        for i in 0..=100 {
            let p = iso.apply(f64::from(i) / 100.0);
            assert!(p >= last);
            last = p;
        }
    }
}
