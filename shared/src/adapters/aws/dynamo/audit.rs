//! The audit log in its own table, each entry expiring by TTL after its retention.

use async_trait::async_trait;
use chrono::Duration;
use tracing::instrument;

use crate::domain::{AUDIT_RETENTION_DAYS, AuditEntry, TenantId};
use crate::error::Result;
use crate::ports::{AuditLog, Page, audit_page, decode_audit_cursor};

use super::{DynamoStore, from_item, key, n, s, tenant_pk, to_item};
use crate::adapters::aws::sdk_error;

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
        let out = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .key_condition_expression("pk = :pk AND sk < :before")
            .expression_attribute_values(":pk", s(tenant_pk(tenant)))
            .expression_attribute_values(":before", s(before))
            .scan_index_forward(false)
            .limit(take as i32 + 1)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<AuditEntry>>>()?;
        Ok(audit_page(items, take))
    }
}
