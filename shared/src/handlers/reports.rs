//! The tenant's leads read once for a report (`crate::reports` makes it): a page of 200 at a
//! time, at most [`MAX_LEADS`] (the rest are left out and the answer says so).

use crate::Deps;
use crate::domain::{Lead, TenantId, TierThresholds};
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
