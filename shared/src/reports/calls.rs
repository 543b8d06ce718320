//! The reports made from the calls as well as the leads: leads, calls and hot leads per week;
//! how soon a lead that turned hot was called again; which buying signals and objections come
//! up and how the leads that show them convert; and each agent's calls and results (an agent
//! is named by the `agent` field of a call's metadata).
//!
//! [`CallBook`] takes the tenant's leads, then its calls one at a time (the handler walks them a
//! page at a time, so memory holds a few figures per lead, not the calls), then answers each
//! report. A call counts as a touch of its lead whatever its direction: someone spoke with the
//! lead.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{Call, Lead, LeadId, Tier};

/// The most weeks `activity` covers; 12 unless asked.
pub const MAX_WEEKS: u32 = 104;
pub const DEFAULT_WEEKS: u32 = 12;
/// The longest-waiting hot leads `response` names.
pub const WAITING_LISTED: usize = 10;

/// One week (Monday to Sunday, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Week {
    /// The Monday it starts on.
    pub week: NaiveDate,
    /// Leads first heard from that week (their first call, or their creation if earlier).
    pub new_leads: usize,
    pub calls: usize,
    /// Leads hot now that turned hot that week.
    pub turned_hot: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Activity {
    /// Oldest week first, the current week last.
    pub weeks: Vec<Week>,
}

/// How soon hot leads were called after they turned hot.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimeToTouch {
    /// Leads hot now.
    pub hot_leads: usize,
    /// Of those, called since they turned hot.
    pub touched: usize,
    /// Not called since.
    pub waiting: usize,
    /// Hours from turning hot to the next call, over the touched leads; `null` without one.
    pub median_hours_to_touch: Option<f64>,
    pub p90_hours_to_touch: Option<f64>,
    pub touched_within_1h: usize,
    pub touched_within_24h: usize,
    /// The longest-waiting hot leads, longest first (at most 10).
    pub longest_waiting: Vec<Waiting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Waiting {
    pub lead_id: LeadId,
    pub name: String,
    pub hot_since: DateTime<Utc>,
    pub hours: f64,
}

/// A buying signal or an objection, and how its leads did.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Signal {
    /// `pricing`, `meeting`, `too_expensive`, ...
    pub kind: String,
    /// Calls it was heard on.
    pub calls: usize,
    /// Leads it was heard from.
    pub leads: usize,
    pub won: usize,
    pub lost: usize,
    /// Won over decided, among those leads; `null` before any is decided.
    pub conversion_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Signals {
    /// Most heard first.
    pub intents: Vec<Signal>,
    pub objections: Vec<Signal>,
    /// What leads' text replies asked or said (`call_me`, `pricing`, `schedule`, `stop`, ...),
    /// most leads first.
    pub texts: Vec<TextSignal>,
}

/// A reply intent from texts, and how its leads did.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TextSignal {
    pub kind: String,
    /// Leads whose replies showed it.
    pub leads: usize,
    pub won: usize,
    pub lost: usize,
    pub conversion_rate: Option<f64>,
}

/// One agent's calls, and how the leads they spoke with stand.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Agent {
    pub agent: String,
    pub calls: usize,
    /// Distinct leads called.
    pub leads: usize,
    /// Of those, hot now.
    pub hot_leads: usize,
    pub won: usize,
    pub lost: usize,
    pub conversion_rate: Option<f64>,
    pub value_won: f64,
    /// Calls with at least one buying signal.
    pub calls_with_buying_signal: usize,
    /// The customer's mean sentiment on the agent's analysed calls, -1..1.
    pub mean_customer_sentiment: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Agents {
    /// Calls whose metadata names no agent.
    pub calls_without_agent: usize,
    /// Most calls first.
    pub agents: Vec<Agent>,
}

#[derive(Default)]
struct SignalTally {
    calls: usize,
    leads: HashSet<LeadId>,
}

#[derive(Default)]
struct AgentTally {
    calls: usize,
    leads: HashSet<LeadId>,
    with_signal: usize,
    sentiment_sum: f64,
    sentiment_calls: usize,
}

/// The tenant's leads and what its calls add to them.
pub struct CallBook<'a> {
    leads: HashMap<&'a LeadId, &'a Lead>,
    calls: usize,
    first_call: HashMap<LeadId, DateTime<Utc>>,
    /// Each hot lead's first call after it turned hot.
    next_touch: HashMap<LeadId, DateTime<Utc>>,
    calls_by_week: BTreeMap<NaiveDate, usize>,
    intents: BTreeMap<String, SignalTally>,
    objections: BTreeMap<String, SignalTally>,
    agents: BTreeMap<String, AgentTally>,
    without_agent: usize,
}

/// The Monday of `at`'s week.
pub fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn rate(won: usize, lost: usize) -> Option<f64> {
    (won + lost > 0).then(|| won as f64 / (won + lost) as f64)
}

/// The `q` quantile (0..1) of sorted `values`, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl<'a> CallBook<'a> {
    pub fn new(leads: &'a [Lead]) -> Self {
        Self {
            leads: leads.iter().map(|l| (&l.lead_id, l)).collect(),
            calls: 0,
            first_call: HashMap::new(),
            next_touch: HashMap::new(),
            calls_by_week: BTreeMap::new(),
            intents: BTreeMap::new(),
            objections: BTreeMap::new(),
            agents: BTreeMap::new(),
            without_agent: 0,
        }
    }

    /// Calls added so far.
    pub fn calls(&self) -> usize {
        self.calls
    }

    pub fn add(&mut self, call: &Call) {
        self.calls += 1;
        let at = call.call_start_time;
        *self.calls_by_week.entry(week_of(at)).or_default() += 1;
        let first = self.first_call.entry(call.lead_id.clone()).or_insert(at);
        *first = (*first).min(at);
        if let Some(since) = self.leads.get(&call.lead_id).and_then(|l| l.hot_since)
            && at > since
        {
            let next = self.next_touch.entry(call.lead_id.clone()).or_insert(at);
            *next = (*next).min(at);
        }
        let analysis = call.analysis.as_ref();
        for (hits, tallies) in [
            (analysis.map(|a| &a.intents), &mut self.intents),
            (analysis.map(|a| &a.objections), &mut self.objections),
        ] {
            let kinds: HashSet<&str> = hits
                .into_iter()
                .flatten()
                .map(|h| h.kind.as_str())
                .collect();
            for kind in kinds {
                let tally = tallies.entry(kind.to_owned()).or_default();
                tally.calls += 1;
                tally.leads.insert(call.lead_id.clone());
            }
        }
        let agent = call
            .attributes
            .get("agent")
            .and_then(|a| a.as_str())
            .map(str::trim)
            .filter(|a| !a.is_empty());
        match agent {
            Some(agent) => {
                let tally = self.agents.entry(agent.to_owned()).or_default();
                tally.calls += 1;
                tally.leads.insert(call.lead_id.clone());
                if analysis.is_some_and(|a| !a.intents.is_empty()) {
                    tally.with_signal += 1;
                }
                if let Some(a) = analysis {
                    tally.sentiment_sum += a.sentiment.customer;
                    tally.sentiment_calls += 1;
                }
            }
            None => self.without_agent += 1,
        }
    }

    /// The latest `weeks` weeks up to the one holding `now`.
    pub fn activity(&self, weeks: u32, now: DateTime<Utc>) -> Activity {
        let last = week_of(now);
        let first = last - Duration::weeks(i64::from(weeks.clamp(1, MAX_WEEKS)) - 1);
        let mut by_week: BTreeMap<NaiveDate, Week> = std::iter::successors(Some(first), |w| {
            Some(*w + Duration::weeks(1)).filter(|w| *w <= last)
        })
        .map(|week| {
            (
                week,
                Week {
                    week,
                    new_leads: 0,
                    calls: self.calls_by_week.get(&week).copied().unwrap_or(0),
                    turned_hot: 0,
                },
            )
        })
        .collect();
        for lead in self.leads.values() {
            let heard = self
                .first_call
                .get(&lead.lead_id)
                .map_or(lead.created_at, |c| (*c).min(lead.created_at));
            if let Some(w) = by_week.get_mut(&week_of(heard)) {
                w.new_leads += 1;
            }
            if let (Some(Tier::Hot), Some(since)) = (lead.tier, lead.hot_since)
                && let Some(w) = by_week.get_mut(&week_of(since))
            {
                w.turned_hot += 1;
            }
        }
        Activity {
            weeks: by_week.into_values().collect(),
        }
    }

    pub fn time_to_touch(&self, now: DateTime<Utc>) -> TimeToTouch {
        let hours = |d: Duration| d.num_seconds() as f64 / 3600.0;
        let mut touch_hours = Vec::new();
        let mut waiting = Vec::new();
        for lead in self.leads.values() {
            let (Some(Tier::Hot), Some(since)) = (lead.tier, lead.hot_since) else {
                continue;
            };
            match self.next_touch.get(&lead.lead_id) {
                Some(touch) => touch_hours.push(hours(*touch - since)),
                None => waiting.push(Waiting {
                    lead_id: lead.lead_id.clone(),
                    name: lead.display_name(),
                    hot_since: since,
                    hours: hours(now - since).max(0.0),
                }),
            }
        }
        touch_hours.sort_by(f64::total_cmp);
        waiting.sort_by(|a, b| b.hours.total_cmp(&a.hours).then(a.lead_id.cmp(&b.lead_id)));
        let count = waiting.len();
        waiting.truncate(WAITING_LISTED);
        TimeToTouch {
            hot_leads: touch_hours.len() + count,
            touched: touch_hours.len(),
            waiting: count,
            median_hours_to_touch: quantile(&touch_hours, 0.5),
            p90_hours_to_touch: quantile(&touch_hours, 0.9),
            touched_within_1h: touch_hours.iter().filter(|h| **h <= 1.0).count(),
            touched_within_24h: touch_hours.iter().filter(|h| **h <= 24.0).count(),
            longest_waiting: waiting,
        }
    }

    pub fn signals(&self) -> Signals {
        let list = |tallies: &BTreeMap<String, SignalTally>| {
            let mut out: Vec<Signal> = tallies
                .iter()
                .map(|(kind, t)| {
                    let (won, lost) = self.outcomes(&t.leads);
                    Signal {
                        kind: kind.clone(),
                        calls: t.calls,
                        leads: t.leads.len(),
                        won,
                        lost,
                        conversion_rate: rate(won, lost),
                    }
                })
                .collect();
            out.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.kind.cmp(&b.kind)));
            out
        };
        let mut by_kind: BTreeMap<&str, HashSet<LeadId>> = BTreeMap::new();
        for lead in self.leads.values() {
            for hit in lead.sms.iter().flat_map(|s| &s.intents) {
                by_kind
                    .entry(hit.intent.as_str())
                    .or_default()
                    .insert(lead.lead_id.clone());
            }
        }
        let mut texts: Vec<TextSignal> = by_kind
            .into_iter()
            .map(|(kind, leads)| {
                let (won, lost) = self.outcomes(&leads);
                TextSignal {
                    kind: kind.to_owned(),
                    leads: leads.len(),
                    won,
                    lost,
                    conversion_rate: rate(won, lost),
                }
            })
            .collect();
        texts.sort_by(|a, b| b.leads.cmp(&a.leads).then(a.kind.cmp(&b.kind)));
        Signals {
            intents: list(&self.intents),
            objections: list(&self.objections),
            texts,
        }
    }

    pub fn agents(&self) -> Agents {
        let mut agents: Vec<Agent> = self
            .agents
            .iter()
            .map(|(name, t)| {
                let (won, lost) = self.outcomes(&t.leads);
                let value_won = t
                    .leads
                    .iter()
                    .filter_map(|id| self.leads.get(id)?.outcome.as_ref())
                    .filter(|o| o.converted)
                    .filter_map(|o| o.value)
                    // From +0.0: an empty `sum` of floats is -0.0.
                    .fold(0.0, |sum, v| sum + v);
                Agent {
                    agent: name.clone(),
                    calls: t.calls,
                    leads: t.leads.len(),
                    hot_leads: t
                        .leads
                        .iter()
                        .filter(|id| {
                            self.leads
                                .get(id)
                                .is_some_and(|l| l.tier == Some(Tier::Hot))
                        })
                        .count(),
                    won,
                    lost,
                    conversion_rate: rate(won, lost),
                    value_won,
                    calls_with_buying_signal: t.with_signal,
                    mean_customer_sentiment: (t.sentiment_calls > 0)
                        .then(|| t.sentiment_sum / t.sentiment_calls as f64),
                }
            })
            .collect();
        agents.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.agent.cmp(&b.agent)));
        Agents {
            calls_without_agent: self.without_agent,
            agents,
        }
    }

    /// Won and lost among `leads`.
    fn outcomes(&self, leads: &HashSet<LeadId>) -> (usize, usize) {
        leads
            .iter()
            .filter_map(|id| self.leads.get(id)?.outcome.as_ref())
            .fold((0, 0), |(won, lost), o| {
                if o.converted {
                    (won + 1, lost)
                } else {
                    (won, lost + 1)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallId, Outcome, PhoneNumber, TenantId};

    fn lead(
        n: u32,
        tier: Tier,
        hot_since: Option<DateTime<Utc>>,
        outcome: Option<(bool, f64)>,
    ) -> Lead {
        let now = Utc::now();
        let mut lead = Lead::new(
            TenantId::default_tenant(),
            PhoneNumber::parse(&format!("+1415555{n:04}")).unwrap(),
            now,
        );
        lead.first_name = Some(format!("Lead{n}"));
        lead.tier = Some(tier);
        lead.hot_since = hot_since;
        lead.outcome = outcome.map(|(converted, value)| Outcome {
            converted,
            value: (value > 0.0).then_some(value),
            at: now,
        });
        lead
    }

    fn call(lead: &Lead, id: &str, at: DateTime<Utc>, agent: Option<&str>, said: &str) -> Call {
        let text = format!("Agent: Hello, how can I help?\nCaller: {said}\n");
        let mut call = crate::analysis::analysed_call(lead, CallId::parse(id).unwrap(), at, &text);
        call.attributes = agent
            .map(|a| [("agent".to_owned(), serde_json::Value::from(a))].into())
            .unwrap_or_default();
        call
    }

    #[test]
    fn calls_make_the_weekly_response_signal_and_agent_reports() {
        let now = Utc::now();
        let ago = |hours: i64| now - Duration::hours(hours);
        let mut leads = vec![
            lead(1, Tier::Hot, Some(ago(72)), Some((true, 5000.0))),
            lead(2, Tier::Hot, Some(ago(10)), None),
            lead(3, Tier::Cold, None, Some((false, 0.0))),
        ];
        // Lead 1 also texted asking for a call, twice; lead 3 texted STOP.
        for (n, intents) in [(0, ["call_me", "call_me"]), (2, ["stop", "stop"])] {
            leads[n].sms = Some(crate::domain::SmsEngagement {
                intents: intents
                    .iter()
                    .map(|i| crate::domain::SmsIntentHit {
                        intent: (*i).to_owned(),
                        text: "...".into(),
                        at: now,
                        message_sid: "SM1".into(),
                        when: None,
                    })
                    .collect(),
                ..Default::default()
            });
        }
        let calls = [
            call(
                &leads[0],
                "c1",
                ago(96),
                Some("Maya"),
                "How much does it cost?",
            ),
            call(
                &leads[0],
                "c2",
                ago(48),
                Some("Maya"),
                "Great, see you then.",
            ),
            call(
                &leads[1],
                "c3",
                ago(12),
                Some("Sam"),
                "Honestly that's too expensive for us.",
            ),
            call(
                &leads[2],
                "c4",
                ago(24 * 20),
                None,
                "I'm not interested, thanks.",
            ),
        ];
        let mut book = CallBook::new(&leads);
        for c in &calls {
            book.add(c);
        }
        assert_eq!(book.calls(), 4);

        let activity = book.activity(4, now);
        assert_eq!(activity.weeks.len(), 4);
        assert_eq!(activity.weeks.last().unwrap().week, week_of(now));
        assert_eq!(activity.weeks.iter().map(|w| w.calls).sum::<usize>(), 4);
        assert_eq!(
            activity.weeks.iter().map(|w| w.turned_hot).sum::<usize>(),
            2
        );
        // Lead 3 was first heard from 20 days ago, though made today.
        assert_eq!(activity.weeks.iter().map(|w| w.new_leads).sum::<usize>(), 3);
        assert_eq!(
            activity.weeks[activity.weeks.len() - 3..]
                .iter()
                .map(|w| w.new_leads)
                .sum::<usize>(),
            2
        );

        // Lead 1 was called a day after it turned hot; lead 2's only call came before.
        let response = book.time_to_touch(now);
        assert_eq!(
            (response.hot_leads, response.touched, response.waiting),
            (2, 1, 1)
        );
        assert_eq!(response.median_hours_to_touch, Some(24.0));
        assert_eq!(
            (response.touched_within_1h, response.touched_within_24h),
            (0, 1)
        );
        assert_eq!(response.longest_waiting[0].lead_id, leads[1].lead_id);
        assert!((response.longest_waiting[0].hours - 10.0).abs() < 0.01);

        let signals = book.signals();
        let find = |list: &[Signal], kind: &str| {
            list.iter()
                .find(|s| s.kind == kind)
                .unwrap_or_else(|| panic!("{kind} in {list:?}"))
                .clone()
        };
        let pricing = find(&signals.intents, "pricing");
        assert_eq!((pricing.calls, pricing.leads, pricing.won), (1, 1, 1));
        assert_eq!(pricing.conversion_rate, Some(1.0));
        assert_eq!(
            find(&signals.objections, "too_expensive").conversion_rate,
            None
        );
        assert_eq!(
            find(&signals.objections, "not_interested").conversion_rate,
            Some(0.0)
        );
        let texts: Vec<(&str, usize, Option<f64>)> = signals
            .texts
            .iter()
            .map(|t| (t.kind.as_str(), t.leads, t.conversion_rate))
            .collect();
        assert_eq!(texts, [("call_me", 1, Some(1.0)), ("stop", 1, Some(0.0))]);

        let agents = book.agents();
        assert_eq!(agents.calls_without_agent, 1);
        let names: Vec<&str> = agents.agents.iter().map(|a| a.agent.as_str()).collect();
        assert_eq!(names, ["Maya", "Sam"]);
        let maya = &agents.agents[0];
        assert_eq!(
            (maya.calls, maya.leads, maya.hot_leads, maya.won),
            (2, 1, 1, 1)
        );
        assert_eq!(maya.value_won, 5000.0);
        assert_eq!(maya.calls_with_buying_signal, 1);
        assert_eq!(agents.agents[1].conversion_rate, None);
        assert!(agents.agents[1].value_won.is_sign_positive(), "0, not -0");
    }

    #[test]
    fn weeks_start_on_monday_and_quantiles_take_the_nearest_rank() {
        let sunday = DateTime::parse_from_rfc3339("2026-11-29T23:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(week_of(sunday).to_string(), "2026-11-23");
        assert_eq!(
            week_of(sunday + Duration::hours(1)).to_string(),
            "2026-11-30"
        );
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.9), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
