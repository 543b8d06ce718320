//! Scoring rules, and the `SEEDED` marker of a tenant given its starting rules.

use async_trait::async_trait;
use chrono::Utc;

use tracing::instrument;

use crate::domain::{RuleId, ScoringRule, TenantId};
use crate::error::{Error, Result};
use crate::ports::RuleStore;

use super::{DynamoStore, Item, key, tenant_pk, to_item};

pub(super) fn rule_item(rule: &ScoringRule) -> Result<Item> {
    let mut item = to_item(rule)?;
    item.extend(key(
        tenant_pk(&rule.tenant_id),
        format!("RULE#{}", rule.rule_id),
    ));
    Ok(item)
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
