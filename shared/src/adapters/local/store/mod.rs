//! The embedded store: one SQLite file (WAL, synchronous=FULL) holding leads, calls, rules,
//! score ledgers and the job queue, every row keyed by tenant. The layout mirrors the DynamoDB
//! design: each record is a JSON document plus the few columns that are indexed.

mod api_keys;
mod audit;
mod calls;
mod crm;
mod group;
mod leads;
mod migrations;
mod queue;
mod rules;
mod sms;
mod usage;
mod webhooks;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

use migrations::MIGRATIONS;
pub use queue::{ClaimedJob, QueueCounts};

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

/// Prepared statements each connection keeps (rusqlite's cache, least recently used out): the
/// store's fixed statements, so that the ones a request makes are prepared once per connection.
const STATEMENTS_KEPT: usize = 128;

/// SQLite-backed implementation of the stores and the queue. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes (and reads while a group commit is open).
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections beside it. In WAL mode each reads the latest committed state
    /// while the writer writes, so the API's reads wait neither on a write nor on each other.
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Wakes this process's worker when a job is queued, so it need not wait for its next poll.
    queued: Arc<tokio::sync::Notify>,
    exclusive: Arc<AtomicBool>,
    /// API requests counted, not yet written (see `usage.rs`).
    usage: Arc<usage::UsageBuffer>,
    /// A group commit is open on the writer: reads go to it, to see the group's writes.
    grouped: Arc<AtomicBool>,
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
        Self::init(conn, Self::readers(path))
    }

    /// At most this many read-only connections: one per core, within 2..=8. Each is opened
    /// when first needed and closed after 10 minutes unused.
    fn max_readers() -> u32 {
        std::thread::available_parallelism()
            .map_or(2, |n| n.get() as u32)
            .clamp(2, 8)
    }

    fn readers(path: &Path) -> r2d2::Pool<SqliteConnectionManager> {
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .with_init(|c| {
                c.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
                c.busy_timeout(Duration::from_secs(5))
            });
        r2d2::Pool::builder()
            .max_size(Self::max_readers())
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(5))
            .build_unchecked(manager)
    }

    fn init(mut conn: Connection, readers: r2d2::Pool<SqliteConnectionManager>) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // What is deleted is overwritten, so an erased lead leaves nothing in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
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
        let conn = Arc::new(Mutex::new(conn));
        Ok(Self {
            usage: Arc::new(usage::UsageBuffer::new(conn.clone())),
            conn,
            readers,
            queued: Arc::new(tokio::sync::Notify::new()),
            exclusive: Arc::default(),
            grouped: Arc::default(),
        })
    }

    /// Run `f` on the connection without stalling the async runtime: on the blocking pool
    /// while the store serves many (`serve`: its workers go on answering while a statement
    /// runs); in place when a command has it to itself ([`set_exclusive`](Self::set_exclusive),
    /// on a multi-threaded runtime), where the hop to a blocking-pool thread and back for
    /// every statement cost a backfill half its time.
    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let run = move || {
            let mut c = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut c)
        };
        let in_place = self.exclusive.load(Ordering::Relaxed)
            && tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread;
        if in_place {
            tokio::task::block_in_place(run)
        } else {
            tokio::task::spawn_blocking(run)
                .await
                .map_err(|e| Error::internal("database task failed", e))?
        }
    }

    /// Run `f`, which only reads, on a reader from the pool, or on the writer while a group
    /// commit is open (its reads must see the group's own writes, which no other connection
    /// sees before it commits) or this process has the store to itself.
    ///
    /// A read runs in place, on the task's own thread: it is short (an indexed lookup or one
    /// page, from the page cache), and a hop to the blocking pool and back cost more than the
    /// read under load. There is a reader per core (up to 8), so a runtime thread (one per
    /// core) finds one free.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if self.exclusive.load(Ordering::Relaxed) || self.grouped.load(Ordering::Acquire) {
            return self.with(move |c| f(c)).await;
        }
        let c = self
            .readers
            .get()
            .map_err(|e| Error::transient("no database reader came free", e))?;
        f(&c)
    }

    /// Whether this process has the store to itself for now (a group commit is open for
    /// business): then statements run in place. Shared by every clone.
    pub fn set_exclusive(&self, exclusive: bool) {
        self.exclusive.store(exclusive, Ordering::Relaxed);
    }
}

/// A write that lands whole or not at all: its own IMMEDIATE transaction (taking the write lock
/// up front, so that it never has to give way half done to another process), or, inside a
/// group commit, a savepoint within the group's transaction.
enum Atomic<'c> {
    Own(rusqlite::Transaction<'c>),
    InGroup(rusqlite::Savepoint<'c>),
}

fn atomic(c: &mut Connection) -> Result<Atomic<'_>> {
    Ok(if c.is_autocommit() {
        Atomic::Own(c.transaction_with_behavior(TransactionBehavior::Immediate)?)
    } else {
        Atomic::InGroup(c.savepoint()?)
    })
}

impl Atomic<'_> {
    fn commit(self) -> Result<()> {
        match self {
            Atomic::Own(tx) => tx.commit()?,
            Atomic::InGroup(sp) => sp.commit()?,
        }
        Ok(())
    }
}

impl std::ops::Deref for Atomic<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Atomic::Own(tx) => tx,
            Atomic::InGroup(sp) => sp,
        }
    }
}

/// One JSON document, or none. The statement is prepared once per connection and kept
/// ([`STATEMENTS_KEPT`]): parsing and planning it again was a tenth of a lead's read.
fn get_doc<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    let doc: Option<String> = c
        .prepare_cached(sql)?
        .query_row(params, |r| r.get(0))
        .optional()?;
    doc.map(|d| from_stored(&d)).transpose()
}

/// A JSON document this store wrote, read back (the numbers in it were checked when written:
/// [`reading_stored`](crate::domain::reading_stored)).
fn from_stored<T: DeserializeOwned>(doc: &str) -> Result<T> {
    Ok(crate::domain::reading_stored(|| serde_json::from_str(doc))?)
}

/// Every JSON document a query returns, in its order (the statement kept, as for [`get_doc`]).
fn list_docs<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
    rows.map(|r| from_stored(&r?)).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallId, Lead, PhoneNumber, TenantId};
    use crate::ports::{Job, LeadStore, Queue};

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
    async fn a_job_sent_while_it_runs_runs_again_after_it() {
        let (_d, s) = store();
        let job = Job::CrmPush {
            tenant_id: TenantId::default_tenant(),
            crm: crate::domain::Crm::Hubspot,
        };
        s.send(&job).await.unwrap();
        let running = s.claim(Duration::from_secs(30)).await.unwrap().unwrap();
        // A change arrives while the push runs: it is not lost as a copy of the running job...
        s.send(&job).await.unwrap();
        s.send(&job).await.unwrap();
        let counts = s.queue_counts().await.unwrap();
        assert_eq!((counts.running, counts.pending), (1, 1));
        // ...and not run beside it.
        assert!(s.claim(Duration::from_secs(30)).await.unwrap().is_none());
        s.complete(running.id).await.unwrap();
        let next = s.claim(Duration::from_secs(30)).await.unwrap().unwrap();
        assert_eq!((next.job, next.attempts), (job.clone(), 1));
        // A retry of a run whose work was sent again meanwhile leaves the one waiting copy.
        s.send(&job).await.unwrap();
        s.retry(next.id, "HubSpot answered 503", Duration::ZERO)
            .await
            .unwrap();
        let counts = s.queue_counts().await.unwrap();
        assert_eq!((counts.running, counts.pending), (0, 1));
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

    fn change(l: &Lead) -> crate::domain::ScoreChange {
        crate::domain::ScoreChange {
            cause: crate::domain::ScoreCause::Recompute { nonce: "n1".into() },
            previous: l.lead_score,
            previous_tier: None,
            score: 80,
            tier: crate::domain::Tier::Hot,
            at: Utc::now(),
        }
    }

    fn analyze(call: &str) -> Job {
        Job::Analyze {
            tenant_id: TenantId::default_tenant(),
            call_id: CallId::parse(call).unwrap(),
        }
    }

    /// How SQLite will run `sql` with `params` (EXPLAIN QUERY PLAN's details, one per line).
    pub(super) fn query_plan(c: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_claim_reads_only_the_head_of_the_queue() {
        let (_d, s) = store();
        let plan = query_plan(&s.conn.lock().unwrap(), queue::CLAIM, [0, 0]);
        assert!(
            !plan.contains("TEMP B-TREE"),
            "no sort of every waiting job:\n{plan}"
        );
        assert!(!plan.contains("SCAN"), "no scan:\n{plan}");
        assert!(plan.contains("USING INDEX jobs_ready"), "{plan}");
    }

    /// A lead stored by an older version (its document of an older form) is listed as this
    /// version writes a lead; one stored now is served as stored.
    #[tokio::test]
    async fn the_list_serves_stored_leads_in_the_current_form() {
        let (_dir, s) = store();
        let (old, new) = (lead("+14155550134"), lead("+14155550135"));
        s.insert_lead(&old).await.unwrap();
        s.insert_lead(&new).await.unwrap();
        s.with(|c| {
            c.execute(
                "UPDATE leads SET doc_form = 0, doc = json_remove(doc, '$.factors', '$.ai_keywords')
                 WHERE phone = '+14155550134'",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let page = s
            .list_lead_json(&TenantId::default_tenant(), &Default::default())
            .await
            .unwrap();
        let mut served: Vec<String> = page
            .items
            .iter()
            .map(|l| serde_json::to_string(l).unwrap())
            .collect();
        served.sort();
        let mut expected = [
            serde_json::to_string(&old).unwrap(),
            serde_json::to_string(&new).unwrap(),
        ];
        expected.sort();
        assert_eq!(served, expected);
        assert!(served.iter().all(|l| l.contains(r#""factors":[]"#)));
    }

    #[tokio::test]
    async fn a_group_is_one_transaction_that_others_see_only_once_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadscore.db");
        let s = SqliteStore::open(&path).unwrap();
        let other = SqliteStore::open(&path).unwrap();
        let (a, b) = (lead("+14155550134"), lead("+14155550135"));
        s.begin_group().await.unwrap();
        s.insert_lead(&a).await.unwrap();
        // A write of several statements (a savepoint inside the group) and a job.
        s.save_score(&a, &change(&a)).await.unwrap();
        s.send(&analyze("c1")).await.unwrap();
        assert!(
            s.get_lead(&a.tenant_id, &a.lead_id)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            other
                .get_lead(&a.tenant_id, &a.lead_id)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(other.queue_counts().await.unwrap().pending, 0);
        s.commit_group().await.unwrap();
        assert!(
            other
                .get_lead(&a.tenant_id, &a.lead_id)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(other.queue_counts().await.unwrap().pending, 1);
        // A group given up stores none of its writes.
        s.begin_group().await.unwrap();
        s.insert_lead(&b).await.unwrap();
        s.rollback_group().await.unwrap();
        assert!(
            s.get_lead(&b.tenant_id, &b.lead_id)
                .await
                .unwrap()
                .is_none()
        );
        // Outside a group, each write commits on its own again.
        s.insert_lead(&b).await.unwrap();
        assert!(
            other
                .get_lead(&b.tenant_id, &b.lead_id)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_group_ended_early_by_sqlite_is_reported_at_its_commit() {
        let (_d, s) = store();
        s.begin_group().await.unwrap();
        s.insert_lead(&lead("+14155550134")).await.unwrap();
        // What an I/O error does to a transaction.
        s.with(|c| Ok(c.execute_batch("ROLLBACK")?)).await.unwrap();
        let err = s.commit_group().await.unwrap_err();
        assert!(err.to_string().contains("ended before its commit"), "{err}");
    }
}
