//! Each lead's SMS log with its per-tenant event claims, and the tracked links.

use async_trait::async_trait;

use tracing::instrument;

use crate::domain::{LeadId, SmsEvent, TenantId, TrackedLink};
use crate::error::{Error, Result};
use crate::ports::SmsStore;

use super::{DynamoStore, Transacted, key, lead_pk, put_new, s, sortable, tenant_pk, to_item};

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
