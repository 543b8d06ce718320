//! The API's texting routes: Twilio's webhooks (signed, in Twilio's wire format), tracked-link
//! redirects, and the tenant's own calls for consent, outbound messages, links and surveys.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::ApiError;
use super::extract::{ApiResult, Tenant, body, lead_id};
use crate::Deps;
use crate::domain::{ConsentDraft, LinkDraft, SmsEngagement, SmsEvent, TenantId, TrackedLink};
use crate::error::Error;
use crate::handlers::sms::{self, OutboundDraft, TwilioAccount};
use crate::sms::twilio::{self, Algorithm, Inbound, StatusCallback};

pub(super) fn routes() -> Router<Deps> {
    Router::new()
        .route("/settings/twilio", put(put_twilio_account))
        .route("/leads/{id}/messages", post(log_message))
        .route(
            "/leads/{id}/consent",
            get(consent_ledger).post(record_consent),
        )
        .route("/leads/{id}/links", post(create_link))
        .route("/leads/{id}/surveys", post(start_survey))
        // Called by Twilio and by leads' phones: no tenant credentials, checked otherwise.
        .route("/twilio/{tenant}/{hook}", post(twilio_webhook))
        .route("/r/{token}", get(follow_link))
}

/// `PUT /settings/twilio`: `{"auth_token": "...", "account_sid": "AC..."}`. The token is never
/// shown again.
async fn put_twilio_account(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let account: TwilioAccount = body(&headers, &bytes)?;
    account.save(&deps, &tenant).await?;
    Ok(Json(serde_json::json!({
        "account_sid": account.account_sid,
        "auth_token": "saved",
        "webhooks": {
            "incoming_message": format!("/twilio/{tenant}/sms"),
            "status_callback": format!("/twilio/{tenant}/status"),
        }
    })))
}

/// The URL Twilio requested, as it signed it: `PUBLIC_URL` and the path when configured, else
/// the scheme and host the request came with (API Gateway and proxies set
/// `X-Forwarded-Proto`).
fn requested_url(deps: &Deps, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Some(base) = &deps.config.public_url {
        return format!("{}{path}", base.trim_end_matches('/'));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let proto = header("x-forwarded-proto")
        .map(|p| p.split(',').next().unwrap_or(p).trim().to_owned())
        .or_else(|| uri.scheme_str().map(str::to_owned))
        .unwrap_or_else(|| "http".to_owned());
    let host = header("host")
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    format!("{proto}://{host}{path}")
}

/// Checked against when a tenant has no token, only so that its refusal costs what a bad
/// signature's does: such a tenant is refused whatever the signature.
const UNGUESSABLE_TOKEN: &str = "no tenant token: nothing verifies against this";

fn forbidden(why: impl Into<String>) -> ApiError {
    ApiError(Error::Forbidden(why.into()))
}

/// `POST /twilio/{tenant}/sms` (a message comes in) and `POST /twilio/{tenant}/status` (status
/// callback). A request whose `X-Twilio-Signature` does not verify against the tenant's auth
/// token is refused with 403 and stores nothing. The answer is TwiML.
async fn twilio_webhook(
    State(deps): State<Deps>,
    Path((tenant, hook)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let tenant = TenantId::parse(&tenant)
        .map_err(|_| ApiError(Error::not_found(format!("tenant `{tenant}`"))))?;
    if !matches!(hook.as_str(), "sms" | "status") {
        return Err(ApiError(Error::not_found(format!(
            "webhook `{hook}`: Twilio's hooks are /twilio/{tenant}/sms and /twilio/{tenant}/status"
        ))));
    }
    // Every refusal before the signature holds gets the same answer, so that the webhook does
    // not tell who uses Twilio (a tenant with no token is checked against a token nobody has,
    // at the same cost); the log says which it was.
    let account = TwilioAccount::load(&deps, &tenant).await?;
    let refused = |why: &str| {
        warn!(tenant = %tenant, why, "a Twilio webhook refused");
        forbidden(
            "X-Twilio-Signature does not verify for this request: only Twilio, signing with the \
             account's auth token saved for this tenant (PUT /settings/twilio), may call this",
        )
    };
    let token = account
        .as_ref()
        .map_or(UNGUESSABLE_TOKEN, |a| a.auth_token.as_str());
    let signature = headers
        .get(twilio::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let algorithm = Algorithm::from_settings(
        headers
            .get(twilio::SIGNATURE_SETTINGS_HEADER)
            .and_then(|v| v.to_str().ok()),
    )?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let url = requested_url(&deps, &headers, &uri);
    let form = if json {
        Vec::new()
    } else {
        twilio::parse_form(&bytes)
    };
    let signed = if json {
        twilio::Body::Json(&bytes)
    } else {
        twilio::Body::Form(&form)
    };
    let verified = twilio::verify(algorithm, token, &url, signed, signature);
    let Some(account) = account else {
        return Err(refused("the tenant has no Twilio auth token"));
    };
    if signature.is_empty() {
        return Err(refused("no X-Twilio-Signature"));
    }
    if !verified {
        return Err(refused("the signature does not verify"));
    }
    // Read only once the signature holds: a forged body is refused, not parsed.
    let params = if json {
        twilio::parse_json(&bytes)?
    } else {
        form
    };
    let from_account = params
        .iter()
        .find(|(k, _)| k == "AccountSid")
        .map(|(_, v)| v.as_str());
    if let Some(want) = &account.account_sid
        && from_account != Some(want.as_str())
    {
        return Err(forbidden(match from_account {
            Some(got) => format!("AccountSid {got} is not the tenant's Twilio account"),
            None => "AccountSid: missing; the tenant accepts webhooks from its own account only"
                .to_owned(),
        }));
    }
    let now = Utc::now();
    let reply = match hook.as_str() {
        "sms" => sms::receive(&deps, &tenant, Inbound::from_params(&params)?, now).await?,
        _ => {
            sms::delivery_status(&deps, &tenant, StatusCallback::from_params(&params)?, now)
                .await?;
            None
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        twilio::twiml(reply.as_deref()),
    )
        .into_response())
}

/// `GET /r/{token}`: a tracked link. Counts the click and redirects (302) to the link's target;
/// a token that is no link gets 404 and goes nowhere.
async fn follow_link(State(deps): State<Deps>, Path(token): Path<String>) -> ApiResult<Response> {
    match sms::click(&deps, &token, Utc::now()).await? {
        Some(url) => Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (header::REFERRER_POLICY, "no-referrer".to_owned()),
            ],
        )
            .into_response()),
        None => Err(ApiError(Error::not_found(format!("link `{token}`")))),
    }
}

/// `POST /leads/{id}/messages`: log a text the tenant sent another way (a CRM, a phone), so
/// that the lead's reply time can be measured.
async fn log_message(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let draft: OutboundDraft = body(&headers, &bytes)?;
    let recorded = sms::log_outbound(&deps, &tenant, &lead_id(&id)?, draft, Utc::now()).await?;
    Ok(created(recorded))
}

/// The consent ledger as an auditor reads it.
#[derive(Serialize)]
struct ConsentView {
    lead_id: String,
    phone_number: String,
    opted_in: bool,
    opted_out: bool,
    /// Every consent change, oldest first, with the message or request that made it.
    ledger: Vec<SmsEvent>,
}

/// `GET /leads/{id}/consent`.
async fn consent_ledger(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<ConsentView>> {
    let id = lead_id(&id)?;
    let lead = deps
        .leads
        .get_lead(&tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
    let events = deps.sms.sms_events(&tenant, &id).await?;
    let SmsEngagement {
        opted_in,
        opted_out,
        ..
    } = crate::sms::engagement(&events);
    Ok(Json(ConsentView {
        lead_id: id.to_string(),
        phone_number: lead.phone_number.to_string(),
        opted_in,
        opted_out,
        ledger: sms::consent_ledger(&events).into_iter().cloned().collect(),
    }))
}

/// `POST /leads/{id}/consent`: `{"action": "opt_in", "source": "web form /pricing", "at": ...}`.
/// An `Idempotency-Key` header makes a retried request count once.
async fn record_consent(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let draft: ConsentDraft = body(&headers, &bytes)?;
    let key = headers.get("idempotency-key").map(|v| {
        v.to_str()
            .map(str::to_owned)
            .unwrap_or_else(|_| "\u{0}".to_owned())
    });
    let recorded = sms::record_consent(
        &deps,
        &tenant,
        &lead_id(&id)?,
        &draft,
        key.as_deref(),
        Utc::now(),
    )
    .await?;
    Ok(created(recorded))
}

/// 201 with the event; a retry gets the first request's event again, marked
/// `Idempotent-Replayed: true` (as Stripe marks a replayed response).
fn created(recorded: sms::Recorded) -> Response {
    let mut response = (StatusCode::CREATED, Json(recorded.event)).into_response();
    if recorded.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
}

#[derive(Serialize)]
struct LinkView {
    #[serde(flatten)]
    link: TrackedLink,
    /// The short link to put in a text: `/r/<token>` on this API.
    short_path: String,
}

/// `POST /leads/{id}/links`: `{"url": "https://acme.test/pricing", "label": "pricing"}`.
async fn create_link(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<LinkView>)> {
    let draft: LinkDraft = body(&headers, &bytes)?;
    let link = sms::create_link(&deps, &tenant, &lead_id(&id)?, &draft, Utc::now()).await?;
    let short_path = format!("/r/{}", link.token);
    Ok((StatusCode::CREATED, Json(LinkView { link, short_path })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SurveyRequest {
    survey: String,
}

/// `POST /leads/{id}/surveys`: `{"survey": "fit"}` puts a survey to the lead and returns its
/// first question to text; the lead's replies answer it.
async fn start_survey(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let req: SurveyRequest = body(&headers, &bytes)?;
    let (run_id, question) =
        sms::start_survey(&deps, &tenant, &lead_id(&id)?, &req.survey, Utc::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"run_id": run_id, "first_question": question})),
    ))
}
