//! A stateful stand-in for Pipedrive's API on a real socket, built from Pipedrive's published
//! reference (developers.pipedrive.com/docs/api/v1 and /v2, pipedrive.readme.io): what
//! leadscore's sync calls, answering as Pipedrive documents it.
//!
//! - Auth: the API token in `x-api-token`, or an OAuth app's bearer token ([`crate::oauth`]:
//!   `GET /oauth/authorize` and `POST /oauth/token`, served here too, where Pipedrive serves
//!   them on `oauth.pipedrive.com`; `api_domain` is this stand-in); anything else is 401
//!   `unauthorized access`.
//! - Answers `{"success": true, "data", "additional_data"}`; errors `{"success": false,
//!   "error", "error_info", "errorCode", "data": null}`.
//! - Persons (API v2): `GET /api/v2/persons` (`limit` at most 500, else 400; `cursor` paging,
//!   `additional_data.next_cursor`; `include_fields` with the deal counts), `GET`, `PATCH`
//!   (`custom_fields` by field code; an unknown code or a value of the wrong type is 400) and
//!   `POST /api/v2/persons` (`name` required), and `GET /api/v2/persons/search` (`term` of at
//!   least 2 characters, or 1 with `exact_match`; `fields` among `phone`, `email`, `name`;
//!   numbers matched by their digits, as typed).
//! - Deals: `GET /api/v2/deals/{id}` (`status` open, won or lost; `value`; `person_id`).
//! - Activities: `POST /api/v2/activities` (`subject` required; `type` among the account's
//!   activity types; `due_date` `YYYY-MM-DD` and `due_time` `HH:MM`; `person_id` is
//!   read-only in v2, 400 as Pipedrive answers it: the person is a `participants` entry with
//!   `primary`, and must exist).
//! - Person fields: `GET` and `POST /api/v2/personFields` (`field_name`, `field_type` among
//!   Pipedrive's types); a custom field gets a 40-character hex `field_code`.
//! - Webhooks: `POST /api/v1/webhooks` (`subscription_url`, `event_action` and `event_object`
//!   as version 2.0 names them, `http_auth_user`/`http_auth_password`), `DELETE
//!   /api/v1/webhooks/{id}`. [`Pipedrive::set_deal_status`] changes a deal as a rep would and
//!   notifies every matching webhook as Pipedrive does (version 2.0 body, basic auth).
//! - Limits: `limit` requests per rolling two seconds per token (20, Essential with an API
//!   token) and 10 searches per rolling two seconds; past them, 429 `Request over limit` with
//!   the `x-ratelimit-*` headers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

const WINDOW: Duration = Duration::from_secs(2);
const SEARCH_LIMIT: usize = 10;
const FIELD_TYPES: [&str; 16] = [
    "varchar",
    "varchar_auto",
    "text",
    "double",
    "monetary",
    "date",
    "set",
    "enum",
    "user",
    "org",
    "people",
    "phone",
    "time",
    "timerange",
    "daterange",
    "address",
];

/// What the stand-in saw, for the tests' assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered (429s included).
    pub requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// The most requests seen in any rolling two seconds.
    pub max_in_window: usize,
    /// The most searches seen in any rolling two seconds.
    pub max_searches_in_window: usize,
    pub searches: u64,
    /// Person updates and creations.
    pub updates: u64,
    pub creations: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Person {
    pub name: String,
    pub owner_id: u64,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// By field code.
    pub custom: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
struct Deal {
    status: String,
    value: f64,
    person_id: u64,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    code: String,
    kind: String,
    custom: bool,
}

#[derive(Debug, Clone)]
struct Webhook {
    url: String,
    action: String,
    object: String,
    user: String,
    password: String,
}

struct Inner {
    token: String,
    oauth: crate::oauth::Authority,
    limit: usize,
    recent: VecDeque<Instant>,
    recent_searches: VecDeque<Instant>,
    stats: Stats,
    next_id: u64,
    persons: BTreeMap<u64, Person>,
    deals: BTreeMap<u64, Deal>,
    fields: Vec<Field>,
    webhooks: BTreeMap<u64, Webhook>,
    /// Activities made, as their bodies came.
    activities: BTreeMap<u64, Value>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running stand-in; stops when dropped.
pub struct Pipedrive {
    /// Its base URL (`http://127.0.0.1:<port>`), for `base_url`.
    pub url: String,
    inner: Shared,
    _serving: crate::standin::Serving,
}

impl Pipedrive {
    /// Start one that accepts `token`.
    pub async fn start(token: &str) -> Self {
        let field = |name: &str, code: &str, kind: &str| Field {
            name: name.into(),
            code: code.into(),
            kind: kind.into(),
            custom: false,
        };
        let (listener, url) = crate::standin::bind().await;
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            oauth: crate::oauth::Authority::new(
                crate::oauth::Dialect::Pipedrive,
                CLIENT_ID,
                CLIENT_SECRET,
                &url,
            ),
            limit: 20,
            recent: VecDeque::new(),
            recent_searches: VecDeque::new(),
            stats: Stats::default(),
            next_id: 1,
            persons: BTreeMap::new(),
            activities: BTreeMap::new(),
            deals: BTreeMap::new(),
            fields: vec![
                field("Name", "name", "varchar"),
                field("Phone", "phone", "phone"),
                field("Email", "email", "varchar"),
                field("Owner", "owner_id", "user"),
            ],
            webhooks: BTreeMap::new(),
        }));
        let app = axum::Router::new()
            .route("/api/v2/personFields", get(list_fields).post(create_field))
            .route("/api/v2/persons", get(list_persons).post(create_person))
            .route("/api/v2/persons/search", get(search_persons))
            .route("/api/v2/persons/{id}", get(get_person).patch(update_person))
            .route("/api/v2/deals/{id}", get(get_deal))
            .route("/api/v2/activities", post(create_activity))
            .route("/api/v1/webhooks", post(create_webhook))
            .route("/api/v1/webhooks/{id}", delete(delete_webhook))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "Unknown method .", "") })
            .layer(axum::middleware::from_fn_with_state(inner.clone(), gate))
            .route(
                "/oauth/authorize",
                get(crate::oauth::authorize_route::<Inner>),
            )
            .route("/oauth/token", post(crate::oauth::token_route::<Inner>))
            .with_state(inner.clone());
        let _serving = crate::standin::Serving::start(listener, app);
        Self {
            url,
            inner,
            _serving,
        }
    }

    /// Its OAuth authorization server (the app [`CLIENT_ID`] / [`CLIENT_SECRET`]).
    pub fn oauth<R>(&self, f: impl FnOnce(&mut crate::oauth::Authority) -> R) -> R {
        f(&mut self.inner.lock().unwrap().oauth)
    }

    /// Requests per rolling two seconds before 429.
    pub fn set_limit(&self, limit: usize) {
        self.inner.lock().unwrap().limit = limit;
    }

    pub fn stats(&self) -> Stats {
        self.inner.lock().unwrap().stats.clone()
    }

    /// Add a person as a rep would in Pipedrive; its id.
    pub fn add_person(&self, name: &str, phones: &[&str], emails: &[&str]) -> String {
        let mut s = self.inner.lock().unwrap();
        let id = s.next_id;
        s.next_id += 1;
        s.persons.insert(
            id,
            Person {
                name: name.to_owned(),
                owner_id: 1,
                phones: phones.iter().map(|p| p.to_string()).collect(),
                emails: emails.iter().map(|e| e.to_string()).collect(),
                custom: BTreeMap::new(),
            },
        );
        id.to_string()
    }

    /// Add an open deal for a person; its id.
    pub fn add_deal(&self, person: &str, value: f64) -> String {
        let mut s = self.inner.lock().unwrap();
        let id = s.next_id;
        s.next_id += 1;
        s.deals.insert(
            id,
            Deal {
                status: "open".into(),
                value,
                person_id: person.parse().unwrap(),
            },
        );
        id.to_string()
    }

    /// Change a person's owner as a rep would (no webhook is sent).
    pub fn set_owner(&self, person: &str, owner: u64) {
        let mut s = self.inner.lock().unwrap();
        s.persons
            .get_mut(&person.parse().unwrap())
            .unwrap()
            .owner_id = owner;
    }

    /// A rep marks a deal `won`, `lost` or `open` again: Pipedrive notifies every webhook
    /// subscribed to deal changes, as it documents (version 2.0, the basic credentials given
    /// at subscription). The answers' statuses.
    pub async fn set_deal_status(&self, deal: &str, status: &str) -> Vec<u16> {
        let mut statuses = Vec::new();
        for (url, body, authorization) in self.deal_notifications(deal, status) {
            let answer = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("user-agent", "Pipedrive Webhooks")
                .header("authorization", authorization)
                .body(body.to_string())
                .send()
                .await;
            statuses.push(answer.map_or(0, |r| r.status().as_u16()));
        }
        statuses
    }

    /// [`set_deal_status`](Self::set_deal_status) without the sending: the change is made,
    /// and each notification Pipedrive would post comes back as its URL, body and
    /// `Authorization` header (for a caller that delivers it another way, as API Gateway).
    pub fn deal_notifications(&self, deal: &str, status: &str) -> Vec<(String, Value, String)> {
        let id: u64 = deal.parse().unwrap();
        let (hooks, data, previous) = {
            let mut s = self.inner.lock().unwrap();
            let d = s.deals.get_mut(&id).unwrap();
            let previous = json!({"status": d.status});
            d.status = status.to_owned();
            let data = deal_json(id, d);
            let hooks: Vec<(u64, Webhook)> = s
                .webhooks
                .iter()
                .filter(|(_, w)| {
                    (w.object == "deal" || w.object == "*")
                        && (w.action == "change" || w.action == "*")
                })
                .map(|(k, w)| (*k, w.clone()))
                .collect();
            (hooks, data, previous)
        };
        let mut notifications = Vec::new();
        for (hook_id, hook) in hooks {
            let body = json!({
                "meta": {
                    "action": "change", "entity": "deal", "entity_id": id.to_string(),
                    "id": id.to_string(), "version": "2.0", "webhook_id": hook_id.to_string(),
                    "company_id": "12882925", "user_id": "18487521", "attempt": 1,
                    "host": "company.pipedrive.com", "change_source": "app",
                    "timestamp": chrono::Utc::now().to_rfc3339(),
                    "correlation_id": "3c3d1a3e-5f1d-4a7a-9a83-0c3b5e6f7a81",
                },
                "data": data,
                "previous": previous,
            });
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", hook.user, hook.password));
            notifications.push((hook.url.clone(), body, format!("Basic {auth}")));
        }
        notifications
    }

    /// Every activity made, by id, as its body came.
    pub fn activities(&self) -> BTreeMap<String, Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .activities
            .iter()
            .map(|(id, a)| (id.to_string(), a.clone()))
            .collect()
    }

    /// A person, by id.
    pub fn person(&self, id: &str) -> Option<Person> {
        self.inner
            .lock()
            .unwrap()
            .persons
            .get(&id.parse().ok()?)
            .cloned()
    }

    pub fn persons(&self) -> BTreeMap<String, Person> {
        let s = self.inner.lock().unwrap();
        s.persons
            .iter()
            .map(|(id, p)| (id.to_string(), p.clone()))
            .collect()
    }

    /// A person's value of the custom field named `name`.
    pub fn custom_value(&self, id: &str, name: &str) -> Option<Value> {
        let s = self.inner.lock().unwrap();
        let code = &s.fields.iter().find(|f| f.name == name)?.code;
        s.persons.get(&id.parse().ok()?)?.custom.get(code).cloned()
    }

    /// The custom fields there are, by name.
    pub fn custom_fields(&self) -> Vec<String> {
        let s = self.inner.lock().unwrap();
        s.fields
            .iter()
            .filter(|f| f.custom)
            .map(|f| f.name.clone())
            .collect()
    }

    /// The subscribed webhooks' URLs.
    pub fn webhooks(&self) -> Vec<String> {
        let s = self.inner.lock().unwrap();
        s.webhooks.values().map(|w| w.url.clone()).collect()
    }
}

fn error(status: StatusCode, message: &str, info: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "success": false,
            "error": message,
            "error_info": info,
            "errorCode": status.as_u16(),
            "data": null,
            "additional_data": null,
        })),
    )
        .into_response()
}

fn ok(status: StatusCode, data: Value, additional: Value) -> Response {
    (
        status,
        axum::Json(json!({"success": true, "data": data, "additional_data": additional})),
    )
        .into_response()
}

/// Drop what is older than the window; whether another may pass under `limit`.
fn admit(recent: &mut VecDeque<Instant>, limit: usize, now: Instant) -> bool {
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        recent.pop_front();
    }
    if recent.len() >= limit {
        return false;
    }
    recent.push_back(now);
    true
}

fn over_limit(limit: usize) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Request over limit",
        "Please check developers.pipedrive.com/docs/api/v1/#/rate-limiting",
    );
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", limit.to_string().parse().unwrap());
    headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
    headers.insert("x-ratelimit-reset", "2".parse().unwrap());
    response
}

/// Every request: the token, then the rolling two-second limits.
/// The app the stand-in's OAuth server knows.
pub const CLIENT_ID: &str = "b4d083d9216986345b32";
pub const CLIENT_SECRET: &str = "pipedrive-app-secret";

impl crate::oauth::Holds for Inner {
    fn authority(&mut self) -> &mut crate::oauth::Authority {
        &mut self.oauth
    }
}

async fn gate(
    State(inner): State<Shared>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    {
        let mut s = inner.lock().unwrap();
        s.stats.requests += 1;
        let token = headers.get("x-api-token").and_then(|v| v.to_str().ok());
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = token == Some(s.token.as_str())
            || bearer.is_some_and(|b| s.oauth.check(b) == crate::oauth::Bearer::Valid);
        if !valid {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized access",
                "Please check developers.pipedrive.com/docs/api/v1/#/authorization",
            );
        }
        let now = Instant::now();
        let limit = s.limit;
        if !admit(&mut s.recent, limit, now) {
            s.stats.rate_limited += 1;
            return over_limit(limit);
        }
        s.stats.max_in_window = s.stats.max_in_window.max(s.recent.len());
        if request.uri().path() == "/api/v2/persons/search" {
            if !admit(&mut s.recent_searches, SEARCH_LIMIT, now) {
                s.stats.rate_limited += 1;
                return over_limit(SEARCH_LIMIT);
            }
            s.stats.max_searches_in_window =
                s.stats.max_searches_in_window.max(s.recent_searches.len());
        }
    }
    next.run(request).await
}

async fn list_fields(State(inner): State<Shared>) -> Response {
    let s = inner.lock().unwrap();
    let data: Vec<Value> = s
        .fields
        .iter()
        .map(|f| {
            json!({"field_name": f.name, "field_code": f.code, "field_type": f.kind,
                   "is_custom_field": f.custom, "is_optional_response_field": false})
        })
        .collect();
    ok(StatusCode::OK, json!(data), json!({"next_cursor": null}))
}

async fn create_field(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let (Some(name), Some(kind)) = (body["field_name"].as_str(), body["field_type"].as_str())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: field_name: Required; field_type: Required",
            "",
        );
    };
    if !FIELD_TYPES.contains(&kind) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Validation failed: field_type: Invalid enum value '{kind}'"),
            "",
        );
    }
    // Pipedrive's codes are 40 hex characters, different in every account.
    let code = hex(&sha2::Sha256::digest(format!("{}/{name}", s.next_id).as_bytes())[..20]);
    s.next_id += 1;
    s.fields.push(Field {
        name: name.to_owned(),
        code: code.clone(),
        kind: kind.to_owned(),
        custom: true,
    });
    ok(
        StatusCode::OK,
        json!({"field_name": name, "field_code": code, "field_type": kind, "is_custom_field": true}),
        Value::Null,
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn labelled(values: &[String]) -> Value {
    json!(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"value": v, "primary": i == 0, "label": "work"}))
            .collect::<Vec<_>>()
    )
}

fn person_json(s: &Inner, id: u64, p: &Person, counts: bool) -> Value {
    let (first, last) = p.name.split_once(' ').unwrap_or((&p.name, ""));
    let mut v = json!({
        "id": id, "name": p.name, "first_name": first, "last_name": last,
        "owner_id": p.owner_id, "org_id": null,
        "phones": labelled(&p.phones), "emails": labelled(&p.emails),
        "custom_fields": p.custom, "visible_to": 3, "label_ids": [],
        "add_time": "2026-11-02T09:00:00Z", "update_time": "2026-11-30T16:20:00Z",
    });
    if counts {
        let mine = |status: &str| {
            s.deals
                .values()
                .filter(|d| d.person_id == id && d.status == status)
                .count()
        };
        v["won_deals_count"] = json!(mine("won"));
        v["lost_deals_count"] = json!(mine("lost"));
        v["open_deals_count"] = json!(mine("open"));
    }
    v
}

fn deal_json(id: u64, d: &Deal) -> Value {
    json!({
        "id": id, "title": format!("Deal {id}"), "value": d.value, "currency": "USD",
        "status": d.status, "person_id": d.person_id, "stage_id": 1, "pipeline_id": 1,
        "owner_id": 1, "org_id": null, "is_deleted": false,
    })
}

fn wants_counts(query: &BTreeMap<String, String>) -> bool {
    query
        .get("include_fields")
        .is_some_and(|f| f.contains("won_deals_count"))
}

async fn list_persons(
    State(inner): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: limit: Number must be less than or equal to 500",
            "",
        );
    }
    // The cursor is opaque to clients; here it is the last id seen, encoded.
    let after: u64 = match query.get("cursor") {
        None => 0,
        Some(c) => match base64::engine::general_purpose::STANDARD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.strip_prefix("id:").and_then(|n| n.parse().ok()))
        {
            Some(n) => n,
            None => return error(StatusCode::BAD_REQUEST, "Invalid cursor", ""),
        },
    };
    let counts = wants_counts(&query);
    let page: Vec<(u64, &Person)> = s
        .persons
        .range(after + 1..)
        .take(limit + 1)
        .map(|(id, p)| (*id, p))
        .collect();
    let more = page.len() > limit;
    let data: Vec<Value> = page
        .iter()
        .take(limit)
        .map(|(id, p)| person_json(&s, *id, p, counts))
        .collect();
    let next = more.then(|| {
        base64::engine::general_purpose::STANDARD.encode(format!("id:{}", page[limit - 1].0))
    });
    ok(StatusCode::OK, json!(data), json!({"next_cursor": next}))
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

async fn search_persons(
    State(inner): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.searches += 1;
    let term = query.get("term").cloned().unwrap_or_default();
    let exact = query.get("exact_match").is_some_and(|e| e == "true");
    if term.chars().count() < if exact { 1 } else { 2 } {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: term: String must contain at least 2 character(s)",
            "",
        );
    }
    let fields: Vec<String> = query
        .get("fields")
        .map(|f| f.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|| vec!["phone".into(), "email".into(), "name".into()]);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let term_lower = term.to_lowercase();
    let text_matches = |value: &str| {
        let value = value.to_lowercase();
        if exact {
            value == term_lower
        } else {
            value.contains(&term_lower)
        }
    };
    let hits: Vec<Value> = s
        .persons
        .iter()
        .filter(|(_, p)| {
            fields.iter().any(|f| match f.as_str() {
                "phone" => {
                    let wanted = digits(&term);
                    !wanted.is_empty()
                        && p.phones.iter().any(|n| {
                            let have = digits(n);
                            if exact {
                                have == wanted
                            } else {
                                have.contains(&wanted)
                            }
                        })
                }
                "email" => p.emails.iter().any(|e| text_matches(e)),
                "name" => text_matches(&p.name),
                _ => false,
            })
        })
        .take(limit)
        .map(|(id, p)| {
            json!({"result_score": 1.0, "item": {
                "id": id, "type": "person", "name": p.name, "phones": p.phones,
                "emails": p.emails, "visible_to": 3, "owner": {"id": p.owner_id},
                "organization": null, "custom_fields": [], "notes": [],
            }})
        })
        .collect();
    ok(
        StatusCode::OK,
        json!({"items": hits}),
        json!({"next_cursor": null}),
    )
}

async fn get_person(
    State(inner): State<Shared>,
    Path(id): Path<u64>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    match s.persons.get(&id) {
        Some(p) => ok(
            StatusCode::OK,
            person_json(&s, id, p, wants_counts(&query)),
            Value::Null,
        ),
        None => error(StatusCode::NOT_FOUND, "Person not found", ""),
    }
}

/// Check custom values against the fields: a code that is not there, or a value of the
/// wrong type, is refused as Pipedrive refuses it.
fn check_custom(s: &Inner, custom: &Value) -> Result<BTreeMap<String, Value>, Box<Response>> {
    let Some(map) = custom.as_object() else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (code, value) in map {
        let Some(field) = s.fields.iter().find(|f| f.custom && &f.code == code) else {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!("Validation failed: custom_fields: Unknown custom field key '{code}'"),
                "",
            )));
        };
        let fits = match field.kind.as_str() {
            "double" => value.is_number() || value.is_null(),
            "varchar" => {
                value.as_str().is_some_and(|v| v.chars().count() <= 255) || value.is_null()
            }
            _ => value.is_string() || value.is_null(),
        };
        if !fits {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Validation failed: custom_fields.{code}: not a valid {} value",
                    field.kind
                ),
                "",
            )));
        }
        out.insert(code.clone(), value.clone());
    }
    Ok(out)
}

async fn update_person(
    State(inner): State<Shared>,
    Path(id): Path<u64>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.updates += 1;
    let custom = match check_custom(&s, &body["custom_fields"]) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    if !s.persons.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, "Person not found", "");
    }
    let person = s.persons.get_mut(&id).unwrap();
    person.custom.extend(custom);
    let person = person.clone();
    ok(
        StatusCode::OK,
        person_json(&s, id, &person, false),
        Value::Null,
    )
}

async fn create_person(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.creations += 1;
    let Some(name) = body["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: name: Required",
            "",
        );
    };
    let custom = match check_custom(&s, &body["custom_fields"]) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let values = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let person = Person {
        name: name.to_owned(),
        owner_id: 1,
        phones: values("phones"),
        emails: values("emails"),
        custom,
    };
    let id = s.next_id;
    s.next_id += 1;
    s.persons.insert(id, person.clone());
    ok(
        StatusCode::OK,
        person_json(&s, id, &person, false),
        Value::Null,
    )
}

/// Pipedrive's default activity types (`key_string`).
const ACTIVITY_TYPES: [&str; 6] = ["call", "meeting", "task", "deadline", "email", "lunch"];

async fn create_activity(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    if body["subject"].as_str().is_none_or(|t| t.trim().is_empty()) {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: subject: Required",
            "",
        );
    }
    if !body["person_id"].is_null() {
        return error(
            StatusCode::BAD_REQUEST,
            "'person_id' is a read-only field. Add a primary participant to set 'person_id' instead.",
            "",
        );
    }
    if let Some(kind) = body["type"].as_str()
        && !ACTIVITY_TYPES.contains(&kind)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: type: Invalid",
            "",
        );
    }
    let date_ok = body["due_date"]
        .as_str()
        .is_none_or(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    let time_ok = body["due_time"]
        .as_str()
        .is_none_or(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok());
    if !date_ok || !time_ok {
        return error(
            StatusCode::BAD_REQUEST,
            "Validation failed: due_date must be YYYY-MM-DD and due_time HH:MM",
            "",
        );
    }
    for participant in body["participants"].as_array().into_iter().flatten() {
        let person = participant["person_id"].as_u64();
        if !person.is_some_and(|p| s.persons.contains_key(&p)) {
            return error(StatusCode::BAD_REQUEST, "Person not found", "");
        }
    }
    let id = s.next_id;
    s.next_id += 1;
    let mut activity = body.0.clone();
    activity["id"] = json!(id);
    activity["person_id"] = body["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["primary"] == json!(true)))
        .map_or(Value::Null, |p| p["person_id"].clone());
    s.activities.insert(id, activity.clone());
    ok(StatusCode::OK, activity, Value::Null)
}

async fn get_deal(State(inner): State<Shared>, Path(id): Path<u64>) -> Response {
    let s = inner.lock().unwrap();
    match s.deals.get(&id) {
        Some(d) => ok(StatusCode::OK, deal_json(id, d), Value::Null),
        None => error(StatusCode::NOT_FOUND, "Deal not found", ""),
    }
}

async fn create_webhook(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let (url, action, object) = (
        text("subscription_url"),
        text("event_action"),
        text("event_object"),
    );
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return error(
            StatusCode::BAD_REQUEST,
            "The field 'subscription_url' must be a valid URL",
            "",
        );
    }
    // Version 2.0 names its actions create, change and delete.
    if text("version") != "2.0" || !["create", "change", "delete", "*"].contains(&action.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Event action '{action}' is not supported by webhooks version 2.0"),
            "",
        );
    }
    let id = s.next_id;
    s.next_id += 1;
    s.webhooks.insert(
        id,
        Webhook {
            url: url.clone(),
            action: action.clone(),
            object: object.clone(),
            user: text("http_auth_user"),
            password: text("http_auth_password"),
        },
    );
    ok(
        StatusCode::CREATED,
        json!({"id": id, "subscription_url": url, "event_action": action,
               "event_object": object, "version": "2.0", "is_active": 1,
               "http_auth_user": text("http_auth_user"), "http_auth_password": "***"}),
        Value::Null,
    )
}

async fn delete_webhook(State(inner): State<Shared>, Path(id): Path<u64>) -> Response {
    let mut s = inner.lock().unwrap();
    match s.webhooks.remove(&id) {
        Some(_) => ok(StatusCode::OK, json!({"id": id}), Value::Null),
        None => error(StatusCode::NOT_FOUND, "Webhook not found", ""),
    }
}
