//! A tenant's settings (`TenantSettings`: tier thresholds, surveys), kept in the blob store
//! beside its models; a tenant that saved none has the deployment's defaults.

use crate::Deps;
use crate::domain::{TenantId, TenantSettings};
use crate::error::{Error, Result};
use crate::keys;

/// The tenant's settings, or the deployment's defaults when it has saved none.
pub async fn load(deps: &Deps, tenant: &TenantId) -> Result<TenantSettings> {
    let key = keys::settings(tenant);
    match deps.blobs.get(&key).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("{key} is damaged"), e)),
        Err(Error::NotFound(_)) => Ok(TenantSettings {
            tiers: deps.config.tiers,
            surveys: Vec::new(),
            texting: Default::default(),
            follow_ups: Vec::new(),
            twilio_recordings: Default::default(),
        }),
        Err(e) => Err(e),
    }
}

/// Validate and save the tenant's settings; invalid settings change nothing stored.
pub async fn save(deps: &Deps, tenant: &TenantId, settings: &TenantSettings) -> Result<()> {
    settings.validate()?;
    deps.blobs
        .put(&keys::settings(tenant), &serde_json::to_vec(settings)?)
        .await
}
