//! The scheduled sweep: what happens without an event. Every hour (EventBridge Scheduler on
//! AWS, `serve`'s clock locally) a `Job::Sweep` goes through the tenants a page at a time and
//! queues, for each, what is due:
//!
//! - **Decay**, daily: a tenant with rules that decay (a half-life) has every lead re-scored
//!   (`ScoreCause::Decay` of the day), so points on old texts fade without a new event; a lead
//!   whose score does not change emits nothing and pushes nothing.
//! - **Polling**, hourly: a CRM whose changes are polled (Salesforce) is asked what changed
//!   (`Job::CrmPoll`), and a tenant's Gong company for the calls since the last pull
//!   (`Job::GongPull`).
//! - **Outbox**, hourly: score changes saved more than two minutes ago whose events were not
//!   handed on (their process died between the save and the emit) are emitted now
//!   (`score::dispatch_waiting`).
//! - **Retrain**, weekly: a challenger is trained when any outcome arrived since the last try
//!   (`Job::Retrain { weekly: true }`), not only past the threshold of new outcomes.
//!
//! When each last ran is kept per tenant (`schedules/<tenant>.json`), written after the work
//! is queued: a sweep cut short queues it again at the next hour, and the day's cause key and
//! re-score id make a second queueing the same work.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, instrument};

use crate::Deps;
use crate::domain::{ScoreCause, TenantId};
use crate::error::{Error, Result};
use crate::ports::Job;

/// How often the sweep runs (EventBridge Scheduler's `rate(1 hour)` on AWS).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// Tenants a sweep page goes through.
pub const SWEEP_PAGE: u32 = 100;
/// How often decaying scores are recomputed.
pub const DECAY_EVERY: TimeDelta = TimeDelta::days(1);
/// How often a challenger is tried without the threshold of new outcomes.
pub const RETRAIN_EVERY: TimeDelta = TimeDelta::days(7);

/// When a tenant's scheduled work last ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default)]
    pub decayed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub retrained_at: Option<DateTime<Utc>>,
}

fn key(tenant: &TenantId) -> String {
    format!("schedules/{tenant}.json")
}

pub async fn load(deps: &Deps, tenant: &TenantId) -> Result<Schedule> {
    match deps.blobs.get(&key(tenant)).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(Error::NotFound(_)) => Ok(Schedule::default()),
        Err(e) => Err(e),
    }
}

/// What one sweep page queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub tenants: usize,
    pub decays: usize,
    pub retrains: usize,
    pub polls: usize,
    /// Gong pulls queued.
    pub gong_pulls: usize,
    /// Score changes handed on from the outbox.
    pub dispatched: usize,
}

/// One page of the sweep (`Job::Sweep`): the tenants after `after`, what is due for each at
/// `now`, and the next page.
#[instrument(skip_all, fields(after = ?after.map(TenantId::as_str)))]
pub async fn sweep(deps: &Deps, after: Option<&TenantId>, now: DateTime<Utc>) -> Result<Swept> {
    let tenants = deps.rules.tenants(after, SWEEP_PAGE).await?;
    let mut swept = Swept {
        tenants: tenants.len(),
        ..Default::default()
    };
    for tenant in &tenants {
        let mut schedule = load(deps, tenant).await?;
        let due =
            |last: Option<DateTime<Utc>>, every: TimeDelta| last.is_none_or(|l| now - l >= every);
        let mut jobs = Vec::new();
        if due(schedule.decayed_at, DECAY_EVERY) {
            let rules = deps.rules.list_rules(tenant).await?;
            if rules
                .iter()
                .any(|r| r.enabled && r.half_life_days.is_some())
            {
                let day = now.format("%Y-%m-%d").to_string();
                jobs.push(Job::Rescore {
                    tenant_id: tenant.clone(),
                    // Ours, alphanumeric, one a day: a second sweep of the day is the same work.
                    rescore_id: format!("decay{}", day.replace('-', "")),
                    cause: ScoreCause::Decay { day },
                    after: None,
                    queued_before: 0,
                });
                swept.decays += 1;
            }
            schedule.decayed_at = Some(now);
        }
        // The first sweep only starts the week: a new tenant's model was just trained.
        match schedule.retrained_at {
            None => schedule.retrained_at = Some(now),
            Some(_) if due(schedule.retrained_at, RETRAIN_EVERY) => {
                jobs.push(Job::Retrain {
                    tenant_id: tenant.clone(),
                    weekly: true,
                });
                swept.retrains += 1;
                schedule.retrained_at = Some(now);
            }
            Some(_) => {}
        }
        swept.dispatched += super::score::dispatch_waiting(deps, tenant, now).await?;
        for connection in deps.crm.list_connections(tenant).await? {
            if connection.crm.polled() {
                jobs.push(Job::CrmPoll {
                    tenant_id: tenant.clone(),
                    crm: connection.crm,
                });
                swept.polls += 1;
            }
        }
        if super::gong::state(deps, tenant).await?.is_some() {
            jobs.push(super::gong::first_page(tenant));
            swept.gong_pulls += 1;
        }
        deps.queue.send_all(&jobs).await?;
        deps.blobs
            .put(&key(tenant), &serde_json::to_vec(&schedule)?)
            .await?;
    }
    if tenants.len() == SWEEP_PAGE as usize {
        deps.queue
            .send(&Job::Sweep {
                after: tenants.last().cloned(),
            })
            .await?;
    }
    info!(
        tenants = swept.tenants,
        decays = swept.decays,
        retrains = swept.retrains,
        polls = swept.polls,
        gong_pulls = swept.gong_pulls,
        dispatched = swept.dispatched,
        "scheduled sweep"
    );
    Ok(swept)
}
