//! `leadscore keys`: the tenant's API keys, made, listed and revoked on the data folder itself
//! (how the first key is made for a server that listens beyond 127.0.0.1).

use anyhow::Result;
use chrono::Utc;
use shared::domain::{NewApiKey, TenantId};
use shared::handlers::access;
use shared::local::LocalApp;

use crate::args::KeysCommand;
use crate::emit;

pub(crate) async fn keys(app: &LocalApp, tenant: &TenantId, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Create { name, role } => {
            let (key, token) =
                access::issue(&app.deps, tenant, &NewApiKey { name, role }, Utc::now()).await?;
            emit(&format!(
                "{token}\n\nAPI key {} ({}, {}) for tenant {tenant}. This is the only time it is \
                 shown: keep it where secrets are kept.\nUse it as `Authorization: Bearer <key>`.\n",
                key.key_id,
                key.name,
                key.role.as_str()
            ))
        }
        KeysCommand::List { json } => {
            let keys = app.deps.keys.list_keys(tenant).await?;
            if json {
                return emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::json!({ "api_keys": keys }))?
                ));
            }
            let mut out = format!(
                "{:<20} {:<6} {:<24} {:<20} {}\n",
                "KEY", "ROLE", "NAME", "LAST USED", "STATE"
            );
            for k in &keys {
                let when = |t: Option<chrono::DateTime<Utc>>| {
                    t.map_or("never".to_owned(), |t| {
                        t.format("%Y-%m-%d %H:%M").to_string()
                    })
                };
                let state = match k.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".to_owned(),
                };
                let name: String = k.name.chars().take(24).collect();
                out.push_str(&format!(
                    "{:<20} {:<6} {:<24} {:<20} {state}\n",
                    k.key_id,
                    k.role.as_str(),
                    name,
                    when(k.last_used_at),
                ));
            }
            emit(&out)
        }
        KeysCommand::Revoke { key_id } => {
            let key = access::revoke(&app.deps, tenant, &key_id, Utc::now()).await?;
            emit(&format!(
                "API key {} ({}) is revoked: requests with it are refused from now on.\n",
                key.key_id, key.name
            ))
        }
    }
}
