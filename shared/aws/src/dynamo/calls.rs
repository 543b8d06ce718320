//! Calls, and a lead's calls in order through the `by_lead` local index.

use async_trait::async_trait;
use chrono::Utc;

use tracing::instrument;

use shared::domain::{Call, CallId, LeadId, TenantId};
use shared::error::Result;
use shared::ports::CallStore;

use super::{DynamoStore, Item, from_item, key, s, sdk_error, sortable, tenant_pk, to_item};

pub(super) fn call_item(call: &Call) -> Result<Item> {
    let mut item = to_item(call)?;
    item.extend(key(
        tenant_pk(&call.tenant_id),
        format!("CALL#{}", call.call_id),
    ));
    item.insert(
        "lead_start".into(),
        s(format!(
            "{}#{}#{}",
            call.lead_id,
            sortable(call.call_start_time),
            call.call_id
        )),
    );
    Ok(item)
}

#[async_trait]
impl CallStore for DynamoStore {
    #[instrument(name = "dynamo.get_call", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_call(&self, tenant: &TenantId, id: &CallId) -> Result<Option<Call>> {
        self.get_as(
            &self.tables.calls,
            key(tenant_pk(tenant), format!("CALL#{id}")),
        )
        .await
    }

    #[instrument(name = "dynamo.insert_call", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn insert_call(&self, call: &Call) -> Result<bool> {
        self.put_if_new(&self.tables.calls, call_item(call)?).await
    }

    #[instrument(name = "dynamo.update_call", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn update_call(&self, call: &Call) -> Result<Call> {
        let mut next = call.clone();
        next.version = call.version + 1;
        next.updated_at = Utc::now();
        self.put_if_version(
            &self.tables.calls,
            call_item(&next)?,
            call.version,
            &format!("call {}", call.call_id),
        )
        .await?;
        Ok(next)
    }

    #[instrument(name = "dynamo.calls_for_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn calls_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<Call>> {
        self.query_all(
            &self.tables.calls,
            Some(("by_lead", "lead_start")),
            tenant_pk(tenant),
            format!("{lead}#"),
        )
        .await
    }

    #[instrument(name = "dynamo.calls_after", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn calls_after(
        &self,
        tenant: &TenantId,
        after: Option<&CallId>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        // The partition's calls from `after` on (`CALL$` sorts just past every `CALL#...`).
        let from = format!("CALL#{}", after.map(CallId::as_str).unwrap_or_default());
        let mut out: Vec<Call> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.calls)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(tenant_pk(tenant)))
                .expression_attribute_values(":from", s(from.clone()))
                .expression_attribute_values(":to", s("CALL$"))
                .limit(limit as i32 + 1)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB Query calls", e))?;
            for item in page.items.unwrap_or_default() {
                let call: Call = from_item(item)?;
                if Some(&call.call_id) != after {
                    out.push(call);
                }
            }
            if out.len() >= limit as usize {
                out.truncate(limit as usize);
                return Ok(out);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    #[instrument(name = "dynamo.delete_call", level = "debug", skip_all, fields(tenant = %tenant, call = %id))]
    async fn delete_call(&self, tenant: &TenantId, id: &CallId) -> Result<()> {
        self.delete_keys(
            &self.tables.calls,
            vec![key(tenant_pk(tenant), format!("CALL#{id}"))],
        )
        .await
    }
}
