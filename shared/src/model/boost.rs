//! Gradient-boosted decision trees for a yes/no outcome (log loss), histogram-based: each
//! feature is cut into at most 64 quantile bins once, missing values get a bin of their own and
//! go to whichever side of a split fits them best.
//!
//! Written here because smartcore's boosting (`XGRegressor`) only fits squared error with exact
//! splits, and the pure-Rust GBDT crates either pull in CPU-specific hashing (gxhash needs AES
//! instructions at build time, a problem on Lambda's arm64) or are unmaintained.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct BoostParams {
    pub rounds: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    /// Fewer training rows than this in a leaf: no split.
    pub min_leaf_rows: usize,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    pub max_bins: usize,
}

impl Default for BoostParams {
    fn default() -> Self {
        Self {
            rounds: 200,
            learning_rate: 0.05,
            max_depth: 4,
            min_leaf_rows: 20,
            lambda: 1.0,
            max_bins: 64,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
enum Node {
    /// `x <= threshold` goes left; missing goes left when `missing_left`.
    Split {
        feature: u32,
        threshold: f64,
        missing_left: bool,
        left: u32,
        right: u32,
    },
    Leaf(f64),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Booster {
    base: f64,
    trees: Vec<Vec<Node>>,
}

impl Booster {
    /// The log-odds for one row (one value per feature, `NaN` missing).
    pub fn margin(&self, row: &[f64]) -> f64 {
        self.base
            + self
                .trees
                .iter()
                .map(|tree| {
                    walk(tree, |feature, threshold, missing_left| {
                        let x = row[feature];
                        if x.is_nan() {
                            missing_left
                        } else {
                            x <= threshold
                        }
                    })
                })
                .sum::<f64>()
    }

    /// Fit on `columns` (feature-major: `columns[f][row]`) and outcomes `y`.
    pub fn fit(columns: &[Vec<f64>], y: &[bool], params: &BoostParams) -> Self {
        let n = y.len();
        let cuts: Vec<Vec<f64>> = columns
            .iter()
            .map(|c| cut_points(c, params.max_bins))
            .collect();
        // Bin index per (feature, row); the last bin of a feature is "missing".
        let binned: Vec<Vec<u8>> = columns
            .iter()
            .zip(&cuts)
            .map(|(c, cut)| {
                c.iter()
                    .map(|&x| {
                        if x.is_nan() {
                            cut.len() as u8 + 1
                        } else {
                            cut.partition_point(|&t| t < x) as u8
                        }
                    })
                    .collect()
            })
            .collect();
        let positives = y.iter().filter(|&&t| t).count() as f64;
        let rate = (positives / n.max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
        let base = (rate / (1.0 - rate)).ln();
        let mut margin = vec![base; n];
        let mut grad = vec![0.0; n];
        let mut hess = vec![0.0; n];
        let mut trees = Vec::with_capacity(params.rounds);
        for _ in 0..params.rounds {
            for i in 0..n {
                let p = sigmoid(margin[i]);
                grad[i] = p - f64::from(u8::from(y[i]));
                hess[i] = (p * (1.0 - p)).max(1e-12);
            }
            let mut builder = TreeBuilder {
                binned: &binned,
                cuts: &cuts,
                grad: &grad,
                hess: &hess,
                params,
                nodes: Vec::new(),
            };
            let rows: Vec<u32> = (0..n as u32).collect();
            builder.grow(rows, 0);
            let tree = builder.nodes;
            // Update the margins through the new tree on the binned data.
            for (i, m) in margin.iter_mut().enumerate() {
                *m += leaf_of_binned(&tree, &binned, &cuts, i);
            }
            trees.push(tree);
        }
        Self { base, trees }
    }
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Up to `max_bins - 1` thresholds at quantiles of the present values.
fn cut_points(values: &[f64], max_bins: usize) -> Vec<f64> {
    let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    present.sort_by(f64::total_cmp);
    present.dedup();
    if present.len() <= max_bins {
        // Every distinct value its own bin: cut half-way between neighbours.
        return present.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    }
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..max_bins)
        .map(|b| sorted[b * sorted.len() / max_bins])
        .collect();
    cuts.dedup();
    cuts
}

/// The value of the leaf a row reaches, `go_left(feature, threshold, missing_left)` saying
/// which way it goes at each split.
fn walk(tree: &[Node], go_left: impl Fn(usize, f64, bool) -> bool) -> f64 {
    let mut at = 0usize;
    loop {
        match &tree[at] {
            Node::Leaf(v) => return *v,
            Node::Split {
                feature,
                threshold,
                missing_left,
                left,
                right,
            } => {
                let left_side = go_left(*feature as usize, *threshold, *missing_left);
                at = if left_side { *left } else { *right } as usize;
            }
        }
    }
}

/// `walk` for a training row, from its bins.
fn leaf_of_binned(tree: &[Node], binned: &[Vec<u8>], cuts: &[Vec<f64>], row: usize) -> f64 {
    walk(tree, |f, threshold, missing_left| {
        let bin = binned[f][row] as usize;
        if bin == cuts[f].len() + 1 {
            missing_left
        } else {
            // Bin b holds the values in (cut[b-1], cut[b]], and a threshold is a cut point,
            // so `x <= threshold` is `bin <= the threshold's index`.
            bin <= threshold_bin(&cuts[f], threshold)
        }
    })
}

/// The last bin at or below `threshold` (thresholds are cut points, so this is exact).
fn threshold_bin(cuts: &[f64], threshold: f64) -> usize {
    cuts.partition_point(|&t| t < threshold)
}

struct TreeBuilder<'a> {
    binned: &'a [Vec<u8>],
    cuts: &'a [Vec<f64>],
    grad: &'a [f64],
    hess: &'a [f64],
    params: &'a BoostParams,
    nodes: Vec<Node>,
}

struct Best {
    gain: f64,
    feature: usize,
    /// Bins `0..=bin` go left.
    bin: usize,
    missing_left: bool,
}

impl TreeBuilder<'_> {
    fn leaf_value(&self, g: f64, h: f64) -> f64 {
        -g / (h + self.params.lambda) * self.params.learning_rate
    }

    /// Add the node for `rows`; returns its index.
    fn grow(&mut self, rows: Vec<u32>, depth: usize) -> u32 {
        let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &r| {
            (g + self.grad[r as usize], h + self.hess[r as usize])
        });
        let at = self.nodes.len() as u32;
        self.nodes.push(Node::Leaf(self.leaf_value(g, h)));
        if depth >= self.params.max_depth || rows.len() < 2 * self.params.min_leaf_rows {
            return at;
        }
        let Some(best) = self.best_split(&rows, g, h) else {
            return at;
        };
        let missing_bin = self.cuts[best.feature].len() + 1;
        let column = &self.binned[best.feature];
        let (left, right): (Vec<u32>, Vec<u32>) = rows.into_iter().partition(|&r| {
            let b = column[r as usize] as usize;
            if b == missing_bin {
                best.missing_left
            } else {
                b <= best.bin
            }
        });
        let threshold = self.cuts[best.feature]
            .get(best.bin)
            .copied()
            .unwrap_or(f64::INFINITY);
        let l = self.grow(left, depth + 1);
        let r = self.grow(right, depth + 1);
        self.nodes[at as usize] = Node::Split {
            feature: best.feature as u32,
            threshold,
            missing_left: best.missing_left,
            left: l,
            right: r,
        };
        at
    }

    fn best_split(&self, rows: &[u32], g: f64, h: f64) -> Option<Best> {
        let lambda = self.params.lambda;
        let score = |g: f64, h: f64| g * g / (h + lambda);
        let parent = score(g, h);
        let min_rows = self.params.min_leaf_rows;
        let mut best: Option<Best> = None;
        for (f, column) in self.binned.iter().enumerate() {
            let bins = self.cuts[f].len() + 2;
            let mut hist = vec![(0.0f64, 0.0f64, 0usize); bins];
            for &r in rows {
                let e = &mut hist[column[r as usize] as usize];
                e.0 += self.grad[r as usize];
                e.1 += self.hess[r as usize];
                e.2 += 1;
            }
            let missing = hist[bins - 1];
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0usize);
            for (b, e) in hist[..bins - 2].iter().enumerate() {
                gl += e.0;
                hl += e.1;
                nl += e.2;
                for missing_left in [false, true] {
                    let (gl, hl, nl) = if missing_left {
                        (gl + missing.0, hl + missing.1, nl + missing.2)
                    } else {
                        (gl, hl, nl)
                    };
                    let nr = rows.len() - nl;
                    if nl < min_rows || nr < min_rows {
                        continue;
                    }
                    let gain = score(gl, hl) + score(g - gl, h - hl) - parent;
                    if gain > best.as_ref().map_or(1e-9, |b| b.gain) {
                        best = Some(Best {
                            gain,
                            feature: f,
                            bin: b,
                            missing_left,
                        });
                    }
                    if missing.2 == 0 {
                        break;
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_threshold_an_interaction_and_where_missing_values_go() {
        // Converts when x > 5, or when x is missing and z is 1.
        let n = 2000;
        let mut x = Vec::new();
        let mut z = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let xi = if i % 7 == 0 {
                f64::NAN
            } else {
                (i % 11) as f64
            };
            let zi = (i % 3 == 0) as u8 as f64;
            x.push(xi);
            z.push(zi);
            y.push(if xi.is_nan() { zi == 1.0 } else { xi > 5.0 });
        }
        let model = Booster::fit(&[x.clone(), z.clone()], &y, &BoostParams::default());
        let p = |xi: f64, zi: f64| sigmoid(model.margin(&[xi, zi]));
        assert!(p(9.0, 0.0) > 0.9 && p(2.0, 1.0) < 0.1);
        assert!(p(f64::NAN, 1.0) > 0.9 && p(f64::NAN, 0.0) < 0.1);
        // The margins the trainer tracked on bins are the ones prediction computes.
        let scores: Vec<f64> = (0..n).map(|i| model.margin(&[x[i], z[i]])).collect();
        assert_eq!(super::super::metrics::auc(&scores, &y), 1.0);
    }
}
