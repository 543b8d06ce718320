//! The REST API: an axum `Router` that local mode serves on a socket and the Lambda API
//! function serves behind API Gateway, unchanged.

mod problem;
mod texts;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use problem::ApiError;

use crate::Deps;
use crate::domain::{
    AdjustmentDraft, Call, CallId, CallStatus, Lead, LeadId, LeadPatch, NewLead, OutcomeDraft,
    RuleDraft, RuleId, ScoreCause, ScoreChange, ScoringRule, SettingsPatch, SmsEvent, TenantId,
    TenantSettings, Transcript, TranscriptFormat,
};
use crate::error::Error;
use crate::formats::{self, CallMetadata};
use crate::handlers::model as tenant_model;
use crate::handlers::{self, ingest, score};
use crate::keys;
use crate::model::{Model, TrainOptions};
use crate::ports::{Job, LeadQuery};
use crate::scoring;

type ApiResult<T> = Result<T, ApiError>;

/// The API for local mode: every request acts for `deps.config.tenant`.
pub fn router(deps: Deps) -> Router {
    let tenant = deps.config.tenant.clone();
    routes(deps).layer(axum::Extension(tenant))
}

/// The API's routes over `deps`. Each request acts for the `TenantId` in its extensions, put
/// there by a layer in front (local mode's single tenant, or the JWT claim on AWS); a request
/// without one is refused with 401.
pub fn routes(deps: Deps) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/leads", get(list_leads).post(create_lead))
        .route("/leads/{id}", get(get_lead).put(update_lead))
        .route(
            "/leads/{id}/adjustment",
            put(adjust_lead).delete(remove_adjustment),
        )
        .route("/leads/{id}/outcome", put(record_outcome))
        .route("/leads/{id}/sms_log", get(get_sms_log))
        .route("/calls/{id}/transcript", get(get_transcript))
        .route("/rescores/{id}", get(get_rescore))
        .route(
            "/settings",
            get(get_settings).put(put_settings).patch(put_settings),
        )
        .route("/model", get(get_model))
        .route("/model/train", post(train_model))
        .route("/scoring_rules", get(list_rules).post(create_rule))
        .route("/scoring_rules/{id}", put(update_rule))
        .route("/calls", post(submit_call))
        .route("/settings/twilio", put(texts::put_twilio_account))
        .route("/leads/{id}/messages", post(texts::log_message))
        .route(
            "/leads/{id}/consent",
            get(texts::consent_ledger).post(texts::record_consent),
        )
        .route("/leads/{id}/links", post(texts::create_link))
        .route("/leads/{id}/surveys", post(texts::start_survey))
        // Called by Twilio and by leads' phones: no tenant credentials, checked otherwise.
        .route("/twilio/{tenant}/{hook}", post(texts::twilio_webhook))
        .route("/r/{token}", get(texts::follow_link))
        .fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                ApiError(Error::not_found(format!(
                    "endpoint {method} {}",
                    uri.path()
                )))
            },
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            problem::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::map_response(
            problem::router_errors_as_problems,
        ))
        .with_state(deps)
}

/// The tenant a request acts for. Local mode has one; on AWS the authorizer's claim names it.
struct Tenant(TenantId);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<TenantId>()
            .cloned()
            .map(Tenant)
            .ok_or_else(|| {
                ApiError(Error::Unauthorized(
                    "the request names no tenant: send a bearer token with a tenant claim".into(),
                ))
            })
    }
}

/// Parse a JSON body; the error names the field, line and column.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> ApiResult<T> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && !ct.starts_with("application/json")
    {
        return Err(ApiError::validation(format!(
            "the body must be application/json, not {ct}"
        )));
    }
    if bytes.is_empty() {
        return Err(ApiError::validation(
            "the request has no body; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::validation(format!("the body is not valid: {e}")))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::validation(e.body_text()))
}

fn lead_id(raw: &str) -> ApiResult<LeadId> {
    LeadId::parse(raw).map_err(ApiError)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Serialize)]
struct LeadList {
    leads: Vec<Lead>,
    next_cursor: Option<String>,
}

async fn list_leads(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    q: Result<Query<LeadQuery>, QueryRejection>,
) -> ApiResult<Json<LeadList>> {
    let q = query(q)?;
    if let Some(l) = q.limit
        && !(1..=LeadQuery::MAX_LIMIT).contains(&l)
    {
        return Err(ApiError::validation(format!(
            "limit: {l} is outside 1..={}",
            LeadQuery::MAX_LIMIT
        )));
    }
    let page = deps.leads.list_leads(&tenant, &q).await?;
    Ok(Json(LeadList {
        leads: page.items,
        next_cursor: page.next_cursor,
    }))
}

async fn create_lead(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let new: NewLead = body(&headers, &bytes)?;
    let phone = new.validate(&deps.config.default_region)?;
    if let Some(existing) = deps.leads.find_lead_by_phone(&tenant, &phone).await? {
        return Err(ApiError(Error::conflict(format!(
            "lead {} already has the phone number {phone}",
            existing.lead_id
        ))));
    }
    let mut lead = Lead::new(tenant, phone, Utc::now());
    let mut fields = new;
    fields.source = fields.source.or(Some("api".to_owned()));
    lead.fill_missing(&fields);
    deps.leads.insert_lead(&lead).await?;
    let location = format!("/leads/{}", lead.lead_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(lead),
    )
        .into_response())
}

/// A call as the API shows it: the stored call plus the start of its transcript as text (the
/// whole, segment by segment, at `transcript_path`).
#[derive(Debug, Serialize)]
pub struct CallView {
    #[serde(flatten)]
    pub call: Call,
    /// `Speaker: text` lines, up to `TRANSCRIPT_EXCERPT_CHARS` characters.
    pub call_transcript: Option<String>,
    /// Whether `call_transcript` stops before the transcript does.
    pub call_transcript_truncated: bool,
    /// `GET` it for the whole transcript, paged (`/calls/{id}/transcript`).
    pub transcript_path: Option<String>,
}

/// A lead with everything behind its score: its latest calls (with the start of each
/// transcript), its score ledger and its latest texts. Bounded whatever the lead's history:
/// the rest is paged at `/leads/{id}/sms_log` and `/calls/{id}/transcript`.
#[derive(Debug, Serialize)]
pub struct LeadDetail {
    #[serde(flatten)]
    pub lead: Lead,
    /// The latest `DETAIL_CALLS` calls, oldest first.
    pub calls: Vec<CallView>,
    pub calls_total: usize,
    pub score_history: Vec<ScoreChange>,
    /// The latest `DETAIL_SMS_EVENTS` texts, consent changes, clicks and surveys, oldest first.
    pub sms_log: Vec<SmsEvent>,
    pub sms_log_total: usize,
}

/// How many of a lead's calls its detail shows (the latest).
pub const DETAIL_CALLS: usize = 50;
/// How much of each call's transcript the detail shows, in characters.
pub const TRANSCRIPT_EXCERPT_CHARS: usize = 2_000;
/// How many of a lead's SMS events its detail shows (the latest).
pub const DETAIL_SMS_EVENTS: usize = 100;
/// The largest page of transcript segments or SMS events.
pub const MAX_PAGE: usize = 500;

/// Gather a lead's detail view (`GET /leads/{id}`, `leadscore show`).
pub async fn lead_detail(deps: &Deps, tenant: &TenantId, id: &LeadId) -> crate::Result<LeadDetail> {
    let lead = deps
        .leads
        .get_lead(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
    let all_calls = deps.calls.calls_for_lead(tenant, id).await?;
    let calls_total = all_calls.len();
    let mut calls = Vec::new();
    for call in all_calls
        .into_iter()
        .skip(calls_total.saturating_sub(DETAIL_CALLS))
    {
        let (call_transcript, call_transcript_truncated) = match &call.transcript_key {
            Some(key) => {
                let text =
                    serde_json::from_slice::<Transcript>(&deps.blobs.get(key).await?)?.to_text();
                let truncated = text.chars().count() > TRANSCRIPT_EXCERPT_CHARS;
                let excerpt = if truncated {
                    text.chars().take(TRANSCRIPT_EXCERPT_CHARS).collect()
                } else {
                    text
                };
                (Some(excerpt), truncated)
            }
            None => (None, false),
        };
        calls.push(CallView {
            transcript_path: call
                .transcript_key
                .as_ref()
                .map(|_| format!("/calls/{}/transcript", call.call_id)),
            call,
            call_transcript,
            call_transcript_truncated,
        });
    }
    let score_history = deps.leads.score_history(tenant, id).await?;
    let events = deps.sms.sms_events(tenant, id).await?;
    let ordered = crate::sms::ordered(&events);
    let sms_log_total = ordered.len();
    let sms_log = ordered
        .into_iter()
        .skip(sms_log_total.saturating_sub(DETAIL_SMS_EVENTS))
        .cloned()
        .collect();
    Ok(LeadDetail {
        lead,
        calls,
        calls_total,
        score_history,
        sms_log,
        sms_log_total,
    })
}

/// `?offset=&limit=` for paged lists (oldest first).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

impl PageQuery {
    fn window<T>(&self, items: Vec<T>) -> serde_json::Value
    where
        T: Serialize,
    {
        let total = items.len();
        let limit = self.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let page: Vec<T> = items.into_iter().skip(self.offset).take(limit).collect();
        let next = self.offset + page.len();
        serde_json::json!({
            "items": page,
            "offset": self.offset,
            "total": total,
            "next_offset": (next < total).then_some(next),
        })
    }
}

/// `GET /calls/{id}/transcript?offset=&limit=`: a call's stored (redacted) transcript, a page
/// of segments at a time (100 unless `limit` says, at most 500).
async fn get_transcript(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let q = query(q)?;
    let id = CallId::parse(&id).map_err(ApiError)?;
    let call = deps
        .calls
        .get_call(&tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("call {id}")))?;
    let key = call.transcript_key.ok_or_else(|| {
        Error::not_found(format!(
            "a transcript of call {id} (it is {})",
            call.status.as_str()
        ))
    })?;
    let transcript: Transcript =
        serde_json::from_slice(&deps.blobs.get(&key).await?).map_err(Error::from)?;
    let mut page = q.window(transcript.segments);
    page["call_id"] = id.to_string().into();
    Ok(Json(page))
}

/// `GET /leads/{id}/sms_log?offset=&limit=`: the lead's whole SMS log, oldest first, paged.
async fn get_sms_log(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let q = query(q)?;
    let id = lead_id(&id)?;
    if deps.leads.get_lead(&tenant, &id).await?.is_none() {
        return Err(ApiError(Error::not_found(format!("lead {id}"))));
    }
    let events = deps.sms.sms_events(&tenant, &id).await?;
    let ordered: Vec<SmsEvent> = crate::sms::ordered(&events).into_iter().cloned().collect();
    let mut page = q.window(ordered);
    page["lead_id"] = id.to_string().into();
    Ok(Json(page))
}

async fn get_lead(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<LeadDetail>> {
    // A lead id, or its phone number (`/leads/+15125550147`), as `leadscore show` takes.
    let id = match LeadId::parse(&id) {
        Ok(id) => id,
        Err(_) => {
            let phone = crate::domain::PhoneNumber::parse_with_region(
                &id,
                Some(&deps.config.default_region),
            )
            .map_err(|_| {
                ApiError::validation(format!(
                    "`{id}` is neither a lead id (`ld_...`) nor a phone number"
                ))
            })?;
            deps.leads
                .find_lead_by_phone(&tenant, &phone)
                .await?
                .ok_or_else(|| Error::not_found(format!("a lead with the number {phone}")))?
                .lead_id
        }
    };
    Ok(Json(lead_detail(&deps, &tenant, &id).await?))
}

async fn update_lead(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
    let patch: LeadPatch = body(&headers, &bytes)?;
    let lead = handlers::modify_lead(&deps, &tenant, &id, |lead| {
        patch.apply(lead, &deps.config.default_region)
    })
    .await?;
    // CRM fields and the source feed rules and the model: score the lead as it now stands.
    deps.queue
        .send(&Job::Score {
            tenant_id: tenant,
            lead_id: id,
            cause: ScoreCause::LeadChanged {
                version: lead.version,
            },
        })
        .await?;
    Ok(Json(lead))
}

/// `PUT /leads/{id}/adjustment`: `{"points": 15, "reason": "...", "by": "maya"}`. The lead is
/// re-scored at once; the adjustment is added to every later score until it is removed.
async fn adjust_lead(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
    let draft: AdjustmentDraft = body(&headers, &bytes)?;
    let adjustment = draft.validate(Utc::now())?;
    let at = adjustment.at;
    handlers::modify_lead(&deps, &tenant, &id, |lead| {
        lead.adjustment = Some(adjustment.clone());
        Ok(())
    })
    .await?;
    rescored(&deps, &tenant, &id, ScoreCause::Manual { at }).await
}

/// `DELETE /leads/{id}/adjustment`: back to the computed score.
async fn remove_adjustment(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
    handlers::modify_lead(&deps, &tenant, &id, |lead| {
        lead.adjustment
            .take()
            .map(|_| ())
            .ok_or_else(|| Error::not_found(format!("lead {} has no adjustment", lead.lead_id)))
    })
    .await?;
    rescored(&deps, &tenant, &id, ScoreCause::Manual { at: Utc::now() }).await
}

async fn rescored(
    deps: &Deps,
    tenant: &TenantId,
    id: &LeadId,
    cause: ScoreCause,
) -> ApiResult<Json<Lead>> {
    score::handle(deps, tenant, id, &cause).await?;
    let lead = deps
        .leads
        .get_lead(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))?;
    Ok(Json(lead))
}

/// `PUT /leads/{id}/outcome`: `{"outcome": "won" | "lost", "value": 1200}`. Outcomes are what
/// `POST /model/train` learns from.
async fn record_outcome(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
    let draft: OutcomeDraft = body(&headers, &bytes)?;
    let outcome = draft.validate(Utc::now())?;
    let lead = handlers::modify_lead(&deps, &tenant, &id, |lead| {
        lead.outcome = Some(outcome.clone());
        Ok(())
    })
    .await?;
    Ok(Json(lead))
}

async fn get_settings(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<TenantSettings>> {
    Ok(Json(handlers::settings::load(&deps, &tenant).await?))
}

/// `PUT /settings`: `{"tiers": {"hot": 75, "warm": 45}}`; every lead is re-tiered.
async fn put_settings(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    // What the request does not name keeps its value (PUT and PATCH alike): sending only the
    // tiers must not wipe the surveys.
    let patch: SettingsPatch = body(&headers, &bytes)?;
    let mut settings = handlers::settings::load(&deps, &tenant).await?;
    patch.apply(&mut settings);
    handlers::settings::save(&deps, &tenant, &settings).await?;
    let nonce = format!("settings@{}", Utc::now().timestamp_micros());
    let rescore = score::start_rescore(&deps, &tenant, ScoreCause::Recompute { nonce }).await?;
    Ok(with_rescore(StatusCode::OK, &settings, &rescore))
}

#[derive(Serialize)]
struct ModelSummary {
    version: u64,
    trained_at: chrono::DateTime<Utc>,
    target: String,
    kind: crate::model::ModelKind,
    features: Vec<String>,
    metrics: crate::model::Metrics,
}

impl From<&Model> for ModelSummary {
    fn from(m: &Model) -> Self {
        Self {
            version: m.version,
            trained_at: m.trained_at,
            target: m.target.clone(),
            kind: m.kind,
            features: m.feature_names().into_iter().map(str::to_owned).collect(),
            metrics: m.metrics.clone(),
        }
    }
}

/// `GET /model`: the model in force and the metrics it was trained with.
async fn get_model(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<ModelSummary>> {
    let model = Model::load_cached(deps.blobs.as_ref(), &tenant)
        .await?
        .ok_or_else(|| {
            Error::not_found(
                "the tenant's model (none is trained yet: record outcomes and POST \
                 /model/train, or run `leadscore train`)",
            )
        })?;
    Ok(Json(ModelSummary::from(model.as_ref())))
}

/// `POST /model/train`: retrain from the recorded outcomes and put the model in force; on
/// failure the current model stays.
async fn train_model(State(deps): State<Deps>, Tenant(tenant): Tenant) -> ApiResult<Response> {
    let (model, rescore) = tenant_model::retrain(&deps, &tenant, &TrainOptions::default()).await?;
    Ok(with_rescore(
        StatusCode::CREATED,
        ModelSummary::from(&model),
        &rescore,
    ))
}

/// A change that re-scores every lead answers with the change itself and the re-score it
/// started (which runs in the background): `rescore` in the body, and a `Link` with
/// `rel="monitor"` to `GET /rescores/{id}`.
fn with_rescore(status: StatusCode, item: impl Serialize, rescore: &score::Rescore) -> Response {
    #[derive(Serialize)]
    struct WithRescore<T> {
        #[serde(flatten)]
        item: T,
        rescore: serde_json::Value,
    }
    let body = WithRescore {
        item,
        rescore: serde_json::json!({
            "rescore_id": rescore.rescore_id,
            "state": rescore.state,
            "path": rescore.path(),
        }),
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(link) =
        header::HeaderValue::from_str(&format!("<{}>; rel=\"monitor\"", rescore.path()))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// `GET /rescores/{id}`: how far a re-score of every lead has got.
async fn get_rescore(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<score::Rescore>> {
    score::Rescore::load(&deps, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(Error::not_found(format!("re-score `{id}`"))))
}

#[derive(Serialize)]
struct RuleList {
    scoring_rules: Vec<ScoringRule>,
}

async fn list_rules(State(deps): State<Deps>, Tenant(tenant): Tenant) -> ApiResult<Json<RuleList>> {
    let scoring_rules = score::tenant_rules(&deps, &tenant).await?;
    Ok(Json(RuleList { scoring_rules }))
}

async fn create_rule(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let draft: RuleDraft = body(&headers, &bytes)?;
    // Make sure the defaults exist first, so a tenant's first own rule adds to them.
    score::tenant_rules(&deps, &tenant).await?;
    let rule = draft.merge(&tenant, None, Utc::now())?;
    scoring::validate_criteria(&rule.criteria)?;
    deps.rules.insert_rule(&rule).await?;
    let rescore = score::rule_changed(&deps, &rule).await?;
    let location = format!("/scoring_rules/{}", rule.rule_id);
    let mut response = with_rescore(StatusCode::CREATED, &rule, &rescore);
    if let Ok(location) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn update_rule(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let id = RuleId::parse(&id)?;
    let draft: RuleDraft = body(&headers, &bytes)?;
    score::tenant_rules(&deps, &tenant).await?;
    let current = deps
        .rules
        .get_rule(&tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("rule {id}")))?;
    let rule = draft.merge(&tenant, Some(&current), Utc::now())?;
    scoring::validate_criteria(&rule.criteria)?;
    let stored = deps.rules.update_rule(&rule).await?;
    let rescore = score::rule_changed(&deps, &stored).await?;
    Ok(with_rescore(StatusCode::OK, &stored, &rescore))
}

#[derive(Serialize)]
struct CallAccepted {
    outcome: ingest::Outcome,
    call_id: String,
    lead_id: String,
    status: CallStatus,
    status_detail: Option<String>,
}

/// A call sent through the API names its lead's number in the request: the error names the
/// JSON field (an API client sent no sidecar file and no file name to read it from).
fn require_lead_number(metadata: &CallMetadata) -> ApiResult<()> {
    if ingest::lead_phone(metadata).is_some() {
        return Ok(());
    }
    Err(ApiError::validation(
        match metadata.direction.unwrap_or_default() {
            crate::domain::Direction::Inbound => {
                "caller: required, the lead's phone number (the caller of an inbound call)"
            }
            crate::domain::Direction::Outbound => {
                "callee: required, the lead's phone number (the callee of an outbound call)"
            }
        },
    ))
}

/// `POST /calls`: call metadata (the sidecar's fields) plus `transcript`:
/// `{"format": "webvtt" | "srt" | "text" | "amazon_transcribe", "content": ...}` or
/// `{"format": "segments", "segments": [{"speaker", "start", "end", "text"}]}`.
async fn submit_call(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let mut doc: serde_json::Map<String, serde_json::Value> = body(&headers, &bytes)?;
    if let Some(recording) = doc.remove("recording") {
        if doc.contains_key("transcript") {
            return Err(ApiError::validation(
                "recording, transcript: send one of them, not both",
            ));
        }
        return recording_upload(&deps, &tenant, recording, doc).await;
    }
    let transcript = doc.remove("transcript").ok_or_else(|| {
        ApiError::validation(
            "transcript: required (or `recording` to upload audio), e.g. \
             {\"format\": \"text\", \"content\": \"Agent: Hello\"}",
        )
    })?;
    let (format, content) = transcript_body(transcript)?;
    let metadata = CallMetadata::from_sidecar(
        &serde_json::to_vec(&doc).map_err(Error::from)?,
        &deps.config.default_region,
    )?;
    require_lead_number(&metadata)?;
    let name = match &metadata.external_id {
        Some(ext) => ext.clone(),
        None => {
            let mut h = Sha256::new();
            h.update(
                metadata
                    .caller
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default(),
            );
            h.update(&content);
            format!("api-{}", &hex::encode(h.finalize())[..16])
        }
    };
    let ext = match format {
        TranscriptFormat::WebVtt => "vtt",
        TranscriptFormat::Srt => "srt",
        TranscriptFormat::PlainText => "txt",
        TranscriptFormat::AmazonTranscribe | TranscriptFormat::Segments => "json",
    };
    let artifact = ingest::Artifact::Transcript {
        file_name: format!("{name}.{ext}"),
        format,
        content,
    };
    let report = ingest::register(&deps, &tenant, &name, metadata, artifact, Utc::now()).await?;
    let status = match report.outcome {
        ingest::Outcome::Duplicate => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    let location = format!("/leads/{}", report.call.lead_id);
    let accepted = CallAccepted {
        outcome: report.outcome,
        call_id: report.call.call_id.to_string(),
        lead_id: report.call.lead_id.to_string(),
        status: report.call.status,
        status_detail: report.call.status_detail,
    };
    Ok((status, [(header::LOCATION, location)], Json(accepted)).into_response())
}

/// How long an upload URL from `POST /calls` stays valid.
const UPLOAD_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Serialize)]
struct UploadTicket {
    call_id: String,
    /// `PUT` the audio here, as it is, before `expires_at`.
    upload_url: String,
    method: &'static str,
    key: String,
    expires_at: chrono::DateTime<Utc>,
}

/// `POST /calls` with `"recording": {"file_name": "call-7.wav"}`: the call's metadata is kept
/// beside where the recording will land (`<name>.meta.json`, as a telephony export would
/// write it) and the answer carries a presigned URL to `PUT` the audio to; its arrival starts
/// the pipeline like any recording. Where the blob store has no such URLs (local mode), the
/// answer says to drop the file into the inbox instead, and nothing is stored.
async fn recording_upload(
    deps: &Deps,
    tenant: &TenantId,
    recording: serde_json::Value,
    doc: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<Response> {
    let file_name = recording
        .get("file_name")
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .trim();
    if file_name.is_empty() || file_name.contains(['/', '\\']) || file_name.starts_with('.') {
        return Err(ApiError::validation(
            "recording.file_name: required, a plain file name such as \"call-7.wav\"",
        ));
    }
    if !formats::is_audio(file_name) {
        return Err(ApiError::validation(format!(
            "recording.file_name: `{}` is not a recording this service transcribes ({})",
            file_name,
            formats::AUDIO_EXTENSIONS.join(", ")
        )));
    }
    let sidecar = serde_json::to_vec(&doc).map_err(Error::from)?;
    let metadata = CallMetadata::from_sidecar(&sidecar, &deps.config.default_region)?;
    require_lead_number(&metadata)?;
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .unwrap_or_default();
    let name = match &metadata.external_id {
        Some(external) => external.clone(),
        None => formats::stem(file_name).to_owned(),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(ApiError::validation(
            "external_id: cannot name a file; use letters, digits, dashes",
        ));
    }
    let key = keys::drop(tenant, &format!("{name}.{}", ext.to_ascii_lowercase()));
    let Some(upload_url) = deps.blobs.upload_url(&key, UPLOAD_URL_LIFETIME).await? else {
        return Err(ApiError::validation(
            "recording: this deployment takes recordings through its inbox folder, not by \
             upload URL; drop the file (and its .meta.json) into the inbox, or send a transcript",
        ));
    };
    deps.blobs
        .put(&keys::drop(tenant, &format!("{name}.meta.json")), &sidecar)
        .await?;
    let ticket = UploadTicket {
        call_id: keys::call_of_stem(tenant, &name).to_string(),
        upload_url,
        method: "PUT",
        key,
        expires_at: Utc::now() + UPLOAD_URL_LIFETIME,
    };
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

fn transcript_body(v: serde_json::Value) -> ApiResult<(TranscriptFormat, Vec<u8>)> {
    let serde_json::Value::Object(mut t) = v else {
        return Err(ApiError::validation(
            "transcript: must be an object with \"format\" and \"content\"",
        ));
    };
    let format = t
        .get("format")
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let format = match format.as_str() {
        "webvtt" | "vtt" => TranscriptFormat::WebVtt,
        "srt" => TranscriptFormat::Srt,
        "text" | "plain_text" | "txt" => TranscriptFormat::PlainText,
        "amazon_transcribe" | "transcribe" => TranscriptFormat::AmazonTranscribe,
        "segments" => {
            let segments = t
                .remove("segments")
                .ok_or_else(|| ApiError::validation("transcript.segments: required"))?;
            let doc = serde_json::json!({ "format": "segments", "segments": segments });
            // Check the shape now, so the error names the field.
            serde_json::from_value::<Transcript>(doc.clone())
                .map_err(|e| ApiError::validation(format!("transcript.segments: {e}")))?;
            return Ok((
                TranscriptFormat::Segments,
                serde_json::to_vec(&doc).map_err(Error::from)?,
            ));
        }
        other => {
            return Err(ApiError::validation(format!(
                "transcript.format: `{other}` is not one of webvtt, srt, text, amazon_transcribe, segments"
            )));
        }
    };
    let content = match t.remove("content") {
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        Some(obj @ serde_json::Value::Object(_))
            if format == TranscriptFormat::AmazonTranscribe =>
        {
            serde_json::to_vec(&obj).map_err(Error::from)?
        }
        _ => {
            return Err(ApiError::validation(
                "transcript.content: required, the transcript as a string",
            ));
        }
    };
    Ok((format, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn deps() -> (tempfile::TempDir, Deps) {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::local::LocalApp::open(dir.path(), crate::Config::default()).unwrap();
        (dir, app.deps)
    }

    async fn call(
        deps: &Deps,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value, Option<String>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = router(deps.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            ct,
        )
    }

    #[tokio::test]
    async fn malformed_bodies_get_problem_documents_naming_the_field() {
        let (_d, deps) = deps();
        let (status, body, ct) = call(&deps, "POST", "/leads", r#"{"phone_number": "12"}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["type"], "urn:leadscore:problem:validation");
        assert!(
            body["detail"].as_str().unwrap().contains("phone_number"),
            "{body}"
        );

        let (status, body, _) = call(
            &deps,
            "POST",
            "/leads",
            r#"{"phone_number": "+14155550134",}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"].as_str().unwrap().contains("line 1 column"),
            "{body}"
        );

        let (status, body, _) = call(&deps, "GET", "/leads?tier=boiling", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"].as_str().unwrap().contains("boiling"),
            "{body}"
        );

        let (status, _, _) = call(&deps, "GET", "/nowhere", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_routers_own_answers_are_problem_documents_too() {
        let (_d, deps) = deps();
        // GIVEN requests the router answers itself: a path that is not there, a method the
        // path does not take, a body past the limit
        let (status, body, ct) = call(&deps, "GET", "/nowhere", "").await;
        // THEN each is a problem document that says what is wrong
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["detail"], "endpoint GET /nowhere not found");

        let req = Request::builder()
            .method("DELETE")
            .uri("/scoring_rules")
            .body(Body::empty())
            .unwrap();
        let resp = router(deps.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], "urn:leadscore:problem:method-not-allowed");
        assert!(body["detail"].as_str().unwrap().contains("Allow"), "{body}");

        let huge = format!(
            r#"{{"phone_number": "+14155550134", "first_name": "{}"}}"#,
            "x".repeat(problem::MAX_BODY_BYTES)
        );
        let (status, body, ct) = call(&deps, "POST", "/leads", &huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["type"], "urn:leadscore:problem:too-large");
    }

    #[tokio::test]
    async fn a_rule_that_does_not_parse_is_rejected_with_its_column() {
        let (_d, deps) = deps();
        let (status, body, _) = call(
            &deps,
            "POST",
            "/scoring_rules",
            r#"{"criteria": "calls.count >= two", "weight": 5}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["detail"],
            "criteria: at column 16: unknown field `two`"
        );
        let (_, rules, _) = call(&deps, "GET", "/scoring_rules", "").await;
        assert_eq!(
            rules["scoring_rules"].as_array().unwrap().len(),
            scoring::DEFAULT_RULES.len()
        );
    }
}
