//! Outgoing webhooks: subscriptions, the events handlers emit, and their delivery.
//!
//! A handler that changed something a subscriber may care about calls [`emit`] after its
//! change is stored. Each event's id is derived from what happened, and handlers emit again
//! when they run again for the same happening (a retried job, a replayed webhook), so an event
//! whose emit was interrupted is emitted on the retry, and one already emitted is not doubled:
//! each subscription gets a delivery per event id, once.
//!
//! A delivery is a row in the store and a `Job::Deliver` per attempt (the job queue locally; on
//! AWS the webhook queue, with its dead-letter queue, drained by the webhooks function). An
//! attempt is signed afresh (Standard Webhooks), POSTed, and recorded in the delivery's log
//! before the next is queued; a failed attempt is tried again after each of
//! `Config::webhook_retry_delays` (24 hours by default), then the delivery has failed. A
//! subscription whose every attempt failed for a whole schedule is disabled, and the delivery
//! that ended it says so. `POST .../redeliver` starts a failed delivery again.

use chrono::{DateTime, Utc};
use tracing::{info, instrument, warn};

use crate::Deps;
use crate::domain::{
    Attempt, CallEvent, Counter, Delivery, DeliveryState, Event, EventData, EventType, Lead,
    LeadEvent, MAX_SUBSCRIPTIONS_PER_TENANT, ModelEvent, NewSubscription, Score, ScoreChange,
    ScoreEvent, Subscription, SubscriptionPatch, TenantId, WebhookSecret,
};
use crate::error::{Error, Result};
use crate::ports::{Job, Outgoing, Page, SecretName};

/// A delivery whose next attempt is this late is stuck (its job was lost) and may be
/// redelivered by hand although it is pending.
const STALLED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Create a subscription; returns it and its secret (shown this once).
pub async fn create(
    deps: &Deps,
    tenant: &TenantId,
    draft: &NewSubscription,
) -> Result<(Subscription, String)> {
    let allow_private = deps.config.allow_private_webhook_targets;
    let (subscription, secret) = Subscription::create(tenant, draft, allow_private, Utc::now())?;
    deps.sender.check_target(&subscription.url).await?;
    if deps.webhooks.list_subscriptions(tenant).await?.len() >= MAX_SUBSCRIPTIONS_PER_TENANT {
        return Err(Error::conflict(format!(
            "a tenant has at most {MAX_SUBSCRIPTIONS_PER_TENANT} webhook subscriptions; delete \
             one first"
        )));
    }
    // The secret first: a subscription is never without it.
    let name = SecretName::webhook(&subscription.subscription_id)?;
    deps.secrets
        .put_secret(tenant, &name, &secret.expose())
        .await?;
    deps.webhooks.insert_subscription(&subscription).await?;
    info!(tenant = %tenant, subscription = %subscription.subscription_id, "webhook subscription created");
    Ok((subscription, secret.expose()))
}

pub async fn get(deps: &Deps, tenant: &TenantId, id: &str) -> Result<Subscription> {
    let found = if Subscription::plausible_id(id) {
        deps.webhooks.get_subscription(tenant, id).await?
    } else {
        None
    };
    found.ok_or_else(|| Error::not_found(format!("webhook subscription {id}")))
}

/// Change a subscription (its URL, events, description; enable or disable it).
pub async fn update(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    patch: &SubscriptionPatch,
) -> Result<Subscription> {
    if let Some(url) = &patch.url {
        crate::domain::check_url(url, deps.config.allow_private_webhook_targets)?;
        deps.sender.check_target(url).await?;
    }
    modify_subscription(deps, tenant, id, |s| {
        s.apply(patch, deps.config.allow_private_webhook_targets, Utc::now())
    })
    .await
}

/// Delete a subscription, its deliveries and its secret; `false` when there was none.
pub async fn delete(deps: &Deps, tenant: &TenantId, id: &str) -> Result<bool> {
    if !Subscription::plausible_id(id) || !deps.webhooks.delete_subscription(tenant, id).await? {
        return Ok(false);
    }
    deps.secrets
        .delete_secret(tenant, &SecretName::webhook(id)?)
        .await?;
    Ok(true)
}

/// A subscription's deliveries, newest first.
pub async fn deliveries(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<Delivery>> {
    get(deps, tenant, id).await?;
    deps.webhooks.deliveries(tenant, id, cursor, limit).await
}

pub async fn delivery(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    event_id: &str,
) -> Result<Delivery> {
    get(deps, tenant, id).await?;
    let found = if Event::plausible_id(event_id) {
        deps.webhooks.get_delivery(tenant, id, event_id).await?
    } else {
        None
    };
    found.ok_or_else(|| Error::not_found(format!("delivery {event_id} of webhook {id}")))
}

/// Start a delivery again, with a fresh retry schedule: one that failed, one that was
/// delivered (a receiver that lost it), or one stuck past its next attempt.
pub async fn redeliver(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    event_id: &str,
) -> Result<Delivery> {
    let subscription = get(deps, tenant, id).await?;
    if !subscription.enabled {
        return Err(Error::conflict(format!(
            "webhook subscription {id} is disabled ({}); enable it first (PATCH with \
             {{\"enabled\": true}})",
            subscription.disabled_reason.as_deref().unwrap_or("by hand")
        )));
    }
    let mut delivery = delivery(deps, tenant, id, event_id).await?;
    let now = Utc::now();
    if delivery.state == DeliveryState::Pending
        && delivery
            .next_attempt_at
            .is_some_and(|at| at + STALLED_AFTER > now)
    {
        return Err(Error::conflict(format!(
            "delivery {event_id} is on its way: its next attempt is due at {}",
            when(delivery.next_attempt_at.unwrap_or(now))
        )));
    }
    delivery.state = DeliveryState::Pending;
    delivery.run_started_at = now;
    delivery.run_first_attempt = delivery.attempt_count + 1;
    delivery.next_attempt_at = Some(now);
    delivery.note = Some(format!("redelivery requested at {}", when(now)));
    delivery.updated_at = now;
    let delivery = deps.webhooks.update_delivery(&delivery).await?;
    deps.queue
        .send(&deliver_job(&delivery, delivery.attempt_count + 1, None))
        .await?;
    Ok(delivery)
}

fn when(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn deliver_job(delivery: &Delivery, attempt: u32, not_before: Option<DateTime<Utc>>) -> Job {
    Job::Deliver {
        tenant_id: delivery.tenant_id.clone(),
        subscription_id: delivery.subscription_id.clone(),
        event_id: delivery.event_id.clone(),
        attempt,
        not_before,
    }
}

/// Hand `events` to every enabled subscription of the tenant that wants them (a delivery each,
/// once per event id, and its first attempt queued), score changes to its connected CRMs
/// (`crm::on_events`), and leads turned hot to its follow-ups (`follow_ups::on_events`).
/// Costs one read when the tenant has no subscriptions, and one more when a score changed and
/// it has no CRM.
#[instrument(skip_all, fields(tenant = %tenant, events = events.len()))]
pub async fn emit(deps: &Deps, tenant: &TenantId, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    super::crm::on_events(deps, tenant, events).await?;
    super::follow_ups::on_events(deps, tenant, events).await?;
    let subscriptions = deps.webhooks.list_subscriptions(tenant).await?;
    let now = Utc::now();
    let mut jobs = Vec::new();
    for event in events {
        for subscription in subscriptions.iter().filter(|s| s.wants(event.event_type)) {
            let delivery = Delivery::new(subscription, event, now)?;
            // Stored before (emitted again by a retried handler): its first job may have been
            // lost with the process that emitted it, so it is queued again; a copy of a job
            // whose attempt was made is dropped by the attempt's number.
            deps.webhooks.insert_delivery(&delivery).await?;
            jobs.push(deliver_job(&delivery, 1, None));
        }
    }
    deps.queue.send_all(&jobs).await
}

/// Emit `events`, logging instead of failing: for handlers whose change is done and whose
/// retry would not emit again. (Handlers that do emit again on a retry call [`emit`].)
pub async fn emit_or_log(deps: &Deps, tenant: &TenantId, events: &[Event]) {
    if let Err(e) = emit(deps, tenant, events).await {
        warn!(tenant = %tenant, error = %e, "events not handed to webhooks");
    }
}

/// One attempt at a delivery (a `Job::Deliver`). Run again for the same attempt (a redelivered
/// job) it changes nothing, but queues the next attempt if that was lost.
#[instrument(skip_all, fields(tenant = %tenant, subscription = %subscription_id, event = %event_id, attempt))]
pub async fn deliver(
    deps: &Deps,
    tenant: &TenantId,
    subscription_id: &str,
    event_id: &str,
    attempt: u32,
    not_before: Option<DateTime<Utc>>,
) -> Result<()> {
    let now = Utc::now();
    if let Some(due) = not_before.filter(|due| *due > now + chrono::TimeDelta::seconds(1)) {
        // A queue that holds jobs for less time than this wait (SQS: 15 minutes) delivered it
        // early: send it on for the rest.
        let job = Job::Deliver {
            tenant_id: tenant.clone(),
            subscription_id: subscription_id.to_owned(),
            event_id: event_id.to_owned(),
            attempt,
            not_before,
        };
        return deps
            .queue
            .send_after(&job, (due - now).to_std().unwrap_or_default())
            .await;
    }
    let Some(subscription) = deps
        .webhooks
        .get_subscription(tenant, subscription_id)
        .await?
    else {
        return Ok(()); // deleted, with its deliveries
    };
    let Some(mut delivery) = deps
        .webhooks
        .get_delivery(tenant, subscription_id, event_id)
        .await?
    else {
        return Ok(());
    };
    if delivery.state != DeliveryState::Pending {
        return Ok(());
    }
    if attempt == delivery.attempt_count && delivery.next_attempt_at.is_some() {
        // This attempt was made and recorded, and the job that carried it came again (its
        // process stopped before the queue heard it was done): make sure the next is queued.
        return deps
            .queue
            .send(&deliver_job(
                &delivery,
                attempt + 1,
                delivery.next_attempt_at,
            ))
            .await;
    }
    if attempt != delivery.attempt_count + 1 {
        return Ok(()); // an older or duplicate job
    }
    if !subscription.wants(delivery.event_type) {
        delivery.state = DeliveryState::Failed;
        delivery.next_attempt_at = None;
        delivery.note = Some(match &subscription.disabled_reason {
            Some(reason) if !subscription.enabled => {
                format!("not sent: the subscription is disabled ({reason})")
            }
            _ => format!(
                "not sent: the subscription no longer wants {}",
                delivery.event_type
            ),
        });
        delivery.updated_at = now;
        deps.webhooks.update_delivery(&delivery).await?;
        return Ok(());
    }
    let secret = deps
        .secrets
        .get_secret(tenant, &SecretName::webhook(subscription_id)?)
        .await?
        .ok_or_else(|| {
            Error::internal(
                format!("webhook subscription {subscription_id} has no secret"),
                "SecretStore",
            )
        })
        .and_then(|s| WebhookSecret::parse(&s))?;
    let sent_at = Utc::now();
    let timestamp = sent_at.timestamp();
    let request = Outgoing {
        url: subscription.url.clone(),
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("webhook-id", delivery.event_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                secret.sign(&delivery.event_id, timestamp, &delivery.payload),
            ),
        ],
        body: delivery.payload.clone(),
    };
    let answer = deps.sender.post(&request).await;
    let duration_ms = (Utc::now() - sent_at).num_milliseconds().max(0) as u64;
    let (status, error) = match &answer {
        Ok(a) if (200..300).contains(&a.status) => (Some(a.status), None),
        Ok(a) => (
            Some(a.status),
            Some(if a.excerpt.is_empty() {
                format!("HTTP {}", a.status)
            } else {
                format!("HTTP {}: {}", a.status, a.excerpt)
            }),
        ),
        Err(why) => (None, Some(why.clone())),
    };
    let ok = error.is_none();
    delivery.record(Attempt {
        number: attempt,
        at: sent_at,
        status,
        error: error.clone(),
        duration_ms,
    });
    let mut next = None;
    if ok {
        delivery.state = DeliveryState::Delivered;
        delivery.next_attempt_at = None;
    } else {
        let nth_retry = (attempt - delivery.run_first_attempt) as usize;
        match deps.config.webhook_retry_delays.get(nth_retry) {
            Some(wait) => {
                let due = sent_at + chrono::TimeDelta::from_std(*wait).unwrap_or_default();
                delivery.next_attempt_at = Some(due);
                next = Some((*wait, due));
            }
            None => {
                delivery.state = DeliveryState::Failed;
                delivery.next_attempt_at = None;
                delivery.note = Some(format!(
                    "gave up after {} attempts from {} to {}",
                    attempt + 1 - delivery.run_first_attempt,
                    when(delivery.run_started_at),
                    when(sent_at)
                ));
            }
        }
    }
    let gave_up = delivery.state == DeliveryState::Failed;
    // Whether the subscription's failing streak began by this run's first attempt (nothing
    // was taken since): then every attempt failed for a whole schedule, and it is disabled.
    let run_began = delivery
        .attempts
        .iter()
        .find(|a| a.number == delivery.run_first_attempt)
        .map_or(delivery.run_started_at, |a| a.at);
    let disable = gave_up
        && subscription
            .failing_since
            .is_none_or(|since| since <= run_began);
    if disable && let Some(note) = &mut delivery.note {
        note.push_str("; every attempt to the subscription failed all along, so it was disabled");
    }
    // The attempt is recorded before the next is queued (a redelivered job then only queues
    // the next again; see above).
    let delivery = deps.webhooks.update_delivery(&delivery).await?;
    if let Some((wait, due)) = next {
        deps.queue
            .send_after(&deliver_job(&delivery, attempt + 1, Some(due)), wait)
            .await?;
    }
    if ok {
        super::usage::count(deps, tenant, Counter::WebhooksDelivered, 1).await;
    }
    record_outcome(
        deps,
        tenant,
        subscription_id,
        ok,
        sent_at,
        disable,
        &delivery,
    )
    .await?;
    info!(
        status = status.unwrap_or_default(),
        delivered = ok,
        gave_up,
        "webhook attempt"
    );
    Ok(())
}

/// Keep the subscription's failing streak (and disable it when a whole run failed).
async fn record_outcome(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    ok: bool,
    at: DateTime<Utc>,
    disable: bool,
    delivery: &Delivery,
) -> Result<()> {
    let last = delivery
        .attempts
        .last()
        .and_then(|a| a.error.clone())
        .unwrap_or_default();
    let result = modify_subscription(deps, tenant, id, |s| {
        if ok {
            s.failing_since = None;
        } else {
            s.failing_since.get_or_insert(at);
        }
        if disable && s.enabled {
            s.disable(
                format!(
                    "every attempt failed from {} to {}; delivery {} gave up (last: {last})",
                    when(s.failing_since.unwrap_or(at)),
                    when(at),
                    delivery.event_id
                ),
                at,
            );
            warn!(tenant = %tenant, subscription = %id, "webhook subscription disabled after repeated failure");
        }
        Ok(())
    })
    .await;
    match result {
        Err(Error::NotFound(_)) => Ok(()), // deleted meanwhile
        other => other.map(|_| ()),
    }
}

async fn modify_subscription(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    change: impl Fn(&mut Subscription) -> Result<()>,
) -> Result<Subscription> {
    for _ in 0..5 {
        let mut subscription = get(deps, tenant, id).await?;
        let before = subscription.clone();
        change(&mut subscription)?;
        if subscription == before {
            return Ok(subscription);
        }
        match deps.webhooks.update_subscription(&subscription).await {
            Err(Error::Concurrent(_)) => continue,
            other => return other,
        }
    }
    Err(Error::concurrent(format!(
        "webhook subscription {id} kept changing; try again"
    )))
}

// ---- The events handlers emit ------------------------------------------------------------

fn lead_path(lead: &crate::domain::LeadId) -> String {
    format!("/leads/{lead}")
}

/// `lead.created`, at the lead's creation.
pub fn lead_created(lead: &Lead) -> Event {
    Event::new(
        &lead.tenant_id,
        EventType::LeadCreated,
        lead.lead_id.as_str(),
        lead.created_at,
        EventData::Lead(LeadEvent {
            lead_id: lead.lead_id.clone(),
            source: lead.source.clone(),
            lead_path: lead_path(&lead.lead_id),
        }),
    )
}

/// What a stored score change means to subscribers: `lead.score_changed` when the score moved
/// (or is the first), `lead.tier_changed` when the tier did, and `call.scored` for a new call.
pub fn score_events(
    lead: &Lead,
    change: &ScoreChange,
    score: Option<&Score>,
    model_version: Option<u64>,
) -> Vec<Event> {
    let tenant = &lead.tenant_id;
    let subject = format!("{}/{}", lead.lead_id, change.cause.key());
    let factors = score.map_or(&lead.factors, |s| &s.factors);
    let data = ScoreEvent {
        lead_id: lead.lead_id.clone(),
        score: change.score,
        tier: change.tier,
        previous_score: change.previous,
        previous_tier: change.previous_tier,
        probability: score.map_or(lead.probability, |s| s.probability),
        model_version,
        top_factors: factors.iter().take(3).map(Into::into).collect(),
        cause: change.cause.clone(),
        lead_path: lead_path(&lead.lead_id),
    };
    let mut events = Vec::new();
    if change.previous != Some(change.score) {
        events.push(Event::new(
            tenant,
            EventType::LeadScoreChanged,
            &subject,
            change.at,
            EventData::Score(data.clone()),
        ));
    }
    if change.previous_tier != Some(change.tier) {
        events.push(Event::new(
            tenant,
            EventType::LeadTierChanged,
            &subject,
            change.at,
            EventData::Score(data),
        ));
    }
    if let crate::domain::ScoreCause::NewCall { call_id } = &change.cause {
        events.push(Event::new(
            tenant,
            EventType::CallScored,
            call_id.as_str(),
            change.at,
            EventData::Call(CallEvent {
                call_id: call_id.clone(),
                lead_id: lead.lead_id.clone(),
                score: Some(change.score),
                tier: Some(change.tier),
                stage: None,
                reason: None,
            }),
        ));
    }
    events
}

/// `call.failed`: the call, the stage and the reason (redacted).
pub fn call_failed(call: &crate::domain::Call, at: DateTime<Utc>) -> Event {
    let stage = call.failed_stage;
    Event::new(
        &call.tenant_id,
        EventType::CallFailed,
        &format!("{}/{stage:?}", call.call_id),
        at,
        EventData::Call(CallEvent {
            call_id: call.call_id.clone(),
            lead_id: call.lead_id.clone(),
            score: None,
            tier: None,
            stage,
            reason: call
                .status_detail
                .as_deref()
                .map(|r| crate::analysis::redact::redact(r).into_owned()),
        }),
    )
}

/// `lead.opted_out`: the consent change (`consent_event`, an SMS log id) that opted out.
pub fn lead_opted_out(lead: &Lead, consent_event: &str, at: DateTime<Utc>) -> Event {
    Event::new(
        &lead.tenant_id,
        EventType::LeadOptedOut,
        consent_event,
        at,
        EventData::Lead(LeadEvent {
            lead_id: lead.lead_id.clone(),
            source: None,
            lead_path: lead_path(&lead.lead_id),
        }),
    )
}

/// `lead.follow_up_due`: the step `step` (a text record's id, unique per follow-up and
/// trigger) of follow-up `follow_up`, triggered at `since`, came due at `at`.
pub fn follow_up_due(
    lead: &Lead,
    step: &str,
    follow_up: &str,
    trigger: crate::domain::FollowUpTrigger,
    since: DateTime<Utc>,
    call_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Event {
    Event::new(
        &lead.tenant_id,
        EventType::LeadFollowUpDue,
        step,
        at,
        EventData::FollowUp(crate::domain::FollowUpEvent {
            lead_id: lead.lead_id.clone(),
            follow_up_id: follow_up.to_owned(),
            trigger,
            since,
            call_at,
            lead_path: lead_path(&lead.lead_id),
        }),
    )
}

/// `model.trained`.
pub fn model_trained(tenant: &TenantId, model: &crate::model::Model) -> Event {
    Event::new(
        tenant,
        EventType::ModelTrained,
        &model.version.to_string(),
        model.trained_at,
        EventData::Model(ModelEvent {
            version: model.version,
            samples: model.metrics.rows,
            auc: Some(model.metrics.auc).filter(|a| a.is_finite()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::domain::{ModelEvent, NewSubscription};
    use crate::local::LocalApp;
    use crate::ports::{Answer, WebhookSender};

    /// Answers each POST with the next status of its script (then 200), and counts them.
    #[derive(Default)]
    struct Scripted {
        statuses: Mutex<Vec<u16>>,
        posts: Mutex<Vec<Outgoing>>,
    }

    #[async_trait]
    impl WebhookSender for Scripted {
        async fn check_target(&self, _url: &str) -> Result<()> {
            Ok(())
        }
        async fn post(&self, request: &Outgoing) -> std::result::Result<Answer, String> {
            self.posts.lock().unwrap().push(request.clone());
            let mut statuses = self.statuses.lock().unwrap();
            let status = if statuses.is_empty() {
                200
            } else {
                statuses.remove(0)
            };
            Ok(Answer {
                status,
                excerpt: String::new(),
            })
        }
    }

    fn model_event(tenant: &TenantId) -> Event {
        Event::new(
            tenant,
            EventType::ModelTrained,
            "7",
            Utc::now(),
            EventData::Model(ModelEvent {
                version: 7,
                samples: 30,
                auc: Some(0.8),
            }),
        )
    }

    /// A data folder whose receiver answers `statuses` (then 200), and a subscription of its
    /// tenant to `model.trained`, with its secret.
    async fn subscribed(
        statuses: &[u16],
    ) -> (
        tempfile::TempDir,
        LocalApp,
        std::sync::Arc<Scripted>,
        Subscription,
        String,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut app = LocalApp::open(dir.path(), crate::Config::default()).unwrap();
        let sender = std::sync::Arc::new(Scripted::default());
        sender.statuses.lock().unwrap().extend(statuses);
        app.deps.sender = sender.clone();
        let (sub, secret) = create(
            &app.deps,
            &TenantId::default_tenant(),
            &NewSubscription {
                url: "http://127.0.0.1:9/hook".into(),
                events: [EventType::ModelTrained].into(),
                description: None,
                secret: None,
            },
        )
        .await
        .unwrap();
        (dir, app, sender, sub, secret)
    }

    #[tokio::test]
    async fn an_event_is_delivered_once_however_often_it_is_emitted_or_its_jobs_come_again() {
        let (_dir, app, sender, sub, secret) = subscribed(&[503]).await;
        let deps = &app.deps;
        let tenant = TenantId::default_tenant();
        let event = model_event(&tenant);
        let id = &sub.subscription_id;

        // Emitted twice (a retried handler): one delivery, its first attempt queued once.
        emit(deps, &tenant, std::slice::from_ref(&event))
            .await
            .unwrap();
        emit(deps, &tenant, std::slice::from_ref(&event))
            .await
            .unwrap();
        assert_eq!(app.store.queue_counts().await.unwrap().pending, 1);

        // Attempt 1 fails (503): recorded, attempt 2 queued after the first wait.
        deliver(deps, &tenant, id, &event.event_id, 1, None)
            .await
            .unwrap();
        let after_one = deps
            .webhooks
            .get_delivery(&tenant, id, &event.event_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after_one.attempt_count, 1);
        assert_eq!(after_one.attempts[0].status, Some(503));
        assert!(after_one.next_attempt_at.unwrap() > after_one.attempts[0].at);
        // The job of attempt 1 comes again: nothing is sent; attempt 2 is (still) queued.
        deliver(deps, &tenant, id, &event.event_id, 1, None)
            .await
            .unwrap();
        assert_eq!(sender.posts.lock().unwrap().len(), 1);

        // Attempt 2 (its job early: it waits no longer here) is taken; again, nothing more.
        deliver(deps, &tenant, id, &event.event_id, 2, None)
            .await
            .unwrap();
        deliver(deps, &tenant, id, &event.event_id, 2, None)
            .await
            .unwrap();
        emit(deps, &tenant, std::slice::from_ref(&event))
            .await
            .unwrap();
        let posts = sender.posts.lock().unwrap().clone();
        assert_eq!(posts.len(), 2);
        let done = deps
            .webhooks
            .get_delivery(&tenant, id, &event.event_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.state, DeliveryState::Delivered);
        assert_eq!(done.next_attempt_at, None);

        // Both attempts carry the same id, each its own timestamp and a signature over them.
        let secret = WebhookSecret::parse(&secret).unwrap();
        for post in &posts {
            let header = |name: &str| {
                post.headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            assert_eq!(header("webhook-id"), event.event_id);
            let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
            assert_eq!(
                header("webhook-signature"),
                secret.sign(&event.event_id, timestamp, &post.body)
            );
        }
        // The failure streak ended with the success.
        let sub = get(deps, &tenant, id).await.unwrap();
        assert_eq!(sub.failing_since, None);
        assert!(sub.enabled);
    }

    #[tokio::test]
    async fn a_subscription_that_stops_wanting_an_event_fails_its_pending_delivery_unsent() {
        let (_dir, app, sender, sub, _) = subscribed(&[]).await;
        let deps = &app.deps;
        let tenant = TenantId::default_tenant();
        let event = model_event(&tenant);
        emit(deps, &tenant, std::slice::from_ref(&event))
            .await
            .unwrap();
        update(
            deps,
            &tenant,
            &sub.subscription_id,
            &SubscriptionPatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        deliver(
            deps,
            &tenant,
            &sub.subscription_id,
            &event.event_id,
            1,
            None,
        )
        .await
        .unwrap();
        assert!(sender.posts.lock().unwrap().is_empty());
        let d = delivery(deps, &tenant, &sub.subscription_id, &event.event_id)
            .await
            .unwrap();
        assert_eq!(d.state, DeliveryState::Failed);
        assert!(d.note.unwrap().contains("disabled by hand"));
        // Redelivery waits for the subscription to be enabled.
        let err = redeliver(deps, &tenant, &sub.subscription_id, &event.event_id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err}");
    }
}
