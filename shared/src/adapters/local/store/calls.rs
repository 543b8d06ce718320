//! Calls.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, params};

use tracing::instrument;

use crate::domain::{Call, CallId, LeadId, TenantId};
use crate::error::Result;
use crate::ports::CallStore;

use super::{SqliteStore, get_doc, list_docs, not_updated, ts};

pub(super) fn read_call(c: &Connection, tenant: &str, id: &str) -> Result<Option<Call>> {
    get_doc(
        c,
        "SELECT doc FROM calls WHERE tenant_id = ?1 AND call_id = ?2",
        [tenant, id],
    )
}

#[async_trait]
impl CallStore for SqliteStore {
    #[instrument(name = "sqlite.get_call", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_call(&self, tenant: &TenantId, id: &CallId) -> Result<Option<Call>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.read(move |c| read_call(c, t.as_str(), i.as_str()))
            .await
    }

    #[instrument(name = "sqlite.insert_call", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn insert_call(&self, call: &Call) -> Result<bool> {
        let call = call.clone();
        self.with(move |c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO calls (tenant_id, call_id, lead_id, started_at, status, version, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    call.tenant_id.as_str(),
                    call.call_id.as_str(),
                    call.lead_id.as_str(),
                    ts(call.call_start_time),
                    call.status.as_str(),
                    call.version,
                    serde_json::to_string(&call)?
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    #[instrument(name = "sqlite.update_call", level = "debug", skip_all, fields(tenant = %call.tenant_id, call = %call.call_id))]
    async fn update_call(&self, call: &Call) -> Result<Call> {
        let call = call.clone();
        self.with(move |c| {
            let mut next = call.clone();
            next.version = call.version + 1;
            next.updated_at = Utc::now();
            let n = c.execute(
                "UPDATE calls SET lead_id = ?3, started_at = ?4, status = ?5, version = ?6, doc = ?7
                 WHERE tenant_id = ?1 AND call_id = ?2 AND version = ?8",
                params![
                    call.tenant_id.as_str(),
                    call.call_id.as_str(),
                    call.lead_id.as_str(),
                    ts(call.call_start_time),
                    call.status.as_str(),
                    next.version,
                    serde_json::to_string(&next)?,
                    call.version
                ],
            )?;
            if n == 0 {
                return Err(not_updated(
                    read_call(c, call.tenant_id.as_str(), call.call_id.as_str())?.is_some(),
                    "call",
                    call.call_id.as_str(),
                ));
            }
            Ok(next)
        })
        .await
    }

    #[instrument(name = "sqlite.calls_for_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn calls_for_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<Call>> {
        let (t, l) = (tenant.clone(), lead.clone());
        self.read(move |c| {
            list_docs(
                c,
                "SELECT doc FROM calls WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY started_at, call_id",
                [t.as_str(), l.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.calls_after", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn calls_after(
        &self,
        tenant: &TenantId,
        after: Option<&CallId>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        let (t, after) = (
            tenant.clone(),
            after.map(|a| a.to_string()).unwrap_or_default(),
        );
        self.read(move |c| {
            list_docs(
                c,
                "SELECT doc FROM calls WHERE tenant_id = ?1 AND call_id > ?2 ORDER BY call_id LIMIT ?3",
                rusqlite::params![t.as_str(), after, limit],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.delete_call", level = "debug", skip_all)]
    async fn delete_call(&self, tenant: &TenantId, id: &CallId) -> Result<()> {
        let (t, id) = (tenant.clone(), id.clone());
        self.with(move |c| {
            c.execute(
                "DELETE FROM calls WHERE tenant_id = ?1 AND call_id = ?2",
                [t.as_str(), id.as_str()],
            )?;
            Ok(())
        })
        .await
    }
}
