//! The tenant's leads read once for a report (`crate::reports` makes it): a page of 200 at a
//! time, at most [`MAX_LEADS`] (the rest are left out and the answer says so).

use crate::Deps;
use crate::domain::{CallId, Lead, TenantId, TierThresholds};
use crate::error::Result;
use crate::ports::LeadQuery;

/// The most leads a report reads: 500 pages of 200 (on DynamoDB, 500 queries).
pub const MAX_LEADS: usize = 100_000;

/// The leads a report is made from, and the tenant's tier thresholds.
pub struct Book {
    pub leads: Vec<Lead>,
    /// Whether more leads than [`MAX_LEADS`] exist (those past it were not read).
    pub truncated: bool,
    pub tiers: TierThresholds,
}

pub async fn book(deps: &Deps, tenant: &TenantId) -> Result<Book> {
    let tiers = super::settings::load(deps, tenant).await?.tiers;
    let mut leads = Vec::new();
    let mut query = LeadQuery {
        limit: Some(LeadQuery::MAX_LIMIT),
        ..Default::default()
    };
    loop {
        let page = deps.leads.list_leads(tenant, &query).await?;
        leads.extend(page.items);
        match page.next_cursor {
            Some(cursor) if leads.len() < MAX_LEADS => query.cursor = Some(cursor),
            Some(_) => {
                leads.truncate(MAX_LEADS);
                return Ok(Book {
                    leads,
                    truncated: true,
                    tiers,
                });
            }
            None => {
                return Ok(Book {
                    leads,
                    truncated: false,
                    tiers,
                });
            }
        }
    }
}

/// The most calls a report reads: 500 pages of 200 (on DynamoDB, a query per page).
pub const MAX_CALLS: usize = 100_000;

/// Add the tenant's calls to `calls`, a page at a time, at most [`MAX_CALLS`]; whether more
/// were left unread.
pub async fn walk_calls(
    deps: &Deps,
    tenant: &TenantId,
    calls: &mut crate::reports::calls::CallBook<'_>,
) -> Result<bool> {
    const PAGE: u32 = 200;
    let mut after: Option<CallId> = None;
    loop {
        let page = deps.calls.calls_after(tenant, after.as_ref(), PAGE).await?;
        for call in &page {
            if calls.calls() == MAX_CALLS {
                return Ok(true);
            }
            calls.add(call);
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.call_id.clone()),
            _ => return Ok(false),
        }
    }
}
