//! Scoring: lead features, the rule language, the default rules and the score itself.
//!
//! This first engine is rule-based: each enabled rule whose criteria hold adds its weight in
//! points; the score is the sum clamped to 0..100, and each matching rule is a factor with the
//! evidence of the features it read.

pub mod expr;
pub mod features;

use chrono::{DateTime, Utc};

use crate::domain::{Call, Factor, Lead, RuleId, Score, ScoringRule, TenantId, TierThresholds};
use crate::error::Result;
pub use features::{FIELDS, Features, FieldType, Value};

/// Check a rule's criteria; the error gives the column and the reason.
pub fn validate_criteria(criteria: &str) -> Result<()> {
    expr::parse(criteria).map(|_| ())
}

/// Score a lead from its calls under the tenant's rules.
pub fn score_lead(
    lead: &Lead,
    calls: &[Call],
    rules: &[ScoringRule],
    thresholds: &TierThresholds,
    now: DateTime<Utc>,
) -> Score {
    let features = Features::compute(lead, calls, now);
    let mut factors = Vec::new();
    for rule in rules.iter().filter(|r| r.enabled) {
        let expr = match expr::parse(&rule.criteria) {
            Ok(e) => e,
            Err(e) => {
                // Rules are checked when saved; one that no longer parses (the catalogue
                // changed) is skipped rather than blocking every score.
                tracing::warn!(rule_id = %rule.rule_id, error = %e, "skipping a rule that does not parse");
                continue;
            }
        };
        if expr::eval(&expr, &|f| features.get(f)) {
            let evidence = expr::fields(&expr)
                .into_iter()
                .flat_map(|f| features.evidence(f))
                .take(4)
                .collect();
            factors.push(Factor {
                rule_id: rule.rule_id.clone(),
                description: rule.description.clone(),
                points: rule.weight,
                evidence,
            });
        }
    }
    factors.sort_by(|a, b| {
        b.points
            .abs()
            .total_cmp(&a.points.abs())
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    let total: f64 = factors.iter().map(|f| f.points).sum();
    let value = total.round().clamp(0.0, 100.0) as u8;
    Score {
        value,
        tier: thresholds.tier(value),
        factors,
    }
}

/// The rules a new tenant starts with: (id, criteria, points, description).
pub const DEFAULT_RULES: &[(&str, &str, f64, &str)] = &[
    (
        "default-pricing",
        "intent.pricing",
        20.0,
        "Asked about pricing or a quote",
    ),
    (
        "default-meeting",
        "intent.meeting",
        20.0,
        "Wants a demo, visit or meeting",
    ),
    (
        "default-purchase",
        "intent.purchase",
        25.0,
        "Said they are ready to buy",
    ),
    (
        "default-timeline",
        "intent.timeline",
        10.0,
        "Has a timeline",
    ),
    (
        "default-budget",
        "intent.budget",
        10.0,
        "Has a budget or financing",
    ),
    (
        "default-decision-maker",
        "intent.decision_maker",
        10.0,
        "Makes the decision",
    ),
    (
        "default-callback",
        "intent.callback",
        10.0,
        "Asked to be called back",
    ),
    (
        "default-interest",
        "intent.interest",
        5.0,
        "Said they are interested",
    ),
    (
        "default-positive",
        "sentiment.customer >= 0.3",
        10.0,
        "Sounded positive",
    ),
    (
        "default-negative",
        "sentiment.customer <= -0.3",
        -10.0,
        "Sounded negative",
    ),
    (
        "default-repeat",
        "calls.inbound >= 2",
        10.0,
        "Called us more than once",
    ),
    (
        "default-long-call",
        "call.duration >= 180",
        5.0,
        "Talked for three minutes or more",
    ),
    (
        "default-not-interested",
        "objection.not_interested",
        -25.0,
        "Said they are not interested",
    ),
    (
        "default-too-expensive",
        "objection.too_expensive",
        -10.0,
        "Finds it too expensive",
    ),
    (
        "default-do-not-call",
        "objection.do_not_call",
        -50.0,
        "Asked not to be called",
    ),
    (
        "default-junk",
        "junk.wrong_number or junk.spam",
        -60.0,
        "Wrong number or spam",
    ),
    (
        "default-voicemail",
        "junk.voicemail and customer.questions == 0",
        -5.0,
        "Only reached voicemail",
    ),
];

/// The default rule set for a tenant.
pub fn default_rules(tenant: &TenantId, now: DateTime<Utc>) -> Vec<ScoringRule> {
    DEFAULT_RULES
        .iter()
        .map(|(id, criteria, weight, description)| ScoringRule {
            tenant_id: tenant.clone(),
            rule_id: RuleId::parse(id).expect("default rule ids are valid"),
            criteria: (*criteria).to_owned(),
            weight: *weight,
            description: (*description).to_owned(),
            enabled: true,
            created_at: now,
            updated_at: now,
            version: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CallId, CallStatus, Direction, Evidence, PhoneNumber, Tier, TranscriptFormat,
    };
    use crate::formats::parse_transcript;

    #[test]
    fn default_rules_all_parse() {
        for (id, criteria, ..) in DEFAULT_RULES {
            validate_criteria(criteria).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    fn call(tenant: &TenantId, lead: &Lead, text: &str, minutes_ago: i64) -> Call {
        let transcript = parse_transcript(TranscriptFormat::PlainText, text.as_bytes()).unwrap();
        let analysis = crate::analysis::analyze(&transcript, None, Direction::Inbound);
        let now = Utc::now();
        Call {
            tenant_id: tenant.clone(),
            call_id: CallId::derive(tenant, text),
            lead_id: lead.lead_id.clone(),
            call_start_time: now - chrono::Duration::minutes(minutes_ago),
            call_duration: Some(240.0),
            direction: Direction::Inbound,
            caller: lead.phone_number.clone(),
            callee: None,
            external_id: None,
            source_name: "t".into(),
            recording_key: None,
            recording_sha256: None,
            transcript_source_key: None,
            transcript_sha256: None,
            transcript_key: None,
            status: CallStatus::Analyzed,
            status_detail: None,
            failed_stage: None,
            agent_speaker: None,
            sentiment_score: Some(analysis.sentiment.customer),
            keywords: analysis.keywords.clone(),
            pii_masked: 0,
            analysis: Some(analysis),
            attributes: Default::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
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
        let score = score_lead(
            &lead,
            std::slice::from_ref(&c),
            &default_rules(&tenant, now),
            &TierThresholds::default(),
            now,
        );
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
            &rules,
            &TierThresholds::default(),
            now,
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
        let score = score_lead(&lead, &[c], &rules, &TierThresholds::default(), now);
        assert!(score.factors.is_empty());
    }
}
