//! Leads, calls and rules in DynamoDB.
//!
//! Leads table (`pk`, `sk`):
//! - a lead: `TENANT#<t>` / `LEAD#<id>`, with `rank` (GSI `by_score`: the tenant's leads by
//!   score) and `phone_key` (GSI `by_phone`: a lead by its number);
//! - a phone claim: `TENANT#<t>` / `PHONE#<e164>`, written in one transaction with the lead,
//!   so that a number belongs to one lead however many deliveries race (a GSI cannot enforce
//!   that, and is read only eventually consistently);
//! - per lead, under `TENANT#<t>#LEAD#<id>`: `CALL#<call>` (the call was counted), `CAUSE#<key>`
//!   (the score cause was applied) and `SCORE#<version>` (the score ledger, in order).
//!
//! Calls table: `TENANT#<t>` / `CALL#<id>`, with the local secondary index `by_lead` on
//! `lead_start` (`<lead>#<start>#<call>`), which, unlike a GSI, reads consistently.
//!
//! SMS, in the Leads table: per lead, under `TENANT#<t>#LEAD#<id>`, `SMS#<at>#<event>` (the SMS
//! log in time order), written in one transaction with `TENANT#<t>` / `SMSEVENT#<event>`, the
//! claim that makes an event id count once in its tenant; tracked links as `LINK#<token>` /
//! `LINK` (a token is global: it is the whole short link), each with `LINK#<token>` under its
//! lead's partition, so a lead's links can be found (and erased); numbers never to text again
//! as `TENANT#<t>` / `SUPPRESS#<digest>`.
//!
//! Rules table: `TENANT#<t>` / `RULE#<id>`, and `TENANT#<t>` / `SEEDED` once the tenant was
//! given its starting rules; the tenant's API keys as `TENANT#<t>` / `KEY#<id>` (the key names
//! its tenant and id, so a request's key is one consistent `GetItem`).
//!
//! Audit table: `TENANT#<t>` / `AUDIT#<entry id>` (ids begin with their time, so a query
//! backwards is newest first), expiring by TTL on `expiration`.
//!
//! Usage table: `TENANT#<t>` / `USAGE#<month>`, one numeric attribute per counter, added to
//! with `UpdateItem ... ADD` (atomic, however many functions count at once).
//!
//! Webhooks table: `TENANT#<t>` / `WEBHOOK#<id>` (a subscription; its secret is in SSM), and
//! `TENANT#<t>#WEBHOOK#<id>` / `DELIVERY#<event id>` (a delivery with its attempts; event ids
//! begin with their time, so a query backwards is newest first), expiring by TTL on
//! `expiration`.
//!
//! Every update is conditional on the version read (optimistic concurrency): a lost race is
//! `Error::Concurrent`, never a lost update.

mod api_keys;
mod audit;
mod calls;
mod crm;
mod leads;
mod rules;
mod sms;
mod usage;
mod webhooks;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sdk_error;

use shared::domain::{Lead, LeadId, TenantId};
use shared::error::{Error, Result};
use shared::ports::LeadStore;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Table names.
#[derive(Debug, Clone)]
pub struct Tables {
    pub leads: String,
    pub calls: String,
    pub rules: String,
    pub audit: String,
    pub usage: String,
    pub webhooks: String,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn tenant_pk(t: &TenantId) -> String {
    format!("TENANT#{t}")
}

pub(super) fn lead_pk(t: &TenantId, l: &LeadId) -> String {
    format!("TENANT#{t}#LEAD#{l}")
}

pub(super) fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// A timestamp that sorts as text: fixed width, UTC.
pub(super) fn sortable(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value)
        .map_err(|e| Error::internal("cannot write the record as a DynamoDB item", e))
}

/// An item this store wrote, read back (its numbers were checked when written:
/// [`reading_stored`](shared::domain::reading_stored)).
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    shared::domain::reading_stored(|| serde_dynamo::from_item(item))
        .map_err(|e| Error::internal("a stored DynamoDB item does not read back", e))
}

/// A put that succeeds only where no item has the key.
pub(super) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| Error::internal("a DynamoDB put is incomplete", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A put that succeeds only where the stored item still has `version`.
pub(super) fn put_versioned(table: &str, item: Item, version: u64) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("#v = :v")
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":v", n(version))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(|e| Error::internal("a DynamoDB put is incomplete", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Which items of a cancelled transaction failed their condition (`None` when the transaction
/// failed for another reason), and whether each such item existed.
pub(super) enum Transacted {
    Done,
    /// Per item: `Some(existed)` where its condition failed.
    ConditionFailed(Vec<Option<bool>>),
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        Self { client, tables }
    }

    async fn get(&self, table: &str, key: Item) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB GetItem", e))?;
        Ok(out.item)
    }

    async fn get_as<T: DeserializeOwned>(&self, table: &str, key: Item) -> Result<Option<T>> {
        self.get(table, key).await?.map(from_item).transpose()
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transacted> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Transacted::Done),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(e)) =
                    err.as_service_error()
                {
                    let reasons = e.cancellation_reasons();
                    if reasons
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"))
                    {
                        return Ok(Transacted::ConditionFailed(
                            reasons
                                .iter()
                                .map(|r| {
                                    (r.code() == Some("ConditionalCheckFailed"))
                                        .then(|| r.item().is_some_and(|i| !i.is_empty()))
                                })
                                .collect(),
                        ));
                    }
                }
                Err(sdk_error("DynamoDB TransactWriteItems", err))
            }
        }
    }

    /// Put `item` if the stored copy still has `version`. `Concurrent` when it changed,
    /// `NotFound` when it is gone.
    async fn put_if_version(
        &self,
        table: &str,
        item: Item,
        version: u64,
        what: &str,
    ) -> Result<()> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e)) => {
                    Err(not_updated(e.item().is_some_and(|i| !i.is_empty()), what))
                }
                _ => Err(sdk_error("DynamoDB PutItem", err)),
            },
        }
    }

    /// Put `item` where nothing has its key; `false` when something does.
    async fn put_if_new(&self, table: &str, item: Item) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_error("DynamoDB PutItem", err)),
            },
        }
    }

    /// Every item of a partition whose sort key starts with `prefix`, in order, read
    /// consistently (through `index` when given, a local secondary index).
    async fn query_all<T: DeserializeOwned>(
        &self,
        table: &str,
        index: Option<(&str, &str)>,
        pk: String,
        prefix: String,
    ) -> Result<Vec<T>> {
        let sort_attr = index.map_or("sk", |(_, attr)| attr);
        self.query_pages(|| {
            self.client
                .query()
                .table_name(table)
                .set_index_name(index.map(|(name, _)| name.to_owned()))
                .key_condition_expression("pk = :pk AND begins_with(#s, :prefix)")
                .expression_attribute_names("#s", sort_attr)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix.clone()))
        })
        .await
    }

    /// Every item of a partition whose sort key is `from` or after and before `to`, in order,
    /// read consistently.
    async fn query_range<T: DeserializeOwned>(
        &self,
        table: &str,
        pk: String,
        from: String,
        to: String,
    ) -> Result<Vec<T>> {
        self.query_pages(|| {
            self.client
                .query()
                .table_name(table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":from", s(from.clone()))
                .expression_attribute_values(":to", s(to.clone()))
        })
        .await
    }

    /// Every item the query `query` makes finds, read consistently, page after page.
    async fn query_pages<T: DeserializeOwned>(
        &self,
        query: impl Fn() -> QueryFluentBuilder,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query()
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB Query", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// The named attributes (`projection`, e.g. `pk, sk`) of every item of a partition whose
    /// sort key starts with `prefix` (every item for ""), read consistently.
    async fn query_attributes(
        &self,
        table: &str,
        pk: String,
        prefix: &str,
        projection: &str,
    ) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(table)
                .expression_attribute_values(":pk", s(pk.clone()));
            // DynamoDB takes no empty key value: no prefix is the whole partition.
            query = if prefix.is_empty() {
                query.key_condition_expression("pk = :pk")
            } else {
                query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let page = query
                .projection_expression(projection)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB Query", e))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Up to `take` items of a partition whose sort key is before `before`, newest (greatest)
    /// first: a page of a log whose sort keys begin with their time.
    async fn newest_before<T: DeserializeOwned>(
        &self,
        table: &str,
        pk: String,
        before: String,
        take: u32,
    ) -> Result<Vec<T>> {
        let out = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk AND sk < :before")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":before", s(before))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(take.min(i32::MAX as u32) as i32)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Delete the items with these keys, 25 to a `BatchWriteItem`, sending again what DynamoDB
    /// left unprocessed (throttled) with a growing pause.
    async fn delete_keys(&self, table: &str, keys: Vec<Item>) -> Result<()> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        let requests = keys
            .into_iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| Error::internal("a DynamoDB delete is incomplete", e))
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch_write(table, requests).await
    }

    /// Put these items (replacing what has their keys), 25 to a `BatchWriteItem`.
    async fn put_items(&self, table: &str, items: Vec<Item>) -> Result<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let requests = items
            .into_iter()
            .map(|i| {
                PutRequest::builder()
                    .set_item(Some(i))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| Error::internal("a DynamoDB put is incomplete", e))
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch_write(table, requests).await
    }

    /// Send `requests`, 25 to a `BatchWriteItem`, sending again what DynamoDB left
    /// unprocessed (throttled) with a growing pause.
    async fn batch_write(
        &self,
        table: &str,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<()> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for attempt in 0..8u32 {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(Error::transient(
                    format!("DynamoDB left {} writes unprocessed", pending.len()),
                    "BatchWriteItem",
                ));
            }
        }
        Ok(())
    }

    async fn stored_lead(&self, tenant: &TenantId, id: &LeadId) -> Result<Lead> {
        self.get_lead(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("lead {id}")))
    }
}

pub(super) fn not_updated(exists: bool, what: &str) -> Error {
    if exists {
        Error::concurrent(format!("{what} was changed by someone else; read it again"))
    } else {
        Error::not_found(what.to_owned())
    }
}
