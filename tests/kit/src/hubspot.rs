//! A stateful stand-in for HubSpot's CRM API (v3) on a real socket, built from HubSpot's
//! published reference (developers.hubspot.com/docs/api-reference): what leadscore's sync
//! calls, answering as HubSpot documents it.
//!
//! - Auth: `Authorization: Bearer <private app token>`, or an OAuth app's access token
//!   ([`crate::oauth`]: `GET /oauth/authorize`, `POST /oauth/v1/token`); an expired one is 401
//!   `EXPIRED_AUTHENTICATION`, anything else 401 `INVALID_AUTHENTICATION`.
//! - Contacts: `POST /crm/v3/objects/contacts/search` (filter groups OR-ed, at most 5; filters
//!   AND-ed; `EQ` and `IN` (at most 100 values); `limit` at most 200; paging by `after`),
//!   `POST .../batch/create` and `.../batch/update` (at most 100 inputs, else 400
//!   `VALIDATION_ERROR`; an id that is not there is a 207 with an `OBJECT_NOT_FOUND` error
//!   naming it; a property that does not exist is 400 `PROPERTY_DOESNT_EXIST`),
//!   `GET /crm/v3/objects/contacts/{id}`, and every contact a page at a time (`GET
//!   /crm/v3/objects/contacts?limit=&after=&properties=`, `limit` at most 100). HubSpot keeps each phone number's national digits in
//!   `hs_searchable_calculated_phone_number` (and `..._mobile_number`), computed here the same.
//! - Deals: `GET /crm/v3/objects/deals/{id}?associations=contacts`.
//! - Tasks: `POST /crm/v3/objects/tasks` (`hs_timestamp` required, else 400
//!   `VALIDATION_ERROR`; an association to a contact by type 204 whose contact is not there is
//!   400 naming it; 201 with the task).
//! - Properties: `POST /crm/v3/properties/contacts/groups` and `/crm/v3/properties/contacts`
//!   (409 `OBJECT_ALREADY_EXISTS` for a name taken).
//! - Rate limit: `limit` requests per rolling ten seconds (100, a private app on Free or
//!   Starter); past it, 429 with HubSpot's body (`policyName: TEN_SECONDLY_ROLLING`) and
//!   `Retry-After`.
//! - Webhooks: [`HubSpot::send_webhook`] posts events signed as HubSpot documents
//!   `X-HubSpot-Signature-v3`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

type Properties = BTreeMap<String, String>;

/// What the stand-in saw, for the tests' assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered (429s included).
    pub requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// The most requests seen in any rolling ten seconds.
    pub max_in_window: usize,
    /// Batch create and update calls, and the inputs they carried.
    pub batch_calls: u64,
    pub batch_inputs: u64,
    /// Search calls.
    pub searches: u64,
}

struct Inner {
    token: String,
    oauth: crate::oauth::Authority,
    limit: usize,
    recent: VecDeque<Instant>,
    stats: Stats,
    next_id: u64,
    contacts: BTreeMap<u64, Properties>,
    deals: BTreeMap<u64, (Properties, Vec<u64>)>,
    /// Tasks made, with the contacts they are associated with.
    tasks: BTreeMap<u64, (Properties, Vec<u64>)>,
    groups: Vec<String>,
    properties: Vec<String>,
}

/// HubSpot's default contact properties, as far as the sync reads or writes them.
const DEFAULT_PROPERTIES: [&str; 12] = [
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "mobilephone",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "hs_analytics_source",
    "hs_searchable_calculated_phone_number",
    "hs_searchable_calculated_mobile_number",
];

/// A running stand-in; stops when dropped.
pub struct HubSpot {
    /// Its base URL (`http://127.0.0.1:<port>`), for `base_url`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    _serving: crate::standin::Serving,
}

type Shared = Arc<Mutex<Inner>>;

/// The public app the stand-in's OAuth server knows.
pub const CLIENT_ID: &str = "5f0c8a8e-hubspot-app";
pub const CLIENT_SECRET: &str = "hubspot-app-secret";

impl crate::oauth::Holds for Inner {
    fn authority(&mut self) -> &mut crate::oauth::Authority {
        &mut self.oauth
    }
}

impl HubSpot {
    /// Start one that accepts `token`.
    pub async fn start(token: &str) -> Self {
        let (listener, url) = crate::standin::bind().await;
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            oauth: crate::oauth::Authority::new(
                crate::oauth::Dialect::HubSpot,
                CLIENT_ID,
                CLIENT_SECRET,
                &url,
            ),
            limit: 100,
            recent: VecDeque::new(),
            stats: Stats::default(),
            next_id: 1001,
            contacts: BTreeMap::new(),
            deals: BTreeMap::new(),
            tasks: BTreeMap::new(),
            groups: vec!["contactinformation".to_owned()],
            properties: DEFAULT_PROPERTIES.iter().map(|p| p.to_string()).collect(),
        }));
        let app = axum::Router::new()
            .route("/crm/v3/properties/contacts/groups", post(create_group))
            .route("/crm/v3/properties/contacts", post(create_property))
            .route("/crm/v3/objects/contacts/search", post(search))
            .route("/crm/v3/objects/contacts/batch/update", post(batch_update))
            .route("/crm/v3/objects/contacts/batch/create", post(batch_create))
            .route("/crm/v3/objects/contacts", get(list_contacts))
            .route("/crm/v3/objects/contacts/{id}", get(get_contact))
            .route("/crm/v3/objects/deals/{id}", get(get_deal))
            .route("/crm/v3/objects/tasks", post(create_task))
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    "OBJECT_NOT_FOUND",
                    "resource not found",
                )
            })
            .layer(axum::middleware::from_fn_with_state(inner.clone(), gate))
            .route(
                "/oauth/authorize",
                get(crate::oauth::authorize_route::<Inner>),
            )
            .route("/oauth/v1/token", post(crate::oauth::token_route::<Inner>))
            .with_state(inner.clone());
        let _serving = crate::standin::Serving::start(listener, app);
        Self {
            url,
            inner,
            _serving,
        }
    }

    /// Its OAuth authorization server (the public app [`CLIENT_ID`] / [`CLIENT_SECRET`]).
    pub fn oauth<R>(&self, f: impl FnOnce(&mut crate::oauth::Authority) -> R) -> R {
        f(&mut self.inner.lock().unwrap().oauth)
    }

    /// Requests per rolling ten seconds before 429.
    pub fn set_limit(&self, limit: usize) {
        self.inner.lock().unwrap().limit = limit;
    }

    pub fn stats(&self) -> Stats {
        self.inner.lock().unwrap().stats.clone()
    }

    /// Add a contact as a person would in HubSpot; its id.
    pub fn add_contact(&self, properties: &[(&str, &str)]) -> String {
        let mut inner = self.inner.lock().unwrap();
        let id = inner.next_id;
        inner.next_id += 1;
        let mut props: Properties = properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        calculate(&mut props);
        inner.contacts.insert(id, props);
        id.to_string()
    }

    /// Add a deal associated with these contacts; its id.
    pub fn add_deal(&self, properties: &[(&str, &str)], contacts: &[&str]) -> String {
        let mut inner = self.inner.lock().unwrap();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.deals.insert(
            id,
            (
                properties
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                contacts.iter().map(|c| c.parse().unwrap()).collect(),
            ),
        );
        id.to_string()
    }

    /// Change a contact's property as a person would in HubSpot.
    pub fn set_property(&self, id: &str, name: &str, value: &str) {
        let mut inner = self.inner.lock().unwrap();
        let contact = inner.contacts.get_mut(&id.parse().unwrap()).unwrap();
        contact.insert(name.to_owned(), value.to_owned());
        calculate(contact);
    }

    pub fn contact(&self, id: &str) -> Option<Properties> {
        let inner = self.inner.lock().unwrap();
        inner.contacts.get(&id.parse().ok()?).cloned()
    }

    /// Every contact, by id.
    pub fn contacts(&self) -> BTreeMap<String, Properties> {
        let inner = self.inner.lock().unwrap();
        inner
            .contacts
            .iter()
            .map(|(id, p)| (id.to_string(), p.clone()))
            .collect()
    }

    /// Every task made, by id: its properties and the contacts it is associated with.
    pub fn tasks(&self) -> BTreeMap<String, (Properties, Vec<String>)> {
        let inner = self.inner.lock().unwrap();
        inner
            .tasks
            .iter()
            .map(|(id, (p, c))| {
                (
                    id.to_string(),
                    (p.clone(), c.iter().map(u64::to_string).collect()),
                )
            })
            .collect()
    }

    pub fn has_property(&self, name: &str) -> bool {
        self.inner
            .lock()
            .unwrap()
            .properties
            .iter()
            .any(|p| p == name)
    }

    /// Post `events` to `url` as HubSpot's webhooks do: signed with `client_secret`
    /// (`X-HubSpot-Signature-v3`: base64 HMAC-SHA256 of method, URL, body and timestamp) at
    /// `timestamp_ms`. The answer's status and body.
    pub async fn send_webhook(
        url: &str,
        client_secret: &str,
        events: &Value,
        timestamp_ms: i64,
    ) -> (u16, Value) {
        let body = events.to_string();
        let timestamp = timestamp_ms.to_string();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(client_secret.as_bytes()).unwrap();
        mac.update(format!("POST{url}{body}{timestamp}").as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("X-HubSpot-Signature-v3", signature)
            .header("X-HubSpot-Request-Timestamp", timestamp)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// HubSpot's searchable copies of a contact's numbers: the national digits (no country code).
fn calculate(props: &mut Properties) {
    for (from, to) in [
        ("phone", "hs_searchable_calculated_phone_number"),
        ("mobilephone", "hs_searchable_calculated_mobile_number"),
    ] {
        match props.get(from) {
            Some(number) => {
                let digits: String = number.chars().filter(char::is_ascii_digit).collect();
                let national = if number.trim_start().starts_with('+') {
                    // The stand-in knows North American numbers (+1) and UK ones (+44).
                    digits
                        .strip_prefix('1')
                        .filter(|_| digits.len() == 11)
                        .or_else(|| digits.strip_prefix("44"))
                        .unwrap_or(&digits)
                        .to_owned()
                } else {
                    digits.trim_start_matches('0').to_owned()
                };
                props.insert(to.to_owned(), national);
            }
            None => {
                props.remove(to);
            }
        }
    }
}

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "status": "error",
            "message": message,
            "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
            "category": category,
        })),
    )
        .into_response()
}

/// Every request: the bearer token, then the rolling ten-second limit.
async fn gate(
    State(inner): State<Shared>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    {
        let mut s = inner.lock().unwrap();
        s.stats.requests += 1;
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let verdict = if given == s.token {
            crate::oauth::Bearer::Valid
        } else {
            s.oauth.check(given)
        };
        if verdict == crate::oauth::Bearer::Expired {
            return error(
                StatusCode::UNAUTHORIZED,
                "EXPIRED_AUTHENTICATION",
                "The OAuth token used to make this call expired.",
            );
        }
        if verdict == crate::oauth::Bearer::Unknown {
            return error(
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication \
                 and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            );
        }
        let now = Instant::now();
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(10))
        {
            s.recent.pop_front();
        }
        if s.recent.len() >= s.limit {
            s.stats.rate_limited += 1;
            let wait = 10 - now.duration_since(s.recent[0]).as_secs().min(9);
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
                    "policyName": "TEN_SECONDLY_ROLLING",
                })),
            )
                .into_response();
            response
                .headers_mut()
                .insert("retry-after", wait.to_string().parse().unwrap());
            return response;
        }
        s.recent.push_back(now);
        s.stats.max_in_window = s.stats.max_in_window.max(s.recent.len());
    }
    next.run(request).await
}

async fn create_group(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let Some(name) = body["name"].as_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "name is required",
        );
    };
    if s.groups.iter().any(|g| g == name) {
        return error(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            &format!("A property group named '{name}' already exists."),
        );
    }
    s.groups.push(name.to_owned());
    (StatusCode::CREATED, axum::Json(body.0)).into_response()
}

async fn create_property(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let (Some(name), Some(group), Some(_), Some(_)) = (
        body["name"].as_str(),
        body["groupName"].as_str(),
        body["type"].as_str(),
        body["fieldType"].as_str(),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "name, groupName, type and fieldType are required",
        );
    };
    if !s.groups.iter().any(|g| g == group) {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("property group '{group}' does not exist"),
        );
    }
    if s.properties.iter().any(|p| p == name) {
        return error(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            &format!("Property named '{name}' already exists."),
        );
    }
    s.properties.push(name.to_owned());
    (StatusCode::CREATED, axum::Json(body.0)).into_response()
}

fn contact_json(id: u64, props: &Properties, wanted: Option<&[String]>) -> Value {
    let properties: serde_json::Map<String, Value> = match wanted {
        Some(names) => names
            .iter()
            .map(|n| (n.clone(), props.get(n).map_or(Value::Null, |v| json!(v))))
            .collect(),
        None => props.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
    };
    json!({
        "id": id.to_string(),
        "properties": properties,
        "createdAt": "2026-11-01T10:00:00.000Z",
        "updatedAt": "2026-12-01T10:00:00.000Z",
        "archived": false,
    })
}

fn matches(props: &Properties, filter: &Value) -> Result<bool, Box<Response>> {
    let name = filter["propertyName"].as_str().unwrap_or_default();
    let value = props.get(name).map(|v| v.to_lowercase());
    match filter["operator"].as_str() {
        Some("EQ") => {
            Ok(value.as_deref() == filter["value"].as_str().map(str::to_lowercase).as_deref())
        }
        Some("IN") => {
            let values = filter["values"].as_array().cloned().unwrap_or_default();
            if values.len() > 100 {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    "There was a problem with the request: too many values in an IN filter (100 allowed).",
                )));
            }
            Ok(values
                .iter()
                .filter_map(Value::as_str)
                .any(|v| value.as_deref() == Some(v)))
        }
        other => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("operator {other:?} is not supported by this stand-in"),
        ))),
    }
}

async fn search(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.searches += 1;
    let groups = body["filterGroups"].as_array().cloned().unwrap_or_default();
    if groups.len() > 5 {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "There was a problem with the request: at most 5 filterGroups.",
        );
    }
    let limit = body["limit"].as_u64().unwrap_or(10) as usize;
    if limit > 200 {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "limit: must be at most 200",
        );
    }
    let after: usize = body["after"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let wanted: Option<Vec<String>> = body["properties"].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let mut hits = Vec::new();
    for (id, props) in &s.contacts {
        let mut any = groups.is_empty();
        for group in &groups {
            let mut all = true;
            for filter in group["filters"].as_array().cloned().unwrap_or_default() {
                match matches(props, &filter) {
                    Ok(m) => all &= m,
                    Err(response) => return *response,
                }
            }
            any |= all;
        }
        if any {
            hits.push(contact_json(*id, props, wanted.as_deref()));
        }
    }
    let total = hits.len();
    let page: Vec<Value> = hits.into_iter().skip(after).take(limit).collect();
    let mut answer = json!({"total": total, "results": page});
    if after + limit < total {
        answer["paging"] = json!({"next": {"after": (after + limit).to_string()}});
    }
    axum::Json(answer).into_response()
}

fn check_batch(s: &mut Inner, inputs: &[Value]) -> Result<(), Box<Response>> {
    if inputs.len() > 100 {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("inputs: at most 100 (got {})", inputs.len()),
        )));
    }
    for input in inputs {
        for name in input["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if !s.properties.iter().any(|p| p == name) {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Property values were not valid: PROPERTY_DOESNT_EXIST {name}"),
                )));
            }
        }
    }
    s.stats.batch_calls += 1;
    s.stats.batch_inputs += inputs.len() as u64;
    Ok(())
}

fn set_all(props: &mut Properties, values: &Value) {
    for (k, v) in values.as_object().into_iter().flatten() {
        props.insert(k.clone(), v.as_str().map_or(v.to_string(), str::to_owned));
    }
    calculate(props);
}

async fn batch_update(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
    if let Err(response) = check_batch(&mut s, &inputs) {
        return *response;
    }
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &inputs {
        let id = input["id"].as_str().and_then(|i| i.parse::<u64>().ok());
        match id.and_then(|id| s.contacts.get_mut(&id).map(|c| (id, c))) {
            Some((id, contact)) => {
                set_all(contact, &input["properties"]);
                results.push(contact_json(id, contact, None));
            }
            None => missing.push(input["id"].as_str().unwrap_or_default().to_owned()),
        }
    }
    if missing.is_empty() {
        axum::Json(json!({"status": "COMPLETE", "results": results})).into_response()
    } else {
        (
            StatusCode::MULTI_STATUS,
            axum::Json(json!({
                "status": "COMPLETE",
                "results": results,
                "numErrors": 1,
                "errors": [{
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }],
            })),
        )
            .into_response()
    }
}

async fn batch_create(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
    if let Err(response) = check_batch(&mut s, &inputs) {
        return *response;
    }
    let mut results = Vec::new();
    for input in &inputs {
        let id = s.next_id;
        s.next_id += 1;
        let mut props = Properties::new();
        set_all(&mut props, &input["properties"]);
        results.push(contact_json(id, &props, None));
        s.contacts.insert(id, props);
    }
    // HubSpot does not promise the results in the inputs' order.
    results.reverse();
    (
        StatusCode::CREATED,
        axum::Json(json!({"status": "COMPLETE", "results": results})),
    )
        .into_response()
}

async fn get_contact(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    let wanted: Option<Vec<String>> = q
        .get("properties")
        .map(|p| p.split(',').map(str::to_owned).collect());
    match id
        .parse::<u64>()
        .ok()
        .and_then(|i| s.contacts.get(&i).map(|c| (i, c)))
    {
        Some((i, c)) => axum::Json(contact_json(i, c, wanted.as_deref())).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
        ),
    }
}

async fn get_deal(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    let Some((id, (props, contacts))) = id
        .parse::<u64>()
        .ok()
        .and_then(|i| s.deals.get(&i).map(|d| (i, d)))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
        );
    };
    let mut answer = json!({
        "id": id.to_string(),
        "properties": props,
        "archived": false,
    });
    if q.get("associations")
        .is_some_and(|a| a.split(',').any(|x| x == "contacts"))
    {
        answer["associations"] = json!({"contacts": {"results": contacts
            .iter()
            .map(|c| json!({"id": c.to_string(), "type": "deal_to_contact"}))
            .collect::<Vec<_>>()}});
    }
    axum::Json(answer).into_response()
}

async fn create_task(State(inner): State<Shared>, axum::Json(body): axum::Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let properties: Properties = body["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    if !properties.contains_key("hs_timestamp") {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Property values were not valid: hs_timestamp is required",
        );
    }
    let mut contacts = Vec::new();
    for association in body["associations"].as_array().into_iter().flatten() {
        let to = association["to"]["id"].as_str().unwrap_or_default();
        let types: Vec<u64> = association["types"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["associationTypeId"].as_u64())
            .collect();
        match to.parse::<u64>() {
            Ok(id) if types == [204] && s.contacts.contains_key(&id) => contacts.push(id),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("invalid association to {to} with types {types:?}"),
                );
            }
        }
    }
    let id = s.next_id;
    s.next_id += 1;
    s.tasks.insert(id, (properties.clone(), contacts));
    let now = chrono::Utc::now().to_rfc3339();
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": id.to_string(),
            "properties": properties,
            "createdAt": now,
            "updatedAt": now,
            "archived": false,
        })),
    )
        .into_response()
}

async fn list_contacts(
    State(inner): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(10);
    if limit > 100 {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "limit: must be at most 100",
        );
    }
    let after: u64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let wanted: Option<Vec<String>> = q
        .get("properties")
        .map(|p| p.split(',').map(str::to_owned).collect());
    let page: Vec<(u64, &Properties)> = s
        .contacts
        .range(after..)
        .take(limit + 1)
        .map(|(id, p)| (*id, p))
        .collect();
    let results: Vec<Value> = page
        .iter()
        .take(limit)
        .map(|(id, p)| contact_json(*id, p, wanted.as_deref()))
        .collect();
    let mut answer = json!({ "results": results });
    if let Some((next, _)) = page.get(limit) {
        answer["paging"] = json!({"next": {"after": next.to_string(), "link": ""}});
    }
    axum::Json(answer).into_response()
}
