//! Follow-ups (`settings.follow_ups`): steps the product takes on its own when something
//! happens to a lead. A lead that turns hot (`turned_hot`) starts a step due `after_hours`
//! later, cancelled if someone texts or calls the lead first; a text from the lead asking for
//! a call (`asked_for_a_call`) starts one due at once. A step texts the lead, raises
//! `lead.follow_up_due`, or makes a call task in the CRM.
//!
//! Each step is a record in the lead's texts list (`OutgoingText`, `origin`
//! `follow-up:<id>`, `via` what it does), so it shares the texts' guarantees: its id is a
//! digest of the lead, the follow-up and what triggered it, so a trigger delivered again
//! starts nothing more; it waits in the queue's hops until its hour; it is claimed by a
//! compare-and-set before it acts, so two copies of its job never both act. The list is the
//! audit of every step: when it was due, what it did (the text sent, the event raised, the
//! CRM's task id) or why it did not.

use chrono::{DateTime, TimeDelta, Utc};
use tracing::{info, warn};

use crate::Deps;
use crate::domain::{
    Crm, Event, EventData, EventType, FollowUp, FollowUpAction, FollowUpTrigger, Lead, LeadId,
    OutgoingText, SmsDirection, SmsEvent, SmsEventKind, TenantId, TextState, Tier, Via,
};
use crate::error::{Error, Result};
use crate::sms::callback;

use super::crm::{TaskDraft, TaskMade};
use super::texts::{hop_delay, hop_job, text_id};

/// What started a step.
struct Trigger<'a> {
    when: FollowUpTrigger,
    /// Unique in the tenant: the score event's id, or the lead's message's log id.
    id: &'a str,
    at: DateTime<Utc>,
    /// `asked_for_a_call`: the time the lead asked for, if its text named one.
    call_at: Option<DateTime<Utc>>,
}

/// Start the tenant's `turned_hot` follow-ups for each lead that `events` turned hot. Costs
/// one settings read when a lead turned hot, nothing otherwise.
pub async fn on_events(deps: &Deps, tenant: &TenantId, events: &[Event]) -> Result<()> {
    let turned_hot: Vec<(&Event, &LeadId)> = events
        .iter()
        .filter(|e| e.event_type == EventType::LeadTierChanged)
        .filter_map(|e| match &e.data {
            EventData::Score(s) if s.tier == Tier::Hot && s.previous_tier != Some(Tier::Hot) => {
                Some((e, &s.lead_id))
            }
            _ => None,
        })
        .collect();
    if turned_hot.is_empty() {
        return Ok(());
    }
    let follow_ups = of_trigger(deps, tenant, FollowUpTrigger::TurnedHot).await?;
    if follow_ups.is_empty() {
        return Ok(());
    }
    for (event, lead_id) in turned_hot {
        let Some(lead) = deps.leads.get_lead(tenant, lead_id).await? else {
            continue;
        };
        let trigger = Trigger {
            when: FollowUpTrigger::TurnedHot,
            id: &event.event_id,
            at: event.timestamp,
            call_at: None,
        };
        for follow_up in &follow_ups {
            start(deps, &lead, follow_up, &trigger).await?;
        }
    }
    Ok(())
}

/// Start the tenant's `asked_for_a_call` follow-ups if `event`, a text from `lead`, asks for
/// a call (its `call_me` intent): due at once, with the time it asked for read in the lead's
/// time zone. Costs nothing for any other text, one settings read for one that asks.
pub async fn on_reply(deps: &Deps, lead: &Lead, event: &SmsEvent) -> Result<()> {
    let SmsEventKind::Message(message) = &event.kind else {
        return Ok(());
    };
    let Some(asked) = message
        .intents
        .iter()
        .find(|i| i.intent == "call_me")
        .filter(|_| message.direction == SmsDirection::Inbound)
    else {
        return Ok(());
    };
    let follow_ups = of_trigger(deps, &lead.tenant_id, FollowUpTrigger::AskedForACall).await?;
    if follow_ups.is_empty() {
        return Ok(());
    }
    let place = crate::scoring::caller::CallerPlace::of(&lead.phone_number);
    let zone = place.tz.unwrap_or(chrono_tz::UTC);
    let words = asked.when.as_deref().unwrap_or(&message.body);
    let call_at = callback::asked_time(words, zone, event.at).map(|a| a.at);
    let trigger = Trigger {
        when: FollowUpTrigger::AskedForACall,
        id: &event.event_id,
        at: event.at,
        call_at,
    };
    for follow_up in &follow_ups {
        start(deps, lead, follow_up, &trigger).await?;
    }
    Ok(())
}

async fn of_trigger(
    deps: &Deps,
    tenant: &TenantId,
    when: FollowUpTrigger,
) -> Result<Vec<FollowUp>> {
    let settings = super::settings::load(deps, tenant).await?;
    Ok(settings
        .follow_ups
        .into_iter()
        .filter(|f| f.when == when)
        .collect())
}

/// Record and queue the steps `f` takes for `trigger`: one, or a task in each CRM.
async fn start(deps: &Deps, lead: &Lead, f: &FollowUp, trigger: &Trigger<'_>) -> Result<()> {
    let crms: Vec<Option<Crm>> = match (f.action, f.crm) {
        (FollowUpAction::CrmTask, Some(crm)) => vec![Some(crm)],
        (FollowUpAction::CrmTask, None) => {
            let connected = deps.crm.list_connections(&lead.tenant_id).await?;
            if connected.is_empty() {
                vec![None] // recorded, and failed naming why
            } else {
                connected.into_iter().map(|c| Some(c.crm)).collect()
            }
        }
        _ => vec![None],
    };
    for crm in crms {
        start_step(deps, lead, f, trigger, crm).await?;
    }
    Ok(())
}

async fn start_step(
    deps: &Deps,
    lead: &Lead,
    f: &FollowUp,
    trigger: &Trigger<'_>,
    crm: Option<Crm>,
) -> Result<()> {
    let origin = f.origin();
    let key = match crm {
        Some(crm) => format!("{origin}:{}:{crm}", trigger.id),
        None => format!("{origin}:{}", trigger.id),
    };
    let body = match f.action {
        FollowUpAction::Webhook => String::new(),
        _ => f.text_for(lead.first_name.as_deref()),
    };
    let at = trigger.at;
    let turned_hot = trigger.when == FollowUpTrigger::TurnedHot;
    let text = OutgoingText {
        text_id: text_id(&lead.lead_id, Some(&key))?,
        tenant_id: lead.tenant_id.clone(),
        lead_id: lead.lead_id.clone(),
        request_sha256: SmsEvent::request_digest(&(&lead.lead_id, &origin, &body)),
        body,
        state: TextState::Queued,
        send_at: Some(at + TimeDelta::hours(i64::from(f.after_hours))),
        sid: None,
        event_id: None,
        problem: None,
        origin: Some(origin),
        via: match f.action {
            FollowUpAction::Text => Via::Sms,
            FollowUpAction::Webhook => Via::Webhook,
            FollowUpAction::CrmTask => Via::CrmTask,
        },
        crm,
        call_at: trigger.call_at,
        // A hot lead's step is needed only if no one reaches the lead first; a lead that
        // asked for a call gets its step whatever happens meanwhile.
        unless_touched_since: turned_hot.then_some(at),
        claimed_at: None,
        created_at: at,
        updated_at: at,
        hop: 0,
        version: 0,
    };
    if deps
        .sms
        .get_text(&text.tenant_id, &text.lead_id, &text.text_id)
        .await?
        .is_some()
    {
        return Ok(()); // started when the trigger came before
    }
    let now = Utc::now();
    deps.queue
        .send_after(&hop_job(&text), hop_delay(text.send_at.unwrap_or(now), now))
        .await?;
    match deps.sms.put_text(&text).await {
        Ok(text) => {
            info!(text = %text.text_id, follow_up = %f.id, via = ?text.via, "follow-up step queued");
            Ok(())
        }
        Err(Error::Concurrent(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Take a claimed step that is not a text (`Sending`): raise its event, or make its task and
/// note it in the lead's log. A CRM's refusal (or none connected) fails the step, naming
/// why; no answer leaves it claimed for its job's next try after the lease.
pub(super) async fn take_step(
    deps: &Deps,
    lead: &Lead,
    mut step: OutgoingText,
    now: DateTime<Utc>,
) -> Result<OutgoingText> {
    debug_assert_eq!(step.state, TextState::Sending);
    let follow_up = step
        .origin
        .as_deref()
        .and_then(|o| o.strip_prefix("follow-up:"))
        .unwrap_or_default()
        .to_owned();
    match step.via {
        Via::Webhook => {
            let (when, since) = match step.unless_touched_since {
                Some(since) => (FollowUpTrigger::TurnedHot, since),
                None => (FollowUpTrigger::AskedForACall, step.created_at),
            };
            let due = step.send_at.unwrap_or(step.created_at);
            let event = super::webhooks::follow_up_due(
                lead,
                &step.text_id,
                &follow_up,
                when,
                since,
                step.call_at,
                due,
            );
            // Delivered once per subscription whatever how often this runs (the event's id
            // comes from the step's).
            super::webhooks::emit(deps, &lead.tenant_id, std::slice::from_ref(&event)).await?;
            info!(text = %step.text_id, event = %event.event_id, "follow-up raised its webhook");
            step.state = TextState::Sent;
        }
        Via::CrmTask => {
            let due = step.call_at.unwrap_or(now);
            let Some(crm) = step.crm else {
                return fail(
                    deps,
                    step,
                    "no CRM is connected: connect one (PUT /integrations/{crm}) for call tasks",
                    now,
                )
                .await;
            };
            let body = task_body(lead, &step, due);
            let draft = TaskDraft {
                subject: &step.body,
                body: &body,
                due_at: due,
            };
            match super::crm::make_task(deps, lead, crm, &draft).await {
                Ok(TaskMade::Made(task_id)) => {
                    step.state = TextState::Sent;
                    step.event_id = Some(format!("task:{}", step.text_id));
                    step.sid = Some(task_id.clone());
                    step.updated_at = now;
                    step.claimed_at = None;
                    let step = deps.sms.put_text(&step).await?;
                    let noted = SmsEvent {
                        tenant_id: step.tenant_id.clone(),
                        lead_id: step.lead_id.clone(),
                        event_id: format!("task:{}", step.text_id),
                        at: now,
                        kind: SmsEventKind::TaskCreated {
                            crm,
                            task_id,
                            subject: step.body.clone(),
                            due_at: due,
                            follow_up,
                        },
                        request_sha256: None,
                    };
                    super::sms::log_event(deps, noted).await?;
                    return Ok(step);
                }
                // Nothing was asked: back in the queue until the limit lets it through.
                Ok(TaskMade::Wait(wait)) => {
                    let next = now
                        + TimeDelta::from_std(wait)
                            .unwrap_or_default()
                            .max(TimeDelta::seconds(1));
                    step.state = TextState::Queued;
                    step.send_at = Some(next);
                    step.claimed_at = None;
                    step.hop += 1;
                    step.updated_at = now;
                    deps.queue
                        .send_after(&hop_job(&step), hop_delay(next, now))
                        .await?;
                    return deps.sms.put_text(&step).await;
                }
                Err(Error::Validation(why)) => return fail(deps, step, &why, now).await,
                Err(e) => return Err(e),
            }
        }
        Via::Sms => {
            return Err(Error::internal(
                "a text was taken as a follow-up step",
                step.text_id,
            ));
        }
    }
    step.claimed_at = None;
    step.updated_at = now;
    deps.sms.put_text(&step).await
}

/// A step that cannot be taken: `Failed`, naming why.
async fn fail(
    deps: &Deps,
    mut step: OutgoingText,
    why: &str,
    now: DateTime<Utc>,
) -> Result<OutgoingText> {
    warn!(text = %step.text_id, "follow-up step failed");
    step.state = TextState::Failed;
    step.problem = Some(why.to_owned());
    step.claimed_at = None;
    step.updated_at = now;
    deps.sms.put_text(&step).await
}

/// What a task says beyond its subject: why it was made and when the lead wants the call,
/// and where the lead's score and log are.
fn task_body(lead: &Lead, step: &OutgoingText, due: DateTime<Utc>) -> String {
    let zone = crate::scoring::caller::CallerPlace::of(&lead.phone_number)
        .tz
        .unwrap_or(chrono_tz::UTC);
    let local = |at: DateTime<Utc>| at.with_timezone(&zone).format("%a %-d %b %H:%M %Z");
    let why = match (step.unless_touched_since, step.call_at) {
        (Some(since), _) => format!(
            "Turned hot at {}, and no one has texted or called since.",
            local(since)
        ),
        (None, Some(_)) => format!(
            "Asked by text for a call at {} (the lead's time).",
            local(due)
        ),
        (None, None) => "Asked by text for a call, with no time named: call soon.".to_owned(),
    };
    let score = match (lead.lead_score, lead.tier) {
        (Some(score), Some(tier)) => format!(" Score {score} ({}).", tier.as_str()),
        _ => String::new(),
    };
    format!(
        "{why}{score} Phone {}. leadscore lead {}.",
        lead.phone_number, lead.lead_id
    )
}
