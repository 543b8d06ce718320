//! `/leads`: the ranked list, one lead with everything behind its score, edits, manual
//! adjustments, outcomes, and the lead's whole SMS log.

use super::routing::{Build, Routes, get_with, put_with};
use aide::transform::TransformOperation;
use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Deps;
use crate::domain::{
    AdjustmentDraft, Lead, LeadId, LeadJson, LeadPatch, NewLead, OutcomeDraft, ScoreCause,
    SmsEvent, TenantId,
};
use crate::error::Error;
use crate::handlers::{self, score};
use crate::ports::{Job, LeadQuery};

use super::ApiError;
use super::AppState;
use super::doc::{Created, Problems, link};
use super::extract::{
    AdminTenant, ApiResult, JsonBody, LeadPath, Page, PageQuery, Q, RepTenant, Tenant, lead_id,
};
use crate::handlers::lead_detail::{LeadDetail, lead_detail};

fn doc<'t>(op: TransformOperation<'t>, id: &str, summary: &str) -> TransformOperation<'t> {
    op.id(id).tag("leads").summary(summary)
}

pub(super) fn routes<B: Build>() -> Routes<B> {
    let no_lead = "No lead with that id in the tenant";
    Routes::new()
        .api_route(
            "/leads",
            get_with(list_leads, move |op| {
                doc(op, "list_leads", "The ranked leads").description(
                    "Highest score first, unscored last; filtered by tier, score range, CRM \
                     status and text, a page at a time (`next_cursor` to `cursor`).",
                )
            })
            .post_with(create_lead, move |op| {
                let op = doc(op, "create_lead", "Add a lead")
                    .description(
                        "A lead from a form, a list or a CRM, before any call. The number is \
                         stored in E.164; one lead per number.",
                    )
                    .problem::<409>("A lead with that phone number exists");
                [
                    ("lead", "get_lead"),
                    ("update", "update_lead"),
                    ("adjust", "adjust_lead"),
                    ("outcome", "record_outcome"),
                    ("sms_log", "get_sms_log"),
                    ("consent", "consent_ledger"),
                    ("record_consent", "record_consent"),
                    ("message", "log_message"),
                    ("link", "create_link"),
                    ("survey", "start_survey"),
                ]
                .into_iter()
                .fold(op, |op, (name, target)| {
                    link(op, 201, name, target, "/lead_id")
                })
            }),
        )
        .api_route(
            "/leads/{id}",
            get_with(get_lead, move |op| {
                doc(op, "get_lead", "One lead, with everything behind its score")
                    .description(
                        "Its score, tier, probability and factors with their evidence; its \
                         latest calls with the start of each transcript; its score history; \
                         its latest texts. `{id}` may also be the lead's phone number.",
                    )
                    .problem::<404>(no_lead)
            })
            .put_with(update_lead, move |op| {
                doc(op, "update_lead", "Edit a lead's fields")
                    .description(
                        "Only the fields sent change; `null` clears one. The lead is re-scored.",
                    )
                    .problem::<404>(no_lead)
                    .problem::<409>(
                        "The number belongs to another lead, or the lead changed meanwhile; retry",
                    )
            })
            .delete_with(erase_lead, move |op| {
                doc(
                    op,
                    "erase_lead",
                    "Erase everything held about a lead (GDPR Art. 17)",
                )
                .description(
                    "Its calls, recordings, transcripts (the speech engine's output \
                         included), analyses, texts, tracked links and score history, in every \
                         store, are erased by a job moments after this answer; then `GET \
                         /leads/{id}` answers 404. Kept: if the lead opted out of texts, a digest \
                         of its number on the tenant's suppression list, so a lead made later for \
                         that number starts opted out (TCPA). Audit entries, webhook deliveries \
                         and usage name the lead's id only. Admins only.",
                )
                .response_with::<202, Json<ErasureAccepted>, _>(|r| {
                    r.description("Accepted: the erasure is queued")
                })
                .problem::<404>(no_lead)
            }),
        )
        .api_route(
            "/leads/{id}/export",
            get_with(export_lead, move |op| {
                doc(
                    op,
                    "export_lead",
                    "Everything held about a lead, machine-readable (GDPR Art. 20)",
                )
                .description(
                    "The lead as stored; its calls with their whole transcripts (100 a page: \
                         `calls_offset` from `next_calls_offset`); its score history, SMS log and \
                         tracked links. Admins only.",
                )
                .problem::<404>(no_lead)
            }),
        )
        .api_route(
            "/leads/{id}/adjustment",
            put_with(adjust_lead, move |op| {
                doc(op, "adjust_lead", "Adjust a lead's score by hand")
                    .description(
                        "Added to every later score until removed; the lead is re-scored at \
                         once and the answer is the lead as re-scored.",
                    )
                    .problem::<404>(no_lead)
                    .problem::<409>("The lead changed meanwhile; retry")
            })
            .delete_with(remove_adjustment, move |op| {
                doc(op, "remove_adjustment", "Back to the computed score")
                    .problem::<404>("No such lead, or it has no adjustment")
                    .problem::<409>("The lead changed meanwhile; retry")
            }),
        )
        .api_route(
            "/leads/{id}/outcome",
            put_with(record_outcome, move |op| {
                doc(op, "record_outcome", "Record a lead's outcome: won or lost")
                    .description("Outcomes are what `POST /model/train` learns from.")
                    .problem::<404>(no_lead)
                    .problem::<409>("The lead changed meanwhile; retry")
            }),
        )
        .api_route(
            "/leads/{id}/sms_log",
            get_with(get_sms_log, move |op| {
                doc(
                    op,
                    "get_sms_log",
                    "A lead's whole SMS log, paged, oldest first",
                )
                .problem::<404>(no_lead)
            }),
        )
}

#[derive(Serialize, JsonSchema)]
struct LeadList {
    leads: Vec<LeadJson>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// `{id}` of `GET /leads/{id}`: a lead id, or the lead's phone number.
#[derive(Deserialize, JsonSchema)]
struct LeadRef {
    /// The lead's id (`ld_...`), or its phone number (`+15125550147`), as `leadscore show`
    /// takes.
    id: String,
}

async fn list_leads(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<LeadQuery>,
) -> ApiResult<Json<LeadList>> {
    if let Some(l) = q.limit
        && !(1..=LeadQuery::MAX_LIMIT).contains(&l)
    {
        return Err(ApiError::validation(format!(
            "limit: {l} is outside 1..={}",
            LeadQuery::MAX_LIMIT
        )));
    }
    let page = deps.leads.list_lead_json(&tenant, &q).await?;
    Ok(Json(LeadList {
        leads: page.items,
        next_cursor: page.next_cursor,
    }))
}

async fn create_lead(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    JsonBody(new): JsonBody<NewLead>,
) -> ApiResult<Created<Lead>> {
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
    crate::handlers::privacy::honour_suppression(&deps, &lead).await?;
    let created = crate::handlers::webhooks::lead_created(&lead);
    crate::handlers::webhooks::emit_or_log(&deps, &lead.tenant_id, &[created]).await;
    Ok(Created {
        location: Some(format!("/leads/{}", lead.lead_id)),
        body: lead,
    })
}

/// A page of a lead's SMS log.
#[derive(Serialize, JsonSchema)]
struct SmsLogPage {
    lead_id: LeadId,
    #[serde(flatten)]
    page: Page<SmsEvent>,
}

/// `GET /leads/{id}/sms_log?offset=&limit=`: the lead's whole SMS log, oldest first, paged.
async fn get_sms_log(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(LeadPath { id }): Path<LeadPath>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<SmsLogPage>> {
    let id = lead_id(&id)?;
    if deps.leads.get_lead(&tenant, &id).await?.is_none() {
        return Err(ApiError(Error::not_found(format!("lead {id}"))));
    }
    let events = deps.sms.sms_events(&tenant, &id).await?;
    let ordered: Vec<SmsEvent> = crate::sms::ordered(&events).into_iter().cloned().collect();
    Ok(Json(SmsLogPage {
        page: q.window(ordered),
        lead_id: id,
    }))
}

async fn get_lead(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(LeadRef { id }): Path<LeadRef>,
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

/// What `DELETE /leads/{id}` answers.
#[derive(Serialize, JsonSchema)]
struct ErasureAccepted {
    lead_id: LeadId,
    /// `erasing`: the job is queued; the lead is gone when `GET /leads/{id}` answers 404.
    state: &'static str,
}

async fn erase_lead(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(LeadPath { id }): Path<LeadPath>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = lead_id(&id)?;
    let lead = handlers::privacy::request_erasure(&deps, &tenant, &id).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(ErasureAccepted {
            lead_id: lead.lead_id,
            state: "erasing",
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    /// Which call to start at (from `next_calls_offset`); 0 when unset.
    calls_offset: Option<usize>,
}

async fn export_lead(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    Q(q): Q<ExportQuery>,
) -> ApiResult<Json<handlers::privacy::LeadExport>> {
    let id = lead_id(&id)?;
    Ok(Json(
        handlers::privacy::export(&deps, &tenant, &id, q.calls_offset.unwrap_or(0)).await?,
    ))
}

async fn update_lead(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    JsonBody(patch): JsonBody<LeadPatch>,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
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
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    JsonBody(draft): JsonBody<AdjustmentDraft>,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
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
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
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
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    Path(LeadPath { id }): Path<LeadPath>,
    JsonBody(draft): JsonBody<OutcomeDraft>,
) -> ApiResult<Json<Lead>> {
    let id = lead_id(&id)?;
    let outcome = draft.validate(Utc::now())?;
    let lead = handlers::modify_lead(&deps, &tenant, &id, |lead| {
        lead.outcome = Some(outcome.clone());
        Ok(())
    })
    .await?;
    handlers::model::outcome_recorded(&deps, &tenant).await?;
    Ok(Json(lead))
}
