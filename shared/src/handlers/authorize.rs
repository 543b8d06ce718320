//! Connecting a CRM on its own consent screen: OAuth 2.0's authorization-code grant (RFC 6749
//! §4.1). An admin asks for the screen's address ([`authorize`]), signs in to the CRM there
//! and allows leadscore; the CRM sends the browser back to [`CALLBACK_PATH`] with a code and
//! the state, and [`complete`] trades the code for a refresh token and connects as `PUT
//! /integrations/{crm}` does (the refresh token is kept in the secret store, and each job
//! makes its sessions from it: see `crm::oauth`).
//!
//! The state is `<tenant>.<crm>.<nonce>`: the browser comes back without an API key, so the
//! state says whose authorization it is. What was asked waits until then as the tenant's secret
//! `crm-<crm>-authorizing` (the nonce's digest, the app, the settings; ten minutes to live,
//! one at a time per CRM); the callback that matches it takes it, so a state or a code
//! replayed finds nothing, and a state that does not match leaves it for the real one.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tracing::{info, instrument, warn};

use crate::Deps;
use crate::crm::oauth;
use crate::domain::{AuthorizeDraft, Connection, Crm, TenantId, same_bytes, sha256_hex};
use crate::error::{Error, Result};
use crate::ports::SecretName;

/// Where the CRMs send the browser back (the redirect URI to register in each app:
/// `PUBLIC_URL` followed by this).
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// How long an admin has to allow leadscore on the consent screen.
pub const LIFETIME: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Where to send the admin.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Authorizing {
    /// The CRM's consent screen: open it in a browser signed in to the CRM.
    pub authorize_url: String,
    /// Where the CRM sends the browser back: register it in the app.
    pub redirect_uri: String,
    /// Until when the consent may be given.
    pub expires_at: DateTime<Utc>,
}

/// An authorization waiting for its callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    nonce_sha256: String,
    expires_at: DateTime<Utc>,
    client_id: String,
    client_secret: String,
    token_url: String,
    redirect_uri: String,
    settings: AuthorizeDraft,
}

fn pending_name(crm: Crm) -> SecretName {
    SecretName::parse(&format!("crm-{crm}-authorizing")).expect("a CRM's name is a secret name")
}

/// Start connecting `crm` on its consent screen with `draft`'s settings.
#[instrument(skip_all, fields(tenant = %tenant, crm = %crm))]
pub async fn authorize(
    deps: &Deps,
    tenant: &TenantId,
    crm: Crm,
    draft: &AuthorizeDraft,
) -> Result<Authorizing> {
    let (client_id, client_secret) = app(deps, crm, draft)?;
    let Some(public) = deps.config.public_url.as_deref() else {
        return Err(Error::validation(format!(
            "{} must be told where to send the browser back, and the API's public address is \
             not set (`serve --public-url`; the template's PublicUrl)",
            crm.name()
        )));
    };
    let redirect_uri = format!("{}{CALLBACK_PATH}", public.trim_end_matches('/'));
    let now = Utc::now();
    // The settings are checked now, not after the admin has been to the CRM and back.
    let (trial, _) = draft.connection(
        tenant,
        crm,
        None,
        deps.config.allow_private_webhook_targets,
        now,
        "checked-at-the-callback",
        (&client_id, &client_secret),
        "",
        None,
    )?;
    let endpoints = oauth::endpoints(crm, deps.config.oauth_url(crm), &trial.base_url);
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::internal("the system has no random numbers", e.to_string()))?;
    let nonce = hex::encode(nonce);
    let state = format!("{tenant}.{crm}.{nonce}");
    let expires_at = now + LIFETIME;
    let pending = Pending {
        nonce_sha256: sha256_hex(&nonce),
        expires_at,
        client_id: client_id.clone(),
        client_secret,
        token_url: endpoints.token,
        redirect_uri: redirect_uri.clone(),
        settings: AuthorizeDraft {
            client_id: None,
            client_secret: None,
            ..draft.clone()
        },
    };
    deps.secrets
        .put_secret(
            tenant,
            &pending_name(crm),
            &serde_json::to_string(&pending)?,
        )
        .await?;
    info!("consent screen address made");
    Ok(Authorizing {
        authorize_url: oauth::authorize_url(
            crm,
            &endpoints.authorize,
            &client_id,
            &redirect_uri,
            &state,
        ),
        redirect_uri,
        expires_at,
    })
}

/// The app the draft names, else the deployment's.
fn app(deps: &Deps, crm: Crm, draft: &AuthorizeDraft) -> Result<(String, String)> {
    let printable = |v: &str, most: usize| {
        !v.is_empty() && v.len() <= most && v.bytes().all(|b| b.is_ascii_graphic())
    };
    match (draft.client_id.as_deref(), draft.client_secret.as_deref()) {
        (Some(id), Some(secret)) => {
            let (id, secret) = (id.trim(), secret.trim());
            if !printable(id, 256) {
                return Err(Error::validation(
                    "client_id: 1 to 256 printable characters without spaces",
                ));
            }
            if !printable(secret, 512) {
                return Err(Error::validation(
                    "client_secret: 1 to 512 printable characters without spaces",
                ));
            }
            Ok((id.to_owned(), secret.to_owned()))
        }
        (None, None) => match deps.config.oauth_apps.get(&crm) {
            Some(app) => Ok((app.client_id.clone(), app.client_secret.clone())),
            None => {
                let prefix = crm.as_str().to_ascii_uppercase();
                Err(Error::validation(format!(
                    "client_id: this deployment has no {} app ({prefix}_CLIENT_ID and \
                     {prefix}_CLIENT_SECRET); give your app's client_id and client_secret, or \
                     connect with a token (PUT /integrations/{crm})",
                    crm.name()
                )))
            }
        },
        _ => Err(Error::validation(
            "client_id, client_secret: give both (your own app), or neither (the deployment's)",
        )),
    }
}

/// What every state that is not a waiting authorization's gets: the same answer, whether the
/// tenant, the CRM or the nonce is what does not match.
fn unknown_state() -> Error {
    Error::validation(
        "state: no authorization is waiting for it (each is used once, for ten minutes); \
         start again with POST /integrations/{crm}/authorize",
    )
}

/// Take the authorization `state` names, if it is one that waits: it is used once.
async fn take(deps: &Deps, state: &str) -> Result<(TenantId, Crm, Pending)> {
    let mut parts = state.splitn(3, '.');
    let (Some(tenant), Some(crm), Some(nonce)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unknown_state());
    };
    let (Ok(tenant), Ok(crm)) = (TenantId::parse(tenant), Crm::parse(crm)) else {
        return Err(unknown_state());
    };
    let Some(stored) = deps.secrets.get_secret(&tenant, &pending_name(crm)).await? else {
        return Err(unknown_state());
    };
    let pending: Pending = serde_json::from_str(&stored)
        .map_err(|e| Error::internal("a waiting authorization does not parse", e))?;
    if !same_bytes(
        sha256_hex(nonce).as_bytes(),
        pending.nonce_sha256.as_bytes(),
    ) {
        warn!(tenant = %tenant, crm = %crm, "an OAuth callback's state does not match the waiting authorization");
        return Err(unknown_state());
    }
    deps.secrets
        .delete_secret(&tenant, &pending_name(crm))
        .await?;
    if pending.expires_at < Utc::now() {
        return Err(Error::validation(format!(
            "state: this {} authorization expired at {}; start again with POST \
             /integrations/{crm}/authorize",
            crm.name(),
            pending
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok((tenant, crm, pending))
}

/// The CRM's callback with a code: trade it for tokens and connect.
#[instrument(skip_all)]
pub async fn complete(deps: &Deps, state: &str, code: &str) -> Result<Connection> {
    let (tenant, crm, pending) = take(deps, state).await?;
    if code.is_empty() || code.len() > 2048 {
        return Err(Error::validation("code: 1 to 2,048 characters"));
    }
    let client = oauth::Client::for_crm(crm, &pending.client_id, Some(&pending.client_secret));
    let tokens = oauth::exchange_code(
        deps.http.as_ref(),
        &pending.token_url,
        &client,
        code,
        &pending.redirect_uri,
    )
    .await
    .map_err(|e| {
        Error::validation(format!(
            "code: {} did not take it ({e}); start again",
            crm.name()
        ))
    })?;
    oauth::keep_session(&pending.token_url, &client, &tokens, Utc::now())
        .map_err(|e| Error::validation(format!("{}: {e}", crm.name())))?;
    let Some(refresh_token) = tokens.refresh_token.as_deref() else {
        return Err(Error::validation(format!(
            "{} gave no refresh token: the app must be allowed offline access (Salesforce: \
             the `refresh_token` scope)",
            crm.name()
        )));
    };
    // Pipedrive names the company's own API host with the tokens.
    let base_url = match &tokens.api_domain {
        Some(domain) => Some(
            oauth::api_host(&pending.token_url, domain)
                .map_err(|e| Error::validation(format!("api_domain: {e}")))?,
        ),
        None => None,
    };
    let previous = deps.crm.get_connection(&tenant, crm).await?;
    let (connection, credentials) = pending.settings.connection(
        &tenant,
        crm,
        previous.as_ref(),
        deps.config.allow_private_webhook_targets,
        Utc::now(),
        refresh_token,
        (&pending.client_id, &pending.client_secret),
        &pending.token_url,
        base_url.as_deref(),
    )?;
    let connected = super::crm::establish(deps, previous, connection, credentials).await?;
    info!(tenant = %tenant, crm = %crm, "CRM connected on its consent screen");
    Ok(connected)
}

/// The CRM's callback without a code (the admin said no, or the CRM refused the app): the
/// waiting authorization is dropped, and the error says what the CRM said.
pub async fn refused(deps: &Deps, state: &str, error: &str, description: &str) -> Error {
    match take(deps, state).await {
        Ok((_, crm, _)) => {
            let said: String = format!("{error} {description}")
                .trim()
                .chars()
                .take(300)
                .collect();
            Error::validation(format!(
                "{} did not authorize leadscore: {said}",
                crm.name()
            ))
        }
        Err(e) => e,
    }
}
