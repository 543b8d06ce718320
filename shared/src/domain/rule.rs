use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RuleId, TenantId};
use crate::error::{Error, Result};

/// A tenant's scoring rule: when `criteria` holds for a lead, the lead gets `weight` points.
/// Field names follow the seed schema (`rule_id`, `criteria`, `weight`, `description`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoringRule {
    pub tenant_id: TenantId,
    pub rule_id: RuleId,
    /// An expression over lead features, e.g. `intent.pricing and sentiment.customer >= 0.3`.
    pub criteria: String,
    /// Points, -100..100; negative points count against the lead.
    pub weight: f64,
    pub description: String,
    pub enabled: bool,
    /// Rules of one group share a cap: together they add at most `group_cap` points (and take
    /// away at most as many). The smallest cap named by the group's rules applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_cap: Option<f64>,
    /// The rule's points halve for every `half_life_days` of age of its freshest evidence (a
    /// pricing question asked a month ago counts for less than one asked today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_days: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Ids of the factors that are not rules: the model's and a rep's adjustment.
pub const RESERVED_IDS: &[&str] = &["model", "manual"];
/// Ids that name the rule language's own endpoints (`/scoring_rules/preview`, `/check`,
/// `/fields`), not a rule.
pub const ENDPOINT_IDS: &[&str] = &["preview", "check", "fields"];

/// A rule as a client sends it: all of it for `POST /scoring_rules`; for
/// `PUT /scoring_rules/{id}` the fields left out keep their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"criteria": "calls.count >= 2 and intent.pricing", "weight": 15, "description": "Asked about price on a second call", "group": "buying_signals"}))]
pub struct RuleDraft {
    #[serde(default)]
    pub rule_id: Option<String>,
    #[serde(default)]
    pub criteria: Option<String>,
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `""` clears the group.
    #[serde(default)]
    pub group: Option<String>,
    /// `0` clears the cap.
    #[serde(default)]
    pub group_cap: Option<f64>,
    /// `0` turns decay off.
    #[serde(default)]
    pub half_life_days: Option<f64>,
}

impl RuleDraft {
    /// Merge onto `base` (or build a new rule when there is none) and check the plain fields.
    /// The criteria are checked by the rule language, which knows the fields.
    pub fn merge(
        &self,
        tenant: &TenantId,
        base: Option<&ScoringRule>,
        now: DateTime<Utc>,
    ) -> Result<ScoringRule> {
        let criteria = self
            .criteria
            .clone()
            .or_else(|| base.map(|b| b.criteria.clone()))
            .ok_or_else(|| Error::validation("criteria: required, e.g. \"intent.pricing\""))?;
        let weight = self.weight.or(base.map(|b| b.weight)).ok_or_else(|| {
            Error::validation("weight: required, a number of points from -100 to 100")
        })?;
        if !weight.is_finite() || !(-100.0..=100.0).contains(&weight) {
            return Err(Error::validation(format!(
                "weight: {weight} is outside -100..100"
            )));
        }
        let description = self
            .description
            .clone()
            .or_else(|| base.map(|b| b.description.clone()))
            .unwrap_or_else(|| criteria.clone());
        if description.chars().count() > 300 {
            return Err(Error::validation("description: longer than 300 characters"));
        }
        let group = match &self.group {
            Some(g) if g.is_empty() => None,
            Some(g) => {
                if g.len() > 40
                    || !g.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                    })
                {
                    return Err(Error::validation(format!(
                        "group: `{g}` is not a group name (up to 40 of a-z, 0-9, `_` and `-`)"
                    )));
                }
                Some(g.clone())
            }
            None => base.and_then(|b| b.group.clone()),
        };
        let group_cap = match self.group_cap {
            Some(0.0) => None,
            Some(c) if !c.is_finite() || !(0.0..=100.0).contains(&c) => {
                return Err(Error::validation(format!(
                    "group_cap: {c} is outside 0..100 (points; 0 removes the cap)"
                )));
            }
            Some(c) => Some(c),
            None => base.and_then(|b| b.group_cap),
        };
        if group_cap.is_some() && group.is_none() {
            return Err(Error::validation(
                "group_cap: the rule has no group; name one with `group`",
            ));
        }
        let half_life_days = match self.half_life_days {
            Some(0.0) => None,
            Some(h) if !h.is_finite() || !(0.0..=3650.0).contains(&h) => {
                return Err(Error::validation(format!(
                    "half_life_days: {h} is outside 0..3650 (days; 0 turns decay off)"
                )));
            }
            Some(h) => Some(h),
            None => base.and_then(|b| b.half_life_days),
        };
        let rule_id = match (base, &self.rule_id) {
            (Some(b), Some(id)) if id != b.rule_id.as_str() => {
                return Err(Error::validation(format!(
                    "rule_id: `{id}` does not match the rule being updated (`{}`)",
                    b.rule_id
                )));
            }
            (Some(b), _) => b.rule_id.clone(),
            (None, Some(id)) if RESERVED_IDS.contains(&id.as_str()) => {
                return Err(Error::validation(format!(
                    "rule_id: `{id}` is reserved for the score's own factors; choose another"
                )));
            }
            (None, Some(id)) if ENDPOINT_IDS.contains(&id.as_str()) => {
                return Err(Error::validation(format!(
                    "rule_id: `{id}` names an endpoint under /scoring_rules; choose another"
                )));
            }
            (None, Some(id)) => RuleId::parse(id).map_err(|e| e.context("rule_id"))?,
            (None, None) => RuleId::generate(),
        };
        Ok(ScoringRule {
            tenant_id: tenant.clone(),
            rule_id,
            criteria,
            weight,
            description,
            enabled: self.enabled.or(base.map(|b| b.enabled)).unwrap_or(true),
            group,
            group_cap,
            half_life_days,
            created_at: base.map_or(now, |b| b.created_at),
            updated_at: now,
            version: base.map_or(0, |b| b.version),
        })
    }
}
