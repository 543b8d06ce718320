//! `/api_keys`: the tenant's API keys. An admin makes one (its secret shown in that answer and
//! never again), lists them with when each was last used, and revokes them.

use super::routing::{Build, Routes, delete_with, get_with};
use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{ApiKey, NewApiKey};
use crate::handlers::access;

use super::AppState;
use super::doc::{Created, Problems};
use super::extract::{AdminTenant, ApiResult, JsonBody};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/api_keys",
            get_with(list_keys, |op| {
                op.id("list_keys")
                    .tag("access")
                    .summary("The tenant's API keys, revoked ones included")
                    .description("Never their secrets: a key's secret is shown once, when made.")
            })
            .post_with(create_key, |op| {
                op.id("create_key")
                    .tag("access")
                    .summary("Make an API key")
                    .description(
                        "The answer's `token` is the key: send it as `Authorization: Bearer \
                         <token>`. It is shown in this answer only and stored as a hash; keep it \
                         where secrets are kept. The role says what the key may do: `viewer` \
                         reads, `rep` also works leads, `admin` also runs the tenant.",
                    )
                    .problem::<409>("The tenant holds the most live keys it may; revoke one")
            }),
        )
        .api_route(
            "/api_keys/{id}",
            delete_with(revoke_key, |op| {
                op.id("revoke_key")
                    .tag("access")
                    .summary("Revoke an API key: from now on it is refused")
                    .description(
                        "On AWS a key's verdict is cached by API Gateway for up to five \
                         minutes; locally it is refused at once.",
                    )
                    .problem::<404>("No such key in the tenant")
            }),
        )
}

#[derive(Serialize, JsonSchema)]
struct KeyList {
    api_keys: Vec<ApiKey>,
}

/// A new key, with its secret: the only answer that carries it.
#[derive(Serialize, JsonSchema)]
struct IssuedKey {
    #[serde(flatten)]
    key: ApiKey,
    /// The key itself (`lsk_...`): `Authorization: Bearer <token>`. Shown this once.
    token: String,
}

/// `{id}` of `/api_keys/{id}`.
#[derive(Deserialize, JsonSchema)]
struct KeyPath {
    /// The key's id (`ak_...`).
    id: String,
}

async fn list_keys(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList {
        api_keys: deps.keys.list_keys(&tenant).await?,
    }))
}

async fn create_key(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(draft): JsonBody<NewApiKey>,
) -> ApiResult<Created<IssuedKey>> {
    let (key, token) = access::issue(&deps, &tenant, &draft, Utc::now()).await?;
    Ok(Created {
        location: None,
        body: IssuedKey { key, token },
    })
}

async fn revoke_key(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(KeyPath { id }): Path<KeyPath>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(access::revoke(&deps, &tenant, &id, Utc::now()).await?))
}
