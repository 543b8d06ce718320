use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallId, RuleId};
use crate::error::{Error, Result};

/// How hot a lead is: which leads a rep calls first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// A tenant's own settings (`GET`/`PUT /settings`), kept in the blob store beside its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    pub tiers: TierThresholds,
    /// Surveys by text: a lead texts a survey's trigger word (or the API starts one) and its
    /// replies answer the questions in order.
    #[serde(default)]
    pub surveys: Vec<super::Survey>,
    /// How texts are sent (`POST /leads/{id}/texts`): the number, consent and quiet hours.
    #[serde(default)]
    pub texting: super::TextingRules,
    /// Texts sent on their own when a lead turns hot and no one has texted or called it since
    /// (at most 10).
    #[serde(default)]
    pub follow_ups: Vec<super::FollowUp>,
    /// Calls recorded at Twilio (`POST /twilio/{tenant}/recording`).
    #[serde(default)]
    pub twilio_recordings: TwilioRecordings,
}

/// What becomes of a Twilio recording once it is stored here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioRecordings {
    /// Delete the recording at Twilio once it is stored here, so that it is held in one place
    /// (default: kept at Twilio too).
    #[serde(default)]
    pub delete_at_twilio: bool,
}

/// A change to a tenant's settings (`PUT` or `PATCH /settings`): each field it names replaces
/// that field; a field it does not name keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"tiers": {"hot": 75, "warm": 45}}))]
pub struct SettingsPatch {
    #[serde(default)]
    pub tiers: Option<TierThresholds>,
    #[serde(default)]
    pub surveys: Option<Vec<super::Survey>>,
    #[serde(default)]
    pub texting: Option<super::TextingRules>,
    #[serde(default)]
    pub follow_ups: Option<Vec<super::FollowUp>>,
    #[serde(default)]
    pub twilio_recordings: Option<TwilioRecordings>,
}

impl SettingsPatch {
    pub fn apply(self, settings: &mut TenantSettings) {
        if let Some(tiers) = self.tiers {
            settings.tiers = tiers;
        }
        if let Some(surveys) = self.surveys {
            settings.surveys = surveys;
        }
        if let Some(texting) = self.texting {
            settings.texting = texting;
        }
        if let Some(follow_ups) = self.follow_ups {
            settings.follow_ups = follow_ups;
        }
        if let Some(recordings) = self.twilio_recordings {
            settings.twilio_recordings = recordings;
        }
    }
}

impl TenantSettings {
    pub fn validate(&self) -> Result<()> {
        let TierThresholds { hot, warm } = self.tiers;
        if !(1..=100).contains(&hot) || warm == 0 || warm >= hot {
            return Err(Error::validation(format!(
                "tiers: need 0 < warm < hot <= 100, got warm {warm} and hot {hot}"
            )));
        }
        self.texting.validate()?;
        super::FollowUp::validate_all(&self.follow_ups)?;
        let mut ids = std::collections::HashSet::new();
        let mut triggers = std::collections::HashSet::new();
        for s in &self.surveys {
            s.validate()?;
            if !ids.insert(&s.id) {
                return Err(Error::validation(format!(
                    "surveys: the id `{}` is used twice",
                    s.id
                )));
            }
            if let Some(t) = &s.trigger
                && !triggers.insert(super::keyword_form(t))
            {
                return Err(Error::validation(format!(
                    "surveys: the trigger `{t}` starts two surveys"
                )));
            }
        }
        Ok(())
    }
}

/// What a factor rests on: something said on a call, or a value of the lead's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// A text message from the lead.
    Sms {
        text: String,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_sid: Option<String>,
    },
    /// The lead opened a tracked link.
    Click {
        url: String,
        at: DateTime<Utc>,
    },
}

/// Where a factor comes from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// A scoring rule matched (`rule_id` names it).
    #[default]
    Rule,
    /// The tenant's model moved the score from the rules' points (`rule_id` is `model`).
    Model,
    /// A rep adjusted the score by hand (`rule_id` is `manual`).
    Manual,
}

/// One reason for a score: what contributed, the points it gave and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Factor {
    #[serde(default)]
    pub kind: FactorKind,
    pub rule_id: RuleId,
    pub description: String,
    /// What it added to the score (after decay and group caps, for rules).
    pub points: f64,
    pub evidence: Vec<Evidence>,
    /// How the points were arrived at, when not simply the rule's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a lead was (re)scored. `key()` makes each cause count once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScoreCause {
    /// A call with the lead was analysed.
    NewCall { call_id: CallId },
    /// A scoring rule was created or changed (`version` is the rule's new version).
    RuleChanged { rule_id: RuleId, version: u64 },
    /// Someone asked for a re-score (the CLI or an operator); `nonce` tells requests apart.
    Recompute { nonce: String },
    /// The tenant's model changed (trained from outcomes or a CRM export).
    ModelChanged { version: u64 },
    /// A rep adjusted the score or removed an adjustment; `at` tells adjustments apart.
    Manual { at: DateTime<Utc> },
    /// The lead's data changed (CRM fields).
    LeadChanged { version: u64 },
    /// Something happened in the lead's texts (`event_id` from its SMS log).
    Sms { event_id: String },
    /// The clock moved on: points that decay with age are recomputed (the daily sweep);
    /// `day` (YYYY-MM-DD) tells the days apart.
    Decay { day: String },
}

impl ScoreCause {
    /// A stable key: a cause that was already applied to a lead is not applied again.
    pub fn key(&self) -> String {
        match self {
            ScoreCause::NewCall { call_id } => format!("call:{call_id}"),
            ScoreCause::RuleChanged { rule_id, version } => format!("rule:{rule_id}@{version}"),
            ScoreCause::Recompute { nonce } => format!("recompute:{nonce}"),
            ScoreCause::ModelChanged { version } => format!("model:{version}"),
            ScoreCause::Manual { at } => format!("manual:{}", at.timestamp_micros()),
            ScoreCause::LeadChanged { version } => format!("lead:{version}"),
            ScoreCause::Sms { event_id } => format!("sms:{event_id}"),
            ScoreCause::Decay { day } => format!("decay:{day}"),
        }
    }
}

/// A computed score with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Score {
    /// 0..100.
    pub value: u8,
    pub tier: Tier,
    /// What moved the score, largest absolute contribution first.
    pub factors: Vec<Factor>,
    /// The probability the lead converts: the tenant's calibrated model, blended with the
    /// rules while the model has few outcomes to go on. `None` until a model exists.
    pub probability: Option<f64>,
    /// The model version behind `probability`.
    pub model_version: Option<u64>,
}

/// One entry of a lead's score ledger: what changed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoreChange {
    pub cause: ScoreCause,
    pub previous: Option<u8>,
    /// The tier before (absent in entries written before tiers were kept here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_tier: Option<Tier>,
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
