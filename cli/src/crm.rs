//! `leadscore crm`: the tenant's CRM connections on the data folder itself: connect (the
//! scores pushed at once) or authorize on the CRM's consent screen, status, sync, disconnect. The same handlers as `/integrations`.

use anyhow::{Context, Result};
use shared::domain::{AuthorizeDraft, Connection, ConnectionDraft, Crm, TenantId};
use shared::handlers::{authorize, crm};
use shared::local::LocalApp;

use crate::args::CrmCommand;
use crate::{drain, emit};

pub(crate) async fn crm(app: &LocalApp, tenant: &TenantId, command: CrmCommand) -> Result<()> {
    match command {
        CrmCommand::Connect {
            crm: name,
            token,
            client_id,
            username,
            private_key_file,
            client_secret,
            settings,
        } => {
            let which = Crm::parse(&name)?;
            let private_key = private_key_file
                .map(|path| {
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read the private key {}", path.display()))
                })
                .transpose()?;
            let draft = ConnectionDraft {
                token: token.unwrap_or_default(),
                client_id,
                client_secret,
                base_url: settings.base_url,
                create_missing: Some(settings.create_missing),
                requests_per_10s: settings.requests_per_10s,
                stages: None,
                username,
                private_key,
            };
            let connection = crm::connect(&app.deps, tenant, which, &draft).await?;
            for step in &connection.setup {
                eprintln!("  {step}");
            }
            eprintln!("pushing every lead's score to {which} ...");
            drain(app).await?;
            status(app, tenant, false).await
        }
        CrmCommand::Authorize {
            crm: name,
            client_id,
            client_secret,
            settings,
        } => {
            let which = Crm::parse(&name)?;
            let draft = AuthorizeDraft {
                client_id,
                client_secret,
                base_url: settings.base_url,
                create_missing: Some(settings.create_missing),
                requests_per_10s: settings.requests_per_10s,
                stages: None,
            };
            let started = authorize::authorize(&app.deps, tenant, which, &draft).await?;
            eprintln!(
                "open this address in a browser signed in to {} and allow leadscore (within {} \
                 minutes); {} brings you back to {}, which `leadscore serve` answers and connects:",
                which.name(),
                authorize::LIFETIME.num_minutes(),
                which.name(),
                started.redirect_uri
            );
            emit(&format!("{}\n", started.authorize_url))
        }
        CrmCommand::Status { json } => status(app, tenant, json).await,
        CrmCommand::Sync { crm: name } => {
            let which = Crm::parse(&name)?;
            crm::request_sync(&app.deps, tenant, which).await?;
            eprintln!("pushing every lead's score to {which} ...");
            drain(app).await?;
            status(app, tenant, false).await
        }
        CrmCommand::Disconnect { crm: name } => {
            let which = Crm::parse(&name)?;
            if !crm::disconnect(&app.deps, tenant, which).await? {
                anyhow::bail!("tenant {tenant} is not connected to {which}");
            }
            emit(&format!(
                "disconnected from {which}; its token is deleted, and its records keep the scores \
                 pushed so far\n"
            ))
        }
    }
}

async fn status(app: &LocalApp, tenant: &TenantId, json: bool) -> Result<()> {
    let connections = app.deps.crm.list_connections(tenant).await?;
    if json {
        return emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({ "integrations": connections }))?
        ));
    }
    if connections.is_empty() {
        return emit("no CRM connected: `leadscore crm connect hubspot --token ...`\n");
    }
    emit(&connections.iter().map(line).collect::<String>())
}

fn line(c: &Connection) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M").to_string()
        })
    };
    let mut out = format!(
        "{}: {} at {}; last push {}; {} pushed, {} created, {} unmatched, {} failed, {} received\n",
        c.crm,
        match c.state {
            shared::domain::ConnectionState::Connected => "connected",
            shared::domain::ConnectionState::Failing => "FAILING",
        },
        c.base_url,
        when(c.last_push_at),
        c.counts.pushed,
        c.counts.created,
        c.counts.unmatched,
        c.counts.failed,
        c.counts.received,
    );
    if let Some(e) = &c.last_error {
        out.push_str(&format!("  last error: {e}\n"));
    }
    out
}
