use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallId, LeadId, PhoneNumber, TenantId};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Inbound,
    Outbound,
}

/// A pipeline stage, named where a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Ingest,
    Transcribe,
    Analyze,
    Score,
}

/// Where a call is in the pipeline. `status_detail` on the call says more in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Registered; nothing to transcribe yet.
    Received,
    /// Audio is stored but no speech engine can transcribe it here: it waits for a transcript.
    AwaitingTranscript,
    /// A speech engine is transcribing the audio.
    Transcribing,
    /// A normalised transcript is stored; analysis is queued.
    Transcribed,
    /// The transcript is analysed; scoring is queued.
    Analyzed,
    /// The call counts in its lead's score.
    Scored,
    /// A stage failed; `failed_stage` and `status_detail` say which and why.
    Failed,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::AwaitingTranscript => "awaiting_transcript",
            Self::Transcribing => "transcribing",
            Self::Transcribed => "transcribed",
            Self::Analyzed => "analyzed",
            Self::Scored => "scored",
            Self::Failed => "failed",
        }
    }
}

/// A phrase found in a call, with where it was said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hit {
    /// What was found: `pricing`, `meeting`, `not_interested`, ...
    pub kind: String,
    pub segment: usize,
    /// Seconds from the start of the call.
    pub at: f64,
    pub speaker: String,
    /// The sentence it was found in.
    pub quote: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Roles {
    pub customer: Option<String>,
    pub agent: Option<String>,
    /// 0..1: how sure the role assignment is (1 when metadata or channels settle it).
    pub confidence: f64,
    /// How the roles were decided, in words.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct SentimentSummary {
    /// Compound sentiment -1..1 of the customer's speech.
    pub customer: f64,
    pub agent: f64,
    pub overall: f64,
    /// The customer in the first and last third of the call: the mood's trajectory.
    pub customer_start: f64,
    pub customer_end: f64,
    /// Each turn's sentiment over the call, per side, in time order: what the web app plots.
    /// At most [`SentimentPoint::MAX`] points (a long call's turns averaged in runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<SentimentPoint>,
}

/// A turn's (or a run of turns') sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentimentPoint {
    /// Seconds from the start of the call.
    pub at: f64,
    /// The customer's side, or the agent's.
    pub customer: bool,
    /// Compound sentiment -1..1.
    pub score: f64,
}

impl SentimentPoint {
    pub const MAX: usize = 200;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct TalkMetrics {
    /// The customer's share of the words spoken, 0..1.
    pub customer_talk_ratio: f64,
    pub customer_questions: u32,
    pub customer_words: u32,
    pub agent_words: u32,
    /// The customer's longest turn (consecutive segments), seconds.
    #[serde(default)]
    pub longest_customer_turn: f64,
    /// Time nobody spoke between the first word and the last, seconds.
    #[serde(default)]
    pub silence: f64,
    /// The longest stretch nobody spoke, seconds.
    #[serde(default)]
    pub longest_silence: f64,
}

/// How often a keyword the tenant tracks was said, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeywordCount {
    pub keyword: String,
    pub count: u32,
    /// Seconds from the start of the call, one per mention.
    pub at: Vec<f64>,
}

/// What the analyze stage found in a call's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Analysis {
    pub roles: Roles,
    pub sentiment: SentimentSummary,
    /// Buying signals from the customer, with quotes.
    pub intents: Vec<Hit>,
    /// Objections from the customer, with quotes.
    pub objections: Vec<Hit>,
    /// Junk-call signals (wrong number, spam, voicemail), with quotes.
    pub junk: Vec<Hit>,
    pub keywords: Vec<String>,
    /// The tenant's tracked keywords that were said.
    #[serde(default)]
    pub tracked_keywords: Vec<KeywordCount>,
    /// What the call was about, from the topic taxonomy (`junk` for junk calls).
    #[serde(default)]
    pub topic: Option<String>,
    pub talk: TalkMetrics,
    /// Sentiment-bearing quotes from the customer: the most positive and the most negative.
    pub quotes: Vec<Hit>,
    /// What the analysis could not do, and why (no customer speech, not English, ...).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Analysis {
    /// Junk calls get the topic `junk`, whatever else was said.
    pub fn with_junk_topic(mut self) -> Self {
        if self.is_junk() {
            self.topic = Some("junk".to_owned());
        }
        self
    }

    /// A wrong number, spam or a voicemail with no conversation: scored as junk, and kept out
    /// of model training.
    pub fn is_junk(&self) -> bool {
        self.junk
            .iter()
            .any(|h| h.kind == "wrong_number" || h.kind == "spam")
            || (self.junk.iter().any(|h| h.kind == "voicemail")
                && self.talk.customer_questions == 0
                && self.intents.is_empty())
    }
}

/// A phone call between a lead and the tenant. Field names follow the seed schema
/// (`call_id`, `lead_id`, `call_start_time`, `call_duration`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Call {
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub lead_id: LeadId,
    pub call_start_time: DateTime<Utc>,
    /// Seconds; from metadata, or the transcript's end when metadata has none.
    pub call_duration: Option<f64>,
    pub direction: Direction,
    /// The lead's number (the caller on inbound calls, the callee on outbound ones).
    pub caller: PhoneNumber,
    pub callee: Option<PhoneNumber>,
    /// The call's id at its source (a telephony call SID), when one was given.
    pub external_id: Option<String>,
    /// The file stem the call arrived under, for people.
    pub source_name: String,
    pub recording_key: Option<String>,
    pub recording_sha256: Option<String>,
    /// The transcript as delivered (before normalisation).
    pub transcript_source_key: Option<String>,
    pub transcript_sha256: Option<String>,
    /// The normalised transcript.
    pub transcript_key: Option<String>,
    pub status: CallStatus,
    /// A sentence on the status: why it waits, or why it failed.
    pub status_detail: Option<String>,
    pub failed_stage: Option<Stage>,
    /// Speaker label of the agent, when metadata says so.
    pub agent_speaker: Option<String>,
    pub analysis: Option<Analysis>,
    /// How many PII items (phone numbers, e-mail addresses, card and social security numbers)
    /// were masked in the stored transcript.
    #[serde(default)]
    pub pii_masked: u32,
    /// Seed-schema mirrors of the analysis: customer sentiment and keywords.
    pub sentiment_score: Option<f64>,
    pub keywords: Vec<String>,
    /// Metadata fields the pipeline does not interpret, kept as delivered.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: bumped by every stored update.
    pub version: u64,
}

impl Call {
    pub fn set_status(&mut self, status: CallStatus, detail: Option<String>) {
        self.status = status;
        self.status_detail = detail;
        if status != CallStatus::Failed {
            self.failed_stage = None;
        }
    }

    pub fn fail(&mut self, stage: Stage, reason: impl Into<String>) {
        self.status = CallStatus::Failed;
        self.failed_stage = Some(stage);
        self.status_detail = Some(reason.into());
    }
}
