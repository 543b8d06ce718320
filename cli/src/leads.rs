//! Finding a lead the way a person names it.

use anyhow::{Result, bail};
use shared::domain::{LeadId, PhoneNumber, TenantId};
use shared::local::LocalApp;
use shared::ports::LeadQuery;

/// Find a lead by id, phone number, or a unique match on name or company.
pub(crate) async fn resolve_lead(
    app: &LocalApp,
    tenant: &TenantId,
    needle: &str,
    region: &str,
) -> Result<LeadId> {
    if let Ok(id) = LeadId::parse(needle)
        && app.deps.leads.get_lead(tenant, &id).await?.is_some()
    {
        return Ok(id);
    }
    if let Ok(phone) = PhoneNumber::parse_with_region(needle, Some(region))
        && let Some(lead) = app.deps.leads.find_lead_by_phone(tenant, &phone).await?
    {
        return Ok(lead.lead_id);
    }
    let page = app
        .deps
        .leads
        .list_leads(
            tenant,
            &LeadQuery {
                q: Some(needle.to_owned()),
                limit: Some(10),
                ..Default::default()
            },
        )
        .await?;
    match page.items.as_slice() {
        [one] => Ok(one.lead_id.clone()),
        [] => bail!(
            "no lead matches `{needle}`: give a lead id, a phone number, or part of a name (see `leadscore leads`)"
        ),
        many => bail!(
            "`{needle}` matches {} leads ({}); be more specific",
            many.len(),
            many.iter()
                .map(|l| l.display_name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
