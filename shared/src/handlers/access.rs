//! API keys: issuing, listing and revoking them, and who a request's key says the caller is.

use chrono::{DateTime, Duration, Utc};

use crate::Deps;
use crate::domain::{
    Actor, ApiKey, Caller, MAX_KEYS_PER_TENANT, NewApiKey, TenantId, parse_key_token,
};
use crate::error::{Error, Result};

/// A key's uses are recorded at most this often (a write per request would double the API's
/// writes for a record that only needs to say "recently").
pub const TOUCH_EVERY: Duration = Duration::seconds(60);

/// Issue a key: the stored key, and the token to show its creator once.
pub async fn issue(
    deps: &Deps,
    tenant: &TenantId,
    draft: &NewApiKey,
    now: DateTime<Utc>,
) -> Result<(ApiKey, String)> {
    let live = deps
        .keys
        .list_keys(tenant)
        .await?
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .count();
    if live >= MAX_KEYS_PER_TENANT {
        return Err(Error::conflict(format!(
            "the tenant holds {live} live API keys, the most it may; revoke one first"
        )));
    }
    let (key, token) = ApiKey::issue(tenant, draft, now)?;
    deps.keys.insert_key(&key).await?;
    Ok((key, token))
}

/// Revoke a key of the tenant's: from now on it is refused.
pub async fn revoke(
    deps: &Deps,
    tenant: &TenantId,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<ApiKey> {
    deps.keys
        .revoke_key(tenant, key_id, now)
        .await?
        .ok_or_else(|| Error::not_found(format!("API key {key_id}")))
}

/// The caller a bearer token that has the form of an API key acts as; `Unauthorized` for a
/// key that is unknown, revoked or mistyped (one answer for all three: the answer does not
/// tell which keys exist).
pub async fn caller_for_key(deps: &Deps, token: &str, now: DateTime<Utc>) -> Result<Caller> {
    let refused = || {
        Error::Unauthorized(
            "the API key is not valid: unknown, revoked, or not copied whole".to_owned(),
        )
    };
    let (tenant, key_id) = parse_key_token(token).ok_or_else(refused)?;
    let key = deps
        .keys
        .get_key(&tenant, &key_id)
        .await?
        .filter(|k| k.accepts(token))
        .ok_or_else(refused)?;
    if key.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
        // A use that cannot be recorded does not refuse the request.
        if let Err(e) = deps.keys.touch_key(&tenant, &key_id, now).await {
            tracing::warn!(key = %key_id, error = %e.report(), "a key's use was not recorded");
        }
    }
    Ok(Caller {
        tenant,
        role: key.role,
        actor: Actor::Key(key.key_id),
    })
}
