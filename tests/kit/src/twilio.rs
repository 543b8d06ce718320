//! A stateful stand-in for Twilio's Messages API on a real socket, built from Twilio's
//! published reference (twilio.com/docs/messaging/api/message-resource, /docs/usage/
//! twilios-response, /docs/api/errors): what leadscore calls to send a text, answering as
//! Twilio documents it.
//!
//! - Auth: HTTP basic with the account SID and its auth token; anything else is 401 with
//!   Twilio's error 20003 (`Authenticate`). Another account's SID in the path is 20003 too.
//! - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, a form: `To` (E.164, else 21211),
//!   `From` (one of the account's numbers, else 21606) or `MessagingServiceSid` (`MG...`),
//!   `Body` (1 to 1,600 characters, else 21602 / 21617), `StatusCallback` (optional). A `To`
//!   that texted STOP to the number is 21610 (`Attempt to send to unsubscribed recipient`),
//!   as Twilio's own opt-out handling answers. Created: 201 and the Message resource, `sid`
//!   `SM` and 32 hex digits, `status` `queued`, `direction` `outbound-api`, RFC 2822 dates.
//! - `GET .../Messages/{Sid}.json` and `GET .../Messages.json` (`messages`, newest first;
//!   `To` filters them, `PageSize` pages them, 50 by default).
//! - An outage on demand (`fail_next`): the next send answers 500 (Twilio's 20500), having
//!   taken the text or not, as a request whose answer is lost leaves it.
//! - Voice (twilio.com/docs/voice/api/call-resource, /docs/voice/api/recording): calls and
//!   their recordings set up by the test (`add_call`, `add_recording`). `GET .../Calls/{Sid}.json`
//!   is the Call resource (`from`, `to`, `direction`, RFC 2822 `start_time`); `GET
//!   .../Recordings/{Sid}.wav` is the recording's WAV (`audio/x-wav`, the channels it was made
//!   with); `.mp3` is 404 here, the stand-in holds WAV only; `DELETE .../Recordings/{Sid}.json`
//!   is 204, after which the recording is 20404.
//! - Errors: `{"code", "message", "more_info", "status"}` with the HTTP status.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

/// A message the stand-in accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub status_callback: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A call the stand-in's account made or took (its parent leg).
#[derive(Debug, Clone)]
struct VoiceCall {
    sid: String,
    from: String,
    to: String,
    direction: String,
    start_time: chrono::DateTime<chrono::Utc>,
    duration: u32,
}

/// A call's recording.
#[derive(Debug, Clone)]
struct Recording {
    sid: String,
    wav: Vec<u8>,
    deleted: bool,
    downloads: u32,
}

struct Inner {
    calls: Vec<VoiceCall>,
    recordings: Vec<Recording>,
    account_sid: String,
    auth_token: String,
    numbers: BTreeSet<String>,
    unsubscribed: BTreeSet<String>,
    messages: Vec<Message>,
    requests: u64,
    /// The next send answers 500; `Some(true)`: having taken the text.
    fail_next: Option<bool>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct Twilio {
    /// Its base URL (`http://127.0.0.1:<port>`), for `TWILIO_API_URL`.
    pub url: String,
    inner: Shared,
    _serving: crate::standin::Serving,
}

impl Twilio {
    /// An account with its auth token and the numbers it may send from.
    pub async fn start(account_sid: &str, auth_token: &str, numbers: &[&str]) -> Self {
        let (listener, url) = crate::standin::bind().await;
        let inner = Arc::new(Mutex::new(Inner {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
            unsubscribed: BTreeSet::new(),
            messages: Vec::new(),
            requests: 0,
            fail_next: None,
            calls: Vec::new(),
            recordings: Vec::new(),
        }));
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(create).get(list),
            )
            .route("/2010-04-01/Accounts/{account}/Messages/{sid}", get(fetch))
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}",
                get(fetch_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Recordings/{file}",
                get(fetch_recording).delete(delete_recording),
            )
            .with_state(inner.clone());
        Self {
            url,
            inner,
            _serving: crate::standin::Serving::start(listener, app),
        }
    }

    /// The messages sent so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.inner.lock().unwrap().messages.clone()
    }

    /// Requests answered, refusals included.
    pub fn requests(&self) -> u64 {
        self.inner.lock().unwrap().requests
    }

    /// The next send answers 500 (Twilio's 20500), after taking the text when `taken`: the
    /// sender cannot tell which.
    pub fn fail_next(&self, taken: bool) {
        self.inner.lock().unwrap().fail_next = Some(taken);
    }

    /// A finished call of the account (its parent leg): `direction` as Twilio writes it
    /// (`inbound`, `outbound-api`, `outbound-dial`). Its SID.
    pub fn add_call(
        &self,
        from: &str,
        to: &str,
        direction: &str,
        start_time: chrono::DateTime<chrono::Utc>,
        duration: u32,
    ) -> String {
        let mut inner = self.inner.lock().unwrap();
        let sid = sid("CA", inner.calls.len());
        inner.calls.push(VoiceCall {
            sid: sid.clone(),
            from: from.to_owned(),
            to: to.to_owned(),
            direction: direction.to_owned(),
            start_time,
            duration,
        });
        sid
    }

    /// A recording of call `call_sid` (a WAV file). Its SID.
    pub fn add_recording(&self, call_sid: &str, wav: Vec<u8>) -> String {
        let mut inner = self.inner.lock().unwrap();
        assert!(
            inner.calls.iter().any(|c| c.sid == call_sid),
            "no call {call_sid}"
        );
        let sid = sid("RE", inner.recordings.len());
        inner.recordings.push(Recording {
            sid: sid.clone(),
            wav,
            deleted: false,
            downloads: 0,
        });
        sid
    }

    /// How often recording `sid` was downloaded, and whether it was deleted.
    pub fn recording(&self, sid: &str) -> (u32, bool) {
        let inner = self.inner.lock().unwrap();
        let r = inner.recordings.iter().find(|r| r.sid == sid).unwrap();
        (r.downloads, r.deleted)
    }

    /// `number` texted STOP to the account: Twilio refuses to text it (21610).
    pub fn unsubscribe(&self, number: &str) {
        self.inner
            .lock()
            .unwrap()
            .unsubscribed
            .insert(number.to_owned());
    }
}

/// The first hour of a one-hour sending window that the current hour in `zone` (and the next)
/// is outside of, whatever the time a test runs: a text asked for now falls in quiet hours.
pub fn closed_window_start(zone: chrono_tz::Tz) -> u32 {
    use chrono::Timelike;
    let hour = chrono::Utc::now().with_timezone(&zone).hour();
    if hour <= 20 { hour + 2 } else { 1 }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
        .into_response()
}

/// The stand-in's state for a request, counted; `None` (Twilio's 401) unless the request is
/// the account's, by its basic auth and the SID in its path.
fn admit<'a>(
    inner: &'a Shared,
    headers: &HeaderMap,
    account: &str,
) -> Option<std::sync::MutexGuard<'a, Inner>> {
    let mut inner = inner.lock().unwrap();
    inner.requests += 1;
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", inner.account_sid, inner.auth_token));
    let authenticated = account == inner.account_sid
        && headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .is_some_and(|v| v == expected);
    authenticated.then_some(inner)
}

fn unauthenticated() -> Response {
    error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
}

fn resource(inner: &Inner, m: &Message) -> Value {
    let created = m.created_at.to_rfc2822();
    json!({
        "account_sid": inner.account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": created,
        "date_sent": null,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": m.from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": "queued",
        "to": m.to,
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{}.json", inner.account_sid, m.sid),
    })
}

/// A SID as Twilio makes them: two letters and 32 hex digits.
fn sid(prefix: &str, n: usize) -> String {
    format!("{prefix}{:032x}", 0xca11_0000_u128 + n as u128)
}

fn not_found(path: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        20404,
        &format!("The requested resource {path} was not found"),
    )
}

async fn fetch_call(
    State(inner): State<Shared>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(inner) = admit(&inner, &headers, &account) else {
        return unauthenticated();
    };
    let path = format!("/2010-04-01/Accounts/{account}/Calls/{file}");
    let Some(sid) = file.strip_suffix(".json") else {
        return not_found(&path);
    };
    let Some(c) = inner.calls.iter().find(|c| c.sid == sid) else {
        return not_found(&path);
    };
    let start = c.start_time.to_rfc2822();
    let end = (c.start_time + chrono::Duration::seconds(c.duration.into())).to_rfc2822();
    axum::Json(json!({
        "account_sid": inner.account_sid,
        "api_version": "2010-04-01",
        "date_created": start,
        "date_updated": end,
        "direction": c.direction,
        "duration": c.duration.to_string(),
        "end_time": end,
        "from": c.from,
        "from_formatted": c.from,
        "parent_call_sid": null,
        "sid": c.sid,
        "start_time": start,
        "status": "completed",
        "to": c.to,
        "to_formatted": c.to,
        "uri": format!("/2010-04-01/Accounts/{}/Calls/{}.json", inner.account_sid, c.sid),
    }))
    .into_response()
}

/// The recording `file` names (`RE...` with `extension`), not deleted; else the path Twilio's
/// 20404 names.
fn live_recording<'a>(
    inner: &'a mut Inner,
    account: &str,
    file: &str,
    extension: &str,
) -> Result<&'a mut Recording, String> {
    let path = format!("/2010-04-01/Accounts/{account}/Recordings/{file}");
    file.strip_suffix(extension)
        .and_then(|sid| {
            inner
                .recordings
                .iter_mut()
                .find(|r| r.sid == sid && !r.deleted)
        })
        .ok_or(path)
}

async fn fetch_recording(
    State(inner): State<Shared>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(mut inner) = admit(&inner, &headers, &account) else {
        return unauthenticated();
    };
    match live_recording(&mut inner, &account, &file, ".wav") {
        Ok(r) => {
            r.downloads += 1;
            ([("content-type", "audio/x-wav")], r.wav.clone()).into_response()
        }
        Err(path) => not_found(&path),
    }
}

async fn delete_recording(
    State(inner): State<Shared>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(mut inner) = admit(&inner, &headers, &account) else {
        return unauthenticated();
    };
    match live_recording(&mut inner, &account, &file, ".json") {
        Ok(r) => {
            r.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(path) => not_found(&path),
    }
}

fn is_e164(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

async fn create(
    State(inner): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(mut inner) = admit(&inner, &headers, &account) else {
        return unauthenticated();
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(to) = field("To").filter(|t| is_e164(t)) else {
        return error(StatusCode::BAD_REQUEST, 21211, "Invalid 'To' Phone Number");
    };
    let from = match (field("From"), field("MessagingServiceSid")) {
        (Some(from), None) if inner.numbers.contains(&from) => from,
        (Some(_), None) => {
            return error(
                StatusCode::BAD_REQUEST,
                21606,
                "The From phone number is not a valid, SMS-capable inbound phone number or short code for your account.",
            );
        }
        (None, Some(service)) if service.starts_with("MG") && service.len() == 34 => service,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                21603,
                "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
            );
        }
    };
    let body = field("Body").unwrap_or_default();
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if body.chars().count() > 1600 {
        return error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    if inner.unsubscribed.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21610,
            "Attempt to send to unsubscribed recipient",
        );
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).unwrap();
    let m = Message {
        sid: format!(
            "SM{}",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        from,
        to,
        body,
        status_callback: field("StatusCallback"),
        created_at: chrono::Utc::now(),
    };
    let answer = resource(&inner, &m);
    let outage = inner.fail_next.take();
    if outage != Some(false) {
        inner.messages.push(m);
    }
    if outage.is_some() {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        );
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn fetch(
    State(inner): State<Shared>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(inner) = admit(&inner, &headers, &account) else {
        return unauthenticated();
    };
    let sid = sid.trim_end_matches(".json");
    match inner.messages.iter().find(|m| m.sid == sid) {
        Some(m) => axum::Json(resource(&inner, m)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{account}/Messages/{sid}.json was not found"
            ),
        ),
    }
}

async fn list(
    State(inner): State<Shared>,
    Path(account): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(inner) = admit(&inner, &headers, &account) else {
        return unauthenticated();
    };
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let page_size = match param("PageSize").map(str::parse::<usize>) {
        None => 50,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, 20001, "Invalid PageSize"),
    };
    let to = param("To");
    let messages: Vec<Value> = inner
        .messages
        .iter()
        .rev()
        .filter(|m| to.is_none_or(|to| m.to == to))
        .take(page_size)
        .map(|m| resource(&inner, m))
        .collect();
    axum::Json(json!({ "messages": messages, "page": 0, "page_size": page_size })).into_response()
}
