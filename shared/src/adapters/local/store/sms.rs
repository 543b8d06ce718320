//! Each lead's SMS log and the tracked links.

use async_trait::async_trait;
use rusqlite::params;

use tracing::instrument;

use crate::domain::{LeadId, SmsEvent, TenantId, TrackedLink};
use crate::error::{Error, Result};
use crate::ports::SmsStore;

use super::{SqliteStore, get_doc, is_unique_violation, list_docs, ts};

#[async_trait]
impl SmsStore for SqliteStore {
    #[instrument(name = "sqlite.append_sms_event", level = "debug", skip_all, fields(tenant = %event.tenant_id, lead = %event.lead_id))]
    async fn append_sms_event(&self, event: &SmsEvent) -> Result<bool> {
        let doc = serde_json::to_string(event)?;
        let row = (
            event.tenant_id.to_string(),
            event.lead_id.to_string(),
            event.event_id.clone(),
            ts(event.at),
        );
        self.with(move |c| {
            let added = c.execute(
                "INSERT INTO sms_events (tenant_id, lead_id, event_id, at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, event_id) DO NOTHING",
                params![row.0, row.1, row.2, row.3, doc],
            )?;
            Ok(added == 1)
        })
        .await
    }

    #[instrument(name = "sqlite.sms_events", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_events(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<SmsEvent>> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        self.with(move |c| {
            list_docs(
                c,
                "SELECT doc FROM sms_events WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY at, seq",
                params![tenant, lead],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.insert_link", level = "debug", skip_all)]
    async fn insert_link(&self, link: &TrackedLink) -> Result<()> {
        let doc = serde_json::to_string(link)?;
        let row = (
            link.token.clone(),
            link.tenant_id.to_string(),
            link.lead_id.to_string(),
        );
        self.with(move |c| {
            match c.execute(
                "INSERT INTO links (token, tenant_id, lead_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![row.0, row.1, row.2, doc],
            ) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(Error::conflict(format!("link token {} is taken", row.0)))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    #[instrument(name = "sqlite.get_link", level = "debug", skip_all)]
    async fn get_link(&self, token: &str) -> Result<Option<TrackedLink>> {
        let token = token.to_owned();
        self.with(move |c| get_doc(c, "SELECT doc FROM links WHERE token = ?1", params![token]))
            .await
    }
}
