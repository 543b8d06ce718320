//! Usage counters: one item per tenant and month, a number per counter, added to atomically.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use tracing::instrument;

use shared::domain::{Counter, Month, TenantId};
use shared::error::Result;
use shared::ports::UsageMeter;

use super::{DynamoStore, Item, key, n, tenant_pk};
use crate::sdk_error;

fn usage_key(tenant: &TenantId, month: Month) -> Item {
    key(tenant_pk(tenant), format!("USAGE#{month}"))
}

#[async_trait]
impl UsageMeter for DynamoStore {
    #[instrument(name = "dynamo.add_usage", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn add(&self, tenant: &TenantId, month: Month, counts: &[(Counter, u64)]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.usage)
            .set_key(Some(usage_key(tenant, month)));
        let mut adds = Vec::new();
        for (i, (counter, value)) in counts.iter().enumerate() {
            adds.push(format!("#c{i} :v{i}"));
            request = request
                .expression_attribute_names(format!("#c{i}"), counter.as_str())
                .expression_attribute_values(format!(":v{i}"), n(*value));
        }
        request
            .update_expression(format!("ADD {}", adds.join(", ")))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB UpdateItem", e))?;
        Ok(())
    }

    #[instrument(name = "dynamo.usage", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn counts(&self, tenant: &TenantId, month: Month) -> Result<BTreeMap<Counter, u64>> {
        let item = self
            .get(&self.tables.usage, usage_key(tenant, month))
            .await?
            .unwrap_or_default();
        Ok(item
            .into_iter()
            .filter_map(|(name, value)| match (Counter::parse(&name), value) {
                (Some(counter), AttributeValue::N(v)) => {
                    v.parse::<u64>().ok().map(|v| (counter, v))
                }
                _ => None,
            })
            .collect())
    }
}
