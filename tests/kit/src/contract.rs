//! The promises every store makes, written once and held against each store: the embedded
//! SQLite store (`tests/api/stores.rs`) and the DynamoDB store on moto (`tests/aws/store.rs`).
//! A port's documentation (`shared::ports`) states the promise; a function here checks it
//! through the port alone, so a store that passes here may replace another.
//!
//! `store_contract!(open)` makes one `#[tokio::test]` per promise, where `open` is an async
//! expression giving `(guard, Deps)`: the guard keeps the store alive (a temporary folder, an
//! emulator) until the test ends. A port added later (API keys, webhooks, CRM links, usage)
//! adds its promises here, and both stores are held to them.

use chrono::{Duration, Utc};
use shared::Deps;
use shared::Error;
use shared::domain::{
    Actor, ApiKey, AuditEntry, Call, CallId, CallStatus, Caller, ConsentAction, ConsentChange,
    Direction, Lead, LeadId, NewApiKey, OutgoingText, PhoneNumber, Role, RuleId, ScoreCause,
    ScoreChange, ScoringRule, SmsEvent, SmsEventKind, TenantId, TextState, Tier, TierThresholds,
    TrackedLink,
};
use shared::ports::{Admission, LeadQuery, LeadSort, fixed_window};
use shared::sms::SmsFold;

/// The promises, by the name of the test each becomes.
pub const PROMISES: [&str; 22] = [
    "one_lead_per_phone_number_per_tenant",
    "stale_updates_are_refused_and_lose_nothing",
    "a_new_number_moves_the_claim",
    "a_call_is_counted_once_however_often_it_is_noted",
    "a_score_cause_applies_once",
    "a_saved_score_change_waits_in_the_outbox_until_dispatched",
    "lead_lists_are_ranked_filtered_and_paged",
    "lead_lists_sort_by_activity_and_name",
    "lead_ids_walk_every_lead_once",
    "calls_are_stored_once_and_updated_safely",
    "rules_are_seeded_once_and_updated_safely",
    "sms_events_are_kept_once_in_time_order",
    "a_text_log_is_folded_on_from_where_its_stored_fold_ends",
    "tracked_links_are_found_by_token_alone",
    "tenants_never_see_each_other",
    "rate_limits_count_per_key_and_window",
    "api_keys_are_kept_hashed_and_revoked_for_good",
    "the_audit_log_reads_newest_first_per_tenant",
    "usage_adds_up_per_tenant_and_month_however_many_count_at_once",
    "webhook_deliveries_are_kept_once_updated_safely_and_read_newest_first",
    "an_erased_lead_leaves_nothing_and_its_suppression_stays",
    "crm_connections_and_waiting_leads_are_kept_once_and_cleared_only_as_read",
];

/// One `#[tokio::test]` per promise, each on a store `open` makes.
#[macro_export]
macro_rules! store_contract {
    ($open:expr) => {
        $crate::store_contract!(@each $open;
            one_lead_per_phone_number_per_tenant,
            stale_updates_are_refused_and_lose_nothing,
            a_new_number_moves_the_claim,
            a_call_is_counted_once_however_often_it_is_noted,
            a_score_cause_applies_once,
            a_saved_score_change_waits_in_the_outbox_until_dispatched,
            lead_lists_are_ranked_filtered_and_paged,
            lead_lists_sort_by_activity_and_name,
            lead_ids_walk_every_lead_once,
            calls_are_stored_once_and_updated_safely,
            rules_are_seeded_once_and_updated_safely,
            sms_events_are_kept_once_in_time_order,
            a_text_log_is_folded_on_from_where_its_stored_fold_ends,
            tracked_links_are_found_by_token_alone,
            a_text_is_recorded_once_and_changed_only_from_the_version_read,
            tenants_never_see_each_other,
            rate_limits_count_per_key_and_window,
            api_keys_are_kept_hashed_and_revoked_for_good,
            the_audit_log_reads_newest_first_per_tenant,
            usage_adds_up_per_tenant_and_month_however_many_count_at_once,
            webhook_deliveries_are_kept_once_updated_safely_and_read_newest_first,
            an_erased_lead_leaves_nothing_and_its_suppression_stays,
            crm_connections_and_waiting_leads_are_kept_once_and_cleared_only_as_read,
            seeded_tenants_are_listed_in_order_a_page_at_a_time,
        );
    };
    (@each $open:expr; $($promise:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $promise() {
                let (_store, deps) = $open.await;
                $crate::contract::$promise(&deps).await;
            }
        )*
    };
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn globex() -> TenantId {
    TenantId::parse("globex").unwrap()
}

fn phone(n: u32) -> PhoneNumber {
    PhoneNumber::parse(&format!("+1415555{n:04}")).unwrap()
}

fn lead(tenant: &TenantId, n: u32) -> Lead {
    Lead::new(tenant.clone(), phone(n), Utc::now())
}

fn call(lead: &Lead, id: &str) -> Call {
    let now = Utc::now();
    Call {
        tenant_id: lead.tenant_id.clone(),
        call_id: CallId::parse(id).unwrap(),
        lead_id: lead.lead_id.clone(),
        call_start_time: now,
        call_duration: Some(60.0),
        direction: Direction::Inbound,
        caller: lead.phone_number.clone(),
        callee: None,
        external_id: None,
        source_name: id.to_owned(),
        recording_key: None,
        recording_sha256: None,
        transcript_source_key: None,
        transcript_sha256: None,
        transcript_key: None,
        status: CallStatus::Received,
        status_detail: None,
        failed_stage: None,
        agent_speaker: None,
        analysis: None,
        pii_masked: 0,
        sentiment_score: None,
        keywords: Vec::new(),
        attributes: Default::default(),
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

fn rule(tenant: &TenantId, id: &str) -> ScoringRule {
    let now = Utc::now();
    ScoringRule {
        tenant_id: tenant.clone(),
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
    }
}

fn consent(lead: &Lead, id: &str, at: chrono::DateTime<Utc>) -> SmsEvent {
    SmsEvent {
        tenant_id: lead.tenant_id.clone(),
        lead_id: lead.lead_id.clone(),
        event_id: id.to_owned(),
        at,
        kind: SmsEventKind::Consent(ConsentChange {
            action: ConsentAction::OptOut,
            via: "api".into(),
            message_sid: None,
            evidence: "asked on the phone".into(),
            by: None,
        }),
        request_sha256: None,
    }
}

/// `insert_lead`: `Conflict` when the phone number (or id) is taken in the tenant, and the
/// message names the number; another tenant may have the same number.
pub async fn one_lead_per_phone_number_per_tenant(deps: &Deps) {
    let leads = &deps.leads;
    let first = lead(&acme(), 1);
    leads.insert_lead(&first).await.unwrap();
    let err = leads.insert_lead(&lead(&acme(), 1)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("+14155550001")),
        "{err}"
    );
    let err = leads.insert_lead(&first).await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(_)),
        "the same id again: {err}"
    );
    leads.insert_lead(&lead(&globex(), 1)).await.unwrap();
    let found = leads.find_lead_by_phone(&acme(), &phone(1)).await.unwrap();
    assert_eq!(found.map(|l| l.lead_id), Some(first.lead_id));
}

/// `update_lead`: stored only over the version it was read at (which it bumps); a stale copy
/// is refused with `Concurrent` and the first write stands; a lead that is not there is
/// `NotFound`.
pub async fn stale_updates_are_refused_and_lose_nothing(deps: &Deps) {
    let leads = &deps.leads;
    let stored = lead(&acme(), 1);
    leads.insert_lead(&stored).await.unwrap();
    let (mut a, mut b) = (stored.clone(), stored.clone());
    a.first_name = Some("Ann".into());
    let a = leads.update_lead(&a).await.unwrap();
    assert_eq!(a.version, stored.version + 1);
    b.company = Some("Stale Co".into());
    let err = leads.update_lead(&b).await.unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");
    let now = leads
        .get_lead(&acme(), &stored.lead_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            now.first_name.as_deref(),
            now.company.as_deref(),
            now.version
        ),
        (Some("Ann"), None, a.version)
    );
    let mut gone = lead(&acme(), 9);
    gone.version = 3;
    let err = leads.update_lead(&gone).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

/// A lead that changes its number frees the old one and claims the new; a number another
/// lead has is refused with a `Conflict` that names it.
pub async fn a_new_number_moves_the_claim(deps: &Deps) {
    let leads = &deps.leads;
    let first = lead(&acme(), 1);
    leads.insert_lead(&first).await.unwrap();
    leads.insert_lead(&lead(&acme(), 2)).await.unwrap();
    let mut moved = first.clone();
    moved.phone_number = phone(3);
    let moved = leads.update_lead(&moved).await.unwrap();
    assert!(
        leads
            .find_lead_by_phone(&acme(), &phone(1))
            .await
            .unwrap()
            .is_none()
    );
    let found = leads.find_lead_by_phone(&acme(), &phone(3)).await.unwrap();
    assert_eq!(found.map(|l| l.lead_id), Some(first.lead_id.clone()));
    let mut clash = moved.clone();
    clash.phone_number = phone(2);
    let err = leads.update_lead(&clash).await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("+14155550002")),
        "{err}"
    );
    // The freed number is free.
    leads.insert_lead(&lead(&acme(), 1)).await.unwrap();
}

/// `note_call`: a call counts once however often it is noted, and `last_called_at` only
/// moves forward.
pub async fn a_call_is_counted_once_however_often_it_is_noted(deps: &Deps) {
    let leads = &deps.leads;
    let l = lead(&acme(), 1);
    leads.insert_lead(&l).await.unwrap();
    let at = Utc::now();
    let c1 = CallId::parse("c1").unwrap();
    for _ in 0..3 {
        leads.note_call(&acme(), &l.lead_id, &c1, at).await.unwrap();
    }
    let earlier = at - Duration::hours(1);
    let c2 = CallId::parse("c2").unwrap();
    let after = leads
        .note_call(&acme(), &l.lead_id, &c2, earlier)
        .await
        .unwrap();
    assert_eq!(after.call_count, 2);
    assert_eq!(
        after.last_called_at.map(|t| t.timestamp_millis()),
        Some(at.timestamp_millis())
    );
}

/// `save_score`: a cause applies once (the second time it changes nothing and says so), and
/// the ledger keeps each change, oldest first.
pub async fn a_score_cause_applies_once(deps: &Deps) {
    let leads = &deps.leads;
    let mut l = lead(&acme(), 1);
    leads.insert_lead(&l).await.unwrap();
    l.lead_score = Some(80);
    l.tier = Some(Tier::Hot);
    let change = |score: u8, call: &str, at| ScoreChange {
        previous_tier: None,
        cause: ScoreCause::NewCall {
            call_id: CallId::parse(call).unwrap(),
        },
        previous: None,
        score,
        tier: TierThresholds::default().tier(score),
        at,
    };
    let first = change(80, "c1", Utc::now() - Duration::minutes(5));
    assert!(leads.save_score(&l, &first).await.unwrap());
    let mut stored = leads.get_lead(&acme(), &l.lead_id).await.unwrap().unwrap();
    assert_eq!(stored.lead_score, Some(80));
    assert!(
        !leads.save_score(&stored, &first).await.unwrap(),
        "the same cause twice"
    );
    stored.lead_score = Some(30);
    assert!(
        leads
            .save_score(&stored, &change(30, "c2", Utc::now()))
            .await
            .unwrap()
    );
    let history = leads.score_history(&acme(), &l.lead_id).await.unwrap();
    let scores: Vec<u8> = history.iter().map(|c| c.score).collect();
    assert_eq!(scores, [80, 30]);
}

/// `save_score` keeps each change in the outbox, in the same write, until `dispatched`;
/// `undispatched` lists the tenant's oldest first, noted before a time, at most a limit; a
/// cause applied again adds nothing; erasing the lead empties its part.
pub async fn a_saved_score_change_waits_in_the_outbox_until_dispatched(deps: &Deps) {
    let leads = &deps.leads;
    let now = Utc::now();
    let change = |score: u8, call: &str, at| ScoreChange {
        previous_tier: None,
        cause: ScoreCause::NewCall {
            call_id: CallId::parse(call).unwrap(),
        },
        previous: None,
        score,
        tier: TierThresholds::default().tier(score),
        at,
    };
    let mut a = lead(&acme(), 1);
    let mut b = lead(&acme(), 2);
    let mut other = lead(&globex(), 1);
    for l in [&a, &b, &other] {
        leads.insert_lead(l).await.unwrap();
    }
    a.lead_score = Some(70);
    assert!(
        leads
            .save_score(&a, &change(70, "c1", now - Duration::minutes(10)))
            .await
            .unwrap()
    );
    b.lead_score = Some(20);
    assert!(
        leads
            .save_score(&b, &change(20, "c2", now - Duration::minutes(20)))
            .await
            .unwrap()
    );
    other.lead_score = Some(50);
    assert!(
        leads
            .save_score(&other, &change(50, "c3", now - Duration::minutes(30)))
            .await
            .unwrap()
    );
    let mut a = leads.get_lead(&acme(), &a.lead_id).await.unwrap().unwrap();
    a.lead_score = Some(90);
    assert!(leads.save_score(&a, &change(90, "c4", now)).await.unwrap());
    // The same cause again: nothing more waits.
    assert!(!leads.save_score(&a, &change(70, "c1", now)).await.unwrap());

    let key = |call: &str| {
        ScoreCause::NewCall {
            call_id: CallId::parse(call).unwrap(),
        }
        .key()
    };
    let waiting = leads
        .undispatched(&acme(), now - Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        waiting,
        vec![
            (b.lead_id.clone(), key("c2")),
            (a.lead_id.clone(), key("c1"))
        ],
        "the tenant's own, oldest first, before the time"
    );
    assert_eq!(
        leads
            .undispatched(&acme(), now + Duration::minutes(1), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    leads
        .dispatched(&acme(), &b.lead_id, &key("c2"))
        .await
        .unwrap();
    leads
        .dispatched(&acme(), &b.lead_id, &key("c2"))
        .await
        .unwrap();
    let waiting = leads
        .undispatched(&acme(), now + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        waiting,
        vec![
            (a.lead_id.clone(), key("c1")),
            (a.lead_id.clone(), key("c4"))
        ]
    );
    assert!(leads.erase_lead(&acme(), &a.lead_id).await.unwrap());
    assert!(
        leads
            .undispatched(&acme(), now + Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        leads.undispatched(&globex(), now, 10).await.unwrap().len(),
        1
    );
}

/// Every page of a listing: (first name, score) in the order served.
async fn list(deps: &Deps, mut q: LeadQuery) -> Vec<(String, Option<u8>)> {
    let mut out = Vec::new();
    loop {
        let page = deps.leads.list_leads(&acme(), &q).await.unwrap();
        assert!(page.items.len() <= q.limit() as usize);
        // The API's page (stored JSON, served as it is) is the same leads, written as the
        // API writes a lead, with the same cursor.
        let json = deps.leads.list_lead_json(&acme(), &q).await.unwrap();
        assert_eq!(json.next_cursor, page.next_cursor);
        assert_eq!(
            serde_json::to_string(&json.items).unwrap(),
            serde_json::to_string(&page.items).unwrap()
        );
        out.extend(
            page.items
                .into_iter()
                .map(|l| (l.first_name.unwrap_or_default(), l.lead_score)),
        );
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

/// `list_leads`: highest score first and unscored last, every lead once across pages; filters
/// by tier, score band, CRM status (any case) and text; a cursor not made by the store is a
/// `Validation` error.
pub async fn lead_lists_are_ranked_filtered_and_paged(deps: &Deps) {
    let scores = [Some(90), Some(40), None, Some(70), Some(70), Some(10), None];
    for (i, score) in scores.iter().enumerate() {
        let mut l = lead(&acme(), i as u32);
        l.first_name = Some(format!("Person{i}"));
        l.crm_lead_status = Some(if i % 2 == 0 { "Open" } else { "Won" }.into());
        l.lead_score = *score;
        l.tier = score.map(|s| TierThresholds::default().tier(s));
        deps.leads.insert_lead(&l).await.unwrap();
    }
    let query = |f: fn(&mut LeadQuery)| {
        let mut q = LeadQuery::default();
        f(&mut q);
        q
    };
    let all = list(deps, query(|q| q.limit = Some(2))).await;
    let ranked: Vec<Option<u8>> = all.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        ranked,
        [Some(90), Some(70), Some(70), Some(40), Some(10), None, None]
    );
    let mut names: Vec<&String> = all.iter().map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), scores.len(), "every lead once: {all:?}");
    let scores_of = |rows: Vec<(String, Option<u8>)>| -> Vec<Option<u8>> {
        rows.into_iter().map(|(_, s)| s).collect()
    };
    let hot = list(deps, query(|q| q.tier = Some(Tier::Hot))).await;
    assert_eq!(scores_of(hot), [Some(90), Some(70), Some(70)]);
    let band = list(
        deps,
        query(|q| {
            q.min_score = Some(40);
            q.max_score = Some(70);
            q.limit = Some(1);
        }),
    )
    .await;
    assert_eq!(scores_of(band), [Some(70), Some(70), Some(40)]);
    let won = list(deps, query(|q| q.status = Some("won".into()))).await;
    assert_eq!(won.len(), 3);
    let named = list(deps, query(|q| q.q = Some("PERSON5".into()))).await;
    assert_eq!(named, [("Person5".to_owned(), Some(10))]);
    let bad = deps
        .leads
        .list_leads(&acme(), &query(|q| q.cursor = Some("nope".into())))
        .await;
    assert!(matches!(bad, Err(Error::Validation(_))), "{bad:?}");
}

/// `list_leads` with `sort`: by the latest activity (a call, a text reply or a click; most
/// recent first, leads without any last) and by name (the person's, else the company, else
/// the phone number; A to Z), every lead once across pages, filters still applied, and the
/// order kept up to date as leads change.
pub async fn lead_lists_sort_by_activity_and_name(deps: &Deps) {
    let now = Utc::now();
    let hours = |h: i64| Some(now - Duration::hours(h));
    // (first name, company, score, last call, last text reply)
    let rows = [
        (Some("Zoe"), None, Some(80), hours(5), None),
        (None, Some("Acme Roofing"), Some(20), None, hours(1)),
        (Some("mia"), None, None, None, None),
        (Some("Bob"), Some("Zed Co"), Some(60), hours(3), hours(30)),
        (None, None, Some(90), hours(10), None),
    ];
    let mut ids = Vec::new();
    for (i, (first, company, score, called, replied)) in rows.iter().enumerate() {
        let mut l = lead(&acme(), 100 + i as u32);
        l.first_name = first.map(str::to_owned);
        l.company = company.map(str::to_owned);
        l.lead_score = *score;
        l.tier = score.map(|s| TierThresholds::default().tier(s));
        l.last_called_at = *called;
        if replied.is_some() {
            l.sms = Some(shared::domain::SmsEngagement {
                last_reply_at: *replied,
                ..Default::default()
            });
        }
        deps.leads.insert_lead(&l).await.unwrap();
        ids.push(l);
    }
    deps.leads.insert_lead(&lead(&globex(), 100)).await.unwrap();
    let names = |rows: Vec<(String, Option<u8>)>| -> Vec<Option<u8>> {
        rows.into_iter().map(|(_, s)| s).collect()
    };
    let sorted = |sort, limit| LeadQuery {
        sort: Some(sort),
        limit: Some(limit),
        ..LeadQuery::default()
    };
    // Scores stand for the leads: each is distinct.
    assert_eq!(
        names(list(deps, sorted(LeadSort::LastActivity, 2)).await),
        [Some(20), Some(60), Some(80), Some(90), None]
    );
    // Acme Roofing, Bob, mia, Zoe, then the one known by its number (`+1...` sorts first).
    assert_eq!(
        names(list(deps, sorted(LeadSort::Name, 2)).await),
        [Some(90), Some(20), Some(60), None, Some(80)]
    );
    let mut hot_by_name = sorted(LeadSort::Name, 1);
    hot_by_name.min_score = Some(60);
    assert_eq!(
        names(list(deps, hot_by_name).await),
        [Some(90), Some(60), Some(80)]
    );
    // A new call moves Zoe to the front.
    deps.leads
        .note_call(
            &acme(),
            &ids[0].lead_id,
            &CallId::parse("ca_zoe_new").unwrap(),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        names(list(deps, sorted(LeadSort::LastActivity, 3)).await)[0],
        Some(80)
    );
    let bad = deps
        .leads
        .list_leads(
            &acme(),
            &LeadQuery {
                sort: Some(LeadSort::Name),
                cursor: Some("zz:ld_x".into()),
                ..LeadQuery::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(Error::Validation(_))), "{bad:?}");
}

/// `lead_ids`: pages in id order cover every lead of the tenant once, and only its own.
pub async fn lead_ids_walk_every_lead_once(deps: &Deps) {
    let mut made: Vec<LeadId> = Vec::new();
    for n in 0..7 {
        let l = lead(&acme(), n);
        deps.leads.insert_lead(&l).await.unwrap();
        made.push(l.lead_id);
    }
    deps.leads.insert_lead(&lead(&globex(), 1)).await.unwrap();
    let mut seen: Vec<LeadId> = Vec::new();
    loop {
        let page = deps.leads.lead_ids(&acme(), seen.last(), 3).await.unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(seen, sorted, "in id order");
    made.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(seen, made);
}

/// `insert_call` stores a call once (`false` the second time, changing nothing);
/// `update_call` is optimistic like leads; `calls_for_lead` lists a lead's calls oldest first;
/// `calls_after` walks the tenant's calls in id order.
pub async fn calls_are_stored_once_and_updated_safely(deps: &Deps) {
    let calls = &deps.calls;
    let l = lead(&acme(), 1);
    deps.leads.insert_lead(&l).await.unwrap();
    let mut older = call(&l, "c1");
    older.call_start_time = Utc::now() - Duration::days(1);
    assert!(calls.insert_call(&older).await.unwrap());
    let mut again = older.clone();
    again.status = CallStatus::Failed;
    assert!(!calls.insert_call(&again).await.unwrap(), "a second insert");
    let stored = calls
        .get_call(&acme(), &older.call_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, CallStatus::Received, "changed nothing");
    assert!(calls.insert_call(&call(&l, "c2")).await.unwrap());

    let mut a = stored.clone();
    a.set_status(CallStatus::Scored, None);
    let a = calls.update_call(&a).await.unwrap();
    assert_eq!(a.version, stored.version + 1);
    let mut stale = stored.clone();
    stale.fail(shared::domain::Stage::Analyze, "stale");
    let err = calls.update_call(&stale).await.unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");

    let listed: Vec<String> = calls
        .calls_for_lead(&acme(), &l.lead_id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| format!("{}:{}", c.call_id, c.status.as_str()))
        .collect();
    assert_eq!(listed, ["c1:scored", "c2:received"]);

    // Every call of the tenant, a page at a time in id order, and only the tenant's.
    let other = lead(&acme(), 2);
    deps.leads.insert_lead(&other).await.unwrap();
    for id in ["c3", "c0", "c5"] {
        assert!(calls.insert_call(&call(&other, id)).await.unwrap());
    }
    let elsewhere = lead(&globex(), 1);
    deps.leads.insert_lead(&elsewhere).await.unwrap();
    assert!(calls.insert_call(&call(&elsewhere, "c4")).await.unwrap());
    let mut walked = Vec::new();
    let mut after: Option<CallId> = None;
    loop {
        let page = calls.calls_after(&acme(), after.as_ref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        match page.last() {
            Some(last) => after = Some(last.call_id.clone()),
            None => break,
        }
        walked.extend(page.into_iter().map(|c| c.call_id.to_string()));
    }
    assert_eq!(walked, ["c0", "c1", "c2", "c3", "c5"]);
}

/// `seed_rules` seeds a tenant once; `insert_rule` refuses a taken id; a rule reads back as
/// written; `update_rule` is optimistic.
pub async fn rules_are_seeded_once_and_updated_safely(deps: &Deps) {
    let rules = &deps.rules;
    assert!(
        rules
            .seed_rules(&acme(), &[rule(&acme(), "a"), rule(&acme(), "b")])
            .await
            .unwrap()
    );
    assert!(
        !rules
            .seed_rules(&acme(), &[rule(&acme(), "c")])
            .await
            .unwrap()
    );
    let listed: Vec<String> = rules
        .list_rules(&acme())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.rule_id.to_string())
        .collect();
    assert_eq!(listed, ["a", "b"]);
    let err = rules.insert_rule(&rule(&acme(), "a")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    let mut a = rules
        .get_rule(&acme(), &RuleId::parse("a").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut expected = rule(&acme(), "a");
    (expected.created_at, expected.updated_at) = (a.created_at, a.updated_at);
    assert_eq!(a, expected, "a rule reads back as it was written");
    a.weight = 25.0;
    let updated = rules.update_rule(&a).await.unwrap();
    assert_eq!((updated.version, updated.weight), (1, 25.0));
    let err = rules.update_rule(&a).await.unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");

    // A tenant that has one of the starting rules already (a seeding cut short, or a rule
    // made first): seeding adds the others and leaves that one as it is.
    let mut own = rule(&globex(), "b");
    own.weight = 7.0;
    rules.insert_rule(&own).await.unwrap();
    assert!(
        rules
            .seed_rules(&globex(), &[rule(&globex(), "a"), rule(&globex(), "b")])
            .await
            .unwrap()
    );
    let listed: Vec<(String, f64)> = rules
        .list_rules(&globex())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.rule_id.to_string(), r.weight))
        .collect();
    assert_eq!(listed, [("a".to_owned(), 10.0), ("b".to_owned(), 7.0)]);
}

/// `RuleStore::tenants`: every tenant given its starting rules, once, in id order, a page
/// after a tenant at a time; a tenant that never scored (nothing seeded) is not listed.
pub async fn seeded_tenants_are_listed_in_order_a_page_at_a_time(deps: &Deps) {
    let rules = &deps.rules;
    assert!(rules.tenants(None, 10).await.unwrap().is_empty());
    let names = ["zeta", "acme", "globex", "mid"];
    for name in names {
        let t = TenantId::parse(name).unwrap();
        rules.seed_rules(&t, &[rule(&t, "a")]).await.unwrap();
        // Seeded again: still listed once.
        rules.seed_rules(&t, &[rule(&t, "a")]).await.unwrap();
    }
    let all: Vec<String> = rules
        .tenants(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(all, ["acme", "globex", "mid", "zeta"]);
    let first = rules.tenants(None, 2).await.unwrap();
    let rest = rules.tenants(first.last(), 2).await.unwrap();
    let paged: Vec<String> = first.iter().chain(&rest).map(|t| t.to_string()).collect();
    assert_eq!(paged, all);
    assert!(rules.tenants(rest.last(), 2).await.unwrap().is_empty());
}

/// `append_sms_event` keeps the first event of each id in the tenant (`false` for a replay);
/// `sms_events` gives a lead's log oldest first.
pub async fn sms_events_are_kept_once_in_time_order(deps: &Deps) {
    let sms = &deps.sms;
    let l = lead(&acme(), 1);
    deps.leads.insert_lead(&l).await.unwrap();
    let now = Utc::now();
    assert!(
        sms.append_sms_event(&consent(&l, "consent:b", now))
            .await
            .unwrap()
    );
    assert!(
        sms.append_sms_event(&consent(&l, "consent:a", now - Duration::minutes(1)))
            .await
            .unwrap()
    );
    let mut replay = consent(&l, "consent:b", now + Duration::minutes(9));
    replay.request_sha256 = Some("other".into());
    assert!(!sms.append_sms_event(&replay).await.unwrap(), "a replay");
    let log = sms.sms_events(&acme(), &l.lead_id).await.unwrap();
    let ids: Vec<&str> = log.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["consent:a", "consent:b"]);
    assert_eq!(log[1].request_sha256, None, "the first of an id is kept");
}

/// `sms_events_since` reads the log from an instant on (inclusive, oldest first) and
/// nothing of another lead; `put_sms_fold` stores a fold only over the version it was
/// read at (0: none yet), so of two requests folding the same log one is refused and
/// must fold again.
pub async fn a_text_log_is_folded_on_from_where_its_stored_fold_ends(deps: &Deps) {
    let sms = &deps.sms;
    let (l, other) = (lead(&acme(), 1), lead(&acme(), 2));
    let now = Utc::now();
    for (n, at) in [(1, -3), (2, -2), (3, -1)] {
        let event = consent(&l, &format!("consent:{n}"), now + Duration::minutes(at));
        assert!(sms.append_sms_event(&event).await.unwrap());
    }
    let elsewhere = consent(&other, "consent:9", now - Duration::minutes(2));
    assert!(sms.append_sms_event(&elsewhere).await.unwrap());
    let since = |at: i64| {
        let (tenant, lead) = (acme(), l.lead_id.clone());
        async move {
            let log = sms
                .sms_events_since(&tenant, &lead, now + Duration::minutes(at))
                .await
                .unwrap();
            log.into_iter().map(|e| e.event_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(since(-2).await, ["consent:2", "consent:3"]);
    assert_eq!(since(-9).await.len(), 3);
    assert!(since(1).await.is_empty());

    assert_eq!(sms.sms_fold(&acme(), &l.lead_id).await.unwrap(), None);
    let log = sms.sms_events(&acme(), &l.lead_id).await.unwrap();
    let (fold, _) = SmsFold::replay(&log, &[]);
    assert_eq!(fold.version, 0);
    let stored = sms.put_sms_fold(&acme(), &l.lead_id, &fold).await.unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(
        sms.sms_fold(&acme(), &l.lead_id).await.unwrap().as_ref(),
        Some(&stored)
    );
    // A second first fold, and a fold over a version already replaced, are refused.
    let err = sms
        .put_sms_fold(&acme(), &l.lead_id, &fold)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");
    let mut newer = stored.clone();
    newer.engagement.sent = 7;
    let newer = sms.put_sms_fold(&acme(), &l.lead_id, &newer).await.unwrap();
    assert_eq!(newer.version, 2);
    let err = sms
        .put_sms_fold(&acme(), &l.lead_id, &stored)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");
    let kept = sms.sms_fold(&acme(), &l.lead_id).await.unwrap().unwrap();
    assert_eq!((kept.version, kept.engagement.sent), (2, 7));
    assert_eq!(sms.sms_fold(&acme(), &other.lead_id).await.unwrap(), None);
    assert_eq!(sms.sms_fold(&globex(), &l.lead_id).await.unwrap(), None);

    sms.erase_sms(&acme(), &l.lead_id).await.unwrap();
    assert_eq!(sms.sms_fold(&acme(), &l.lead_id).await.unwrap(), None);
    assert!(since(-9).await.is_empty());
    assert_eq!(
        sms.sms_events(&acme(), &other.lead_id).await.unwrap().len(),
        1
    );
}

/// `put_text`: the first store of a text id wins (a second is `Concurrent`), a change stores
/// only over the version it read; `texts_for_lead` lists a lead's newest first; and `erase_sms`
/// removes the lead's texts and no others.
pub async fn a_text_is_recorded_once_and_changed_only_from_the_version_read(deps: &Deps) {
    let sms = &*deps.sms;
    let (l, other) = (lead(&acme(), 1), lead(&acme(), 2));
    let now = Utc::now();
    let text = |l: &Lead, id: &str| OutgoingText {
        text_id: id.to_owned(),
        tenant_id: l.tenant_id.clone(),
        lead_id: l.lead_id.clone(),
        body: "See you at 10".into(),
        state: TextState::Queued,
        send_at: Some(now + Duration::hours(9)),
        sid: None,
        event_id: None,
        problem: None,
        origin: None,
        via: Default::default(),
        crm: None,
        call_at: None,
        unless_touched_since: None,
        claimed_at: None,
        created_at: now,
        updated_at: now,
        request_sha256: "ab".repeat(32),
        hop: 0,
        version: 0,
    };
    let queued = sms.put_text(&text(&l, "txt_1")).await.unwrap();
    assert_eq!(queued.version, 1);
    let err = sms.put_text(&text(&l, "txt_1")).await.unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");
    assert_eq!(
        sms.get_text(&acme(), &l.lead_id, "txt_1").await.unwrap(),
        Some(queued.clone())
    );
    // Two workers read version 1; the first to claim it wins.
    let mut claimed = queued.clone();
    claimed.state = TextState::Sending;
    let claimed = sms.put_text(&claimed).await.unwrap();
    let mut late = queued.clone();
    late.hop = 1;
    let err = sms.put_text(&late).await.unwrap_err();
    assert!(matches!(err, Error::Concurrent(_)), "{err}");
    let kept = sms
        .get_text(&acme(), &l.lead_id, "txt_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.state, kept.hop, kept.version),
        (TextState::Sending, 0, 2)
    );
    assert_eq!(kept, claimed);
    // A lead's texts list newest first.
    let mut later = text(&l, "txt_0");
    later.created_at = now + Duration::seconds(5);
    sms.put_text(&later).await.unwrap();
    let listed: Vec<String> = sms
        .texts_for_lead(&acme(), &l.lead_id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.text_id)
        .collect();
    assert_eq!(listed, ["txt_0", "txt_1"]);
    // Another lead's text, and another tenant, are apart.
    sms.put_text(&text(&other, "txt_1")).await.unwrap();
    assert_eq!(
        sms.texts_for_lead(&acme(), &other.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        sms.texts_for_lead(&globex(), &l.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sms.get_text(&globex(), &l.lead_id, "txt_1").await.unwrap(),
        None
    );
    sms.erase_sms(&acme(), &l.lead_id).await.unwrap();
    assert_eq!(
        sms.get_text(&acme(), &l.lead_id, "txt_1").await.unwrap(),
        None
    );
    assert!(
        sms.texts_for_lead(&acme(), &l.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        sms.get_text(&acme(), &other.lead_id, "txt_1")
            .await
            .unwrap()
            .is_some()
    );
}

/// `insert_link` refuses a taken token; `get_link` finds a link by its token whatever its
/// tenant (the token is the whole short link).
pub async fn tracked_links_are_found_by_token_alone(deps: &Deps) {
    let l = lead(&globex(), 1);
    let link = TrackedLink {
        token: "Ab3dEf6hIj9k".into(),
        tenant_id: globex(),
        lead_id: l.lead_id.clone(),
        url: "https://example.com/pricing".into(),
        label: Some("pricing".into()),
        created_at: Utc::now(),
    };
    deps.sms.insert_link(&link).await.unwrap();
    let err = deps.sms.insert_link(&link).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    let found = deps.sms.get_link("Ab3dEf6hIj9k").await.unwrap().unwrap();
    assert_eq!(
        (found.tenant_id, found.url, found.label),
        (globex(), link.url.clone(), link.label.clone())
    );
    assert!(deps.sms.get_link("Zz3dEf6hIj9k").await.unwrap().is_none());
}

/// Nothing of one tenant is found, listed or changed through another's id.
pub async fn tenants_never_see_each_other(deps: &Deps) {
    let mine = lead(&acme(), 1);
    deps.leads.insert_lead(&mine).await.unwrap();
    deps.calls.insert_call(&call(&mine, "c1")).await.unwrap();
    deps.sms
        .append_sms_event(&consent(&mine, "consent:1", Utc::now()))
        .await
        .unwrap();
    let other = globex();
    assert!(
        deps.leads
            .get_lead(&other, &mine.lead_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        deps.leads
            .find_lead_by_phone(&other, &phone(1))
            .await
            .unwrap()
            .is_none()
    );
    let listed = deps
        .leads
        .list_leads(&other, &LeadQuery::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert!(
        deps.calls
            .get_call(&other, &CallId::parse("c1").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        deps.calls
            .calls_for_lead(&other, &mine.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        deps.sms
            .sms_events(&other, &mine.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    let mut theirs = mine.clone();
    theirs.tenant_id = other;
    let err = deps.leads.update_lead(&theirs).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

/// `RateLimiter::admit`: a key is admitted `limit` times in a window, then limited until the
/// window ends (and told how long that is); other keys count on their own; the next window
/// starts from nothing.
pub async fn rate_limits_count_per_key_and_window(deps: &Deps) {
    let window = std::time::Duration::from_secs(2);
    // The four requests below fall in one window.
    early_in_window(window, std::time::Duration::from_millis(1500)).await;
    let rate = &deps.rate;
    for n in 1..=3 {
        let admitted = rate.admit("tenant:acme", 3, window).await.unwrap();
        assert_eq!(admitted, Admission::Admitted, "request {n} of 3");
    }
    let retry_after = match rate.admit("tenant:acme", 3, window).await.unwrap() {
        Admission::Limited { retry_after } => retry_after,
        Admission::Admitted => panic!("the fourth request of three is admitted"),
    };
    assert!(retry_after <= window, "{retry_after:?}");
    assert_eq!(
        rate.admit("tenant:globex", 3, window).await.unwrap(),
        Admission::Admitted,
        "another key counts on its own"
    );
    tokio::time::sleep(retry_after + std::time::Duration::from_millis(20)).await;
    assert_eq!(
        rate.admit("tenant:acme", 3, window).await.unwrap(),
        Admission::Admitted,
        "the next window starts from nothing"
    );
}

/// Wait, if need be, for the next fixed window of `window` to start, so that at least `need`
/// of the current one is left: requests made now are counted in one window.
pub async fn early_in_window(window: std::time::Duration, need: std::time::Duration) {
    let (_, left) = fixed_window(Utc::now(), window);
    if left < need {
        tokio::time::sleep(left + std::time::Duration::from_millis(20)).await;
    }
}

/// `ApiKeyStore`: a key is stored once under its id, found again in its tenant only, with the
/// hash that checks its secret; listed oldest first; a revoke keeps its first time and a later
/// use does not undo it; uses are recorded.
pub async fn api_keys_are_kept_hashed_and_revoked_for_good(deps: &Deps) {
    let now = Utc::now();
    let issue = |name: &str, role, at| {
        ApiKey::issue(
            &acme(),
            &NewApiKey {
                name: name.into(),
                role,
            },
            at,
        )
        .unwrap()
    };
    let (first, first_token) = issue("zapier", Role::Rep, now - Duration::minutes(5));
    let (second, _) = issue("dashboard", Role::Viewer, now);
    deps.keys.insert_key(&second).await.unwrap();
    deps.keys.insert_key(&first).await.unwrap();
    // The same id again is a conflict, and the stored key is unchanged.
    let mut clash = first.clone();
    clash.name = "impostor".into();
    let err = deps.keys.insert_key(&clash).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let found = deps
        .keys
        .get_key(&acme(), &first.key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, first);
    assert!(found.accepts(&first_token));
    // Another tenant does not see it.
    assert_eq!(
        deps.keys.get_key(&globex(), &first.key_id).await.unwrap(),
        None
    );
    assert!(deps.keys.list_keys(&globex()).await.unwrap().is_empty());
    let listed: Vec<String> = deps
        .keys
        .list_keys(&acme())
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(listed, [first.key_id.clone(), second.key_id.clone()]);
    // A use is recorded; a revoke holds, keeps its first time, and a later use leaves it.
    let used = now + Duration::seconds(1);
    deps.keys
        .touch_key(&acme(), &first.key_id, used)
        .await
        .unwrap();
    let revoked_at = now + Duration::seconds(2);
    let revoked = deps
        .keys
        .revoke_key(&acme(), &first.key_id, revoked_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(revoked_at));
    assert_eq!(revoked.last_used_at, Some(used));
    assert!(!revoked.accepts(&first_token));
    let again = deps
        .keys
        .revoke_key(&acme(), &first.key_id, revoked_at + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    deps.keys
        .touch_key(&acme(), &first.key_id, revoked_at + Duration::minutes(2))
        .await
        .unwrap();
    let stored = deps
        .keys
        .get_key(&acme(), &first.key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_at, Some(revoked_at));
    assert_eq!(stored.last_used_at, Some(revoked_at + Duration::minutes(2)));
    // No such key: nothing to revoke, and a touch of it stores nothing.
    assert_eq!(
        deps.keys
            .revoke_key(&acme(), "ak_0000000000000000", now)
            .await
            .unwrap(),
        None
    );
    deps.keys
        .touch_key(&acme(), "ak_0000000000000000", now)
        .await
        .unwrap();
    assert_eq!(
        deps.keys
            .get_key(&acme(), "ak_0000000000000000")
            .await
            .unwrap(),
        None
    );
}

/// `AuditLog`: entries come back newest first, a page at a time with a cursor that walks every
/// entry once; an entry recorded twice is kept once; a tenant sees its own log only; a cursor
/// that is not one is a validation error.
pub async fn the_audit_log_reads_newest_first_per_tenant(deps: &Deps) {
    let caller = |tenant: TenantId| Caller {
        tenant,
        role: Role::Admin,
        actor: Actor::Key("ak_0123456789abcdef".into()),
    };
    let start = Utc::now() - Duration::minutes(10);
    let mut written = Vec::new();
    for i in 0..5 {
        let entry = AuditEntry::new(
            &caller(acme()),
            "PUT",
            &format!("/leads/ld_{i}/outcome"),
            200,
            start + Duration::seconds(i),
        );
        deps.audit.record(&entry).await.unwrap();
        written.push(entry);
    }
    deps.audit.record(&written[2]).await.unwrap();
    let other = AuditEntry::new(&caller(globex()), "POST", "/leads", 201, start);
    deps.audit.record(&other).await.unwrap();
    let mut read = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = deps
            .audit
            .entries(&acme(), cursor.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        read.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    written.reverse();
    assert_eq!(read, written);
    let theirs = deps.audit.entries(&globex(), None, 50).await.unwrap();
    assert_eq!(theirs.items, vec![other]);
    let err = deps
        .audit
        .entries(&acme(), Some("not a cursor"), 2)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
}

/// `UsageMeter`: additions made at the same time all count (none is lost to another); each
/// tenant and month counts on its own; a month nothing was added to is empty.
pub async fn usage_adds_up_per_tenant_and_month_however_many_count_at_once(deps: &Deps) {
    use shared::domain::{Counter, Month};
    let november = Month::parse("2026-11").unwrap();
    let december = Month::parse("2026-12").unwrap();
    let adds = (0..20).map(|i| {
        let usage = deps.usage.clone();
        tokio::spawn(async move {
            usage
                .add(
                    &acme(),
                    november,
                    &[
                        (Counter::ApiRequests, 1),
                        (Counter::AudioSecondsTranscribed, i),
                    ],
                )
                .await
                .unwrap()
        })
    });
    for add in adds.collect::<Vec<_>>() {
        add.await.unwrap();
    }
    deps.usage
        .add(&globex(), november, &[(Counter::ApiRequests, 7)])
        .await
        .unwrap();
    deps.usage
        .add(&acme(), december, &[(Counter::CallsIngested, 2)])
        .await
        .unwrap();
    let counts = deps.usage.counts(&acme(), november).await.unwrap();
    assert_eq!(counts.get(&Counter::ApiRequests), Some(&20));
    assert_eq!(counts.get(&Counter::AudioSecondsTranscribed), Some(&190));
    assert_eq!(counts.get(&Counter::CallsIngested), None);
    let theirs = deps.usage.counts(&globex(), november).await.unwrap();
    assert_eq!(theirs.get(&Counter::ApiRequests), Some(&7));
    assert!(
        deps.usage
            .counts(&acme(), Month::parse("2026-10").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Subscriptions are kept per tenant and updated only from the version read; a subscription's
/// deliveries are kept once per event, updated safely, and read newest event first, a page at
/// a time; a deleted subscription takes its deliveries out of reach.
pub async fn webhook_deliveries_are_kept_once_updated_safely_and_read_newest_first(deps: &Deps) {
    use shared::domain::{
        DeliveryState, Event, EventData, EventType, ModelEvent, NewSubscription, Subscription,
    };
    let now = Utc::now();
    let draft = NewSubscription {
        url: "https://hooks.example.com/a".into(),
        events: [EventType::ModelTrained, EventType::LeadTierChanged].into(),
        description: Some("first".into()),
        secret: None,
    };
    let (first, _) = Subscription::create(&acme(), &draft, false, now).unwrap();
    let (second, _) =
        Subscription::create(&acme(), &draft, false, now + Duration::seconds(1)).unwrap();
    let (theirs, _) = Subscription::create(&globex(), &draft, false, now).unwrap();
    for s in [&first, &second, &theirs] {
        deps.webhooks.insert_subscription(s).await.unwrap();
    }
    assert!(matches!(
        deps.webhooks.insert_subscription(&first).await,
        Err(Error::Conflict(_))
    ));
    let listed = deps.webhooks.list_subscriptions(&acme()).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|s| s.subscription_id.as_str())
            .collect::<Vec<_>>(),
        [
            first.subscription_id.as_str(),
            second.subscription_id.as_str()
        ],
        "the tenant's own, oldest first"
    );
    assert_eq!(
        deps.webhooks
            .get_subscription(&globex(), &first.subscription_id)
            .await
            .unwrap(),
        None
    );
    // An update from a stale copy is refused and loses nothing.
    let mut changed = first.clone();
    changed.description = Some("changed".into());
    let stored = deps.webhooks.update_subscription(&changed).await.unwrap();
    assert_eq!(stored.version, first.version + 1);
    assert!(matches!(
        deps.webhooks.update_subscription(&first).await,
        Err(Error::Concurrent(_))
    ));
    assert_eq!(
        deps.webhooks
            .get_subscription(&acme(), &first.subscription_id)
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("changed")
    );

    // Five events, a second apart: five deliveries, each kept once.
    let events: Vec<Event> = (0..5)
        .map(|i| {
            Event::new(
                &acme(),
                EventType::ModelTrained,
                &i.to_string(),
                now + Duration::seconds(i),
                EventData::Model(ModelEvent {
                    version: i as u64,
                    samples: 10,
                    auc: None,
                }),
            )
        })
        .collect();
    for e in &events {
        let d = shared::domain::Delivery::new(&stored, e, now).unwrap();
        assert!(deps.webhooks.insert_delivery(&d).await.unwrap());
        assert!(
            !deps.webhooks.insert_delivery(&d).await.unwrap(),
            "kept once"
        );
    }
    let sub = &stored.subscription_id;
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = deps
            .webhooks
            .deliveries(&acme(), sub, cursor.as_deref(), 2)
            .await
            .unwrap();
        pages.extend(page.items.iter().map(|d| d.event_id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let newest_first: Vec<String> = events.iter().rev().map(|e| e.event_id.clone()).collect();
    assert_eq!(pages, newest_first);
    assert!(
        deps.webhooks
            .deliveries(&globex(), sub, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A delivery is updated only from the version read.
    let read = deps
        .webhooks
        .get_delivery(&acme(), sub, &events[0].event_id)
        .await
        .unwrap()
        .unwrap();
    let mut done = read.clone();
    done.state = DeliveryState::Delivered;
    assert_eq!(
        deps.webhooks.update_delivery(&done).await.unwrap().version,
        read.version + 1
    );
    assert!(matches!(
        deps.webhooks.update_delivery(&read).await,
        Err(Error::Concurrent(_))
    ));
    // Deleted: the subscription and its deliveries are out of reach; the other stays.
    assert!(
        deps.webhooks
            .delete_subscription(&acme(), sub)
            .await
            .unwrap()
    );
    assert!(
        !deps
            .webhooks
            .delete_subscription(&acme(), sub)
            .await
            .unwrap()
    );
    assert_eq!(
        deps.webhooks.get_subscription(&acme(), sub).await.unwrap(),
        None
    );
    assert_eq!(
        deps.webhooks
            .list_subscriptions(&acme())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        deps.webhooks
            .list_subscriptions(&globex())
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Erasing a lead removes it, its number's claim, its ledger, its calls (as deleted), its SMS
/// log and its links, and nothing of any other lead; the number is free for a new lead; a
/// suppression is kept per tenant however the lead went.
pub async fn an_erased_lead_leaves_nothing_and_its_suppression_stays(deps: &Deps) {
    let gone = lead(&acme(), 1);
    let kept = lead(&acme(), 2);
    for (n, l) in [(1, &gone), (2, &kept)] {
        deps.leads.insert_lead(l).await.unwrap();
        let c = call(l, &format!("erase-{n}"));
        assert!(deps.calls.insert_call(&c).await.unwrap());
        deps.leads
            .note_call(&acme(), &l.lead_id, &c.call_id, Utc::now())
            .await
            .unwrap();
        let stored = deps
            .leads
            .get_lead(&acme(), &l.lead_id)
            .await
            .unwrap()
            .unwrap();
        let mut scored = stored.clone();
        scored.lead_score = Some(40);
        let change = ScoreChange {
            cause: ScoreCause::NewCall {
                call_id: c.call_id.clone(),
            },
            previous: None,
            previous_tier: None,
            score: 40,
            tier: Tier::Warm,
            at: Utc::now(),
        };
        assert!(deps.leads.save_score(&scored, &change).await.unwrap());
        deps.sms
            .append_sms_event(&consent(l, &format!("consent:{}", l.lead_id), Utc::now()))
            .await
            .unwrap();
        deps.sms
            .insert_link(&TrackedLink {
                token: format!("Tok{n:09}"),
                tenant_id: acme(),
                lead_id: l.lead_id.clone(),
                url: "https://example.com/pricing".into(),
                label: None,
                created_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let links = deps
        .sms
        .links_for_lead(&acme(), &gone.lead_id)
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    let calls = deps
        .calls
        .calls_for_lead(&acme(), &gone.lead_id)
        .await
        .unwrap();

    for c in &calls {
        deps.calls.delete_call(&acme(), &c.call_id).await.unwrap();
        deps.calls.delete_call(&acme(), &c.call_id).await.unwrap();
    }
    deps.sms.erase_sms(&acme(), &gone.lead_id).await.unwrap();
    assert!(deps.leads.erase_lead(&acme(), &gone.lead_id).await.unwrap());
    assert!(!deps.leads.erase_lead(&acme(), &gone.lead_id).await.unwrap());

    assert_eq!(
        deps.leads.get_lead(&acme(), &gone.lead_id).await.unwrap(),
        None
    );
    assert_eq!(
        deps.leads
            .find_lead_by_phone(&acme(), &gone.phone_number)
            .await
            .unwrap(),
        None
    );
    assert!(
        deps.leads
            .score_history(&acme(), &gone.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        deps.calls
            .calls_for_lead(&acme(), &gone.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        deps.calls
            .get_call(&acme(), &calls[0].call_id)
            .await
            .unwrap(),
        None
    );
    assert!(
        deps.sms
            .sms_events(&acme(), &gone.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        deps.sms
            .links_for_lead(&acme(), &gone.lead_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(deps.sms.get_link(&links[0].token).await.unwrap(), None);
    let listed = deps
        .leads
        .list_leads(&acme(), &LeadQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].lead_id, kept.lead_id);
    // The other lead is whole.
    assert_eq!(
        deps.calls
            .calls_for_lead(&acme(), &kept.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        deps.leads
            .score_history(&acme(), &kept.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        deps.sms
            .sms_events(&acme(), &kept.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        deps.sms
            .links_for_lead(&acme(), &kept.lead_id)
            .await
            .unwrap()
            .len(),
        1
    );
    // The number is free, and its event ids may be used again.
    let again = Lead::new(acme(), gone.phone_number.clone(), Utc::now());
    deps.leads.insert_lead(&again).await.unwrap();
    assert!(
        deps.sms
            .append_sms_event(&consent(
                &again,
                &format!("consent:{}", gone.lead_id),
                Utc::now()
            ))
            .await
            .unwrap()
    );

    // A suppression, per tenant, kept once however often it is added.
    let digest = shared::domain::suppression_digest(&acme(), &gone.phone_number);
    assert!(!deps.sms.is_suppressed(&acme(), &digest).await.unwrap());
    deps.sms.suppress(&acme(), &digest).await.unwrap();
    deps.sms.suppress(&acme(), &digest).await.unwrap();
    assert!(deps.sms.is_suppressed(&acme(), &digest).await.unwrap());
    assert!(!deps.sms.is_suppressed(&globex(), &digest).await.unwrap());
}

/// `CrmStore`: a connection per tenant and CRM (`Conflict` for a second), updated under its
/// version; a lead waits once however often it is noted, with its latest time; a clear holds
/// only for the time that was read (a lead noted again meanwhile keeps waiting); deleting the
/// connection drops what waits for it. `LeadStore::save_crm_sync` sets each lead's sync state
/// and moves its version on, skipping leads that are gone.
pub async fn crm_connections_and_waiting_leads_are_kept_once_and_cleared_only_as_read(deps: &Deps) {
    use shared::domain::{ConnectionDraft, Crm, CrmSync, SyncState};
    let now = Utc::now();
    let draft = ConnectionDraft {
        token: "pat-na1-x".into(),
        ..Default::default()
    };
    let (connection, _) = draft
        .validate(&acme(), Crm::Hubspot, None, false, now)
        .unwrap();
    deps.crm.insert_connection(&connection).await.unwrap();
    assert!(matches!(
        deps.crm.insert_connection(&connection).await,
        Err(Error::Conflict(_))
    ));
    assert!(
        deps.crm
            .list_connections(&globex())
            .await
            .unwrap()
            .is_empty()
    );
    let stored = deps
        .crm
        .get_connection(&acme(), Crm::Hubspot)
        .await
        .unwrap()
        .unwrap();
    let mut changed = stored.clone();
    changed.counts.pushed = 3;
    let changed = deps.crm.update_connection(&changed).await.unwrap();
    assert_eq!(changed.version, stored.version + 1);
    // A stale copy is refused, and what was stored stays.
    assert!(matches!(
        deps.crm.update_connection(&stored).await,
        Err(Error::Concurrent(_))
    ));
    assert_eq!(
        deps.crm.list_connections(&acme()).await.unwrap()[0]
            .counts
            .pushed,
        3
    );

    let (a, b) = (lead(&acme(), 1), lead(&acme(), 2));
    for l in [&a, &b] {
        deps.leads.insert_lead(l).await.unwrap();
    }
    let ids = [a.lead_id.clone(), b.lead_id.clone()];
    deps.crm
        .mark_pending(&acme(), Crm::Hubspot, &ids, 1_000)
        .await
        .unwrap();
    deps.crm
        .mark_pending(&acme(), Crm::Hubspot, &ids[..1], 2_000)
        .await
        .unwrap();
    let mut waiting = deps.crm.pending(&acme(), Crm::Hubspot, 10).await.unwrap();
    waiting.sort();
    let mut expected = vec![(ids[0].clone(), 2_000), (ids[1].clone(), 1_000)];
    expected.sort();
    assert_eq!(waiting, expected, "one entry per lead, at its latest time");
    assert_eq!(
        deps.crm
            .pending(&acme(), Crm::Hubspot, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        deps.crm
            .pending(&globex(), Crm::Hubspot, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Noted again after it was read: the clear of the old time leaves it waiting.
    deps.crm
        .mark_pending(&acme(), Crm::Hubspot, &ids[1..], 3_000)
        .await
        .unwrap();
    deps.crm
        .clear_pending(&acme(), Crm::Hubspot, &waiting)
        .await
        .unwrap();
    assert_eq!(
        deps.crm.pending(&acme(), Crm::Hubspot, 10).await.unwrap(),
        vec![(ids[1].clone(), 3_000)]
    );

    let sync = CrmSync {
        state: SyncState::Synced,
        record_id: Some("501".into()),
        pushed_at: Some(now),
        pushed_digest: Some("d".into()),
        last_error: None,
        updated_at: now,
    };
    let gone = LeadId::generate();
    deps.leads
        .save_crm_sync(
            &acme(),
            Crm::Hubspot,
            &[
                (a.lead_id.clone(), sync.clone()),
                (gone.clone(), sync.clone()),
            ],
        )
        .await
        .unwrap();
    let read = deps
        .leads
        .get_lead(&acme(), &a.lead_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.crm_sync[&Crm::Hubspot], sync);
    assert_eq!(read.version, a.version + 1);
    assert!(deps.leads.get_lead(&acme(), &gone).await.unwrap().is_none());

    assert!(
        deps.crm
            .delete_connection(&acme(), Crm::Hubspot)
            .await
            .unwrap()
    );
    assert!(
        !deps
            .crm
            .delete_connection(&acme(), Crm::Hubspot)
            .await
            .unwrap()
    );
    assert!(
        deps.crm
            .pending(&acme(), Crm::Hubspot, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A score change saved as `score::handle` saves it (a manual cause, ten minutes ago, cold
/// at `score`), by a process that then died before handing its events on: what the outbox is
/// for. Panics if the lead is not there or the save is refused.
pub async fn save_score_without_emit(deps: &Deps, tenant: &TenantId, lead: &LeadId, score: u8) {
    let mut stored = deps.leads.get_lead(tenant, lead).await.unwrap().unwrap();
    let at = Utc::now() - Duration::minutes(10);
    let change = ScoreChange {
        cause: ScoreCause::Manual { at },
        previous: stored.lead_score,
        previous_tier: stored.tier,
        score,
        tier: Tier::Cold,
        at,
    };
    stored.lead_score = Some(score);
    stored.tier = Some(Tier::Cold);
    assert!(deps.leads.save_score(&stored, &change).await.unwrap());
}
