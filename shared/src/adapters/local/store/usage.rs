//! Usage counters: one row per tenant, month and counter, added to in one transaction.
//!
//! API requests are the exception: `leadscore serve` counts one for every request, and a
//! write (a transaction and its fsync, on the one writer) for each made the counter the
//! slowest part of a read, and emptied every reader's page cache (a commit tells each reader
//! to drop what it cached). They are added up in memory and written at most a second apart
//! ([`UsageBuffer`]): a crash loses at most the requests of one second, and the usage a reader
//! asks for ([`UsageMeter::counts`]) is written first, so it is always whole.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, params};
use tracing::instrument;

use crate::domain::{Counter, Month, TenantId};
use crate::error::Result;
use crate::ports::UsageMeter;

use super::SqliteStore;

#[async_trait]
impl UsageMeter for SqliteStore {
    #[instrument(name = "sqlite.add_usage", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn add(&self, tenant: &TenantId, month: Month, counts: &[(Counter, u64)]) -> Result<()> {
        let month = month.to_string();
        let (buffered, direct): (Vec<_>, Vec<_>) = counts
            .iter()
            .map(|&(counter, n)| (tenant.as_str().to_owned(), month.clone(), counter, n))
            .partition(|(_, _, counter, _)| Pending::buffers(*counter));
        let mut rows = direct;
        if !buffered.is_empty() {
            let (first, due) = self.usage.pending.hold(buffered);
            rows.extend(due);
            if first {
                UsageBuffer::write_later(&self.usage);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let pending = self.usage.pending.clone();
        self.with(move |c| pending.write(c, rows)).await
    }

    #[instrument(name = "sqlite.usage", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn counts(&self, tenant: &TenantId, month: Month) -> Result<BTreeMap<Counter, u64>> {
        let (t, m) = (tenant.clone(), month.to_string());
        let pending = self.usage.pending.clone();
        self.with(move |c| {
            // What is held in memory first, so that the figures are whole.
            pending.write_held(c)?;
            let mut stmt =
                c.prepare("SELECT counter, value FROM usage WHERE tenant_id = ?1 AND month = ?2")?;
            let rows = stmt.query_map(params![t.as_str(), m], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (name, value) = row?;
                // A counter this build does not know (a newer one wrote it) is left out.
                if let Some(counter) = Counter::parse(&name) {
                    out.insert(counter, value.max(0) as u64);
                }
            }
            Ok(out)
        })
        .await
    }
}

/// One count to add: tenant, month, counter and how many.
type Row = (String, String, Counter, u64);

/// API requests counted in memory until they are written: [`UsageBuffer::EVERY`] after the
/// first of them comes in (by a task `add` starts), when usage is read, and when the store's
/// last handle is dropped (`serve` stopping).
pub(super) struct UsageBuffer {
    conn: Arc<Mutex<Connection>>,
    /// Shared with the writes in flight: they hold this, never the buffer, so the buffer's
    /// last handle (whose drop locks the writer) is never dropped on the writer's thread while
    /// it is locked.
    pending: Arc<Pending>,
}

/// The counts held, behind their lock.
#[derive(Default)]
struct Pending(Mutex<Held>);

#[derive(Default)]
struct Held {
    counts: BTreeMap<(String, String, Counter), u64>,
    /// When the oldest count held came in.
    since: Option<Instant>,
}

impl Held {
    /// Add `rows` to what is held. Whether they are the first held since the last write.
    fn add(&mut self, rows: impl IntoIterator<Item = Row>) -> bool {
        for (tenant, month, counter, n) in rows {
            *self.counts.entry((tenant, month, counter)).or_default() += n;
        }
        let first = self.since.is_none();
        self.since.get_or_insert_with(Instant::now);
        first
    }
}

impl UsageBuffer {
    /// How long a count may wait in memory: what a crash can lose.
    const EVERY: Duration = Duration::from_secs(1);

    pub(super) fn new(conn: Arc<Mutex<Connection>>) -> Self {
        Self {
            conn,
            pending: Arc::default(),
        }
    }

    /// Have everything held written [`EVERY`](Self::EVERY) from now, whatever comes after it
    /// (unless the store is gone by then: its last handle wrote it).
    fn write_later(buffer: &Arc<Self>) {
        let buffer = Arc::downgrade(buffer);
        tokio::spawn(async move {
            tokio::time::sleep(Self::EVERY).await;
            let Some(buffer) = buffer.upgrade() else {
                return;
            };
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || buffer.flush()).await {
                tracing::warn!(error = %e.report(), "API requests were not counted yet");
            }
        });
    }

    /// Write everything held, on the writer.
    fn flush(&self) -> Result<()> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.pending.write_held(&mut c)
    }
}

impl Pending {
    /// Counts held at most (tenants x months): past it, they are written at once.
    const MAX_HELD: usize = 1_000;

    /// The counters one request adds to: held. Every other is written as it comes, in the
    /// transaction of the work it counts when there is one (a group commit's savepoint).
    fn buffers(counter: Counter) -> bool {
        counter == Counter::ApiRequests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hold `rows`. Whether they are the first held (the caller has them written in
    /// [`UsageBuffer::EVERY`]), and what is to be written now: everything held, if the oldest
    /// is overdue (its write failed and was put back) or too many are held.
    fn hold(&self, rows: Vec<Row>) -> (bool, Vec<Row>) {
        let mut held = self.lock();
        let first = held.add(rows);
        let overdue = held
            .since
            .is_some_and(|t| t.elapsed() >= 2 * UsageBuffer::EVERY);
        if overdue || held.counts.len() > Self::MAX_HELD {
            drop(held);
            (false, self.take())
        } else {
            (first, Vec::new())
        }
    }

    /// Everything held, which is no longer.
    fn take(&self) -> Vec<Row> {
        let mut held = self.lock();
        held.since = None;
        std::mem::take(&mut held.counts)
            .into_iter()
            .map(|((tenant, month, counter), n)| (tenant, month, counter, n))
            .collect()
    }

    /// Write everything held on `c`, the writer its caller has locked.
    fn write_held(&self, c: &mut Connection) -> Result<()> {
        let rows = self.take();
        self.write(c, rows)
    }

    /// Add `rows` in one transaction. If it fails, the held ones are held again (to be written
    /// with the next), so a busy database loses no request.
    fn write(&self, c: &mut Connection, rows: Vec<Row>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let added = (|| {
            let tx = super::atomic(c)?;
            for (tenant, month, counter, n) in &rows {
                tx.execute(
                    "INSERT INTO usage (tenant_id, month, counter, value) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (tenant_id, month, counter) DO UPDATE SET value = value + excluded.value",
                    params![tenant, month, counter.as_str(), *n as i64],
                )?;
            }
            tx.commit()
        })();
        if added.is_err() {
            let again: Vec<Row> = rows.into_iter().filter(|r| Self::buffers(r.2)).collect();
            if !again.is_empty() {
                self.lock().add(again);
            }
        }
        added
    }
}

impl Drop for UsageBuffer {
    /// The last handle on the store is going: what is held is written.
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e.report(), "API requests held in memory were not counted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> super::super::SqliteStore {
        super::super::SqliteStore::open(path).unwrap()
    }

    /// API requests wait in memory, and nothing else does; nothing held is lost: reading the
    /// usage writes it, and so does the store's last handle going.
    #[tokio::test]
    async fn api_requests_are_held_briefly_and_never_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadscore.db");
        let (serving, other) = (open(&path), open(&path));
        let (tenant, month) = (TenantId::default_tenant(), Month::of(chrono::Utc::now()));
        for _ in 0..3 {
            serving
                .add(&tenant, month, &[(Counter::ApiRequests, 1)])
                .await
                .unwrap();
        }
        serving
            .add(&tenant, month, &[(Counter::CallsIngested, 1)])
            .await
            .unwrap();
        let seen = other.counts(&tenant, month).await.unwrap();
        assert_eq!(
            seen.get(&Counter::CallsIngested),
            Some(&1),
            "written at once"
        );
        assert_eq!(seen.get(&Counter::ApiRequests), None, "held in memory");

        let own = serving.counts(&tenant, month).await.unwrap();
        assert_eq!(
            own.get(&Counter::ApiRequests),
            Some(&3),
            "the reader sees all"
        );
        let seen = other.counts(&tenant, month).await.unwrap();
        assert_eq!(
            seen.get(&Counter::ApiRequests),
            Some(&3),
            "written when read"
        );

        serving
            .add(&tenant, month, &[(Counter::ApiRequests, 2)])
            .await
            .unwrap();
        drop(serving);
        let seen = other.counts(&tenant, month).await.unwrap();
        assert_eq!(
            seen.get(&Counter::ApiRequests),
            Some(&5),
            "written on the way out"
        );
    }
}
