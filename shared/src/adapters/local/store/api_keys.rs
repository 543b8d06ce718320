//! API keys: one row per key, its document holding the secret's hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tracing::instrument;

use crate::domain::{ApiKey, StoredKey, TenantId};
use crate::error::{Error, Result};
use crate::ports::ApiKeyStore;

use super::{SqliteStore, get_doc, is_unique_violation, list_docs};

fn read_key(c: &Connection, tenant: &str, id: &str) -> Result<Option<ApiKey>> {
    Ok(get_doc::<StoredKey>(
        c,
        "SELECT doc FROM api_keys WHERE tenant_id = ?1 AND key_id = ?2",
        [tenant, id],
    )?
    .map(ApiKey::from))
}

fn write_key(c: &Connection, key: &ApiKey) -> Result<()> {
    c.execute(
        "UPDATE api_keys SET doc = ?3 WHERE tenant_id = ?1 AND key_id = ?2",
        params![
            key.tenant_id.as_str(),
            key.key_id,
            serde_json::to_string(&StoredKey::from(key))?
        ],
    )?;
    Ok(())
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    #[instrument(name = "sqlite.insert_key", level = "debug", skip_all, fields(tenant = %key.tenant_id, key = %key.key_id))]
    async fn insert_key(&self, key: &ApiKey) -> Result<()> {
        let key = key.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO api_keys (tenant_id, key_id, doc) VALUES (?1, ?2, ?3)",
                params![
                    key.tenant_id.as_str(),
                    key.key_id,
                    serde_json::to_string(&StoredKey::from(&key))?
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict(format!("an API key with the id {} exists", key.key_id))
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.get_key", level = "debug", skip_all, fields(tenant = %tenant, key = %key_id))]
    async fn get_key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<ApiKey>> {
        let (t, id) = (tenant.clone(), key_id.to_owned());
        self.read(move |c| read_key(c, t.as_str(), &id)).await
    }

    #[instrument(name = "sqlite.list_keys", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        let t = tenant.clone();
        let mut keys: Vec<ApiKey> = self
            .read(move |c| {
                list_docs::<StoredKey>(
                    c,
                    "SELECT doc FROM api_keys WHERE tenant_id = ?1",
                    [t.as_str()],
                )
            })
            .await?
            .into_iter()
            .map(ApiKey::from)
            .collect();
        ApiKey::sort_oldest_first(&mut keys);
        Ok(keys)
    }

    #[instrument(name = "sqlite.revoke_key", level = "debug", skip_all, fields(tenant = %tenant, key = %key_id))]
    async fn revoke_key(
        &self,
        tenant: &TenantId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKey>> {
        let (t, id) = (tenant.clone(), key_id.to_owned());
        // One connection, one statement at a time: the read and the write cannot interleave
        // with a touch.
        self.with(move |c| {
            let Some(mut key) = read_key(c, t.as_str(), &id)? else {
                return Ok(None);
            };
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                write_key(c, &key)?;
            }
            Ok(Some(key))
        })
        .await
    }

    #[instrument(name = "sqlite.touch_key", level = "debug", skip_all, fields(tenant = %tenant, key = %key_id))]
    async fn touch_key(&self, tenant: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<()> {
        let (t, id) = (tenant.clone(), key_id.to_owned());
        self.with(move |c| {
            if let Some(mut key) = read_key(c, t.as_str(), &id)? {
                key.last_used_at = Some(key.last_used_at.map_or(at, |was| was.max(at)));
                write_key(c, &key)?;
            }
            Ok(())
        })
        .await
    }
}
