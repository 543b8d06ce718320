//! The local queue's consumer: claims jobs from the store, runs them through the handlers,
//! retries what may pass and buries what will not (the local dead-letter queue).

use std::time::{Duration, Instant};

use tracing::{Instrument, info_span, warn};

use crate::adapters::local::{QueueCounts, SqliteStore};
use crate::handlers;
use crate::local::GroupCommit;
use crate::{Deps, Result};

/// A job is tried this many times before it is buried.
pub const MAX_ATTEMPTS: u32 = 5;

/// How often [`Worker::drain_with`] reports progress (counting the queue reads every job).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct Worker {
    deps: Deps,
    store: SqliteStore,
    /// How long a claimed job is held; if its worker dies, another takes it after this.
    pub lease: Duration,
    /// How long to wait between polls when the queue is empty.
    pub idle_poll: Duration,
}

impl Worker {
    pub fn new(deps: Deps, store: SqliteStore) -> Self {
        Self {
            deps,
            store,
            lease: Duration::from_secs(10),
            idle_poll: Duration::from_millis(200),
        }
    }

    /// Claim and run one ready job. Returns whether there was one.
    pub async fn run_one(&self) -> Result<bool> {
        self.run_next(None).await
    }

    /// [`run_one`](Self::run_one), in `group` when there is one and the job may join it.
    async fn run_next(&self, mut group: Option<&mut GroupCommit>) -> Result<bool> {
        if let Some(g) = group.as_deref_mut() {
            g.enter().await?;
        }
        let Some(claimed) = self.store.claim(self.lease).await? else {
            return Ok(false);
        };
        if let Some(g) = group.as_deref_mut()
            && !claimed.job.may_join_group()
        {
            g.commit().await?;
        }
        let span = info_span!("job", id = claimed.id, key = %claimed.job.key(), attempt = claimed.attempts);
        async {
            match handlers::run_job(&self.deps, &claimed.job).await {
                Ok(()) => self.store.complete(claimed.id).await,
                Err(e) if e.is_retryable() && claimed.attempts < MAX_ATTEMPTS => {
                    let delay = Duration::from_millis(200 * 2u64.pow(claimed.attempts));
                    warn!(error = %e.report(), ?delay, "job failed; will retry");
                    self.store.retry(claimed.id, &e.report(), delay).await
                }
                Err(e) => {
                    let reason = e.report();
                    warn!(error = %reason, "job failed for good");
                    handlers::record_failure(&self.deps, &claimed.job, &reason).await?;
                    self.store.bury(claimed.id, &reason).await
                }
            }
        }
        .instrument(span)
        .await?;
        if let Some(g) = group {
            g.leave().await?;
        }
        Ok(true)
    }

    /// Run jobs until none is waiting (including ones waiting to be retried, but not webhook
    /// attempts waiting for their retry time, which `serve` runs when due). Returns how many
    /// ran.
    pub async fn drain(&self) -> Result<usize> {
        self.drain_with(None, &mut |_, _| {}).await
    }

    /// [`drain`](Self::drain), committing in `group` when given one (a command that has the
    /// data folder to itself) and telling `on_progress` how many ran and what is left, now
    /// and then (every [`PROGRESS_EVERY`] at most, and at the end).
    pub async fn drain_with(
        &self,
        mut group: Option<&mut GroupCommit>,
        on_progress: &mut (dyn FnMut(usize, QueueCounts) + Send),
    ) -> Result<usize> {
        let mut ran = 0;
        let mut told = Instant::now();
        loop {
            if self.run_next(group.as_deref_mut()).await? {
                ran += 1;
                if told.elapsed() >= PROGRESS_EVERY {
                    on_progress(ran, self.store.queue_counts().await?);
                    told = Instant::now();
                }
                continue;
            }
            // Nothing ready: what ran is committed before waiting or returning.
            if let Some(g) = group.as_deref_mut() {
                g.commit().await?;
            }
            let counts = self.store.queue_counts().await?;
            on_progress(ran, counts);
            if counts.pending == 0 && counts.running == 0 {
                return Ok(ran);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Run until `stop` turns true.
    pub async fn run(&self, stop: &mut tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => warn!(error = %e.report(), "the worker could not reach the queue"),
            }
            // Polling still finds jobs queued by another process and retries coming due.
            tokio::select! {
                _ = tokio::time::sleep(self.idle_poll) => {}
                _ = self.store.job_queued() => {}
                _ = stop.changed() => {}
            }
        }
    }
}
