//! Rate limits for one process: counts in memory, which is where a single `leadscore serve`
//! keeps them (a restart forgets the current minute's counts, and nothing else is lost).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use crate::error::Result;
use crate::ports::{Admission, RateLimiter, fixed_window};

/// Keys kept before the ones of past windows are dropped: the map stays bounded whatever the
/// number of keys that ever asked.
const PRUNE_ABOVE: usize = 10_000;

/// Each key's count in its current window.
#[derive(Default)]
pub struct MemoryRateLimiter {
    counts: Mutex<HashMap<String, (u64, u32)>>,
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn admit(&self, key: &str, limit: u32, window: Duration) -> Result<Admission> {
        let (index, left) = fixed_window(Utc::now(), window);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() > PRUNE_ABOVE {
            counts.retain(|_, (w, _)| *w == index);
        }
        let entry = counts.entry(key.to_owned()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        Ok(if entry.1 <= limit {
            Admission::Admitted
        } else {
            Admission::Limited { retry_after: left }
        })
    }
}
