//! What a sales team reads at a glance about its scoring (the web app's reports): how scores
//! are spread, how each band of scores converts and what it won (ROI), how much of the
//! conversions working the top leads first captures (cumulative gains), whether the
//! probabilities mean what they say (calibration), and the product's success metrics (AUC,
//! Brier, precision, recall and F1 at the hot threshold). Each is made from the tenant's leads
//! as they stand, by a pure function here; `handlers::reports` reads the leads.
//!
//! A lead's outcome (won or lost, from a rep or a CRM) is what it is judged on; a lead without
//! one counts in the spread and the band sizes but not in rates. Its probability is the model's
//! when there is one, else its score read as a probability (score / 100), as the rules alone
//! give no other.

use serde::Serialize;

use crate::domain::{Lead, Tier, TierThresholds};
use crate::model::metrics;

pub mod calls;

/// Scores are grouped in bands this wide (0-9, ..., 90-100).
pub const BAND_WIDTH: u8 = 10;

/// One band of scores: `from` to `to`, inclusive.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Band {
    pub from: u8,
    pub to: u8,
    pub leads: usize,
}

/// How the scores are spread.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Distribution {
    /// Ten bands, lowest first.
    pub bands: Vec<Band>,
    pub hot: usize,
    pub warm: usize,
    pub cold: usize,
    /// Leads with no score yet.
    pub unscored: usize,
}

/// One band's outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConversionBand {
    pub from: u8,
    pub to: u8,
    pub leads: usize,
    pub won: usize,
    pub lost: usize,
    /// Won over decided (won and lost); `null` when none is decided.
    pub conversion_rate: Option<f64>,
    /// The value of the deals won, where they have one.
    pub value_won: f64,
}

/// Conversion and value won by score band: whether high scores are where the money is.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Conversion {
    /// Ten bands, lowest first.
    pub bands: Vec<ConversionBand>,
    pub won: usize,
    pub lost: usize,
    pub conversion_rate: Option<f64>,
    pub value_won: f64,
}

/// A point of the cumulative gains curve.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GainsPoint {
    /// The share of the decided leads worked, highest score first (0.1 ... 1.0).
    pub leads: f64,
    /// The share of the conversions they hold.
    pub conversions: f64,
}

/// Cumulative gains: what working the top of the list first captures. Working in random
/// order captures conversions in proportion (the diagonal).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Gains {
    /// Decided leads (won or lost) with a score, the curve's population.
    pub decided: usize,
    pub won: usize,
    /// Ten points, a tenth more of the leads each; empty without a conversion.
    pub points: Vec<GainsPoint>,
}

/// Predicted against observed conversion, by tenths of the decided leads ordered by
/// probability (highest first), with the overall figures.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Calibration {
    pub decided: usize,
    /// Whether the probabilities are the model's for every lead (else, for some, the score
    /// read as a probability).
    pub model: bool,
    pub deciles: Vec<metrics::Decile>,
    /// Leads-weighted mean gap between predicted and observed.
    pub calibration_error: Option<f64>,
}

/// The product's success metrics on the decided leads.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ModelFigures {
    pub decided: usize,
    pub won: usize,
    /// Ranking: the chance a converted lead scores above a lost one; `null` without both.
    pub auc: Option<f64>,
    /// Mean squared error of the probabilities; `null` without a decided lead.
    pub brier: Option<f64>,
    /// Calling the hot tier "will convert".
    pub hot_threshold: u8,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Decided leads in the hot tier.
    pub hot: usize,
}

/// The band a score is in: 0 for 0-9, ..., 9 for 90-100.
fn band_of(score: u8) -> usize {
    usize::from(score.min(99) / BAND_WIDTH)
}

fn band_bounds(band: usize) -> (u8, u8) {
    let from = band as u8 * BAND_WIDTH;
    let to = if band == 9 {
        100
    } else {
        from + BAND_WIDTH - 1
    };
    (from, to)
}

fn rate(won: usize, lost: usize) -> Option<f64> {
    (won + lost > 0).then(|| won as f64 / (won + lost) as f64)
}

/// The probability a lead is judged on: the model's, else its score over 100.
fn probability(lead: &Lead) -> Option<f64> {
    lead.probability
        .or_else(|| lead.lead_score.map(|s| f64::from(s) / 100.0))
}

/// The decided leads with a score: (score, probability, converted).
fn decided(leads: &[Lead]) -> Vec<(u8, f64, bool)> {
    leads
        .iter()
        .filter_map(|l| {
            let outcome = l.outcome.as_ref()?;
            Some((l.lead_score?, probability(l)?, outcome.converted))
        })
        .collect()
}

pub fn distribution(leads: &[Lead]) -> Distribution {
    let mut bands: Vec<Band> = (0..10)
        .map(|b| {
            let (from, to) = band_bounds(b);
            Band { from, to, leads: 0 }
        })
        .collect();
    let mut report = Distribution {
        bands: Vec::new(),
        hot: 0,
        warm: 0,
        cold: 0,
        unscored: 0,
    };
    for lead in leads {
        let Some(score) = lead.lead_score else {
            report.unscored += 1;
            continue;
        };
        bands[band_of(score)].leads += 1;
        match lead.tier {
            Some(Tier::Hot) => report.hot += 1,
            Some(Tier::Warm) => report.warm += 1,
            Some(Tier::Cold) | None => report.cold += 1,
        }
    }
    report.bands = bands;
    report
}

pub fn conversion(leads: &[Lead]) -> Conversion {
    let mut bands: Vec<ConversionBand> = (0..10)
        .map(|b| {
            let (from, to) = band_bounds(b);
            ConversionBand {
                from,
                to,
                leads: 0,
                won: 0,
                lost: 0,
                conversion_rate: None,
                value_won: 0.0,
            }
        })
        .collect();
    for lead in leads {
        let Some(score) = lead.lead_score else {
            continue;
        };
        let band = &mut bands[band_of(score)];
        band.leads += 1;
        match &lead.outcome {
            Some(o) if o.converted => {
                band.won += 1;
                band.value_won += o.value.unwrap_or(0.0);
            }
            Some(_) => band.lost += 1,
            None => {}
        }
    }
    for band in &mut bands {
        band.conversion_rate = rate(band.won, band.lost);
    }
    let won = bands.iter().map(|b| b.won).sum();
    let lost = bands.iter().map(|b| b.lost).sum();
    Conversion {
        value_won: bands.iter().map(|b| b.value_won).sum(),
        conversion_rate: rate(won, lost),
        won,
        lost,
        bands,
    }
}

pub fn gains(leads: &[Lead]) -> Gains {
    let mut rows = decided(leads);
    // Highest score first; among equal scores the losses first, so a tie never flatters.
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.cmp(&b.2)));
    let won = rows.iter().filter(|r| r.2).count();
    let n = rows.len();
    let points = if won == 0 {
        Vec::new()
    } else {
        (1..=10)
            .map(|tenth| {
                let upto = (tenth * n).div_ceil(10);
                let captured = rows[..upto].iter().filter(|r| r.2).count();
                GainsPoint {
                    leads: tenth as f64 / 10.0,
                    conversions: captured as f64 / won as f64,
                }
            })
            .collect()
    };
    Gains {
        decided: n,
        won,
        points,
    }
}

pub fn calibration(leads: &[Lead]) -> Calibration {
    let rows = decided(leads);
    let (p, y): (Vec<f64>, Vec<bool>) = rows.iter().map(|r| (r.1, r.2)).unzip();
    let model = leads
        .iter()
        .filter(|l| l.outcome.is_some() && l.lead_score.is_some())
        .all(|l| l.probability.is_some());
    Calibration {
        decided: rows.len(),
        model: model && !rows.is_empty(),
        deciles: metrics::deciles(&p, &y),
        calibration_error: (!rows.is_empty()).then(|| metrics::calibration_error(&p, &y)),
    }
}

pub fn model_figures(leads: &[Lead], tiers: &TierThresholds) -> ModelFigures {
    let rows = decided(leads);
    let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.0)).collect();
    let p: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let y: Vec<bool> = rows.iter().map(|r| r.2).collect();
    let auc = metrics::auc(&scores, &y);
    let at = metrics::at_threshold(&scores, &y, f64::from(tiers.hot));
    ModelFigures {
        decided: rows.len(),
        won: y.iter().filter(|&&w| w).count(),
        auc: (!auc.is_nan()).then_some(auc),
        brier: (!rows.is_empty()).then(|| metrics::brier(&p, &y)),
        hot_threshold: tiers.hot,
        precision: at.precision,
        recall: at.recall,
        f1: at.f1,
        hot: at.flagged,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{Outcome, PhoneNumber, TenantId};

    fn lead(n: u32, score: Option<u8>, outcome: Option<(bool, f64)>) -> Lead {
        let now = Utc::now();
        let mut lead = Lead::new(
            TenantId::default_tenant(),
            PhoneNumber::parse(&format!("+1415555{n:04}")).unwrap(),
            now,
        );
        lead.lead_score = score;
        lead.tier = score.map(|s| TierThresholds::default().tier(s));
        lead.outcome = outcome.map(|(converted, value)| Outcome {
            converted,
            value: (value > 0.0).then_some(value),
            at: now,
        });
        lead
    }

    fn book() -> Vec<Lead> {
        vec![
            lead(1, Some(95), Some((true, 9000.0))),
            lead(2, Some(91), Some((true, 0.0))),
            lead(3, Some(85), Some((false, 0.0))),
            lead(4, Some(72), Some((true, 1000.0))),
            lead(5, Some(40), Some((false, 0.0))),
            lead(6, Some(35), None),
            lead(7, Some(12), Some((false, 0.0))),
            lead(8, Some(100), None),
            lead(9, None, Some((true, 5.0))),
        ]
    }

    #[test]
    fn bands_hold_every_scored_lead_once_and_100_is_in_the_top_band() {
        let d = distribution(&book());
        assert_eq!(d.bands.len(), 10);
        assert_eq!(d.bands.iter().map(|b| b.leads).sum::<usize>(), 8);
        assert_eq!(
            (d.bands[9].from, d.bands[9].to, d.bands[9].leads),
            (90, 100, 3)
        );
        assert_eq!((d.bands[0].from, d.bands[0].to), (0, 9));
        assert_eq!(d.unscored, 1);
        assert_eq!(d.hot + d.warm + d.cold, 8);
    }

    #[test]
    fn conversion_and_value_by_band() {
        let c = conversion(&book());
        let top = &c.bands[9];
        assert_eq!((top.won, top.lost, top.leads), (2, 0, 3));
        assert_eq!(top.conversion_rate, Some(1.0));
        assert_eq!(top.value_won, 9000.0);
        assert_eq!(c.bands[8].conversion_rate, Some(0.0));
        assert_eq!(c.bands[3].conversion_rate, None, "35 is undecided");
        // The unscored lead's win is in no band.
        assert_eq!((c.won, c.lost), (3, 3));
        assert_eq!(c.conversion_rate, Some(0.5));
        assert_eq!(c.value_won, 10000.0);
    }

    #[test]
    fn gains_rise_to_every_conversion_and_ties_never_flatter() {
        let g = gains(&book());
        assert_eq!((g.decided, g.won), (6, 3));
        assert_eq!(g.points.len(), 10);
        assert_eq!(g.points[9].conversions, 1.0);
        assert!(
            g.points
                .windows(2)
                .all(|w| w[0].conversions <= w[1].conversions)
        );
        // The top third (95, 91) holds two of three conversions.
        assert!((g.points[2].conversions - 2.0 / 3.0).abs() < 1e-9, "{g:?}");
        let tied = vec![
            lead(1, Some(50), Some((true, 0.0))),
            lead(2, Some(50), Some((false, 0.0))),
        ];
        assert_eq!(
            gains(&tied).points[4].conversions,
            0.0,
            "the loss counts first"
        );
        assert!(
            gains(&[lead(1, Some(50), Some((false, 0.0)))])
                .points
                .is_empty()
        );
    }

    #[test]
    fn model_figures_at_the_hot_threshold() {
        let f = model_figures(&book(), &TierThresholds::default());
        assert_eq!((f.decided, f.won), (6, 3));
        // Hot from 70: 95, 91, 85, 72 flagged; three of them won, all three wins flagged.
        assert_eq!(f.hot_threshold, TierThresholds::default().hot);
        assert_eq!(f.hot, 4);
        assert_eq!((f.precision, f.recall), (0.75, 1.0));
        assert!(f.auc.unwrap() > 0.8 && f.brier.unwrap() < 0.25, "{f:?}");
        assert_eq!(model_figures(&[], &TierThresholds::default()).auc, None);
        let c = calibration(&book());
        assert!(!c.model, "no probabilities: scores stand in");
        assert_eq!(c.deciles.iter().map(|d| d.leads).sum::<usize>(), 6);
    }
}
