use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RuleId, TenantId};
use crate::error::{Error, Result};

/// A tenant's scoring rule: when `criteria` holds for a lead, the lead gets `weight` points.
/// Field names follow the seed schema (`rule_id`, `criteria`, `weight`, `description`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringRule {
    pub tenant_id: TenantId,
    pub rule_id: RuleId,
    /// An expression over lead features, e.g. `intent.pricing and sentiment.customer >= 0.3`.
    pub criteria: String,
    /// Points, -100..100; negative points count against the lead.
    pub weight: f64,
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// A rule as a client sends it: all of it for `POST /scoring_rules`; for
/// `PUT /scoring_rules/{id}` the fields left out keep their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
        let rule_id = match (base, &self.rule_id) {
            (Some(b), Some(id)) if id != b.rule_id.as_str() => {
                return Err(Error::validation(format!(
                    "rule_id: `{id}` does not match the rule being updated (`{}`)",
                    b.rule_id
                )));
            }
            (Some(b), _) => b.rule_id.clone(),
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
            created_at: base.map_or(now, |b| b.created_at),
            updated_at: now,
            version: base.map_or(0, |b| b.version),
        })
    }
}
