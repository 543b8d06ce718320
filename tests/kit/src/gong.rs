//! A stateful stand-in for Gong's API on a real socket, built from Gong's published reference
//! (help.gong.io/apidocs): the two requests a pull makes, answered as Gong documents them.
//!
//! - Auth: HTTP basic with the access key and its secret; anything else is 401 with
//!   `{"requestId", "errors": [...]}`.
//! - `POST /v2/calls/extensive` (`filter.fromDateTime`, `cursor`,
//!   `contentSelector.exposedFields.parties`): the calls that started at or after the time,
//!   oldest first, `page_size` a page (Gong's is 100) with `records.cursor` while more remain;
//!   each call is its `metaData` and, when asked for, its `parties`.
//! - `POST /v2/calls/transcript` (`filter.callIds`): `callTranscripts`, an empty `transcript`
//!   for a call not transcribed yet (`add_call(.., false)`, then `transcribe`).
//! - No call matching the filter: 404, "No calls found corresponding to the provided filters".
//!
//! Calls are added as Gong documents (`callTranscripts` and `calls`, one call each), such as
//! `tests/fixtures/gong/call_with_parties.json`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// `document` (a Gong document of one call) as another call: its own id, start, and the
/// External party's phone number.
pub fn call_as(document: &Value, id: &str, started: DateTime<Utc>, phone: &str) -> Value {
    let mut doc = document.clone();
    doc["callTranscripts"][0]["callId"] = id.into();
    let call = &mut doc["calls"][0];
    call["metaData"]["id"] = id.into();
    call["metaData"]["started"] = started.to_rfc3339().into();
    let external = call["parties"]
        .as_array_mut()
        .and_then(|p| p.iter_mut().find(|p| p["affiliation"] == "External"))
        .expect("an External party");
    external["phoneNumber"] = phone.into();
    doc
}

struct Call {
    id: String,
    started: DateTime<Utc>,
    extensive: Value,
    transcript: Value,
    transcribed: bool,
}

struct Inner {
    basic: String,
    page_size: usize,
    calls: Vec<Call>,
    /// Requests answered, by path.
    requests: BTreeMap<String, usize>,
    /// The call ids transcripts were asked for, in order.
    asked: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct Gong {
    /// Its base URL (`http://127.0.0.1:<port>`), the connection's `base_url`.
    pub url: String,
    inner: Shared,
    _serving: crate::standin::Serving,
}

impl Gong {
    pub async fn start(access_key: &str, secret: &str, page_size: usize) -> Self {
        let (listener, url) = crate::standin::bind().await;
        let inner = Arc::new(Mutex::new(Inner {
            basic: base64::engine::general_purpose::STANDARD
                .encode(format!("{access_key}:{secret}")),
            page_size,
            calls: Vec::new(),
            requests: BTreeMap::new(),
            asked: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/v2/calls/extensive", post(extensive))
            .route("/v2/calls/transcript", post(transcripts))
            .with_state(inner.clone());
        Self {
            url,
            inner,
            _serving: crate::standin::Serving::start(listener, app),
        }
    }

    /// A recorded call: a Gong document of one call. `transcribed`: Gong has its transcript.
    pub fn add_call(&self, document: &Value, transcribed: bool) {
        let extensive = document["calls"][0].clone();
        let meta = &extensive["metaData"];
        let id = meta["id"].as_str().expect("metaData.id").to_owned();
        let started = DateTime::parse_from_rfc3339(meta["started"].as_str().expect("started"))
            .unwrap()
            .to_utc();
        self.inner.lock().unwrap().calls.push(Call {
            id,
            started,
            extensive,
            transcript: document["callTranscripts"][0].clone(),
            transcribed,
        });
    }

    /// Gong has now transcribed call `id`.
    pub fn transcribe(&self, id: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .calls
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap()
            .transcribed = true;
    }

    /// Requests answered on `path`, refusals included.
    pub fn requests(&self, path: &str) -> usize {
        *self.inner.lock().unwrap().requests.get(path).unwrap_or(&0)
    }

    /// The call ids transcripts were asked for, in order.
    pub fn asked(&self) -> Vec<String> {
        self.inner.lock().unwrap().asked.clone()
    }
}

fn errors(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"requestId": "standin0000000001", "errors": [message]})),
    )
        .into_response()
}

fn admit<'a>(
    inner: &'a Shared,
    headers: &HeaderMap,
    path: &str,
) -> Option<std::sync::MutexGuard<'a, Inner>> {
    let mut inner = inner.lock().unwrap();
    *inner.requests.entry(path.to_owned()).or_default() += 1;
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|v| v == inner.basic);
    ok.then_some(inner)
}

const NONE_FOUND: &str = "No calls found corresponding to the provided filters";

async fn extensive(State(inner): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let Some(inner) = admit(&inner, &headers, "/v2/calls/extensive") else {
        return errors(StatusCode::UNAUTHORIZED, "Invalid credentials");
    };
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, "Malformed JSON request");
    };
    let from = match request["filter"]["fromDateTime"].as_str() {
        None => DateTime::<Utc>::MIN_UTC,
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => t.to_utc(),
            Err(_) => return errors(StatusCode::BAD_REQUEST, "Invalid fromDateTime"),
        },
    };
    let offset = match request["cursor"].as_str() {
        None => 0,
        Some(c) => match c
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return errors(StatusCode::BAD_REQUEST, "Invalid cursor"),
        },
    };
    let parties = request["contentSelector"]["exposedFields"]["parties"] == true;
    let mut matching: Vec<&Call> = inner.calls.iter().filter(|c| c.started >= from).collect();
    matching.sort_by_key(|c| c.started);
    if matching.is_empty() {
        return errors(StatusCode::NOT_FOUND, NONE_FOUND);
    }
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(inner.page_size)
        .map(|c| {
            let mut call = json!({"metaData": c.extensive["metaData"]});
            if parties {
                call["parties"] = c.extensive["parties"].clone();
            }
            call
        })
        .collect();
    let mut records = json!({
        "totalRecords": matching.len(),
        "currentPageSize": page.len(),
        "currentPageNumber": offset / inner.page_size,
    });
    if offset + inner.page_size < matching.len() {
        records["cursor"] = format!("page-{}", offset + inner.page_size).into();
    }
    axum::Json(json!({"requestId": "standin0000000002", "records": records, "calls": page}))
        .into_response()
}

async fn transcripts(State(inner): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let Some(mut inner) = admit(&inner, &headers, "/v2/calls/transcript") else {
        return errors(StatusCode::UNAUTHORIZED, "Invalid credentials");
    };
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, "Malformed JSON request");
    };
    let ids: Vec<String> = request["filter"]["callIds"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    inner.asked.extend(ids.iter().cloned());
    let found: Vec<Value> = inner
        .calls
        .iter()
        .filter(|c| ids.contains(&c.id))
        .map(|c| {
            if c.transcribed {
                c.transcript.clone()
            } else {
                json!({"callId": c.id, "transcript": []})
            }
        })
        .collect();
    if found.is_empty() {
        return errors(StatusCode::NOT_FOUND, NONE_FOUND);
    }
    axum::Json(json!({
        "requestId": "standin0000000003",
        "records": {"totalRecords": found.len(), "currentPageSize": found.len(), "currentPageNumber": 0},
        "callTranscripts": found,
    }))
    .into_response()
}
