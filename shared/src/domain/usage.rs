//! What a tenant used in a month: the basis of pay-per-use.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What is counted. Each is added once the work it counts is stored, and only when that work
/// was new: a redelivered event or a retried request never counts twice (a crash between the
/// work and its count loses that one count; it never adds one).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// New calls registered (a file drop, an upload, `POST /calls`).
    CallsIngested,
    /// Seconds of audio turned into transcripts (by Amazon Transcribe or the local engine).
    AudioSecondsTranscribed,
    /// Transcripts analysed.
    TranscriptsAnalysed,
    /// Scores computed and stored (a lead re-scored counts again).
    LeadsScored,
    /// Texts taken in: inbound messages from Twilio and outbound ones logged.
    TextsProcessed,
    /// API requests made for the tenant (by any caller).
    ApiRequests,
    /// Webhook requests its receivers took (2xx); failed attempts are not counted.
    WebhooksDelivered,
}

impl Counter {
    pub const ALL: [Counter; 7] = [
        Counter::CallsIngested,
        Counter::AudioSecondsTranscribed,
        Counter::TranscriptsAnalysed,
        Counter::LeadsScored,
        Counter::TextsProcessed,
        Counter::ApiRequests,
        Counter::WebhooksDelivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Counter::CallsIngested => "calls_ingested",
            Counter::AudioSecondsTranscribed => "audio_seconds_transcribed",
            Counter::TranscriptsAnalysed => "transcripts_analysed",
            Counter::LeadsScored => "leads_scored",
            Counter::TextsProcessed => "texts_processed",
            Counter::ApiRequests => "api_requests",
            Counter::WebhooksDelivered => "webhooks_delivered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Counter::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A calendar month (UTC), written `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn of(at: DateTime<Utc>) -> Self {
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::validation(format!("month: `{s}` is not a month such as 2026-11"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (year, month) = (
            y.parse::<i32>().map_err(|_| bad())?,
            m.parse::<u32>().map_err(|_| bad())?,
        );
        if !(2000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A tenant's counts for a month; a counter nothing has added to is 0.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Usage {
    /// `2026-11`.
    pub month: String,
    pub calls_ingested: u64,
    /// Whole minutes and fractions: seconds / 60, to two places.
    pub audio_minutes_transcribed: f64,
    pub transcripts_analysed: u64,
    pub leads_scored: u64,
    pub texts_processed: u64,
    pub api_requests: u64,
    pub webhooks_delivered: u64,
}

impl Usage {
    pub fn from_counts(month: Month, counts: &BTreeMap<Counter, u64>) -> Self {
        let get = |c| counts.get(&c).copied().unwrap_or(0);
        Usage {
            month: month.to_string(),
            calls_ingested: get(Counter::CallsIngested),
            audio_minutes_transcribed: (get(Counter::AudioSecondsTranscribed) as f64 / 60.0
                * 100.0)
                .round()
                / 100.0,
            transcripts_analysed: get(Counter::TranscriptsAnalysed),
            leads_scored: get(Counter::LeadsScored),
            texts_processed: get(Counter::TextsProcessed),
            api_requests: get(Counter::ApiRequests),
            webhooks_delivered: get(Counter::WebhooksDelivered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_and_written_one_way() {
        assert_eq!(Month::parse("2026-11").unwrap().to_string(), "2026-11");
        let at = DateTime::parse_from_rfc3339("2026-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        assert_eq!(Month::of(at).to_string(), "2026-12");
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-00"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usage_reads_minutes_from_seconds_and_zero_for_what_was_not_counted() {
        let counts = BTreeMap::from([
            (Counter::AudioSecondsTranscribed, 90),
            (Counter::CallsIngested, 2),
        ]);
        let usage = Usage::from_counts(Month::parse("2026-11").unwrap(), &counts);
        assert_eq!(usage.audio_minutes_transcribed, 1.5);
        assert_eq!(usage.calls_ingested, 2);
        assert_eq!(usage.api_requests, 0);
        for c in Counter::ALL {
            assert_eq!(Counter::parse(c.as_str()), Some(c));
        }
    }
}
