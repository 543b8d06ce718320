//! The API's texting routes: Twilio's webhooks (signed, in Twilio's wire format), tracked-link
//! redirects, and the tenant's own calls for consent, outbound messages, links and surveys.

use super::routing::{Build, Routes, get_with, post_with, put_with};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::ApiError;
use super::AppState;
use super::doc::{Created, Problems};
use super::extract::{AdminTenant, ApiResult, JsonBody, LeadPath, RepTenant, Tenant, lead_id};
use crate::Deps;
use crate::domain::{
    ConsentDraft, LinkDraft, OutgoingText, SmsEngagement, SmsEvent, TenantId, TextState,
    TrackedLink,
};
use crate::error::Error;
use crate::handlers::sms::{self, OutboundDraft, TwilioAccount};
use crate::handlers::texts::{self, TextDraft};
use crate::handlers::voice;
use crate::sms::twilio::{self, Algorithm, Inbound, StatusCallback};
use crate::voice::RecordingCallback;

pub(super) fn routes<B: Build>() -> Routes<B> {
    let no_lead = "No lead with that id in the tenant";
    Routes::new()
        .api_route(
            "/settings/twilio",
            put_with(put_twilio_account, |op| {
                op.id("put_twilio_account")
                    .tag("texts")
                    .summary("Connect the tenant's Twilio account")
                    .description(
                        "The auth token verifies Twilio's webhooks; it is stored as a secret \
                         and never shown again. The answer names the webhook paths to set in \
                         Twilio's console.",
                    )
            }),
        )
        .api_route(
            "/leads/{id}/messages",
            post_with(log_message, move |op| {
                op.id("log_message")
                    .tag("texts")
                    .summary("Log a text the tenant sent another way")
                    .description(
                        "From a CRM or a phone, so that the lead's reply time counts. Logging the \
                         same `id` twice logs it once.",
                    )
                    .problem::<404>(no_lead)
                    .problem::<422>("The `id` was logged before with another message")
            }),
        )
        .api_route(
            "/leads/{id}/texts",
            post_with(send_text, move |op| {
                op.id("send_text")
                    .tag("texts")
                    .summary("Send a text to a lead through the tenant's Twilio account")
                    .description(
                        "Held first to the law and the tenant's rules (`settings.texting`): \
                         never to a lead who opted out, only to one who opted in when the \
                         tenant requires consent, and only inside the hours of the lead's own \
                         day the tenant allows (8:00 to 21:00 by default; the lead's time zone \
                         is its area code's). A refused text is not sent, and the problem's \
                         type names the rule; a text asked for in quiet hours is queued for \
                         the next allowed minute instead (202) when \
                         `settings.texting.in_quiet_hours` is `queue`, and the rules are asked \
                         again then. A sent text (201) is logged under Twilio's message SID; \
                         its status callbacks update it. An `Idempotency-Key` header makes a \
                         retried request send once; the retry gets the text as it stands, \
                         marked `Idempotent-Replayed: true`.",
                    )
                    .response_with::<202, Json<OutgoingText>, _>(|r| {
                        r.description("Queued for the next allowed minute (`send_at`)")
                    })
                    .response_with::<200, Json<OutgoingText>, _>(|r| {
                        r.description(
                            "A retry of a text that did not go: `cancelled`, with the rule that stopped it in `problem`",
                        )
                    })
                    .problem::<400>("No Twilio number or account to send with, a bad body, or Twilio refused the text")
                    .problem::<403>("Twilio refused the account's credentials (PUT /settings/twilio)")
                    .problem::<404>(no_lead)
                    .problem::<409>(
                        "Refused: `opted-out`, `no-consent` or `quiet-hours` (the detail \
                         names the next allowed minute); or the same request is being sent",
                    )
                    .problem::<422>("The idempotency key was used with another text")
                    .problem::<503>("Twilio did not answer, or asked to slow down")
                    .with(|op| header_parameter(op, "Idempotency-Key", false, "Makes a retried request send once: any unique string per text"))
            })
            .get_with(list_texts, move |op| {
                op.id("list_texts")
                    .tag("texts")
                    .summary("The texts sent or queued to a lead, newest first")
                    .description(
                        "At most the newest 100: texts the API sent or queued, and the tenant's \
                         follow-ups (`origin`), each with where it stands and, when it did not \
                         go, why (`problem`).",
                    )
                    .problem::<404>(no_lead)
            }),
        )
        .api_route(
            "/leads/{id}/texts/{text_id}",
            get_with(get_text, move |op| {
                op.id("get_text")
                    .tag("texts")
                    .summary("A text sent or queued to a lead, as it stands")
                    .problem::<404>("No such lead, or no such text of the lead")
            }),
        )
        .api_route(
            "/leads/{id}/consent",
            get_with(consent_ledger, move |op| {
                op.id("consent_ledger")
                    .tag("texts")
                    .summary("A lead's consent ledger, as an auditor reads it")
                    .problem::<404>(no_lead)
            })
            .post_with(record_consent, move |op| {
                op.id("record_consent")
                    .tag("texts")
                    .summary("Record an opt-in or opt-out")
                    .description(
                        "An `Idempotency-Key` header makes a retried request count once; the \
                         retry gets the first answer again, marked `Idempotent-Replayed: true`.",
                    )
                    .problem::<404>(no_lead)
                    .problem::<422>("The idempotency key was used with another request")
                    .with(|op| header_parameter(op, "Idempotency-Key", false, "Makes a retried request count once: any unique string per request"))
            }),
        )
        .api_route(
            "/leads/{id}/links",
            post_with(create_link, move |op| {
                op.id("create_link")
                    .tag("texts")
                    .summary("A tracked short link for a text to the lead")
                    .description("A click on it counts as engagement and redirects to the URL.")
                    .problem::<404>(no_lead)
            }),
        )
        .api_route(
            "/leads/{id}/surveys",
            post_with(start_survey, move |op| {
                op.id("start_survey")
                    .tag("texts")
                    .summary("Put one of the tenant's surveys to the lead")
                    .description(
                        "When the tenant sends texts (`settings.texting.from` and a Twilio \
                         account), the first question is sent to the lead as any text is \
                         (`text`); else it is answered for the tenant to send. The lead's \
                         replies answer it.",
                    )
                    .problem::<403>("Twilio refused the account's credentials (PUT /settings/twilio)")
                    .problem::<404>("No such lead, or no such survey in the settings")
                    .problem::<409>(
                        "A survey is already running for the lead, or the rules forbid texting \
                         the lead now (`opted-out`, `no-consent`, `quiet-hours`)",
                    )
                    .problem::<503>("Twilio did not answer, or asked to slow down")
            }),
        )
        // Called by Twilio and by leads' phones: no tenant credentials, checked otherwise.
        .api_route(
            "/twilio/{tenant}/{hook}",
            post_with(twilio_webhook, |op| {
                op.id("twilio_webhook")
                    .tag("texts")
                    .summary("Twilio's webhooks: incoming messages (`sms`), their status callbacks (`status`), call recordings (`recording`)")
                    .description(
                        "Twilio calls these, signing each request with the account's auth token \
                         (`X-Twilio-Signature`); a request that does not verify is refused and \
                         stores nothing. The body is Twilio's form (or JSON); the answer is TwiML.",
                    )
                    .response_with::<200, Twiml, _>(|r| r.description("TwiML: the reply to text back, if any"))
                    .problem::<403>("X-Twilio-Signature does not verify for this request")
                    .with(|op| {
                        header_parameter(op, "X-Twilio-Signature", true, "Twilio's signature of the URL and the parameters, with the account's auth token")
                    })
                    .with(twilio_form)
                    .problem::<404>("No such tenant or hook")
            }),
        )
        .api_route(
            "/r/{token}",
            get_with(follow_link, |op| {
                op.id("follow_link")
                    .tag("texts")
                    .summary("A tracked link: counts the click and redirects")
                    .response_with::<302, Redirect, _>(|r| r.description("To the link's target"))
                    .problem::<404>("No such link")
            }),
        )
}

/// What `PUT /settings/twilio` stored, and where Twilio should call.
#[derive(Serialize, JsonSchema)]
struct TwilioSaved {
    account_sid: Option<String>,
    /// Always `saved`: the token is never shown again.
    auth_token: &'static str,
    webhooks: TwilioWebhooks,
}

/// The webhook paths to set in Twilio's console, under this API's base URL.
#[derive(Serialize, JsonSchema)]
struct TwilioWebhooks {
    incoming_message: String,
    status_callback: String,
    /// A Voice number's (or a `<Dial>`'s, `<Start><Recording>`'s) `recordingStatusCallback`:
    /// each completed recording is fetched and scored as a call.
    recording_status_callback: String,
}

/// `PUT /settings/twilio`: `{"auth_token": "...", "account_sid": "AC..."}`. The token is never
/// shown again.
async fn put_twilio_account(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(account): JsonBody<TwilioAccount>,
) -> ApiResult<Json<TwilioSaved>> {
    account.save(&deps, &tenant).await?;
    Ok(Json(TwilioSaved {
        account_sid: account.account_sid.clone(),
        auth_token: "saved",
        webhooks: TwilioWebhooks {
            incoming_message: format!("/twilio/{tenant}/sms"),
            status_callback: format!("/twilio/{tenant}/status"),
            recording_status_callback: format!("/twilio/{tenant}/recording"),
        },
    }))
}

/// `{tenant}` and `{hook}` of Twilio's webhooks.
#[derive(Deserialize, JsonSchema)]
struct TwilioHookPath {
    /// The tenant whose Twilio account calls.
    tenant: String,
    /// `sms` (a message comes in), `status` (a message's status callback) or `recording` (a
    /// call recording's status callback).
    #[schemars(extend("enum" = ["sms", "status", "recording"]))]
    hook: String,
}

/// `{token}` of a tracked link.
#[derive(Deserialize, JsonSchema)]
struct LinkPath {
    token: String,
}

/// The parameters Twilio posts to the webhooks this API reads (Twilio sends more; they are
/// signed and ignored).
#[derive(JsonSchema)]
#[allow(dead_code)] // A shape for the document; `twilio::parse_form` reads the body.
#[schemars(rename_all = "PascalCase")]
#[schemars(example = serde_json::json!({
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "From": "+14155550134",
    "To": "+14155550100",
    "Body": "Yes, call me tomorrow at 10"
}))]
struct TwilioParams {
    account_sid: Option<String>,
    message_sid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// The message's text (incoming messages).
    body: Option<String>,
    /// `queued`, `sent`, `delivered`, `undelivered`, `failed` (status callbacks).
    message_status: Option<String>,
    error_code: Option<String>,
}

/// The webhooks' body: Twilio's form (or the same as JSON).
fn twilio_form(
    mut op: aide::transform::TransformOperation<'_>,
) -> aide::transform::TransformOperation<'_> {
    let schema = aide::generate::in_context(|ctx| ctx.schema.subschema_for::<TwilioParams>());
    op.inner_mut().request_body = Some(aide::openapi::ReferenceOr::Item(
        aide::openapi::RequestBody {
            description: Some("Twilio's parameters, as it signed them".into()),
            content: indexmap::IndexMap::from_iter([
                (
                    "application/x-www-form-urlencoded".into(),
                    super::doc::media(schema.clone()),
                ),
                ("application/json".into(), super::doc::media(schema)),
            ]),
            required: true,
            extensions: Default::default(),
        },
    ));
    op
}

/// A request header an operation reads, in the document.
pub(super) fn header_parameter<'t>(
    mut op: aide::transform::TransformOperation<'t>,
    name: &str,
    required: bool,
    description: &str,
) -> aide::transform::TransformOperation<'t> {
    op.inner_mut().parameters.push(aide::openapi::ReferenceOr::Item(
        aide::openapi::Parameter::Header {
            parameter_data: aide::openapi::ParameterData {
                name: name.into(),
                description: Some(description.into()),
                required,
                deprecated: None,
                format: aide::openapi::ParameterSchemaOrContent::Schema(
                    aide::openapi::SchemaObject {
                        json_schema: schemars::json_schema!({"type": "string", "maxLength": 255}),
                        example: None,
                        external_docs: None,
                    },
                ),
                example: None,
                examples: Default::default(),
                explode: None,
                extensions: Default::default(),
            },
            style: Default::default(),
        },
    ));
    op
}

/// TwiML, in the document.
struct Twiml;

impl aide::OperationOutput for Twiml {
    type Inner = String;
    fn operation_response(
        _: &mut aide::generate::GenContext,
        _: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        Some(aide::openapi::Response {
            content: indexmap::IndexMap::from_iter([(
                "text/xml".into(),
                aide::openapi::MediaType {
                    schema: Some(aide::openapi::SchemaObject {
                        json_schema: schemars::json_schema!({"type": "string"}),
                        example: Some(
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".into(),
                        ),
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        })
    }
}

/// A redirect, in the document.
struct Redirect;

impl aide::OperationOutput for Redirect {
    type Inner = ();
    fn operation_response(
        _: &mut aide::generate::GenContext,
        _: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        Some(aide::openapi::Response::default())
    }
}

/// The URL Twilio requested, as it signed it: `PUBLIC_URL` and the path when configured, else
/// the scheme and host the request came with (API Gateway and proxies set
/// `X-Forwarded-Proto`).
pub(super) fn requested_url(deps: &Deps, headers: &HeaderMap, uri: &Uri) -> String {
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
    State(deps): State<AppState>,
    Path(TwilioHookPath { tenant, hook }): Path<TwilioHookPath>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let tenant = TenantId::parse(&tenant)
        .map_err(|_| ApiError(Error::not_found(format!("tenant `{tenant}`"))))?;
    if !matches!(hook.as_str(), "sms" | "status" | "recording") {
        return Err(ApiError(Error::not_found(format!(
            "webhook `{hook}`: Twilio's hooks are /twilio/{tenant}/sms, /twilio/{tenant}/status \
             and /twilio/{tenant}/recording"
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
        "recording" => {
            voice::recording_status(&deps, &tenant, RecordingCallback::from_params(&params)?)
                .await?;
            None
        }
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
async fn follow_link(
    State(deps): State<AppState>,
    Path(LinkPath { token }): Path<LinkPath>,
) -> ApiResult<Response> {
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
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    JsonBody(draft): JsonBody<OutboundDraft>,
) -> ApiResult<Recorded> {
    let recorded = sms::log_outbound(&deps, &tenant, &lead_id(&id)?, draft, Utc::now()).await?;
    Ok(Recorded(recorded))
}

/// `POST /leads/{id}/texts`: send a text, if the rules allow it now (or queue it).
async fn send_text(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    headers: HeaderMap,
    JsonBody(draft): JsonBody<TextDraft>,
) -> ApiResult<TextAnswer> {
    let key = idempotency_key(&headers);
    let outcome = texts::send_text(
        &deps,
        &tenant,
        &lead_id(&id)?,
        draft,
        key.as_deref(),
        Utc::now(),
    )
    .await?;
    Ok(TextAnswer(outcome))
}

#[derive(Deserialize, JsonSchema)]
struct TextPath {
    /// The lead's id.
    id: String,
    /// The text's id (`txt_...`), as sending it answered.
    text_id: String,
}

/// `GET /leads/{id}/texts`.
async fn list_texts(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(LeadPath { id }): Path<LeadPath>,
) -> ApiResult<Json<TextList>> {
    let texts = texts::list_texts(&deps, &tenant, &lead_id(&id)?).await?;
    Ok(Json(TextList { texts }))
}

/// A lead's texts, newest first.
#[derive(Serialize, JsonSchema)]
struct TextList {
    texts: Vec<OutgoingText>,
}

/// `GET /leads/{id}/texts/{text_id}`.
async fn get_text(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(TextPath { id, text_id }): Path<TextPath>,
) -> ApiResult<Json<OutgoingText>> {
    Ok(Json(
        texts::get_text(&deps, &tenant, &lead_id(&id)?, &text_id).await?,
    ))
}

/// A text sent (201) or queued (202), with where to read it again; a retry's answer is marked
/// `Idempotent-Replayed: true`.
struct TextAnswer(texts::Outcome);

impl IntoResponse for TextAnswer {
    fn into_response(self) -> Response {
        let texts::Outcome { text, replayed } = self.0;
        // `Failed` and `Sending` answer as errors, never here.
        let status = match text.state {
            TextState::Sent => StatusCode::CREATED,
            TextState::Queued => StatusCode::ACCEPTED,
            TextState::Cancelled | TextState::Failed | TextState::Sending => StatusCode::OK,
        };
        let location = format!("/leads/{}/texts/{}", text.lead_id, text.text_id);
        let mut response = (status, Json(text)).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = axum::http::HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, value);
        }
        if replayed {
            headers.insert(
                "idempotent-replayed",
                axum::http::HeaderValue::from_static("true"),
            );
        }
        response
    }
}

impl aide::OperationOutput for TextAnswer {
    type Inner = OutgoingText;

    fn operation_response(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        Json::<OutgoingText>::operation_response(ctx, op).map(|mut r| {
            r.description =
                "Sent: Twilio took it (`sid`), and the lead's log has it (`event_id`)".into();
            r
        })
    }

    fn inferred_responses(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        super::doc::at_status(201, Self::operation_response(ctx, op))
    }
}

/// The consent ledger as an auditor reads it.
#[derive(Serialize, JsonSchema)]
struct ConsentView {
    lead_id: String,
    phone_number: String,
    opted_in: bool,
    opted_out: bool,
    /// Every consent change, oldest first, with the message or request that made it.
    ledger: Vec<SmsEvent>,
}

/// The request's `Idempotency-Key`, if it has one (one that is not text is kept as a key the
/// handler refuses, naming the header).
fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").map(|v| {
        v.to_str()
            .map(str::to_owned)
            .unwrap_or_else(|_| "\u{0}".to_owned())
    })
}

/// `GET /leads/{id}/consent`.
async fn consent_ledger(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(LeadPath { id }): Path<LeadPath>,
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
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    headers: HeaderMap,
    JsonBody(draft): JsonBody<ConsentDraft>,
) -> ApiResult<Recorded> {
    let key = idempotency_key(&headers);
    let recorded = sms::record_consent(
        &deps,
        &tenant,
        &lead_id(&id)?,
        &draft,
        key.as_deref(),
        Utc::now(),
    )
    .await?;
    Ok(Recorded(recorded))
}

/// 201 with the event; a retry gets the first request's event again, marked
/// `Idempotent-Replayed: true` (as Stripe marks a replayed response).
struct Recorded(sms::Recorded);

impl IntoResponse for Recorded {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::CREATED, Json(self.0.event)).into_response();
        if self.0.replayed {
            response.headers_mut().insert(
                "idempotent-replayed",
                axum::http::HeaderValue::from_static("true"),
            );
        }
        response
    }
}

impl aide::OperationOutput for Recorded {
    type Inner = SmsEvent;

    fn operation_response(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        Json::<SmsEvent>::operation_response(ctx, op).map(|mut r| {
            r.description = "Recorded: the event as stored".into();
            r
        })
    }

    fn inferred_responses(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        super::doc::at_status(201, Self::operation_response(ctx, op))
    }
}

#[derive(Serialize, JsonSchema)]
struct LinkView {
    #[serde(flatten)]
    link: TrackedLink,
    /// The short link to put in a text: `/r/<token>` on this API.
    short_path: String,
}

/// `POST /leads/{id}/links`: `{"url": "https://acme.test/pricing", "label": "pricing"}`.
async fn create_link(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    JsonBody(draft): JsonBody<LinkDraft>,
) -> ApiResult<Created<LinkView>> {
    let link = sms::create_link(&deps, &tenant, &lead_id(&id)?, &draft, Utc::now()).await?;
    let short_path = format!("/r/{}", link.token);
    Ok(Created {
        location: Some(short_path.clone()),
        body: LinkView { link, short_path },
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"survey": "fit"}))]
struct SurveyRequest {
    /// The survey's name in the tenant's settings.
    survey: String,
}

/// A survey put to a lead.
#[derive(Serialize, JsonSchema)]
struct SurveyStarted {
    run_id: String,
    /// The first question.
    first_question: String,
    /// The first question as texted (or queued) to the lead, when the tenant sends texts.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<OutgoingText>,
}

/// `POST /leads/{id}/surveys`: `{"survey": "fit"}` puts a survey to the lead and sends its
/// first question (or returns it, when the tenant does not send texts); the lead's replies
/// answer it.
async fn start_survey(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    JsonBody(req): JsonBody<SurveyRequest>,
) -> ApiResult<Created<SurveyStarted>> {
    let id = lead_id(&id)?;
    let (run_id, first_question, text) =
        texts::start_survey(&deps, &tenant, &id, &req.survey, Utc::now()).await?;
    Ok(Created {
        location: None,
        body: SurveyStarted {
            run_id,
            first_question,
            text,
        },
    })
}
