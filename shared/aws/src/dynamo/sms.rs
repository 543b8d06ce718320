//! Each lead's SMS log with its per-tenant event claims, and the tracked links.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use tracing::instrument;

use shared::domain::{LeadId, OutgoingText, SmsEvent, TenantId, TrackedLink};
use shared::error::{Error, Result};
use shared::ports::SmsStore;
use shared::sms::SmsFold;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    DynamoStore, Item, Transacted, key, lead_pk, put_new, s, sortable, tenant_pk, to_item,
};

/// Where a lead's folded SMS log is kept: beside its log, outside the log's `SMS#` keys.
fn fold_key(tenant: &TenantId, lead: &LeadId) -> Item {
    key(lead_pk(tenant, lead), "SMSFOLD".to_owned())
}

/// Where a text the product sends is kept: under its lead, so erasing the lead finds it.
fn text_key(tenant: &TenantId, lead: &LeadId, text_id: &str) -> Item {
    key(lead_pk(tenant, lead), format!("TEXT#{text_id}"))
}

/// An item's sort key, as text.
pub(super) fn sk_of(item: &Item) -> String {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.clone(),
        _ => String::new(),
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

    #[instrument(name = "dynamo.sms_events_since", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_events_since(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        since: DateTime<Utc>,
    ) -> Result<Vec<SmsEvent>> {
        // Sort keys hold microseconds: read from the microsecond, keep from the instant.
        let mut events: Vec<SmsEvent> = self
            .query_range(
                &self.tables.leads,
                lead_pk(tenant, lead),
                format!("SMS#{}", sortable(since)),
                // Just past every "SMS#..." key.
                "SMS$".to_owned(),
            )
            .await?;
        events.retain(|e| e.at >= since);
        Ok(events)
    }

    #[instrument(name = "dynamo.sms_fold", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn sms_fold(&self, tenant: &TenantId, lead: &LeadId) -> Result<Option<SmsFold>> {
        self.get_as(&self.tables.leads, fold_key(tenant, lead))
            .await
    }

    #[instrument(name = "dynamo.put_sms_fold", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn put_sms_fold(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        fold: &SmsFold,
    ) -> Result<SmsFold> {
        let mut stored = fold.clone();
        stored.version += 1;
        let mut item = to_item(&stored)?;
        item.extend(fold_key(tenant, lead));
        let what = format!("the SMS log of lead {lead} as folded");
        let table = &self.tables.leads;
        if fold.version == 0 {
            if !self.put_if_new(table, item).await? {
                return Err(Error::concurrent(format!(
                    "{what} was stored by another request first"
                )));
            }
        } else {
            self.put_if_version(table, item, fold.version, &what)
                .await?;
        }
        Ok(stored)
    }

    #[instrument(name = "dynamo.get_text", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn get_text(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        text_id: &str,
    ) -> Result<Option<OutgoingText>> {
        self.get_as(&self.tables.leads, text_key(tenant, lead, text_id))
            .await
    }

    #[instrument(name = "dynamo.put_text", level = "debug", skip_all, fields(tenant = %text.tenant_id, lead = %text.lead_id))]
    async fn put_text(&self, text: &OutgoingText) -> Result<OutgoingText> {
        let mut stored = text.clone();
        stored.version += 1;
        let mut item = to_item(&stored)?;
        item.extend(text_key(&text.tenant_id, &text.lead_id, &text.text_id));
        let what = format!("text {}", text.text_id);
        let table = &self.tables.leads;
        if text.version == 0 {
            if !self.put_if_new(table, item).await? {
                return Err(Error::concurrent(format!(
                    "{what} was stored by another request first"
                )));
            }
        } else {
            self.put_if_version(table, item, text.version, &what)
                .await?;
        }
        Ok(stored)
    }

    #[instrument(name = "dynamo.texts_for_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn texts_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<OutgoingText>> {
        let mut texts: Vec<OutgoingText> = self
            .query_all(
                &self.tables.leads,
                None,
                lead_pk(tenant, lead),
                "TEXT#".into(),
            )
            .await?;
        shared::domain::newest_first(&mut texts);
        Ok(texts)
    }

    #[instrument(name = "dynamo.insert_link", level = "debug", skip_all)]
    async fn insert_link(&self, link: &TrackedLink) -> Result<()> {
        let mut item = to_item(link)?;
        item.extend(key(format!("LINK#{}", link.token), "LINK".to_owned()));
        // Under its lead too, so the lead's links can be listed and erased.
        let mut mark = to_item(link)?;
        mark.extend(key(
            lead_pk(&link.tenant_id, &link.lead_id),
            format!("LINK#{}", link.token),
        ));
        let table = &self.tables.leads;
        match self
            .transact(vec![put_new(table, item)?, put_new(table, mark)?])
            .await?
        {
            Transacted::Done => Ok(()),
            Transacted::ConditionFailed(_) => Err(Error::conflict(format!(
                "link token {} is taken",
                link.token
            ))),
        }
    }

    #[instrument(name = "dynamo.links_for_lead", level = "debug", skip_all)]
    async fn links_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<TrackedLink>> {
        let mut links: Vec<TrackedLink> = self
            .query_all(
                &self.tables.leads,
                None,
                lead_pk(tenant, lead),
                "LINK#".into(),
            )
            .await?;
        links.sort_by(|a, b| (a.created_at, &a.token).cmp(&(b.created_at, &b.token)));
        Ok(links)
    }

    #[instrument(name = "dynamo.erase_sms", level = "debug", skip_all)]
    async fn erase_sms(&self, tenant: &TenantId, lead: &LeadId) -> Result<()> {
        let table = &self.tables.leads;
        let pk = lead_pk(tenant, lead);
        let mut keys = Vec::new();
        for item in self
            .query_attributes(table, pk.clone(), "SMS#", "pk, sk, event_id")
            .await?
        {
            if let Some(AttributeValue::S(event)) = item.get("event_id") {
                keys.push(key(tenant_pk(tenant), format!("SMSEVENT#{event}")));
            }
            keys.push(key(pk.clone(), sk_of(&item)));
        }
        for item in self
            .query_attributes(table, pk.clone(), "LINK#", "pk, sk")
            .await?
        {
            let sk = sk_of(&item);
            keys.push(key(sk.clone(), "LINK".to_owned()));
            keys.push(key(pk.clone(), sk));
        }
        for item in self
            .query_attributes(table, pk.clone(), "TEXT#", "pk, sk")
            .await?
        {
            keys.push(key(pk.clone(), sk_of(&item)));
        }
        keys.push(fold_key(tenant, lead));
        self.delete_keys(table, keys).await
    }

    #[instrument(name = "dynamo.suppress", level = "debug", skip_all)]
    async fn suppress(&self, tenant: &TenantId, digest: &str) -> Result<()> {
        self.put_if_new(
            &self.tables.leads,
            key(tenant_pk(tenant), format!("SUPPRESS#{digest}")),
        )
        .await
        .map(|_| ())
    }

    #[instrument(name = "dynamo.is_suppressed", level = "debug", skip_all)]
    async fn is_suppressed(&self, tenant: &TenantId, digest: &str) -> Result<bool> {
        Ok(self
            .get(
                &self.tables.leads,
                key(tenant_pk(tenant), format!("SUPPRESS#{digest}")),
            )
            .await?
            .is_some())
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
