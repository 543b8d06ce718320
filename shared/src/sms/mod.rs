//! Texting: Twilio's webhooks (`twilio`), what a text says (`intent`), and what a lead's SMS
//! log adds up to: its engagement (what rules read as `sms.*`) and the state of its surveys.
//! Both are folds over the log, so a replayed or reordered delivery changes nothing.

pub mod intent;
pub mod twilio;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::domain::{
    Answers, ConsentAction, SmsDirection, SmsEngagement, SmsEvent, SmsEventKind, SmsIntentHit,
    Survey, SurveyAnswer, SurveyQuestion, TrackedLink,
};

/// At most this many pieces of evidence per reply intent.
const HITS_PER_INTENT: usize = 3;

/// The log in the order things happened; at the same instant a message comes before what it
/// caused (its status, consent change, survey step).
pub fn ordered(events: &[SmsEvent]) -> Vec<&SmsEvent> {
    let rank = |e: &SmsEvent| match e.kind {
        SmsEventKind::Message(_) => 0,
        SmsEventKind::Status { .. } => 1,
        SmsEventKind::Consent(_) => 2,
        SmsEventKind::Click { .. } => 3,
        SmsEventKind::SurveyStarted { .. } => 4,
        SmsEventKind::SurveyCompleted { .. } => 5,
    };
    let mut v: Vec<&SmsEvent> = events.iter().collect();
    v.sort_by_key(|e| (e.at, rank(e)));
    v
}

/// Delivery statuses in the order Twilio moves through them; callbacks may arrive out of order,
/// so the furthest one is the message's status.
fn status_rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" | "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        "delivered" | "undelivered" | "failed" | "canceled" => 3,
        "read" => 4,
        _ => 0,
    }
}

fn failed(status: &str) -> bool {
    matches!(status, "undelivered" | "failed" | "canceled")
}

/// Each outbound message's furthest delivery status.
pub fn delivery_statuses(events: &[SmsEvent]) -> HashMap<&str, &str> {
    let mut best: HashMap<&str, &str> = HashMap::new();
    for e in events {
        let (sid, status) = match &e.kind {
            SmsEventKind::Status { sid, status, .. } => (sid.as_str(), status.as_str()),
            SmsEventKind::Message(m) => match &m.status {
                Some(s) => (m.sid.as_str(), s.as_str()),
                None => continue,
            },
            _ => continue,
        };
        let slot = best.entry(sid).or_insert(status);
        if status_rank(status) >= status_rank(slot) {
            *slot = status;
        }
    }
    best
}

/// What a lead's SMS log adds up to.
pub fn engagement(events: &[SmsEvent]) -> SmsEngagement {
    let statuses = delivery_statuses(events);
    let mut e = SmsEngagement::default();
    let mut awaiting_reply: Option<DateTime<Utc>> = None;
    let mut latencies: Vec<f64> = Vec::new();
    let mut hits: Vec<SmsIntentHit> = Vec::new();
    for ev in ordered(events) {
        match &ev.kind {
            SmsEventKind::Message(m) if m.direction == SmsDirection::Outbound => {
                if statuses.get(m.sid.as_str()).is_some_and(|s| failed(s)) {
                    continue;
                }
                e.sent += 1;
                if e.opted_out {
                    e.sent_after_opt_out += 1;
                }
                awaiting_reply = Some(ev.at);
            }
            SmsEventKind::Message(m) => {
                // A bare keyword (STOP, HELP) is not a reply; YES is both.
                let is_reply =
                    m.keyword.is_none() || m.intents.iter().any(|i| i.intent == "interested");
                if !is_reply {
                    continue;
                }
                e.replies += 1;
                if let Some(sent) = awaiting_reply.take() {
                    latencies.push((ev.at - sent).num_milliseconds().max(0) as f64 / 60_000.0);
                }
                if !m.body.is_empty() {
                    e.last_reply = Some(m.body.clone());
                }
                e.last_reply_at = Some(ev.at);
                hits.extend(m.intents.iter().map(|i| SmsIntentHit {
                    intent: i.intent.clone(),
                    text: m.body.clone(),
                    at: ev.at,
                    message_sid: m.sid.clone(),
                    when: i.when.clone(),
                }));
            }
            SmsEventKind::Consent(c) => match c.action {
                ConsentAction::OptIn => {
                    (e.opted_in, e.opted_out) = (true, false);
                    e.consent_at = Some(ev.at);
                }
                ConsentAction::OptOut => {
                    (e.opted_in, e.opted_out) = (false, true);
                    e.consent_at = Some(ev.at);
                }
                ConsentAction::Help => {}
            },
            SmsEventKind::Click { url, label, .. } => {
                e.link_clicks += 1;
                if TrackedLink::is_pricing(url, label.as_deref()) {
                    e.pricing_clicks += 1;
                    e.last_pricing_click_url = Some(url.clone());
                    e.last_pricing_click_at = Some(ev.at);
                }
                e.last_click_at = Some(ev.at);
                e.last_click_url = Some(url.clone());
            }
            SmsEventKind::SurveyCompleted { answers, .. } => {
                e.surveys_completed += 1;
                let scores: Vec<f64> = answers.iter().filter_map(|a| a.score).collect();
                if !scores.is_empty() {
                    e.survey_score = Some(
                        (scores.iter().sum::<f64>() / scores.len() as f64 * 10.0).round() / 10.0,
                    );
                }
                e.last_survey_at = Some(ev.at);
            }
            SmsEventKind::Status { .. } | SmsEventKind::SurveyStarted { .. } => {}
        }
    }
    e.reply_minutes = median(&mut latencies).map(|m| (m * 10.0).round() / 10.0);
    // Newest evidence first, a few per intent.
    hits.reverse();
    let mut per_intent: HashMap<String, usize> = HashMap::new();
    e.intents = hits
        .into_iter()
        .filter(|h| {
            let n = per_intent.entry(h.intent.clone()).or_default();
            *n += 1;
            *n <= HITS_PER_INTENT
        })
        .collect();
    e
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// A survey put to a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyRun<'a> {
    pub survey: &'a Survey,
    pub run_id: String,
    pub answers: Vec<SurveyAnswer>,
}

impl SurveyRun<'_> {
    /// The question waiting for an answer.
    pub fn open_question(&self) -> Option<&SurveyQuestion> {
        self.survey.questions.get(self.answers.len())
    }
}

/// Where a lead's surveys stand, from its log.
#[derive(Debug, Default)]
pub struct SurveyProgress<'a> {
    /// The survey waiting for the lead's next answer.
    pub open: Option<SurveyRun<'a>>,
    /// Surveys answered in full whose completion is not in the log yet.
    pub unrecorded: Vec<SurveyRun<'a>>,
    /// What to text back to each message the survey took (by message sid): the next question,
    /// the question again, or the thanks.
    pub replies: HashMap<String, String>,
}

/// Replay the log against the tenant's surveys: messages after a survey starts answer its
/// questions in order; an opt-out ends it.
pub fn survey_progress<'a>(events: &[SmsEvent], surveys: &'a [Survey]) -> SurveyProgress<'a> {
    let mut p = SurveyProgress::default();
    let recorded: HashSet<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            SmsEventKind::SurveyCompleted { run_id, .. } => Some(run_id.as_str()),
            _ => None,
        })
        .collect();
    for ev in ordered(events) {
        match &ev.kind {
            SmsEventKind::SurveyStarted {
                survey_id, run_id, ..
            } => {
                p.open = surveys
                    .iter()
                    .find(|s| &s.id == survey_id)
                    .map(|survey| SurveyRun {
                        survey,
                        run_id: run_id.clone(),
                        answers: Vec::new(),
                    });
                // Started by a trigger word: the run is named after that message, which is
                // answered with the first question.
                if let Some(run) = &p.open
                    && ev.event_id == format!("survey:{run_id}")
                    && let Some(q) = run.open_question()
                {
                    p.replies.insert(run_id.clone(), q.text.clone());
                }
            }
            SmsEventKind::Consent(c) if c.action == ConsentAction::OptOut => p.open = None,
            SmsEventKind::Message(m) if m.direction == SmsDirection::Inbound => {
                let Some(run) = &mut p.open else { continue };
                if m.keyword.is_some() {
                    continue;
                }
                let q = run.open_question().expect("an open run has a question");
                let Some((answer, score)) = match_answer(q, &m.body) else {
                    p.replies.insert(
                        m.sid.clone(),
                        format!("Sorry, I didn't get that. {}", q.text),
                    );
                    continue;
                };
                run.answers.push(SurveyAnswer {
                    question_id: q.id.clone(),
                    answer,
                    score,
                    message_sid: m.sid.clone(),
                    at: ev.at,
                });
                match run.open_question() {
                    Some(next) => {
                        p.replies.insert(m.sid.clone(), next.text.clone());
                    }
                    None => {
                        p.replies.insert(m.sid.clone(), run.survey.thanks.clone());
                        let done = p.open.take().expect("open");
                        if !recorded.contains(done.run_id.as_str()) {
                            p.unrecorded.push(done);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    p
}

static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-?\d+").expect("the number pattern compiles"));

/// The answer a message gives to a question, as the survey spells it, and on a scale where it
/// sits (0..10).
pub fn match_answer(q: &SurveyQuestion, body: &str) -> Option<(String, Option<f64>)> {
    match &q.answers {
        Answers::Scale { min, max } => NUMBER
            .find_iter(body)
            .filter_map(|m| m.as_str().parse::<i32>().ok())
            .find(|v| (*min..=*max).contains(v))
            .map(|v| {
                let score = f64::from(v - min) / f64::from(max - min) * 10.0;
                (v.to_string(), Some((score * 10.0).round() / 10.0))
            }),
        Answers::Choices(choices) => {
            let words = crate::analysis::text::tokens(body);
            choices
                .iter()
                .find(|c| {
                    let want = crate::analysis::text::tokens(c);
                    !want.is_empty() && words.windows(want.len()).any(|w| w == want.as_slice())
                })
                .map(|c| (c.clone(), None))
        }
    }
}

#[cfg(test)]
mod tests;
