//! Scoring rules, and the `SEEDED` marker of a tenant given its starting rules. The marker
//! carries `directory = "TENANTS"` and the tenant's id, the keys of the sparse index `tenants`
//! (only markers have a `directory`): the list of tenants the scheduled sweep reads.

use async_trait::async_trait;
use chrono::Utc;

use tracing::instrument;

use shared::domain::{RuleId, ScoringRule, TenantId};
use shared::error::{Error, Result};
use shared::ports::RuleStore;

use super::super::sdk_error;
use super::{DynamoStore, Item, Transacted, key, put_new, s, tenant_pk, to_item};

/// The sparse index of tenants, and the value its partition key has.
const TENANTS_INDEX: &str = "tenants";
const DIRECTORY: &str = "TENANTS";

fn marker(tenant: &TenantId) -> Item {
    let mut item = key(tenant_pk(tenant), "SEEDED".into());
    item.insert("directory".into(), s(DIRECTORY));
    item.insert("tenant_id".into(), s(tenant.as_str()));
    item
}

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
        let found = self
            .get(&self.tables.rules, key(tenant_pk(tenant), "SEEDED".into()))
            .await?;
        if let Some(found) = found {
            // A marker written before the tenants' index: given its keys, once.
            if !found.contains_key("directory") {
                self.client
                    .put_item()
                    .table_name(&self.tables.rules)
                    .set_item(Some(marker(tenant)))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB PutItem", e))?;
            }
            return Ok(false);
        }
        // One request: the rules and the marker together, each only where nothing has its
        // key (29 items, under TransactWriteItems' 100). A tenant's first scoring pays one
        // write request instead of one per rule.
        let mut items = rules
            .iter()
            .map(|r| put_new(&self.tables.rules, rule_item(r)?))
            .collect::<Result<Vec<_>>>()?;
        items.push(put_new(&self.tables.rules, marker(tenant))?);
        if let Transacted::Done = self.transact(items).await? {
            return Ok(true);
        }
        // Something had a key already: another invocation seeded first (the marker is
        // there), or a seeding written item by item, before this one, was cut short. Finish
        // it the same way: rules first, the marker last, a rule the tenant has left as it is.
        for rule in rules {
            self.put_if_new(&self.tables.rules, rule_item(rule)?)
                .await?;
        }
        self.put_if_new(&self.tables.rules, marker(tenant)).await
    }

    #[instrument(name = "dynamo.tenants", level = "debug", skip_all)]
    async fn tenants(&self, after: Option<&TenantId>, limit: u32) -> Result<Vec<TenantId>> {
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.rules)
            .index_name(TENANTS_INDEX)
            .expression_attribute_values(":d", s(DIRECTORY))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        query = match after {
            Some(after) => query
                .key_condition_expression("directory = :d AND tenant_id > :after")
                .expression_attribute_values(":after", s(after.as_str())),
            None => query.key_condition_expression("directory = :d"),
        };
        let page = query
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query tenants", e))?;
        page.items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("tenant_id") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(t)) => Some(TenantId::parse(t)),
                _ => None,
            })
            .collect()
    }
}
