//! The DynamoDB store keeps the promises the ports make (the same ones the embedded store keeps):
//! one lead per phone number, no lost update, ranked and filtered pages, rules seeded once.

use chrono::Utc;
use shared::Error;
use shared::domain::{Lead, PhoneNumber, RuleId, ScoringRule, TenantId, Tier};
use shared::ports::LeadQuery;

use crate::emulator::Cloud;

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn phone(n: u32) -> PhoneNumber {
    PhoneNumber::parse_with_region(&format!("+1415555{n:04}"), None).unwrap()
}

fn lead(n: u32) -> Lead {
    Lead::new(tenant(), phone(n), Utc::now())
}

#[tokio::test]
async fn a_phone_number_belongs_to_one_lead_and_updates_never_cross() {
    let cloud = Cloud::start().await;
    let leads = &cloud.app.deps.leads;
    let first = lead(1);
    leads.insert_lead(&first).await.unwrap();
    let err = leads.insert_lead(&lead(1)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("phone number +14155550001")),
        "{err}"
    );
    let err = leads.insert_lead(&first).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    let found = leads
        .find_lead_by_phone(&tenant(), &phone(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.lead_id, first.lead_id);
    // Other tenants have their own numbers.
    let elsewhere = Lead::new(TenantId::parse("globex").unwrap(), phone(1), Utc::now());
    leads.insert_lead(&elsewhere).await.unwrap();

    // An update from a stale copy is refused; nothing is lost.
    let mut a = found.clone();
    a.first_name = Some("Ann".into());
    let a = leads.update_lead(&a).await.unwrap();
    assert_eq!(a.version, found.version + 1);
    let mut stale = found.clone();
    stale.company = Some("Stale Co".into());
    assert!(matches!(
        leads.update_lead(&stale).await,
        Err(Error::Concurrent(_))
    ));
    let stored = leads
        .get_lead(&tenant(), &first.lead_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.first_name.as_deref(), stored.company.as_deref()),
        (Some("Ann"), None)
    );

    // A new number moves the claim; a number another lead has is refused.
    let second = lead(2);
    leads.insert_lead(&second).await.unwrap();
    let mut moved = stored.clone();
    moved.phone_number = phone(3);
    let moved = leads.update_lead(&moved).await.unwrap();
    assert!(
        leads
            .find_lead_by_phone(&tenant(), &phone(1))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        leads
            .find_lead_by_phone(&tenant(), &phone(3))
            .await
            .unwrap()
            .unwrap()
            .lead_id,
        first.lead_id
    );
    let mut clash = moved.clone();
    clash.phone_number = phone(2);
    let err = leads.update_lead(&clash).await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("+14155550002")),
        "{err}"
    );
    leads.insert_lead(&lead(1)).await.unwrap();

    let mut gone = lead(9);
    gone.version = 3;
    assert!(matches!(
        leads.update_lead(&gone).await,
        Err(Error::NotFound(_))
    ));
}

/// Every page of a listing: (name, score) in the order served.
async fn list(cloud: &Cloud, mut q: LeadQuery) -> Vec<(String, Option<u8>)> {
    let mut out = Vec::new();
    loop {
        let page = cloud
            .app
            .deps
            .leads
            .list_leads(&tenant(), &q)
            .await
            .unwrap();
        assert!(page.items.len() <= q.limit() as usize);
        out.extend(
            page.items
                .into_iter()
                .map(|l| (l.first_name.unwrap(), l.lead_score)),
        );
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn lead_lists_are_ranked_filtered_and_paged() {
    let cloud = Cloud::start().await;
    let leads = &cloud.app.deps.leads;
    let scores = [Some(90), Some(40), None, Some(70), Some(70), Some(10), None];
    for (i, score) in scores.iter().enumerate() {
        let mut l = lead(i as u32);
        l.first_name = Some(format!("Person{i}"));
        l.crm_lead_status = Some(if i % 2 == 0 { "Open" } else { "Won" }.into());
        l.lead_score = *score;
        l.tier = score.map(|s| shared::domain::TierThresholds::default().tier(s));
        leads.insert_lead(&l).await.unwrap();
    }
    let all = list(
        &cloud,
        LeadQuery {
            limit: Some(2),
            ..Default::default()
        },
    )
    .await;
    let ranked: Vec<Option<u8>> = all.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        ranked,
        [Some(90), Some(70), Some(70), Some(40), Some(10), None, None]
    );
    let mut names: Vec<&String> = all.iter().map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), scores.len());

    let hot = list(
        &cloud,
        LeadQuery {
            tier: Some(Tier::Hot),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        hot.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [Some(90), Some(70), Some(70)]
    );
    let band = list(
        &cloud,
        LeadQuery {
            min_score: Some(40),
            max_score: Some(70),
            limit: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        band.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [Some(70), Some(70), Some(40)]
    );
    let won = list(
        &cloud,
        LeadQuery {
            status: Some("won".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(won.len(), 3);
    let named = list(
        &cloud,
        LeadQuery {
            q: Some("PERSON5".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(named, [("Person5".to_owned(), Some(10))]);

    let bad = cloud
        .app
        .deps
        .leads
        .list_leads(
            &tenant(),
            &LeadQuery {
                cursor: Some("nope".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(Error::Validation(m)) if m.contains("not a cursor")));
}

#[tokio::test]
async fn rules_are_seeded_once_and_updated_safely() {
    let cloud = Cloud::start().await;
    let rules = &cloud.app.deps.rules;
    let now = Utc::now();
    let rule = |id: &str| ScoringRule {
        tenant_id: tenant(),
        rule_id: RuleId::parse(id).unwrap(),
        criteria: "calls.count >= 2".into(),
        weight: 10.0,
        description: "repeat caller".into(),
        enabled: true,
        group: Some("engagement".into()),
        group_cap: Some(20.0),
        half_life_days: Some(14.0),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    assert!(
        rules
            .seed_rules(&tenant(), &[rule("a"), rule("b")])
            .await
            .unwrap()
    );
    assert!(!rules.seed_rules(&tenant(), &[rule("c")]).await.unwrap());
    let listed: Vec<String> = rules
        .list_rules(&tenant())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.rule_id.to_string())
        .collect();
    assert_eq!(listed, ["a", "b"]);
    assert!(matches!(
        rules.insert_rule(&rule("a")).await,
        Err(Error::Conflict(_))
    ));
    let mut a = rules
        .get_rule(&tenant(), &RuleId::parse("a").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a, rule("a"), "a rule reads back as it was written");
    a.weight = 25.0;
    let updated = rules.update_rule(&a).await.unwrap();
    assert_eq!(updated.version, 1);
    assert!(matches!(
        rules.update_rule(&a).await,
        Err(Error::Concurrent(_))
    ));
}
