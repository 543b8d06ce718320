//! Scoring rules.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use tracing::instrument;

use crate::domain::{RuleId, ScoringRule, TenantId};
use crate::error::{Error, Result};
use crate::ports::RuleStore;

use super::{SqliteStore, get_doc, is_unique_violation, list_docs, not_updated};

pub(super) fn read_rule(c: &Connection, tenant: &str, id: &str) -> Result<Option<ScoringRule>> {
    get_doc(
        c,
        "SELECT doc FROM rules WHERE tenant_id = ?1 AND rule_id = ?2",
        [tenant, id],
    )
}

pub(super) fn insert_rule_row(c: &Connection, rule: &ScoringRule) -> Result<()> {
    c.execute(
        "INSERT INTO rules (tenant_id, rule_id, version, doc) VALUES (?1, ?2, ?3, ?4)",
        params![
            rule.tenant_id.as_str(),
            rule.rule_id.as_str(),
            rule.version,
            serde_json::to_string(rule)?
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict(format!(
                "a rule with the id `{}` already exists",
                rule.rule_id
            ))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

#[async_trait]
impl RuleStore for SqliteStore {
    #[instrument(name = "sqlite.list_rules", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_rules(&self, tenant: &TenantId) -> Result<Vec<ScoringRule>> {
        let t = tenant.clone();
        self.read(move |c| {
            list_docs(
                c,
                "SELECT doc FROM rules WHERE tenant_id = ?1 ORDER BY rule_id",
                [t.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.get_rule", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_rule(&self, tenant: &TenantId, id: &RuleId) -> Result<Option<ScoringRule>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.read(move |c| read_rule(c, t.as_str(), i.as_str()))
            .await
    }

    #[instrument(name = "sqlite.insert_rule", level = "debug", skip_all, fields(tenant = %rule.tenant_id, rule = %rule.rule_id))]
    async fn insert_rule(&self, rule: &ScoringRule) -> Result<()> {
        let rule = rule.clone();
        self.with(move |c| insert_rule_row(c, &rule)).await
    }

    #[instrument(name = "sqlite.update_rule", level = "debug", skip_all, fields(tenant = %rule.tenant_id, rule = %rule.rule_id))]
    async fn update_rule(&self, rule: &ScoringRule) -> Result<ScoringRule> {
        let rule = rule.clone();
        self.with(move |c| {
            let mut next = rule.clone();
            next.version = rule.version + 1;
            let n = c.execute(
                "UPDATE rules SET version = ?3, doc = ?4 WHERE tenant_id = ?1 AND rule_id = ?2 AND version = ?5",
                params![
                    rule.tenant_id.as_str(),
                    rule.rule_id.as_str(),
                    next.version,
                    serde_json::to_string(&next)?,
                    rule.version
                ],
            )?;
            if n == 0 {
                return Err(not_updated(read_rule(c, rule.tenant_id.as_str(), rule.rule_id.as_str())?.is_some(), "rule", rule.rule_id.as_str()));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.seed_rules", level = "debug", skip_all, fields(tenant = %tenant, rules = rules.len()))]
    async fn seed_rules(&self, tenant: &TenantId, rules: &[ScoringRule]) -> Result<bool> {
        let (t, rules) = (tenant.clone(), rules.to_vec());
        self.with(move |c| {
            let tx = super::atomic(c)?;
            tx.execute(
                "INSERT OR IGNORE INTO tenants (tenant_id) VALUES (?1)",
                [t.as_str()],
            )?;
            let seeded = tx.execute(
                "UPDATE tenants SET rules_seeded = 1 WHERE tenant_id = ?1 AND rules_seeded = 0",
                [t.as_str()],
            )?;
            if seeded == 0 {
                return Ok(false);
            }
            for r in &rules {
                if read_rule(&tx, t.as_str(), r.rule_id.as_str())?.is_none() {
                    insert_rule_row(&tx, r)?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[instrument(name = "sqlite.tenants", level = "debug", skip_all)]
    async fn tenants(&self, after: Option<&TenantId>, limit: u32) -> Result<Vec<TenantId>> {
        let after = after.map(|t| t.as_str().to_owned()).unwrap_or_default();
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT tenant_id FROM tenants WHERE rules_seeded = 1 AND tenant_id > ?1 \
                 ORDER BY tenant_id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit], |r| r.get::<_, String>(0))?;
            rows.map(|r| TenantId::parse(&r?)).collect()
        })
        .await
    }
}
