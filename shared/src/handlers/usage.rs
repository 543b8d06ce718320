//! Counting what tenants use (`GET /usage`, `leadscore usage`). Handlers call `count` once the
//! work it counts is stored and was new; a count that cannot be stored is a warning, never the
//! work's failure.

use chrono::Utc;

use crate::Deps;
use crate::domain::{Counter, Month, TenantId, Usage};
use crate::error::Result;

/// Add `n` to the tenant's `counter` for this month.
pub async fn count(deps: &Deps, tenant: &TenantId, counter: Counter, n: u64) {
    if n == 0 {
        return;
    }
    if let Err(e) = deps
        .usage
        .add(tenant, Month::of(Utc::now()), &[(counter, n)])
        .await
    {
        tracing::warn!(
            tenant = %tenant,
            counter = counter.as_str(),
            error = %e.report(),
            "usage was not counted"
        );
    }
}

/// The tenant's usage in `month`.
pub async fn usage(deps: &Deps, tenant: &TenantId, month: Month) -> Result<Usage> {
    Ok(Usage::from_counts(
        month,
        &deps.usage.counts(tenant, month).await?,
    ))
}
