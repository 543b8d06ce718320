//! CRM connections (a row each, the record as its JSON document) and the leads waiting to be
//! pushed (a row per lead and CRM; deleting a connection deletes them, a foreign key).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use tracing::instrument;

use crate::domain::{Connection, Crm, LeadId, TenantId};
use crate::error::{Error, Result};
use crate::ports::CrmStore;

use super::{SqliteStore, get_doc, is_unique_violation, list_docs, not_updated};

#[async_trait]
impl CrmStore for SqliteStore {
    #[instrument(name = "sqlite.insert_connection", level = "debug", skip_all, fields(tenant = %c.tenant_id))]
    async fn insert_connection(&self, c: &Connection) -> Result<()> {
        let conn = c.clone();
        self.with(move |db| {
            db.execute(
                "INSERT INTO crm_connections (tenant_id, crm, version, doc) VALUES (?1, ?2, ?3, ?4)",
                params![conn.tenant_id.as_str(), conn.crm.as_str(), conn.version, serde_json::to_string(&conn)?],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict(format!("the tenant is connected to {} already", conn.crm))
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.get_connection", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn get_connection(&self, tenant: &TenantId, crm: Crm) -> Result<Option<Connection>> {
        let t = tenant.clone();
        self.with(move |db| {
            get_doc(
                db,
                "SELECT doc FROM crm_connections WHERE tenant_id = ?1 AND crm = ?2",
                [t.as_str(), crm.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.list_connections", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>> {
        let t = tenant.clone();
        let mut all: Vec<Connection> = self
            .with(move |db| {
                list_docs(
                    db,
                    "SELECT doc FROM crm_connections WHERE tenant_id = ?1",
                    [t.as_str()],
                )
            })
            .await?;
        all.sort_by_key(|c| c.crm);
        Ok(all)
    }

    #[instrument(name = "sqlite.update_connection", level = "debug", skip_all, fields(tenant = %c.tenant_id))]
    async fn update_connection(&self, c: &Connection) -> Result<Connection> {
        let conn = c.clone();
        self.with(move |db| {
            let mut next = conn.clone();
            next.version = conn.version + 1;
            let n = db.execute(
                "UPDATE crm_connections SET version = ?3, doc = ?4 \
                 WHERE tenant_id = ?1 AND crm = ?2 AND version = ?5",
                params![
                    conn.tenant_id.as_str(),
                    conn.crm.as_str(),
                    next.version,
                    serde_json::to_string(&next)?,
                    conn.version
                ],
            )?;
            if n == 0 {
                let exists = db
                    .query_row(
                        "SELECT 1 FROM crm_connections WHERE tenant_id = ?1 AND crm = ?2",
                        [conn.tenant_id.as_str(), conn.crm.as_str()],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                return Err(not_updated(exists, "CRM connection", conn.crm.as_str()));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.delete_connection", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn delete_connection(&self, tenant: &TenantId, crm: Crm) -> Result<bool> {
        let t = tenant.clone();
        self.with(move |db| {
            let n = db.execute(
                "DELETE FROM crm_connections WHERE tenant_id = ?1 AND crm = ?2",
                [t.as_str(), crm.as_str()],
            )?;
            Ok(n > 0)
        })
        .await
    }

    #[instrument(name = "sqlite.mark_pending", level = "debug", skip_all, fields(tenant = %tenant, leads = leads.len()))]
    async fn mark_pending(
        &self,
        tenant: &TenantId,
        crm: Crm,
        leads: &[LeadId],
        at: i64,
    ) -> Result<()> {
        let (t, leads) = (tenant.clone(), leads.to_vec());
        self.with(move |db| {
            let tx = super::atomic(db)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO crm_pending (tenant_id, crm, lead_id, noted_at) \
                     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS \
                       (SELECT 1 FROM crm_connections WHERE tenant_id = ?1 AND crm = ?2) \
                     ON CONFLICT (tenant_id, crm, lead_id) DO UPDATE SET noted_at = \
                       max(noted_at, excluded.noted_at)",
                )?;
                for lead in &leads {
                    insert.execute(params![t.as_str(), crm.as_str(), lead.as_str(), at])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.pending", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn pending(&self, tenant: &TenantId, crm: Crm, limit: u32) -> Result<Vec<(LeadId, i64)>> {
        let t = tenant.clone();
        self.with(move |db| {
            let mut stmt = db.prepare_cached(
                "SELECT lead_id, noted_at FROM crm_pending WHERE tenant_id = ?1 AND crm = ?2 \
                 ORDER BY lead_id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![t.as_str(), crm.as_str(), limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            rows.map(|r| {
                let (id, at) = r?;
                Ok((LeadId::parse(&id)?, at))
            })
            .collect()
        })
        .await
    }

    #[instrument(name = "sqlite.clear_pending", level = "debug", skip_all, fields(tenant = %tenant, leads = leads.len()))]
    async fn clear_pending(
        &self,
        tenant: &TenantId,
        crm: Crm,
        leads: &[(LeadId, i64)],
    ) -> Result<()> {
        let (t, leads) = (tenant.clone(), leads.to_vec());
        self.with(move |db| {
            let tx = super::atomic(db)?;
            {
                let mut delete = tx.prepare_cached(
                    "DELETE FROM crm_pending \
                     WHERE tenant_id = ?1 AND crm = ?2 AND lead_id = ?3 AND noted_at = ?4",
                )?;
                for (lead, at) in &leads {
                    delete.execute(params![t.as_str(), crm.as_str(), lead.as_str(), at])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
