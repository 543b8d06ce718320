//! Scored leads to fill a store with, for the benches that read lists and the tests that
//! measure what a page costs.

use chrono::{Duration, Utc};
use shared::domain::{Evidence, Factor, FactorKind, Lead, PhoneNumber, RuleId, TenantId, Tier};

const AREAS: [u32; 12] = [415, 512, 617, 212, 303, 602, 720, 404, 615, 773, 206, 305];

/// The `i`th lead: a number of its own, a score spread over 0..100, a factor with evidence.
pub fn lead(tenant: &TenantId, i: usize) -> Lead {
    let phone = format!("+1{}555{:04}", AREAS[i / 10_000 % AREAS.len()], i % 10_000);
    let now = Utc::now();
    let mut lead = Lead::new(tenant.clone(), PhoneNumber::parse(&phone).unwrap(), now);
    let score = (i * 37 % 101) as u8;
    lead.first_name = Some(format!("Lead{i}"));
    lead.company = i.is_multiple_of(3).then(|| format!("Company {}", i % 997));
    lead.lead_score = Some(score);
    lead.tier = Some(match score {
        70.. => Tier::Hot,
        40.. => Tier::Warm,
        _ => Tier::Cold,
    });
    lead.call_count = 1 + (i % 4) as u32;
    lead.last_called_at = Some(now - Duration::minutes((i % 20_000) as i64));
    lead.factors = vec![Factor {
        kind: FactorKind::Rule,
        rule_id: RuleId::parse("default-pricing").unwrap(),
        description: "Asked about pricing or a quote".into(),
        points: 20.0,
        evidence: vec![Evidence::Field {
            name: "intent.pricing".into(),
            value: "true".into(),
        }],
        note: None,
    }];
    lead
}
