//! Webhook subscriptions and their deliveries, in the Webhooks table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::Duration;
use tracing::instrument;

use shared::domain::{DELIVERY_RETENTION_DAYS, Delivery, Subscription, TenantId};
use shared::error::{Error, Result};
use shared::ports::{Page, WebhookStore, decode_delivery_cursor, delivery_page};

use super::{DynamoStore, Item, key, n, tenant_pk, to_item};
use crate::sdk_error;

fn subscription_key(tenant: &TenantId, id: &str) -> Item {
    key(tenant_pk(tenant), format!("WEBHOOK#{id}"))
}

fn deliveries_pk(tenant: &TenantId, subscription: &str) -> String {
    format!("TENANT#{tenant}#WEBHOOK#{subscription}")
}

fn delivery_key(tenant: &TenantId, subscription: &str, event_id: &str) -> Item {
    key(
        deliveries_pk(tenant, subscription),
        format!("DELIVERY#{event_id}"),
    )
}

fn delivery_item(d: &Delivery) -> Result<Item> {
    let mut item = to_item(d)?;
    item.extend(delivery_key(&d.tenant_id, &d.subscription_id, &d.event_id));
    let expires = d.created_at + Duration::days(DELIVERY_RETENTION_DAYS);
    item.insert("expiration".into(), n(expires.timestamp().max(0) as u64));
    Ok(item)
}

#[async_trait]
impl WebhookStore for DynamoStore {
    #[instrument(name = "dynamo.insert_subscription", level = "debug", skip_all, fields(tenant = %sub.tenant_id))]
    async fn insert_subscription(&self, sub: &Subscription) -> Result<()> {
        let mut item = to_item(sub)?;
        item.extend(subscription_key(&sub.tenant_id, &sub.subscription_id));
        if self.put_if_new(&self.tables.webhooks, item).await? {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "a webhook subscription with the id {} exists",
                sub.subscription_id
            )))
        }
    }

    #[instrument(name = "dynamo.get_subscription", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn get_subscription(&self, tenant: &TenantId, id: &str) -> Result<Option<Subscription>> {
        self.get_as(&self.tables.webhooks, subscription_key(tenant, id))
            .await
    }

    #[instrument(name = "dynamo.list_subscriptions", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>> {
        let mut subscriptions: Vec<Subscription> = self
            .query_all(
                &self.tables.webhooks,
                None,
                tenant_pk(tenant),
                "WEBHOOK#".into(),
            )
            .await?;
        Subscription::sort_oldest_first(&mut subscriptions);
        Ok(subscriptions)
    }

    #[instrument(name = "dynamo.update_subscription", level = "debug", skip_all, fields(tenant = %sub.tenant_id))]
    async fn update_subscription(&self, sub: &Subscription) -> Result<Subscription> {
        let mut next = sub.clone();
        next.version = sub.version + 1;
        let mut item = to_item(&next)?;
        item.extend(subscription_key(&sub.tenant_id, &sub.subscription_id));
        self.put_if_version(
            &self.tables.webhooks,
            item,
            sub.version,
            &format!("webhook subscription {}", sub.subscription_id),
        )
        .await?;
        Ok(next)
    }

    #[instrument(name = "dynamo.delete_subscription", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn delete_subscription(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.webhooks)
            .set_key(Some(subscription_key(tenant, id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    #[instrument(name = "dynamo.insert_delivery", level = "debug", skip_all, fields(tenant = %d.tenant_id))]
    async fn insert_delivery(&self, d: &Delivery) -> Result<bool> {
        self.put_if_new(&self.tables.webhooks, delivery_item(d)?)
            .await
    }

    #[instrument(name = "dynamo.get_delivery", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        subscription: &str,
        event_id: &str,
    ) -> Result<Option<Delivery>> {
        self.get_as(
            &self.tables.webhooks,
            delivery_key(tenant, subscription, event_id),
        )
        .await
    }

    #[instrument(name = "dynamo.update_delivery", level = "debug", skip_all, fields(tenant = %d.tenant_id))]
    async fn update_delivery(&self, d: &Delivery) -> Result<Delivery> {
        let mut next = d.clone();
        next.version = d.version + 1;
        self.put_if_version(
            &self.tables.webhooks,
            delivery_item(&next)?,
            d.version,
            &format!("delivery {}", d.event_id),
        )
        .await?;
        Ok(next)
    }

    #[instrument(name = "dynamo.deliveries", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn deliveries(
        &self,
        tenant: &TenantId,
        subscription: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Delivery>> {
        let before = match cursor {
            Some(c) => format!("DELIVERY#{}", decode_delivery_cursor(c)?),
            None => "DELIVERY#~".to_owned(),
        };
        let take = limit.max(1);
        let items = self
            .newest_before(
                &self.tables.webhooks,
                deliveries_pk(tenant, subscription),
                before,
                take + 1,
            )
            .await?;
        Ok(delivery_page(items, take))
    }
}
