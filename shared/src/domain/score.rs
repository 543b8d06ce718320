use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallId, RuleId};

/// How hot a lead is: which leads a rep calls first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Cold,
    Warm,
    Hot,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "hot" => Some(Tier::Hot),
            "warm" => Some(Tier::Warm),
            "cold" => Some(Tier::Cold),
            _ => None,
        }
    }
}

/// The lowest score of each tier above cold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TierThresholds {
    pub hot: u8,
    pub warm: u8,
}

impl Default for TierThresholds {
    fn default() -> Self {
        Self { hot: 70, warm: 40 }
    }
}

impl TierThresholds {
    pub fn tier(&self, score: u8) -> Tier {
        if score >= self.hot {
            Tier::Hot
        } else if score >= self.warm {
            Tier::Warm
        } else {
            Tier::Cold
        }
    }
}

/// What a factor rests on: something said on a call, or a value of the lead's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    Quote {
        call_id: CallId,
        speaker: String,
        /// Seconds from the start of the call.
        at: f64,
        text: String,
    },
    Field {
        name: String,
        value: String,
    },
}

/// One reason for a score: a rule that matched, the points it gave and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub rule_id: RuleId,
    pub description: String,
    pub points: f64,
    pub evidence: Vec<Evidence>,
}

/// Why a lead was (re)scored. `key()` makes each cause count once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScoreCause {
    /// A call with the lead was analysed.
    NewCall { call_id: CallId },
    /// A scoring rule was created or changed (`version` is the rule's new version).
    RuleChanged { rule_id: RuleId, version: u64 },
    /// Someone asked for a re-score (the CLI or an operator); `nonce` tells requests apart.
    Recompute { nonce: String },
}

impl ScoreCause {
    /// A stable key: a cause that was already applied to a lead is not applied again.
    pub fn key(&self) -> String {
        match self {
            ScoreCause::NewCall { call_id } => format!("call:{call_id}"),
            ScoreCause::RuleChanged { rule_id, version } => format!("rule:{rule_id}@{version}"),
            ScoreCause::Recompute { nonce } => format!("recompute:{nonce}"),
        }
    }
}

/// A computed score with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 0..100.
    pub value: u8,
    pub tier: Tier,
    /// Matched rules, largest absolute contribution first.
    pub factors: Vec<Factor>,
}

/// One entry of a lead's score ledger: what changed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreChange {
    pub cause: ScoreCause,
    pub previous: Option<u8>,
    pub score: u8,
    pub tier: Tier,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_boundaries_are_inclusive() {
        let t = TierThresholds::default();
        assert_eq!(t.tier(100), Tier::Hot);
        assert_eq!(t.tier(70), Tier::Hot);
        assert_eq!(t.tier(69), Tier::Warm);
        assert_eq!(t.tier(40), Tier::Warm);
        assert_eq!(t.tier(39), Tier::Cold);
        assert_eq!(t.tier(0), Tier::Cold);
    }
}
