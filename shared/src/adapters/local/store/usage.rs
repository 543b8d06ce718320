//! Usage counters: one row per tenant, month and counter, added to in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rusqlite::params;
use tracing::instrument;

use crate::domain::{Counter, Month, TenantId};
use crate::error::Result;
use crate::ports::UsageMeter;

use super::SqliteStore;

#[async_trait]
impl UsageMeter for SqliteStore {
    #[instrument(name = "sqlite.add_usage", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn add(&self, tenant: &TenantId, month: Month, counts: &[(Counter, u64)]) -> Result<()> {
        let (t, m, counts) = (tenant.clone(), month.to_string(), counts.to_vec());
        self.with(move |c| {
            let tx = super::atomic(c)?;
            for (counter, n) in counts {
                tx.execute(
                    "INSERT INTO usage (tenant_id, month, counter, value) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (tenant_id, month, counter) DO UPDATE SET value = value + excluded.value",
                    params![t.as_str(), m, counter.as_str(), n as i64],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.usage", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn counts(&self, tenant: &TenantId, month: Month) -> Result<BTreeMap<Counter, u64>> {
        let (t, m) = (tenant.clone(), month.to_string());
        self.with(move |c| {
            let mut stmt =
                c.prepare("SELECT counter, value FROM usage WHERE tenant_id = ?1 AND month = ?2")?;
            let rows = stmt.query_map(params![t.as_str(), m], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (name, value) = row?;
                // A counter this build does not know (a newer one wrote it) is left out.
                if let Some(counter) = Counter::parse(&name) {
                    out.insert(counter, value.max(0) as u64);
                }
            }
            Ok(out)
        })
        .await
    }
}
