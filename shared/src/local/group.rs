//! Group commit for a command that has the data folder to itself (`leadscore ingest`): the
//! files and jobs of up to [`GroupCommit::MAX_UNITS`] units, or of [`GroupCommit::MAX_WAIT`],
//! share one SQLite transaction, and the blobs they wrote are synced together just before it
//! commits. A 10,000-call backfill then syncs to disk a few dozen times instead of 180,000.
//!
//! What a crash can lose, and how it recovers:
//! - kill -9 or a power loss loses the open group (at most `MAX_UNITS` units or `MAX_WAIT`
//!   of work) and nothing committed: the database comes back as it was when the group
//!   began, a moment between units. The files of a lost group are taken again by the next
//!   `leadscore ingest` of the same folder (what was committed is recognised and not counted
//!   twice), and its jobs, which were never marked done, run again.
//! - A blob is synced before the row that names it is committed, so no committed row points
//!   at a blob a power loss took. A lost group can leave blobs that no row names; they are
//!   written again, whole, when the file is taken again.
//! - Work that reaches outside the data folder (webhook deliveries, CRM calls, a speech
//!   engine, training; and erasure, whose deleted blobs a lost group could not bring back)
//!   never runs inside a group: the group commits first, so what the
//!   outside world is told is never rolled back by a crash.

use std::time::{Duration, Instant};

use crate::Result;
use crate::adapters::local::{FileBlobStore, SqliteStore};

pub struct GroupCommit {
    store: SqliteStore,
    blobs: FileBlobStore,
    /// When the open group began, and how many units it holds.
    open: Option<(Instant, usize)>,
}

impl GroupCommit {
    /// A group commits after this many units...
    pub const MAX_UNITS: usize = 500;
    /// ...or once it is this old, whichever comes first.
    pub const MAX_WAIT: Duration = Duration::from_secs(1);

    /// While it lives, the store's statements run in place ([`SqliteStore::set_exclusive`]).
    pub fn new(store: SqliteStore, blobs: FileBlobStore) -> Self {
        store.set_exclusive(true);
        Self {
            store,
            blobs,
            open: None,
        }
    }

    /// Before a unit of work (a file, a job): open a group unless one is open.
    pub async fn enter(&mut self) -> Result<()> {
        if self.open.is_none() {
            self.blobs.defer_syncs();
            if let Err(e) = self.store.begin_group().await {
                self.blobs.sync_deferred().await?;
                return Err(e);
            }
            self.open = Some((Instant::now(), 0));
        }
        Ok(())
    }

    /// After a unit: commit when the group is full or old enough.
    pub async fn leave(&mut self) -> Result<()> {
        if let Some((since, units)) = &mut self.open {
            *units += 1;
            if *units >= Self::MAX_UNITS || since.elapsed() >= Self::MAX_WAIT {
                self.commit().await?;
            }
        }
        Ok(())
    }

    /// Commit the open group, if any: its blobs synced first, then its transaction. Before
    /// work that reaches outside, before waiting, and at the end.
    pub async fn commit(&mut self) -> Result<()> {
        if self.open.take().is_some() {
            if let Err(e) = self.blobs.sync_deferred().await {
                // Rows must not outlive a blob that may not be on disk: drop the group.
                self.store.rollback_group().await?;
                return Err(e);
            }
            self.store.commit_group().await?;
        }
        Ok(())
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.store.set_exclusive(false);
    }
}
