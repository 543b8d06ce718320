//! Outgoing webhooks: a tenant's subscriptions to its events, the events themselves, and each
//! event's delivery to each subscription, signed per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>): headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`), keyed with the
//! subscription's secret (`whsec_<base64>`).

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{CallId, Factor, LeadId, ScoreCause, Stage, TenantId, Tier};
use crate::error::{Error, Result};

/// Subscriptions a tenant may have.
pub const MAX_SUBSCRIPTIONS_PER_TENANT: usize = 20;
/// Attempts a delivery keeps in its log (the oldest go first); its retry schedule makes 8.
pub const MAX_ATTEMPTS_KEPT: usize = 20;
/// How long a delivery stays in the log.
pub const DELIVERY_RETENTION_DAYS: i64 = 30;
/// How much of a receiver's answer the log keeps.
pub const RESPONSE_EXCERPT_CHARS: usize = 200;
/// How long a receiver has to answer one attempt.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 200;

/// The waits between attempts after the first (which is at once): 5 s, 5 min, 30 min, 2 h,
/// 5 h, 8 h, 8 h; eight attempts over 23 h 35 min, after which a delivery has failed.
pub const DEFAULT_RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(8 * 3600),
];

/// What a tenant may subscribe to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum EventType {
    /// A lead was created (by a call from a new number, the API, or a text).
    #[serde(rename = "lead.created")]
    LeadCreated,
    /// A lead's score was computed and differs from the one before (or is its first).
    #[serde(rename = "lead.score_changed")]
    LeadScoreChanged,
    /// A lead moved from one tier to another (cold, warm, hot), or got its first tier.
    #[serde(rename = "lead.tier_changed")]
    LeadTierChanged,
    /// A call was analysed and its lead scored with it.
    #[serde(rename = "call.scored")]
    CallScored,
    /// A call failed for good at some stage; the reason says why.
    #[serde(rename = "call.failed")]
    CallFailed,
    /// A lead opted out of texts.
    #[serde(rename = "lead.opted_out")]
    LeadOptedOut,
    /// The tenant's model was trained (from outcomes or an export).
    #[serde(rename = "model.trained")]
    ModelTrained,
    /// A follow-up whose action is `webhook` came due (`settings.follow_ups`).
    #[serde(rename = "lead.follow_up_due")]
    LeadFollowUpDue,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::LeadCreated,
        EventType::LeadScoreChanged,
        EventType::LeadTierChanged,
        EventType::CallScored,
        EventType::CallFailed,
        EventType::LeadOptedOut,
        EventType::ModelTrained,
        EventType::LeadFollowUpDue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadCreated => "lead.created",
            EventType::LeadScoreChanged => "lead.score_changed",
            EventType::LeadTierChanged => "lead.tier_changed",
            EventType::CallScored => "call.scored",
            EventType::CallFailed => "call.failed",
            EventType::LeadOptedOut => "lead.opted_out",
            EventType::ModelTrained => "model.trained",
            EventType::LeadFollowUpDue => "lead.follow_up_due",
        }
    }
}

impl EventType {
    /// When it is sent, in a sentence (the OpenAPI document's `webhooks`).
    pub fn description(self) -> &'static str {
        match self {
            EventType::LeadCreated => {
                "A lead was created: a call from a new number, `POST /leads`, or a text."
            }
            EventType::LeadScoreChanged => {
                "A lead's score was computed and differs from the one before, or is its first."
            }
            EventType::LeadTierChanged => {
                "A lead moved from one tier to another (cold, warm, hot), or got its first tier: \
                 `data.tier` is `hot` when it turned hot."
            }
            EventType::CallScored => "A call was analysed and its lead scored with it.",
            EventType::CallFailed => "A call failed for good at a stage; `data.reason` says why.",
            EventType::LeadOptedOut => "A lead opted out of texts (a STOP reply, or recorded).",
            EventType::ModelTrained => "The tenant's model was trained and is in force.",
            EventType::LeadFollowUpDue => {
                "A follow-up whose action is `webhook` came due: the lead turned hot and no one \
                 texted or called it within the follow-up's hours, or it asked by text for a \
                 call (`data.call_at` is the time it asked for, when it named one)."
            }
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason for a score, as an event carries it (its evidence stays behind the API: quotes
/// can name people).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FactorSummary {
    pub rule_id: String,
    pub description: String,
    pub points: f64,
}

impl From<&Factor> for FactorSummary {
    fn from(f: &Factor) -> Self {
        Self {
            rule_id: f.rule_id.to_string(),
            description: f.description.clone(),
            points: (f.points * 100.0).round() / 100.0,
        }
    }
}

/// What an event says. No names, numbers or e-mail addresses: a receiver that needs them reads
/// the lead through the API with its own key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum EventData {
    /// `lead.score_changed`, `lead.tier_changed`.
    Score(ScoreEvent),
    /// `call.scored`, `call.failed`.
    Call(CallEvent),
    /// `lead.follow_up_due`.
    FollowUp(FollowUpEvent),
    /// `lead.created`, `lead.opted_out`.
    Lead(LeadEvent),
    /// `model.trained`.
    Model(ModelEvent),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoreEvent {
    pub lead_id: LeadId,
    /// 0..100.
    pub score: u8,
    pub tier: Tier,
    pub previous_score: Option<u8>,
    pub previous_tier: Option<Tier>,
    /// The calibrated probability that the lead converts, once the tenant has a model.
    pub probability: Option<f64>,
    pub model_version: Option<u64>,
    /// The three largest reasons, largest first.
    pub top_factors: Vec<FactorSummary>,
    pub cause: ScoreCause,
    /// The lead in the API: `GET <base>/leads/{lead_id}`.
    pub lead_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallEvent {
    pub call_id: CallId,
    pub lead_id: LeadId,
    /// `call.scored`: the lead's score with this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// `call.failed`: the stage that failed and why (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FollowUpEvent {
    pub lead_id: LeadId,
    /// The follow-up's id in `settings.follow_ups`.
    pub follow_up_id: String,
    pub trigger: super::FollowUpTrigger,
    /// When the trigger happened: the lead turned hot, or its text came.
    pub since: DateTime<Utc>,
    /// `asked_for_a_call`: the time the lead asked to be called, when its text named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_at: Option<DateTime<Utc>>,
    pub lead_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeadEvent {
    pub lead_id: LeadId,
    /// Where the lead came from (`lead.created`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub lead_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelEvent {
    pub version: u64,
    /// Labelled leads it learned from.
    pub samples: usize,
    /// Area under the ROC curve on held-out leads, where there were enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
}

/// Something that happened in a tenant, as its subscribers receive it: the Standard Webhooks
/// payload (`type`, `timestamp`, `data`). The id is derived from what happened, so the same
/// happening (a retried job) makes the same event, which each subscription gets once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// `msg_` and 28 hex digits, the first 12 its time: ids sort by time. Sent as `webhook-id`.
    #[serde(skip)]
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub timestamp: DateTime<Utc>,
    pub data: EventData,
}

impl Event {
    /// The event of `event_type` about `subject` (what makes it unique within the tenant: a
    /// lead and a score cause, a call, a model version), happened at `at`.
    pub fn new(
        tenant: &TenantId,
        event_type: EventType,
        subject: &str,
        at: DateTime<Utc>,
        data: EventData,
    ) -> Self {
        let digest = Sha256::new()
            .chain_update(tenant.as_str())
            .chain_update([0])
            .chain_update(event_type.as_str())
            .chain_update([0])
            .chain_update(subject)
            .finalize();
        let millis = at.timestamp_millis().clamp(0, 0xffff_ffff_ffff) as u64;
        Self {
            event_id: format!("msg_{millis:012x}{}", hex::encode(&digest[..8])),
            event_type,
            timestamp: at,
            data,
        }
    }

    /// The body every attempt sends.
    pub fn body(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Whether `id` could be an event id (so that junk never reaches the store).
    pub fn plausible_id(id: &str) -> bool {
        id.len() == 32
            && id.starts_with("msg_")
            && id[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// A subscription's signing secret: `whsec_` and the base64 of 24 to 64 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub const PREFIX: &str = "whsec_";

    /// 32 fresh random bytes.
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::internal("the system has no random numbers", e.to_string()))?;
        Ok(Self(bytes))
    }

    /// A secret as the specification writes it; the error says what it should be.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::validation(
                "secret: `whsec_` followed by the base64 of 24 to 64 random bytes (or leave it \
                 out and one is made for you)",
            )
        };
        let encoded = text.strip_prefix(Self::PREFIX).ok_or_else(bad)?;
        let bytes = BASE64.decode(encoded).map_err(|_| bad())?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(bad());
        }
        Ok(Self(bytes))
    }

    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, BASE64.encode(&self.0))
    }

    /// The `webhook-signature` header for message `id` sent at `timestamp` with `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// What `POST /webhooks` takes.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "url": "https://hooks.zapier.com/hooks/catch/123456/abcdef/",
    "events": ["lead.tier_changed"],
    "description": "hot leads to the sales channel"
}))]
pub struct NewSubscription {
    /// Where events are POSTed: https (http and private addresses only locally).
    pub url: String,
    /// The events wanted; at least one.
    pub events: BTreeSet<EventType>,
    #[serde(default)]
    pub description: Option<String>,
    /// `whsec_...`; made for you when left out. Shown once, in the answer to this request.
    #[serde(default)]
    pub secret: Option<String>,
}

/// What `PATCH /webhooks/{id}` takes: each field left out stays as it is.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"enabled": true}))]
pub struct SubscriptionPatch {
    pub url: Option<String>,
    pub events: Option<BTreeSet<EventType>>,
    pub description: Option<String>,
    /// `true` enables a subscription that was disabled (by hand or after repeated failure).
    pub enabled: Option<bool>,
}

/// A tenant's subscription to some of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Subscription {
    pub tenant_id: TenantId,
    /// `wh_` and 16 hex digits.
    pub subscription_id: String,
    pub url: String,
    pub events: BTreeSet<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    /// Why it was disabled, when it is: by hand, or which delivery failed for how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Since when every attempt failed (none while the last attempt succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// The secret's first characters, to tell secrets apart.
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Checks a target URL's form: absolute http(s), a host, no credentials, at most 2,048
/// characters; https unless `allow_private` (local mode).
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url> {
    let bad = |why: &str| Error::validation(format!("url: {why}"));
    if url.len() > MAX_URL {
        return Err(bad("at most 2,048 characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("not an absolute URL ({e})")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(bad("must be https")),
        other => return Err(bad(&format!("`{other}` is not http or https"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not carry a user name or password"));
    }
    Ok(parsed)
}

fn check_events(events: &BTreeSet<EventType>) -> Result<()> {
    if events.is_empty() {
        return Err(Error::validation(format!(
            "events: at least one of {}",
            EventType::ALL.map(EventType::as_str).join(", ")
        )));
    }
    Ok(())
}

fn check_description(d: Option<&str>) -> Result<Option<String>> {
    match d.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control) => {
            Err(Error::validation(format!(
                "description: at most {MAX_DESCRIPTION} characters without control characters"
            )))
        }
        Some(d) => Ok(Some(d.to_owned())),
    }
}

impl Subscription {
    /// A new subscription from `draft` and its secret (the draft's or a fresh one).
    pub fn create(
        tenant: &TenantId,
        draft: &NewSubscription,
        allow_private: bool,
        now: DateTime<Utc>,
    ) -> Result<(Self, WebhookSecret)> {
        check_url(&draft.url, allow_private)?;
        check_events(&draft.events)?;
        let description = check_description(draft.description.as_deref())?;
        let secret = match &draft.secret {
            Some(s) => WebhookSecret::parse(s)?,
            None => WebhookSecret::generate()?,
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let subscription = Self {
            tenant_id: tenant.clone(),
            subscription_id: format!("wh_{}", &id[..16]),
            url: draft.url.clone(),
            events: draft.events.clone(),
            description,
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            failing_since: None,
            secret_hint: format!("{}…", &secret.expose()[..10]),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        Ok((subscription, secret))
    }

    pub fn apply(
        &mut self,
        patch: &SubscriptionPatch,
        allow_private: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(url) = &patch.url {
            check_url(url, allow_private)?;
            self.url = url.clone();
        }
        if let Some(events) = &patch.events {
            check_events(events)?;
            self.events = events.clone();
        }
        if patch.description.is_some() {
            self.description = check_description(patch.description.as_deref())?;
        }
        match patch.enabled {
            Some(true) if !self.enabled => {
                self.enabled = true;
                self.disabled_reason = None;
                self.disabled_at = None;
                self.failing_since = None;
            }
            Some(false) if self.enabled => self.disable("disabled by hand".to_owned(), now),
            _ => {}
        }
        self.updated_at = now;
        Ok(())
    }

    pub fn disable(&mut self, reason: String, now: DateTime<Utc>) {
        self.enabled = false;
        self.disabled_reason = Some(reason);
        self.disabled_at = Some(now);
        self.updated_at = now;
    }

    /// The order stores list a tenant's subscriptions in: oldest first.
    pub fn sort_oldest_first(subscriptions: &mut [Subscription]) {
        subscriptions.sort_by(|a, b| {
            (a.created_at, &a.subscription_id).cmp(&(b.created_at, &b.subscription_id))
        });
    }

    pub fn wants(&self, event: EventType) -> bool {
        self.enabled && self.events.contains(&event)
    }

    /// Whether `id` could be a subscription id.
    pub fn plausible_id(id: &str) -> bool {
        id.len() == 19 && id.starts_with("wh_") && id[3..].bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// An attempt is queued or waiting for its time.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt of its schedule failed, or its subscription was disabled or changed so
    /// that it no longer wants the event; `POST .../redeliver` starts it again.
    Failed,
}

/// One try at delivering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attempt {
    /// 1 for the first; counted across redeliveries.
    pub number: u32,
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong: the connection, the time-out, a refused address, or the start of the
    /// answer to a non-2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// One event on its way to one subscription, with every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delivery {
    pub tenant_id: TenantId,
    pub subscription_id: String,
    /// The event's id: `webhook-id` on every attempt.
    pub event_id: String,
    pub event_type: EventType,
    /// The body every attempt sends.
    pub payload: String,
    pub state: DeliveryState,
    /// The newest `MAX_ATTEMPTS_KEPT` attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// How many attempts were made in all.
    pub attempt_count: u32,
    /// When the current run of attempts began (creation, or a redelivery), and the number of
    /// its first attempt: the retry schedule counts from there.
    pub run_started_at: DateTime<Utc>,
    pub run_first_attempt: u32,
    /// When the next attempt is due, while one is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What ended it, when it failed or its subscription was disabled because of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl Delivery {
    pub fn new(subscription: &Subscription, event: &Event, now: DateTime<Utc>) -> Result<Self> {
        Ok(Self {
            tenant_id: subscription.tenant_id.clone(),
            subscription_id: subscription.subscription_id.clone(),
            event_id: event.event_id.clone(),
            event_type: event.event_type,
            payload: event.body()?,
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            attempt_count: 0,
            run_started_at: now,
            run_first_attempt: 1,
            next_attempt_at: Some(now),
            note: None,
            created_at: now,
            updated_at: now,
            version: 0,
        })
    }

    /// Record an attempt, keeping the newest `MAX_ATTEMPTS_KEPT`.
    pub fn record(&mut self, attempt: Attempt) {
        self.attempt_count = attempt.number;
        self.updated_at = attempt.at;
        self.attempts.push(attempt);
        if self.attempts.len() > MAX_ATTEMPTS_KEPT {
            let extra = self.attempts.len() - MAX_ATTEMPTS_KEPT;
            self.attempts.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn signatures_match_the_specifications_example() {
        // The example in the Standard Webhooks specification (spec/standard-webhooks.md,
        // "Signature scheme"), also its libraries' test vector.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_refused_unless_in_the_specifications_form() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_c2hvcnQ=",
        ] {
            let err = WebhookSecret::parse(bad).unwrap_err().to_string();
            assert!(err.contains("whsec_"), "{bad}: {err}");
        }
        let fresh = WebhookSecret::generate().unwrap();
        assert_eq!(WebhookSecret::parse(&fresh.expose()).unwrap(), fresh);
        assert_ne!(WebhookSecret::generate().unwrap(), fresh);
        assert_eq!(format!("{fresh:?}"), "WebhookSecret(..)");
    }

    #[test]
    fn the_same_happening_makes_the_same_event_id_and_ids_sort_by_time() {
        let at = "2026-12-02T10:00:00Z".parse().unwrap();
        let later = "2026-12-02T10:00:01Z".parse().unwrap();
        let data = EventData::Model(ModelEvent {
            version: 3,
            samples: 40,
            auc: None,
        });
        let a = Event::new(&tenant(), EventType::ModelTrained, "3", at, data.clone());
        let b = Event::new(&tenant(), EventType::ModelTrained, "3", at, data.clone());
        let other = Event::new(&tenant(), EventType::ModelTrained, "4", later, data);
        assert_eq!(a.event_id, b.event_id);
        assert!(a.event_id < other.event_id);
        assert!(Event::plausible_id(&a.event_id), "{}", a.event_id);
        assert!(!Event::plausible_id("msg_../../etc"));
        let body: serde_json::Value = serde_json::from_str(&a.body().unwrap()).unwrap();
        assert_eq!(body["type"], "model.trained");
        assert_eq!(body["data"]["version"], 3);
        assert_eq!(body["timestamp"], "2026-12-02T10:00:00Z");
    }

    #[test]
    fn urls_must_be_https_without_credentials_except_locally() {
        assert!(check_url("https://hooks.example.com/x?y=1", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        for (url, why) in [
            ("http://hooks.example.com/", "must be https"),
            ("ftp://hooks.example.com/", "not http or https"),
            ("hooks.example.com", "not an absolute URL"),
            (
                "https://user:pw@hooks.example.com/",
                "user name or password",
            ),
        ] {
            let err = check_url(url, false).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn a_subscription_needs_events_and_is_enabled_again_by_hand() {
        let now = Utc::now();
        let draft = NewSubscription {
            url: "https://hooks.example.com/".into(),
            events: BTreeSet::new(),
            description: None,
            secret: None,
        };
        let err = Subscription::create(&tenant(), &draft, false, now)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lead.tier_changed"), "{err}");
        let draft = NewSubscription {
            events: [EventType::LeadTierChanged].into(),
            ..draft
        };
        let (mut sub, secret) = Subscription::create(&tenant(), &draft, false, now).unwrap();
        assert!(Subscription::plausible_id(&sub.subscription_id));
        assert!(
            secret
                .expose()
                .starts_with(sub.secret_hint.trim_end_matches('…'))
        );
        assert!(sub.wants(EventType::LeadTierChanged));
        assert!(!sub.wants(EventType::CallScored));
        sub.failing_since = Some(now);
        sub.disable("every attempt failed".into(), now);
        assert!(!sub.wants(EventType::LeadTierChanged));
        let enable = SubscriptionPatch {
            enabled: Some(true),
            ..Default::default()
        };
        sub.apply(&enable, false, now).unwrap();
        assert!(sub.wants(EventType::LeadTierChanged));
        assert_eq!(sub.disabled_reason, None);
        assert_eq!(sub.failing_since, None);
    }

    #[test]
    fn a_delivery_keeps_its_newest_attempts() {
        let now = Utc::now();
        let (sub, _) = Subscription::create(
            &tenant(),
            &NewSubscription {
                url: "https://hooks.example.com/".into(),
                events: [EventType::ModelTrained].into(),
                description: None,
                secret: None,
            },
            false,
            now,
        )
        .unwrap();
        let event = Event::new(
            &tenant(),
            EventType::ModelTrained,
            "1",
            now,
            EventData::Model(ModelEvent {
                version: 1,
                samples: 10,
                auc: None,
            }),
        );
        let mut delivery = Delivery::new(&sub, &event, now).unwrap();
        for number in 1..=25 {
            delivery.record(Attempt {
                number,
                at: now,
                status: Some(503),
                error: None,
                duration_ms: 1,
            });
        }
        assert_eq!(delivery.attempts.len(), MAX_ATTEMPTS_KEPT);
        assert_eq!(delivery.attempts[0].number, 6);
        assert_eq!(delivery.attempt_count, 25);
    }
}
