//! Texts the product sends (`POST /leads/{id}/texts`). Each is held first to the law and the
//! tenant's rules (`sms::send`), then recorded (`OutgoingText`) before anything goes to
//! Twilio, so that it is sent once however the request, the job or the process fares:
//!
//! - A retried request with the same `Idempotency-Key` finds the record and gets its answer.
//! - A text asked for in the lead's quiet hours is refused, or queued for the next allowed
//!   minute when the tenant says so. A queue holds a job at most 15 minutes, so the job hops
//!   until the minute comes; only the job of the record's current hop moves it on, so a
//!   duplicated job dies at its next hop. When the minute comes, the rules are asked again:
//!   a lead who opted out meanwhile is not texted.
//! - The record is claimed (`Sending`) by a compare-and-set before the request to Twilio, so
//!   two workers never both send it. Twilio's refusal marks it `Failed` (a retry tries again);
//!   an answer that never came leaves it `Sending`, and the next look after
//!   [`SENDING_LEASE`] asks Twilio's Messages list whether it took the text before sending it
//!   again (Twilio's create has no idempotency key of its own).
//! - Once Twilio took it, the record says so, then the lead's log has it under `msg:<sid>`;
//!   a retry after a crash between the two writes the log entry it missed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::Deps;
use crate::domain::{
    Counter, Lead, LeadId, OutgoingText, QuietHours, SmsDirection, SmsEvent, SmsEventKind,
    SmsMessage, TenantId, TextState, TextingRules, Via,
};
use crate::error::{Error, Result};
use crate::ports::Job;
use crate::sms::{self, send::Refusal};

use super::sms::{MAX_TEXT_CHARS, TwilioAccount, existing_lead};

/// How long a claimed text may wait for Twilio's answer before the next look asks Twilio
/// whether it took it: three times the longest a request to Twilio waits (10 s).
pub const SENDING_LEASE: TimeDelta = TimeDelta::seconds(30);

/// The longest a queue holds a job (SQS: 15 minutes): a longer wait is made of hops.
const MAX_HOP: TimeDelta = TimeDelta::minutes(15);

/// A text to send to a lead through the tenant's Twilio account (`POST /leads/{id}/texts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"body": "Hi Dana, this is Maya from Summit Roofing: does Thursday 10:00 suit for the inspection?"}))]
pub struct TextDraft {
    /// 1 to 1,600 characters.
    pub body: String,
}

/// A text as a request left it, and whether an earlier request with the same key made it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub text: OutgoingText,
    pub replayed: bool,
}

/// What sending needs from the tenant: its rules, its number and its account.
struct Sender {
    rules: TextingRules,
    from: String,
    account_sid: String,
    auth_token: String,
}

impl Sender {
    async fn load(deps: &Deps, tenant: &TenantId) -> Result<Self> {
        let rules = super::settings::load(deps, tenant).await?.texting;
        let from = rules.from.clone().ok_or_else(|| {
            Error::validation(
                "settings.texting.from: set the Twilio number (or Messaging Service SID) texts \
                 come from (PATCH /settings)",
            )
        })?;
        let account = TwilioAccount::load(deps, tenant).await?;
        let Some((account_sid, auth_token)) =
            account.and_then(|a| Some((a.account_sid?, a.auth_token)))
        else {
            return Err(Error::validation(
                "Twilio: sending needs the account SID and auth token (PUT /settings/twilio \
                 with account_sid)",
            ));
        };
        Ok(Self {
            rules,
            from,
            account_sid,
            auth_token,
        })
    }

    /// Whether the law and the tenant's rules let a text go to `lead` at `now`.
    fn judge(&self, lead: &Lead, now: DateTime<Utc>) -> std::result::Result<(), Refusal> {
        let place = crate::scoring::caller::CallerPlace::of(&lead.phone_number);
        sms::send::judge(lead.sms.as_ref(), &place, &self.rules, now)
    }

    fn refused(&self, lead: &Lead, refusal: &Refusal) -> Error {
        let place = crate::scoring::caller::CallerPlace::of(&lead.phone_number);
        Error::Refused {
            rule: refusal.slug(),
            message: refusal.explain(self.rules.window_in(place.state)),
        }
    }
}

/// The record's id: a digest of the lead and the client's key (so a retry finds it, and the
/// same key for another lead is another text), else a new one.
pub(super) fn text_id(lead: &LeadId, key: Option<&str>) -> Result<String> {
    use sha2::{Digest, Sha256};
    match key {
        Some(k) if !k.is_empty() && k.len() <= 100 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            let digest = Sha256::digest(format!("{lead}\n{k}"));
            Ok(format!("txt_{}", hex::encode(&digest[..16])))
        }
        Some(_) => Err(Error::validation(
            "Idempotency-Key: 1-100 visible ASCII characters",
        )),
        None => Ok(format!("txt_{}", uuid::Uuid::now_v7().simple())),
    }
}

/// Send a text to a lead now if the rules allow it, else refuse it naming the rule (or queue
/// it for the next allowed minute, when the tenant queues texts asked for in quiet hours).
/// `key` (the client's `Idempotency-Key`) makes a retried request count once.
pub async fn send_text(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    draft: TextDraft,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let lead = existing_lead(deps, tenant, lead_id).await?;
    let length = draft.body.chars().count();
    if draft.body.trim().is_empty() || length > MAX_TEXT_CHARS {
        return Err(Error::validation(format!(
            "body: {length} characters; a text has 1 to 1,600"
        )));
    }
    let id = text_id(lead_id, key)?;
    let digest = SmsEvent::request_digest(&(lead_id, &draft));
    if let Some(stored) = deps.sms.get_text(tenant, lead_id, &id).await? {
        return replay(deps, stored, &digest, key, now).await;
    }
    let sender = Sender::load(deps, tenant).await?;
    let mut text = OutgoingText {
        text_id: id,
        tenant_id: tenant.clone(),
        lead_id: lead_id.clone(),
        body: draft.body,
        state: TextState::Sending,
        send_at: None,
        sid: None,
        event_id: None,
        problem: None,
        origin: None,
        via: Via::Sms,
        crm: None,
        call_at: None,
        unless_touched_since: None,
        claimed_at: Some(now),
        created_at: now,
        updated_at: now,
        request_sha256: digest.clone(),
        hop: 0,
        version: 0,
    };
    match sender.judge(&lead, now) {
        Ok(()) => {}
        Err(Refusal::QuietHours { next, .. })
            if sender.rules.in_quiet_hours == QuietHours::Queue =>
        {
            text.state = TextState::Queued;
            text.send_at = Some(next);
            text.claimed_at = None;
            // The job first: a record without its job would wait for ever, and a job that
            // comes before its record is written is tried again.
            deps.queue
                .send_after(&hop_job(&text), hop_delay(next, now))
                .await?;
            let text = match deps.sms.put_text(&text).await {
                Ok(text) => text,
                Err(Error::Concurrent(_)) => return retried(deps, &text, &digest, key, now).await,
                Err(e) => return Err(e),
            };
            info!(text = %text.text_id, send_at = %next, "text queued for the lead's next allowed minute");
            return Ok(Outcome {
                text,
                replayed: false,
            });
        }
        Err(refusal) => {
            info!(rule = refusal.slug(), "text refused");
            return Err(sender.refused(&lead, &refusal));
        }
    }
    let text = match deps.sms.put_text(&text).await {
        Ok(text) => text,
        Err(Error::Concurrent(_)) => return retried(deps, &text, &digest, key, now).await,
        Err(e) => return Err(e),
    };
    let (tenant_id, lead_id, text_id, hop) = (
        text.tenant_id.clone(),
        text.lead_id.clone(),
        text.text_id.clone(),
        text.hop,
    );
    match deliver(deps, &sender, &lead, text, now).await {
        Ok(text) => Ok(Outcome {
            text,
            replayed: false,
        }),
        Err(lost @ Error::Transient { .. }) => {
            // The answer was lost: the text may have gone. Settled after the lease whether or
            // not the client asks again (`send_queued` looks at Twilio and records what it
            // finds, sending nothing the client did not ask for twice).
            let check = Job::SendText {
                tenant_id,
                lead_id,
                text_id,
                hop,
            };
            let after = (SENDING_LEASE + TimeDelta::seconds(5))
                .to_std()
                .unwrap_or_default();
            if let Err(e) = deps.queue.send_after(&check, after).await {
                warn!(error = %e, "the check of a text whose answer was lost is not queued");
            }
            Err(lost)
        }
        Err(e) => Err(e),
    }
}

/// A concurrent request with the same key stored its text first: answer with it.
async fn retried(
    deps: &Deps,
    text: &OutgoingText,
    digest: &str,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    match deps
        .sms
        .get_text(&text.tenant_id, &text.lead_id, &text.text_id)
        .await?
    {
        Some(stored) => replay(deps, stored, digest, key, now).await,
        None => Err(Error::concurrent(format!(
            "text {} was stored and removed by another request",
            text.text_id
        ))),
    }
}

/// A request whose key made a text before: the same request gets the text as it stands now
/// (finishing what the first request left half-done); another request is refused.
async fn replay(
    deps: &Deps,
    stored: OutgoingText,
    digest: &str,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    if stored.request_sha256 != digest {
        return Err(Error::KeyReused(format!(
            "Idempotency-Key `{}` was used before with another text (another body or another \
             lead); that request's result stands and nothing was sent now. Use a new key for \
             a new text",
            key.unwrap_or_default()
        )));
    }
    let text = match stored.state {
        TextState::Sent => {
            // The first request may have stopped between the record and the log.
            log_sent(deps, &stored).await?;
            stored
        }
        TextState::Queued | TextState::Cancelled => stored,
        // Nothing went: a retry tries again, as a new request would.
        TextState::Failed => {
            let lead = existing_lead(deps, &stored.tenant_id, &stored.lead_id).await?;
            let sender = Sender::load(deps, &stored.tenant_id).await?;
            if let Err(refusal) = sender.judge(&lead, now) {
                return Err(sender.refused(&lead, &refusal));
            }
            let claimed = claim(deps, stored, now).await?;
            deliver(deps, &sender, &lead, claimed, now).await?
        }
        // The client asks again: sent now if Twilio never took it.
        TextState::Sending => settle_sending(deps, stored, now, true).await?,
    };
    Ok(Outcome {
        text,
        replayed: true,
    })
}

/// A text left `Sending`: still in flight within the lease (`Concurrent`, try again shortly);
/// after it, looked for at Twilio and recorded as sent if Twilio took it. If Twilio did not,
/// it is sent again when `resend` (the client asked again, or the product owns the send: a
/// queued text or a follow-up), else recorded `Failed`: nothing went, and the client's retry
/// with the same key sends it.
async fn settle_sending(
    deps: &Deps,
    stored: OutgoingText,
    now: DateTime<Utc>,
    resend: bool,
) -> Result<OutgoingText> {
    if now < stored.updated_at + SENDING_LEASE {
        return Err(Error::concurrent(format!(
            "text {} is being sent; ask again in {} seconds",
            stored.text_id,
            SENDING_LEASE.num_seconds()
        )));
    }
    let lead = existing_lead(deps, &stored.tenant_id, &stored.lead_id).await?;
    let sender = Sender::load(deps, &stored.tenant_id).await?;
    // Twilio's dates are whole seconds, and clocks differ: a minute's margin.
    let since = stored.claimed_at.unwrap_or(stored.created_at) - TimeDelta::minutes(1);
    let text = claim(deps, stored, now).await?;
    let request = sms::messages::lookup(
        &deps.config.twilio_api_url,
        &sender.account_sid,
        &sender.auth_token,
        lead.phone_number.as_str(),
    );
    let response = deps
        .http
        .send(&request)
        .await
        .map_err(|why| Error::transient(format!("Twilio did not answer: {why}"), "Twilio"))?;
    match sms::messages::find(&response, &text.body, since)? {
        Some(sent) => {
            info!(text = %text.text_id, sid = %sent.sid, "a text whose answer was lost had gone");
            sent_as(deps, text, sent, now).await
        }
        None if !resend => {
            info!(text = %text.text_id, "a text whose answer was lost had not gone");
            let mut left = text;
            left.state = TextState::Failed;
            left.problem = Some(
                "Twilio did not answer, and its Messages list shows it did not take the text: \
                 nothing went. The same request (same Idempotency-Key) sends it"
                    .to_owned(),
            );
            left.claimed_at = None;
            left.updated_at = now;
            deps.sms.put_text(&left).await
        }
        None => {
            // Twilio never took it: the rules are asked again, as time has passed.
            if let Err(refusal) = sender.judge(&lead, now) {
                return cancel(deps, text, &sender, &lead, &refusal, now).await;
            }
            deliver(deps, &sender, &lead, text, now).await
        }
    }
}

/// Claim a stored text for sending (`Sending`, now): `Concurrent` when another request or job
/// changed it first. Claimed again while `Sending` (its answer lost), it keeps the time its
/// attempt began, where the look at Twilio starts.
async fn claim(deps: &Deps, mut text: OutgoingText, now: DateTime<Utc>) -> Result<OutgoingText> {
    if text.state != TextState::Sending || text.claimed_at.is_none() {
        text.claimed_at = Some(now);
    }
    text.state = TextState::Sending;
    text.problem = None;
    text.updated_at = now;
    deps.sms.put_text(&text).await
}

/// Send a claimed text to Twilio and record what came of it. A refusal marks it `Failed`,
/// except Twilio's 429 (slow down) for a queued text, which waits again (`Queued`) for its
/// job to come back.
async fn deliver(
    deps: &Deps,
    sender: &Sender,
    lead: &Lead,
    text: OutgoingText,
    now: DateTime<Utc>,
) -> Result<OutgoingText> {
    debug_assert_eq!(text.state, TextState::Sending);
    let callback = deps.config.public_url.as_deref().map(|base| {
        format!(
            "{}/twilio/{}/status",
            base.trim_end_matches('/'),
            text.tenant_id
        )
    });
    let request = sms::messages::request(
        &deps.config.twilio_api_url,
        &sms::messages::Outgoing {
            account_sid: &sender.account_sid,
            auth_token: &sender.auth_token,
            from: &sender.from,
            to: lead.phone_number.as_str(),
            body: &text.body,
            status_callback: callback.as_deref(),
        },
    );
    // No answer, or one that says nothing definite (5xx): Twilio may have taken the text, so
    // it stays `Sending` for the next look to find out.
    let response = deps.http.send(&request).await.map_err(|why| {
        Error::transient(
            format!(
                "Twilio did not answer ({why}); the text may have gone: the same request (same \
                 Idempotency-Key) after {} seconds finds out, and sends it only if it did not",
                SENDING_LEASE.num_seconds()
            ),
            "Twilio",
        )
    })?;
    match sms::messages::answer(&response) {
        Ok(sent) => sent_as(deps, text, sent, now).await,
        Err(e) if response.status >= 500 => Err(Error::transient(
            format!(
                "{e}; the text may have gone: the same request (same Idempotency-Key) after \
                 {} seconds finds out, and sends it only if it did not",
                SENDING_LEASE.num_seconds()
            ),
            "Twilio",
        )),
        // Twilio refused it (4xx, 429): nothing went.
        Err(refusal) => {
            warn!(text = %text.text_id, status = response.status, "Twilio refused a text");
            let mut left = text;
            left.state = if response.status == 429 && left.send_at.is_some() {
                TextState::Queued
            } else {
                TextState::Failed
            };
            left.problem = Some(refusal.to_string());
            left.claimed_at = None;
            left.updated_at = now;
            deps.sms.put_text(&left).await?;
            Err(refusal)
        }
    }
}

/// Twilio took the text: record it, then log it on the lead.
async fn sent_as(
    deps: &Deps,
    mut text: OutgoingText,
    sent: sms::messages::Sent,
    now: DateTime<Utc>,
) -> Result<OutgoingText> {
    info!(text = %text.text_id, sid = %sent.sid, status = %sent.status, "text sent");
    text.state = TextState::Sent;
    text.event_id = Some(format!("msg:{}", sent.sid));
    text.sid = Some(sent.sid);
    text.updated_at = now;
    let text = deps.sms.put_text(&text).await?;
    log_sent(deps, &text).await?;
    super::usage::count(deps, &text.tenant_id, Counter::TextsProcessed, 1).await;
    Ok(text)
}

/// The lead's log entry for a sent text (once: a second append of its id changes nothing).
async fn log_sent(deps: &Deps, text: &OutgoingText) -> Result<()> {
    let (Some(sid), Some(event_id)) = (&text.sid, &text.event_id) else {
        return Ok(());
    };
    let ev = SmsEvent {
        tenant_id: text.tenant_id.clone(),
        lead_id: text.lead_id.clone(),
        event_id: event_id.clone(),
        at: text.updated_at,
        kind: SmsEventKind::Message(SmsMessage {
            sid: sid.clone(),
            direction: SmsDirection::Outbound,
            body: text.body.clone(),
            media: Vec::new(),
            // Twilio's later statuses arrive by its callback and update the entry.
            status: Some("queued".to_owned()),
            intents: Vec::new(),
            keyword: None,
            source: "twilio-api".to_owned(),
        }),
        request_sha256: None,
    };
    super::sms::log_event(deps, ev).await
}

/// A queued text no longer allowed when its minute came: cancelled, naming the rule.
async fn cancel(
    deps: &Deps,
    mut text: OutgoingText,
    sender: &Sender,
    lead: &Lead,
    refusal: &Refusal,
    now: DateTime<Utc>,
) -> Result<OutgoingText> {
    info!(text = %text.text_id, rule = refusal.slug(), "queued text cancelled");
    text.state = TextState::Cancelled;
    text.problem = Some(sender.refused(lead, refusal).to_string());
    text.updated_at = now;
    deps.sms.put_text(&text).await
}

pub(super) fn hop_job(text: &OutgoingText) -> Job {
    Job::SendText {
        tenant_id: text.tenant_id.clone(),
        lead_id: text.lead_id.clone(),
        text_id: text.text_id.clone(),
        hop: text.hop,
    }
}

pub(super) fn hop_delay(send_at: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (send_at - now)
        .clamp(TimeDelta::zero(), MAX_HOP)
        .to_std()
        .unwrap_or_default()
}

/// The job of a queued text (`Job::SendText`): hop on until its minute, then send it if the
/// rules still allow it. Only the job of the record's current hop acts; a copy of an earlier
/// hop's job changes nothing.
pub async fn send_queued(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    text_id: &str,
    hop: u32,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(text) = deps.sms.get_text(tenant, lead_id, text_id).await? else {
        if deps.leads.get_lead(tenant, lead_id).await?.is_none() {
            return Ok(()); // erased with its lead
        }
        // Its job is sent before the record is written: the record is on its way, or the
        // request that queued it failed (then its tries run out).
        return Err(Error::concurrent(format!(
            "text {text_id} is not recorded yet"
        )));
    };
    match text.state {
        TextState::Sent | TextState::Failed | TextState::Cancelled => return Ok(()),
        // A worker stopped mid-send (its job came again), or the check queued when a direct
        // send's answer was lost: finish it once the lease is over. A queued text or a
        // follow-up is the product's to send; a direct one is the client's (not sent twice
        // unasked).
        TextState::Sending if text.via.is_sms() => {
            let resend = text.send_at.is_some() || text.origin.is_some();
            return settle_sending(deps, text, now, resend).await.map(|_| ());
        }
        // A follow-up's webhook or task whose worker stopped: taken again after the lease.
        TextState::Sending => {
            if now < text.updated_at + SENDING_LEASE {
                return Err(Error::concurrent(format!(
                    "follow-up step {text_id} is under way"
                )));
            }
        }
        TextState::Queued => {}
    }
    if hop < text.hop {
        return Ok(()); // a copy of a job whose hop was taken
    }
    if hop > text.hop {
        // Sent before the hop it carries was recorded (that write is next, or was lost with
        // its process, whose job comes again): try once more later.
        return Err(Error::concurrent(format!(
            "text {text_id}: hop {hop} is not recorded yet"
        )));
    }
    let send_at = text.send_at.unwrap_or(now);
    if send_at > now + TimeDelta::seconds(1) {
        // Not yet: the next hop is sent, then recorded, so a process lost between the two
        // leaves this job to come again and send it once more (the copy dies at its hop).
        let mut next = text.clone();
        next.hop += 1;
        next.updated_at = now;
        deps.queue
            .send_after(&hop_job(&next), hop_delay(send_at, now))
            .await?;
        return match deps.sms.put_text(&next).await {
            Ok(_) | Err(Error::Concurrent(_)) => Ok(()),
            Err(e) => Err(e),
        };
    }
    let lead = match deps.leads.get_lead(tenant, lead_id).await? {
        Some(lead) => lead,
        None => return Ok(()),
    };
    if let Some(since) = text.unless_touched_since
        && text.state == TextState::Queued
        && let Some(touch) = touched_since(deps, &lead, since).await?
    {
        info!(text = %text.text_id, "follow-up not needed: the lead was reached");
        let mut done = text;
        done.state = TextState::Cancelled;
        done.problem = Some(format!("not needed: {touch}"));
        done.updated_at = now;
        return match deps.sms.put_text(&done).await {
            Ok(_) | Err(Error::Concurrent(_)) => Ok(()),
            Err(e) => Err(e),
        };
    }
    if !text.via.is_sms() {
        // A webhook or a task: nothing goes to the lead, so the texting rules do not apply.
        let claimed = match claim(deps, text, now).await {
            Ok(step) => step,
            Err(Error::Concurrent(_)) => return Ok(()), // another copy claimed it
            Err(e) => return Err(e),
        };
        return match super::follow_ups::take_step(deps, &lead, claimed, now).await {
            Ok(_) | Err(Error::Concurrent(_)) => Ok(()),
            Err(e) => Err(e),
        };
    }
    let sender = Sender::load(deps, tenant).await?;
    match sender.judge(&lead, now) {
        Ok(()) => {}
        // The window moved while it waited (or a follow-up's hour fell in the lead's night):
        // wait for the next allowed minute.
        Err(Refusal::QuietHours { next, .. })
            if sender.rules.in_quiet_hours == QuietHours::Queue || text.origin.is_some() =>
        {
            let mut later = text;
            later.send_at = Some(next);
            later.hop += 1;
            later.updated_at = now;
            deps.queue
                .send_after(&hop_job(&later), hop_delay(next, now))
                .await?;
            return match deps.sms.put_text(&later).await {
                Ok(_) | Err(Error::Concurrent(_)) => Ok(()),
                Err(e) => Err(e),
            };
        }
        Err(refusal) => {
            return match cancel(deps, text, &sender, &lead, &refusal, now).await {
                Ok(_) | Err(Error::Concurrent(_)) => Ok(()),
                Err(e) => Err(e),
            };
        }
    }
    let claimed = match claim(deps, text, now).await {
        Ok(text) => text,
        Err(Error::Concurrent(_)) => return Ok(()), // another copy claimed it
        Err(e) => return Err(e),
    };
    match deliver(deps, &sender, &lead, claimed, now).await {
        Ok(_) => Ok(()),
        // Twilio refused it: recorded as failed, nothing to retry.
        Err(Error::Validation(_) | Error::Forbidden(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether anyone texted or called the lead after `since`: what the reason says, if so.
async fn touched_since(deps: &Deps, lead: &Lead, since: DateTime<Utc>) -> Result<Option<String>> {
    if let Some(called) = lead.last_called_at.filter(|at| *at > since) {
        return Ok(Some(format!("a call at {}", rfc3339(called))));
    }
    let texted = deps
        .sms
        .sms_events_since(&lead.tenant_id, &lead.lead_id, since)
        .await?
        .into_iter()
        .find(|e| {
            e.at > since
                && matches!(&e.kind, SmsEventKind::Message(m) if m.direction == SmsDirection::Outbound)
        });
    Ok(texted.map(|e| format!("a text at {}", rfc3339(e.at))))
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A survey put to a lead (`POST /leads/{id}/surveys`): its run, its first question, and,
/// when the tenant sends texts (a number and an account), that question sent (or queued for
/// the lead's next allowed minute) as any text is. A lead the rules forbid texting now is
/// refused before the survey starts.
pub async fn start_survey(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    survey_id: &str,
    now: DateTime<Utc>,
) -> Result<(String, String, Option<OutgoingText>)> {
    let sender = match Sender::load(deps, tenant).await {
        Ok(sender) => Some(sender),
        // Not set up to send: the question is handed back for the tenant to send.
        Err(Error::Validation(_)) => None,
        Err(e) => return Err(e),
    };
    if let Some(sender) = &sender {
        let lead = existing_lead(deps, tenant, lead_id).await?;
        match sender.judge(&lead, now) {
            Ok(()) => {}
            Err(Refusal::QuietHours { .. }) if sender.rules.in_quiet_hours == QuietHours::Queue => {
            }
            Err(refusal) => return Err(sender.refused(&lead, &refusal)),
        }
    }
    let (run_id, question) =
        super::sms::start_survey(deps, tenant, lead_id, survey_id, now).await?;
    let text = match sender {
        Some(_) => {
            let draft = TextDraft {
                body: question.clone(),
            };
            let key = format!("survey:{run_id}");
            Some(
                send_text(deps, tenant, lead_id, draft, Some(&key), now)
                    .await?
                    .text,
            )
        }
        None => None,
    };
    Ok((run_id, question, text))
}

/// The most texts `GET /leads/{id}/texts` answers with, the newest.
pub const TEXTS_LISTED: usize = 100;

/// The texts sent or queued to a lead, newest first (at most [`TEXTS_LISTED`]).
pub async fn list_texts(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
) -> Result<Vec<OutgoingText>> {
    existing_lead(deps, tenant, lead_id).await?;
    let mut texts = deps.sms.texts_for_lead(tenant, lead_id).await?;
    texts.truncate(TEXTS_LISTED);
    Ok(texts)
}

/// A queued text's job failed for good: a text still waiting is marked failed, so the tenant
/// sees it did not go. (One left `Sending` may have gone, and stays as it is.)
pub async fn give_up(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    text_id: &str,
    reason: &str,
) -> Result<()> {
    let Some(mut text) = deps.sms.get_text(tenant, lead_id, text_id).await? else {
        return Ok(());
    };
    // A follow-up's webhook or task left claimed has no answer to look for: it failed too
    // (a task whose CRM's answer was lost may have been made).
    let stuck = text.state == TextState::Sending && !text.via.is_sms();
    if text.state != TextState::Queued && !stuck {
        return Ok(());
    }
    text.state = TextState::Failed;
    text.problem = Some(match text.via {
        Via::Sms => format!("not sent: {reason}"),
        Via::Webhook | Via::CrmTask => format!("not done: {reason}"),
    });
    text.claimed_at = None;
    text.updated_at = Utc::now();
    match deps.sms.put_text(&text).await {
        Ok(_) | Err(Error::Concurrent(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A text the product sent or will send to a lead (`GET /leads/{id}/texts/{text_id}`).
pub async fn get_text(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    text_id: &str,
) -> Result<OutgoingText> {
    deps.sms
        .get_text(tenant, lead_id, text_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("text {text_id} of lead {lead_id}")))
}
