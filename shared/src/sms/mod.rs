//! Texting: Twilio's webhooks (`twilio`), what a text says (`intent`), and what a lead's SMS
//! log adds up to: its engagement (what rules read as `sms.*`) and the state of its surveys.
//! Both are folds over the log, so a replayed or reordered delivery changes nothing.

pub mod callback;
mod fold;
pub mod intent;
pub mod messages;
pub mod send;
pub mod twilio;

pub use fold::{FAILED_KEPT, Folded, REPLY_TIMES_KEPT, SmsFold, SurveyRun};

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::domain::{Answers, SmsEngagement, SmsEvent, SmsEventKind, SurveyQuestion};

/// The log in the order things happened; at the same instant a message comes before what it
/// caused (its status, consent change, survey step).
pub fn ordered(events: &[SmsEvent]) -> Vec<&SmsEvent> {
    let mut v: Vec<&SmsEvent> = events.iter().collect();
    v.sort_by_key(|e| (e.at, rank(e)));
    v
}

/// Where an event sits among events of the same instant.
fn rank(e: &SmsEvent) -> u8 {
    match e.kind {
        SmsEventKind::Message(_) => 0,
        SmsEventKind::Status { .. } => 1,
        SmsEventKind::Consent(_) => 2,
        SmsEventKind::Click { .. } => 3,
        SmsEventKind::SurveyStarted { .. } => 4,
        SmsEventKind::SurveyCompleted { .. } => 5,
        SmsEventKind::TaskCreated { .. } => 6,
    }
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

/// What a lead's SMS log adds up to: the whole log folded.
pub fn engagement(events: &[SmsEvent]) -> SmsEngagement {
    SmsFold::replay(events, &[]).0.engagement
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
