//! `/integrations`: the tenant's CRM connections (admins connect and disconnect; everyone may
//! see their state), a full sync on request, and the CRMs' own webhooks (`/hubspot/...`,
//! checked by their signatures, and `/pipedrive/...`, by the basic credentials leadscore
//! subscribed them with) instead of a key.

use super::routing::{Build, Routes, get_with, post_with};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::ApiError;
use super::AppState;
use super::doc::Problems;
use super::extract::{AdminTenant, ApiResult, JsonBody, Tenant};
use super::sms::{header_parameter, requested_url};
use crate::crm::{hubspot, pipedrive};
use crate::domain::{AuthorizeDraft, Connection, ConnectionDraft, Crm, TenantId};
use crate::error::Error;
use crate::handlers::{authorize, crm};
use crate::ports::Job;

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/integrations",
            get_with(list, |op| {
                op.id("list_integrations")
                    .tag("integrations")
                    .summary("The tenant's CRM connections: state, last push, last error, counts")
                    .description("Never their credentials: a token is kept in the secret store \
                                  and shown to no one.")
            }),
        )
        .api_route(
            "/integrations/{crm}",
            get_with(get_one, |op| {
                op.id("get_integration")
                    .tag("integrations")
                    .summary("One CRM connection")
                    .problem::<404>("Not connected, or no such CRM")
            })
            .put_with(connect, |op| {
                op.id("connect_integration")
                    .tag("integrations")
                    .summary("Connect a CRM (or change its connection), and push every score to it")
                    .description(
                        "HubSpot: a private app's access token with the scopes \
                         `crm.objects.contacts.read`, `crm.objects.contacts.write` and \
                         `crm.schemas.contacts.write` (and `crm.objects.deals.read` for deals \
                         won and lost). Connecting checks the token by creating the contact \
                         property group `leadscore` and its properties (score, tier, \
                         probability, reasons, scored at, link), or finding them in place; then \
                         every lead's score is pushed. A score change is pushed within seconds \
                         to the contact with the lead's phone number (else e-mail address); \
                         `create_missing` creates contacts for leads HubSpot does not have. \
                         With `client_secret`, the app's webhooks (`POST \
                         /hubspot/{tenant}/events`) bring lifecycle stages, lead statuses, \
                         owners and deals won or lost back as outcomes.\n\n\
                         Pipedrive: an admin's API token. Connecting creates the person fields \
                         (`leadscore score`, `leadscore tier`, ...) or finds them, and keeps \
                         the codes Pipedrive gives them (`field_keys`); when the API's public \
                         address is set (`PUBLIC_URL`), it subscribes Pipedrive's webhooks \
                         (`POST /pipedrive/{tenant}/events`) for deals won, lost and reopened \
                         and persons' owners. Pipedrive has no batch update: a push is one \
                         request a lead, within the account's two-second limit.\n\n\
                         Salesforce: a refresh token of a connected app (scopes `api`, \
                         `refresh_token`) with `client_id` and `client_secret`; `base_url` is \
                         the login host (a sandbox's `https://test.salesforce.com`, or My \
                         Domain). Connecting trades it for a session, checks the six custom \
                         fields (`LeadScore__c`, `LeadTier__c`, `LeadProbability__c`, \
                         `LeadReasons__c`, `LeadScoredAt__c`, `LeadLink__c`) on Lead and \
                         Contact with `describe` (an administrator adds them; `setup` says which \
                         are missing and how) and reads the daily API limit (`api_usage` keeps \
                         it current). Writes go 200 records a call; new leads are made as \
                         Salesforce leads. What reps change (lead status, owner, source; \
                         opportunities won and lost with their amount) is polled hourly by the \
                         scheduled sweep, from `polled_until` on.\n\n\
                         The first connect imports the CRM's records (contacts, persons) with \
                         their outcomes before the first push, so a lead the CRM has is \
                         matched without a search.",
                    )
                    .problem::<400>("A field is invalid, or HubSpot refused the token (the detail says what it answered)")
                    .problem::<404>("No such CRM")
                    .problem::<503>("The CRM could not be reached; try again")
            })
            .delete_with(disconnect, |op| {
                op.id("disconnect_integration")
                    .tag("integrations")
                    .summary("Disconnect a CRM: its credentials are deleted; its records keep what was pushed")
                    .response_with::<204, (), _>(|r| r.description("Disconnected"))
                    .problem::<404>("Not connected, or no such CRM")
            }),
        )
        .api_route(
            "/integrations/{crm}/authorize",
            post_with(authorize, |op| {
                op.id("authorize_integration")
                    .tag("integrations")
                    .summary("Connect a CRM on its own consent screen (OAuth 2.0 authorization code)")
                    .description(&format!(
                        "Answers the CRM's consent screen for an admin to open in a browser \
                         signed in to the CRM: HubSpot's (a public app: scopes `{}`), \
                         Pipedrive's (an app from its Marketplace Manager) or Salesforce's (a \
                         connected app on the login host, `base_url`: scopes `{}`). Allowing \
                         leadscore there sends the browser back to `GET {}` (the redirect URI \
                         to register in the app: the API's public address followed by that \
                         path), which connects as `PUT /integrations/{{crm}}` does, with a \
                         refresh token kept in the secret store and access tokens made from it \
                         before they expire. The app is the deployment's (`HUBSPOT_CLIENT_ID` \
                         and `HUBSPOT_CLIENT_SECRET`, likewise `PIPEDRIVE_` and `SALESFORCE_`) \
                         unless `client_id` and `client_secret` name your own. The address is \
                         good for {} minutes and once; asking again replaces it.",
                        crate::crm::oauth::HUBSPOT_SCOPES,
                        crate::crm::oauth::SALESFORCE_SCOPES,
                        authorize::CALLBACK_PATH,
                        authorize::LIFETIME.num_minutes()
                    ))
                    .problem::<400>("A setting is invalid, no app is known, or the API's public address is not set")
                    .problem::<404>("No such CRM")
            }),
        )
        .api_route(
            authorize::CALLBACK_PATH,
            get_with(callback, |op| {
                op.id("oauth_callback")
                    .tag("integrations")
                    .summary("Where a CRM's consent screen sends the browser back (no API key)")
                    .description(
                        "Called by the admin's browser, sent by the CRM with `code` and `state` \
                         (or `error`). The state names the authorization `POST \
                         /integrations/{crm}/authorize` started; each is taken once, within \
                         ten minutes. The code is traded for tokens and the CRM connected; the \
                         answer is a page saying so.",
                    )
                    .response_with::<200, axum::response::Html<String>, _>(|r| {
                        r.description("Connected: a page saying so")
                    })
                    .problem::<400>("The state is unknown, used or expired, the CRM refused, or its code did not trade")
                    .problem::<503>("The CRM could not be reached; start again")
            }),
        )
        .api_route(
            "/integrations/{crm}/sync",
            post_with(sync, |op| {
                op.id("sync_integration")
                    .tag("integrations")
                    .summary("Push every lead's score again (those the CRM shows already are skipped)")
                    .response_with::<202, Json<Connection>, _>(|r| r.description("Queued"))
                    .problem::<404>("Not connected, or no such CRM")
            }),
        )
        .api_route(
            "/hubspot/{tenant}/events",
            post_with(hubspot_events, |op| {
                op.id("hubspot_webhook")
                    .tag("integrations")
                    .summary("HubSpot's webhooks: contact and deal changes")
                    .description(&format!(
                        "Point the HubSpot app's webhook target here and subscribe it to \
                         `contact.propertyChange` (lifecyclestage, hs_lead_status, \
                         hubspot_owner_id, hs_analytics_source) and `deal.propertyChange` \
                         (dealstage). Each request must carry a valid `X-HubSpot-Signature-v3` \
                         (the app's client secret, given when connecting) and an \
                         `X-HubSpot-Request-Timestamp` within five minutes; anything else is \
                         refused with 403 and read no further. At most {} events a request. \
                         A won or lost stage (the connection's `stages`) becomes the lead's \
                         outcome, with a deal's amount; owner and source become `crm.owner` \
                         and `crm.source` for the rules; the lead is scored again.",
                        hubspot::MAX_WEBHOOK_EVENTS
                    ))
                    .response_with::<202, Json<Queued>, _>(|r| r.description("Taken: the events are worked through in the background"))
                    .problem::<400>("The body is not a list of HubSpot events")
                    .problem::<403>("The signature does not verify, or is too old")
                    .with(|op| header_parameter(op, "X-HubSpot-Signature-v3", true, "HubSpot's signature of the request, with the app's client secret"))
                    .with(|op| header_parameter(op, "X-HubSpot-Request-Timestamp", true, "When HubSpot sent it, in milliseconds since the epoch"))
            }),
        )
        .api_route(
            "/pipedrive/{tenant}/events",
            post_with(pipedrive_events, |op| {
                op.id("pipedrive_webhook")
                    .tag("integrations")
                    .summary("Pipedrive's webhooks: deal and person changes")
                    .description(
                        "Subscribed by leadscore when Pipedrive is connected and the API's \
                         public address is set (`PUBLIC_URL`): webhooks version 2.0 for every \
                         deal event and for person changes, with HTTP basic credentials made \
                         afresh at each connect. A request without those credentials is \
                         refused with 401 and read no further. Each notification names a \
                         deal or a person, read back from Pipedrive in the background: a \
                         deal's status `won` or `lost` (the connection's `stages`) becomes its \
                         person's lead's outcome, with the deal's value; a reopened deal \
                         undecides it; a person's owner becomes `crm.owner`.",
                    )
                    .response_with::<200, Json<Queued>, _>(|r| r.description("Taken: the change is worked through in the background"))
                    .problem::<400>("The body is not a Pipedrive webhook notification")
                    .problem::<401>("The basic credentials are not the ones the webhook was subscribed with")
            }),
        )
}

#[derive(Serialize, JsonSchema)]
struct IntegrationList {
    integrations: Vec<Connection>,
    /// Every CRM this version syncs with.
    available: Vec<Crm>,
}

#[derive(Deserialize, JsonSchema)]
struct CrmPath {
    /// `hubspot`, `pipedrive` or `salesforce`.
    crm: String,
}

#[derive(Deserialize, JsonSchema)]
struct TenantPath {
    /// The tenant the webhook is for.
    tenant: String,
}

async fn list(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<IntegrationList>> {
    Ok(Json(IntegrationList {
        integrations: deps.crm.list_connections(&tenant).await?,
        available: Crm::ALL.to_vec(),
    }))
}

async fn get_one(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(CrmPath { crm }): Path<CrmPath>,
) -> ApiResult<Json<Connection>> {
    Ok(Json(crm::get(&deps, &tenant, Crm::parse(&crm)?).await?))
}

async fn connect(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(CrmPath { crm }): Path<CrmPath>,
    JsonBody(draft): JsonBody<ConnectionDraft>,
) -> ApiResult<Json<Connection>> {
    Ok(Json(
        crm::connect(&deps, &tenant, Crm::parse(&crm)?, &draft).await?,
    ))
}

async fn authorize(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(CrmPath { crm }): Path<CrmPath>,
    JsonBody(draft): JsonBody<AuthorizeDraft>,
) -> ApiResult<Json<authorize::Authorizing>> {
    Ok(Json(
        authorize::authorize(&deps, &tenant, Crm::parse(&crm)?, &draft).await?,
    ))
}

/// What a CRM's consent screen sends back (RFC 6749 §4.1.2): a code and the state, or an
/// error and the state.
#[derive(Deserialize, JsonSchema)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

async fn callback(
    State(deps): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<CallbackQuery>,
) -> ApiResult<axum::response::Html<String>> {
    let connection = match (&query.code, &query.error) {
        (Some(code), None) => authorize::complete(&deps, &query.state, code).await?,
        (_, error) => {
            return Err(ApiError(
                authorize::refused(
                    &deps,
                    &query.state,
                    error.as_deref().unwrap_or("no code"),
                    query.error_description.as_deref().unwrap_or_default(),
                )
                .await,
            ));
        }
    };
    let setup: String = connection
        .setup
        .iter()
        .map(|line| format!("<li>{}</li>", html_escape(line)))
        .collect();
    Ok(axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{crm} connected \
         - leadscore</title></head><body><main><h1>{crm} is connected</h1><p>Tenant \
         <code>{tenant}</code>: every lead's score is on its way to {crm}, and what {crm} \
         learns comes back.</p><ul>{setup}</ul><p>You can close this page.</p></main></body></html>",
        crm = connection.crm.name(),
        tenant = html_escape(connection.tenant_id.as_str()),
    )))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn disconnect(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(CrmPath { crm }): Path<CrmPath>,
) -> ApiResult<StatusCode> {
    let crm = Crm::parse(&crm)?;
    if crm::disconnect(&deps, &tenant, crm).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::not_found(format!("a connection to {crm}")).into())
    }
}

async fn sync(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(CrmPath { crm }): Path<CrmPath>,
) -> ApiResult<Response> {
    let connection = crm::request_sync(&deps, &tenant, Crm::parse(&crm)?).await?;
    Ok((StatusCode::ACCEPTED, Json(connection)).into_response())
}

/// Checked against when a tenant has no HubSpot client secret, so that its refusal costs what
/// a bad signature's does.
const UNGUESSABLE_SECRET: &str = "no client secret: nothing verifies against this";

/// `POST /hubspot/{tenant}/events`: the signature first, then the body.
async fn hubspot_events(
    State(deps): State<AppState>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let refused = |why: &str| {
        warn!(tenant = %tenant, why, "a HubSpot webhook refused");
        ApiError(Error::Forbidden(
            "X-HubSpot-Signature-v3 does not verify for this request: only HubSpot, signing \
             with the app's client secret given when connecting (PUT /integrations/hubspot), \
             within five minutes, may call this"
                .to_owned(),
        ))
    };
    let Ok(tenant_id) = TenantId::parse(&tenant) else {
        return Err(refused("no such tenant"));
    };
    // Every refusal before the signature holds gets the same answer and the same work.
    let secret = crm::webhook_secret(&deps, &tenant_id, Crm::Hubspot).await?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let url = requested_url(&deps, &headers, &uri);
    let verdict = hubspot::verify_signature(
        secret.as_deref().unwrap_or(UNGUESSABLE_SECRET),
        "POST",
        &url,
        &bytes,
        &header("x-hubspot-request-timestamp"),
        &header("x-hubspot-signature-v3"),
        Utc::now().timestamp_millis(),
    );
    if secret.is_none() {
        return Err(refused("the tenant has no HubSpot client secret"));
    }
    if let Err(why) = verdict {
        return Err(refused(why));
    }
    let events: Vec<hubspot::WebhookEvent> = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError(Error::validation(format!(
            "body: not a list of HubSpot webhook events ({e})"
        )))
    })?;
    if events.len() > hubspot::MAX_WEBHOOK_EVENTS {
        return Err(ApiError(Error::validation(format!(
            "body: {} events; HubSpot sends at most {}",
            events.len(),
            hubspot::MAX_WEBHOOK_EVENTS
        ))));
    }
    // Answered at once (HubSpot waits five seconds); the events are worked through by the
    // queue's worker, which reads each record from HubSpot. Events about other objects are
    // not read.
    let changes: Vec<_> = events
        .iter()
        .filter_map(hubspot::WebhookEvent::change)
        .collect();
    let queued = changes.len();
    if !changes.is_empty() {
        deps.queue
            .send(&Job::CrmEvents {
                tenant_id,
                crm: Crm::Hubspot,
                events: changes,
            })
            .await?;
    }
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })).into_response())
}

/// `POST /pipedrive/{tenant}/events`: the basic credentials first, then the body.
async fn pipedrive_events(
    State(deps): State<AppState>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let refused = |why: &str| {
        warn!(tenant = %tenant, why, "a Pipedrive webhook refused");
        let mut response = ApiError(Error::Unauthorized(
            "the basic credentials do not match the ones leadscore subscribed this webhook \
             with (PUT /integrations/pipedrive makes them)"
                .to_owned(),
        ))
        .into_response();
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"leadscore\""),
        );
        response
    };
    let Ok(tenant_id) = TenantId::parse(&tenant) else {
        return Ok(refused("no such tenant"));
    };
    // Every refusal before the credentials hold gets the same answer and the same work.
    let secret = crm::webhook_secret(&deps, &tenant_id, Crm::Pipedrive).await?;
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .unwrap_or_default();
    let expected = format!(
        "{}:{}",
        crm::HOOK_USER,
        secret.as_deref().unwrap_or(UNGUESSABLE_SECRET)
    );
    let matches = same_secret(&given, expected.as_bytes());
    if secret.is_none() {
        return Ok(refused("the tenant has no Pipedrive webhooks"));
    }
    if !matches {
        return Ok(refused("the basic credentials do not match"));
    }
    let body: pipedrive::WebhookBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError(Error::validation(format!(
            "body: not a Pipedrive webhook notification, version 2.0 ({e})"
        )))
    })?;
    // Answered at once; the person or deal is read back from Pipedrive by the queue's worker.
    let changes: Vec<_> = body.change().into_iter().collect();
    let queued = changes.len();
    if !changes.is_empty() {
        deps.queue
            .send(&Job::CrmEvents {
                tenant_id,
                crm: Crm::Pipedrive,
                events: changes,
            })
            .await?;
    }
    Ok((StatusCode::OK, Json(Queued { queued })).into_response())
}

/// Whether two secrets are the same, in a time that does not say where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use sha2::Digest;
    // Digests first: equal lengths, so not even the length is told.
    crate::domain::same_bytes(
        &sha2::Sha256::digest(given),
        &sha2::Sha256::digest(expected),
    )
}

/// Events taken, to be worked through.
#[derive(Serialize, JsonSchema)]
struct Queued {
    /// How many events the request carried.
    queued: usize,
}
