//! Text messages with a lead, as a per-lead log of events: messages both ways, delivery
//! statuses, consent changes, link clicks and surveys. The log is append-only and every event
//! has an id that is unique in its tenant (a Twilio `MessageSid`, a click's window, an API
//! request), so a replayed webhook adds nothing. Everything the lead shows about texting
//! (`Lead::sms`) is a fold over this log (`crate::sms::engagement`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{LeadId, TenantId};
use crate::error::{Error, Result};

/// One event in a lead's SMS log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SmsEvent {
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    /// Unique in the tenant: `msg:<sid>`, `status:<sid>:<status>`, `consent:<sid>`,
    /// `consent:api:<lead>:<key>`, `click:<token>:<window>`, `survey:<sid>`, `survey-done:<run>`.
    pub event_id: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: SmsEventKind,
    /// For an event an API request made: a digest of that request, so a retry with the same
    /// key is told from another request that reuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
}

impl SmsEvent {
    /// A digest of a request's parsed body (key order and spacing do not matter).
    pub fn request_digest(request: &impl Serialize) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_value(request)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SmsEventKind {
    /// A text from or to the lead.
    Message(SmsMessage),
    /// A delivery status of an outbound message (Twilio's status callback).
    Status {
        sid: String,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
    },
    /// A change of consent: the consent ledger.
    Consent(ConsentChange),
    /// The lead opened a tracked link.
    Click {
        token: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// A survey was put to the lead (its trigger word, or the API).
    SurveyStarted { survey_id: String, run_id: String },
    /// The lead answered every question of a survey.
    SurveyCompleted {
        survey_id: String,
        run_id: String,
        answers: Vec<SurveyAnswer>,
    },
    /// A follow-up made a call task for the lead's owner in a CRM.
    TaskCreated {
        crm: super::Crm,
        /// The CRM's id of the task.
        task_id: String,
        subject: String,
        due_at: DateTime<Utc>,
        /// The follow-up that made it (`settings.follow_ups`).
        follow_up: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsDirection {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SmsMessage {
    /// Twilio's `MessageSid`, or an id the API gave a message logged another way.
    pub sid: String,
    pub direction: SmsDirection,
    /// As sent: empty for a picture-only MMS or a message known only from a status callback.
    pub body: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<SmsMedia>,
    /// For outbound messages, the latest delivery status known when it was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Reply intents found in an inbound message, each with its evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<SmsIntent>,
    /// The consent keyword the message is (`STOP`, `START`, `HELP`, ...), if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Where it came from: `twilio` or `api`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SmsMedia {
    pub content_type: String,
    pub url: String,
}

/// A reply intent found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SmsIntent {
    /// `interested`, `call_me`, `schedule`, `pricing`, `not_interested`, `wrong_number`, `stop`.
    pub intent: String,
    /// The words that said it.
    pub phrase: String,
    /// For `schedule` (and `call_me`), the time the lead proposed, as written ("tomorrow at 3pm").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    OptIn,
    OptOut,
    /// The lead asked for help (HELP, INFO): recorded, consent unchanged.
    Help,
}

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// A message as a keyword: upper case, without spaces or the punctuation around words
/// (" Stop. " and "STOP ALL" are `STOP` and `STOPALL`).
pub fn keyword_form(body: &str) -> String {
    body.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_matches(|c: char| c.is_ascii_punctuation())
        .to_uppercase()
}

/// The consent keyword a whole message is (the CTIA keywords carriers honour), if it is one: the action and the keyword.
pub fn consent_keyword(body: &str) -> Option<(ConsentAction, &'static str)> {
    let word = keyword_form(body);
    [
        (ConsentAction::OptOut, OPT_OUT),
        (ConsentAction::OptIn, OPT_IN),
        (ConsentAction::Help, HELP),
    ]
    .into_iter()
    .find_map(|(action, list)| list.iter().find(|k| **k == word).map(|k| (action, *k)))
}

/// An entry of the consent ledger: what changed, and on what evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConsentChange {
    pub action: ConsentAction,
    /// `keyword` (a text from the lead), `reply` (a reply that asked to stop, in words) or
    /// `api` (the tenant recorded it: a web form, a call, paper).
    pub via: String,
    /// The message that carried it (`via` keyword or reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_sid: Option<String>,
    /// The keyword or words as the lead sent them, or the source the tenant named.
    pub evidence: String,
    /// Who recorded it, for `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// What a client sends to record consent (`POST /leads/{id}/consent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"action": "opt_in", "source": "web form /pricing"}))]
pub struct ConsentDraft {
    /// `opt_in` or `opt_out`.
    pub action: ConsentAction,
    /// Where consent was given or revoked: "web form /pricing", "phone call", ...
    pub source: String,
    /// When, if not now (a form submitted earlier); not in the future.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub by: Option<String>,
}

impl ConsentDraft {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(ConsentChange, DateTime<Utc>)> {
        if self.action == ConsentAction::Help {
            return Err(Error::validation(
                "action: `help` is something a lead texts, not a consent to record; use `opt_in` or `opt_out`",
            ));
        }
        let source = self.source.trim();
        if source.is_empty() || source.chars().count() > 200 {
            return Err(Error::validation(
                "source: required, at most 200 characters: say where consent was given (\"web form\")",
            ));
        }
        let at = self.at.unwrap_or(now);
        if at > now + chrono::Duration::minutes(5) {
            return Err(Error::validation(format!("at: {at} is in the future")));
        }
        Ok((
            ConsentChange {
                action: self.action,
                via: "api".to_owned(),
                message_sid: None,
                evidence: source.to_owned(),
                by: self.by.clone(),
            },
            at,
        ))
    }
}

/// A link in a text that tells the tenant when the lead opens it (`GET /r/{token}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrackedLink {
    /// 12 characters of base62: the whole short link's secret.
    pub token: String,
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    /// Where it goes: an absolute http(s) URL, checked when the link is made.
    pub url: String,
    /// What the link is ("pricing", "brochure"): a click on a link labelled, or going to a
    /// page named, pricing counts as a pricing click.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a client sends to make a tracked link (`POST /leads/{id}/links`).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"url": "https://acme.test/pricing", "label": "pricing"}))]
pub struct LinkDraft {
    pub url: String,
    #[serde(default)]
    pub label: Option<String>,
}

impl LinkDraft {
    /// The target, checked: an absolute http or https URL with a public host name or address,
    /// no user name or password in it, at most 2,000 characters. A short link in a text must
    /// not hand a lead's phone credentials or send it to a host on the sender's own network
    /// (`localhost`, `*.local`, `*.internal`, loopback, private, link-local, shared or
    /// unspecified addresses).
    pub fn target(&self) -> Result<String> {
        let raw = self.url.trim();
        if raw.len() > 2000 {
            return Err(Error::validation("url: longer than 2,000 characters"));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| Error::validation(format!("url: `{raw}` is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::validation(format!(
                "url: `{raw}` is not an http(s) address with a host"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::validation(
                "url: a link must not carry a user name or password (`name:password@host`)",
            ));
        }
        if let Some(why) = internal_host(&url) {
            return Err(Error::validation(format!(
                "url: `{}` is {why}; a link a lead opens must point at a public address",
                url.host_str().unwrap_or_default()
            )));
        }
        if let Some(label) = &self.label
            && (label.trim().is_empty() || label.chars().count() > 60)
        {
            return Err(Error::validation("label: 1 to 60 characters"));
        }
        Ok(url.to_string())
    }
}

/// Why `url`'s host is not a public one, if it is not.
fn internal_host(url: &url::Url) -> Option<&'static str> {
    let ip: std::net::IpAddr = match url.host()? {
        url::Host::Domain(name) => {
            return super::is_internal_name(name).then_some("an internal host name");
        }
        url::Host::Ipv4(ip) => ip.into(),
        url::Host::Ipv6(ip) => ip.into(),
    };
    (!super::is_public_ip(ip)).then_some("an address on a private network")
}

impl TrackedLink {
    /// A fresh random token: 12 base62 characters (71 bits).
    pub fn new_token() -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut n = uuid::Uuid::new_v4().as_u128();
        (0..12)
            .map(|_| {
                let d = DIGITS[(n % 62) as usize] as char;
                n /= 62;
                d
            })
            .collect()
    }

    /// Whether `token` could be a token at all (so that junk never reaches the store).
    pub fn plausible_token(token: &str) -> bool {
        token.len() == 12 && token.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    /// A pricing link: labelled so, or going to a page about prices.
    pub fn is_pricing(url: &str, label: Option<&str>) -> bool {
        let about_price = |s: &str| {
            let s = s.to_lowercase();
            s.contains("pric") || s.contains("quote") || s.contains("plans")
        };
        label.is_some_and(about_price) || url::Url::parse(url).is_ok_and(|u| about_price(u.path()))
    }
}

/// A short survey by text. Tenants define them in their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    pub id: String,
    /// A word the lead can text to take the survey ("FEEDBACK"); without one, the API starts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    pub questions: Vec<SurveyQuestion>,
    /// Sent when the last question is answered.
    #[serde(default = "Survey::default_thanks")]
    pub thanks: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyQuestion {
    pub id: String,
    /// As texted to the lead; say how to answer ("Reply 1-5").
    pub text: String,
    pub answers: Answers,
}

/// What counts as an answer to a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Answers {
    /// A whole number in `min..=max` ("4", "I'd say 4").
    Scale { min: i32, max: i32 },
    /// One of these words or phrases, case-insensitive ("yes", "next week").
    Choices(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SurveyAnswer {
    pub question_id: String,
    /// The answer as matched: the number, or the choice as the survey spells it.
    pub answer: String,
    /// On a scale question, where the answer sits, 0..10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub message_sid: String,
    pub at: DateTime<Utc>,
}

impl Survey {
    fn default_thanks() -> String {
        "Thank you for your answers!".to_owned()
    }

    pub fn validate(&self) -> Result<()> {
        let name = format!("survey `{}`", self.id);
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= 40
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !id_ok(&self.id) {
            return Err(Error::validation(format!(
                "surveys: id `{}` must be 1-40 letters, digits, - or _",
                self.id
            )));
        }
        if self.questions.is_empty() || self.questions.len() > 10 {
            return Err(Error::validation(format!(
                "{name}: needs 1 to 10 questions, has {}",
                self.questions.len()
            )));
        }
        if let Some(t) = &self.trigger {
            let word = keyword_form(t);
            if word.is_empty()
                || word.len() > 20
                || !word.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(Error::validation(format!(
                    "{name}: trigger `{t}` must be one word of letters and digits"
                )));
            }
            if consent_keyword(t).is_some() {
                return Err(Error::validation(format!(
                    "{name}: trigger `{t}` is a consent keyword (STOP, START, HELP, ...)"
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for q in &self.questions {
            if !id_ok(&q.id) || !seen.insert(q.id.as_str()) {
                return Err(Error::validation(format!(
                    "{name}: question id `{}` is empty, malformed or repeated",
                    q.id
                )));
            }
            if q.text.trim().is_empty() || q.text.chars().count() > 320 {
                return Err(Error::validation(format!(
                    "{name}: question `{}` needs a text of at most 320 characters",
                    q.id
                )));
            }
            match &q.answers {
                Answers::Scale { min, max } if min >= max || *max - *min > 100 => {
                    return Err(Error::validation(format!(
                        "{name}: question `{}` needs a scale min < max (at most 100 apart), got {min}..{max}",
                        q.id
                    )));
                }
                Answers::Choices(c)
                    if c.is_empty() || c.iter().any(|c| keyword_form(c).is_empty()) =>
                {
                    return Err(Error::validation(format!(
                        "{name}: question `{}` needs at least one non-empty choice",
                        q.id
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_checked_and_name_the_field() {
        let f = |id: &str, after_hours: u32, text: &str| FollowUp {
            id: id.to_owned(),
            when: FollowUpTrigger::TurnedHot,
            after_hours,
            action: FollowUpAction::Text,
            text: Some(text.to_owned()),
            crm: None,
        };
        let good = f("hot-no-touch", 2, "Hi {first_name}!");
        assert!(FollowUp::validate_all(std::slice::from_ref(&good)).is_ok());
        assert_eq!(good.text_for(Some("Dana")), "Hi Dana!");
        assert_eq!(good.text_for(Some(" ")), "Hi there!");
        assert_eq!(good.origin(), "follow-up:hot-no-touch");
        let refused = |all: &[FollowUp]| FollowUp::validate_all(all).unwrap_err().to_string();
        assert!(refused(&[f("Hot", 2, "x")]).contains("`Hot` is not 1 to 40"));
        assert!(refused(&[good.clone(), good.clone()]).contains("used twice"));
        assert!(refused(&[f("a", 169, "x")]).contains("follow_ups.a.after_hours: 169 hours"));
        assert!(refused(&[f("a", 1, " ")]).contains("follow_ups.a.text: 1 characters"));
        let many: Vec<FollowUp> = (0..11).map(|i| f(&format!("f{i}"), 1, "x")).collect();
        assert!(refused(&many).contains("11 of them; at most 10"));

        let task = FollowUp {
            when: FollowUpTrigger::AskedForACall,
            after_hours: 0,
            action: FollowUpAction::CrmTask,
            text: None,
            ..f("call-back", 0, "")
        };
        assert!(FollowUp::validate_all(std::slice::from_ref(&task)).is_ok());
        assert_eq!(task.text_for(Some("Dana")), "Call back Dana");
        assert_eq!(task.text_for(None), "Call back the lead");
        let late = FollowUp {
            after_hours: 2,
            ..task.clone()
        };
        assert!(refused(&[late]).contains("follow_ups.call-back.after_hours: `asked_for_a_call`"));
        let webhook = FollowUp {
            action: FollowUpAction::Webhook,
            ..f("hot", 2, "hello")
        };
        assert!(refused(&[webhook]).contains("a `webhook` follow-up sends no text"));
        let untexted = FollowUp {
            text: None,
            ..f("hot", 2, "")
        };
        assert!(refused(&[untexted]).contains("needs the text to send"));
        let named = FollowUp {
            crm: Some(super::super::Crm::Hubspot),
            ..f("hot", 2, "hi")
        };
        assert!(refused(&[named]).contains("follow_ups.hot.crm: only a `crm_task`"));
    }

    #[test]
    fn consent_keywords_ignore_case_spaces_and_punctuation() {
        for (body, action) in [
            ("STOP", ConsentAction::OptOut),
            (" stop ", ConsentAction::OptOut),
            ("Stop.", ConsentAction::OptOut),
            ("stop all", ConsentAction::OptOut),
            ("Unsubscribe", ConsentAction::OptOut),
            ("opt out", ConsentAction::OptOut),
            ("cancel", ConsentAction::OptOut),
            ("end", ConsentAction::OptOut),
            ("quit", ConsentAction::OptOut),
            ("revoke", ConsentAction::OptOut),
            ("START", ConsentAction::OptIn),
            ("yes", ConsentAction::OptIn),
            ("Unstop", ConsentAction::OptIn),
            ("help", ConsentAction::Help),
            ("INFO", ConsentAction::Help),
        ] {
            assert_eq!(consent_keyword(body).map(|k| k.0), Some(action), "{body}");
        }
        for body in [
            "stop by tomorrow",
            "please don't stop",
            "yes please call",
            "",
            "🛑",
        ] {
            assert_eq!(consent_keyword(body), None, "{body}");
        }
    }

    #[test]
    fn links_go_only_to_web_addresses() {
        let draft = |url: &str| LinkDraft {
            url: url.to_owned(),
            label: None,
        };
        assert_eq!(
            draft("https://acme.test/pricing?x=1").target().unwrap(),
            "https://acme.test/pricing?x=1"
        );
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "ftp://acme.test/",
            "https://",
            "http://user:secret@acme.test/",
            "https://token@acme.test/",
            "http://localhost:8080/admin",
            "http://router.local/",
            "http://intranet/",
            "http://127.0.0.1/",
            "http://10.0.0.5/",
            "http://172.16.3.4/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://2130706433/",
        ] {
            let e = draft(bad).target().unwrap_err().to_string();
            assert!(e.contains("url:"), "{bad}: {e}");
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
        for good in [
            "https://93.184.216.34/",
            "https://[2606:4700::1111]/",
            "https://pay.acme.co.uk/",
        ] {
            assert!(draft(good).target().is_ok(), "{good}");
        }
        assert!(TrackedLink::is_pricing("https://acme.test/Pricing", None));
        assert!(TrackedLink::is_pricing(
            "https://acme.test/x",
            Some("Price list")
        ));
        assert!(!TrackedLink::is_pricing(
            "https://pricing.acme.test/about",
            None
        ));
    }

    #[test]
    fn tokens_are_twelve_base62_characters_and_differ() {
        let (a, b) = (TrackedLink::new_token(), TrackedLink::new_token());
        assert!(TrackedLink::plausible_token(&a) && TrackedLink::plausible_token(&b));
        assert_ne!(a, b);
        assert!(!TrackedLink::plausible_token("../../etc/pa"));
    }

    #[test]
    fn surveys_are_checked() {
        let survey: Survey = serde_json::from_value(serde_json::json!({
            "id": "fit",
            "trigger": "Survey",
            "questions": [
                {"id": "likely", "text": "How likely are you to buy? Reply 1-5", "answers": {"scale": {"min": 1, "max": 5}}},
                {"id": "when", "text": "When? Reply NOW or LATER", "answers": {"choices": ["now", "later"]}}
            ]
        }))
        .unwrap();
        survey.validate().unwrap();
        let mut stop = survey.clone();
        stop.trigger = Some("stop".into());
        assert!(
            stop.validate()
                .unwrap_err()
                .to_string()
                .contains("consent keyword")
        );
        let mut flat = survey.clone();
        flat.questions[0].answers = Answers::Scale { min: 5, max: 5 };
        assert!(
            flat.validate()
                .unwrap_err()
                .to_string()
                .contains("min < max")
        );
    }
}

/// How a tenant's texts are sent (`settings.texting`): the number they come from, and the
/// rules every send is held to before it reaches Twilio.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"from": "+15125550100", "require_consent": true, "window": {"start_hour": 8, "end_hour": 21}, "state_windows": {"FL": {"start_hour": 8, "end_hour": 20}}}))]
pub struct TextingRules {
    /// The tenant's Twilio number texts come from (E.164), or a Messaging Service SID (`MG`
    /// and 32 characters). Sending needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Send only to leads who opted in (consent recorded through the API, or a START). An
    /// opted-out lead is never texted, whatever this says.
    #[serde(default)]
    pub require_consent: bool,
    /// The hours of the lead's own day in which texts may go: 8:00 to 21:00 by default, the
    /// TCPA's quiet hours.
    #[serde(default)]
    pub window: SendWindow,
    /// Stricter windows by the lead's state or province (`FL`, `OK`: 8:00 to 20:00), which
    /// replace `window` for leads there.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub state_windows: std::collections::BTreeMap<String, SendWindow>,
    /// What becomes of a text asked for outside the window: `refuse` it (the default; the
    /// problem names the next allowed minute) or `queue` it for that minute.
    #[serde(default)]
    pub in_quiet_hours: QuietHours,
}

/// Texts in the order a lead's list shows them: the newest first (by creation, then id).
pub fn newest_first(texts: &mut [OutgoingText]) {
    texts.sort_by(|a, b| (b.created_at, &b.text_id).cmp(&(a.created_at, &a.text_id)));
}

/// A follow-up the tenant set (`settings.follow_ups`): a step the product takes on its own
/// when something happens to a lead. `turned_hot`: when a lead turns hot and no one has texted
/// or called it within `after_hours`, it is texted `text` (or a webhook is raised, or a task
/// is made in the CRM). `asked_for_a_call`: when a lead's text asks for a call ("call me
/// tomorrow at 10"), at once. Each step is a record in the lead's texts list (`origin`
/// `follow-up:<id>`, `via` what it does), made when the trigger comes and done, or cancelled
/// naming why, when its hour comes: the list shows every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"id": "hot-no-touch", "when": "turned_hot", "after_hours": 2, "text": "Hi {first_name}, this is Summit Roofing: would a call today help?"}))]
#[schemars(example = serde_json::json!({"id": "call-back", "when": "asked_for_a_call", "action": "crm_task"}))]
pub struct FollowUp {
    /// Names it in the steps it takes: 1 to 40 of `a-z`, `0-9` and `-`.
    pub id: String,
    /// What starts it.
    pub when: FollowUpTrigger,
    /// `turned_hot`: how long someone has to text or call the lead before the step is taken,
    /// 0 to 168 hours. `asked_for_a_call` takes its step at once (0).
    #[serde(default)]
    pub after_hours: u32,
    /// What it does: `text` (the default), `webhook` or `crm_task`.
    #[serde(default)]
    pub action: FollowUpAction,
    /// `text`: the text, 1 to 1,600 characters. `crm_task`: the task's subject, at most 255
    /// characters (by default "Call back {first_name}"). `{first_name}` is the lead's first
    /// name ("there" in a text, "the lead" in a task, when it is not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `crm_task`: the CRM to make the task in; by default each one connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<super::Crm>,
}

/// What starts a follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpTrigger {
    /// The lead's tier became hot (the moment `lead.tier_changed` says so).
    TurnedHot,
    /// A text from the lead asked for a call (its `call_me` intent, not negated).
    AskedForACall,
}

/// What a follow-up does when its hour comes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpAction {
    /// Text the lead `text`, through the same rules as any text.
    #[default]
    Text,
    /// Send nothing to the lead: raise `lead.follow_up_due` for the tenant's subscriptions.
    Webhook,
    /// Make a call task for the owner of the lead's record in the CRM (a HubSpot task, a
    /// Pipedrive call activity, a Salesforce Task), due when the lead asked to be called (or
    /// at once), and note it in the lead's log.
    CrmTask,
}

impl FollowUp {
    pub const MAX: usize = 10;
    /// The longest task subject (Salesforce's `Task.Subject`).
    pub const MAX_SUBJECT: usize = 255;

    pub fn validate_all(all: &[Self]) -> Result<()> {
        if all.len() > Self::MAX {
            return Err(Error::validation(format!(
                "follow_ups: {} of them; at most {}",
                all.len(),
                Self::MAX
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for f in all {
            if f.id.is_empty()
                || f.id.len() > 40
                || !f
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(Error::validation(format!(
                    "follow_ups: the id `{}` is not 1 to 40 of a-z, 0-9 and -",
                    f.id
                )));
            }
            if !ids.insert(&f.id) {
                return Err(Error::validation(format!(
                    "follow_ups: the id `{}` is used twice",
                    f.id
                )));
            }
            f.validate()?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        let at = format!("follow_ups.{}", self.id);
        match self.when {
            FollowUpTrigger::TurnedHot if self.after_hours > 168 => {
                return Err(Error::validation(format!(
                    "{at}.after_hours: {} hours; at most 168 (a week)",
                    self.after_hours
                )));
            }
            FollowUpTrigger::AskedForACall if self.after_hours > 0 => {
                return Err(Error::validation(format!(
                    "{at}.after_hours: `asked_for_a_call` takes its step at once; leave \
                     after_hours out (a task is due when the lead asked to be called)"
                )));
            }
            _ => {}
        }
        let length = self.text.as_deref().map(|t| t.chars().count());
        let blank = self.text.as_deref().is_some_and(|t| t.trim().is_empty());
        match (self.action, length) {
            (FollowUpAction::Text, None) => Err(Error::validation(format!(
                "{at}.text: a `text` follow-up needs the text to send"
            ))),
            (FollowUpAction::Text, Some(n)) if blank || n > 1600 => Err(Error::validation(
                format!("{at}.text: {n} characters; a text has 1 to 1,600"),
            )),
            (FollowUpAction::CrmTask, Some(n)) if blank || n > Self::MAX_SUBJECT => {
                Err(Error::validation(format!(
                    "{at}.text: {n} characters; a task's subject has 1 to {}",
                    Self::MAX_SUBJECT
                )))
            }
            (FollowUpAction::Webhook, Some(_)) => Err(Error::validation(format!(
                "{at}.text: a `webhook` follow-up sends no text; leave it out"
            ))),
            _ if self.crm.is_some() && self.action != FollowUpAction::CrmTask => Err(
                Error::validation(format!("{at}.crm: only a `crm_task` follow-up names a CRM")),
            ),
            _ => Ok(()),
        }
    }

    /// The text (or task subject) for `first_name`.
    pub fn text_for(&self, first_name: Option<&str>) -> String {
        let name = first_name.map(str::trim).filter(|n| !n.is_empty());
        match (self.action, self.text.as_deref()) {
            (FollowUpAction::CrmTask, text) => text
                .unwrap_or("Call back {first_name}")
                .replace("{first_name}", name.unwrap_or("the lead")),
            (_, text) => text
                .unwrap_or_default()
                .replace("{first_name}", name.unwrap_or("there")),
        }
    }

    /// What its steps say they came from (`OutgoingText::origin`).
    pub fn origin(&self) -> String {
        format!("follow-up:{}", self.id)
    }
}

/// What becomes of a text asked for outside the lead's window (`settings.texting`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QuietHours {
    /// Refused with the `quiet-hours` problem, which names the next allowed minute.
    #[default]
    Refuse,
    /// Queued, and sent at the next allowed minute if the rules still allow it then.
    Queue,
}

/// Where a text the product sends stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextState {
    /// Waiting for `send_at`, the next minute the rules allow.
    Queued,
    /// Claimed for sending: the request to Twilio is under way, or its answer was lost (the
    /// next look asks Twilio whether it took the text).
    Sending,
    /// Twilio took it (`sid`); its status callbacks update the lead's log.
    Sent,
    /// Twilio refused it (`problem` says why); nothing was sent.
    Failed,
    /// Queued, and no longer allowed when its minute came (`problem` names the rule, e.g.
    /// the lead opted out meanwhile); nothing was sent.
    Cancelled,
}

/// A text the product sends to a lead (`POST /leads/{id}/texts`), recorded before anything
/// goes to Twilio: so a retried request, a redelivered job or a crash between Twilio's answer
/// and the log sends it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutgoingText {
    /// `txt_` and 32 hex digits: a digest of the lead and the request's `Idempotency-Key`, so
    /// a retry finds it, else of its own.
    pub text_id: String,
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    pub body: String,
    pub state: TextState,
    /// When a queued text goes (the next allowed minute of the lead's day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    /// Twilio's message SID, once it took the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The lead's log entry for it (`msg:<sid>`), once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Why it failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// What sent it on its own (`follow-up:<id>`); none when a request asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// What the step does: a text (`sms`, the default), a webhook (`webhook`: nothing goes to
    /// the lead; `body` is empty) or a task in a CRM (`crm_task`: `body` is its subject, `sid`
    /// the CRM's id of it).
    #[serde(default, skip_serializing_if = "Via::is_sms")]
    pub via: Via,
    /// `crm_task`: the CRM the task is made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<super::Crm>,
    /// `crm_task`: when the task is due (the time the lead asked to be called); `webhook`:
    /// the time the lead asked for, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_at: Option<DateTime<Utc>>,
    /// A follow-up goes only if no one texted or called the lead after this (when the lead
    /// turned hot); else it is cancelled, saying who did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless_touched_since: Option<DateTime<Utc>>,
    /// When the attempt under way began (it was claimed for sending): a text whose answer was
    /// lost is looked for at Twilio among the messages made since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The digest of the request that made it (lead and body): a retry with the same key and
    /// another request is refused.
    #[serde(default)]
    #[schemars(skip)]
    pub request_sha256: String,
    /// Counts the queue's hops while a queued text waits (a queue holds a job at most 15
    /// minutes): only the job of the current hop moves it on.
    #[serde(default)]
    #[schemars(skip)]
    pub hop: u32,
    /// Counts the record's stores (compare-and-set).
    #[serde(default)]
    #[schemars(skip)]
    pub version: u64,
}

/// What a step in a lead's texts list does.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A text to the lead, through Twilio.
    #[default]
    Sms,
    /// `lead.follow_up_due` to the tenant's subscriptions.
    Webhook,
    /// A call task in the CRM.
    CrmTask,
}

impl Via {
    pub fn is_sms(&self) -> bool {
        *self == Via::Sms
    }
}

/// Hours of the lead's local day, `start_hour` inclusive to `end_hour` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendWindow {
    #[schemars(range(max = 23))]
    pub start_hour: u32,
    #[schemars(range(min = 1, max = 24))]
    pub end_hour: u32,
}

impl Default for SendWindow {
    fn default() -> Self {
        Self {
            start_hour: 8,
            end_hour: 21,
        }
    }
}

impl TextingRules {
    pub fn validate(&self) -> Result<()> {
        if let Some(from) = &self.from {
            let service = from.starts_with("MG")
                && from.len() == 34
                && from.bytes().all(|b| b.is_ascii_alphanumeric());
            if !service && crate::domain::PhoneNumber::parse_with_region(from, None).is_err() {
                return Err(Error::validation(format!(
                    "texting.from: `{from}` is neither a number in E.164 (+15125550100) nor a \
                     Messaging Service SID (MG and 32 characters)"
                )));
            }
        }
        let check = |field: &str, w: &SendWindow| {
            if w.start_hour >= w.end_hour || w.end_hour > 24 {
                return Err(Error::validation(format!(
                    "{field}: start_hour {} to end_hour {} is not a window of the day (0 <= \
                     start < end <= 24)",
                    w.start_hour, w.end_hour
                )));
            }
            Ok(())
        };
        check("texting.window", &self.window)?;
        if self.state_windows.len() > 100 {
            return Err(Error::validation(
                "texting.state_windows: at most 100 states and provinces",
            ));
        }
        for (state, w) in &self.state_windows {
            if state.len() != 2 || !state.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::validation(format!(
                    "texting.state_windows: `{state}` is not a two-letter state or province code"
                )));
            }
            check(&format!("texting.state_windows.{state}"), w)?;
        }
        Ok(())
    }

    /// The window for a lead in `state`.
    pub fn window_in(&self, state: Option<&str>) -> SendWindow {
        state
            .and_then(|s| self.state_windows.get(s))
            .copied()
            .unwrap_or(self.window)
    }
}
