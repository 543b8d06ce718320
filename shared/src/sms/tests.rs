use chrono::{Duration, TimeZone};

use super::*;
use crate::domain::{ConsentChange, LeadId, SmsMessage, TenantId};

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
    let p = survey_progress(&log.events, &surveys);
    assert_eq!(p.replies["SM1"], "How likely are you to buy? Reply 1-5");
    assert!(p.replies["SM2"].starts_with("Sorry, I didn't get that."));
    assert_eq!(p.replies["SM3"], "When? Reply NOW or LATER");
    assert_eq!(p.replies["SM4"], "Thanks!");
    assert!(p.open.is_none());
    let done = &p.unrecorded[0];
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
    assert!(survey_progress(&log.events, &surveys).unrecorded.is_empty());
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
    let p = survey_progress(&log.events, &surveys);
    assert!(p.open.is_none() && p.unrecorded.is_empty() && p.replies.is_empty());
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
