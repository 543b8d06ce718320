//! Each lead's SMS log and the tracked links.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use tracing::instrument;

use chrono::{DateTime, Utc};

use crate::domain::{LeadId, OutgoingText, SmsEvent, TenantId, TrackedLink};
use crate::error::{Error, Result};
use crate::ports::SmsStore;
use crate::sms::SmsFold;

use super::{SqliteStore, get_doc, is_unique_violation, list_docs, ts};
use crate::domain::newest_first;

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
        self.read(move |c| {
            list_docs(
                c,
                "SELECT doc FROM sms_events WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY at, seq",
                params![tenant, lead],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.sms_events_since", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_events_since(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        since: DateTime<Utc>,
    ) -> Result<Vec<SmsEvent>> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        // The column holds milliseconds: read from the millisecond, keep from the instant.
        let from = ts(since);
        let mut events: Vec<SmsEvent> = self
            .read(move |c| {
                list_docs(
                    c,
                    "SELECT doc FROM sms_events WHERE tenant_id = ?1 AND lead_id = ?2 AND at >= ?3
                     ORDER BY at, seq",
                    params![tenant, lead, from],
                )
            })
            .await?;
        events.retain(|e| e.at >= since);
        Ok(events)
    }

    #[instrument(name = "sqlite.sms_fold", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_fold(&self, tenant: &TenantId, lead: &LeadId) -> Result<Option<SmsFold>> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        self.read(move |c| {
            get_doc(
                c,
                "SELECT doc FROM sms_folds WHERE tenant_id = ?1 AND lead_id = ?2",
                params![tenant, lead],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.put_sms_fold", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn put_sms_fold(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        fold: &SmsFold,
    ) -> Result<SmsFold> {
        let mut stored = fold.clone();
        stored.version += 1;
        let doc = serde_json::to_string(&stored)?;
        let (t, l, expected) = (tenant.to_string(), lead.to_string(), fold.version);
        let written = self
            .with(move |c| {
                let changed = if expected == 0 {
                    c.execute(
                        "INSERT INTO sms_folds (tenant_id, lead_id, version, doc)
                         VALUES (?1, ?2, 1, ?3) ON CONFLICT DO NOTHING",
                        params![t, l, doc],
                    )?
                } else {
                    c.execute(
                        "UPDATE sms_folds SET version = version + 1, doc = ?4
                         WHERE tenant_id = ?1 AND lead_id = ?2 AND version = ?3",
                        params![t, l, expected as i64, doc],
                    )?
                };
                Ok(changed == 1)
            })
            .await?;
        if written {
            Ok(stored)
        } else {
            Err(Error::concurrent(format!(
                "the SMS log of lead {lead} was folded by another request first"
            )))
        }
    }

    #[instrument(name = "sqlite.get_text", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn get_text(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        text_id: &str,
    ) -> Result<Option<OutgoingText>> {
        let (tenant, lead, id) = (tenant.to_string(), lead.to_string(), text_id.to_owned());
        self.read(move |c| {
            get_doc(
                c,
                "SELECT doc FROM texts WHERE tenant_id = ?1 AND lead_id = ?2 AND text_id = ?3",
                params![tenant, lead, id],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.put_text", level = "debug", skip_all, fields(tenant = %text.tenant_id, lead = %text.lead_id))]
    async fn put_text(&self, text: &OutgoingText) -> Result<OutgoingText> {
        let mut stored = text.clone();
        stored.version += 1;
        let doc = serde_json::to_string(&stored)?;
        let row = (
            text.tenant_id.to_string(),
            text.lead_id.to_string(),
            text.text_id.clone(),
            text.version as i64,
        );
        let written = self
            .with(move |c| {
                let (t, l, id, expected) = row;
                let changed = if expected == 0 {
                    c.execute(
                        "INSERT INTO texts (tenant_id, lead_id, text_id, version, doc)
                         VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT DO NOTHING",
                        params![t, l, id, doc],
                    )?
                } else {
                    c.execute(
                        "UPDATE texts SET version = version + 1, doc = ?5
                         WHERE tenant_id = ?1 AND lead_id = ?2 AND text_id = ?3 AND version = ?4",
                        params![t, l, id, expected, doc],
                    )?
                };
                Ok(changed == 1)
            })
            .await?;
        if written {
            Ok(stored)
        } else {
            Err(Error::concurrent(format!(
                "text {} was stored by another request first",
                text.text_id
            )))
        }
    }

    #[instrument(name = "sqlite.texts_for_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn texts_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<OutgoingText>> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        let mut texts: Vec<OutgoingText> = self
            .read(move |c| {
                list_docs(
                    c,
                    "SELECT doc FROM texts WHERE tenant_id = ?1 AND lead_id = ?2",
                    params![tenant, lead],
                )
            })
            .await?;
        newest_first(&mut texts);
        Ok(texts)
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

    #[instrument(name = "sqlite.links_for_lead", level = "debug", skip_all)]
    async fn links_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<TrackedLink>> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        let mut links: Vec<TrackedLink> = self
            .read(move |c| {
                list_docs(
                    c,
                    "SELECT doc FROM links WHERE tenant_id = ?1 AND lead_id = ?2",
                    params![tenant, lead],
                )
            })
            .await?;
        links.sort_by(|a, b| (a.created_at, &a.token).cmp(&(b.created_at, &b.token)));
        Ok(links)
    }

    #[instrument(name = "sqlite.erase_sms", level = "debug", skip_all)]
    async fn erase_sms(&self, tenant: &TenantId, lead: &LeadId) -> Result<()> {
        let (tenant, lead) = (tenant.to_string(), lead.to_string());
        self.with(move |c| {
            let tx = super::atomic(c)?;
            tx.execute(
                "DELETE FROM sms_events WHERE tenant_id = ?1 AND lead_id = ?2",
                params![tenant, lead],
            )?;
            tx.execute(
                "DELETE FROM links WHERE tenant_id = ?1 AND lead_id = ?2",
                params![tenant, lead],
            )?;
            tx.execute(
                "DELETE FROM sms_folds WHERE tenant_id = ?1 AND lead_id = ?2",
                params![tenant, lead],
            )?;
            tx.execute(
                "DELETE FROM texts WHERE tenant_id = ?1 AND lead_id = ?2",
                params![tenant, lead],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.suppress", level = "debug", skip_all)]
    async fn suppress(&self, tenant: &TenantId, digest: &str) -> Result<()> {
        let (tenant, digest) = (tenant.to_string(), digest.to_owned());
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO suppressions (tenant_id, digest) VALUES (?1, ?2)",
                params![tenant, digest],
            )?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.is_suppressed", level = "debug", skip_all)]
    async fn is_suppressed(&self, tenant: &TenantId, digest: &str) -> Result<bool> {
        let (tenant, digest) = (tenant.to_string(), digest.to_owned());
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT 1 FROM suppressions WHERE tenant_id = ?1 AND digest = ?2",
                params![tenant, digest],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
        .await
    }

    #[instrument(name = "sqlite.get_link", level = "debug", skip_all)]
    async fn get_link(&self, token: &str) -> Result<Option<TrackedLink>> {
        let token = token.to_owned();
        self.read(move |c| get_doc(c, "SELECT doc FROM links WHERE token = ?1", params![token]))
            .await
    }
}
