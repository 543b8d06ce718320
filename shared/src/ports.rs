//! Ports: the small traits the handlers use to reach storage, queues and speech engines.
//! Local mode implements them over SQLite and files (`adapters::local`); on AWS over DynamoDB,
//! S3, SQS and Amazon Transcribe. Every method is scoped by tenant.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    ApiKey, AuditEntry, Call, CallId, Connection, Counter, Crm, CrmSync, Delivery, Lead, LeadId,
    LeadJson, Month, OutgoingText, PhoneNumber, RuleId, ScoreCause, ScoreChange, ScoringRule,
    SmsEvent, Subscription, TenantId, Tier, TrackedLink,
};
use crate::error::{Error, Result};
use crate::sms::SmsFold;

/// Filters and paging for a ranked list of leads (highest score first, unscored last).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadQuery {
    pub tier: Option<Tier>,
    #[schemars(range(max = 100))]
    pub min_score: Option<u8>,
    #[schemars(range(max = 100))]
    pub max_score: Option<u8>,
    /// CRM status, exact (case-insensitive).
    pub status: Option<String>,
    /// Matches name, company, e-mail or phone (substring, case-insensitive).
    pub q: Option<String>,
    /// 1..=200; 50 when unset.
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// The order: `score` (highest first, unscored last; the default), `last_activity` (the
    /// latest call, text reply or click first; leads without any last) or `name` (A to Z).
    pub sort: Option<LeadSort>,
    /// From a previous page's `next_cursor` (of the same `sort`).
    pub cursor: Option<String>,
}

/// How a lead list is ordered.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LeadSort {
    #[default]
    Score,
    LastActivity,
    Name,
}

impl LeadQuery {
    pub const MAX_LIMIT: u32 = 200;

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, Self::MAX_LIMIT)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[async_trait]
pub trait LeadStore: Send + Sync {
    async fn get_lead(&self, tenant: &TenantId, id: &LeadId) -> Result<Option<Lead>>;
    async fn find_lead_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Lead>>;
    /// Store a new lead. `Conflict` when its id or phone number is taken in the tenant.
    async fn insert_lead(&self, lead: &Lead) -> Result<()>;
    /// Store `lead` if the stored copy still has `lead.version`; returns the stored lead with
    /// its new version. `Conflict` when someone else updated it first, or the new phone number
    /// belongs to another lead.
    async fn update_lead(&self, lead: &Lead) -> Result<Lead>;
    async fn list_leads(&self, tenant: &TenantId, query: &LeadQuery) -> Result<Page<Lead>>;
    /// The page [`list_leads`](Self::list_leads) gives, as the API answers it. A store that
    /// keeps each lead as its JSON serves the stored documents as they are.
    async fn list_lead_json(&self, tenant: &TenantId, query: &LeadQuery) -> Result<Page<LeadJson>> {
        let page = self.list_leads(tenant, query).await?;
        Ok(Page {
            items: page.items.iter().map(LeadJson::of).collect::<Result<_>>()?,
            next_cursor: page.next_cursor,
        })
    }
    /// Up to `limit` of the tenant's lead ids after `after`, in id order: a walk over every
    /// lead that scores changing under it (and so ranks) cannot make skip or repeat one.
    async fn lead_ids(
        &self,
        tenant: &TenantId,
        after: Option<&LeadId>,
        limit: u32,
    ) -> Result<Vec<LeadId>>;
    /// Count `call` among the lead's calls (once, however often it is noted) and move
    /// `last_called_at` forward to `at` if later. Returns the updated lead.
    async fn note_call(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        call: &CallId,
        at: DateTime<Utc>,
    ) -> Result<Lead>;
    /// Store the lead's new score (with `lead.version` as the expected version) and append
    /// `change` to its score ledger, atomically. Returns `false`, changing nothing, when
    /// `change.cause` was already applied to this lead.
    /// The same write keeps the change in the outbox (see [`LeadStore::undispatched`]) until
    /// its events are handed on.
    async fn save_score(&self, lead: &Lead, change: &ScoreChange) -> Result<bool>;
    /// The tenant's score changes whose events were not handed on (the outbox: written with
    /// each change, cleared by [`LeadStore::dispatched`]), noted before `before`, oldest first,
    /// at most `limit`: `(lead, cause key)`.
    async fn undispatched(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(LeadId, String)>>;
    /// The events of the lead's change for `cause_key` were handed on: it leaves the outbox
    /// (nothing when it had).
    async fn dispatched(&self, tenant: &TenantId, lead: &LeadId, cause_key: &str) -> Result<()>;
    /// The lead's score ledger, oldest first.
    async fn score_history(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<ScoreChange>>;
    /// Remove the lead, its phone number's claim, its score ledger and what marks its calls
    /// and causes as counted, leaving no copy in the store (locally: overwritten and out of
    /// the write-ahead log). `false` when there was no such lead.
    async fn erase_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<bool>;
    /// Set each lead's sync state with `crm` (and nothing else; each lead's version moves on,
    /// so a writer holding an older copy re-reads). A lead that is gone is skipped. Stores
    /// that can write many at once override this (the embedded store: one transaction).
    async fn save_crm_sync(
        &self,
        tenant: &TenantId,
        crm: Crm,
        entries: &[(LeadId, CrmSync)],
    ) -> Result<()> {
        for (id, sync) in entries {
            for attempt in 0.. {
                let Some(mut lead) = self.get_lead(tenant, id).await? else {
                    break;
                };
                lead.crm_sync.insert(crm, sync.clone());
                match self.update_lead(&lead).await {
                    Ok(_) | Err(Error::NotFound(_)) => break,
                    Err(Error::Concurrent(_)) if attempt < 5 => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
pub trait CallStore: Send + Sync {
    async fn get_call(&self, tenant: &TenantId, id: &CallId) -> Result<Option<Call>>;
    /// Store a new call. Returns `false`, changing nothing, when a call with its id exists.
    async fn insert_call(&self, call: &Call) -> Result<bool>;
    /// Store `call` if the stored copy still has `call.version`; returns the stored call.
    async fn update_call(&self, call: &Call) -> Result<Call>;
    /// A lead's calls, oldest first.
    async fn calls_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<Call>>;
    /// Remove a call; removing one that is not there is not an error.
    async fn delete_call(&self, tenant: &TenantId, id: &CallId) -> Result<()>;
    /// The tenant's calls in id order, after `after` (from the first when `None`), at most
    /// `limit`: the reports walk every call a page at a time.
    async fn calls_after(
        &self,
        tenant: &TenantId,
        after: Option<&CallId>,
        limit: u32,
    ) -> Result<Vec<Call>>;
}

#[async_trait]
pub trait RuleStore: Send + Sync {
    async fn list_rules(&self, tenant: &TenantId) -> Result<Vec<ScoringRule>>;
    async fn get_rule(&self, tenant: &TenantId, id: &RuleId) -> Result<Option<ScoringRule>>;
    /// `Conflict` when the id is taken.
    async fn insert_rule(&self, rule: &ScoringRule) -> Result<()>;
    /// Optimistic update, as for leads.
    async fn update_rule(&self, rule: &ScoringRule) -> Result<ScoringRule>;
    /// Give a tenant its starting rules, the first time only (a tenant that later deletes or
    /// disables them is not re-seeded). Returns whether it seeded. A seeded tenant is listed
    /// by [`tenants`](Self::tenants).
    async fn seed_rules(&self, tenant: &TenantId, rules: &[ScoringRule]) -> Result<bool>;
    /// The tenants given their starting rules (every tenant that has scored a lead), after
    /// `after` in id order, at most `limit`: what the scheduled sweep goes through.
    async fn tenants(&self, after: Option<&TenantId>, limit: u32) -> Result<Vec<TenantId>>;
}

/// Each lead's SMS log (messages, statuses, consent, clicks, surveys) and tracked links.
#[async_trait]
pub trait SmsStore: Send + Sync {
    /// Append `event` to its lead's log, once: `false`, changing nothing, when the tenant
    /// already has an event with its id (a replayed webhook).
    async fn append_sms_event(&self, event: &SmsEvent) -> Result<bool>;
    /// A lead's SMS log, oldest first.
    async fn sms_events(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<SmsEvent>>;
    /// The events of a lead's log at `since` or later, oldest first: what a fold has not
    /// folded yet.
    async fn sms_events_since(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        since: DateTime<Utc>,
    ) -> Result<Vec<SmsEvent>>;
    /// The lead's log as last folded, if it was.
    async fn sms_fold(&self, tenant: &TenantId, lead: &LeadId) -> Result<Option<SmsFold>>;
    /// Store `fold` if the stored one still has `fold.version` (0: none stored); returns it
    /// with its new version. `Concurrent` when another fold was stored first.
    async fn put_sms_fold(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        fold: &SmsFold,
    ) -> Result<SmsFold>;
    /// Store a new tracked link. `Conflict` when its token is taken.
    async fn insert_link(&self, link: &TrackedLink) -> Result<()>;
    /// A tracked link by its token, whatever its tenant: the token is the short link.
    async fn get_link(&self, token: &str) -> Result<Option<TrackedLink>>;
    /// A lead's tracked links, oldest first.
    async fn links_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<TrackedLink>>;
    /// A text the product sends to the lead, by its id.
    async fn get_text(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        text_id: &str,
    ) -> Result<Option<OutgoingText>>;
    /// Store `text` if the stored one still has `text.version` (0: none stored); returns it
    /// with its new version. `Concurrent` when another store came first.
    async fn put_text(&self, text: &OutgoingText) -> Result<OutgoingText>;
    /// The texts the product sent or will send to a lead, newest first.
    async fn texts_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<OutgoingText>>;
    /// Remove a lead's SMS log (and what makes each event id count once), its links and the
    /// texts sent to it.
    async fn erase_sms(&self, tenant: &TenantId, lead: &LeadId) -> Result<()>;
    /// Keep `digest` (of a phone number, `domain::suppression_digest`) on the tenant's list of
    /// numbers never to text, however its lead was erased.
    async fn suppress(&self, tenant: &TenantId, digest: &str) -> Result<()>;
    async fn is_suppressed(&self, tenant: &TenantId, digest: &str) -> Result<bool>;
}

/// A stored blob, as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobInfo {
    pub key: String,
    pub size: u64,
    /// Tells one content from another (S3's ETag; a file's length and modification time).
    pub fingerprint: String,
}

/// Recordings and transcripts, by key (`recordings/<tenant>/...`, `transcripts/<tenant>/...`).
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// `NotFound` when there is no such blob.
    async fn get(&self, key: &str) -> Result<Vec<u8>>;
    /// Remove the blob; removing one that is not there is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// The blobs whose keys start with `prefix` (at most 1,000): key, size and fingerprint.
    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>>;
    /// A URL a client can `PUT` the blob to for `expires_in`, where the store has such URLs
    /// (S3's presigned URLs); `None` where it has not (local files).
    async fn upload_url(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<Option<String>> {
        let _ = (key, expires_in);
        Ok(None)
    }
    /// A URL a client can `GET` the blob from for `expires_in`, where the store has such URLs
    /// (S3's presigned URLs); `None` where it has not (local files, served by the API).
    async fn download_url(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<Option<String>> {
        let _ = (key, expires_in);
        Ok(None)
    }
}

/// Per-tenant secrets (a Twilio auth token; later CRM tokens, webhook secrets, API-key hashes):
/// kept apart from data and blobs, encrypted at rest on AWS (SSM SecureString), readable only
/// by the owner locally (0600 files in a 0700 folder). A secret is never logged, never put in
/// a blob, never returned by the API after it is saved.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The tenant's secret `name`, or `None` when it has none.
    async fn get_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<Option<String>>;
    /// Save (or replace) the tenant's secret `name`.
    async fn put_secret(&self, tenant: &TenantId, name: &SecretName, value: &str) -> Result<()>;
    /// Forget the tenant's secret `name`; forgetting one that is not there is not an error.
    async fn delete_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<()>;
}

/// What a secret is called within its tenant: 1 to 64 of `a-z 0-9 _ -`, so it is one safe
/// component of a file path or a parameter name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// A tenant's Twilio account (auth token and account SID).
    pub fn twilio() -> Self {
        Self("twilio".to_owned())
    }

    /// A tenant's Gong company (access key and its secret, base URL).
    pub fn gong() -> Self {
        Self("gong".to_owned())
    }

    /// A webhook subscription's signing secret.
    pub fn webhook(subscription_id: &str) -> Result<Self> {
        Self::parse(&format!("webhook-{}", subscription_id.replace('_', "-")))
    }

    pub fn parse(name: &str) -> Result<Self> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::validation(format!(
                "`{name}` is not a secret name: 1 to 64 of a-z, 0-9, _ and -"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The queues jobs travel on (`Job::queue`): on AWS the SQS queues of the template, each
/// consumed by its own function (the webhooks function consumes two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobQueue {
    Analyze,
    Score,
    Webhook,
    Crm,
}

impl std::fmt::Display for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobQueue::Analyze => "analyze",
            JobQueue::Score => "score",
            JobQueue::Webhook => "webhook",
            JobQueue::Crm => "CRM",
        })
    }
}

/// Work for the asynchronous stages, delivered at least once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    Analyze {
        tenant_id: TenantId,
        call_id: CallId,
    },
    Score {
        tenant_id: TenantId,
        lead_id: LeadId,
        cause: ScoreCause,
    },
    /// Queue re-scores with `cause` for a page of the tenant's leads (those after `after`, in
    /// id order), then the next page: a re-score of every lead that never runs inside a
    /// request and resumes where it stopped. `queued_before` counts the leads of earlier pages.
    Rescore {
        tenant_id: TenantId,
        rescore_id: String,
        cause: ScoreCause,
        #[serde(default)]
        after: Option<LeadId>,
        #[serde(default)]
        queued_before: usize,
    },
    /// The wait for a recording's or transcript's sidecar (`file_name` under the tenant's
    /// recordings, delivered at `received_at`) is over: fail it visibly unless its call exists
    /// by now.
    AwaitMetadata {
        tenant_id: TenantId,
        file_name: String,
        received_at: DateTime<Utc>,
    },
    /// Transcribe a call's recording with a speech engine that runs here (local mode).
    Transcribe {
        tenant_id: TenantId,
        call_id: CallId,
        media_key: String,
    },
    /// Make attempt `attempt` at delivering event `event_id` to webhook subscription
    /// `subscription_id`, not before `not_before` (a queue that cannot wait that long delivers
    /// the job early and the handler sends it on again).
    Deliver {
        tenant_id: TenantId,
        subscription_id: String,
        event_id: String,
        attempt: u32,
        #[serde(default)]
        not_before: Option<DateTime<Utc>>,
    },
    /// A queued text (`handlers::texts`): hop `hop` of its wait, or its send when its minute
    /// has come.
    SendText {
        tenant_id: TenantId,
        lead_id: LeadId,
        text_id: String,
        #[serde(default)]
        hop: u32,
    },
    /// Fetch a call's recording from Twilio (its status callback said it is ready) and take it
    /// in as the call's audio (`handlers::voice`).
    FetchRecording {
        tenant_id: TenantId,
        account_sid: String,
        call_sid: String,
        recording_sid: String,
        channels: u8,
        #[serde(default)]
        duration_seconds: Option<u32>,
    },
    /// A row of an imported call log (`POST /calls/import`): its recording or transcript
    /// fetched from its URL and taken in as a call.
    FetchLoggedCall {
        tenant_id: TenantId,
        call: crate::formats::call_log::LoggedCall,
    },
    /// A page of the tenant's calls from Gong (`handlers::gong::pull`): the first when `from`
    /// is `None`, else the one `cursor` points at in the listing from `from`.
    GongPull {
        tenant_id: TenantId,
        #[serde(default)]
        from: Option<DateTime<Utc>>,
        #[serde(default)]
        cursor: Option<String>,
        #[serde(default)]
        latest: Option<DateTime<Utc>>,
        #[serde(default)]
        pending: Option<DateTime<Utc>>,
    },
    /// Erase everything held about a lead (`DELETE /leads/{id}`).
    Erase {
        tenant_id: TenantId,
        lead_id: LeadId,
    },
    /// Push the scores waiting for `crm` (up to a batch; the job queues itself again while
    /// more wait).
    CrmPush { tenant_id: TenantId, crm: Crm },
    /// Enough new outcomes may have arrived: train a challenger and put it in force if it
    /// beats the model in force on the most recent outcomes (`handlers::model::challenge`).
    /// `weekly`: the scheduled try, made when any outcome arrived since the last one (not only
    /// past `retrain_after_outcomes`).
    Retrain {
        tenant_id: TenantId,
        #[serde(default)]
        weekly: bool,
    },
    /// The hourly sweep (`handlers::schedule`): a page of tenants (those after `after`), each
    /// given what is due (decay re-score, weekly retrain), then the next page. No tenant of
    /// its own: EventBridge Scheduler sends `{"job": "sweep"}`.
    Sweep {
        #[serde(default)]
        after: Option<TenantId>,
    },
    /// Take in what a CRM's webhook reported (its signature or credentials already
    /// checked): answered at once, worked through here, each record or deal read back from the
    /// CRM.
    CrmEvents {
        tenant_id: TenantId,
        crm: Crm,
        events: Vec<crate::domain::Change>,
    },
    /// Take in what a polled CRM (Salesforce) changed since the last poll (queued by the
    /// hourly sweep).
    CrmPoll { tenant_id: TenantId, crm: Crm },
    /// Import a page of the CRM's records (those after the CRM's cursor `after`): leads made
    /// or matched by phone number, with their stage, outcome and fields; then the next page.
    CrmImport {
        tenant_id: TenantId,
        crm: Crm,
        #[serde(default)]
        after: Option<String>,
        /// Pages read before this one (the import stops at `MAX_IMPORT_PAGES`).
        #[serde(default)]
        page: u32,
    },
    /// Mark a page of the tenant's leads (those after `after`, in id order) to be pushed to
    /// `crm`, then queue the next page: a full sync.
    CrmSync {
        tenant_id: TenantId,
        crm: Crm,
        #[serde(default)]
        after: Option<LeadId>,
    },
}

impl Job {
    /// Analyse this call's transcript.
    pub fn analyze(call: &Call) -> Self {
        Job::Analyze {
            tenant_id: call.tenant_id.clone(),
            call_id: call.call_id.clone(),
        }
    }

    /// Re-score this call's lead because the call was analysed.
    pub fn score_new_call(call: &Call) -> Self {
        Job::Score {
            tenant_id: call.tenant_id.clone(),
            lead_id: call.lead_id.clone(),
            cause: ScoreCause::NewCall {
                call_id: call.call_id.clone(),
            },
        }
    }

    /// Whether its work stays in the store and is quick, so that it may join a group commit
    /// (`local::GroupCommit`); work that reaches outside (webhooks, CRMs, a speech engine) or
    /// takes long (training) runs on its own, after the group before it is committed.
    pub fn may_join_group(&self) -> bool {
        match self {
            Job::Analyze { .. }
            | Job::Score { .. }
            | Job::Rescore { .. }
            | Job::AwaitMetadata { .. }
            | Job::Sweep { .. }
            | Job::CrmSync { .. } => true,
            // Erasing deletes blobs, which a lost group cannot bring back.
            Job::Erase { .. }
            | Job::Transcribe { .. }
            | Job::Deliver { .. }
            | Job::SendText { .. }
            | Job::FetchRecording { .. }
            | Job::FetchLoggedCall { .. }
            | Job::GongPull { .. }
            | Job::Retrain { .. }
            | Job::CrmPush { .. }
            | Job::CrmEvents { .. }
            | Job::CrmPoll { .. }
            | Job::CrmImport { .. } => false,
        }
    }

    /// The queue it travels on. On AWS each is an SQS queue, and each queue's function runs
    /// only its own jobs (`handlers::jobs`); locally one queue carries them all.
    pub fn queue(&self) -> JobQueue {
        match self {
            // Amazon Transcribe runs its own jobs; a local engine's job is never sent on AWS,
            // and would be refused by the analyze function's transcriber if it were.
            Job::Analyze { .. } | Job::Transcribe { .. } | Job::AwaitMetadata { .. } => {
                JobQueue::Analyze
            }
            Job::Score { .. }
            | Job::Rescore { .. }
            | Job::Erase { .. }
            | Job::Retrain { .. }
            | Job::Sweep { .. } => JobQueue::Score,
            // Outbound requests to tenants' receivers, to Twilio (texts sent, recordings
            // fetched) and to call logs' media.
            Job::Deliver { .. }
            | Job::SendText { .. }
            | Job::FetchRecording { .. }
            | Job::FetchLoggedCall { .. } => JobQueue::Webhook,
            // Vendors' APIs pulled: the CRMs, and Gong's calls.
            Job::CrmPush { .. }
            | Job::GongPull { .. }
            | Job::CrmSync { .. }
            | Job::CrmImport { .. }
            | Job::CrmEvents { .. }
            | Job::CrmPoll { .. } => JobQueue::Crm,
        }
    }

    /// The stage that runs it, as logs and metrics name it.
    pub fn stage(&self) -> &'static str {
        match self {
            Job::Analyze { .. } => "analyze",
            Job::AwaitMetadata { .. } => "ingest",
            Job::Score { .. }
            | Job::Rescore { .. }
            | Job::Erase { .. }
            | Job::Retrain { .. }
            | Job::Sweep { .. } => "score",
            Job::Transcribe { .. } => "transcribe",
            Job::Deliver { .. } => "webhooks",
            Job::SendText { .. } => "texts",
            Job::FetchRecording { .. } | Job::FetchLoggedCall { .. } | Job::GongPull { .. } => {
                "ingest"
            }
            Job::CrmPush { .. }
            | Job::CrmSync { .. }
            | Job::CrmImport { .. }
            | Job::CrmEvents { .. }
            | Job::CrmPoll { .. } => "crm",
        }
    }

    /// Identifies the work: a queue may drop a job whose key is already waiting.
    pub fn key(&self) -> String {
        match self {
            Job::Analyze { tenant_id, call_id } => format!("analyze/{tenant_id}/{call_id}"),
            Job::Score {
                tenant_id,
                lead_id,
                cause,
            } => format!("score/{tenant_id}/{lead_id}/{}", cause.key()),
            Job::Transcribe {
                tenant_id, call_id, ..
            } => format!("transcribe/{tenant_id}/{call_id}"),
            Job::AwaitMetadata {
                tenant_id,
                file_name,
                received_at,
            } => format!(
                "await-metadata/{tenant_id}/{file_name}/{}",
                received_at.timestamp_millis()
            ),
            Job::Rescore {
                tenant_id,
                rescore_id,
                after,
                ..
            } => format!(
                "rescore/{tenant_id}/{rescore_id}/{}",
                after.as_ref().map_or("", |a| a.as_str())
            ),
            Job::Deliver {
                tenant_id,
                subscription_id,
                event_id,
                attempt,
                ..
            } => format!("deliver/{tenant_id}/{subscription_id}/{event_id}/{attempt}"),
            Job::SendText {
                tenant_id,
                lead_id,
                text_id,
                hop,
            } => format!("text/{tenant_id}/{lead_id}/{text_id}/{hop}"),
            Job::FetchRecording {
                tenant_id,
                recording_sid,
                ..
            } => format!("fetch-recording/{tenant_id}/{recording_sid}"),
            Job::FetchLoggedCall { tenant_id, call } => {
                format!("fetch-logged/{tenant_id}/{}", call.name)
            }
            Job::GongPull {
                tenant_id, cursor, ..
            } => {
                // Gong's cursors are long tokens: their digest names the page.
                use sha2::Digest;
                let page = cursor
                    .as_deref()
                    .map(|c| hex::encode(&sha2::Sha256::digest(c.as_bytes())[..12]))
                    .unwrap_or_default();
                format!("gong-pull/{tenant_id}/{page}")
            }
            Job::Erase { tenant_id, lead_id } => format!("erase/{tenant_id}/{lead_id}"),
            Job::CrmPush { tenant_id, crm } => format!("crm-push/{tenant_id}/{crm}"),
            Job::CrmPoll { tenant_id, crm } => format!("crm-poll/{tenant_id}/{crm}"),
            Job::Retrain { tenant_id, weekly } => {
                format!(
                    "retrain/{tenant_id}{}",
                    if *weekly { "/weekly" } else { "" }
                )
            }
            Job::Sweep { after } => {
                format!("sweep/{}", after.as_ref().map_or("", |a| a.as_str()))
            }
            Job::CrmEvents {
                tenant_id,
                crm,
                events,
            } => {
                // The same changes are the same work: each is read back from the CRM when run.
                use sha2::Digest;
                let mut hash = sha2::Sha256::new();
                for e in events {
                    hash.update(format!("{:?}/{}\n", e.object, e.id).as_bytes());
                }
                format!(
                    "crm-events/{tenant_id}/{crm}/{}",
                    hex::encode(&hash.finalize()[..12])
                )
            }
            Job::CrmImport {
                tenant_id,
                crm,
                after,
                ..
            } => format!(
                "crm-import/{tenant_id}/{crm}/{}",
                after.as_deref().unwrap_or("")
            ),
            Job::CrmSync {
                tenant_id,
                crm,
                after,
            } => format!(
                "crm-sync/{tenant_id}/{crm}/{}",
                after.as_ref().map_or("", |a| a.as_str())
            ),
        }
    }

    /// The tenant it is for; `None` for the sweep, which is for every tenant.
    pub fn tenant(&self) -> Option<&TenantId> {
        Some(match self {
            Job::Sweep { .. } => return None,
            Job::Analyze { tenant_id, .. }
            | Job::Score { tenant_id, .. }
            | Job::Rescore { tenant_id, .. }
            | Job::AwaitMetadata { tenant_id, .. }
            | Job::Transcribe { tenant_id, .. }
            | Job::Deliver { tenant_id, .. }
            | Job::SendText { tenant_id, .. }
            | Job::FetchRecording { tenant_id, .. }
            | Job::FetchLoggedCall { tenant_id, .. }
            | Job::GongPull { tenant_id, .. }
            | Job::Erase { tenant_id, .. }
            | Job::CrmPush { tenant_id, .. }
            | Job::Retrain { tenant_id, .. }
            | Job::CrmSync { tenant_id, .. }
            | Job::CrmImport { tenant_id, .. }
            | Job::CrmEvents { tenant_id, .. }
            | Job::CrmPoll { tenant_id, .. } => tenant_id,
        })
    }
}

#[async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, job: &Job) -> Result<()>;
    /// Send `job` to be delivered no sooner than `delay` from now (SQS holds a message up to
    /// 15 minutes; a longer wait is the handler's to renew).
    async fn send_after(&self, job: &Job, delay: std::time::Duration) -> Result<()>;
    /// Send many jobs (batched where the queue can).
    async fn send_all(&self, jobs: &[Job]) -> Result<()> {
        for job in jobs {
            self.send(job).await?;
        }
        Ok(())
    }
}

/// What a speech engine said when asked to transcribe a recording.
#[derive(Debug, Clone, PartialEq)]
pub enum TranscriptionStart {
    /// Transcription is running; its result arrives through the `transcribed` handler.
    Started { job_name: String },
    /// The engine runs in this process: queue a `Job::Transcribe`, whose worker calls
    /// [`Transcriber::transcribe`].
    RunHere,
    /// No engine can transcribe this here; the call waits for a transcript. The reason says
    /// what to do.
    Unavailable { reason: String },
}

/// What a speech engine that runs here heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// Segments with start and end seconds, text and confidence; by channel for stereo.
    pub transcript: crate::domain::Transcript,
    /// Seconds of audio, from the audio itself.
    pub duration: f64,
    /// Seconds the engine computed for it (real-time factor = this / `duration`).
    pub compute_seconds: f64,
    /// The engine process's peak resident memory, where it reports one.
    pub peak_rss_mib: Option<f64>,
}

#[async_trait]
pub trait Transcriber: Send + Sync {
    async fn start(&self, call: &Call, media_key: &str) -> Result<TranscriptionStart>;

    /// Transcribe a recording now (engines that answer `RunHere`). `Validation` when the audio
    /// cannot be transcribed (the reason goes on the call); other errors may pass on a retry.
    async fn transcribe(&self, audio: &[u8], extension: &str) -> Result<Speech> {
        let _ = (audio, extension);
        Err(crate::error::Error::internal(
            "this speech engine does not transcribe in process",
            std::fmt::Error,
        ))
    }

    /// Forget what the engine keeps of a call's transcription (an erased call): its job's
    /// record, where the engine keeps one. Nothing where it keeps nothing.
    async fn forget(&self, call: &Call) -> Result<()> {
        let _ = call;
        Ok(())
    }
}

/// Whether a request may go on, and if not, how long until it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    Limited { retry_after: std::time::Duration },
}

/// A tenant's API keys. Keys are looked up by tenant and id (both named in the key itself), and
/// the secret checked against the stored hash.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Store a new key. `Conflict` when its id is taken in the tenant.
    async fn insert_key(&self, key: &ApiKey) -> Result<()>;
    async fn get_key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<ApiKey>>;
    /// The tenant's keys, revoked ones included, oldest first.
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>>;
    /// Revoke the key (from `at`; a second revoke keeps the first time); the key as it now
    /// stands, or `None` when there is no such key.
    async fn revoke_key(
        &self,
        tenant: &TenantId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKey>>;
    /// Record a use of the key at `at`. Changes nothing else: never undoes a revoke.
    async fn touch_key(&self, tenant: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<()>;
}

/// A tenant's audit log: one entry per write request, kept `AUDIT_RETENTION_DAYS`.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Add an entry (an entry id already there is left as it is).
    async fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// The tenant's entries, newest first, `limit` at a time; `cursor` from the previous page.
    async fn entries(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEntry>>;
}

/// A page of `take` audit entries (from a read of `take + 1`), and the cursor after it when
/// there are more: the hex of the last entry id.
pub fn audit_page(mut items: Vec<AuditEntry>, take: u32) -> Page<AuditEntry> {
    let more = items.len() > take as usize;
    items.truncate(take as usize);
    let next_cursor = more
        .then(|| items.last().map(|e| hex::encode(e.entry_id.as_bytes())))
        .flatten();
    Page { items, next_cursor }
}

/// The entry id an audit page's cursor names; the error says it is not one.
pub fn decode_audit_cursor(cursor: &str) -> Result<String> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
        .ok_or_else(|| {
            Error::validation(format!(
                "cursor: `{cursor}` is not a cursor this API returned"
            ))
        })
}

/// What each tenant used, per month: atomic additions to its counters.
#[async_trait]
pub trait UsageMeter: Send + Sync {
    /// Add `n` to each counter named, for `tenant` in `month`, at once.
    async fn add(&self, tenant: &TenantId, month: Month, counts: &[(Counter, u64)]) -> Result<()>;
    /// The tenant's counters in `month`; a counter nothing was added to is absent.
    async fn counts(&self, tenant: &TenantId, month: Month) -> Result<BTreeMap<Counter, u64>>;
}

/// Requests counted per key in fixed windows (a tenant's API requests per minute).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Count one request for `key` in the current window (windows start at whole multiples of
    /// `window` since the Unix epoch): `Admitted` while the window's count is at most `limit`,
    /// then `Limited` until the window ends.
    async fn admit(&self, key: &str, limit: u32, window: std::time::Duration) -> Result<Admission>;
}

/// The fixed window `now` falls in: its number since the Unix epoch, and the time left in it.
pub fn fixed_window(now: DateTime<Utc>, window: std::time::Duration) -> (u64, std::time::Duration) {
    let length = window.as_millis().max(1) as u64;
    let at = now.timestamp_millis().max(0) as u64;
    let index = at / length;
    let left = (index + 1) * length - at;
    (index, std::time::Duration::from_millis(left))
}

/// Each tenant's webhook subscriptions, and the deliveries of its events to them.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Store a new subscription. `Conflict` when its id is taken in the tenant.
    async fn insert_subscription(&self, subscription: &Subscription) -> Result<()>;
    async fn get_subscription(&self, tenant: &TenantId, id: &str) -> Result<Option<Subscription>>;
    /// The tenant's subscriptions, oldest first.
    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>>;
    /// Store `subscription` if the stored copy still has its version; the stored one after.
    /// `Concurrent` when it changed, `NotFound` when it is gone.
    async fn update_subscription(&self, subscription: &Subscription) -> Result<Subscription>;
    /// Remove the subscription; `false` when there was none. Its deliveries go with it (on
    /// DynamoDB they are left unreachable, and expire).
    async fn delete_subscription(&self, tenant: &TenantId, id: &str) -> Result<bool>;
    /// Store a new delivery; `false`, changing nothing, when the subscription already has one
    /// of its event.
    async fn insert_delivery(&self, delivery: &Delivery) -> Result<bool>;
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        subscription: &str,
        event_id: &str,
    ) -> Result<Option<Delivery>>;
    /// Optimistic update, as for subscriptions.
    async fn update_delivery(&self, delivery: &Delivery) -> Result<Delivery>;
    /// A subscription's deliveries, newest event first, `limit` at a time (`cursor`: the
    /// previous page's last event id). Kept `DELIVERY_RETENTION_DAYS`.
    async fn deliveries(
        &self,
        tenant: &TenantId,
        subscription: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Delivery>>;
}

/// A page of `take` deliveries (from a read of `take + 1`), and the cursor after it.
pub fn delivery_page(mut items: Vec<Delivery>, take: u32) -> Page<Delivery> {
    let more = items.len() > take as usize;
    items.truncate(take as usize);
    let next_cursor = more
        .then(|| items.last().map(|d| d.event_id.clone()))
        .flatten();
    Page { items, next_cursor }
}

/// The event id a delivery page's cursor names; the error says it is not one.
pub fn decode_delivery_cursor(cursor: &str) -> Result<&str> {
    if crate::domain::Event::plausible_id(cursor) {
        Ok(cursor)
    } else {
        Err(Error::validation(format!(
            "cursor: `{cursor}` is not a cursor this API returned"
        )))
    }
}

/// Each tenant's CRM connections, and the leads whose scores wait to be pushed to them.
#[async_trait]
pub trait CrmStore: Send + Sync {
    /// Store a new connection. `Conflict` when the tenant has one to that CRM.
    async fn insert_connection(&self, connection: &Connection) -> Result<()>;
    async fn get_connection(&self, tenant: &TenantId, crm: Crm) -> Result<Option<Connection>>;
    /// The tenant's connections, in `Crm` order.
    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>>;
    /// Store `connection` if the stored copy still has its version; the stored one after.
    /// `Concurrent` when it changed, `NotFound` when it is gone.
    async fn update_connection(&self, connection: &Connection) -> Result<Connection>;
    /// Remove the connection and its waiting leads; `false` when there was none.
    async fn delete_connection(&self, tenant: &TenantId, crm: Crm) -> Result<bool>;
    /// Note that these leads' scores changed at `at` (ms since the epoch): each waits once
    /// however often it is noted, with the time of its latest note. Nothing waits for a CRM
    /// the tenant has no connection to.
    async fn mark_pending(
        &self,
        tenant: &TenantId,
        crm: Crm,
        leads: &[LeadId],
        at: i64,
    ) -> Result<()>;
    /// Up to `limit` waiting leads, in lead id order, each with the time it was last noted.
    async fn pending(&self, tenant: &TenantId, crm: Crm, limit: u32) -> Result<Vec<(LeadId, i64)>>;
    /// Stop waiting for these leads, except those noted again since (their time differs): a
    /// change that came during a push is pushed next.
    async fn clear_pending(
        &self,
        tenant: &TenantId,
        crm: Crm,
        leads: &[(LeadId, i64)],
    ) -> Result<()>;
}

/// One signed webhook request.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`, `content-type`, `user-agent`.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What a receiver answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// The start of its body (`RESPONSE_EXCERPT_CHARS`).
    pub excerpt: String,
}

/// Sends webhook requests to tenants' receivers, refusing targets the deployment does not
/// allow (on AWS: loopback, private, link-local and other non-public addresses).
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Whether `url` is a target this deployment may send to (resolving its host); the error
    /// (`Validation`) says why not.
    async fn check_target(&self, url: &str) -> Result<()>;
    /// POST once, without following redirects. `Err` with a sentence when there was no answer
    /// (refused address, no connection, time-out).
    async fn post(&self, request: &Outgoing) -> std::result::Result<Answer, String>;
}

/// A request to a vendor's API (a CRM's), as the vendor adapters make them. Its `Debug`
/// names the headers without their values (one carries the token).
#[derive(Clone, PartialEq)]
pub struct VendorRequest {
    pub method: &'static str,
    pub url: String,
    /// `authorization` among them: never logged.
    pub headers: Vec<(&'static str, String)>,
    /// JSON, unless the headers give another `content-type` (a form, for OAuth).
    pub body: Option<String>,
}

impl std::fmt::Debug for VendorRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.as_ref().map(String::len))
            .finish()
    }
}

/// What a vendor's API answered.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorResponse {
    pub status: u16,
    /// `Retry-After`, in seconds, when the answer has one.
    pub retry_after: Option<std::time::Duration>,
    /// `Sforce-Limit-Info` (`api-usage=25/15000`), when the answer has one: the account's use
    /// of its daily limit.
    pub limit_info: Option<String>,
    /// At most `MAX_VENDOR_RESPONSE_BYTES`; a longer answer is an error.
    pub body: String,
}

impl VendorResponse {
    /// An answer with only a status and a body (no `Retry-After`, no limit info).
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            retry_after: None,
            limit_info: None,
            body: body.into(),
        }
    }
}

/// The longest answer read from a vendor's API (4 MiB: a page of 100 CRM records is a few
/// kilobytes).
pub const MAX_VENDOR_RESPONSE_BYTES: usize = 4 << 20;

/// Sends requests to vendors' APIs; on AWS to public addresses only, as webhooks.
#[async_trait]
pub trait VendorHttp: Send + Sync {
    /// Whether `url` is a base URL this deployment may call (resolving its host); the error
    /// (`Validation`) says why not.
    async fn check_base(&self, url: &str) -> Result<()>;
    /// Send once, without following redirects. `Err` with a sentence when there was no answer.
    async fn send(&self, request: &VendorRequest) -> std::result::Result<VendorResponse, String>;
    /// Fetch a file (a recording): its bytes, at most `max_bytes` (`Err` naming the limit past
    /// it), within `timeout`. Redirects are followed (Twilio serves media from its CDN).
    async fn download(
        &self,
        request: &VendorRequest,
        max_bytes: usize,
        timeout: std::time::Duration,
    ) -> std::result::Result<Download, String>;
}

/// A file a vendor's API answered with; an error's document when `status` is not 2xx.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub status: u16,
    pub bytes: Vec<u8>,
}
