//! A lead's SMS log folded as it grows. The fold keeps what the log adds up to (the lead's
//! engagement, the survey waiting for an answer) and the little more it needs to take the next
//! event without reading the log again: where it stopped, the text awaiting a reply, the latest
//! reply times, the texts that failed. So a text costs the same whether it is the lead's first
//! or its thousandth.
//!
//! The whole log folded from the start ([`SmsFold::replay`]) is the definition; folding on
//! ([`SmsFold::extend`]) gives the same result or refuses, and the caller replays. It refuses an
//! event that belongs before what is folded already (a text logged with an earlier time, a
//! callback that lost a race) and one that changes whether a text failed (its reply time and
//! count would change after the fact). Both are rare; the tests hold the two ways equal.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{delivery_statuses, failed, match_answer, ordered, rank};
use crate::domain::{
    ConsentAction, SmsDirection, SmsEngagement, SmsEvent, SmsEventKind, SmsIntentHit, SmsMessage,
    Survey, SurveyAnswer, SurveyQuestion, TrackedLink,
};

/// At most this many pieces of evidence per reply intent.
const HITS_PER_INTENT: usize = 3;

/// The median reply time is taken over the latest this many replies.
pub const REPLY_TIMES_KEPT: usize = 50;

/// Failed texts remembered by sid. A lead with more has every delivery status replayed.
pub const FAILED_KEPT: usize = 32;

/// What a lead's SMS log adds up to, with what folding the next event needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmsFold {
    /// How many times this fold was stored (`SmsStore::put_sms_fold` checks it); 0 before.
    pub version: u64,
    pub engagement: SmsEngagement,
    /// The survey waiting for the lead's next answer.
    pub open_run: Option<SurveyRun>,
    /// The latest event folded: its time, its place among events of that time, and the ids of
    /// the events folded at that time.
    through: Option<Through>,
    /// When the latest text not yet replied to was sent.
    awaiting_reply: Option<DateTime<Utc>>,
    /// Minutes from a text to its reply, the latest [`REPLY_TIMES_KEPT`], oldest first.
    reply_times: Vec<f64>,
    /// Outbound texts whose furthest status is a failure; `None` past [`FAILED_KEPT`].
    failed: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Through {
    at: DateTime<Utc>,
    rank: u8,
    ids: Vec<String>,
}

/// A survey put to a lead, and its answers so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyRun {
    pub survey_id: String,
    pub run_id: String,
    pub answers: Vec<SurveyAnswer>,
}

impl SurveyRun {
    /// The question waiting for an answer, as the tenant's surveys now ask it.
    pub fn open_question<'s>(&self, surveys: &'s [Survey]) -> Option<&'s SurveyQuestion> {
        surveys
            .iter()
            .find(|s| s.id == self.survey_id)?
            .questions
            .get(self.answers.len())
    }
}

/// What one fold did.
#[derive(Debug, Default)]
pub struct Folded {
    /// The events it folded, by id.
    pub ids: HashSet<String>,
    /// What to text back to each message a survey took (by message sid), and to a survey
    /// started by a trigger word (by its run id): the next question, the question again, or
    /// the thanks.
    pub replies: HashMap<String, String>,
    /// Surveys answered in full whose completion is not in the log yet.
    pub completed: Vec<SurveyRun>,
}

impl SmsFold {
    /// The whole log folded, against the tenant's surveys.
    pub fn replay(events: &[SmsEvent], surveys: &[Survey]) -> (Self, Folded) {
        let statuses = delivery_statuses(events);
        let failed_sids = || {
            let mut v: Vec<String> = statuses
                .iter()
                .filter(|(_, s)| failed(s))
                .map(|(sid, _)| (*sid).to_owned())
                .collect();
            v.sort();
            v
        };
        let mut fold = Self {
            failed: Some(failed_sids()).filter(|v| v.len() <= FAILED_KEPT),
            ..Self::default()
        };
        let mut out = Folded::default();
        let is_failed = |sid: &str| statuses.get(sid).is_some_and(|s| failed(s));
        for ev in ordered(events) {
            fold.step(ev, &is_failed, surveys, &mut out);
        }
        // A completion recorded out of its place (a survey with no answers) still counts.
        let recorded: HashSet<&str> = events
            .iter()
            .filter_map(|e| match &e.kind {
                SmsEventKind::SurveyCompleted { run_id, .. } => Some(run_id.as_str()),
                _ => None,
            })
            .collect();
        out.completed
            .retain(|r| !recorded.contains(r.run_id.as_str()));
        (fold, out)
    }

    /// The time from which the log holds events not folded yet: what to read before
    /// [`extend`](Self::extend). `None`: nothing is folded, read the whole log.
    pub fn since(&self) -> Option<DateTime<Utc>> {
        self.through.as_ref().map(|t| t.at)
    }

    /// Fold on with the log's events from [`since`](Self::since) on (in any order; those folded
    /// already are skipped). `None`, changing nothing, when one of them cannot be folded on
    /// (see the module's doc): replay the log instead.
    pub fn extend(&mut self, events: &[SmsEvent], surveys: &[Survey]) -> Option<Folded> {
        let mut new: Vec<&SmsEvent> = events.iter().filter(|e| !self.has_folded(e)).collect();
        new.sort_by_key(|e| (e.at, rank(e)));
        if new
            .iter()
            .any(|e| !self.comes_after(e) || self.touches_failure(e))
        {
            return None;
        }
        let mut out = Folded::default();
        for ev in new {
            self.step(ev, &|_| false, surveys, &mut out);
        }
        Some(out)
    }

    fn has_folded(&self, e: &SmsEvent) -> bool {
        self.through
            .as_ref()
            .is_some_and(|t| e.at == t.at && t.ids.contains(&e.event_id))
    }

    fn comes_after(&self, e: &SmsEvent) -> bool {
        self.through
            .as_ref()
            .is_none_or(|t| (e.at, rank(e)) >= (t.at, t.rank))
    }

    /// Whether `e` may change which texts failed.
    fn touches_failure(&self, e: &SmsEvent) -> bool {
        let (sid, status) = match &e.kind {
            SmsEventKind::Status { sid, status, .. } => (sid, Some(status)),
            SmsEventKind::Message(m) if m.direction == SmsDirection::Outbound => {
                (&m.sid, m.status.as_ref())
            }
            _ => return false,
        };
        status.is_some_and(|s| failed(s))
            || self.failed.as_ref().is_none_or(|known| known.contains(sid))
    }

    /// Fold one event, the next in the log's order. `is_failed` tells a text that failed.
    fn step(
        &mut self,
        ev: &SmsEvent,
        is_failed: &dyn Fn(&str) -> bool,
        surveys: &[Survey],
        out: &mut Folded,
    ) {
        let e = &mut self.engagement;
        match &ev.kind {
            SmsEventKind::Message(m) if m.direction == SmsDirection::Outbound => {
                if !is_failed(&m.sid) {
                    e.sent += 1;
                    if e.opted_out {
                        e.sent_after_opt_out += 1;
                    }
                    self.awaiting_reply = Some(ev.at);
                }
            }
            SmsEventKind::Message(m) => {
                // A bare keyword (STOP, HELP) is not a reply; YES is both.
                if m.keyword.is_none() || m.intents.iter().any(|i| i.intent == "interested") {
                    self.reply(ev.at, m);
                }
                self.answer(ev.at, m, surveys, out);
            }
            SmsEventKind::Consent(c) => match c.action {
                ConsentAction::OptIn => {
                    (e.opted_in, e.opted_out) = (true, false);
                    e.consent_at = Some(ev.at);
                }
                ConsentAction::OptOut => {
                    (e.opted_in, e.opted_out) = (false, true);
                    e.consent_at = Some(ev.at);
                    self.open_run = None;
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
            SmsEventKind::SurveyStarted { survey_id, run_id } => {
                self.open_run = surveys
                    .iter()
                    .any(|s| &s.id == survey_id)
                    .then(|| SurveyRun {
                        survey_id: survey_id.clone(),
                        run_id: run_id.clone(),
                        answers: Vec::new(),
                    });
                // Started by a trigger word: the run is named after that message, which is
                // answered with the first question.
                if let Some(run) = &self.open_run
                    && ev.event_id == format!("survey:{run_id}")
                    && let Some(q) = run.open_question(surveys)
                {
                    out.replies.insert(run_id.clone(), q.text.clone());
                }
            }
            SmsEventKind::SurveyCompleted {
                run_id, answers, ..
            } => {
                e.surveys_completed += 1;
                let scores: Vec<f64> = answers.iter().filter_map(|a| a.score).collect();
                if !scores.is_empty() {
                    e.survey_score = Some(
                        (scores.iter().sum::<f64>() / scores.len() as f64 * 10.0).round() / 10.0,
                    );
                }
                e.last_survey_at = Some(ev.at);
                out.completed.retain(|r| &r.run_id != run_id);
            }
            // A task is the team's step, not the lead's engagement.
            SmsEventKind::Status { .. } | SmsEventKind::TaskCreated { .. } => {}
        }
        let rank = rank(ev);
        match &mut self.through {
            Some(t) if t.at == ev.at => {
                t.rank = t.rank.max(rank);
                t.ids.push(ev.event_id.clone());
            }
            _ => {
                self.through = Some(Through {
                    at: ev.at,
                    rank,
                    ids: vec![ev.event_id.clone()],
                });
            }
        }
        out.ids.insert(ev.event_id.clone());
    }

    /// A reply from the lead: counted, timed against the text it answers, its intents kept as
    /// evidence (newest first, a few per intent).
    fn reply(&mut self, at: DateTime<Utc>, m: &SmsMessage) {
        let e = &mut self.engagement;
        e.replies += 1;
        if let Some(sent) = self.awaiting_reply.take() {
            if self.reply_times.len() == REPLY_TIMES_KEPT {
                self.reply_times.remove(0);
            }
            self.reply_times
                .push((at - sent).num_milliseconds().max(0) as f64 / 60_000.0);
            e.reply_minutes = median(&self.reply_times).map(|m| (m * 10.0).round() / 10.0);
        }
        if !m.body.is_empty() {
            e.last_reply = Some(m.body.clone());
        }
        e.last_reply_at = Some(at);
        let mut hits: Vec<SmsIntentHit> = m
            .intents
            .iter()
            .rev()
            .map(|i| SmsIntentHit {
                intent: i.intent.clone(),
                text: m.body.clone(),
                at,
                message_sid: m.sid.clone(),
                when: i.when.clone(),
            })
            .collect();
        hits.append(&mut e.intents);
        let mut per_intent: HashMap<String, usize> = HashMap::new();
        hits.retain(|h| {
            let n = per_intent.entry(h.intent.clone()).or_default();
            *n += 1;
            *n <= HITS_PER_INTENT
        });
        e.intents = hits;
    }

    /// A message from the lead, as an answer to the open survey's question.
    fn answer(&mut self, at: DateTime<Utc>, m: &SmsMessage, surveys: &[Survey], out: &mut Folded) {
        if m.keyword.is_some() {
            return;
        }
        let Some(run) = &mut self.open_run else {
            return;
        };
        let Some(survey) = surveys.iter().find(|s| s.id == run.survey_id) else {
            // The tenant removed the survey: nothing is waiting for an answer.
            self.open_run = None;
            return;
        };
        let Some(q) = survey.questions.get(run.answers.len()) else {
            self.open_run = None;
            return;
        };
        let Some((answer, score)) = match_answer(q, &m.body) else {
            out.replies.insert(
                m.sid.clone(),
                format!("Sorry, I didn't get that. {}", q.text),
            );
            return;
        };
        run.answers.push(SurveyAnswer {
            question_id: q.id.clone(),
            answer,
            score,
            message_sid: m.sid.clone(),
            at,
        });
        match survey.questions.get(run.answers.len()) {
            Some(next) => {
                out.replies.insert(m.sid.clone(), next.text.clone());
            }
            None => {
                out.replies.insert(m.sid.clone(), survey.thanks.clone());
                out.completed.extend(self.open_run.take());
            }
        }
    }
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}
