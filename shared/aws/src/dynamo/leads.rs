//! Leads, their phone claims, the calls counted, the causes applied and the score ledger.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::sdk_error;
use tracing::instrument;

use shared::domain::{CallId, Lead, LeadId, PhoneNumber, ScoreChange, TenantId};
use shared::error::{Error, Result};
use shared::ports::{LeadQuery, LeadSort, LeadStore, Page};

use super::{
    DynamoStore, Item, Transacted, from_item, key, lead_pk, not_updated, put_new, put_versioned, s,
    sortable, tenant_pk, to_item,
};

/// The outbox's items, in a lead's partition: `OUTBOX#<cause key>`.
const OUTBOX: &str = "OUTBOX#";
/// The sparse index of the outbox's items, by tenant and time.
const OUTBOX_INDEX: &str = "outbox";

/// The sort key of the `by_score` index: scored leads (`1xxx`) before unscored ones (`0`),
/// higher scores first when read backwards, ties by lead id.
pub(super) fn rank(lead: &Lead) -> String {
    match lead.lead_score {
        Some(score) => format!("1{score:03}#{}", lead.lead_id),
        None => format!("0000#{}", lead.lead_id),
    }
}

/// The sort key of the `by_activity` index: the latest activity (`0000` before any), most
/// recent first when read backwards, ties by lead id.
fn activity_key(lead: &Lead) -> String {
    let at = lead
        .last_activity()
        .map_or_else(|| "0000".to_owned(), sortable);
    format!("{at}#{}", lead.lead_id)
}

/// The sort key of the `by_name` index: `Lead::sort_name`, ties by lead id.
fn name_key(lead: &Lead) -> String {
    format!("{}#{}", lead.sort_name(), lead.lead_id)
}

/// A lead list's index, its sort key, and whether it is read backwards.
fn order(sort: LeadSort) -> (&'static str, &'static str, bool) {
    match sort {
        LeadSort::Score => ("by_score", "rank", true),
        LeadSort::LastActivity => ("by_activity", "activity", true),
        LeadSort::Name => ("by_name", "sort_name", false),
    }
}

pub(super) fn lead_item(lead: &Lead) -> Result<Item> {
    let mut item = to_item(lead)?;
    item.extend(key(
        tenant_pk(&lead.tenant_id),
        format!("LEAD#{}", lead.lead_id),
    ));
    item.insert("rank".into(), s(rank(lead)));
    item.insert("activity".into(), s(activity_key(lead)));
    item.insert("sort_name".into(), s(name_key(lead)));
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

pub(super) fn phone_claim(lead: &Lead) -> Item {
    let mut item = key(
        tenant_pk(&lead.tenant_id),
        format!("PHONE#{}", lead.phone_number),
    );
    item.insert("lead_id".into(), s(lead.lead_id.as_str()));
    item
}

/// The next version of `lead`, as an update stores it.
pub(super) fn bumped(lead: &Lead) -> Lead {
    let mut next = lead.clone();
    next.version = lead.version + 1;
    next
}

pub(super) fn encode_cursor(rank: &str) -> String {
    hex::encode(rank)
}

/// The sort key a page ended at, if `cursor` is one this API returned for `sort`.
pub(super) fn decode_cursor(cursor: &str, sort: LeadSort) -> Result<String> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|r| {
            r.rsplit_once('#').is_some_and(|(key, id)| {
                LeadId::parse(id).is_ok() && (sort != LeadSort::Score || key.len() == 4)
            })
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
        let sort = q.sort.unwrap_or_default();
        let (index, sort_key, backwards) = order(sort);
        let mut filters = Vec::new();
        let mut values: Item = HashMap::from([(":pk".to_owned(), s(tenant_pk(tenant)))]);
        let mut names = HashMap::new();
        let cursor = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, sort))
            .transpose()?;
        let key_condition = if sort == LeadSort::Score {
            // Key range on the rank: scores between min and max, or everything; a page ends
            // at its cursor.
            let (low, high) = match (q.min_score, q.max_score) {
                (None, None) => ("0".to_owned(), "2".to_owned()),
                (min, max) => (
                    format!("1{:03}", min.unwrap_or(0)),
                    format!("1{:03}~", max.unwrap_or(100)),
                ),
            };
            let high = match &cursor {
                Some(c) => c.clone().min(high),
                None => high,
            };
            values.insert(":low".into(), s(low));
            values.insert(":high".into(), s(high));
            "pk = :pk AND #k BETWEEN :low AND :high"
        } else {
            // Other orders filter on the score itself (an unscored lead has none).
            if let Some(m) = q.min_score {
                filters.push("#score >= :min");
                values.insert(":min".into(), AttributeValue::N(m.to_string()));
            }
            if let Some(m) = q.max_score {
                filters.push("#score <= :max");
                values.insert(":max".into(), AttributeValue::N(m.to_string()));
            }
            if q.min_score.is_some() || q.max_score.is_some() {
                names.insert("#score".into(), "lead_score".into());
            }
            match &cursor {
                Some(c) => {
                    values.insert(":c".into(), s(c.clone()));
                    if backwards {
                        "pk = :pk AND #k < :c"
                    } else {
                        "pk = :pk AND #k > :c"
                    }
                }
                None => "pk = :pk",
            }
        };
        // DynamoDB refuses a name the expressions do not use.
        if key_condition.contains("#k") {
            names.insert("#k".to_owned(), sort_key.to_owned());
        }
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
                .index_name(index)
                .key_condition_expression(key_condition)
                .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!backwards)
                .limit((limit + 1) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(&format!("DynamoDB Query {index}"), e))?;
            for mut item in page.items.unwrap_or_default() {
                let key = match item.get(sort_key) {
                    Some(AttributeValue::S(k)) => k.clone(),
                    _ => continue,
                };
                // The cursor's own lead was on the previous page.
                if cursor.as_ref() == Some(&key) {
                    continue;
                }
                for attribute in ["rank", "activity", "sort_name"] {
                    item.remove(attribute);
                }
                items.push((key, from_item(item)?));
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
        // The outbox: in the change's partition, listed by the sparse index `outbox` until
        // its events are handed on.
        let mut outbox = key(pk.clone(), format!("{OUTBOX}{}", change.cause.key()));
        outbox.insert("outbox_tenant".into(), s(lead.tenant_id.as_str()));
        outbox.insert("outbox_at".into(), s(sortable(change.at)));
        let items = vec![
            put_new(
                &self.tables.leads,
                key(pk, format!("CAUSE#{}", change.cause.key())),
            )?,
            put_new(&self.tables.leads, entry)?,
            put_versioned(&self.tables.leads, lead_item(&next)?, lead.version)?,
            put_new(&self.tables.leads, outbox)?,
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

    #[instrument(name = "dynamo.undispatched", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn undispatched(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(LeadId, String)>> {
        let page = self
            .client
            .query()
            .table_name(&self.tables.leads)
            .index_name(OUTBOX_INDEX)
            .key_condition_expression("outbox_tenant = :t AND outbox_at < :before")
            .expression_attribute_values(":t", s(tenant.as_str()))
            .expression_attribute_values(":before", s(sortable(before)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query outbox", e))?;
        let lead_prefix = format!("{}#LEAD#", tenant_pk(tenant));
        page.items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| {
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(v)) => Some(v.clone()),
                    _ => None,
                };
                let lead = text("pk")?.strip_prefix(&lead_prefix)?.to_owned();
                let cause = text("sk")?.strip_prefix(OUTBOX)?.to_owned();
                Some(LeadId::parse(&lead).map(|l| (l, cause)))
            })
            .collect()
    }

    #[instrument(name = "dynamo.dispatched", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn dispatched(&self, tenant: &TenantId, lead: &LeadId, cause_key: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.tables.leads)
            .set_key(Some(key(
                lead_pk(tenant, lead),
                format!("{OUTBOX}{cause_key}"),
            )))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB DeleteItem outbox", e))?;
        Ok(())
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

    #[instrument(name = "dynamo.erase_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn erase_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<bool> {
        let table = &self.tables.leads;
        let pk = lead_pk(tenant, lead);
        // Its partition first (ledger, markers, what else is left), the lead and its claim
        // last: a retry after a failure part-way finds the lead and erases the rest.
        let keys = self
            .query_attributes(table, pk.clone(), "", "pk, sk")
            .await?
            .iter()
            .map(|item| key(pk.clone(), super::sms::sk_of(item)))
            .collect();
        self.delete_keys(table, keys).await?;
        let Some(stored) = self.get_lead(tenant, lead).await? else {
            return Ok(false);
        };
        self.delete_keys(
            table,
            vec![
                key(tenant_pk(tenant), format!("LEAD#{lead}")),
                key(tenant_pk(tenant), format!("PHONE#{}", stored.phone_number)),
            ],
        )
        .await?;
        Ok(true)
    }
}
