//! Texting: Twilio's inbound messages and status callbacks, messages logged through the API,
//! consent, tracked links and surveys. Each puts events in the lead's SMS log (each event id
//! once), folds the log into the lead's engagement, and queues a re-score naming the event.
//! A replayed request adds nothing and gets the same answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::Deps;
use crate::domain::{
    ConsentAction, ConsentChange, ConsentDraft, Counter, Lead, LeadId, LinkDraft, NewLead,
    PhoneNumber, ScoreCause, SmsDirection, SmsEvent, SmsEventKind, SmsMessage, Survey, TenantId,
    TenantSettings, TrackedLink,
};
use crate::error::{Error, Result};
use crate::ports::{Job, SecretName};
use crate::sms::twilio::{Inbound, StatusCallback};
use crate::sms::{self, Folded, SmsFold, intent};

/// A tenant's Twilio credentials (`PUT /settings/twilio`), kept apart from its settings so that
/// reading settings never shows the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"auth_token": "0123456789abcdef0123456789abcdef", "account_sid": "AC0123456789abcdef0123456789abcdef"}))]
pub struct TwilioAccount {
    /// The auth token that signs the account's webhooks (and authenticates its sends).
    pub auth_token: String,
    /// When set, webhooks from any other account are refused, and texts can be sent
    /// (`POST /leads/{id}/texts`) through this account.
    #[serde(default)]
    pub account_sid: Option<String>,
}

impl TwilioAccount {
    pub fn validate(&self) -> Result<()> {
        let t = self.auth_token.trim();
        if t.len() < 16 || t.len() > 128 || t.chars().any(char::is_whitespace) {
            return Err(Error::validation(
                "auth_token: the account's auth token (Twilio console, Account Info), 16 to 128 characters",
            ));
        }
        if let Some(sid) = &self.account_sid
            && !(sid.starts_with("AC")
                && sid.len() == 34
                && sid.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(Error::validation(format!(
                "account_sid: `{sid}` is not an account SID (AC and 32 characters)"
            )));
        }
        Ok(())
    }

    pub async fn save(&self, deps: &Deps, tenant: &TenantId) -> Result<()> {
        self.validate()?;
        deps.secrets
            .put_secret(tenant, &SecretName::twilio(), &serde_json::to_string(self)?)
            .await
    }

    /// The tenant's account, or the deployment's token (`TWILIO_AUTH_TOKEN`) when it has saved
    /// none; `None` when neither exists.
    pub async fn load(deps: &Deps, tenant: &TenantId) -> Result<Option<Self>> {
        match deps
            .secrets
            .get_secret(tenant, &SecretName::twilio())
            .await?
        {
            // The parser's message could quote the token: it is not passed on.
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|_| {
                Error::internal(
                    format!("the Twilio account saved for {tenant} is damaged"),
                    "not the JSON of a Twilio account",
                )
            }),
            None => Ok(deps
                .config
                .twilio_auth_token
                .clone()
                .map(|auth_token| Self {
                    auth_token,
                    account_sid: None,
                })),
        }
    }
}

/// The tenant's lead for the other party of a text, created (source `sms`) if the number is new.
async fn lead_for_number(deps: &Deps, tenant: &TenantId, raw: &str) -> Result<Lead> {
    let phone = PhoneNumber::parse_with_region(raw, Some(&deps.config.default_region))
        .map_err(|e| e.context("From/To"))?;
    let details = NewLead {
        phone_number: phone.to_string(),
        source: Some("sms".to_owned()),
        ..NewLead::default()
    };
    super::lead_for(deps, tenant, &phone, &details).await
}

fn event(lead: &Lead, event_id: String, at: DateTime<Utc>, kind: SmsEventKind) -> SmsEvent {
    SmsEvent {
        tenant_id: lead.tenant_id.clone(),
        lead_id: lead.lead_id.clone(),
        event_id,
        at,
        kind,
        request_sha256: None,
    }
}

/// An inbound text: logged once by its `MessageSid`, with its consent keyword and intents.
/// Returns the text to send back (a survey's next question), if any.
pub async fn receive(
    deps: &Deps,
    tenant: &TenantId,
    msg: Inbound,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let lead = lead_for_number(deps, tenant, &msg.from).await?;
    let (keyword, intents) = intent::analyze(&msg.body);
    let message_event = format!("msg:{}", msg.sid);
    let stop_in_words = intents.iter().any(|i| i.intent == "stop");
    let consent = match (keyword, stop_in_words) {
        (Some((action, word)), _) => Some(ConsentChange {
            action,
            via: "keyword".to_owned(),
            message_sid: Some(msg.sid.clone()),
            evidence: word.to_owned(),
            by: None,
        }),
        // "Please stop texting me" revokes consent as surely as STOP does.
        (None, true) => Some(ConsentChange {
            action: ConsentAction::OptOut,
            via: "reply".to_owned(),
            message_sid: Some(msg.sid.clone()),
            evidence: msg.body.clone(),
            by: None,
        }),
        (None, false) => None,
    };
    let logged = event(
        &lead,
        message_event.clone(),
        now,
        SmsEventKind::Message(SmsMessage {
            sid: msg.sid.clone(),
            direction: SmsDirection::Inbound,
            body: msg.body.clone(),
            media: msg.media.clone(),
            status: None,
            intents,
            keyword: keyword.map(|(_, k)| k.to_owned()),
            source: "twilio".to_owned(),
        }),
    );
    let fresh = deps.sms.append_sms_event(&logged).await?;
    if fresh {
        super::usage::count(deps, tenant, Counter::TextsProcessed, 1).await;
    }
    if !fresh {
        info!(tenant = %tenant, sid = %msg.sid, "a replayed message: already logged");
    }
    // The rest is idempotent, so a replay finishes what a crash interrupted.
    // A replay keeps the time the message was first logged.
    let at = if fresh {
        now
    } else {
        deps.sms
            .sms_events(tenant, &lead.lead_id)
            .await?
            .into_iter()
            .find(|e| e.event_id == message_event)
            .map_or(now, |e| e.at)
    };
    if let Some(change) = consent {
        let opts_out = change.action == ConsentAction::OptOut;
        let ev = event(
            &lead,
            format!("consent:{}", msg.sid),
            at,
            SmsEventKind::Consent(change),
        );
        let event_id = ev.event_id.clone();
        deps.sms.append_sms_event(&ev).await?;
        if opts_out {
            // On a replay too: the event's id comes from the message, so it is delivered once.
            let opted_out = super::webhooks::lead_opted_out(&lead, &event_id, at);
            super::webhooks::emit(deps, tenant, &[opted_out]).await?;
        }
    }
    // A text asking for a call starts its follow-ups (once: their ids come from the message).
    super::follow_ups::on_reply(deps, &lead, &SmsEvent { at, ..logged }).await?;
    let settings = super::settings::load(deps, tenant).await?;
    let (fold, folded) = fold_log(deps, tenant, &lead.lead_id, &settings.surveys, at).await?;
    let mut replies = if folded.ids.contains(&message_event) {
        folded.replies
    } else {
        // Folded before (a replayed message, or a concurrent request folded it): the whole
        // log answers it as it did the first time.
        let events = deps.sms.sms_events(tenant, &lead.lead_id).await?;
        sms::SmsFold::replay(&events, &settings.surveys).1.replies
    };
    let opted_out = fold.engagement.opted_out;
    let mut reply = replies.remove(&msg.sid);
    let mut unfolded = None;
    // A survey's trigger word starts it, unless one is under way or the lead opted out.
    if fold.open_run.is_none() && !opted_out && reply.is_none() {
        let word = crate::domain::keyword_form(&msg.body);
        if let Some(survey) = settings.surveys.iter().find(|s| {
            s.trigger
                .as_deref()
                .is_some_and(|t| crate::domain::keyword_form(t) == word)
        }) {
            let ev = event(
                &lead,
                format!("survey:{}", msg.sid),
                at,
                SmsEventKind::SurveyStarted {
                    survey_id: survey.id.clone(),
                    run_id: msg.sid.clone(),
                },
            );
            deps.sms.append_sms_event(&ev).await?;
            reply = Some(survey.questions[0].text.clone());
            unfolded = Some(at);
        }
    }
    settle(
        deps,
        &lead.lead_id,
        tenant,
        &message_event,
        &settings,
        unfolded,
    )
    .await?;
    Ok(if opted_out { None } else { reply })
}

/// A delivery status of an outbound text. A message not seen before (sent from Twilio's console,
/// a CRM, a campaign tool) is logged from its first callback, so replies can be timed against it.
pub async fn delivery_status(
    deps: &Deps,
    tenant: &TenantId,
    cb: StatusCallback,
    now: DateTime<Utc>,
) -> Result<()> {
    let lead = lead_for_number(deps, tenant, &cb.to).await?;
    deps.sms
        .append_sms_event(&event(
            &lead,
            format!("msg:{}", cb.sid),
            now,
            SmsEventKind::Message(SmsMessage {
                sid: cb.sid.clone(),
                direction: SmsDirection::Outbound,
                body: cb.body.clone().unwrap_or_default(),
                media: Vec::new(),
                status: Some(cb.status.clone()),
                intents: Vec::new(),
                keyword: None,
                source: "twilio".to_owned(),
            }),
        ))
        .await?;
    let status_event = format!("status:{}:{}", cb.sid, cb.status);
    deps.sms
        .append_sms_event(&event(
            &lead,
            status_event.clone(),
            now,
            SmsEventKind::Status {
                sid: cb.sid,
                status: cb.status,
                error_code: cb.error_code,
            },
        ))
        .await?;
    let settings = super::settings::load(deps, tenant).await?;
    settle(
        deps,
        &lead.lead_id,
        tenant,
        &status_event,
        &settings,
        Some(now),
    )
    .await?;
    Ok(())
}

/// The longest text, in characters: Twilio's limit on a message body (a concatenated SMS).
pub(crate) const MAX_TEXT_CHARS: usize = 1600;

/// A text the tenant sent some other way (`POST /leads/{id}/messages`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"body": "Hi Dana, here is the quote we talked about.", "id": "SM0123456789abcdef0123456789abcdef"}))]
pub struct OutboundDraft {
    pub body: String,
    /// When it was sent, if not now; not in the future.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The sender's id for the message (a Twilio `MessageSid`, a CRM's id): logging it twice
    /// logs it once.
    #[serde(default)]
    pub id: Option<String>,
}

/// What an API request recorded: its event, and whether an earlier request with the same key
/// had recorded it already (the retry gets the first request's answer).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub event: SmsEvent,
    pub replayed: bool,
}

/// Append an event an API request made. When its id is taken, the stored event answers a retry
/// of the same request (same lead, same body), and anything else is refused with `KeyReused`,
/// recording nothing. Either way the lead's summary is settled, so a request that died half-way
/// is finished by its retry.
async fn append_requested(
    deps: &Deps,
    mut ev: SmsEvent,
    request: &impl Serialize,
    key_name: &str,
) -> Result<Recorded> {
    ev.request_sha256 = Some(SmsEvent::request_digest(request));
    let (event, replayed) = if deps.sms.append_sms_event(&ev).await? {
        (ev, false)
    } else {
        let stored = deps
            .sms
            .sms_events(&ev.tenant_id, &ev.lead_id)
            .await?
            .into_iter()
            .find(|e| e.event_id == ev.event_id);
        match stored {
            Some(stored) if stored.request_sha256 == ev.request_sha256 => (stored, true),
            _ => {
                return Err(Error::KeyReused(format!(
                    "{key_name} was used before with another request (another body or another \
                     lead); that request's result stands and nothing was recorded now. Use a \
                     new key for a new request"
                )));
            }
        }
    };
    let settings = super::settings::load(deps, &event.tenant_id).await?;
    settle(
        deps,
        &event.lead_id,
        &event.tenant_id,
        &event.event_id,
        &settings,
        Some(event.at),
    )
    .await?;
    Ok(Recorded { event, replayed })
}

/// Log an event the product made (a text it sent) on the lead, once by its id, and settle the
/// lead. Appending an id already logged changes nothing, so a retry completes what a stopped
/// process left.
pub(crate) async fn log_event(deps: &Deps, ev: SmsEvent) -> Result<()> {
    deps.sms.append_sms_event(&ev).await?;
    let settings = super::settings::load(deps, &ev.tenant_id).await?;
    settle(
        deps,
        &ev.lead_id,
        &ev.tenant_id,
        &ev.event_id,
        &settings,
        Some(ev.at),
    )
    .await
}

pub async fn log_outbound(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    draft: OutboundDraft,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let lead = existing_lead(deps, tenant, lead_id).await?;
    let request = draft.clone();
    if draft.body.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::validation(
            "body: longer than 1,600 characters, more than a text can carry",
        ));
    }
    let at = not_future("sent_at", draft.sent_at, now)?;
    let sid = match draft.id {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id
        }
        Some(id) => {
            return Err(Error::validation(format!(
                "id: `{id}` must be 1-64 letters, digits, - or _"
            )));
        }
        None => format!("api-{}", uuid::Uuid::now_v7().simple()),
    };
    let key_name = format!("id `{sid}`");
    let ev = event(
        &lead,
        format!("msg:{sid}"),
        at,
        SmsEventKind::Message(SmsMessage {
            sid,
            direction: SmsDirection::Outbound,
            body: draft.body,
            media: Vec::new(),
            status: Some("sent".to_owned()),
            intents: Vec::new(),
            keyword: None,
            source: "api".to_owned(),
        }),
    );
    let recorded = append_requested(deps, ev, &request, &key_name).await?;
    if !recorded.replayed {
        super::usage::count(deps, tenant, Counter::TextsProcessed, 1).await;
    }
    Ok(recorded)
}

fn not_future(field: &str, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let at = at.unwrap_or(now);
    if at > now + chrono::Duration::minutes(5) {
        return Err(Error::validation(format!("{field}: {at} is in the future")));
    }
    Ok(at)
}

/// The lead, or `NotFound` naming it.
pub(super) async fn existing_lead(deps: &Deps, tenant: &TenantId, id: &LeadId) -> Result<Lead> {
    deps.leads
        .get_lead(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("lead {id}")))
}

/// Consent recorded by the tenant (`POST /leads/{id}/consent`). `request_id` (the client's
/// `Idempotency-Key`, scoped to the lead) makes a retried request count once; the same key
/// with another body is refused.
pub async fn record_consent(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    draft: &ConsentDraft,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let lead = existing_lead(deps, tenant, lead_id).await?;
    let (change, at) = draft.validate(now)?;
    let id = match request_id {
        Some(k) if !k.is_empty() && k.len() <= 100 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        Some(_) => {
            return Err(Error::validation(
                "Idempotency-Key: 1-100 visible ASCII characters",
            ));
        }
        None => uuid::Uuid::now_v7().simple().to_string(),
    };
    // The key is the client's: scoped to this lead, so one used for another lead is another
    // request (event ids are unique in the tenant).
    let ev = event(
        &lead,
        format!("consent:api:{}:{id}", lead.lead_id),
        at,
        SmsEventKind::Consent(change),
    );
    let recorded = append_requested(deps, ev, draft, &format!("Idempotency-Key `{id}`")).await?;
    if let SmsEventKind::Consent(change) = &recorded.event.kind
        && change.action == ConsentAction::OptOut
    {
        let e = &recorded.event;
        let opted_out = super::webhooks::lead_opted_out(&lead, &e.event_id, e.at);
        super::webhooks::emit(deps, tenant, &[opted_out]).await?;
    }
    Ok(recorded)
}

/// The consent ledger: every consent change, oldest first.
pub fn consent_ledger(events: &[SmsEvent]) -> Vec<&SmsEvent> {
    sms::ordered(events)
        .into_iter()
        .filter(|e| matches!(e.kind, SmsEventKind::Consent(_)))
        .collect()
}

/// A tracked link for a lead (`POST /leads/{id}/links`).
pub async fn create_link(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    draft: &LinkDraft,
    now: DateTime<Utc>,
) -> Result<TrackedLink> {
    let lead = existing_lead(deps, tenant, lead_id).await?;
    let url = draft.target()?;
    for _ in 0..3 {
        let link = TrackedLink {
            token: TrackedLink::new_token(),
            tenant_id: lead.tenant_id.clone(),
            lead_id: lead.lead_id.clone(),
            url: url.clone(),
            label: draft.label.as_ref().map(|l| l.trim().to_owned()),
            created_at: now,
        };
        match deps.sms.insert_link(&link).await {
            Ok(()) => return Ok(link),
            // 71 random bits: a clash is all but impossible, and a new token settles it.
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::internal(
        "no free link token after three tries",
        std::fmt::Error,
    ))
}

/// Clicks of one link within this long count once (a double tap, a link preview fetching it).
pub const CLICK_WINDOW_SECS: i64 = 10 * 60;

/// A click on a tracked link (`GET /r/{token}`): where to send the browser, or `None` for a
/// token that is not a link. The click counts once per link per window.
pub async fn click(deps: &Deps, token: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    if !TrackedLink::plausible_token(token) {
        return Ok(None);
    }
    let Some(link) = deps.sms.get_link(token).await? else {
        return Ok(None);
    };
    // Links stored before targets were checked as they are now go nowhere.
    let still_allowed = LinkDraft {
        url: link.url.clone(),
        label: None,
    }
    .target()
    .is_ok();
    if !still_allowed {
        return Ok(None);
    }
    let tenant = &link.tenant_id;
    let window = chrono::Duration::seconds(CLICK_WINDOW_SECS);
    let events = deps
        .sms
        .sms_events_since(tenant, &link.lead_id, now - window)
        .await?;
    let recent = events.iter().any(|e| {
        matches!(&e.kind, SmsEventKind::Click { token: t, .. } if *t == link.token)
            && (now - e.at).num_seconds().abs() < CLICK_WINDOW_SECS
    });
    if !recent {
        let ev = SmsEvent {
            tenant_id: tenant.clone(),
            lead_id: link.lead_id.clone(),
            event_id: format!(
                "click:{}:{}",
                link.token,
                now.timestamp() / CLICK_WINDOW_SECS
            ),
            at: now,
            request_sha256: None,
            kind: SmsEventKind::Click {
                token: link.token.clone(),
                url: link.url.clone(),
                label: link.label.clone(),
            },
        };
        if deps.sms.append_sms_event(&ev).await? {
            let settings = super::settings::load(deps, tenant).await?;
            settle(
                deps,
                &link.lead_id,
                tenant,
                &ev.event_id,
                &settings,
                Some(now),
            )
            .await?;
        }
    }
    Ok(Some(link.url))
}

/// Put a survey to a lead (`POST /leads/{id}/surveys`): returns the first question, for the
/// tenant to text; the lead's replies answer it.
pub async fn start_survey(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    survey_id: &str,
    now: DateTime<Utc>,
) -> Result<(String, String)> {
    let lead = existing_lead(deps, tenant, lead_id).await?;
    let settings = super::settings::load(deps, tenant).await?;
    let survey = settings
        .surveys
        .iter()
        .find(|s| s.id == survey_id)
        .ok_or_else(|| {
            Error::not_found(format!("survey `{survey_id}` (define it in /settings)"))
        })?;
    let (fold, _) = fold_now(deps, tenant, lead_id, &settings.surveys, None).await?;
    if fold.engagement.opted_out {
        return Err(Error::conflict(format!(
            "lead {lead_id} opted out of texts; it may not be surveyed by text"
        )));
    }
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let ev = event(
        &lead,
        format!("survey:api:{run_id}"),
        now,
        SmsEventKind::SurveyStarted {
            survey_id: survey.id.clone(),
            run_id: run_id.clone(),
        },
    );
    deps.sms.append_sms_event(&ev).await?;
    Ok((run_id, survey.questions[0].text.clone()))
}

/// The lead's log folded up to now, not stored: on from the stored fold (reading only what
/// came after it), or the whole log when there is none or it cannot be folded on. `logged`:
/// the earliest time of what the caller logged, which a fold that went past it has not seen.
async fn fold_now(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    surveys: &[Survey],
    logged: Option<DateTime<Utc>>,
) -> Result<(SmsFold, Folded)> {
    let stored = deps.sms.sms_fold(tenant, lead_id).await?;
    let version = stored.as_ref().map_or(0, |f| f.version);
    if let Some(mut fold) = stored
        && let Some(since) = fold.since()
        && logged.is_none_or(|at| at >= since)
    {
        let tail = deps.sms.sms_events_since(tenant, lead_id, since).await?;
        if let Some(folded) = fold.extend(&tail, surveys) {
            return Ok((fold, folded));
        }
    }
    let events = deps.sms.sms_events(tenant, lead_id).await?;
    let (mut fold, folded) = SmsFold::replay(&events, surveys);
    fold.version = version;
    Ok((fold, folded))
}

/// Fold the lead's log up to now (`logged` as for [`fold_now`]) and store the fold; surveys it
/// completes are recorded in the log and folded too. Returns the stored fold and all that
/// folding did (in every attempt).
async fn fold_log(
    deps: &Deps,
    tenant: &TenantId,
    lead_id: &LeadId,
    surveys: &[Survey],
    logged: DateTime<Utc>,
) -> Result<(SmsFold, Folded)> {
    let mut done = Folded::default();
    let mut attempts = 0;
    loop {
        let (fold, folded) = fold_now(deps, tenant, lead_id, surveys, Some(logged)).await?;
        done.ids.extend(folded.ids.iter().cloned());
        done.replies.extend(folded.replies);
        if !folded.completed.is_empty() {
            for run in folded.completed {
                let at = run.answers.last().map_or_else(Utc::now, |a| a.at);
                deps.sms
                    .append_sms_event(&SmsEvent {
                        tenant_id: tenant.clone(),
                        lead_id: lead_id.clone(),
                        event_id: format!("survey-done:{}", run.run_id),
                        at,
                        request_sha256: None,
                        kind: SmsEventKind::SurveyCompleted {
                            survey_id: run.survey_id,
                            run_id: run.run_id,
                            answers: run.answers,
                        },
                    })
                    .await?;
            }
            continue;
        }
        if folded.ids.is_empty() && fold.version > 0 {
            return Ok((fold, done));
        }
        match deps.sms.put_sms_fold(tenant, lead_id, &fold).await {
            Ok(stored) => return Ok((stored, done)),
            Err(Error::Concurrent(_)) if attempts < 5 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Bring the lead up to date with its log: fold the log (recording surveys just completed)
/// unless the caller has (`logged` is the earliest time of what it logged and did not fold),
/// copy the engagement onto the lead, and queue a re-score for `cause`. The fold is read after
/// the lead in each attempt to store it, so that of two concurrent writers the one that
/// stores last has seen both events.
async fn settle(
    deps: &Deps,
    lead_id: &LeadId,
    tenant: &TenantId,
    cause: &str,
    settings: &TenantSettings,
    logged: Option<DateTime<Utc>>,
) -> Result<()> {
    if let Some(at) = logged {
        fold_log(deps, tenant, lead_id, &settings.surveys, at).await?;
    }
    let mut attempts = 0;
    loop {
        let Some(mut lead) = deps.leads.get_lead(tenant, lead_id).await? else {
            return Err(Error::not_found(format!("lead {lead_id}")));
        };
        let fold = match deps.sms.sms_fold(tenant, lead_id).await? {
            Some(fold) => fold,
            // Erased meanwhile, or never stored: fold it now.
            None => {
                fold_log(
                    deps,
                    tenant,
                    lead_id,
                    &settings.surveys,
                    DateTime::<Utc>::MIN_UTC,
                )
                .await?
                .0
            }
        };
        let engagement = Some(fold.engagement);
        if lead.sms == engagement {
            break;
        }
        lead.sms = engagement;
        lead.updated_at = Utc::now();
        match deps.leads.update_lead(&lead).await {
            Ok(_) => break,
            Err(Error::Concurrent(_)) if attempts < 5 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
    deps.queue
        .send(&Job::Score {
            tenant_id: tenant.clone(),
            lead_id: lead_id.clone(),
            cause: ScoreCause::Sms {
                event_id: cause.to_owned(),
            },
        })
        .await
}
