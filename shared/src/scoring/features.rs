//! Lead features: everything the rules can test, each with the evidence behind its value.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc, Weekday};

use super::caller::CallerPlace;
use crate::domain::{Analysis, Call, Direction, Evidence, Hit, Lead, SmsIntentHit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    Num,
    Str,
    List,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Bool => "true/false value",
            FieldType::Num => "number",
            FieldType::Str => "string",
            FieldType::List => "list",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Num(f64),
    Str(String),
}

impl Value {
    fn show(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Num(n) => show_number(*n),
            Value::Str(s) => s.clone(),
        }
    }
}

/// A number as evidence shows it: `3`, `0.42`.
pub(crate) fn show_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.2}")
    }
}

const INTENT_KINDS: &[&str] = &[
    "pricing",
    "meeting",
    "purchase",
    "timeline",
    "budget",
    "decision_maker",
    "callback",
    "competitor",
    "interest",
];
const OBJECTION_KINDS: &[&str] = &["not_interested", "too_expensive", "do_not_call"];
const JUNK_KINDS: &[&str] = &["wrong_number", "spam", "voicemail"];

/// The feature catalogue: every field the rule language knows, its type and meaning.
pub const FIELDS: &[(&str, FieldType, &str)] = &[
    ("calls.count", FieldType::Num, "calls with the lead"),
    (
        "calls.inbound",
        FieldType::Num,
        "calls the lead made to the tenant",
    ),
    (
        "calls.last_7d",
        FieldType::Num,
        "calls in the 7 days up to the latest one",
    ),
    (
        "call.duration",
        FieldType::Num,
        "length of the latest call, seconds",
    ),
    (
        "call.direction",
        FieldType::Str,
        "\"inbound\" or \"outbound\", latest call",
    ),
    (
        "call.days_ago",
        FieldType::Num,
        "days since the latest call",
    ),
    (
        "sentiment.customer",
        FieldType::Num,
        "customer sentiment -1..1, latest analysed call",
    ),
    (
        "sentiment.trend",
        FieldType::Num,
        "customer sentiment at the end minus the start of the latest call",
    ),
    (
        "customer.questions",
        FieldType::Num,
        "questions the customer asked, all calls",
    ),
    (
        "customer.talk_ratio",
        FieldType::Num,
        "customer's share of the words 0..1, latest call",
    ),
    (
        "intent.pricing",
        FieldType::Bool,
        "asked about price or a quote",
    ),
    (
        "intent.meeting",
        FieldType::Bool,
        "asked for a demo, visit or meeting",
    ),
    (
        "intent.purchase",
        FieldType::Bool,
        "said they want to buy or go ahead",
    ),
    ("intent.timeline", FieldType::Bool, "named a timeline"),
    (
        "intent.budget",
        FieldType::Bool,
        "mentioned a budget or financing",
    ),
    (
        "intent.decision_maker",
        FieldType::Bool,
        "said they make the decision",
    ),
    (
        "intent.callback",
        FieldType::Bool,
        "asked to be called back",
    ),
    (
        "intent.competitor",
        FieldType::Bool,
        "mentioned a competitor or other quotes",
    ),
    (
        "intent.interest",
        FieldType::Bool,
        "said they are interested",
    ),
    (
        "objection.not_interested",
        FieldType::Bool,
        "said they are not interested",
    ),
    (
        "objection.too_expensive",
        FieldType::Bool,
        "said it costs too much",
    ),
    (
        "objection.do_not_call",
        FieldType::Bool,
        "asked not to be called",
    ),
    (
        "junk.wrong_number",
        FieldType::Bool,
        "latest call was a wrong number",
    ),
    (
        "junk.spam",
        FieldType::Bool,
        "latest call was spam or a robocall",
    ),
    (
        "junk.voicemail",
        FieldType::Bool,
        "latest call reached voicemail",
    ),
    (
        "caller.country",
        FieldType::Str,
        "ISO country of the lead's number, e.g. \"US\"",
    ),
    (
        "caller.state",
        FieldType::Str,
        "US state or Canadian province of a North American number's area code, e.g. \"TX\"",
    ),
    (
        "caller.timezone",
        FieldType::Str,
        "time zone of a North American number's area code, e.g. \"America/Chicago\"",
    ),
    (
        "local_hour",
        FieldType::Num,
        "the caller's local hour 0..23 at the latest call",
    ),
    (
        "local_weekday",
        FieldType::Str,
        "the caller's local weekday at the latest call: \"mon\" .. \"sun\"",
    ),
    (
        "business_hours",
        FieldType::Bool,
        "the latest call was Monday to Friday, 9:00 to 17:00 the caller's time",
    ),
    ("lead.source", FieldType::Str, "the lead's source"),
    ("lead.status", FieldType::Str, "the lead's CRM status"),
    (
        "lead.age_days",
        FieldType::Num,
        "days since the lead was created",
    ),
    ("crm.stage", FieldType::Str, "the CRM's `stage` field"),
    (
        "crm.interactions",
        FieldType::Num,
        "the CRM's `interactions` field: prior touches",
    ),
    ("sms.opted_in", FieldType::Bool, "agreed to receive texts"),
    (
        "sms.opted_out",
        FieldType::Bool,
        "revoked consent to texts (STOP); while true, no other sms field has a value",
    ),
    (
        "sms.sent",
        FieldType::Num,
        "texts sent to the lead and not failed",
    ),
    (
        "sms.replies",
        FieldType::Num,
        "texts the lead sent, consent keywords aside",
    ),
    (
        "sms.link_clicks",
        FieldType::Num,
        "tracked links the lead opened",
    ),
    (
        "sms.pricing_click",
        FieldType::Bool,
        "opened a tracked link about prices",
    ),
    (
        "sms.intent.interested",
        FieldType::Bool,
        "a reply said yes or showed interest",
    ),
    (
        "sms.intent.call_me",
        FieldType::Bool,
        "a reply asked for a call",
    ),
    (
        "sms.intent.schedule",
        FieldType::Bool,
        "a reply asked to book a time or proposed one",
    ),
    (
        "sms.intent.pricing",
        FieldType::Bool,
        "a reply asked about prices",
    ),
    (
        "sms.intent.not_interested",
        FieldType::Bool,
        "a reply declined",
    ),
    (
        "sms.intent.wrong_number",
        FieldType::Bool,
        "a reply said it is the wrong number",
    ),
    (
        "sms.intent.stop",
        FieldType::Bool,
        "a reply asked for no more texts",
    ),
    (
        "sms.reply_minutes",
        FieldType::Num,
        "median minutes from a text to the lead's reply",
    ),
    (
        "sms.surveys_completed",
        FieldType::Num,
        "surveys by text the lead answered in full",
    ),
    (
        "sms.survey_score",
        FieldType::Num,
        "the latest completed survey's scale answers, 0..10",
    ),
];

/// The catalogue's own name (a `'static` str) and type for a field name.
pub fn field_type(name: &str) -> Option<(&'static str, FieldType)> {
    FIELDS.iter().find(|f| f.0 == name).map(|f| (f.0, f.1))
}

/// The closest known field to a misspelt one, if any is close.
pub fn suggest(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .map(|f| (f.0, edit_distance(name, f.0)))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(f, _)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A lead's feature values, with evidence for each.
#[derive(Debug, Default)]
pub struct Features {
    values: BTreeMap<&'static str, Value>,
    evidence: BTreeMap<&'static str, Vec<Evidence>>,
    /// When the freshest evidence for a field was seen (for decay), where it has a time.
    seen: BTreeMap<&'static str, DateTime<Utc>>,
}

/// At most this many pieces of evidence per feature.
const MAX_EVIDENCE: usize = 3;

impl Features {
    pub fn get(&self, field: &str) -> Option<Value> {
        self.values.get(field).cloned()
    }

    pub fn value_ref(&self, field: &str) -> Option<&Value> {
        self.values.get(field)
    }

    /// Every field with a value, in catalogue-name order.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }

    /// When the freshest evidence for `field` was seen, if it comes from something dated.
    pub fn seen(&self, field: &str) -> Option<DateTime<Utc>> {
        self.seen.get(field).copied()
    }

    /// The evidence for a field: quotes where the value came from speech, else the value itself.
    pub fn evidence(&self, field: &'static str) -> Vec<Evidence> {
        match self.evidence.get(field) {
            Some(e) if !e.is_empty() => e.clone(),
            _ => self
                .values
                .get(field)
                .map(|v| {
                    vec![Evidence::Field {
                        name: field.to_owned(),
                        value: v.show(),
                    }]
                })
                .unwrap_or_default(),
        }
    }

    fn set(&mut self, field: &'static str, v: Value) {
        debug_assert!(
            field_type(field).is_some(),
            "{field} is not in the catalogue"
        );
        self.values.insert(field, v);
    }

    fn quote(&mut self, field: &'static str, call: &Call, hit: &Hit) {
        let seen = self.seen.entry(field).or_insert(call.call_start_time);
        *seen = (*seen).max(call.call_start_time);
        let list = self.evidence.entry(field).or_default();
        if list.len() < MAX_EVIDENCE {
            list.push(Evidence::Quote {
                call_id: call.call_id.clone(),
                speaker: hit.speaker.clone(),
                at: hit.at,
                text: hit.quote.clone(),
            });
        }
    }

    /// Compute from a lead and its calls (any order). Only analysed calls feed the
    /// transcript features.
    pub fn compute(lead: &Lead, calls: &[Call], now: DateTime<Utc>) -> Self {
        let mut f = Features::default();
        let place = CallerPlace::of(&lead.phone_number);
        let mut calls: Vec<&Call> = calls.iter().collect();
        calls.sort_by_key(|c| c.call_start_time);
        let count = calls.len().max(lead.call_count as usize);
        f.set("calls.count", Value::Num(count as f64));
        f.set(
            "calls.inbound",
            Value::Num(
                calls
                    .iter()
                    .filter(|c| c.direction == Direction::Inbound)
                    .count() as f64,
            ),
        );
        if let Some(latest) = calls.last() {
            let week_before = latest.call_start_time - chrono::Duration::days(7);
            let recent = calls
                .iter()
                .filter(|c| c.call_start_time >= week_before)
                .count();
            f.set("calls.last_7d", Value::Num(recent as f64));
            if let Some(d) = latest.call_duration {
                f.set("call.duration", Value::Num(d.round()));
            }
            let dir = match latest.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            };
            f.set("call.direction", Value::Str(dir.into()));
            let days = (now - latest.call_start_time).num_hours() as f64 / 24.0;
            f.set(
                "call.days_ago",
                Value::Num((days.max(0.0) * 10.0).round() / 10.0),
            );
            if let Some(local) = place.local_time(latest.call_start_time) {
                f.set("local_hour", Value::Num(f64::from(local.hour)));
                f.set(
                    "local_weekday",
                    Value::Str(weekday_name(local.weekday).to_owned()),
                );
                f.set("business_hours", Value::Bool(local.business_hours()));
            }
            for field in [
                "calls.count",
                "calls.inbound",
                "calls.last_7d",
                "call.duration",
                "call.direction",
                "local_hour",
                "local_weekday",
                "business_hours",
            ] {
                f.seen.insert(field, latest.call_start_time);
            }
        }
        if let Some(country) = place.country {
            f.set("caller.country", Value::Str(country));
        }
        if let Some(state) = place.state {
            f.set("caller.state", Value::Str(state.to_owned()));
        }
        if let Some(tz) = place.tz {
            f.set("caller.timezone", Value::Str(tz.name().to_owned()));
        }
        if let Some(s) = &lead.source {
            f.set("lead.source", Value::Str(s.clone()));
        }
        if let Some(s) = &lead.crm_lead_status {
            f.set("lead.status", Value::Str(s.clone()));
        }
        f.set(
            "lead.age_days",
            Value::Num(((now - lead.created_at).num_hours().max(0) as f64 / 24.0).floor()),
        );
        if let Some(stage) = lead.crm.get("stage") {
            f.set("crm.stage", Value::Str(stage.clone()));
        }
        if let Some(n) = lead
            .crm
            .get("interactions")
            .and_then(|v| v.trim().parse().ok())
        {
            f.set("crm.interactions", Value::Num(n));
        }
        f.sms(lead);

        let analysed: Vec<(&Call, &Analysis)> = calls
            .iter()
            .filter_map(|c| Some((*c, c.analysis.as_ref()?)))
            .collect();
        for (kinds, prefix, pick) in [
            (
                INTENT_KINDS,
                "intent.",
                (|a: &Analysis| &a.intents) as fn(&Analysis) -> &Vec<Hit>,
            ),
            (OBJECTION_KINDS, "objection.", |a: &Analysis| &a.objections),
        ] {
            for kind in kinds {
                let field = field_type(&format!("{prefix}{kind}"))
                    .expect("catalogued")
                    .0;
                let mut any = false;
                // Newest calls first, so the freshest quotes are the evidence.
                for (call, a) in analysed.iter().rev() {
                    for hit in pick(a).iter().filter(|h| h.kind == *kind) {
                        any = true;
                        f.quote(field, call, hit);
                    }
                }
                f.set(field, Value::Bool(any));
            }
        }
        let questions: u32 = analysed
            .iter()
            .map(|(_, a)| a.talk.customer_questions)
            .sum();
        f.set("customer.questions", Value::Num(f64::from(questions)));
        if let Some((call, a)) = analysed.last() {
            f.set(
                "sentiment.customer",
                Value::Num(round2(a.sentiment.customer)),
            );
            f.set(
                "sentiment.trend",
                Value::Num(round2(
                    a.sentiment.customer_end - a.sentiment.customer_start,
                )),
            );
            f.set(
                "customer.talk_ratio",
                Value::Num(round2(a.talk.customer_talk_ratio)),
            );
            let mood = if a.sentiment.customer >= 0.0 {
                "positive"
            } else {
                "negative"
            };
            for q in a.quotes.iter().filter(|q| q.kind == mood) {
                f.quote("sentiment.customer", call, q);
            }
            for field in [
                "sentiment.customer",
                "sentiment.trend",
                "customer.talk_ratio",
            ] {
                f.seen.insert(field, call.call_start_time);
            }
            for kind in JUNK_KINDS {
                let field = field_type(&format!("junk.{kind}")).expect("catalogued").0;
                let hits: Vec<&Hit> = a.junk.iter().filter(|h| h.kind == *kind).collect();
                for h in &hits {
                    f.quote(field, call, h);
                }
                f.set(field, Value::Bool(!hits.is_empty()));
            }
        }
        f
    }
}

/// Reply intents a lead who opted out still counts for: they speak against texting.
const SMS_DECLINES: [&str; 3] = ["not_interested", "wrong_number", "stop"];

impl Features {
    /// The SMS fields. A lead who opted out earns nothing from texting: only `sms.opted_out`
    /// and the replies that decline have values.
    fn sms(&mut self, lead: &Lead) {
        let Some(sms) = &lead.sms else { return };
        self.set("sms.opted_out", Value::Bool(sms.opted_out));
        if let Some(at) = sms.consent_at {
            self.seen.insert("sms.opted_out", at);
        }
        for (field, kind) in [
            ("sms.intent.interested", "interested"),
            ("sms.intent.call_me", "call_me"),
            ("sms.intent.schedule", "schedule"),
            ("sms.intent.pricing", "pricing"),
            ("sms.intent.not_interested", "not_interested"),
            ("sms.intent.wrong_number", "wrong_number"),
            ("sms.intent.stop", "stop"),
        ] {
            if sms.opted_out && !SMS_DECLINES.contains(&kind) {
                continue;
            }
            let hits: Vec<&SmsIntentHit> =
                sms.intents.iter().filter(|h| h.intent == kind).collect();
            self.set(field, Value::Bool(!hits.is_empty()));
            if let Some(newest) = hits.first() {
                self.seen.insert(field, newest.at);
            }
            if !hits.is_empty() {
                let evidence = hits
                    .iter()
                    .take(MAX_EVIDENCE)
                    .map(|h| Evidence::Sms {
                        text: match &h.when {
                            Some(when) => format!("{} (proposed: {when})", h.text),
                            None => h.text.clone(),
                        },
                        at: h.at,
                        message_sid: Some(h.message_sid.clone()),
                    })
                    .collect();
                self.evidence.insert(field, evidence);
            }
        }
        if sms.opted_out {
            return;
        }
        self.set("sms.opted_in", Value::Bool(sms.opted_in));
        self.set("sms.sent", Value::Num(f64::from(sms.sent)));
        self.set("sms.replies", Value::Num(f64::from(sms.replies)));
        self.set("sms.link_clicks", Value::Num(f64::from(sms.link_clicks)));
        self.set("sms.pricing_click", Value::Bool(sms.pricing_clicks > 0));
        self.set(
            "sms.surveys_completed",
            Value::Num(f64::from(sms.surveys_completed)),
        );
        if let Some(m) = sms.reply_minutes {
            self.set("sms.reply_minutes", Value::Num(m));
        }
        if let Some(s) = sms.survey_score {
            self.set("sms.survey_score", Value::Num(s));
        }
        for (field, at) in [
            ("sms.opted_in", sms.consent_at),
            ("sms.replies", sms.last_reply_at),
            ("sms.reply_minutes", sms.last_reply_at),
            ("sms.link_clicks", sms.last_click_at),
            ("sms.pricing_click", sms.last_pricing_click_at),
            ("sms.surveys_completed", sms.last_survey_at),
            ("sms.survey_score", sms.last_survey_at),
        ] {
            if let Some(at) = at {
                self.seen.insert(field, at);
            }
        }
        if let (Some(text), Some(at)) = (&sms.last_reply, sms.last_reply_at) {
            let reply = vec![Evidence::Sms {
                text: text.clone(),
                at,
                message_sid: None,
            }];
            self.evidence.insert("sms.replies", reply.clone());
            self.evidence.insert("sms.reply_minutes", reply);
        }
        for (field, url, at) in [
            ("sms.link_clicks", &sms.last_click_url, sms.last_click_at),
            (
                "sms.pricing_click",
                &sms.last_pricing_click_url,
                sms.last_pricing_click_at,
            ),
        ] {
            if let (Some(url), Some(at)) = (url, at) {
                self.evidence.insert(
                    field,
                    vec![Evidence::Click {
                        url: url.clone(),
                        at,
                    }],
                );
            }
        }
    }
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_are_unique_and_suggestions_are_close() {
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
        assert_eq!(suggest("intent.prcing"), Some("intent.pricing"));
        assert_eq!(suggest("colour"), None);
    }
}
