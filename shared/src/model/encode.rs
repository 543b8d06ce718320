//! From columns to numbers, learnt on the training rows only: for the linear model,
//! standardised numbers with a missing-value indicator and one-hot categories; for the trees,
//! raw numbers (missing stays missing) and each category as its smoothed conversion rate.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::table::{Table, Values};

/// One input value, as a row offers it.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw<'a> {
    Number(f64),
    Text(&'a str),
    Missing,
}

/// A category needs this many training rows to get its own one-hot column.
const MIN_LEVEL_ROWS: usize = 10;
/// At most this many one-hot columns per categorical column (the most frequent levels).
const MAX_LEVELS: usize = 50;
/// Pseudo-rows of the overall rate mixed into a category's own rate for the trees.
const SMOOTHING: f64 = 20.0;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Kind {
    Numeric {
        mean: f64,
        std: f64,
        /// Whether training saw missing values (then a 0/1 indicator column follows).
        indicator: bool,
    },
    Categorical {
        /// Lower-cased levels with a one-hot column each.
        one_hot: Vec<String>,
        /// Lower-cased level -> smoothed conversion rate, for the trees.
        rate: HashMap<String, f64>,
        indicator: bool,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Feature {
    pub name: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encoder {
    pub features: Vec<Feature>,
}

impl Encoder {
    /// Learn the encoding from the training rows `rows` of `table`.
    pub fn fit(table: &Table, rows: &[usize]) -> Self {
        let positives = rows.iter().filter(|&&r| table.target[r]).count() as f64;
        let base = positives / rows.len().max(1) as f64;
        let features = table
            .columns
            .iter()
            .map(|c| {
                let kind = match &c.values {
                    Values::Numeric(v) => {
                        let present: Vec<f64> =
                            rows.iter().map(|&r| v[r]).filter(|x| !x.is_nan()).collect();
                        let n = present.len().max(1) as f64;
                        let mean = present.iter().sum::<f64>() / n;
                        let var = present.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                        Kind::Numeric {
                            mean,
                            std: if var > 0.0 { var.sqrt() } else { 1.0 },
                            indicator: present.len() < rows.len(),
                        }
                    }
                    Values::Categorical { levels, codes } => {
                        let mut counts = vec![(0usize, 0usize); levels.len()];
                        let mut missing = false;
                        for &r in rows {
                            match codes[r] {
                                Some(c) => {
                                    counts[c as usize].0 += 1;
                                    counts[c as usize].1 += usize::from(table.target[r]);
                                }
                                None => missing = true,
                            }
                        }
                        let mut by_count: Vec<usize> = (0..levels.len())
                            .filter(|&l| counts[l].0 >= MIN_LEVEL_ROWS)
                            .collect();
                        by_count.sort_by(|&a, &b| counts[b].0.cmp(&counts[a].0).then(a.cmp(&b)));
                        by_count.truncate(MAX_LEVELS);
                        Kind::Categorical {
                            one_hot: by_count.iter().map(|&l| levels[l].to_lowercase()).collect(),
                            rate: (0..levels.len())
                                .filter(|&l| counts[l].0 > 0)
                                .map(|l| {
                                    let (n, p) = counts[l];
                                    let rate =
                                        (p as f64 + SMOOTHING * base) / (n as f64 + SMOOTHING);
                                    (levels[l].to_lowercase(), rate)
                                })
                                .collect(),
                            indicator: missing,
                        }
                    }
                };
                Feature {
                    name: c.name.clone(),
                    kind,
                }
            })
            .collect();
        Self { features }
    }

    /// Width of the linear model's input.
    pub fn linear_width(&self) -> usize {
        self.features
            .iter()
            .map(|f| match &f.kind {
                Kind::Numeric { indicator, .. } => 1 + usize::from(*indicator),
                Kind::Categorical {
                    one_hot, indicator, ..
                } => one_hot.len() + usize::from(*indicator),
            })
            .sum()
    }

    /// Names of the linear model's inputs, for explanations (`job=admin.`, `age`, `age missing`).
    pub fn linear_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.linear_width());
        for f in &self.features {
            match &f.kind {
                Kind::Numeric { indicator, .. } => {
                    names.push(f.name.clone());
                    if *indicator {
                        names.push(format!("{} missing", f.name));
                    }
                }
                Kind::Categorical {
                    one_hot, indicator, ..
                } => {
                    names.extend(one_hot.iter().map(|l| format!("{}={l}", f.name)));
                    if *indicator {
                        names.push(format!("{} missing", f.name));
                    }
                }
            }
        }
        names
    }

    /// The linear model's input for one row (values in the order of `features`), appended.
    pub fn linear(&self, row: &[Raw], out: &mut Vec<f64>) {
        for (f, v) in self.features.iter().zip(row) {
            match &f.kind {
                Kind::Numeric {
                    mean,
                    std,
                    indicator,
                } => {
                    let x = number(v);
                    out.push(x.map_or(0.0, |x| (x - mean) / std));
                    if *indicator {
                        out.push(f64::from(u8::from(x.is_none())));
                    }
                }
                Kind::Categorical {
                    one_hot, indicator, ..
                } => {
                    let level = text(v);
                    out.extend(
                        one_hot
                            .iter()
                            .map(|l| f64::from(u8::from(level.as_deref() == Some(l.as_str())))),
                    );
                    if *indicator {
                        out.push(f64::from(u8::from(level.is_none())));
                    }
                }
            }
        }
    }

    /// The trees' input for one row: one value per feature, `NaN` where missing or unseen.
    pub fn tree(&self, row: &[Raw], out: &mut Vec<f64>) {
        for (f, v) in self.features.iter().zip(row) {
            out.push(match &f.kind {
                Kind::Numeric { .. } => number(v).unwrap_or(f64::NAN),
                Kind::Categorical { rate, .. } => text(v)
                    .and_then(|l| rate.get(&l).copied())
                    .unwrap_or(f64::NAN),
            });
        }
    }
}

fn number(v: &Raw) -> Option<f64> {
    match v {
        Raw::Number(x) if x.is_finite() => Some(*x),
        Raw::Text(t) => t.trim().parse().ok().filter(|x: &f64| x.is_finite()),
        _ => None,
    }
}

fn text(v: &Raw) -> Option<String> {
    match v {
        Raw::Text(t) if !super::table::is_missing(t) => Some(t.trim().to_lowercase()),
        Raw::Number(x) if x.is_finite() => Some(x.to_string()),
        _ => None,
    }
}

/// Row `r` of `table` as raw values, in column order.
pub fn table_row(table: &Table, r: usize) -> Vec<Raw<'_>> {
    table
        .columns
        .iter()
        .map(|c| match &c.values {
            Values::Numeric(v) if v[r].is_nan() => Raw::Missing,
            Values::Numeric(v) => Raw::Number(v[r]),
            Values::Categorical { levels, codes } => match codes[r] {
                Some(code) => Raw::Text(&levels[code as usize]),
                None => Raw::Missing,
            },
        })
        .collect()
}
