use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::domain::{
    ConsentAction, ConsentChange, LeadId, SmsDirection, SmsMessage, Survey, TenantId,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 15, 0, 0).unwrap()
}

struct Log {
    lead: LeadId,
    events: Vec<SmsEvent>,
}

impl Log {
    fn new() -> Self {
        Self {
            lead: LeadId::generate(),
            events: Vec::new(),
        }
    }

    fn push(&mut self, id: &str, minutes: i64, kind: SmsEventKind) {
        self.events.push(SmsEvent {
            tenant_id: TenantId::default_tenant(),
            lead_id: self.lead.clone(),
            event_id: id.to_owned(),
            at: t0() + Duration::minutes(minutes),
            kind,
            request_sha256: None,
        });
    }

    fn sent(&mut self, sid: &str, minutes: i64) {
        self.push(
            &format!("msg:{sid}"),
            minutes,
            SmsEventKind::Message(SmsMessage {
                sid: sid.to_owned(),
                direction: SmsDirection::Outbound,
                body: "Hi, it's Acme Solar".to_owned(),
                media: Vec::new(),
                status: Some("sent".to_owned()),
                intents: Vec::new(),
                keyword: None,
                source: "twilio".to_owned(),
            }),
        );
    }

    fn reply(&mut self, sid: &str, minutes: i64, body: &str) {
        let (keyword, intents) = intent::analyze(body);
        self.push(
            &format!("msg:{sid}"),
            minutes,
            SmsEventKind::Message(SmsMessage {
                sid: sid.to_owned(),
                direction: SmsDirection::Inbound,
                body: body.to_owned(),
                media: Vec::new(),
                status: None,
                intents,
                keyword: keyword.map(|(_, k)| k.to_owned()),
                source: "twilio".to_owned(),
            }),
        );
        if let Some((action, word)) = keyword {
            self.push(
                &format!("consent:{sid}"),
                minutes,
                SmsEventKind::Consent(ConsentChange {
                    action,
                    via: "keyword".to_owned(),
                    message_sid: Some(sid.to_owned()),
                    evidence: word.to_owned(),
                    by: None,
                }),
            );
        }
    }
}

#[test]
fn reply_latency_is_the_median_from_the_last_text_to_the_first_reply() {
    let mut log = Log::new();
    log.sent("SM1", 0);
    log.reply("SM2", 2, "Call me");
    // A second reply to the same text is not timed.
    log.reply("SM3", 30, "Anytime after 5");
    log.sent("SM4", 60);
    log.sent("SM5", 70);
    log.reply("SM6", 74, "Yes");
    log.sent("SM7", 100);
    log.reply("SM8", 160, "ok");
    let e = engagement(&log.events);
    // 2, 4 and 60 minutes (from the later of two texts): the median is 4.
    assert_eq!(e.reply_minutes, Some(4.0));
    assert_eq!((e.sent, e.replies), (4, 4));
}

#[test]
fn consent_follows_keywords_and_an_opt_out_stops_counting() {
    let mut log = Log::new();
    log.reply("SM1", 0, "START");
    assert!(engagement(&log.events).opted_in);
    log.reply("SM2", 5, "Call me tomorrow");
    log.reply("SM3", 9, "stop");
    let e = engagement(&log.events);
    assert!(e.opted_out && !e.opted_in);
    // STOP is not a reply.
    assert_eq!(e.replies, 1);
    log.sent("SM4", 20);
    assert_eq!(engagement(&log.events).sent_after_opt_out, 1);
    log.reply("SM5", 30, "unstop");
    let e = engagement(&log.events);
    assert!(e.opted_in && !e.opted_out);
    assert_eq!(e.consent_at, Some(t0() + Duration::minutes(30)));
}

#[test]
fn intents_keep_their_message_newest_first() {
    let mut log = Log::new();
    log.reply("SM1", 0, "How much is it?");
    log.reply("SM2", 10, "Please call me at 4pm");
    log.reply("SM3", 20, "Actually, how much per month?");
    let e = engagement(&log.events);
    let pricing: Vec<&str> = e
        .intents
        .iter()
        .filter(|h| h.intent == "pricing")
        .map(|h| h.message_sid.as_str())
        .collect();
    assert_eq!(pricing, ["SM3", "SM1"]);
    let call = e.intents.iter().find(|h| h.intent == "call_me").unwrap();
    assert_eq!(call.when.as_deref(), Some("at 4pm"));
    assert_eq!(call.text, "Please call me at 4pm");
}

#[test]
fn failed_texts_are_not_counted_as_sent_and_statuses_may_arrive_out_of_order() {
    let mut log = Log::new();
    log.sent("SM1", 0);
    log.push(
        "status:SM1:undelivered",
        1,
        SmsEventKind::Status {
            sid: "SM1".into(),
            status: "undelivered".into(),
            error_code: Some("30003".into()),
        },
    );
    // A late "sent" does not undo the undelivered.
    log.push(
        "status:SM1:sent",
        2,
        SmsEventKind::Status {
            sid: "SM1".into(),
            status: "sent".into(),
            error_code: None,
        },
    );
    assert_eq!(delivery_statuses(&log.events)["SM1"], "undelivered");
    assert_eq!(engagement(&log.events).sent, 0);
}

fn survey() -> Survey {
    serde_json::from_value(serde_json::json!({
        "id": "fit",
        "trigger": "survey",
        "questions": [
            {"id": "likely", "text": "How likely are you to buy? Reply 1-5", "answers": {"scale": {"min": 1, "max": 5}}},
            {"id": "when", "text": "When? Reply NOW or LATER", "answers": {"choices": ["now", "later"]}}
        ],
        "thanks": "Thanks!"
    }))
    .unwrap()
}

#[test]
fn replies_answer_the_open_question_in_order_and_complete_the_survey() {
    let surveys = [survey()];
    let mut log = Log::new();
    log.reply("SM1", 0, "SURVEY");
    log.push(
        "survey:SM1",
        0,
        SmsEventKind::SurveyStarted {
            survey_id: "fit".into(),
            run_id: "SM1".into(),
        },
    );
    log.reply("SM2", 1, "hmm, maybe 7?");
    log.reply("SM3", 2, "I'd say 4");
    log.reply("SM4", 3, "Now please");
    let (fold, p) = SmsFold::replay(&log.events, &surveys);
    assert_eq!(p.replies["SM1"], "How likely are you to buy? Reply 1-5");
    assert!(p.replies["SM2"].starts_with("Sorry, I didn't get that."));
    assert_eq!(p.replies["SM3"], "When? Reply NOW or LATER");
    assert_eq!(p.replies["SM4"], "Thanks!");
    assert!(fold.open_run.is_none());
    let done = &p.completed[0];
    let answers: Vec<(&str, &str)> = done
        .answers
        .iter()
        .map(|a| (a.question_id.as_str(), a.answer.as_str()))
        .collect();
    assert_eq!(answers, [("likely", "4"), ("when", "now")]);
    assert_eq!(done.answers[0].score, Some(7.5));

    // Once recorded, it is not reported again, and it counts.
    log.push(
        "survey-done:SM1",
        3,
        SmsEventKind::SurveyCompleted {
            survey_id: "fit".into(),
            run_id: "SM1".into(),
            answers: done.answers.clone(),
        },
    );
    assert!(
        SmsFold::replay(&log.events, &surveys)
            .1
            .completed
            .is_empty()
    );
    let e = engagement(&log.events);
    assert_eq!((e.surveys_completed, e.survey_score), (1, Some(7.5)));
}

#[test]
fn an_opt_out_ends_an_open_survey() {
    let surveys = [survey()];
    let mut log = Log::new();
    log.push(
        "survey:api:1",
        0,
        SmsEventKind::SurveyStarted {
            survey_id: "fit".into(),
            run_id: "r1".into(),
        },
    );
    log.reply("SM1", 1, "STOP");
    log.reply("SM2", 2, "5");
    let (fold, p) = SmsFold::replay(&log.events, &surveys);
    assert!(fold.open_run.is_none() && p.completed.is_empty() && p.replies.is_empty());
}

#[test]
fn the_log_folds_the_same_in_any_stored_order() {
    let mut log = Log::new();
    log.sent("SM1", 0);
    log.reply("SM2", 3, "Yes! Call me");
    log.reply("SM3", 4, "stop");
    let forward = engagement(&log.events);
    log.events.reverse();
    assert_eq!(engagement(&log.events), forward);
}

#[test]
fn a_pricing_click_keeps_its_own_evidence_after_other_clicks() {
    let mut log = Log::new();
    for (id, minutes, url) in [
        ("click:a:1", 0, "https://acme.test/pricing"),
        ("click:b:1", 5, "https://acme.test/about"),
    ] {
        log.push(
            id,
            minutes,
            SmsEventKind::Click {
                token: id.to_owned(),
                url: url.to_owned(),
                label: None,
            },
        );
    }
    let e = engagement(&log.events);
    assert_eq!((e.link_clicks, e.pricing_clicks), (2, 1));
    assert_eq!(e.last_click_url.as_deref(), Some("https://acme.test/about"));
    assert_eq!(
        e.last_pricing_click_url.as_deref(),
        Some("https://acme.test/pricing")
    );
    assert_eq!(e.last_pricing_click_at, Some(t0()));
}

/// A small deterministic generator (xorshift), so a failing case can be run again.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Texts, statuses, consent, clicks and surveys as a lead's log receives them, each at least
/// `step` minutes after the one before, except `late` in 100, which come with an earlier time.
fn random_log(seed: u64, len: usize, step: i64, late: u64) -> Log {
    let mut dice = Dice(seed);
    let mut log = Log::new();
    let mut minutes = 0;
    let bodies = [
        "Yes! Call me tomorrow at 3pm",
        "How much per month?",
        "survey",
        "4",
        "now",
        "STOP",
        "START",
        "ok",
    ];
    for i in 0..len {
        minutes += step + dice.roll(3) as i64;
        let at = if dice.roll(100) < late {
            minutes - 1 - dice.roll(5) as i64
        } else {
            minutes
        };
        match dice.roll(10) {
            0..=2 => log.sent(&format!("SMo{i}"), at),
            3..=5 => log.reply(&format!("SMi{i}"), at, bodies[dice.roll(8) as usize]),
            6 => {
                let sent = log.events.iter().rev().find_map(|e| match &e.kind {
                    SmsEventKind::Message(m) if m.direction == SmsDirection::Outbound => {
                        Some(m.sid.clone())
                    }
                    _ => None,
                });
                if let Some(sid) = sent {
                    let status =
                        ["delivered", "read", "undelivered", "sent"][dice.roll(4) as usize];
                    log.push(
                        &format!("status:{sid}:{status}"),
                        at,
                        SmsEventKind::Status {
                            sid,
                            status: status.into(),
                            error_code: None,
                        },
                    );
                }
            }
            7 => log.push(
                &format!("click:{i}"),
                at,
                SmsEventKind::Click {
                    token: format!("t{i}"),
                    url: ["https://acme.test/pricing", "https://acme.test/about"]
                        [dice.roll(2) as usize]
                        .to_owned(),
                    label: None,
                },
            ),
            8 => log.push(
                &format!("survey:api:{i}"),
                at,
                SmsEventKind::SurveyStarted {
                    survey_id: "fit".into(),
                    run_id: format!("r{i}"),
                },
            ),
            _ => log.push(
                &format!("consent:api:{i}"),
                at,
                SmsEventKind::Consent(ConsentChange {
                    action: [ConsentAction::OptIn, ConsentAction::OptOut][dice.roll(2) as usize],
                    via: "api".into(),
                    message_sid: None,
                    evidence: "form".into(),
                    by: None,
                }),
            ),
        }
    }
    log
}

/// The log a store gives: by time, then as appended.
fn stored(events: &[SmsEvent]) -> Vec<SmsEvent> {
    let mut v = events.to_vec();
    v.sort_by_key(|e| e.at);
    v
}

/// Fold a log event by event as the handler does (read from the fold's `since`, fold on, replay
/// when refused or when the new event is older than `since`, record completed surveys), checking after each event that the fold equals the
/// whole log replayed and answers each message as the replay does. Returns the replays needed.
fn fold_event_by_event(log: &Log, surveys: &[Survey]) -> usize {
    let mut appended: Vec<SmsEvent> = Vec::new();
    let mut fold: Option<SmsFold> = None;
    let mut replays = 0;
    for ev in &log.events {
        // The store keeps an event id once.
        if appended.iter().any(|e| e.event_id == ev.event_id) {
            continue;
        }
        appended.push(ev.clone());
        let mut replies = HashMap::new();
        loop {
            let log_now = stored(&appended);
            let (next, out) = match fold.as_ref().and_then(|f| {
                let since = f.since().filter(|since| ev.at >= *since)?;
                let mut f = f.clone();
                let tail: Vec<SmsEvent> =
                    log_now.iter().filter(|e| e.at >= since).cloned().collect();
                f.extend(&tail, surveys).map(|out| (f, out))
            }) {
                Some(done) => done,
                None => {
                    replays += 1;
                    SmsFold::replay(&log_now, surveys)
                }
            };
            replies.extend(out.replies);
            fold = Some(next);
            if out.completed.is_empty() {
                break;
            }
            for run in out.completed {
                appended.push(SmsEvent {
                    tenant_id: TenantId::default_tenant(),
                    lead_id: log.lead.clone(),
                    event_id: format!("survey-done:{}", run.run_id),
                    at: run.answers.last().map_or(ev.at, |a| a.at),
                    kind: SmsEventKind::SurveyCompleted {
                        survey_id: run.survey_id,
                        run_id: run.run_id,
                        answers: run.answers,
                    },
                    request_sha256: None,
                });
            }
        }
        let (whole, whole_out) = SmsFold::replay(&stored(&appended), surveys);
        assert_eq!(fold.as_ref(), Some(&whole), "after {}", ev.event_id);
        if let SmsEventKind::Message(m) = &ev.kind {
            assert_eq!(
                replies.get(&m.sid),
                whole_out.replies.get(&m.sid),
                "{}",
                ev.event_id
            );
        }
    }
    replays
}

#[test]
fn folding_on_event_by_event_equals_folding_the_whole_log() {
    let surveys = [survey()];
    for seed in 1..=20 {
        fold_event_by_event(&random_log(seed, 200, 0, 5), &surveys);
    }
}

#[test]
fn a_log_in_order_is_folded_on_without_reading_it_again() {
    let surveys = [survey()];
    for seed in 1..=5 {
        let mut log = random_log(seed, 200, 1, 0);
        // No failed texts: a failure is replayed (it changes counts after the fact).
        log.events
            .retain(|e| !matches!(&e.kind, SmsEventKind::Status { status, .. } if failed(status)));
        assert_eq!(
            fold_event_by_event(&log, &surveys),
            1,
            "only the first event"
        );
    }
}

#[test]
fn the_median_reply_time_is_over_the_latest_replies() {
    let mut log = Log::new();
    // Slow replies first, then REPLY_TIMES_KEPT quick ones: the slow ones no longer count.
    for i in 0..10 {
        log.sent(&format!("SMa{i}"), i * 200);
        log.reply(&format!("SMb{i}"), i * 200 + 100, "ok");
    }
    assert_eq!(engagement(&log.events).reply_minutes, Some(100.0));
    let start = 10 * 200;
    for i in 0..REPLY_TIMES_KEPT as i64 {
        log.sent(&format!("SMc{i}"), start + i * 10);
        log.reply(&format!("SMd{i}"), start + i * 10 + 2, "ok");
    }
    assert_eq!(engagement(&log.events).reply_minutes, Some(2.0));
}
