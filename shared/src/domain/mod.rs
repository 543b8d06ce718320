//! Plain domain types: validated newtypes and records. No I/O lives here.

mod access;
mod address;
mod call;
mod crm;
mod ids;
mod lead;
mod phone;
mod rule;
mod score;
mod sms;
mod transcript;
mod usage;
mod webhook;

pub use access::{
    AUDIT_RETENTION_DAYS, Actor, ApiKey, AuditEntry, Caller, KEY_PREFIX, MAX_KEYS_PER_TENANT,
    NewApiKey, Role, StoredKey, bearer_token, parse_key_token, same_bytes, sha256_hex,
};
pub use address::{is_internal_name, is_public_ip};
pub use call::{
    Analysis, Call, CallStatus, Direction, Hit, KeywordCount, Roles, SentimentPoint,
    SentimentSummary, Stage, TalkMetrics,
};
pub use crm::{
    ApiUsage, AuthorizeDraft, Change, ChangeObject, Connection, ConnectionDraft, ConnectionState,
    Crm, CrmCredentials, CrmSync, CrmUpdate, GrantKind, ScoreFields, StageMap, SyncCounts,
    SyncState, reasons_text,
};
pub use ids::{CallId, LeadId, RuleId, TenantId};
pub use lead::{
    Adjustment, AdjustmentDraft, Lead, LeadJson, LeadPatch, NewLead, Outcome, OutcomeDraft,
    SmsEngagement, SmsIntentHit,
};
pub use phone::{PhoneNumber, reading_stored, suppression_digest};
pub use rule::{RuleDraft, ScoringRule};
pub use score::{
    Evidence, Factor, FactorKind, Score, ScoreCause, ScoreChange, SettingsPatch, TenantSettings,
    Tier, TierThresholds, TwilioRecordings,
};
pub use sms::{
    Answers, ConsentAction, ConsentChange, ConsentDraft, FollowUp, FollowUpAction, FollowUpTrigger,
    LinkDraft, OutgoingText, QuietHours, SendWindow, SmsDirection, SmsEvent, SmsEventKind,
    SmsIntent, SmsMedia, SmsMessage, Survey, SurveyAnswer, SurveyQuestion, TextState, TextingRules,
    TrackedLink, Via, consent_keyword, keyword_form, newest_first,
};
pub use transcript::{Segment, Transcript, TranscriptFormat};
pub use usage::{Counter, Month, Usage};
pub use webhook::{
    Attempt, CallEvent, DEFAULT_RETRY_DELAYS, DELIVERY_RETENTION_DAYS, DELIVERY_TIMEOUT, Delivery,
    DeliveryState, Event, EventData, EventType, FactorSummary, FollowUpEvent, LeadEvent,
    MAX_SUBSCRIPTIONS_PER_TENANT, ModelEvent, NewSubscription, RESPONSE_EXCERPT_CHARS, ScoreEvent,
    Subscription, SubscriptionPatch, WebhookSecret, check_url,
};
