//! API keys, in the Rules table beside the tenant's rules.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, SecondsFormat, Utc};
use tracing::instrument;

use shared::domain::{ApiKey, StoredKey, TenantId};
use shared::error::{Error, Result};
use shared::ports::ApiKeyStore;

use super::{DynamoStore, Item, from_item, key, s, tenant_pk, to_item};
use crate::sdk_error;

fn key_key(tenant: &TenantId, key_id: &str) -> Item {
    key(tenant_pk(tenant), format!("KEY#{key_id}"))
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl DynamoStore {
    /// `SET <field> = <value>` on an existing key; the key after, or `None` when there is none.
    async fn set_key_field(
        &self,
        tenant: &TenantId,
        key_id: &str,
        expression: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKey>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.rules)
            .set_key(Some(key_key(tenant, key_id)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(time(at)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out
                .attributes
                .map(|item| from_item::<StoredKey>(item).map(ApiKey::from))
                .transpose(),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(sdk_error("DynamoDB UpdateItem", err)),
            },
        }
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    #[instrument(name = "dynamo.insert_key", level = "debug", skip_all, fields(tenant = %api_key.tenant_id, key = %api_key.key_id))]
    async fn insert_key(&self, api_key: &ApiKey) -> Result<()> {
        let mut item = to_item(&StoredKey::from(api_key))?;
        item.extend(key_key(&api_key.tenant_id, &api_key.key_id));
        if self.put_if_new(&self.tables.rules, item).await? {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "an API key with the id {} exists",
                api_key.key_id
            )))
        }
    }

    #[instrument(name = "dynamo.get_key", level = "debug", skip_all, fields(tenant = %tenant, key = %key_id))]
    async fn get_key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<ApiKey>> {
        Ok(self
            .get_as::<StoredKey>(&self.tables.rules, key_key(tenant, key_id))
            .await?
            .map(ApiKey::from))
    }

    #[instrument(name = "dynamo.list_keys", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        let mut keys: Vec<ApiKey> = self
            .query_all::<StoredKey>(&self.tables.rules, None, tenant_pk(tenant), "KEY#".into())
            .await?
            .into_iter()
            .map(ApiKey::from)
            .collect();
        ApiKey::sort_oldest_first(&mut keys);
        Ok(keys)
    }

    #[instrument(name = "dynamo.revoke_key", level = "debug", skip_all, fields(tenant = %tenant, key = %key_id))]
    async fn revoke_key(
        &self,
        tenant: &TenantId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKey>> {
        self.set_key_field(
            tenant,
            key_id,
            "SET revoked_at = if_not_exists(revoked_at, :at)",
            at,
        )
        .await
    }

    #[instrument(name = "dynamo.touch_key", level = "debug", skip_all, fields(tenant = %tenant, key = %key_id))]
    async fn touch_key(&self, tenant: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<()> {
        self.set_key_field(tenant, key_id, "SET last_used_at = :at", at)
            .await
            .map(|_| ())
    }
}
