//! Group commit: the writes of many jobs in one transaction, so that a backfill pays one sync
//! to disk per group instead of one per write.
//!
//! While a group is open, every write through this store joins the group's transaction (the
//! store's own multi-statement writes become savepoints inside it), and nothing of the group
//! is durable or visible to other connections until [`SqliteStore::commit_group`]. Only a
//! process that has the store to itself should open one (`leadscore ingest` does; `serve`
//! does not, since its API answers must be durable when they are given): a group holds the
//! database's write lock, so another process's writes wait for it (up to the busy timeout).
//!
//! A crash (kill -9, power loss) loses the open group and nothing before it: the database is
//! as it was at the group's start, a moment between jobs, which the queue's at-least-once
//! design already recovers from.

use std::sync::atomic::Ordering;

use super::SqliteStore;
use crate::error::{Error, Result};

impl SqliteStore {
    /// Open a group: take the write lock and begin the transaction the next writes join.
    pub async fn begin_group(&self) -> Result<()> {
        self.with(|c| {
            if !c.is_autocommit() {
                return Err(Error::internal(
                    "a group commit was opened twice",
                    "begin_group inside a transaction",
                ));
            }
            c.execute_batch("BEGIN IMMEDIATE")?;
            Ok(())
        })
        .await?;
        self.grouped.store(true, Ordering::Release);
        Ok(())
    }

    /// Make the open group durable (one sync to disk). Fails, naming the cause, when SQLite
    /// ended the group's transaction early (an I/O error or a full disk rolls it back): then
    /// the group's work is not stored, and its jobs, still waiting, run again.
    pub async fn commit_group(&self) -> Result<()> {
        let _ended = GroupEnded(self);
        self.with(|c| {
            if c.is_autocommit() {
                return Err(Error::internal(
                    "the group's transaction ended before its commit; its work will run again",
                    "rolled back by SQLite",
                ));
            }
            if let Err(e) = c.execute_batch("COMMIT") {
                // Not stored: end the transaction, so that what follows does not join it.
                let _ = c.execute_batch("ROLLBACK");
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Give up the open group: none of its writes are stored.
    pub async fn rollback_group(&self) -> Result<()> {
        let _ended = GroupEnded(self);
        self.with(|c| {
            if !c.is_autocommit() {
                c.execute_batch("ROLLBACK")?;
            }
            Ok(())
        })
        .await
    }
}

/// Once a group is committed or given up (or its commit failed, which ends it too), reads go
/// back to the readers.
struct GroupEnded<'s>(&'s SqliteStore);

impl Drop for GroupEnded<'_> {
    fn drop(&mut self) {
        self.0.grouped.store(false, Ordering::Release);
    }
}
