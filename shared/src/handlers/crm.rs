//! CRM sync: connecting a tenant's CRM, pushing each changed score to the CRM record of its
//! lead, and taking in what the CRM learns (stages, deals won and lost, owners).
//!
//! A score change marks its lead as waiting for each connected CRM (one row per lead however
//! often it changes: several changes become one push) and queues a `Job::CrmPush`. A push
//! takes up to a batch of waiting leads (`Crm::push_batch`), skips those whose CRM record
//! already shows their current score (a digest kept per lead and CRM), matches the others to
//! records by phone number and then e-mail address (or creates records, when the tenant chose
//! that), writes them (HubSpot's batch update, 100 a call; Salesforce's collections, 200;
//! Pipedrive's update, one a lead), and keeps each
//! lead's `crm_sync`. It keeps
//! to the account's rate limit (`crate::crm::Throttle`); over it, or answered 429, the push
//! waits as long as it was told and goes on. Nothing the CRM refuses is retried as it stands:
//! the lead's `crm_sync` and the connection's `last_error` say why.

use std::sync::Arc;

use chrono::Utc;
use tracing::{info, instrument, warn};

use crate::Deps;
use crate::crm::{self, Change, ChangeObject, CrmApi, CrmError, CrmRecord, HookTarget};
use crate::domain::{
    ApiUsage, Connection, ConnectionDraft, ConnectionState, Crm, CrmCredentials, CrmSync,
    CrmUpdate, Event, EventType, GrantKind, Lead, LeadId, ScoreCause, ScoreFields, SyncState,
    TenantId,
};
use crate::error::{Error, Result};
use crate::ports::{Job, SecretName};

/// The contacts of one deal whose leads a deal's stage reaches.
const MAX_DEAL_CONTACTS: usize = 20;
/// The most pages of CRM records an import reads (100 each: 100,000 records); the rest stay
/// in the CRM (the log says so).
pub const MAX_IMPORT_PAGES: u32 = 1000;
/// Leads a sync page marks at once.
const SYNC_PAGE: u32 = 500;
/// The user name a CRM that subscribes its webhooks through its API (Pipedrive) sends with
/// them; the password is made afresh at each connect and kept with the credentials.
pub const HOOK_USER: &str = "leadscore";

fn secret_name(crm: Crm) -> SecretName {
    SecretName::parse(&format!("crm-{crm}")).expect("a CRM's name is a secret name")
}

/// The CRM's API for a connection, with its credentials; a refresh token the CRM replaces is
/// kept in the secret store at once.
fn open(deps: &Deps, connection: &Connection, credentials: &CrmCredentials) -> Box<dyn CrmApi> {
    crm::api(
        connection,
        credentials,
        deps.http.clone(),
        deps.rate.clone(),
        Some(Arc::new(SecretKeeper::new(deps, connection, credentials))),
    )
}

/// Keeps a connection's credentials with a refresh token the CRM replaced.
struct SecretKeeper {
    secrets: Arc<dyn crate::ports::SecretStore>,
    tenant: TenantId,
    crm: Crm,
    credentials: CrmCredentials,
    latest: std::sync::Mutex<Option<String>>,
}

impl SecretKeeper {
    fn new(deps: &Deps, connection: &Connection, credentials: &CrmCredentials) -> Self {
        Self {
            secrets: deps.secrets.clone(),
            tenant: connection.tenant_id.clone(),
            crm: connection.crm,
            credentials: credentials.clone(),
            latest: std::sync::Mutex::new(None),
        }
    }

    /// The last refresh token kept, if the CRM replaced one.
    fn latest(&self) -> Option<String> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait::async_trait]
impl crm::oauth::TokenKeeper for SecretKeeper {
    async fn keep(&self, refresh_token: &str) -> Result<()> {
        let mut kept = self.credentials.clone();
        kept.token = refresh_token.to_owned();
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(refresh_token.to_owned());
        self.secrets
            .put_secret(
                &self.tenant,
                &secret_name(self.crm),
                &serde_json::to_string(&kept)?,
            )
            .await
    }

    async fn current(&self) -> Result<Option<String>> {
        let Some(stored) = self
            .secrets
            .get_secret(&self.tenant, &secret_name(self.crm))
            .await?
        else {
            return Ok(None);
        };
        let kept: CrmCredentials = serde_json::from_str(&stored)
            .map_err(|e| Error::internal("stored CRM credentials do not parse", e))?;
        Ok(Some(kept.token))
    }
}

async fn credentials(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<Option<CrmCredentials>> {
    deps.secrets
        .get_secret(tenant, &secret_name(crm))
        .await?
        .map(|s| {
            serde_json::from_str(&s)
                .map_err(|e| Error::internal("stored CRM credentials do not parse", e))
        })
        .transpose()
}

/// Connect (or reconnect) a CRM: check the token by setting up what a push writes, keep the
/// credentials in the secret store, and queue a push of every lead's score.
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm))]
pub async fn connect(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    draft: &ConnectionDraft,
) -> Result<Connection> {
    let previous = deps.crm.get_connection(tenant, crm).await?;
    let (connection, credentials) = draft.validate(
        tenant,
        crm,
        previous.as_ref(),
        deps.config.allow_private_webhook_targets,
        Utc::now(),
    )?;
    if credentials.grant(crm) == GrantKind::JwtBearer {
        crm::oauth::signing_key(&credentials.token)
            .map_err(|why| Error::validation(format!("private_key: {why}")))?;
    }
    establish(deps, previous, connection, credentials).await
}

/// Connect with credentials checked as far as they can be without the CRM: set up what a
/// push writes (which checks them with the CRM), keep them in the secret store, keep the
/// connection (replacing `previous`) and queue the first import or a full sync.
pub(crate) async fn establish(
    deps: &Deps,
    previous: Option<Connection>,
    mut connection: Connection,
    mut credentials: CrmCredentials,
) -> Result<Connection> {
    let (tenant, crm) = (&connection.tenant_id.clone(), connection.crm);
    let now = Utc::now();
    deps.http.check_base(&connection.base_url).await?;
    let keeper = Arc::new(SecretKeeper::new(deps, &connection, &credentials));
    let api = crm::api(
        &connection,
        &credentials,
        deps.http.clone(),
        deps.rate.clone(),
        Some(keeper.clone()),
    );
    let hook = hook_target(deps, tenant, crm)?;
    let prepared = api.prepare(hook.as_ref()).await.map_err(|e| match e {
        CrmError::Refused(why) => Error::validation(format!("token: {crm} refused it ({why})")),
        other => Error::transient(
            format!("{crm} could not be reached: {other}"),
            std::fmt::Error,
        ),
    })?;
    connection.setup = prepared.setup;
    connection.field_keys = prepared.field_keys;
    connection.objects = prepared.objects;
    if let Some((used, limit)) = api.usage() {
        connection.api_usage = Some(crate::domain::ApiUsage {
            used,
            limit,
            at: now,
        });
    }
    let replaced_hooks = std::mem::replace(&mut connection.hooks, prepared.hooks);
    if hook.is_some() {
        connection.accepts_webhooks = !connection.hooks.is_empty();
        credentials.hook_password = hook.map(|h| h.password);
    }
    if let Some(rotated) = keeper.latest() {
        credentials.token = rotated;
    }
    // The credentials first: a connection is never without them.
    deps.secrets
        .put_secret(
            tenant,
            &secret_name(crm),
            &serde_json::to_string(&credentials)?,
        )
        .await?;
    let stored = match previous {
        Some(_) => deps.crm.update_connection(&connection).await?,
        None => {
            deps.crm.insert_connection(&connection).await?;
            connection
        }
    };
    // The first time, the CRM's records in (leads made or matched with their outcomes, from
    // which a first model is trained when there are enough), and then every lead's score out:
    // a lead the import matched needs no search. Later, the scores out.
    let job = if stored.counts.imported == 0 {
        Job::CrmImport {
            tenant_id: tenant.clone(),
            crm,
            after: None,
            page: 0,
        }
    } else {
        full_sync(tenant, crm)
    };
    deps.queue.send(&job).await?;
    // A reconnect's webhooks replace the last ones (whose password is no longer kept).
    if !replaced_hooks.is_empty()
        && let Err(e) = api.unsubscribe(&replaced_hooks).await
    {
        warn!(error = %e, hooks = ?replaced_hooks, "the last connection's webhooks could not be removed");
    }
    info!("CRM connected; every lead's score queued for it");
    Ok(stored)
}

/// Where a CRM that subscribes its webhooks through its API (Pipedrive) is to send them: this
/// tenant's webhook path at the API's public address, with a fresh password. `None` for a CRM
/// whose webhooks are set elsewhere (HubSpot) and when the public address is not known.
fn hook_target(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<Option<HookTarget>> {
    let (Crm::Pipedrive, Some(base)) = (crm, deps.config.public_url.as_deref()) else {
        return Ok(None);
    };
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal("the system has no random numbers", e.to_string()))?;
    Ok(Some(HookTarget {
        url: format!("{}/{crm}/{tenant}/events", base.trim_end_matches('/')),
        user: HOOK_USER.to_owned(),
        password: hex::encode(bytes),
    }))
}

/// The secret the CRM's webhooks to this tenant are checked against, when there is one:
/// HubSpot's client secret, Pipedrive's basic-auth password.
pub async fn webhook_secret(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<Option<String>> {
    if deps.crm.get_connection(tenant, crm).await?.is_none() {
        return Ok(None);
    }
    Ok(credentials(deps, tenant, crm)
        .await?
        .and_then(|c| c.webhook_secret(crm).map(str::to_owned)))
}

pub async fn get(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<Connection> {
    deps.crm
        .get_connection(tenant, crm)
        .await?
        .ok_or_else(|| Error::not_found(format!("a connection to {crm}")))
}

/// Disconnect: the connection, its credentials, its webhooks in the CRM (best effort) and the
/// scores waiting for it go; the CRM's records keep what was pushed.
pub async fn disconnect(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<bool> {
    let connection = deps.crm.get_connection(tenant, crm).await?;
    if let Some(connection) = connection.filter(|c| !c.hooks.is_empty())
        && let Some(credentials) = credentials(deps, tenant, crm).await?
    {
        let api = open(deps, &connection, &credentials);
        if let Err(e) = api.unsubscribe(&connection.hooks).await {
            warn!(error = %e, "the CRM's webhooks could not be removed; remove them in the CRM");
        }
    }
    if !deps.crm.delete_connection(tenant, crm).await? {
        return Ok(false);
    }
    deps.secrets
        .delete_secret(tenant, &secret_name(crm))
        .await?;
    info!(tenant = %tenant, crm = %crm, "CRM disconnected");
    Ok(true)
}

/// Queue a push of every lead's score (those the CRM already shows are skipped).
pub async fn request_sync(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<Connection> {
    let connection = get(deps, tenant, crm).await?;
    deps.queue.send(&full_sync(tenant, crm)).await?;
    Ok(connection)
}

fn full_sync(tenant: &TenantId, crm: Crm) -> Job {
    Job::CrmSync {
        tenant_id: tenant.clone(),
        crm,
        after: None,
    }
}

/// A page of a full sync (`Job::CrmSync`): mark the leads, queue their push and the next page.
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm))]
pub async fn sync_page(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    after: Option<&LeadId>,
) -> Result<()> {
    if deps.crm.get_connection(tenant, crm).await?.is_none() {
        return Ok(());
    }
    let ids = deps.leads.lead_ids(tenant, after, SYNC_PAGE).await?;
    let now = Utc::now();
    deps.crm
        .mark_pending(tenant, crm, &ids, now.timestamp_millis())
        .await?;
    let mut jobs = vec![push_job(tenant, crm)];
    if ids.len() == SYNC_PAGE as usize {
        jobs.push(Job::CrmSync {
            tenant_id: tenant.clone(),
            crm,
            after: ids.last().cloned(),
        });
    }
    deps.queue.send_all(&jobs).await
}

fn push_job(tenant: &TenantId, crm: Crm) -> Job {
    Job::CrmPush {
        tenant_id: tenant.clone(),
        crm,
    }
}

/// Hand score changes among `events` to every connected CRM: their leads wait for a push, and
/// a push is queued. One read when the tenant has no CRM.
pub async fn on_events(deps: &Deps, tenant: &TenantId, events: &[Event]) -> Result<()> {
    let mut leads: Vec<LeadId> = events
        .iter()
        .filter(|e| {
            matches!(
                e.event_type,
                EventType::LeadScoreChanged | EventType::LeadTierChanged
            )
        })
        .filter_map(|e| match &e.data {
            crate::domain::EventData::Score(s) => Some(s.lead_id.clone()),
            _ => None,
        })
        .collect();
    if leads.is_empty() {
        return Ok(());
    }
    leads.sort();
    leads.dedup();
    let connections = deps.crm.list_connections(tenant).await?;
    let now = Utc::now();
    let mut jobs = Vec::new();
    for connection in connections {
        deps.crm
            .mark_pending(tenant, connection.crm, &leads, now.timestamp_millis())
            .await?;
        jobs.push(push_job(tenant, connection.crm));
    }
    deps.queue.send_all(&jobs).await
}

/// A page of the first sync's import (`Job::CrmImport`): each CRM record with a phone number
/// becomes the tenant's lead for that number (made, or matched and its empty fields filled),
/// with the record's stage, outcome (a won or lost stage) and fields; new and changed leads are
/// scored, and the outcomes queue the model's check (`model::outcome_recorded`). Records
/// without a usable phone number are skipped. Each lead keeps its record's id (`crm_sync` state
/// `matched`), so that its push needs no search. Run again for the same page, it changes no
/// lead (the connection's counts may count a redelivered page twice). After the last page (or
/// a refusal), every lead's score is pushed (`Job::CrmSync`).
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm, page))]
pub async fn import_page(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    after: Option<&str>,
    page: u32,
) -> Result<()> {
    let Some(connection) = deps.crm.get_connection(tenant, crm).await? else {
        return Ok(());
    };
    let Some(credentials) = credentials(deps, tenant, crm).await? else {
        return Ok(());
    };
    let api = open(deps, &connection, &credentials);
    let (records, next) = match api.records(after).await {
        Ok(page) => page,
        Err(CrmError::RateLimited(wait)) => {
            let again = Job::CrmImport {
                tenant_id: tenant.clone(),
                crm,
                after: after.map(str::to_owned),
                page,
            };
            return deps.queue.send_after(&again, wait).await;
        }
        Err(CrmError::Refused(why)) => {
            note_connection(deps, tenant, crm, |c| {
                c.failed(&format!("importing records: {why}"), Utc::now())
            })
            .await?;
            return deps.queue.send(&full_sync(tenant, crm)).await;
        }
        Err(CrmError::Unavailable(why)) => {
            return Err(Error::transient(
                format!("{crm} did not answer: {why}"),
                std::fmt::Error,
            ));
        }
    };
    let (mut imported, mut outcomes) = (0u64, 0u64);
    let mut scores = Vec::new();
    let mut matched = Vec::new();
    let now = Utc::now();
    for record in &records {
        let Some(phone) = record.phones.first() else {
            continue;
        };
        let details = crate::domain::NewLead {
            phone_number: phone.to_string(),
            first_name: record.first_name.clone(),
            last_name: record.last_name.clone(),
            company: record.company.clone(),
            email: record.email.clone(),
            ..Default::default()
        };
        let lead = super::records::lead_for(deps, tenant, phone, &details).await?;
        // An outcome from history is dated when the CRM last changed the record.
        let update = CrmUpdate {
            stage: record.stage.clone(),
            value: None,
            fields: record.fields.clone(),
            decided_at: record.modified_at,
        };
        let (lead, changed) = apply_update(deps, tenant, lead, &update, &connection).await?;
        imported += 1;
        outcomes += u64::from(lead.outcome.is_some());
        if api.writes_to(&record.id)
            && lead
                .crm_sync
                .get(&crm)
                .is_none_or(|s| s.record_id.is_none())
        {
            matched.push((
                lead.lead_id.clone(),
                CrmSync {
                    state: SyncState::Matched,
                    record_id: Some(record.id.clone()),
                    pushed_at: None,
                    pushed_digest: None,
                    last_error: None,
                    updated_at: now,
                },
            ));
        }
        if changed || lead.lead_score.is_none() {
            scores.push(Job::Score {
                tenant_id: tenant.clone(),
                lead_id: lead.lead_id.clone(),
                cause: ScoreCause::LeadChanged {
                    version: lead.version,
                },
            });
        }
    }
    deps.leads.save_crm_sync(tenant, crm, &matched).await?;
    deps.queue.send_all(&scores).await?;
    if outcomes > 0 {
        super::model::outcome_recorded(deps, tenant).await?;
    }
    note_connection(deps, tenant, crm, |c| {
        c.counts.imported += imported;
        c.counts.imported_outcomes += outcomes;
    })
    .await?;
    match next {
        Some(cursor) if page + 1 < MAX_IMPORT_PAGES => {
            deps.queue
                .send(&Job::CrmImport {
                    tenant_id: tenant.clone(),
                    crm,
                    after: Some(cursor),
                    page: page + 1,
                })
                .await
        }
        Some(_) => {
            warn!(
                pages = MAX_IMPORT_PAGES,
                "the CRM has more records than an import reads"
            );
            deps.queue.send(&full_sync(tenant, crm)).await
        }
        None => {
            info!(pages = page + 1, "CRM records imported");
            deps.queue.send(&full_sync(tenant, crm)).await
        }
    }
}

/// What one push did, for the log and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    pub pushed: u64,
    pub created: u64,
    pub unchanged: u64,
    pub unmatched: u64,
    pub failed: u64,
    /// It stopped at the rate limit and goes on after this wait.
    pub waiting: Option<std::time::Duration>,
}

/// A push (`Job::CrmPush`): the waiting leads' scores to their CRM records. A push that
/// leaves leads waiting queues itself again.
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm))]
pub async fn push(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<PushReport> {
    let Some(connection) = deps.crm.get_connection(tenant, crm).await? else {
        return Ok(PushReport::default());
    };
    let waiting = deps.crm.pending(tenant, crm, crm.push_batch()).await?;
    if waiting.is_empty() {
        return Ok(PushReport::default());
    }
    let Some(credentials) = credentials(deps, tenant, crm).await? else {
        note_connection(deps, tenant, crm, |c| {
            c.failed("the credentials are missing: connect again", Utc::now())
        })
        .await?;
        deps.crm.clear_pending(tenant, crm, &waiting).await?;
        return Ok(PushReport::default());
    };
    let api = open(deps, &connection, &credentials);
    let base = deps.config.public_url.as_deref();
    let mut report = PushReport::default();
    let mut leads = Vec::new();
    for (id, _) in &waiting {
        let Some(lead) = deps.leads.get_lead(tenant, id).await? else {
            continue; // erased meanwhile
        };
        let Some(fields) = ScoreFields::of(&lead, base) else {
            continue; // not scored yet
        };
        let sync = lead.crm_sync.get(&crm);
        if sync.is_some_and(|s| {
            s.state == SyncState::Synced && s.pushed_digest.as_deref() == Some(&fields.digest())
        }) {
            report.unchanged += 1;
            continue;
        }
        leads.push((lead, fields));
    }
    let (mut results, stopped) = write(api.as_ref(), &connection, &leads).await;
    let now = Utc::now();
    let (mut wait, mut unavailable) = (None, None);
    match stopped {
        None => {}
        // What was written is kept; the rest goes on after the wait, or the queue's retry.
        Some(CrmError::RateLimited(w)) => wait = Some(w),
        Some(CrmError::Unavailable(why)) => unavailable = Some(why),
        // What the CRM refused, and what was not tried after it, failed visibly.
        Some(CrmError::Refused(why)) => {
            for (lead, _) in &leads {
                if !results.iter().any(|(id, _)| id == &lead.lead_id) {
                    results.push((lead.lead_id.clone(), Written::Failed(why.clone())));
                }
            }
        }
    }
    // Leads with no result yet stay waiting; the others (skipped ones included) are done.
    let left: std::collections::HashSet<&LeadId> = leads
        .iter()
        .map(|(lead, _)| &lead.lead_id)
        .filter(|id| !results.iter().any(|(r, _)| r == *id))
        .collect();
    let done: Vec<(LeadId, i64)> = waiting
        .iter()
        .filter(|(id, _)| !left.contains(id))
        .cloned()
        .collect();
    let mut first_error = None;
    let mut syncs = Vec::with_capacity(results.len());
    for (lead_id, written) in &results {
        let digest = leads
            .iter()
            .find(|(l, _)| &l.lead_id == lead_id)
            .map(|(_, f)| f.digest());
        let sync = match written {
            Written::Updated(record) | Written::Created(record) => {
                if matches!(written, Written::Created(_)) {
                    report.created += 1;
                }
                report.pushed += 1;
                CrmSync {
                    state: SyncState::Synced,
                    record_id: Some(record.clone()),
                    pushed_at: Some(now),
                    pushed_digest: digest,
                    last_error: None,
                    updated_at: now,
                }
            }
            Written::Unmatched => {
                report.unmatched += 1;
                CrmSync {
                    state: SyncState::Unmatched,
                    record_id: None,
                    pushed_at: None,
                    pushed_digest: None,
                    last_error: None,
                    updated_at: now,
                }
            }
            Written::Failed(why) => {
                report.failed += 1;
                first_error.get_or_insert_with(|| why.clone());
                CrmSync {
                    state: SyncState::Failed,
                    record_id: None,
                    pushed_at: None,
                    pushed_digest: None,
                    last_error: Some(why.chars().take(300).collect()),
                    updated_at: now,
                }
            }
        };
        syncs.push((lead_id.clone(), sync));
    }
    deps.leads.save_crm_sync(tenant, crm, &syncs).await?;
    deps.crm.clear_pending(tenant, crm, &done).await?;
    if let Some(why) = &unavailable {
        first_error = Some(why.clone());
    }
    let r = report.clone();
    let usage = api.usage();
    note_connection(deps, tenant, crm, |c| {
        if let Some((used, limit)) = usage {
            c.api_usage = Some(ApiUsage {
                used,
                limit,
                at: now,
            });
        }
        c.counts.pushed += r.pushed;
        c.counts.created += r.created;
        c.counts.unmatched += r.unmatched;
        c.counts.failed += r.failed;
        c.last_push_at = Some(now);
        c.updated_at = now;
        match &first_error {
            Some(why) => c.failed(why, now),
            None => {
                c.state = ConnectionState::Connected;
                c.last_error = None;
            }
        }
    })
    .await?;
    if let Some(why) = unavailable {
        return Err(Error::transient(
            format!("{crm} did not answer: {why}"),
            std::fmt::Error,
        ));
    }
    if let Some(wait) = wait {
        info!(
            wait_s = wait.as_secs_f32(),
            written = results.len(),
            left = left.len(),
            "CRM rate limit reached; the push goes on after the wait"
        );
        deps.queue.send_after(&push_job(tenant, crm), wait).await?;
        report.waiting = Some(wait);
    } else if !deps.crm.pending(tenant, crm, 1).await?.is_empty() {
        // More waiting (a full batch, or leads noted during this push): go on.
        deps.queue.send(&push_job(tenant, crm)).await?;
    }
    info!(
        pushed = report.pushed,
        created = report.created,
        unchanged = report.unchanged,
        unmatched = report.unmatched,
        failed = report.failed,
        "CRM push"
    );
    Ok(report)
}

/// What became of one lead's push.
#[derive(Debug, Clone, PartialEq)]
enum Written {
    Updated(String),
    Created(String),
    Unmatched,
    Failed(String),
}

/// A lead with the fields a push writes for it.
type Scored = (Lead, ScoreFields);

/// Match the leads to records and write their scores: known records by id, the others found
/// by phone number and e-mail address, created when the connection says so; a call's worth
/// of leads at a time (`CrmApi::batch`), so that a rate limit or an outage part-way keeps what
/// was written. The results so far, and the error that stopped the rest.
async fn write(
    api: &dyn CrmApi,
    connection: &Connection,
    leads: &[(Lead, ScoreFields)],
) -> (Vec<(LeadId, Written)>, Option<CrmError>) {
    let crm = connection.crm;
    let batch = api.batch().max(1);
    let record_of = |lead: &Lead| {
        lead.crm_sync
            .get(&crm)
            .and_then(|s| s.record_id.clone())
            .filter(|r| api.writes_to(r))
    };
    let (known, unknown): (Vec<&Scored>, Vec<&Scored>) = leads
        .iter()
        .partition(|(lead, _)| record_of(lead).is_some());
    let mut results = Vec::new();
    for chunk in unknown.chunks(batch) {
        match match_and_write(api, connection, chunk).await {
            Ok(done) => results.extend(done),
            Err(e) => return (results, Some(e)),
        }
    }
    for chunk in known.chunks(batch) {
        let updates: Vec<(LeadId, String, ScoreFields)> = chunk
            .iter()
            .filter_map(|(lead, fields)| {
                Some((lead.lead_id.clone(), record_of(lead)?, fields.clone()))
            })
            .collect();
        match update(api, crm, updates).await {
            Ok(done) => results.extend(done),
            Err(e) => return (results, Some(e)),
        }
    }
    (results, None)
}

/// Leads with no known record: found by phone number, then e-mail address, and written; the
/// others created or unmatched.
async fn match_and_write(
    api: &dyn CrmApi,
    connection: &Connection,
    leads: &[&(Lead, ScoreFields)],
) -> crm::CrmResult<Vec<(LeadId, Written)>> {
    let crm = connection.crm;
    let phones: Vec<_> = leads.iter().map(|(l, _)| l.phone_number.clone()).collect();
    let emails: Vec<String> = leads.iter().filter_map(|(l, _)| l.email.clone()).collect();
    let records: Vec<CrmRecord> = api.find(&phones, &emails).await?;
    let mut results = Vec::new();
    let mut updates = Vec::new();
    let mut missing = Vec::new();
    for (lead, fields) in leads.iter().copied() {
        // A phone number match first, then an e-mail match; a writable record before one that
        // is not.
        let writable = |r: &&CrmRecord| api.writes_to(&r.id);
        let found = records
            .iter()
            .filter(writable)
            .find(|r| r.phones.contains(&lead.phone_number))
            .or_else(|| records.iter().filter(writable).find(|r| r.is_for(lead)))
            .or_else(|| records.iter().find(|r| r.is_for(lead)));
        match found {
            // The CRM has the lead, where a score cannot be written: say so rather than make
            // a second record of the same person.
            Some(record) if !api.writes_to(&record.id) => results.push((
                lead.lead_id.clone(),
                Written::Failed(format!(
                    "{crm} record {} has this lead, and its object lacks the leadscore \
                     fields: add them and connect again",
                    record.id
                )),
            )),
            Some(record) => updates.push((lead.lead_id.clone(), record.id.clone(), fields.clone())),
            None if connection.create_missing => missing.push((lead, fields.clone())),
            None => results.push((lead.lead_id.clone(), Written::Unmatched)),
        }
    }
    if !missing.is_empty() {
        let made = api.create(&missing).await?;
        for (lead, _) in &missing {
            match made.iter().find(|r| r.is_for(lead)) {
                Some(record) => {
                    results.push((lead.lead_id.clone(), Written::Created(record.id.clone())))
                }
                None => results.push((
                    lead.lead_id.clone(),
                    Written::Failed(format!("{crm} did not say which record it created")),
                )),
            }
        }
    }
    results.extend(update(api, crm, updates).await?);
    Ok(results)
}

/// Write scores on known records; a record that is gone fails its lead until it is matched
/// again.
async fn update(
    api: &dyn CrmApi,
    crm: Crm,
    updates: Vec<(LeadId, String, ScoreFields)>,
) -> crm::CrmResult<Vec<(LeadId, Written)>> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let writes: Vec<(String, ScoreFields)> = updates
        .iter()
        .map(|(_, record, fields)| (record.clone(), fields.clone()))
        .collect();
    let gone = api.update(&writes).await?;
    Ok(updates
        .into_iter()
        .map(|(lead, record, _)| {
            if gone.contains(&record) {
                let why = format!(
                    "{crm} record {record} is gone; the lead is matched again at its next push"
                );
                (lead, Written::Failed(why))
            } else {
                (lead, Written::Updated(record))
            }
        })
        .collect())
}

/// Change the stored connection, re-reading when it changed meanwhile; nothing when it is gone.
async fn note_connection(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    mut change: impl FnMut(&mut Connection),
) -> Result<()> {
    for _ in 0..5 {
        let Some(mut connection) = deps.crm.get_connection(tenant, crm).await? else {
            return Ok(());
        };
        change(&mut connection);
        match deps.crm.update_connection(&connection).await {
            Err(Error::Concurrent(_)) => continue,
            Err(Error::NotFound(_)) => return Ok(()),
            other => return other.map(|_| ()),
        }
    }
    Err(Error::concurrent(format!(
        "the {crm} connection kept changing; try again"
    )))
}

/// What an inbound webhook did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Received {
    /// Events read.
    pub events: usize,
    /// Leads whose stage, outcome or CRM fields changed.
    pub leads_changed: usize,
    /// Of them, leads whose outcome (won, lost, value) changed: training labels.
    pub outcomes: usize,
    /// Events about records that are no lead of the tenant's (or are gone).
    pub ignored: usize,
}

/// A CRM webhook's changes (its signature or credentials already checked), each read back from
/// the CRM: records' stage, owner and source and deals' stages become the leads' CRM status,
/// `crm.*` fields and outcomes (won or lost, with the deal's value), and the leads are scored
/// again. The same changes again change nothing.
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm, events = events.len()))]
pub async fn receive(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    events: &[Change],
) -> Result<Received> {
    let connection = get(deps, tenant, crm).await?;
    let credentials = credentials(deps, tenant, crm)
        .await?
        .ok_or_else(|| Error::not_found(format!("{} credentials: connect again", crm.name())))?;
    let api = open(deps, &connection, &credentials);
    let mut received = Received {
        events: events.len(),
        ..Default::default()
    };
    for event in events {
        let changes = match event.object {
            ChangeObject::Record => api
                .record(&event.id)
                .await
                .map_err(|e| unavailable(crm, e))?
                .map(record_change)
                .into_iter()
                .collect(),
            ChangeObject::Deal => deal_changes(api.as_ref(), crm, &event.id).await?,
        };
        take_in(deps, tenant, &connection, changes, &mut received).await?;
    }
    finish_receiving(deps, tenant, crm, &received, None).await?;
    Ok(received)
}

/// A polled CRM's changes (`Job::CrmPoll`, queued by the hourly sweep): the records and deals
/// modified since the last poll, taken in as a webhook's would be; the next poll starts at the
/// latest modification read.
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm))]
pub async fn poll(deps: &Deps, tenant: &TenantId, crm: Crm) -> Result<Received> {
    let Some(connection) = deps.crm.get_connection(tenant, crm).await? else {
        return Ok(Received::default());
    };
    let Some(credentials) = credentials(deps, tenant, crm).await? else {
        return Ok(Received::default());
    };
    let api = open(deps, &connection, &credentials);
    let since = connection.polled_until.unwrap_or(connection.connected_at);
    let changed = match api.changed(since).await {
        Ok(changed) => changed,
        // The next sweep polls again.
        Err(CrmError::RateLimited(_)) => return Ok(Received::default()),
        Err(CrmError::Refused(why)) => {
            note_connection(deps, tenant, crm, |c| {
                c.failed(&format!("polling changes: {why}"), Utc::now())
            })
            .await?;
            return Ok(Received::default());
        }
        Err(e) => return Err(unavailable(crm, e)),
    };
    let mut received = Received {
        events: changed.records.len() + changed.deals.len(),
        ..Default::default()
    };
    for record in changed.records {
        take_in(
            deps,
            tenant,
            &connection,
            vec![record_change(record)],
            &mut received,
        )
        .await?;
    }
    for deal in &changed.deals {
        let changes = deal_changes(api.as_ref(), crm, deal).await?;
        // A deal with no contact that is a lead here is not news.
        let mut counted = Received::default();
        take_in(deps, tenant, &connection, changes, &mut counted).await?;
        received.leads_changed += counted.leads_changed;
        received.outcomes += counted.outcomes;
    }
    let usage = api.usage();
    finish_receiving(deps, tenant, crm, &received, Some((changed.cursor, usage))).await?;
    info!(
        read = received.events,
        changed = received.leads_changed,
        outcomes = received.outcomes,
        "CRM changes polled"
    );
    Ok(received)
}

/// A call task to make: what it says and when it is due.
#[derive(Debug, Clone, Copy)]
pub struct TaskDraft<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    pub due_at: chrono::DateTime<Utc>,
}

/// What became of a task asked of a CRM.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskMade {
    /// Made: the CRM's id of it.
    Made(String),
    /// Not asked: the account is over its rate limit for this long.
    Wait(std::time::Duration),
}

/// Make a call task for `lead` in `crm`, due at `due_at`: on the record its pushes write (else
/// the one with its phone number, then its e-mail address), for that record's owner.
/// `Validation` naming what is missing when the CRM is not connected or has no record of the
/// lead, or refused the task; `Transient` when it does not answer (the task may be made).
#[instrument(skip_all, fields(tenant = %lead.tenant_id, crm = %crm))]
pub async fn make_task(
    deps: &Deps,
    lead: &Lead,
    crm: Crm,
    task: &TaskDraft<'_>,
) -> Result<TaskMade> {
    match ask_for_task(deps, lead, crm, task).await {
        Ok(id) => Ok(TaskMade::Made(id)),
        Err(CrmError::RateLimited(wait)) => Ok(TaskMade::Wait(wait)),
        Err(CrmError::Refused(why)) => Err(Error::validation(why)),
        Err(CrmError::Unavailable(why)) => Err(Error::transient(
            format!("{} did not take the task: {why}", crm.name()),
            crm.name(),
        )),
    }
}

async fn ask_for_task(
    deps: &Deps,
    lead: &Lead,
    crm: Crm,
    draft: &TaskDraft<'_>,
) -> crm::CrmResult<String> {
    let tenant = &lead.tenant_id;
    let name = crm.name();
    let stored = |e: Error| CrmError::Unavailable(format!("the connection could not be read: {e}"));
    let (Some(connection), Some(credentials)) = (
        deps.crm.get_connection(tenant, crm).await.map_err(stored)?,
        credentials(deps, tenant, crm).await.map_err(stored)?,
    ) else {
        return Err(CrmError::Refused(format!("{name} is not connected")));
    };
    let api = open(deps, &connection, &credentials);
    let known = lead
        .crm_sync
        .get(&crm)
        .and_then(|s| s.record_id.clone())
        .filter(|r| api.writes_to(r));
    let record = match known {
        Some(id) => api.record(&id).await?,
        None => None,
    };
    let record = match record {
        Some(record) => record,
        None => {
            let emails: Vec<String> = lead.email.iter().cloned().collect();
            let found = api
                .find(std::slice::from_ref(&lead.phone_number), &emails)
                .await?;
            found
                .iter()
                .find(|r| r.phones.contains(&lead.phone_number))
                .or_else(|| found.iter().find(|r| r.is_for(lead)))
                .cloned()
                .ok_or_else(|| {
                    CrmError::Refused(format!(
                        "{name} has no record with the lead's phone number or e-mail address                          (a push makes one when the connection's create_missing is on)"
                    ))
                })?
        }
    };
    let task = crm::NewTask {
        record_id: record.id.clone(),
        owner: record.fields.get("owner").cloned(),
        subject: draft.subject.to_owned(),
        body: draft.body.to_owned(),
        due_at: draft.due_at,
    };
    let id = api.create_task(&task).await.map_err(|e| match e {
        CrmError::Refused(why) => CrmError::Refused(format!("{name} refused the task: {why}")),
        e => e,
    })?;
    info!(record = %record.id, task = %id, "call task made in the CRM");
    Ok(id)
}

fn unavailable(crm: Crm, e: CrmError) -> Error {
    Error::transient(
        format!("{} could not be read: {e}", crm.name()),
        std::fmt::Error,
    )
}

/// A record as it is now, as what the CRM says of its lead.
fn record_change(record: CrmRecord) -> (CrmRecord, CrmUpdate) {
    let update = CrmUpdate {
        stage: record.stage.clone(),
        value: None,
        fields: record.fields.clone(),
        decided_at: None,
    };
    (record, update)
}

/// A deal's stage and value, for each of its contacts (at most [`MAX_DEAL_CONTACTS`]), with
/// the contact's fields as just read.
async fn deal_changes(api: &dyn CrmApi, crm: Crm, id: &str) -> Result<Vec<(CrmRecord, CrmUpdate)>> {
    let Some(deal) = api.deal(id).await.map_err(|e| unavailable(crm, e))? else {
        return Ok(Vec::new());
    };
    let mut changes = Vec::new();
    for contact in deal.contact_ids.iter().take(MAX_DEAL_CONTACTS) {
        if let Some(record) = api.record(contact).await.map_err(|e| unavailable(crm, e))? {
            let update = CrmUpdate {
                stage: deal.stage.clone(),
                value: deal.value,
                fields: record.fields.clone(),
                decided_at: None,
            };
            changes.push((record, update));
        }
    }
    Ok(changes)
}

/// Apply what the CRM said of each record to its lead: stored when it changes something, a
/// changed outcome queueing the model's check, a changed lead scored again. An event none of
/// whose records is a lead here counts as ignored.
async fn take_in(
    deps: &Deps,
    tenant: &TenantId,
    connection: &Connection,
    changes: Vec<(CrmRecord, CrmUpdate)>,
    received: &mut Received,
) -> Result<()> {
    let mut matched = false;
    for (record, update) in &changes {
        let Some(lead) = find_lead(deps, tenant, record).await? else {
            continue;
        };
        matched = true;
        let before = lead.outcome.clone();
        let (lead, changed) = apply_update(deps, tenant, lead, update, connection).await?;
        if lead.outcome.as_ref().map(|o| (o.converted, o.value))
            != before.as_ref().map(|o| (o.converted, o.value))
        {
            received.outcomes += 1;
            super::model::outcome_recorded(deps, tenant).await?;
        }
        if changed {
            received.leads_changed += 1;
            deps.queue
                .send(&Job::Score {
                    tenant_id: tenant.clone(),
                    lead_id: lead.lead_id.clone(),
                    cause: ScoreCause::LeadChanged {
                        version: lead.version,
                    },
                })
                .await?;
        }
    }
    if !matched {
        received.ignored += 1;
    }
    Ok(())
}

/// Where a poll got to, and the account's API use as the CRM reported it.
type Polled = (chrono::DateTime<Utc>, Option<(u64, u64)>);

/// Count what was received on the connection (and, for a poll, where the next starts and the
/// account's API use).
async fn finish_receiving(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    received: &Received,
    poll: Option<Polled>,
) -> Result<()> {
    let now = Utc::now();
    note_connection(deps, tenant, crm, |c| {
        c.counts.received += received.leads_changed as u64;
        c.last_received_at = Some(now);
        if let Some((cursor, usage)) = poll {
            c.polled_until = Some(cursor);
            if let Some((used, limit)) = usage {
                c.api_usage = Some(ApiUsage {
                    used,
                    limit,
                    at: now,
                });
            }
        }
    })
    .await?;
    if received.ignored > 0 && poll.is_none() {
        warn!(
            ignored = received.ignored,
            "CRM events about records that are no lead here"
        );
    }
    Ok(())
}

/// Apply what the CRM said to `lead` and store it, unless it changes nothing (then the lead
/// is not written at all); the lead as stored, and whether it changed.
async fn apply_update(
    deps: &Deps,
    tenant: &TenantId,
    lead: Lead,
    update: &CrmUpdate,
    connection: &Connection,
) -> Result<(Lead, bool)> {
    let now = Utc::now();
    if !update.apply(&mut lead.clone(), &connection.stages, now) {
        return Ok((lead, false));
    }
    let mut changed = false;
    let lead = super::modify_lead(deps, tenant, &lead.lead_id, |l| {
        changed = update.apply(l, &connection.stages, now);
        Ok(())
    })
    .await?;
    Ok((lead, changed))
}

/// The tenant's lead a CRM record is, by its phone numbers.
async fn find_lead(deps: &Deps, tenant: &TenantId, record: &CrmRecord) -> Result<Option<Lead>> {
    for phone in &record.phones {
        if let Some(lead) = deps.leads.find_lead_by_phone(tenant, phone).await? {
            return Ok(Some(lead));
        }
    }
    Ok(None)
}
