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
//! `LINK` (a token is global: it is the whole short link).
//!
//! Rules table: `TENANT#<t>` / `RULE#<id>`, and `TENANT#<t>` / `SEEDED` once the tenant was
//! given its starting rules.
//!
//! Every update is conditional on the version read (optimistic concurrency): a lost race is
//! `Error::Concurrent`, never a lost update.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sdk_error;
use tracing::instrument;

use crate::domain::{
    Call, CallId, Lead, LeadId, PhoneNumber, RuleId, ScoreChange, ScoringRule, SmsEvent, TenantId,
    TrackedLink,
};
use crate::error::{Error, Result};
use crate::ports::{CallStore, LeadQuery, LeadStore, Page, RuleStore, SmsStore};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Table names.
#[derive(Debug, Clone)]
pub struct Tables {
    pub leads: String,
    pub calls: String,
    pub rules: String,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn tenant_pk(t: &TenantId) -> String {
    format!("TENANT#{t}")
}

fn lead_pk(t: &TenantId, l: &LeadId) -> String {
    format!("TENANT#{t}#LEAD#{l}")
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// A timestamp that sorts as text: fixed width, UTC.
fn sortable(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value)
        .map_err(|e| Error::internal("cannot write the record as a DynamoDB item", e))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item)
        .map_err(|e| Error::internal("a stored DynamoDB item does not read back", e))
}

/// The sort key of the `by_score` index: scored leads (`1xxx`) before unscored ones (`0`),
/// higher scores first when read backwards, ties by lead id.
fn rank(lead: &Lead) -> String {
    match lead.lead_score {
        Some(score) => format!("1{score:03}#{}", lead.lead_id),
        None => format!("0000#{}", lead.lead_id),
    }
}

fn lead_item(lead: &Lead) -> Result<Item> {
    let mut item = to_item(lead)?;
    item.extend(key(
        tenant_pk(&lead.tenant_id),
        format!("LEAD#{}", lead.lead_id),
    ));
    item.insert("rank".into(), s(rank(lead)));
    item.insert(
        "phone_key".into(),
        s(format!("{}#{}", lead.tenant_id, lead.phone_number)),
    );
    item.insert("search".into(), s(lead.search_text()));
    if let Some(status) = &lead.crm_lead_status {
        item.insert("status_lc".into(), s(status.to_lowercase()));
    }
    Ok(item)
}

fn phone_claim(lead: &Lead) -> Item {
    let mut item = key(
        tenant_pk(&lead.tenant_id),
        format!("PHONE#{}", lead.phone_number),
    );
    item.insert("lead_id".into(), s(lead.lead_id.as_str()));
    item
}

fn call_item(call: &Call) -> Result<Item> {
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

fn rule_item(rule: &ScoringRule) -> Result<Item> {
    let mut item = to_item(rule)?;
    item.extend(key(
        tenant_pk(&rule.tenant_id),
        format!("RULE#{}", rule.rule_id),
    ));
    Ok(item)
}

/// A put that succeeds only where no item has the key.
fn put_new(table: &str, item: Item) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| Error::internal("a DynamoDB put is incomplete", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A put that succeeds only where the stored item still has `version`.
fn put_versioned(table: &str, item: Item, version: u64) -> Result<TransactWriteItem> {
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
enum Transacted {
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
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(table)
                .set_index_name(index.map(|(name, _)| name.to_owned()))
                .key_condition_expression("pk = :pk AND begins_with(#s, :prefix)")
                .expression_attribute_names("#s", sort_attr)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix.clone()))
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

    async fn stored_lead(&self, tenant: &TenantId, id: &LeadId) -> Result<Lead> {
        self.get_lead(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("lead {id}")))
    }
}

fn not_updated(exists: bool, what: &str) -> Error {
    if exists {
        Error::concurrent(format!("{what} was changed by someone else; read it again"))
    } else {
        Error::not_found(what.to_owned())
    }
}

/// The next version of `lead`, as an update stores it.
fn bumped(lead: &Lead) -> Lead {
    let mut next = lead.clone();
    next.version = lead.version + 1;
    next
}

fn encode_cursor(rank: &str) -> String {
    hex::encode(rank)
}

fn decode_cursor(cursor: &str) -> Result<String> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|r| {
            r.split_once('#')
                .is_some_and(|(score, id)| score.len() == 4 && LeadId::parse(id).is_ok())
        })
        .ok_or_else(|| {
            Error::validation(format!(
                "cursor: `{cursor}` is not a cursor this API returned"
            ))
        })
}

#[async_trait]
impl LeadStore for DynamoStore {
    #[instrument(name = "dynamo.lead_ids", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn lead_ids(
        &self,
        tenant: &TenantId,
        after: Option<&LeadId>,
        limit: u32,
    ) -> Result<Vec<LeadId>> {
        // The tenant's partition holds leads (`LEAD#`) beside phone claims and markers; the key
        // condition reads only the leads, in id order, and only their keys.
        let low = match after {
            Some(id) => format!("LEAD#{id}"),
            None => "LEAD#".to_owned(),
        };
        let out = self
            .client
            .query()
            .table_name(&self.tables.leads)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(tenant_pk(tenant)))
            .expression_attribute_values(":low", s(low.clone()))
            .expression_attribute_values(":high", s("LEAD#\u{10FFFF}"))
            .projection_expression("sk")
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query (lead ids)", e))?;
        out.items()
            .iter()
            .filter_map(|item| item.get("sk").and_then(|v| v.as_s().ok()))
            .filter(|sk| **sk != low)
            .take(limit as usize)
            .map(|sk| LeadId::parse(sk.trim_start_matches("LEAD#")))
            .collect()
    }

    #[instrument(name = "dynamo.get_lead", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_lead(&self, tenant: &TenantId, id: &LeadId) -> Result<Option<Lead>> {
        self.get_as(
            &self.tables.leads,
            key(tenant_pk(tenant), format!("LEAD#{id}")),
        )
        .await
    }

    #[instrument(name = "dynamo.find_lead_by_phone", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn find_lead_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Lead>> {
        // The index answers in one read; it lags a new lead by a moment, so a miss is checked
        // against the phone claim, which reads consistently.
        let found = self
            .client
            .query()
            .table_name(&self.tables.leads)
            .index_name("by_phone")
            .key_condition_expression("phone_key = :k")
            .expression_attribute_values(":k", s(format!("{tenant}#{phone}")))
            .limit(1)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query by_phone", e))?;
        if let Some(item) = found.items.unwrap_or_default().into_iter().next() {
            return from_item(item).map(Some);
        }
        let claim = self
            .get(
                &self.tables.leads,
                key(tenant_pk(tenant), format!("PHONE#{phone}")),
            )
            .await?;
        match claim
            .as_ref()
            .and_then(|c| c.get("lead_id"))
            .and_then(|v| v.as_s().ok())
        {
            Some(id) => self.get_lead(tenant, &LeadId::parse(id)?).await,
            None => Ok(None),
        }
    }

    #[instrument(name = "dynamo.insert_lead", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn insert_lead(&self, lead: &Lead) -> Result<()> {
        let items = vec![
            put_new(&self.tables.leads, lead_item(lead)?)?,
            put_new(&self.tables.leads, phone_claim(lead))?,
        ];
        match self.transact(items).await? {
            Transacted::Done => Ok(()),
            Transacted::ConditionFailed(r) if r[0].is_some() => Err(Error::conflict(format!(
                "a lead with the id {} already exists",
                lead.lead_id
            ))),
            Transacted::ConditionFailed(_) => Err(Error::conflict(format!(
                "a lead with the phone number {} already exists",
                lead.phone_number
            ))),
        }
    }

    #[instrument(name = "dynamo.update_lead", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn update_lead(&self, lead: &Lead) -> Result<Lead> {
        let stored = self.stored_lead(&lead.tenant_id, &lead.lead_id).await?;
        let what = format!("lead {}", lead.lead_id);
        if stored.version != lead.version {
            return Err(not_updated(true, &what));
        }
        let next = bumped(lead);
        if stored.phone_number == lead.phone_number {
            self.put_if_version(&self.tables.leads, lead_item(&next)?, lead.version, &what)
                .await?;
            return Ok(next);
        }
        // A new number: move the claim in the same transaction.
        let old_claim = Delete::builder()
            .table_name(&self.tables.leads)
            .set_key(Some(key(
                tenant_pk(&lead.tenant_id),
                format!("PHONE#{}", stored.phone_number),
            )))
            .build()
            .map_err(|e| Error::internal("a DynamoDB delete is incomplete", e))?;
        let items = vec![
            put_versioned(&self.tables.leads, lead_item(&next)?, lead.version)?,
            TransactWriteItem::builder().delete(old_claim).build(),
            put_new(&self.tables.leads, phone_claim(lead))?,
        ];
        match self.transact(items).await? {
            Transacted::Done => Ok(next),
            Transacted::ConditionFailed(r) if r[0].is_some() => {
                Err(not_updated(r[0] == Some(true), &what))
            }
            Transacted::ConditionFailed(_) => Err(Error::conflict(format!(
                "another lead already has the phone number {}",
                lead.phone_number
            ))),
        }
    }

    #[instrument(name = "dynamo.list_leads", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_leads(&self, tenant: &TenantId, q: &LeadQuery) -> Result<Page<Lead>> {
        let limit = q.limit() as usize;
        // Key range on the rank: scores between min and max, or everything.
        let (low, high) = match (q.min_score, q.max_score) {
            (None, None) => ("0".to_owned(), "2".to_owned()),
            (min, max) => (
                format!("1{:03}", min.unwrap_or(0)),
                format!("1{:03}~", max.unwrap_or(100)),
            ),
        };
        let high = match &q.cursor {
            Some(c) => decode_cursor(c)?.min(high),
            None => high,
        };
        let mut filters = Vec::new();
        let mut values: Item = HashMap::from([
            (":pk".to_owned(), s(tenant_pk(tenant))),
            (":low".to_owned(), s(low)),
            (":high".to_owned(), s(high.clone())),
        ]);
        let mut names = HashMap::from([("#r".to_owned(), "rank".to_owned())]);
        if let Some(t) = q.tier {
            filters.push("#tier = :tier");
            names.insert("#tier".into(), "tier".into());
            values.insert(":tier".into(), s(t.as_str()));
        }
        if let Some(status) = &q.status {
            filters.push("#status = :status");
            names.insert("#status".into(), "status_lc".into());
            values.insert(":status".into(), s(status.to_lowercase()));
        }
        if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // Names go through placeholders: DynamoDB reserves hundreds of words (`search`).
            filters.push("contains(#search, :q)");
            names.insert("#search".into(), "search".into());
            values.insert(":q".into(), s(text.to_lowercase()));
        }
        let mut items: Vec<(String, Lead)> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.leads)
                .index_name("by_score")
                .key_condition_expression("pk = :pk AND #r BETWEEN :low AND :high")
                .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit((limit + 1) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB Query by_score", e))?;
            for mut item in page.items.unwrap_or_default() {
                let rank = match item.remove("rank") {
                    Some(AttributeValue::S(r)) => r,
                    _ => continue,
                };
                // The cursor's own lead was on the previous page.
                if q.cursor.is_some() && rank == high {
                    continue;
                }
                items.push((rank, from_item(item)?));
            }
            if items.len() > limit {
                items.truncate(limit);
                let next_cursor = items.last().map(|(r, _)| encode_cursor(r));
                return Ok(Page {
                    items: items.into_iter().map(|(_, l)| l).collect(),
                    next_cursor,
                });
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => {
                    return Ok(Page {
                        items: items.into_iter().map(|(_, l)| l).collect(),
                        next_cursor: None,
                    });
                }
            }
        }
    }

    #[instrument(name = "dynamo.note_call", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn note_call(
        &self,
        tenant: &TenantId,
        lead_id: &LeadId,
        call: &CallId,
        at: DateTime<Utc>,
    ) -> Result<Lead> {
        for _ in 0..10 {
            let lead = self.stored_lead(tenant, lead_id).await?;
            let mut next = bumped(&lead);
            next.call_count += 1;
            next.last_called_at = Some(lead.last_called_at.map_or(at, |l| l.max(at)));
            next.updated_at = Utc::now();
            let mut marker = key(lead_pk(tenant, lead_id), format!("CALL#{call}"));
            marker.insert("called_at".into(), s(sortable(at)));
            let items = vec![
                put_new(&self.tables.leads, marker)?,
                put_versioned(&self.tables.leads, lead_item(&next)?, lead.version)?,
            ];
            match self.transact(items).await? {
                Transacted::Done => return Ok(next),
                // Counted before: nothing to do.
                Transacted::ConditionFailed(r) if r[0].is_some() => return Ok(lead),
                Transacted::ConditionFailed(_) => continue,
            }
        }
        Err(Error::concurrent(format!(
            "lead {lead_id} kept changing; try again"
        )))
    }

    #[instrument(name = "dynamo.save_score", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn save_score(&self, lead: &Lead, change: &ScoreChange) -> Result<bool> {
        let next = bumped(lead);
        let pk = lead_pk(&lead.tenant_id, &lead.lead_id);
        let mut entry = to_item(change)?;
        entry.extend(key(pk.clone(), format!("SCORE#{:020}", next.version)));
        let items = vec![
            put_new(
                &self.tables.leads,
                key(pk, format!("CAUSE#{}", change.cause.key())),
            )?,
            put_new(&self.tables.leads, entry)?,
            put_versioned(&self.tables.leads, lead_item(&next)?, lead.version)?,
        ];
        match self.transact(items).await? {
            Transacted::Done => Ok(true),
            Transacted::ConditionFailed(r) if r[0].is_some() => Ok(false),
            Transacted::ConditionFailed(r) => Err(not_updated(
                r[2] != Some(false),
                &format!("lead {}", lead.lead_id),
            )),
        }
    }

    #[instrument(name = "dynamo.score_history", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn score_history(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<ScoreChange>> {
        self.query_all(
            &self.tables.leads,
            None,
            lead_pk(tenant, lead),
            "SCORE#".into(),
        )
        .await
    }
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
}

#[async_trait]
impl RuleStore for DynamoStore {
    #[instrument(name = "dynamo.list_rules", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_rules(&self, tenant: &TenantId) -> Result<Vec<ScoringRule>> {
        self.query_all(&self.tables.rules, None, tenant_pk(tenant), "RULE#".into())
            .await
    }

    #[instrument(name = "dynamo.get_rule", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_rule(&self, tenant: &TenantId, id: &RuleId) -> Result<Option<ScoringRule>> {
        self.get_as(
            &self.tables.rules,
            key(tenant_pk(tenant), format!("RULE#{id}")),
        )
        .await
    }

    #[instrument(name = "dynamo.insert_rule", level = "debug", skip_all, fields(tenant = %rule.tenant_id, rule = %rule.rule_id))]
    async fn insert_rule(&self, rule: &ScoringRule) -> Result<()> {
        if self
            .put_if_new(&self.tables.rules, rule_item(rule)?)
            .await?
        {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "a rule with the id {} already exists",
                rule.rule_id
            )))
        }
    }

    #[instrument(name = "dynamo.update_rule", level = "debug", skip_all, fields(tenant = %rule.tenant_id, rule = %rule.rule_id))]
    async fn update_rule(&self, rule: &ScoringRule) -> Result<ScoringRule> {
        let mut next = rule.clone();
        next.version = rule.version + 1;
        next.updated_at = Utc::now();
        self.put_if_version(
            &self.tables.rules,
            rule_item(&next)?,
            rule.version,
            &format!("rule {}", rule.rule_id),
        )
        .await?;
        Ok(next)
    }

    #[instrument(name = "dynamo.seed_rules", level = "debug", skip_all, fields(tenant = %tenant, rules = rules.len()))]
    async fn seed_rules(&self, tenant: &TenantId, rules: &[ScoringRule]) -> Result<bool> {
        let marker = key(tenant_pk(tenant), "SEEDED".into());
        if self
            .get(&self.tables.rules, marker.clone())
            .await?
            .is_some()
        {
            return Ok(false);
        }
        // Rules first, the marker last: a seeding cut short is finished by the next one, and
        // a rule the tenant already has is left as it is.
        for rule in rules {
            self.put_if_new(&self.tables.rules, rule_item(rule)?)
                .await?;
        }
        self.put_if_new(&self.tables.rules, marker).await
    }
}
#[async_trait]
impl SmsStore for DynamoStore {
    #[instrument(name = "dynamo.append_sms_event", level = "debug", skip_all, fields(tenant = %event.tenant_id, lead = %event.lead_id))]
    async fn append_sms_event(&self, event: &SmsEvent) -> Result<bool> {
        let mut claim = key(
            tenant_pk(&event.tenant_id),
            format!("SMSEVENT#{}", event.event_id),
        );
        claim.insert("lead_id".into(), s(event.lead_id.as_str()));
        let mut item = to_item(event)?;
        item.extend(key(
            lead_pk(&event.tenant_id, &event.lead_id),
            format!("SMS#{}#{}", sortable(event.at), event.event_id),
        ));
        let table = &self.tables.leads;
        match self
            .transact(vec![put_new(table, claim)?, put_new(table, item)?])
            .await?
        {
            Transacted::Done => Ok(true),
            Transacted::ConditionFailed(_) => Ok(false),
        }
    }

    #[instrument(name = "dynamo.sms_events", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_events(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<SmsEvent>> {
        self.query_all(
            &self.tables.leads,
            None,
            lead_pk(tenant, lead),
            "SMS#".to_owned(),
        )
        .await
    }

    #[instrument(name = "dynamo.insert_link", level = "debug", skip_all)]
    async fn insert_link(&self, link: &TrackedLink) -> Result<()> {
        let mut item = to_item(link)?;
        item.extend(key(format!("LINK#{}", link.token), "LINK".to_owned()));
        if self.put_if_new(&self.tables.leads, item).await? {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "link token {} is taken",
                link.token
            )))
        }
    }

    #[instrument(name = "dynamo.get_link", level = "debug", skip_all)]
    async fn get_link(&self, token: &str) -> Result<Option<TrackedLink>> {
        self.get_as(
            &self.tables.leads,
            key(format!("LINK#{token}"), "LINK".to_owned()),
        )
        .await
    }
}
