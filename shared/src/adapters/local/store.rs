//! The embedded store: one SQLite file (WAL, synchronous=FULL) holding leads, calls, rules,
//! score ledgers and the job queue, every row keyed by tenant. The layout mirrors the DynamoDB
//! design: each record is a JSON document plus the few columns that are indexed.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, types::Value as Sql};
use serde::de::DeserializeOwned;

use tracing::instrument;

use crate::domain::{
    Call, CallId, Lead, LeadId, PhoneNumber, RuleId, ScoreChange, ScoringRule, SmsEvent, TenantId,
    TrackedLink,
};
use crate::error::{Error, Result};
use crate::ports::{CallStore, Job, LeadQuery, LeadStore, Page, Queue, RuleStore, SmsStore};

/// SQLite's busy and locked answers are worth a retry; anything else is a bug to report.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(ref f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Error::transient("the database is busy", e)
            }
            other => Error::internal("database error", other),
        }
    }
}

/// Schema migrations, applied in order; `PRAGMA user_version` counts the ones applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    tenant_id    TEXT PRIMARY KEY,
    rules_seeded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE leads (
    tenant_id  TEXT NOT NULL,
    lead_id    TEXT NOT NULL,
    phone      TEXT NOT NULL,
    rank_score INTEGER NOT NULL,          -- the score, or -1 before the first one
    tier       TEXT,
    status     TEXT,
    search     TEXT NOT NULL,             -- lower-case name, company, e-mail and phone
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id),
    UNIQUE (tenant_id, phone)
);
CREATE INDEX leads_ranked ON leads (tenant_id, rank_score DESC, lead_id);
CREATE TABLE lead_calls (
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    call_id   TEXT NOT NULL,
    called_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id, call_id)
);
CREATE TABLE calls (
    tenant_id  TEXT NOT NULL,
    call_id    TEXT NOT NULL,
    lead_id    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
);
CREATE INDEX calls_by_lead ON calls (tenant_id, lead_id, started_at);
CREATE TABLE rules (
    tenant_id TEXT NOT NULL,
    rule_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);
CREATE TABLE score_history (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    cause_key TEXT NOT NULL,
    doc       TEXT NOT NULL,
    UNIQUE (tenant_id, lead_id, cause_key)
);
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key      TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,        -- unix milliseconds
    lease_until  INTEGER,
    last_error   TEXT
);
-- One waiting copy of each job: a second send of the same work is dropped.
CREATE UNIQUE INDEX jobs_waiting ON jobs (job_key) WHERE state IN ('pending', 'running');
CREATE INDEX jobs_ready ON jobs (state, available_at);
"#,
    r#"
CREATE TABLE sms_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    at        TEXT NOT NULL,
    doc       TEXT NOT NULL,
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX sms_events_by_lead ON sms_events (tenant_id, lead_id, at, seq);
CREATE TABLE links (
    token     TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    doc       TEXT NOT NULL
);
"#,
];

/// A job taken from the queue, held under a lease until completed, retried or buried.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub job: Job,
    /// How many times it has been claimed, this time included.
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounts {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
}

/// SQLite-backed implementation of the stores and the queue. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Wakes this process's worker when a job is queued, so it need not wait for its next poll.
    queued: Arc<tokio::sync::Notify>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

impl SqliteStore {
    /// Open (creating if needed) the database file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)
            .map_err(|e| Error::internal(format!("cannot open {}", path.display()), e))?;
        Self::init(conn)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let applied: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if applied > MIGRATIONS.len() {
            return Err(Error::validation(format!(
                "the database was written by a newer leadscore (schema {applied}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            queued: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Run `f` on the connection, off the async runtime's threads.
    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| Error::internal("database task failed", e))?
    }

    // ---- the local queue's consumer side (Lambda gets these from SQS) ----

    /// Resolves when a job is queued through this store (or one was since the last call).
    pub async fn job_queued(&self) {
        self.queued.notified().await;
    }

    /// Take the next job that is ready, or whose holder's lease ran out (its worker died).
    pub async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        self.with(move |c| {
            let now = now_ms();
            let row = c
                .query_row(
                    "UPDATE jobs SET state = 'running', lease_until = ?1 + ?2, attempts = attempts + 1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE (state = 'pending' AND available_at <= ?1)
                                    OR (state = 'running' AND lease_until <= ?1)
                                 ORDER BY available_at, id LIMIT 1)
                     RETURNING id, payload, attempts",
                    params![now, lease_ms],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?)),
                )
                .optional()?;
            row.map(|(id, payload, attempts)| Ok(ClaimedJob { id, job: serde_json::from_str(&payload)?, attempts }))
                .transpose()
        })
        .await
    }

    /// The job is done: remove it.
    pub async fn complete(&self, id: i64) -> Result<()> {
        self.with(move |c| {
            c.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }

    /// Put the job back to be tried again after `delay`.
    pub async fn retry(&self, id: i64, error: &str, delay: Duration) -> Result<()> {
        let error = error.to_owned();
        let at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        self.with(move |c| {
            c.execute(
                "UPDATE jobs SET state = 'pending', available_at = ?2, lease_until = NULL, last_error = ?3 WHERE id = ?1",
                params![id, at, error],
            )?;
            Ok(())
        })
        .await
    }

    /// Give up on the job; it stays, with its error, for people to look at (a dead-letter queue).
    pub async fn bury(&self, id: i64, error: &str) -> Result<()> {
        let error = error.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn queue_counts(&self) -> Result<QueueCounts> {
        self.with(|c| {
            let mut counts = QueueCounts::default();
            let mut stmt = c.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                match state.as_str() {
                    "pending" => counts.pending = n,
                    "running" => counts.running = n,
                    _ => counts.dead = n,
                }
            }
            Ok(counts)
        })
        .await
    }

    /// Dead jobs with their last error, oldest first.
    pub async fn dead_jobs(&self) -> Result<Vec<(Job, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT payload, coalesce(last_error, '') FROM jobs WHERE state = 'dead' ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|r| {
                let (p, e) = r?;
                Ok((serde_json::from_str(&p)?, e))
            })
            .collect()
        })
        .await
    }

    /// Every lead id of a tenant (for re-scoring after a rule change).
    pub async fn all_lead_ids(&self, tenant: &TenantId) -> Result<Vec<LeadId>> {
        let tenant = tenant.clone();
        self.with(move |c| {
            let mut stmt =
                c.prepare("SELECT lead_id FROM leads WHERE tenant_id = ?1 ORDER BY lead_id")?;
            let rows = stmt.query_map([tenant.as_str()], |r| r.get::<_, String>(0))?;
            rows.map(|r| LeadId::parse(&r?)).collect()
        })
        .await
    }
}

/// A lead's indexed columns and its document.
struct LeadRow {
    rank: i64,
    tier: Option<&'static str>,
    status: Option<String>,
    search: String,
    doc: String,
}

fn lead_row(lead: &Lead) -> Result<LeadRow> {
    let search = lead.search_text();
    Ok(LeadRow {
        rank: lead.lead_score.map_or(-1, i64::from),
        tier: lead.tier.map(|t| t.as_str()),
        status: lead.crm_lead_status.as_ref().map(|s| s.to_lowercase()),
        search,
        doc: serde_json::to_string(lead)?,
    })
}

/// One JSON document, or none.
fn get_doc<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    let doc: Option<String> = c.query_row(sql, params, |r| r.get(0)).optional()?;
    doc.map(|d| serde_json::from_str(&d).map_err(Error::from))
        .transpose()
}

/// Every JSON document a query returns, in its order.
fn list_docs<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare(sql)?;
    let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

/// Why a compare-and-set update changed no row: the record is gone, or someone else wrote first.
fn not_updated(exists: bool, what: &str, id: &str) -> Error {
    if exists {
        Error::concurrent(format!(
            "{what} {id} was changed by someone else; read it again"
        ))
    } else {
        Error::not_found(format!("{what} {id}"))
    }
}

fn read_lead(c: &Connection, tenant: &str, id: &str) -> Result<Option<Lead>> {
    get_doc(
        c,
        "SELECT doc FROM leads WHERE tenant_id = ?1 AND lead_id = ?2",
        [tenant, id],
    )
}

/// Write `lead` over the stored copy at `lead.version`, as `lead.version + 1`.
fn write_lead(c: &Connection, lead: &Lead) -> Result<Lead> {
    let mut next = lead.clone();
    next.version = lead.version + 1;
    let LeadRow {
        rank,
        tier,
        status,
        search,
        doc,
    } = lead_row(&next)?;
    let changed = c
        .execute(
            "UPDATE leads SET phone = ?3, rank_score = ?4, tier = ?5, status = ?6, search = ?7, version = ?8, doc = ?9
             WHERE tenant_id = ?1 AND lead_id = ?2 AND version = ?10",
            params![
                lead.tenant_id.as_str(),
                lead.lead_id.as_str(),
                lead.phone_number.as_str(),
                rank,
                tier,
                status,
                search,
                next.version,
                doc,
                lead.version
            ],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict(format!("another lead already has the phone number {}", lead.phone_number))
            } else {
                e.into()
            }
        })?;
    if changed == 0 {
        return Err(not_updated(
            read_lead(c, lead.tenant_id.as_str(), lead.lead_id.as_str())?.is_some(),
            "lead",
            lead.lead_id.as_str(),
        ));
    }
    Ok(next)
}

#[async_trait]
impl LeadStore for SqliteStore {
    #[instrument(name = "sqlite.lead_ids", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn lead_ids(
        &self,
        tenant: &TenantId,
        after: Option<&LeadId>,
        limit: u32,
    ) -> Result<Vec<LeadId>> {
        let (t, after) = (
            tenant.to_string(),
            after.map(|a| a.to_string()).unwrap_or_default(),
        );
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT lead_id FROM leads WHERE tenant_id = ? AND lead_id > ? \
                 ORDER BY lead_id LIMIT ?",
            )?;
            let ids = stmt
                .query_map(rusqlite::params![t, after, limit], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            ids.iter().map(|id| LeadId::parse(id)).collect()
        })
        .await
    }

    #[instrument(name = "sqlite.get_lead", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_lead(&self, tenant: &TenantId, id: &LeadId) -> Result<Option<Lead>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.with(move |c| read_lead(c, t.as_str(), i.as_str()))
            .await
    }

    #[instrument(name = "sqlite.find_lead_by_phone", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn find_lead_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Lead>> {
        let (t, p) = (tenant.clone(), phone.clone());
        self.with(move |c| {
            get_doc(
                c,
                "SELECT doc FROM leads WHERE tenant_id = ?1 AND phone = ?2",
                [t.as_str(), p.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.insert_lead", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn insert_lead(&self, lead: &Lead) -> Result<()> {
        let lead = lead.clone();
        self.with(move |c| {
            let LeadRow { rank, tier, status, search, doc } = lead_row(&lead)?;
            c.execute(
                "INSERT INTO leads (tenant_id, lead_id, phone, rank_score, tier, status, search, version, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    lead.tenant_id.as_str(),
                    lead.lead_id.as_str(),
                    lead.phone_number.as_str(),
                    rank,
                    tier,
                    status,
                    search,
                    lead.version,
                    doc
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict(format!("a lead with the phone number {} already exists", lead.phone_number))
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.update_lead", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn update_lead(&self, lead: &Lead) -> Result<Lead> {
        let lead = lead.clone();
        self.with(move |c| write_lead(c, &lead)).await
    }

    #[instrument(name = "sqlite.list_leads", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_leads(&self, tenant: &TenantId, q: &LeadQuery) -> Result<Page<Lead>> {
        let (tenant, q) = (tenant.clone(), q.clone());
        self.with(move |c| {
            let mut sql =
                String::from("SELECT doc, rank_score, lead_id FROM leads WHERE tenant_id = ?");
            let mut args: Vec<Sql> = vec![Sql::Text(tenant.to_string())];
            if let Some(t) = q.tier {
                sql.push_str(" AND tier = ?");
                args.push(Sql::Text(t.as_str().into()));
            }
            if let Some(m) = q.min_score {
                sql.push_str(" AND rank_score >= ?");
                args.push(Sql::Integer(m.into()));
            }
            if let Some(m) = q.max_score {
                sql.push_str(" AND rank_score BETWEEN 0 AND ?");
                args.push(Sql::Integer(m.into()));
            }
            if let Some(s) = &q.status {
                sql.push_str(" AND status = ?");
                args.push(Sql::Text(s.to_lowercase()));
            }
            if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let escaped = text
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                sql.push_str(" AND search LIKE ? ESCAPE '\\'");
                args.push(Sql::Text(format!("%{escaped}%")));
            }
            if let Some(cursor) = &q.cursor {
                let (rank, id) = decode_cursor(cursor)?;
                sql.push_str(" AND (rank_score < ? OR (rank_score = ? AND lead_id > ?))");
                args.extend([Sql::Integer(rank), Sql::Integer(rank), Sql::Text(id)]);
            }
            let limit = q.limit();
            sql.push_str(" ORDER BY rank_score DESC, lead_id LIMIT ?");
            args.push(Sql::Integer(i64::from(limit) + 1));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut items = Vec::new();
            let mut last = None;
            for row in rows {
                let (doc, rank, id) = row?;
                if items.len() == limit as usize {
                    return Ok(Page {
                        items,
                        next_cursor: last.map(|(r, i): (i64, String)| format!("{r}:{i}")),
                    });
                }
                items.push(serde_json::from_str(&doc)?);
                last = Some((rank, id));
            }
            Ok(Page {
                items,
                next_cursor: None,
            })
        })
        .await
    }

    #[instrument(name = "sqlite.note_call", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn note_call(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        call: &CallId,
        at: DateTime<Utc>,
    ) -> Result<Lead> {
        let (tenant, lead_id, call) = (tenant.clone(), lead.clone(), call.clone());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut lead = read_lead(&tx, tenant.as_str(), lead_id.as_str())?
                .ok_or_else(|| Error::not_found(format!("lead {lead_id}")))?;
            tx.execute(
                "INSERT OR IGNORE INTO lead_calls (tenant_id, lead_id, call_id, called_at) VALUES (?1, ?2, ?3, ?4)",
                params![tenant.as_str(), lead_id.as_str(), call.as_str(), ts(at)],
            )?;
            let (count, last): (u32, Option<String>) = tx.query_row(
                "SELECT COUNT(*), MAX(called_at) FROM lead_calls WHERE tenant_id = ?1 AND lead_id = ?2",
                [tenant.as_str(), lead_id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let last = last.and_then(|l| DateTime::parse_from_rfc3339(&l).ok()).map(|t| t.with_timezone(&Utc));
            if lead.call_count == count && lead.last_called_at == last {
                return Ok(lead);
            }
            lead.call_count = count;
            lead.last_called_at = last;
            lead.updated_at = Utc::now();
            let stored = write_lead(&tx, &lead)?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    #[instrument(name = "sqlite.save_score", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn save_score(&self, lead: &Lead, change: &ScoreChange) -> Result<bool> {
        let (lead, change) = (lead.clone(), change.clone());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let added = tx.execute(
                "INSERT OR IGNORE INTO score_history (tenant_id, lead_id, cause_key, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    lead.tenant_id.as_str(),
                    lead.lead_id.as_str(),
                    change.cause.key(),
                    serde_json::to_string(&change)?
                ],
            )?;
            if added == 0 {
                return Ok(false);
            }
            write_lead(&tx, &lead)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[instrument(name = "sqlite.score_history", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn score_history(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<ScoreChange>> {
        let (t, l) = (tenant.clone(), lead.clone());
        self.with(move |c| {
            list_docs(
                c,
                "SELECT doc FROM score_history WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY seq",
                [t.as_str(), l.as_str()],
            )
        })
        .await
    }
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    cursor
        .split_once(':')
        .and_then(|(r, id)| Some((r.parse::<i64>().ok()?, LeadId::parse(id).ok()?.to_string())))
        .ok_or_else(|| {
            Error::validation(format!(
                "cursor: `{cursor}` is not a cursor this API returned"
            ))
        })
}

fn read_call(c: &Connection, tenant: &str, id: &str) -> Result<Option<Call>> {
    get_doc(
        c,
        "SELECT doc FROM calls WHERE tenant_id = ?1 AND call_id = ?2",
        [tenant, id],
    )
}

#[async_trait]
impl CallStore for SqliteStore {
    #[instrument(name = "sqlite.get_call", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_call(&self, tenant: &TenantId, id: &CallId) -> Result<Option<Call>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.with(move |c| read_call(c, t.as_str(), i.as_str()))
            .await
    }

    #[instrument(name = "sqlite.insert_call", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn insert_call(&self, call: &Call) -> Result<bool> {
        let call = call.clone();
        self.with(move |c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO calls (tenant_id, call_id, lead_id, started_at, status, version, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    call.tenant_id.as_str(),
                    call.call_id.as_str(),
                    call.lead_id.as_str(),
                    ts(call.call_start_time),
                    call.status.as_str(),
                    call.version,
                    serde_json::to_string(&call)?
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    #[instrument(name = "sqlite.update_call", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn update_call(&self, call: &Call) -> Result<Call> {
        let call = call.clone();
        self.with(move |c| {
            let mut next = call.clone();
            next.version = call.version + 1;
            next.updated_at = Utc::now();
            let n = c.execute(
                "UPDATE calls SET lead_id = ?3, started_at = ?4, status = ?5, version = ?6, doc = ?7
                 WHERE tenant_id = ?1 AND call_id = ?2 AND version = ?8",
                params![
                    call.tenant_id.as_str(),
                    call.call_id.as_str(),
                    call.lead_id.as_str(),
                    ts(call.call_start_time),
                    call.status.as_str(),
                    next.version,
                    serde_json::to_string(&next)?,
                    call.version
                ],
            )?;
            if n == 0 {
                return Err(not_updated(
                    read_call(c, call.tenant_id.as_str(), call.call_id.as_str())?.is_some(),
                    "call",
                    call.call_id.as_str(),
                ));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.calls_for_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn calls_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<Call>> {
        let (t, l) = (tenant.clone(), lead.clone());
        self.with(move |c| {
            list_docs(
                c,
                "SELECT doc FROM calls WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY started_at, call_id",
                [t.as_str(), l.as_str()],
            )
        })
        .await
    }
}

fn read_rule(c: &Connection, tenant: &str, id: &str) -> Result<Option<ScoringRule>> {
    get_doc(
        c,
        "SELECT doc FROM rules WHERE tenant_id = ?1 AND rule_id = ?2",
        [tenant, id],
    )
}

fn insert_rule_row(c: &Connection, rule: &ScoringRule) -> Result<()> {
    c.execute(
        "INSERT INTO rules (tenant_id, rule_id, version, doc) VALUES (?1, ?2, ?3, ?4)",
        params![
            rule.tenant_id.as_str(),
            rule.rule_id.as_str(),
            rule.version,
            serde_json::to_string(rule)?
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict(format!(
                "a rule with the id `{}` already exists",
                rule.rule_id
            ))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

#[async_trait]
impl RuleStore for SqliteStore {
    #[instrument(name = "sqlite.list_rules", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_rules(&self, tenant: &TenantId) -> Result<Vec<ScoringRule>> {
        let t = tenant.clone();
        self.with(move |c| {
            list_docs(
                c,
                "SELECT doc FROM rules WHERE tenant_id = ?1 ORDER BY rule_id",
                [t.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.get_rule", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_rule(&self, tenant: &TenantId, id: &RuleId) -> Result<Option<ScoringRule>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.with(move |c| read_rule(c, t.as_str(), i.as_str()))
            .await
    }

    #[instrument(name = "sqlite.insert_rule", level = "debug", skip_all, fields(tenant = %rule.tenant_id, rule = %rule.rule_id))]
    async fn insert_rule(&self, rule: &ScoringRule) -> Result<()> {
        let rule = rule.clone();
        self.with(move |c| insert_rule_row(c, &rule)).await
    }

    #[instrument(name = "sqlite.update_rule", level = "debug", skip_all, fields(tenant = %rule.tenant_id, rule = %rule.rule_id))]
    async fn update_rule(&self, rule: &ScoringRule) -> Result<ScoringRule> {
        let rule = rule.clone();
        self.with(move |c| {
            let mut next = rule.clone();
            next.version = rule.version + 1;
            let n = c.execute(
                "UPDATE rules SET version = ?3, doc = ?4 WHERE tenant_id = ?1 AND rule_id = ?2 AND version = ?5",
                params![
                    rule.tenant_id.as_str(),
                    rule.rule_id.as_str(),
                    next.version,
                    serde_json::to_string(&next)?,
                    rule.version
                ],
            )?;
            if n == 0 {
                return Err(not_updated(read_rule(c, rule.tenant_id.as_str(), rule.rule_id.as_str())?.is_some(), "rule", rule.rule_id.as_str()));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.seed_rules", level = "debug", skip_all, fields(tenant = %tenant, rules = rules.len()))]
    async fn seed_rules(&self, tenant: &TenantId, rules: &[ScoringRule]) -> Result<bool> {
        let (t, rules) = (tenant.clone(), rules.to_vec());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO tenants (tenant_id) VALUES (?1)",
                [t.as_str()],
            )?;
            let seeded = tx.execute(
                "UPDATE tenants SET rules_seeded = 1 WHERE tenant_id = ?1 AND rules_seeded = 0",
                [t.as_str()],
            )?;
            if seeded == 0 {
                return Ok(false);
            }
            for r in &rules {
                if read_rule(&tx, t.as_str(), r.rule_id.as_str())?.is_none() {
                    insert_rule_row(&tx, r)?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl Queue for SqliteStore {
    #[instrument(name = "sqlite.send", level = "debug", skip_all)]
    async fn send(&self, job: &Job) -> Result<()> {
        self.send_after(job, std::time::Duration::ZERO).await
    }

    #[instrument(name = "sqlite.send_after", level = "debug", skip_all)]
    async fn send_after(&self, job: &Job, delay: std::time::Duration) -> Result<()> {
        let job = job.clone();
        let at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO jobs (job_key, tenant_id, payload, state, available_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
                params![job.key(), job.tenant().as_str(), serde_json::to_string(&job)?, at],
            )?;
            Ok(())
        })
        .await?;
        self.queued.notify_one();
        Ok(())
    }
}

#[async_trait]
impl SmsStore for SqliteStore {
    #[instrument(name = "sqlite.append_sms_event", level = "debug", skip_all, fields(tenant = %event.tenant_id, lead = %event.lead_id))]
    async fn append_sms_event(&self, event: &SmsEvent) -> Result<bool> {
        let doc = serde_json::to_string(event)?;
        let row = (
            event.tenant_id.to_string(),
            event.lead_id.to_string(),
            event.event_id.clone(),
            ts(event.at),
        );
        self.with(move |c| {
            let added = c.execute(
                "INSERT INTO sms_events (tenant_id, lead_id, event_id, at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, event_id) DO NOTHING",
                params![row.0, row.1, row.2, row.3, doc],
            )?;
            Ok(added == 1)
        })
        .await
    }

    #[instrument(name = "sqlite.sms_events", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_events(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<SmsEvent>> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        self.with(move |c| {
            list_docs(
                c,
                "SELECT doc FROM sms_events WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY at, seq",
                params![tenant, lead],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.insert_link", level = "debug", skip_all)]
    async fn insert_link(&self, link: &TrackedLink) -> Result<()> {
        let doc = serde_json::to_string(link)?;
        let row = (
            link.token.clone(),
            link.tenant_id.to_string(),
            link.lead_id.to_string(),
        );
        self.with(move |c| {
            match c.execute(
                "INSERT INTO links (token, tenant_id, lead_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![row.0, row.1, row.2, doc],
            ) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(Error::conflict(format!("link token {} is taken", row.0)))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    #[instrument(name = "sqlite.get_link", level = "debug", skip_all)]
    async fn get_link(&self, token: &str) -> Result<Option<TrackedLink>> {
        let token = token.to_owned();
        self.with(move |c| get_doc(c, "SELECT doc FROM links WHERE token = ?1", params![token]))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("leadscore.db")).unwrap();
        (dir, s)
    }

    fn lead(phone: &str) -> Lead {
        Lead::new(
            TenantId::default_tenant(),
            PhoneNumber::parse(phone).unwrap(),
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn jobs_are_deduplicated_leased_and_reclaimed_after_a_crash() {
        let (_d, s) = store();
        let job = Job::Analyze {
            tenant_id: TenantId::default_tenant(),
            call_id: CallId::parse("c1").unwrap(),
        };
        s.send(&job).await.unwrap();
        s.send(&job).await.unwrap();
        assert_eq!(
            s.queue_counts().await.unwrap().pending,
            1,
            "a waiting job is not queued twice"
        );
        // A worker claims it and dies without finishing.
        let first = s.claim(Duration::from_millis(50)).await.unwrap().unwrap();
        assert!(
            s.claim(Duration::from_millis(50)).await.unwrap().is_none(),
            "leased jobs are not handed out twice"
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        // After the lease, the next worker gets it again.
        let again = s.claim(Duration::from_secs(30)).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (first.id, 2));
        s.complete(again.id).await.unwrap();
        assert_eq!(s.queue_counts().await.unwrap(), QueueCounts::default());
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let l = lead("+14155550134");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.insert_lead(&l).await.unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert!(
            s.get_lead(&l.tenant_id, &l.lead_id)
                .await
                .unwrap()
                .is_some()
        );
    }
}
