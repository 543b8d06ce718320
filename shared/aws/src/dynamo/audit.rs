//! The audit log in its own table, each entry expiring by TTL after its retention.

use async_trait::async_trait;
use chrono::Duration;
use tracing::instrument;

use shared::domain::{AUDIT_RETENTION_DAYS, AuditEntry, TenantId};
use shared::error::Result;
use shared::ports::{AuditLog, Page, audit_page, decode_audit_cursor};

use super::{DynamoStore, key, n, tenant_pk, to_item};

#[async_trait]
impl AuditLog for DynamoStore {
    #[instrument(name = "dynamo.record_audit", level = "debug", skip_all, fields(tenant = %entry.tenant_id))]
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        let mut item = to_item(entry)?;
        item.extend(key(
            tenant_pk(&entry.tenant_id),
            format!("AUDIT#{}", entry.entry_id),
        ));
        let expires = entry.at + Duration::days(AUDIT_RETENTION_DAYS);
        item.insert("expiration".into(), n(expires.timestamp().max(0) as u64));
        self.put_if_new(&self.tables.audit, item).await.map(|_| ())
    }

    #[instrument(name = "dynamo.audit_entries", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn entries(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEntry>> {
        let before = match cursor {
            Some(c) => format!("AUDIT#{}", decode_audit_cursor(c)?),
            // After every entry id (they are ASCII letters, digits, '.' and '-').
            None => "AUDIT#~".to_owned(),
        };
        let take = limit.max(1);
        let items = self
            .newest_before(&self.tables.audit, tenant_pk(tenant), before, take + 1)
            .await?;
        Ok(audit_page(items, take))
    }
}
