//! `/integrations`: the tenant's CRM connections (admins connect and disconnect; everyone may
//! see their state), a full sync on request, and the CRMs' own webhooks (`/hubspot/...`),
//! checked by their signatures instead of a key.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::ApiError;
use super::doc::Problems;
use super::extract::{AdminTenant, ApiResult, JsonBody, Tenant};
use super::sms::{header_parameter, requested_url};
use crate::Deps;
use crate::crm::hubspot;
use crate::domain::{Connection, ConnectionDraft, Crm, TenantId};
use crate::error::Error;
use crate::handlers::crm;
use crate::ports::Job;

pub(super) fn routes() -> ApiRouter<Deps> {
    ApiRouter::new()
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
                         owners and deals won or lost back as outcomes.",
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
}

#[derive(Serialize, JsonSchema)]
struct IntegrationList {
    integrations: Vec<Connection>,
    /// Every CRM this version syncs with.
    available: Vec<Crm>,
}

#[derive(Deserialize, JsonSchema)]
struct CrmPath {
    /// `hubspot`.
    crm: String,
}

#[derive(Deserialize, JsonSchema)]
struct TenantPath {
    /// The tenant the webhook is for.
    tenant: String,
}

async fn list(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<IntegrationList>> {
    Ok(Json(IntegrationList {
        integrations: deps.crm.list_connections(&tenant).await?,
        available: Crm::ALL.to_vec(),
    }))
}

async fn get_one(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(CrmPath { crm }): Path<CrmPath>,
) -> ApiResult<Json<Connection>> {
    Ok(Json(crm::get(&deps, &tenant, Crm::parse(&crm)?).await?))
}

async fn connect(
    State(deps): State<Deps>,
    AdminTenant(tenant): AdminTenant,
    Path(CrmPath { crm }): Path<CrmPath>,
    JsonBody(draft): JsonBody<ConnectionDraft>,
) -> ApiResult<Json<Connection>> {
    Ok(Json(
        crm::connect(&deps, &tenant, Crm::parse(&crm)?, &draft).await?,
    ))
}

async fn disconnect(
    State(deps): State<Deps>,
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
    State(deps): State<Deps>,
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
    State(deps): State<Deps>,
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
    // queue's worker, which reads each record from HubSpot.
    let queued = events.len();
    deps.queue
        .send(&Job::CrmEvents {
            tenant_id,
            crm: Crm::Hubspot,
            events,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })).into_response())
}

/// Events taken, to be worked through.
#[derive(Serialize, JsonSchema)]
struct Queued {
    /// How many events the request carried.
    queued: usize,
}
