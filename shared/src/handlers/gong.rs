//! Calls pulled from Gong (`gong`): a tenant connects its Gong company (`PUT /settings/gong`),
//! the first pull takes the last 30 days, and every hour the scheduled sweep pulls what
//! started since. Each call Gong has transcribed becomes a Gong document (its transcript and
//! its extensive call, parties included) taken in through `ingest::register` as call
//! `gong-<callId>`, the name a dropped Gong file of the same call has, so both meet on one
//! call and a call pulled twice changes nothing.
//!
//! Where the pull stands is kept in `gong/<tenant>.json`: `from`, the start the next pull
//! lists from. It moves to the newest call taken, or stays at the oldest call Gong has not
//! transcribed yet (for at most 3 days: a call without a transcript after that is left).
//! Pages are one job each (`Job::GongPull` with Gong's cursor), so a pull never runs long.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, instrument, warn};

use crate::Deps;
use crate::domain::{TenantId, TranscriptFormat};
use crate::error::{Error, Result};
use crate::gong::{self, GongAccount, ListedCall};
use crate::keys;
use crate::ports::{Job, SecretName};

use super::ingest::{self, Artifact};

/// How far back the first pull reaches.
pub const BACKFILL: TimeDelta = TimeDelta::days(30);
/// How long a call Gong has not transcribed holds the pull back.
pub const WAIT_FOR_TRANSCRIPT: TimeDelta = TimeDelta::days(3);

/// Where a tenant's pull stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullState {
    /// The next pull lists the calls that started at or after this.
    pub from: DateTime<Utc>,
    #[serde(default)]
    pub pulled_at: Option<DateTime<Utc>>,
    /// Calls taken in so far.
    #[serde(default)]
    pub calls_taken: u64,
}

fn state_key(tenant: &TenantId) -> String {
    format!("gong/{tenant}.json")
}

/// Where the tenant's pull stands; `None` when Gong is not connected.
pub async fn state(deps: &Deps, tenant: &TenantId) -> Result<Option<PullState>> {
    let key = state_key(tenant);
    match deps.blobs.get(&key).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::internal(format!("{key} is damaged"), e)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The tenant's Gong connection, if it has one.
pub async fn account(deps: &Deps, tenant: &TenantId) -> Result<Option<GongAccount>> {
    match deps.secrets.get_secret(tenant, &SecretName::gong()).await? {
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| Error::internal("the tenant's Gong connection is damaged", e)),
        None => Ok(None),
    }
}

/// Connect (or reconnect) the tenant's Gong company and queue a pull. A first connection
/// pulls the last 30 days; a reconnection goes on from where the pull stood.
pub async fn connect(
    deps: &Deps,
    tenant: &TenantId,
    account: &GongAccount,
    now: DateTime<Utc>,
) -> Result<PullState> {
    account.validate()?;
    deps.http.check_base(account.base()).await?;
    // One listing, of calls from now on (none, usually): Gong refuses wrong credentials here,
    // while the tenant is still at the request, not in a background pull.
    // No answer here is the base URL's fault far more often than Gong's: said as such.
    let answer = deps
        .http
        .send(&account.calls(now, None))
        .await
        .map_err(|e| {
            Error::validation(format!(
                "base_url: Gong did not answer at {}: {e}; use the base URL Gong's API page shows",
                account.base()
            ))
        })?;
    gong::calls_page(&answer)?;
    deps.secrets
        .put_secret(
            tenant,
            &SecretName::gong(),
            &serde_json::to_string(account)?,
        )
        .await?;
    let pull = match state(deps, tenant).await? {
        Some(pull) => pull,
        None => {
            let pull = PullState {
                from: now - BACKFILL,
                pulled_at: None,
                calls_taken: 0,
            };
            deps.blobs
                .put(&state_key(tenant), &serde_json::to_vec(&pull)?)
                .await?;
            pull
        }
    };
    deps.queue.send(&first_page(tenant)).await?;
    Ok(pull)
}

/// Disconnect: the secret and the pull's state go; the calls taken stay.
pub async fn disconnect(deps: &Deps, tenant: &TenantId) -> Result<()> {
    deps.blobs.delete(&state_key(tenant)).await?;
    deps.secrets
        .delete_secret(tenant, &SecretName::gong())
        .await
}

/// The job that starts a pull (the sweep's, or `POST /integrations/gong/pull`).
pub fn first_page(tenant: &TenantId) -> Job {
    Job::GongPull {
        tenant_id: tenant.clone(),
        from: None,
        cursor: None,
        latest: None,
        pending: None,
    }
}

/// Where a pull's pages stand, carried from page to page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// `None` on the first page: the state's `from`.
    pub from: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// The newest start of a call taken (or known) so far.
    pub latest: Option<DateTime<Utc>>,
    /// The oldest start of a call still waiting for its transcript.
    pub pending: Option<DateTime<Utc>>,
}

/// What a page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    pub listed: usize,
    pub taken: usize,
    pub known: usize,
    pub waiting: usize,
    pub skipped: usize,
}

/// `Job::GongPull`: one page of calls. A call already taken in is not asked for again; the
/// rest are taken with their transcripts. A call that cannot be a lead's (no `External`
/// party with a phone number) is skipped with a warning, not retried.
#[instrument(skip_all, fields(tenant = %tenant))]
pub async fn pull(
    deps: &Deps,
    tenant: &TenantId,
    page: Page,
    now: DateTime<Utc>,
) -> Result<Pulled> {
    let (Some(account), Some(mut pull)) =
        (account(deps, tenant).await?, state(deps, tenant).await?)
    else {
        info!("Gong is not connected; nothing to pull");
        return Ok(Pulled::default());
    };
    let from = page.from.unwrap_or(pull.from);
    let answer = deps
        .http
        .send(&account.calls(from, page.cursor.as_deref()))
        .await
        .map_err(|e| Error::transient(format!("Gong did not answer: {e}"), "Gong"))?;
    let listed = gong::calls_page(&answer)?;
    let mut done = Pulled {
        listed: listed.calls.len(),
        ..Pulled::default()
    };
    let (mut latest, mut pending) = (page.latest, page.pending);
    let mut wanted: Vec<&ListedCall> = Vec::new();
    for call in &listed.calls {
        let id = keys::call_of_stem(tenant, &stem(&call.id));
        match deps.calls.get_call(tenant, &id).await? {
            Some(c) if c.transcript_key.is_some() || c.transcript_sha256.is_some() => {
                done.known += 1;
                latest = latest.max(Some(call.started));
            }
            _ => wanted.push(call),
        }
    }
    if !wanted.is_empty() {
        let ids: Vec<&str> = wanted.iter().map(|c| c.id.as_str()).collect();
        let answer = deps
            .http
            .send(&account.transcripts(&ids))
            .await
            .map_err(|e| Error::transient(format!("Gong did not answer: {e}"), "Gong"))?;
        let ready = gong::transcripts(&answer)?;
        for call in wanted {
            match ready.iter().find(|(id, _)| *id == call.id) {
                Some((_, transcript)) => match take(deps, tenant, call, transcript).await {
                    Ok(()) => {
                        done.taken += 1;
                        latest = latest.max(Some(call.started));
                    }
                    Err(Error::Validation(why)) => {
                        warn!(call = %call.id, why, "a Gong call that cannot be taken in");
                        done.skipped += 1;
                        latest = latest.max(Some(call.started));
                    }
                    Err(e) => return Err(e),
                },
                None if now - call.started < WAIT_FOR_TRANSCRIPT => {
                    done.waiting += 1;
                    pending = Some(pending.map_or(call.started, |p| p.min(call.started)));
                }
                None => {
                    warn!(call = %call.id, "a Gong call with no transcript after 3 days is left");
                    done.skipped += 1;
                    latest = latest.max(Some(call.started));
                }
            }
        }
    }
    pull.calls_taken += done.taken as u64;
    match listed.cursor {
        // The next page's job first: a state written without it would not be lost work, but
        // a job without the state is the pull going on.
        Some(cursor) => {
            deps.queue
                .send(&Job::GongPull {
                    tenant_id: tenant.clone(),
                    from: Some(from),
                    cursor: Some(cursor),
                    latest,
                    pending,
                })
                .await?
        }
        None => {
            pull.from = pending.or(latest).unwrap_or(from).max(from);
            pull.pulled_at = Some(now);
        }
    }
    deps.blobs
        .put(&state_key(tenant), &serde_json::to_vec(&pull)?)
        .await?;
    info!(?done, "a page of Gong calls pulled");
    Ok(done)
}

/// The call a Gong call becomes, as a dropped `gong-<id>.json` does.
pub fn stem(call_id: &str) -> String {
    format!("gong-{call_id}")
}

async fn take(
    deps: &Deps,
    tenant: &TenantId,
    call: &ListedCall,
    transcript: &serde_json::Value,
) -> Result<()> {
    let name = stem(&call.id);
    let content = gong::document(transcript, &call.raw);
    crate::formats::check_transcript_size(&format!("Gong call {}", call.id), content.len() as u64)?;
    let artifact = Artifact::Transcript {
        file_name: format!("{name}.json"),
        format: TranscriptFormat::Gong,
        content,
    };
    let embedded = ingest::embedded_metadata(deps, &artifact)?;
    let metadata = ingest::metadata_for(deps, &name, None, embedded)?;
    if metadata.lead_phone().is_none() {
        return Err(Error::validation(format!(
            "Gong call {}: no External party with a phone number, so no lead to score",
            call.id
        )));
    }
    ingest::register(deps, tenant, &name, metadata, artifact, call.started).await?;
    Ok(())
}
