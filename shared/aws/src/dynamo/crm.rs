//! CRM connections and the leads waiting to be pushed, in the Webhooks table (the table of
//! what leaves the system): `TENANT#t / CRM#<crm>` for a connection, `TENANT#t#CRM#<crm> /
//! PENDING#<lead>` for a lead waiting.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use tracing::instrument;

use shared::domain::{Connection, Crm, LeadId, TenantId};
use shared::error::{Error, Result};
use shared::ports::CrmStore;

use super::{DynamoStore, Item, key, s, tenant_pk, to_item};
use crate::sdk_error;

fn connection_key(tenant: &TenantId, crm: Crm) -> Item {
    key(tenant_pk(tenant), format!("CRM#{crm}"))
}

fn pending_pk(tenant: &TenantId, crm: Crm) -> String {
    format!("TENANT#{tenant}#CRM#{crm}")
}

fn pending_key(tenant: &TenantId, crm: Crm, lead: &LeadId) -> Item {
    key(pending_pk(tenant, crm), format!("PENDING#{lead}"))
}

fn at_value(at: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(at.to_string())
}

#[async_trait]
impl CrmStore for DynamoStore {
    #[instrument(name = "dynamo.insert_connection", level = "debug", skip_all, fields(tenant = %c.tenant_id))]
    async fn insert_connection(&self, c: &Connection) -> Result<()> {
        let mut item = to_item(c)?;
        item.extend(connection_key(&c.tenant_id, c.crm));
        if self.put_if_new(&self.tables.webhooks, item).await? {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "the tenant is connected to {} already",
                c.crm
            )))
        }
    }

    #[instrument(name = "dynamo.get_connection", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn get_connection(&self, tenant: &TenantId, crm: Crm) -> Result<Option<Connection>> {
        self.get_as(&self.tables.webhooks, connection_key(tenant, crm))
            .await
    }

    #[instrument(name = "dynamo.list_connections", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>> {
        let mut all: Vec<Connection> = self
            .query_all(
                &self.tables.webhooks,
                None,
                tenant_pk(tenant),
                "CRM#".into(),
            )
            .await?;
        all.sort_by_key(|c| c.crm);
        Ok(all)
    }

    #[instrument(name = "dynamo.update_connection", level = "debug", skip_all, fields(tenant = %c.tenant_id))]
    async fn update_connection(&self, c: &Connection) -> Result<Connection> {
        let mut next = c.clone();
        next.version = c.version + 1;
        let mut item = to_item(&next)?;
        item.extend(connection_key(&c.tenant_id, c.crm));
        self.put_if_version(
            &self.tables.webhooks,
            item,
            c.version,
            &format!("CRM connection {}", c.crm),
        )
        .await?;
        Ok(next)
    }

    #[instrument(name = "dynamo.delete_connection", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn delete_connection(&self, tenant: &TenantId, crm: Crm) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.webhooks)
            .set_key(Some(connection_key(tenant, crm)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB DeleteItem", e))?;
        let waiting = self
            .query_attributes(
                &self.tables.webhooks,
                pending_pk(tenant, crm),
                "PENDING#",
                "pk, sk",
            )
            .await?;
        self.delete_keys(&self.tables.webhooks, waiting).await?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    #[instrument(name = "dynamo.mark_pending", level = "debug", skip_all, fields(tenant = %tenant, leads = leads.len()))]
    async fn mark_pending(
        &self,
        tenant: &TenantId,
        crm: Crm,
        leads: &[LeadId],
        at: i64,
    ) -> Result<()> {
        let item = |lead: &LeadId| {
            let mut item = pending_key(tenant, crm, lead);
            item.insert("lead_id".into(), s(lead.as_str()));
            item.insert("noted_at".into(), at_value(at));
            item
        };
        if let [lead] = leads {
            // One lead (a score change): one PutItem.
            self.client
                .put_item()
                .table_name(&self.tables.webhooks)
                .set_item(Some(item(lead)))
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB PutItem", e))?;
            return Ok(());
        }
        self.put_items(&self.tables.webhooks, leads.iter().map(item).collect())
            .await
    }

    #[instrument(name = "dynamo.pending", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn pending(&self, tenant: &TenantId, crm: Crm, limit: u32) -> Result<Vec<(LeadId, i64)>> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.webhooks)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pending_pk(tenant, crm)))
            .expression_attribute_values(":prefix", s("PENDING#"))
            .projection_expression("lead_id, noted_at")
            .consistent_read(true)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let lead = item.get("lead_id").and_then(|v| v.as_s().ok());
                let at = item
                    .get("noted_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok());
                match (lead, at) {
                    (Some(lead), Some(at)) => Ok((LeadId::parse(lead)?, at)),
                    _ => Err(Error::internal(
                        "a waiting CRM push has no lead_id or noted_at",
                        std::fmt::Error,
                    )),
                }
            })
            .collect()
    }

    #[instrument(name = "dynamo.clear_pending", level = "debug", skip_all, fields(tenant = %tenant, leads = leads.len()))]
    async fn clear_pending(
        &self,
        tenant: &TenantId,
        crm: Crm,
        leads: &[(LeadId, i64)],
    ) -> Result<()> {
        for (lead, at) in leads {
            let result = self
                .client
                .delete_item()
                .table_name(&self.tables.webhooks)
                .set_key(Some(pending_key(tenant, crm, lead)))
                .condition_expression("noted_at = :at")
                .expression_attribute_values(":at", at_value(*at))
                .send()
                .await;
            match result {
                Ok(_) => {}
                // Noted again since it was read (or gone already): it stays for the next push.
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_))
                    ) => {}
                Err(err) => return Err(sdk_error("DynamoDB DeleteItem", err)),
            }
        }
        Ok(())
    }
}
