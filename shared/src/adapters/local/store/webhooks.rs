//! Webhook subscriptions and their deliveries: a row each, the record as its JSON document.
//! Deleting a subscription deletes its deliveries (a foreign key); deliveries older than
//! `DELIVERY_RETENTION_DAYS` are pruned as new ones arrive, as DynamoDB's TTL does on AWS.

use async_trait::async_trait;
use chrono::{Duration, Utc};
use rusqlite::{OptionalExtension, params};
use tracing::instrument;

use crate::domain::{DELIVERY_RETENTION_DAYS, Delivery, Subscription, TenantId};
use crate::error::{Error, Result};
use crate::ports::{Page, WebhookStore, decode_delivery_cursor, delivery_page};

use super::{SqliteStore, get_doc, is_unique_violation, list_docs, not_updated, ts};

#[async_trait]
impl WebhookStore for SqliteStore {
    #[instrument(name = "sqlite.insert_subscription", level = "debug", skip_all, fields(tenant = %s.tenant_id))]
    async fn insert_subscription(&self, s: &Subscription) -> Result<()> {
        let s = s.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO webhooks (tenant_id, subscription_id, version, doc) VALUES (?1, ?2, ?3, ?4)",
                params![s.tenant_id.as_str(), s.subscription_id, s.version, serde_json::to_string(&s)?],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict(format!("a webhook subscription with the id {} exists", s.subscription_id))
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.get_subscription", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn get_subscription(&self, tenant: &TenantId, id: &str) -> Result<Option<Subscription>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.with(move |c| {
            get_doc(
                c,
                "SELECT doc FROM webhooks WHERE tenant_id = ?1 AND subscription_id = ?2",
                [t.as_str(), &id],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.list_subscriptions", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>> {
        let t = tenant.clone();
        let mut subscriptions: Vec<Subscription> = self
            .with(move |c| {
                list_docs(
                    c,
                    "SELECT doc FROM webhooks WHERE tenant_id = ?1",
                    [t.as_str()],
                )
            })
            .await?;
        Subscription::sort_oldest_first(&mut subscriptions);
        Ok(subscriptions)
    }

    #[instrument(name = "sqlite.update_subscription", level = "debug", skip_all, fields(tenant = %s.tenant_id))]
    async fn update_subscription(&self, s: &Subscription) -> Result<Subscription> {
        let s = s.clone();
        self.with(move |c| {
            let mut next = s.clone();
            next.version = s.version + 1;
            let n = c.execute(
                "UPDATE webhooks SET version = ?3, doc = ?4 \
                 WHERE tenant_id = ?1 AND subscription_id = ?2 AND version = ?5",
                params![
                    s.tenant_id.as_str(),
                    s.subscription_id,
                    next.version,
                    serde_json::to_string(&next)?,
                    s.version
                ],
            )?;
            if n == 0 {
                let exists = c
                    .query_row(
                        "SELECT 1 FROM webhooks WHERE tenant_id = ?1 AND subscription_id = ?2",
                        [s.tenant_id.as_str(), &s.subscription_id],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                return Err(not_updated(
                    exists,
                    "webhook subscription",
                    &s.subscription_id,
                ));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.delete_subscription", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn delete_subscription(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.with(move |c| {
            let n = c.execute(
                "DELETE FROM webhooks WHERE tenant_id = ?1 AND subscription_id = ?2",
                [t.as_str(), &id],
            )?;
            Ok(n > 0)
        })
        .await
    }

    #[instrument(name = "sqlite.insert_delivery", level = "debug", skip_all, fields(tenant = %d.tenant_id))]
    async fn insert_delivery(&self, d: &Delivery) -> Result<bool> {
        let d = d.clone();
        self.with(move |c| {
            let tx = super::atomic(c)?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO webhook_deliveries \
                 (tenant_id, subscription_id, event_id, created_at, version, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    d.tenant_id.as_str(),
                    d.subscription_id,
                    d.event_id,
                    ts(d.created_at),
                    d.version,
                    serde_json::to_string(&d)?
                ],
            )?;
            let cutoff = ts(Utc::now() - Duration::days(DELIVERY_RETENTION_DAYS));
            tx.execute(
                "DELETE FROM webhook_deliveries \
                 WHERE tenant_id = ?1 AND subscription_id = ?2 AND created_at < ?3",
                params![d.tenant_id.as_str(), d.subscription_id, cutoff],
            )?;
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    #[instrument(name = "sqlite.get_delivery", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        subscription: &str,
        event_id: &str,
    ) -> Result<Option<Delivery>> {
        let (t, s, e) = (tenant.clone(), subscription.to_owned(), event_id.to_owned());
        self.with(move |c| {
            get_doc(
                c,
                "SELECT doc FROM webhook_deliveries \
                 WHERE tenant_id = ?1 AND subscription_id = ?2 AND event_id = ?3",
                [t.as_str(), &s, &e],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.update_delivery", level = "debug", skip_all, fields(tenant = %d.tenant_id))]
    async fn update_delivery(&self, d: &Delivery) -> Result<Delivery> {
        let d = d.clone();
        self.with(move |c| {
            let mut next = d.clone();
            next.version = d.version + 1;
            let n = c.execute(
                "UPDATE webhook_deliveries SET version = ?4, doc = ?5 \
                 WHERE tenant_id = ?1 AND subscription_id = ?2 AND event_id = ?3 AND version = ?6",
                params![
                    d.tenant_id.as_str(),
                    d.subscription_id,
                    d.event_id,
                    next.version,
                    serde_json::to_string(&next)?,
                    d.version
                ],
            )?;
            if n == 0 {
                let exists = c
                    .query_row(
                        "SELECT 1 FROM webhook_deliveries \
                         WHERE tenant_id = ?1 AND subscription_id = ?2 AND event_id = ?3",
                        [d.tenant_id.as_str(), &d.subscription_id, &d.event_id],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                return Err(not_updated(exists, "delivery", &d.event_id));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.deliveries", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn deliveries(
        &self,
        tenant: &TenantId,
        subscription: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Delivery>> {
        let before = match cursor {
            Some(c) => decode_delivery_cursor(c)?.to_owned(),
            None => "~".to_owned(),
        };
        let (t, s) = (tenant.clone(), subscription.to_owned());
        let take = limit.max(1);
        let items = self
            .with(move |c| {
                list_docs(
                    c,
                    "SELECT doc FROM webhook_deliveries \
                     WHERE tenant_id = ?1 AND subscription_id = ?2 AND event_id < ?3 \
                     ORDER BY event_id DESC LIMIT ?4",
                    params![t.as_str(), s, before, take + 1],
                )
            })
            .await?;
        Ok(delivery_page(items, take))
    }
}
