//! `/webhooks`: the tenant's subscriptions to its events, each delivery's log, and redelivery.
//! Admins only: a subscription sends the tenant's events to any address it names.

use super::routing::{Build, Routes, get_with, post_with};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{
    DELIVERY_RETENTION_DAYS, Delivery, EventType, MAX_SUBSCRIPTIONS_PER_TENANT, NewSubscription,
    Subscription, SubscriptionPatch,
};
use crate::handlers::webhooks;

use super::AppState;
use super::doc::{Created, Problems};
use super::extract::{AdminTenant, ApiResult, JsonBody, Q};

pub(super) const SIGNING: &str = "Each request is signed per the Standard Webhooks specification \
    (standardwebhooks.com): headers `webhook-id` (the event's id, the same on every attempt: \
    use it to drop duplicates), `webhook-timestamp` (Unix seconds) and `webhook-signature` \
    (`v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed with the secret's \
    bytes after `whsec_`). Verify it with any Standard Webhooks library before trusting the \
    body, and refuse timestamps more than five minutes off. Answer 2xx within 10 seconds; \
    anything else is tried again after 5 s, 5 min, 30 min, 2 h, 5 h, 8 h and 8 h, then the \
    delivery has failed. A subscription whose every attempt failed over a whole schedule is \
    disabled, and says why.";

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/webhooks",
            get_with(list_subscriptions, |op| {
                op.id("list_webhooks")
                    .tag("webhooks")
                    .summary("The tenant's webhook subscriptions")
                    .description("Never their secrets: a secret is shown once, when made.")
            })
            .post_with(create_subscription, |op| {
                op.id("create_webhook")
                    .tag("webhooks")
                    .summary("Subscribe a URL to some of the tenant's events")
                    .description(&format!(
                        "The answer's `secret` (`whsec_...`) signs every request; it is shown \
                         in this answer only. On AWS the URL must be https and resolve to public \
                         addresses only; locally any address will do. At most \
                         {MAX_SUBSCRIPTIONS_PER_TENANT} subscriptions per tenant. {SIGNING}"
                    ))
                    .problem::<409>("The tenant has the most subscriptions it may")
            }),
        )
        .api_route(
            "/webhooks/{id}",
            get_with(get_subscription, |op| {
                op.id("get_webhook")
                    .tag("webhooks")
                    .summary("A webhook subscription, with why it is disabled if it is")
                    .problem::<404>("No such subscription")
            })
            .patch_with(update_subscription, |op| {
                op.id("update_webhook")
                    .tag("webhooks")
                    .summary(
                        "Change a subscription's URL, events or description; enable or disable it",
                    )
                    .description(
                        "Only the fields sent change. `\"enabled\": true` enables a \
                         subscription that was disabled after repeated failure; deliveries that \
                         failed meanwhile are redelivered one by one.",
                    )
                    .problem::<404>("No such subscription")
                    .problem::<409>("The subscription changed meanwhile; retry")
            })
            .delete_with(delete_subscription, |op| {
                op.id("delete_webhook")
                    .tag("webhooks")
                    .summary("Delete a subscription, its secret and its delivery log")
                    .problem::<404>("No such subscription")
            }),
        )
        .api_route(
            "/webhooks/{id}/deliveries",
            get_with(list_deliveries, |op| {
                op.id("list_webhook_deliveries")
                    .tag("webhooks")
                    .summary(
                        "A subscription's deliveries, newest event first, each with its attempts",
                    )
                    .description(&format!(
                        "Every attempt's time, status code or error, and how long it took; kept \
                         {DELIVERY_RETENTION_DAYS} days."
                    ))
                    .problem::<404>("No such subscription")
            }),
        )
        .api_route(
            "/webhooks/{id}/deliveries/{event_id}",
            get_with(get_delivery, |op| {
                op.id("get_webhook_delivery")
                    .tag("webhooks")
                    .summary("One delivery, with the body it sends and every attempt")
                    .problem::<404>("No such subscription or delivery")
            }),
        )
        .api_route(
            "/webhooks/{id}/deliveries/{event_id}/redeliver",
            post_with(redeliver, |op| {
                op.id("redeliver_webhook")
                    .tag("webhooks")
                    .summary("Send a delivery again, with a fresh retry schedule")
                    .description(
                        "For a delivery that failed (a receiver that was down), or one that was \
                         delivered and lost on the receiver's side. The same `webhook-id`, a new \
                         timestamp and signature.",
                    )
                    .response_with::<202, Json<Delivery>, _>(|r| {
                        r.description("Accepted: its next attempt is queued")
                    })
                    .problem::<404>("No such subscription or delivery")
                    .problem::<409>(
                        "The subscription is disabled, or the delivery is already on its way",
                    )
            }),
        )
}

#[derive(Serialize, JsonSchema)]
struct SubscriptionList {
    webhooks: Vec<Subscription>,
    /// Every event there is to subscribe to.
    event_types: Vec<EventType>,
}

/// A new subscription, with its secret: the only answer that carries it.
#[derive(Serialize, JsonSchema)]
struct CreatedSubscription {
    #[serde(flatten)]
    subscription: Subscription,
    /// `whsec_...`: verify each request's signature with it. Shown this once.
    secret: String,
}

#[derive(Deserialize, JsonSchema)]
struct SubscriptionPath {
    /// The subscription's id (`wh_...`).
    id: String,
}

#[derive(Deserialize, JsonSchema)]
struct DeliveryPath {
    /// The subscription's id (`wh_...`).
    id: String,
    /// The event's id (`msg_...`), as sent in `webhook-id`.
    event_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    /// 1..=100; 20 when unset.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct DeliveryPage {
    deliveries: Vec<Delivery>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    next_cursor: Option<String>,
}

async fn list_subscriptions(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
) -> ApiResult<Json<SubscriptionList>> {
    Ok(Json(SubscriptionList {
        webhooks: deps.webhooks.list_subscriptions(&tenant).await?,
        event_types: EventType::ALL.to_vec(),
    }))
}

async fn create_subscription(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    JsonBody(draft): JsonBody<NewSubscription>,
) -> ApiResult<Created<CreatedSubscription>> {
    let (subscription, secret) = webhooks::create(&deps, &tenant, &draft).await?;
    Ok(Created {
        location: Some(format!("/webhooks/{}", subscription.subscription_id)),
        body: CreatedSubscription {
            subscription,
            secret,
        },
    })
}

async fn get_subscription(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(SubscriptionPath { id }): Path<SubscriptionPath>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(webhooks::get(&deps, &tenant, &id).await?))
}

async fn update_subscription(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(SubscriptionPath { id }): Path<SubscriptionPath>,
    JsonBody(patch): JsonBody<SubscriptionPatch>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(webhooks::update(&deps, &tenant, &id, &patch).await?))
}

async fn delete_subscription(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(SubscriptionPath { id }): Path<SubscriptionPath>,
) -> ApiResult<Json<Subscription>> {
    let subscription = webhooks::get(&deps, &tenant, &id).await?;
    if !webhooks::delete(&deps, &tenant, &id).await? {
        return Err(crate::Error::not_found(format!("webhook subscription {id}")).into());
    }
    Ok(Json(subscription))
}

async fn list_deliveries(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(SubscriptionPath { id }): Path<SubscriptionPath>,
    Q(q): Q<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(super::ApiError::validation(format!(
            "limit: {limit} is outside 1..=100"
        )));
    }
    let page = webhooks::deliveries(&deps, &tenant, &id, q.cursor.as_deref(), limit).await?;
    Ok(Json(DeliveryPage {
        deliveries: page.items,
        next_cursor: page.next_cursor,
    }))
}

async fn get_delivery(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(DeliveryPath { id, event_id }): Path<DeliveryPath>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(
        webhooks::delivery(&deps, &tenant, &id, &event_id).await?,
    ))
}

async fn redeliver(
    State(deps): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(DeliveryPath { id, event_id }): Path<DeliveryPath>,
) -> ApiResult<Response> {
    let delivery = webhooks::redeliver(&deps, &tenant, &id, &event_id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)).into_response())
}
