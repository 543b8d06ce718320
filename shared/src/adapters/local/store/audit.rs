//! The audit log: one row per write request, newest read first, pruned past its retention.

use async_trait::async_trait;
use chrono::{Duration, SecondsFormat, Utc};
use rusqlite::params;
use tracing::instrument;

use crate::domain::{AUDIT_RETENTION_DAYS, AuditEntry, TenantId};
use crate::error::Result;
use crate::ports::{AuditLog, Page, audit_page, decode_audit_cursor};

use super::{SqliteStore, list_docs};

#[async_trait]
impl AuditLog for SqliteStore {
    #[instrument(name = "sqlite.record_audit", level = "debug", skip_all, fields(tenant = %entry.tenant_id))]
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        let entry = entry.clone();
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO audit_log (tenant_id, entry_id, at, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    entry.tenant_id.as_str(),
                    entry.entry_id,
                    entry.at.to_rfc3339_opts(SecondsFormat::Micros, true),
                    serde_json::to_string(&entry)?
                ],
            )?;
            // Past the retention, as DynamoDB's TTL does on AWS (by the primary key's order:
            // entry ids begin with their time).
            let cutoff = (Utc::now() - Duration::days(AUDIT_RETENTION_DAYS))
                .format("%Y%m%dT%H%M%S%.6fZ")
                .to_string();
            c.execute(
                "DELETE FROM audit_log WHERE tenant_id = ?1 AND entry_id < ?2",
                params![entry.tenant_id.as_str(), cutoff],
            )?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.audit_entries", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn entries(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEntry>> {
        let before = match cursor {
            Some(c) => decode_audit_cursor(c)?,
            None => "~".to_owned(),
        };
        let t = tenant.clone();
        let take = limit.max(1);
        let items: Vec<AuditEntry> = self
            .with(move |c| {
                list_docs(
                    c,
                    "SELECT doc FROM audit_log WHERE tenant_id = ?1 AND entry_id < ?2 \
                     ORDER BY entry_id DESC LIMIT ?3",
                    params![t.as_str(), before, take + 1],
                )
            })
            .await?;
        Ok(audit_page(items, take))
    }
}
