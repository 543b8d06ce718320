//! Scoring: lead features, the rule language, the default rules and the score itself.
//!
//! A score is built in three steps, each leaving factors that explain it:
//! 1. **Rules.** Each enabled rule whose criteria hold adds its weight in points, faded by its
//!    half-life (by the age of its freshest evidence) and held to its group's cap. The sum,
//!    clamped to 0..100, is the rules' score.
//! 2. **Model.** When the tenant has a model, its calibrated probability is blended with the
//!    rules' score, weighted by how many outcomes the model learnt from, `n / (n + 200)`, times
//!    the share of its inputs known for the lead: a new tenant leans on its rules and an
//!    established one on its outcomes, and a model trained on CRM columns a lead lacks does
//!    not speak for it. The score is 100 times the blended probability.
//! 3. **Adjustment.** A rep's manual adjustment is added last, so it survives every re-score.

pub mod caller;
pub mod expr;
pub mod features;

use chrono::{DateTime, Utc};

use crate::domain::{
    Call, Evidence, Factor, FactorKind, Lead, RuleId, Score, ScoringRule, TenantId, TierThresholds,
};
use crate::error::Result;
use crate::model::{Model, Raw};
pub use features::{FIELDS, Features, FieldType, Value};

/// Labelled outcomes at which the model and the rules weigh the same.
pub const COLD_START_OUTCOMES: f64 = 200.0;

/// Check a rule's criteria; the error gives the column and the reason.
pub fn validate_criteria(criteria: &str) -> Result<()> {
    expr::parse(criteria).map(|_| ())
}

/// What a rule editor shows while a person types: the fields the criteria read, or where
/// they go wrong and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct CriteriaCheck {
    pub valid: bool,
    /// The catalogue fields the criteria read, in order of appearance (when valid).
    pub fields: Vec<&'static str>,
    /// 1-based character column of the error, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong (when not valid), as saving the rule would say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub fn check_criteria(criteria: &str) -> CriteriaCheck {
    match expr::parse(criteria) {
        Ok(e) => CriteriaCheck {
            valid: true,
            fields: expr::fields(&e),
            column: None,
            message: None,
        },
        Err(e) => {
            let message = e.to_string();
            let detail = message.strip_prefix("criteria: ").unwrap_or(&message);
            let column = detail
                .strip_prefix("at column ")
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(n, _)| n.parse().ok());
            CriteriaCheck {
                valid: false,
                fields: Vec::new(),
                column,
                message: Some(message),
            }
        }
    }
}

/// A tenant's enabled rules, parsed once for many scores.
pub struct RuleSet {
    rules: Vec<(ScoringRule, expr::Expr)>,
}

impl RuleSet {
    pub fn compile(rules: &[ScoringRule]) -> Self {
        let rules = rules
            .iter()
            .filter(|r| r.enabled)
            .filter_map(|rule| match expr::parse(&rule.criteria) {
                Ok(e) => Some((rule.clone(), e)),
                Err(e) => {
                    // Rules are checked when saved; one that no longer parses (the catalogue
                    // changed) is skipped rather than blocking every score.
                    tracing::warn!(rule_id = %rule.rule_id, error = %e, "skipping a rule that does not parse");
                    None
                }
            })
            .collect();
        Self { rules }
    }

    /// The smallest cap any enabled rule of `group` names.
    fn cap(&self, group: &str) -> Option<f64> {
        self.rules
            .iter()
            .filter(|(r, _)| r.group.as_deref() == Some(group))
            .filter_map(|(r, _)| r.group_cap)
            .min_by(f64::total_cmp)
    }
}

/// Everything a score depends on besides the lead and its calls.
pub struct Context<'a> {
    pub rules: &'a RuleSet,
    pub model: Option<&'a Model>,
    pub tiers: &'a TierThresholds,
    pub now: DateTime<Utc>,
}

/// Score a lead from its calls, its data, the tenant's rules and model, and any adjustment.
/// How many keywords a lead shows (`ai_keywords`).
pub const LEAD_KEYWORDS: usize = 8;
/// A call's say in its lead's sentiment and keywords halves every this many days.
pub const VOICE_HALF_LIFE_DAYS: f64 = 30.0;

/// What the lead's calls say, taken together (`ai_sentiment`, `ai_keywords`): each analysed call
/// that is not junk weighs by its length (a call of unknown length as one minute, any call as at
/// least ten seconds) and its age (halving every `VOICE_HALF_LIFE_DAYS`). Sentiment is the
/// weighted mean of the calls' customer sentiment; a keyword scores the weight of each call
/// that has it, more for the keywords a call puts first, and the best `LEAD_KEYWORDS` are shown.
/// So one short call does not wipe out what a long one said, and the latest calls count most.
pub fn lead_voice(calls: &[Call], now: DateTime<Utc>) -> (Option<f64>, Vec<String>) {
    let mut weights = 0.0;
    let mut weighted_sentiment = 0.0;
    let mut keyword_scores: Vec<(String, f64, DateTime<Utc>)> = Vec::new();
    for call in calls {
        let Some(analysis) = &call.analysis else {
            continue;
        };
        if analysis.is_junk() {
            continue;
        }
        let age_days = (now - call.call_start_time).num_seconds().max(0) as f64 / 86_400.0;
        let weight = call.call_duration.unwrap_or(60.0).max(10.0)
            * 0.5f64.powf(age_days / VOICE_HALF_LIFE_DAYS);
        if let Some(s) = call.sentiment_score {
            weights += weight;
            weighted_sentiment += weight * s;
        }
        let n = call.keywords.len().max(1) as f64;
        for (rank, keyword) in call.keywords.iter().enumerate() {
            let score = weight * (1.0 - 0.5 * rank as f64 / n);
            match keyword_scores.iter_mut().find(|(k, ..)| k == keyword) {
                Some(entry) => {
                    entry.1 += score;
                    entry.2 = entry.2.max(call.call_start_time);
                }
                None => keyword_scores.push((keyword.clone(), score, call.call_start_time)),
            }
        }
    }
    let sentiment =
        (weights > 0.0).then(|| (weighted_sentiment / weights * 1000.0).round() / 1000.0);
    keyword_scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    let keywords = keyword_scores
        .into_iter()
        .take(LEAD_KEYWORDS)
        .map(|(k, ..)| k)
        .collect();
    (sentiment, keywords)
}

pub fn score_lead(lead: &Lead, calls: &[Call], cx: &Context) -> Score {
    let features = Features::compute(lead, calls, cx.now);
    let mut factors = rule_factors(&features, cx);
    let rules_total: f64 = factors.iter().map(|f| f.points).sum();
    let rules_value = rules_total.clamp(0.0, 100.0);

    let mut value = rules_value;
    let mut probability = None;
    if let Some(model) = cx.model {
        let row = model_row(model, &features, lead);
        let p_model = model.probability(&row);
        // A model learnt from outcomes counts for more the more outcomes it saw, and only as
        // far as it knows this lead: with none of its inputs known it says nothing about it.
        let n = model.metrics.rows as f64;
        let known = row.iter().filter(|v| !matches!(v, Raw::Missing)).count();
        let coverage = known as f64 / row.len().max(1) as f64;
        let weight = n / (n + COLD_START_OUTCOMES) * coverage;
        let p = weight * p_model + (1.0 - weight) * rules_value / 100.0;
        // A probability only where the model speaks for the lead: knowing none of its inputs,
        // `p` would be the rules' points over 100, which are no probability.
        probability = (known > 0).then_some(p);
        value = 100.0 * p;
        factors.push(model_factor(
            model,
            &row,
            p_model,
            (weight, known),
            value - rules_value,
        ));
    }
    if let Some(adj) = &lead.adjustment {
        value = (value + adj.points).clamp(0.0, 100.0);
        factors.push(Factor {
            kind: FactorKind::Manual,
            rule_id: RuleId::parse("manual").expect("a valid id"),
            description: match &adj.by {
                Some(by) => format!("Adjusted by {by}"),
                None => "Adjusted by hand".to_owned(),
            },
            points: adj.points,
            evidence: vec![Evidence::Field {
                name: "reason".to_owned(),
                value: adj.reason.clone(),
            }],
            note: Some(format!("since {}", adj.at.format("%Y-%m-%d %H:%M UTC"))),
        });
    }
    factors.sort_by(|a, b| {
        b.points
            .abs()
            .total_cmp(&a.points.abs())
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    let value = value.round().clamp(0.0, 100.0) as u8;
    Score {
        value,
        tier: cx.tiers.tier(value),
        factors,
        probability,
        model_version: cx.model.map(|m| m.version),
    }
}

/// The matching rules' factors, faded by age and held to their groups' caps.
fn rule_factors(features: &Features, cx: &Context) -> Vec<Factor> {
    let mut matched: Vec<(Factor, Option<&str>)> = Vec::new();
    for (rule, expr) in &cx.rules.rules {
        if !expr::eval(expr, &|f| features.get(f)) {
            continue;
        }
        let fields = expr::fields(expr);
        let mut points = rule.weight;
        let mut note = None;
        let freshest = fields.iter().filter_map(|f| features.seen(f)).max();
        if let (Some(half_life), Some(seen)) = (rule.half_life_days, freshest) {
            let age_days = ((cx.now - seen).num_seconds().max(0) as f64) / 86_400.0;
            let factor = 0.5f64.powf(age_days / half_life);
            points *= factor;
            if factor < 0.995 {
                note = Some(format!(
                    "{:.0}% of {} points: the evidence is {age_days:.1} days old and the \
                     half-life is {half_life} days",
                    factor * 100.0,
                    rule.weight
                ));
            }
        }
        let evidence = fields
            .into_iter()
            .flat_map(|f| features.evidence(f))
            .take(4)
            .collect();
        matched.push((
            Factor {
                kind: FactorKind::Rule,
                rule_id: rule.rule_id.clone(),
                description: rule.description.clone(),
                points,
                evidence,
                note,
            },
            rule.group.as_deref(),
        ));
    }
    // Group caps: a group's positive points add to at most its cap, its negative ones to at
    // least minus the cap, each scaled down in proportion.
    let mut groups: Vec<&str> = matched.iter().filter_map(|(_, g)| *g).collect();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let Some(cap) = cx.rules.cap(group) else {
            continue;
        };
        for sign in [1.0, -1.0] {
            let members = |f: &Factor, g: Option<&str>| g == Some(group) && f.points * sign > 0.0;
            let total: f64 = matched
                .iter()
                .filter(|(f, g)| members(f, *g))
                .map(|(f, _)| f.points * sign)
                .sum();
            if total <= cap {
                continue;
            }
            let scale = cap / total;
            for (f, g) in matched.iter_mut() {
                if members(f, *g) {
                    f.points *= scale;
                    let capped = format!(
                        "group `{group}` adds at most {cap} points together ({total:.1} matched)"
                    );
                    f.note = Some(match f.note.take() {
                        Some(n) => format!("{n}; {capped}"),
                        None => capped,
                    });
                }
            }
        }
    }
    matched.into_iter().map(|(f, _)| f).collect()
}

/// The model's inputs for a lead: each column the model was trained on, read from the lead's
/// features by catalogue name (`calls.count`) or from its CRM fields by the CRM's name.
pub fn model_row<'a>(model: &Model, features: &'a Features, lead: &'a Lead) -> Vec<Raw<'a>> {
    model
        .encoder
        .features
        .iter()
        .map(|f| {
            if let Some(v) = features.value_ref(&f.name) {
                match v {
                    Value::Num(n) => Raw::Number(*n),
                    Value::Bool(b) => Raw::Text(if *b { "true" } else { "false" }),
                    Value::Str(s) => Raw::Text(s),
                }
            } else if let Some(v) = lead.crm.get(&f.name) {
                Raw::Text(v)
            } else {
                Raw::Missing
            }
        })
        .collect()
}

/// The model's factor: how far it moved the score from the rules, and the inputs that moved
/// its probability most (each input's effect is the change in log-odds had it been unknown).
fn model_factor(
    model: &Model,
    row: &[Raw],
    p_model: f64,
    (weight, known): (f64, usize),
    points: f64,
) -> Factor {
    let mut effects = model.effects(row);
    effects.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let top: Vec<(usize, f64)> = effects
        .into_iter()
        .take(3)
        .filter(|(_, e)| e.abs() >= 0.05)
        .collect();
    let shown: Vec<String> = top
        .iter()
        .map(|(i, e)| {
            format!(
                "{} {}",
                model.encoder.features[*i].name,
                if *e > 0.0 { "raised it" } else { "lowered it" }
            )
        })
        .collect();
    Factor {
        kind: FactorKind::Model,
        rule_id: RuleId::parse("model").expect("a valid id"),
        description: format!(
            "Model v{}: {:.0}% of leads like this converted",
            model.version,
            p_model * 100.0
        ),
        points,
        evidence: top
            .iter()
            .map(|(i, _)| Evidence::Field {
                name: model.encoder.features[*i].name.clone(),
                value: match &row[*i] {
                    Raw::Number(n) => features::show_number(*n),
                    Raw::Text(t) => (*t).to_owned(),
                    Raw::Missing => "unknown".to_owned(),
                },
            })
            .collect(),
        note: Some(format!(
            "trained on {} outcomes; knows {known} of its {} inputs for this lead; weighted \
             {:.0}% against the rules{}{}",
            model.metrics.rows,
            row.len(),
            weight * 100.0,
            if shown.is_empty() { "" } else { "; " },
            shown.join(", ")
        )),
    }
}

/// A rule a new tenant starts with, and where it stands: its group (whose rules together add at
/// most `group_cap` points) and its half-life (how fast what it counts fades).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultRule {
    pub id: &'static str,
    pub criteria: &'static str,
    pub weight: f64,
    pub description: &'static str,
    pub group: Option<&'static str>,
    pub group_cap: Option<f64>,
    pub half_life_days: Option<f64>,
}

/// The rules a new tenant starts with. Intents on calls are buying signals, together at most 80
/// points, and do not fade (a score with a half-life changes with the clock, so decay on calls
/// is for a tenant to choose rule by rule). What a lead does by text counts for at most 60
/// points and fades in days (a "call me" is worth half as much two days later); opting in and
/// declining do not fade.
pub const DEFAULT_RULES: &[DefaultRule] = &[
    DefaultRule {
        id: "default-pricing",
        criteria: "intent.pricing",
        weight: 20.0,
        description: "Asked about pricing or a quote",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-meeting",
        criteria: "intent.meeting",
        weight: 20.0,
        description: "Wants a demo, visit or meeting",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-purchase",
        criteria: "intent.purchase",
        weight: 25.0,
        description: "Said they are ready to buy",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-timeline",
        criteria: "intent.timeline",
        weight: 10.0,
        description: "Has a timeline",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-budget",
        criteria: "intent.budget",
        weight: 10.0,
        description: "Has a budget or financing",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-decision-maker",
        criteria: "intent.decision_maker",
        weight: 10.0,
        description: "Makes the decision",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-callback",
        criteria: "intent.callback",
        weight: 10.0,
        description: "Asked to be called back",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-interest",
        criteria: "intent.interest",
        weight: 5.0,
        description: "Said they are interested",
        group: Some("buying_signals"),
        group_cap: Some(80.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-positive",
        criteria: "sentiment.customer >= 0.3",
        weight: 10.0,
        description: "Sounded positive",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-negative",
        criteria: "sentiment.customer <= -0.3",
        weight: -10.0,
        description: "Sounded negative",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-repeat",
        criteria: "calls.inbound >= 2",
        weight: 10.0,
        description: "Called us more than once",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-long-call",
        criteria: "call.duration >= 180",
        weight: 5.0,
        description: "Talked for three minutes or more",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-not-interested",
        criteria: "objection.not_interested",
        weight: -25.0,
        description: "Said they are not interested",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-too-expensive",
        criteria: "objection.too_expensive",
        weight: -10.0,
        description: "Finds it too expensive",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-do-not-call",
        criteria: "objection.do_not_call",
        weight: -50.0,
        description: "Asked not to be called",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-junk",
        criteria: "junk.wrong_number or junk.spam",
        weight: -60.0,
        description: "Wrong number or spam",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-voicemail",
        criteria: "junk.voicemail and customer.questions == 0",
        weight: -5.0,
        description: "Only reached voicemail",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-sms-opt-in",
        criteria: "sms.opted_in",
        weight: 10.0,
        description: "Agreed to receive texts",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: None,
    },
    DefaultRule {
        id: "default-sms-call-me",
        criteria: "sms.intent.call_me",
        weight: 25.0,
        description: "Asked by text for a call",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(2.0),
    },
    DefaultRule {
        id: "default-sms-schedule",
        criteria: "sms.intent.schedule",
        weight: 20.0,
        description: "Asked by text to book a time",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(3.0),
    },
    DefaultRule {
        id: "default-sms-interested",
        criteria: "sms.intent.interested",
        weight: 10.0,
        description: "Said yes or showed interest by text",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(3.0),
    },
    DefaultRule {
        id: "default-sms-pricing",
        criteria: "sms.intent.pricing",
        weight: 10.0,
        description: "Asked about prices by text",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(3.0),
    },
    DefaultRule {
        id: "default-sms-pricing-click",
        criteria: "sms.pricing_click",
        weight: 15.0,
        description: "Opened the pricing link",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(2.0),
    },
    DefaultRule {
        id: "default-sms-click",
        criteria: "sms.link_clicks >= 1 and not sms.pricing_click",
        weight: 5.0,
        description: "Opened a link in a text",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(2.0),
    },
    DefaultRule {
        id: "default-sms-survey",
        criteria: "sms.surveys_completed >= 1",
        weight: 10.0,
        description: "Completed a survey by text",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(14.0),
    },
    DefaultRule {
        id: "default-sms-fast-reply",
        criteria: "sms.reply_minutes <= 5",
        weight: 10.0,
        description: "Replies to texts within five minutes",
        group: Some("sms_engagement"),
        group_cap: Some(60.0),
        half_life_days: Some(3.0),
    },
    DefaultRule {
        id: "default-sms-not-interested",
        criteria: "sms.intent.not_interested",
        weight: -25.0,
        description: "Declined by text",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
    DefaultRule {
        id: "default-sms-wrong-number",
        criteria: "sms.intent.wrong_number",
        weight: -60.0,
        description: "Texted that it is the wrong number",
        group: None,
        group_cap: None,
        half_life_days: None,
    },
];

/// The default rule set for a tenant.
pub fn default_rules(tenant: &TenantId, now: DateTime<Utc>) -> Vec<ScoringRule> {
    DEFAULT_RULES
        .iter()
        .map(|d| ScoringRule {
            tenant_id: tenant.clone(),
            rule_id: RuleId::parse(d.id).expect("default rule ids are valid"),
            criteria: d.criteria.to_owned(),
            weight: d.weight,
            description: d.description.to_owned(),
            enabled: true,
            group: d.group.map(str::to_owned),
            group_cap: d.group_cap,
            half_life_days: d.half_life_days,
            created_at: now,
            updated_at: now,
            version: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallId, Evidence, PhoneNumber, Tier};

    const TIERS: TierThresholds = TierThresholds { hot: 70, warm: 40 };

    fn cx(rules: &RuleSet, now: DateTime<Utc>) -> Context<'_> {
        Context {
            rules,
            model: None,
            tiers: &TIERS,
            now,
        }
    }

    #[test]
    fn a_check_names_the_fields_or_the_column() {
        let ok = check_criteria("intent.pricing and calls.count >= 2");
        assert!(ok.valid);
        assert_eq!(ok.fields, ["intent.pricing", "calls.count"]);
        let bad = check_criteria("calls.count >= 2 and intent.pricng");
        assert!(!bad.valid);
        assert_eq!(bad.column, Some(22));
        assert!(
            bad.message
                .as_deref()
                .unwrap()
                .contains("did you mean `intent.pricing`"),
            "{bad:?}"
        );
        assert_eq!(check_criteria("").column, None);
    }

    #[test]
    fn default_rules_all_parse() {
        for d in DEFAULT_RULES {
            validate_criteria(d.criteria).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        }
    }

    fn call(tenant: &TenantId, lead: &Lead, text: &str, minutes_ago: i64) -> Call {
        let at = Utc::now() - chrono::Duration::minutes(minutes_ago);
        crate::analysis::analysed_call(lead, CallId::derive(tenant, text), at, text)
    }

    #[test]
    fn a_leads_voice_is_all_its_calls_weighed_by_length_and_age() {
        // GIVEN a long, warm call with many keywords, then a short, flat one with one keyword
        let tenant = TenantId::default_tenant();
        let now = Utc::now();
        let lead = Lead::new(
            tenant.clone(),
            PhoneNumber::parse("+15125550147").unwrap(),
            now,
        );
        let mut long = call(&tenant, &lead, "Caller: hi", 60 * 24);
        long.call_duration = Some(600.0);
        long.sentiment_score = Some(0.72);
        long.keywords = ["solar panels", "warehouse roof", "battery", "financing"]
            .map(String::from)
            .to_vec();
        let mut short = call(&tenant, &lead, "Caller: ok", 5);
        short.call_duration = Some(30.0);
        short.sentiment_score = Some(0.0);
        short.keywords = vec!["panels".to_owned()];
        // WHEN the lead's voice is taken from both
        let (sentiment, keywords) = lead_voice(&[long.clone(), short.clone()], now);
        // THEN the long call still speaks, the new one adds its word
        let s = sentiment.unwrap();
        assert!(s > 0.6 && s < 0.72, "{s}");
        assert_eq!(keywords.len(), 5);
        assert_eq!(keywords[0], "solar panels");
        assert!(keywords.contains(&"panels".to_owned()));
        // AND a call from a year ago counts for far less than one from today
        long.call_start_time = now - chrono::Duration::days(365);
        let (sentiment, _) = lead_voice(&[long, short], now);
        assert!(sentiment.unwrap() < 0.1, "{sentiment:?}");
        // AND a lead with no analysed call has none
        assert_eq!(lead_voice(&[], now), (None, Vec::new()));
    }

    #[test]
    fn a_buying_call_is_hot_and_each_factor_quotes_its_evidence() {
        // GIVEN a lead whose call asks for a price and a visit, with a timeline
        let tenant = TenantId::default_tenant();
        let now = Utc::now();
        let lead = Lead::new(
            tenant.clone(),
            PhoneNumber::parse("+15125550147").unwrap(),
            now,
        );
        let c = call(
            &tenant,
            &lead,
            "Agent: Thanks for calling Brightline, this is Maya.\n\
             Caller: Hi! I'm the owner and we'd love to get a quote for solar this month.\n\
             Agent: Great.\nCaller: Can someone come out for a site visit on Friday? That would be wonderful.\n",
            60,
        );
        // WHEN it is scored under the default rules
        let rules = RuleSet::compile(&default_rules(&tenant, now));
        let score = score_lead(&lead, std::slice::from_ref(&c), &cx(&rules, now));
        // THEN it is hot, and the pricing factor quotes the sentence and second it came from
        assert_eq!(score.tier, Tier::Hot, "{score:#?}");
        let pricing = score
            .factors
            .iter()
            .find(|f| f.rule_id.as_str() == "default-pricing")
            .unwrap();
        match &pricing.evidence[0] {
            Evidence::Quote {
                call_id,
                text,
                at,
                speaker,
            } => {
                assert_eq!(call_id, &c.call_id);
                assert!(text.contains("get a quote"), "{text}");
                assert_eq!(speaker, "Caller");
                assert!(*at > 0.0);
            }
            other => panic!("expected a quote, got {other:?}"),
        }
        // Factors are sorted by contribution.
        assert!(
            score
                .factors
                .windows(2)
                .all(|w| w[0].points.abs() >= w[1].points.abs())
        );
    }

    #[test]
    fn junk_and_objections_sink_a_lead_and_disabled_rules_do_nothing() {
        let tenant = TenantId::default_tenant();
        let now = Utc::now();
        let lead = Lead::new(
            tenant.clone(),
            PhoneNumber::parse("+15125550147").unwrap(),
            now,
        );
        let c = call(
            &tenant,
            &lead,
            "Agent: Thanks for calling, this is Maya.\nCaller: Sorry, wrong number.\n",
            5,
        );
        let mut rules = default_rules(&tenant, now);
        let score = score_lead(
            &lead,
            std::slice::from_ref(&c),
            &cx(&RuleSet::compile(&rules), now),
        );
        assert_eq!((score.value, score.tier), (0, Tier::Cold));
        assert!(
            score
                .factors
                .iter()
                .any(|f| f.rule_id.as_str() == "default-junk")
        );
        for r in &mut rules {
            r.enabled = false;
        }
        let score = score_lead(&lead, &[c], &cx(&RuleSet::compile(&rules), now));
        assert!(score.factors.is_empty());
    }

    fn rule(id: &str, criteria: &str, weight: f64) -> ScoringRule {
        let mut r = default_rules(&TenantId::default_tenant(), Utc::now())[0].clone();
        r.rule_id = RuleId::parse(id).unwrap();
        r.criteria = criteria.into();
        r.weight = weight;
        r.description = id.into();
        (r.group, r.group_cap, r.half_life_days) = (None, None, None);
        r
    }

    fn pricing_lead(days_ago: i64) -> (Lead, Call, DateTime<Utc>) {
        let tenant = TenantId::default_tenant();
        let now = Utc::now();
        let lead = Lead::new(
            tenant.clone(),
            PhoneNumber::parse("+15125550147").unwrap(),
            now,
        );
        let c = call(
            &tenant,
            &lead,
            "Agent: Brightline, Maya speaking.\nCaller: How much would a quote be? We'd love a site visit.\n",
            days_ago * 24 * 60,
        );
        (lead, c, now)
    }

    #[test]
    fn points_halve_with_each_half_life_of_the_evidence() {
        let mut r = rule("pricing", "intent.pricing", 40.0);
        r.half_life_days = Some(10.0);
        let points = |days: i64| {
            let (lead, c, now) = pricing_lead(days);
            let rules = RuleSet::compile(std::slice::from_ref(&r));
            let s = score_lead(&lead, &[c], &cx(&rules, now));
            (s.factors[0].points, s.factors[0].note.clone())
        };
        let (fresh, note) = points(0);
        assert!((fresh - 40.0).abs() < 0.01, "{fresh}");
        assert_eq!(note, None);
        let (ten, note) = points(10);
        assert!((ten - 20.0).abs() < 0.01, "{ten}");
        assert!(note.unwrap().contains("half-life is 10 days"));
        let (thirty, _) = points(30);
        assert!((thirty - 5.0).abs() < 0.01, "{thirty}");
    }

    #[test]
    fn a_group_adds_no_more_than_its_cap() {
        let (lead, c, now) = pricing_lead(0);
        let mut rules = vec![
            rule("pricing", "intent.pricing", 30.0),
            rule("meeting", "intent.meeting", 30.0),
            rule("fresh", "call.days_ago < 1", 10.0),
        ];
        for r in &mut rules[..2] {
            r.group = Some("buying".into());
        }
        rules[1].group_cap = Some(45.0);
        let s = score_lead(&lead, &[c], &cx(&RuleSet::compile(&rules), now));
        let points = |id: &str| {
            s.factors
                .iter()
                .find(|f| f.rule_id.as_str() == id)
                .unwrap()
                .points
        };
        assert!((points("pricing") - 22.5).abs() < 1e-9);
        assert!((points("meeting") - 22.5).abs() < 1e-9);
        assert_eq!(
            points("fresh"),
            10.0,
            "rules outside the group are untouched"
        );
        assert_eq!(s.value, 55);
        assert!(
            s.factors[0]
                .note
                .as_ref()
                .unwrap()
                .contains("group `buying`")
        );
    }

    #[test]
    fn an_adjustment_is_added_last_and_named() {
        let (mut lead, c, now) = pricing_lead(0);
        let rules = RuleSet::compile(&[rule("pricing", "intent.pricing", 50.0)]);
        lead.adjustment = Some(crate::domain::Adjustment {
            points: 25.0,
            reason: "Signed the LOI on site".into(),
            by: Some("maya".into()),
            at: now,
        });
        let s = score_lead(&lead, std::slice::from_ref(&c), &cx(&rules, now));
        assert_eq!((s.value, s.tier), (75, Tier::Hot));
        let manual = s
            .factors
            .iter()
            .find(|f| f.kind == FactorKind::Manual)
            .unwrap();
        assert_eq!(manual.points, 25.0);
        assert_eq!(manual.description, "Adjusted by maya");
        assert!(
            matches!(&manual.evidence[0], Evidence::Field { value, .. } if value == "Signed the LOI on site")
        );
        // The score stays in 0..100 whatever the adjustment.
        lead.adjustment.as_mut().unwrap().points = 90.0;
        assert_eq!(score_lead(&lead, &[c], &cx(&rules, now)).value, 100);
    }

    #[test]
    fn tiers_follow_the_tenant_thresholds() {
        let (lead, c, now) = pricing_lead(0);
        let rules = RuleSet::compile(&[rule("pricing", "intent.pricing", 50.0)]);
        let strict = TierThresholds { hot: 80, warm: 51 };
        let generous = TierThresholds { hot: 50, warm: 20 };
        for (tiers, tier) in [
            (&strict, Tier::Cold),
            (&TIERS, Tier::Warm),
            (&generous, Tier::Hot),
        ] {
            let s = score_lead(
                &lead,
                std::slice::from_ref(&c),
                &Context {
                    tiers,
                    ..cx(&rules, now)
                },
            );
            assert_eq!((s.value, s.tier), (50, tier));
        }
    }
}
