//! `/leads`: the ranked list, one lead with everything behind its score, edits, manual
//! adjustments, outcomes, and the lead's whole SMS log.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use chrono::Utc;
use serde::Serialize;

use crate::Deps;
use crate::domain::{
    AdjustmentDraft, Lead, LeadId, LeadPatch, NewLead, OutcomeDraft, ScoreCause, SmsEvent, TenantId,
};
use crate::error::Error;
use crate::handlers::{self, score};
use crate::ports::{Job, LeadQuery};

use super::ApiError;
use super::extract::{ApiResult, PageQuery, Tenant, body, lead_id, query};
use crate::handlers::lead_detail::{LeadDetail, lead_detail};

pub(super) fn routes() -> Router<Deps> {
    Router::new()
        .route("/leads", get(list_leads).post(create_lead))
        .route("/leads/{id}", get(get_lead).put(update_lead))
        .route(
            "/leads/{id}/adjustment",
            put(adjust_lead).delete(remove_adjustment),
        )
        .route("/leads/{id}/outcome", put(record_outcome))
        .route("/leads/{id}/sms_log", get(get_sms_log))
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
