//! The job queue: the producer side behind the `Queue` port, the consumer side (claim with a
//! lease, complete, retry, bury) for the local worker. Lambda gets the consumer side from SQS.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use tracing::instrument;

use crate::domain::TenantId;
use crate::error::Result;
use crate::ports::{Job, Queue};

use super::{SqliteStore, now_ms};

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
    /// Webhook attempts waiting for their retry time (not in `pending`): a command that runs
    /// the queue to its end leaves them for `leadscore serve`, which runs them when due.
    pub retries_later: u64,
}

/// The job a claim takes: first one whose holder's lease ran out (its worker died), else the
/// oldest ready one whose work is not running now. Each half walks the `jobs_ready` index in
/// order and stops at its first match, so a claim costs the same with 10 or 100,000 jobs
/// waiting (one query ordering both halves together sorted every waiting job, every time).
pub(super) const CLAIM: &str =
    "UPDATE jobs SET state = 'running', lease_until = ?1 + ?2, attempts = attempts + 1
     WHERE id = coalesce(
         (SELECT id FROM jobs WHERE state = 'running' AND lease_until <= ?1
          ORDER BY available_at, id LIMIT 1),
         (SELECT id FROM jobs
          WHERE state = 'pending' AND available_at <= ?1
            AND NOT EXISTS (SELECT 1 FROM jobs AS held
                            WHERE held.job_key = jobs.job_key
                              AND held.state = 'running'
                              AND held.lease_until > ?1)
          ORDER BY available_at, id LIMIT 1))
     RETURNING id, payload, attempts";

impl SqliteStore {
    /// Resolves when a job is queued through this store (or one was since the last call).
    pub async fn job_queued(&self) {
        self.queued.notified().await;
    }

    /// Take the next job that is ready, or whose holder's lease ran out (its worker died). A
    /// job sent again while the same work runs waits for that run to end.
    pub async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        self.with(move |c| {
            let now = now_ms();
            let row = c
                .prepare_cached(CLAIM)?
                .query_row(params![now, lease_ms], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u32>(2)?,
                    ))
                })
                .optional()?;
            row.map(|(id, payload, attempts)| {
                Ok(ClaimedJob {
                    id,
                    job: super::from_stored(&payload)?,
                    attempts,
                })
            })
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

    /// Put the job back to be tried again after `delay`; when the same work was sent again
    /// while it ran, that copy waits already and this one goes.
    pub async fn retry(&self, id: i64, error: &str, delay: Duration) -> Result<()> {
        let error = error.to_owned();
        let at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        self.with(move |c| {
            let updated = c.execute(
                "UPDATE jobs SET state = 'pending', available_at = ?2, lease_until = NULL, last_error = ?3 WHERE id = ?1",
                params![id, at, error],
            );
            match updated {
                Err(e) if super::is_unique_violation(&e) => {
                    c.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
                }
                other => {
                    other?;
                }
            }
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
            let mut stmt = c.prepare(
                "SELECT CASE WHEN state = 'pending' AND job_key LIKE 'deliver/%' \
                 AND available_at > ?1 THEN 'later' ELSE state END AS s, COUNT(*) \
                 FROM jobs GROUP BY s",
            )?;
            let rows = stmt.query_map([now_ms()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))
            })?;
            for row in rows {
                let (state, n) = row?;
                match state.as_str() {
                    "pending" => counts.pending = n,
                    "running" => counts.running = n,
                    "later" => counts.retries_later = n,
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
                Ok((super::from_stored(&p)?, e))
            })
            .collect()
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
                params![job.key(), job.tenant().map_or("", TenantId::as_str), serde_json::to_string(&job)?, at],
            )?;
            Ok(())
        })
        .await?;
        self.queued.notify_one();
        Ok(())
    }
}
