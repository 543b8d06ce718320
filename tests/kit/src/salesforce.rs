//! A stateful stand-in for Salesforce's REST API on a real socket, built from Salesforce's
//! published reference (REST API Developer Guide, SOQL and SOSL Reference, OAuth 2.0 refresh
//! token flow): what leadscore's sync calls, answering as Salesforce documents it.
//!
//! - OAuth ([`crate::oauth`]): `GET /services/oauth2/authorize` and `POST
//!   /services/oauth2/token` (the web server flow's code, a refresh token, or a JWT bearer
//!   assertion) answer an access token and the `instance_url` (this stand-in); a wrong one is
//!   400 `invalid_grant` / `invalid_client`. Calls carry `Authorization: Bearer`; an unknown
//!   or expired session is 401 `INVALID_SESSION_ID`.
//! - Every answer under `/services/data/v62.0` carries `Sforce-Limit-Info: api-usage=n/limit`;
//!   past the daily limit, 403 `REQUEST_LIMIT_EXCEEDED`.
//! - `sobjects/{Lead,Contact}/describe` (the fields, custom ones as the org has them),
//!   `limits` (`DailyApiRequests`), `sobjects/{object}/{id}?fields=` (404 `NOT_FOUND`).
//! - SOQL `query?q=` for the shapes the sync sends (`SELECT fields FROM object [WHERE
//!   IsConverted = false | LastModifiedDate > datetime | OpportunityId = 'id'] ORDER BY field
//!   [LIMIT n]`; anything else is 400 `MALFORMED_QUERY`), 2,000 records a page with
//!   `nextRecordsUrl` (`query/{locator}`).
//! - SOSL `search/?q=FIND {a OR b} IN PHONE|EMAIL FIELDS RETURNING Lead(...), Contact(...)`:
//!   phone fields matched by their digits, however typed; e-mail addresses without case.
//! - sObject Collections `composite/sobjects`: `PATCH` (update) and `POST` (create), at most
//!   200 records (else 400 `EXCEEDED_ID_LIMIT`), `allOrNone: false`, an answer per record in
//!   order (`ENTITY_IS_DELETED`, `INVALID_FIELD`, `REQUIRED_FIELD_MISSING`).
//! - Opportunities with contact roles (`OpportunityContactRole`).
//! - `POST sobjects/Task` (a single record: 201 `{"id", "success", "errors"}`): its fields
//!   among Task's (else 400 `INVALID_FIELD`), `Subject` at most 255 characters
//!   (`STRING_TOO_LONG`), `WhoId` a lead or contact that exists and `OwnerId` a user id
//!   (`005`), else 400 `INVALID_CROSS_REFERENCE_KEY`. [`Salesforce::all`]`("Task")` lists them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

pub const API: &str = "/services/data/v62.0";
const PAGE: usize = 2000;
/// The fields every org has, per object.
const LEAD_FIELDS: [&str; 13] = [
    "Id",
    "FirstName",
    "LastName",
    "Company",
    "Phone",
    "MobilePhone",
    "Email",
    "Status",
    "OwnerId",
    "LeadSource",
    "IsConverted",
    "LastModifiedDate",
    "CreatedDate",
];
const CONTACT_FIELDS: [&str; 10] = [
    "Id",
    "FirstName",
    "LastName",
    "Phone",
    "MobilePhone",
    "Email",
    "OwnerId",
    "LeadSource",
    "LastModifiedDate",
    "CreatedDate",
];
/// The custom fields leadscore writes.
pub const CUSTOM: [&str; 6] = [
    "LeadScore__c",
    "LeadTier__c",
    "LeadProbability__c",
    "LeadReasons__c",
    "LeadScoredAt__c",
    "LeadLink__c",
];

/// What the stand-in saw, for the tests' assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// REST calls (the token endpoint not counted: Salesforce does not count it either).
    pub requests: u64,
    pub token_requests: u64,
    pub searches: u64,
    pub queries: u64,
    /// Records written by sObject Collections calls, and the calls.
    pub collection_calls: u64,
    pub records_written: u64,
}

struct Inner {
    oauth: crate::oauth::Authority,
    daily_limit: u64,
    stats: Stats,
    next_id: u64,
    /// By id; each record's fields by API name (`attributes` excluded).
    records: BTreeMap<String, Map<String, Value>>,
    /// Custom fields each object has.
    custom: BTreeMap<&'static str, Vec<String>>,
    /// Query locators: the records still to page through.
    locators: BTreeMap<String, Vec<Value>>,
    /// A moment that only moves forward, for `LastModifiedDate`.
    clock: chrono::DateTime<chrono::Utc>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running stand-in; stops when dropped.
pub struct Salesforce {
    /// Its base URL: the login host and the instance both.
    pub url: String,
    inner: Shared,
    _serving: crate::standin::Serving,
}

impl Salesforce {
    /// Start an org whose connected app is `client_id` / `client_secret` and whose user
    /// granted `refresh_token`. Its leads have the leadscore fields; its contacts do not.
    pub async fn start(client_id: &str, client_secret: &str, refresh_token: &str) -> Self {
        let (listener, url) = crate::standin::bind().await;
        let mut oauth = crate::oauth::Authority::new(
            crate::oauth::Dialect::Salesforce,
            client_id,
            client_secret,
            &url,
        );
        oauth.grant_refresh_token(refresh_token);
        let inner = Arc::new(Mutex::new(Inner {
            oauth,
            daily_limit: 15_000,
            stats: Stats::default(),
            next_id: 1,
            records: BTreeMap::new(),
            custom: BTreeMap::from([
                ("Lead", CUSTOM.iter().map(|f| f.to_string()).collect()),
                ("Contact", Vec::new()),
            ]),
            locators: BTreeMap::new(),
            clock: chrono::Utc::now() - chrono::TimeDelta::days(1),
        }));
        let data = axum::Router::new()
            .route("/sobjects/{object}", post(create_record))
            .route("/sobjects/{object}/describe", get(describe))
            .route("/sobjects/{object}/{id}", get(get_record))
            .route("/limits", get(limits))
            .route("/query", get(query))
            .route("/query/{locator}", get(more))
            .route("/search/", get(search))
            .route(
                "/composite/sobjects",
                post(create_records).patch(update_records),
            )
            .layer(axum::middleware::from_fn_with_state(inner.clone(), gate));
        let app = axum::Router::new()
            .route(
                "/services/oauth2/authorize",
                get(crate::oauth::authorize_route::<Inner>),
            )
            .route("/services/oauth2/token", post(token))
            .nest(API, data)
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "The requested resource does not exist",
                )
            })
            .with_state(inner.clone());
        let _serving = crate::standin::Serving::start(listener, app);
        Self {
            url,
            inner,
            _serving,
        }
    }

    pub fn stats(&self) -> Stats {
        self.inner.lock().unwrap().stats.clone()
    }

    /// An administrator adds the leadscore fields to `object`.
    pub fn add_fields(&self, object: &'static str) {
        let mut s = self.inner.lock().unwrap();
        s.custom
            .insert(object, CUSTOM.iter().map(|f| f.to_string()).collect());
    }

    /// Every access token given so far stops working (a session timeout).
    pub fn expire_sessions(&self) {
        self.inner.lock().unwrap().oauth.expire_all();
    }

    /// Its OAuth authorization server.
    pub fn oauth<R>(&self, f: impl FnOnce(&mut crate::oauth::Authority) -> R) -> R {
        f(&mut self.inner.lock().unwrap().oauth)
    }

    /// Daily API requests the org has (15,000 by default).
    pub fn set_daily_limit(&self, limit: u64) {
        self.inner.lock().unwrap().daily_limit = limit;
    }

    /// Add a record of `object` (`Lead`, `Contact`, `Opportunity`, `OpportunityContactRole`)
    /// as a person would in Salesforce; its id.
    pub fn add(&self, object: &str, fields: &[(&str, Value)]) -> String {
        let mut s = self.inner.lock().unwrap();
        let id = s.new_id(object);
        let mut record: Map<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        record.insert("Id".into(), json!(id));
        record.insert("attributes_type".into(), json!(object));
        if object == "Lead" {
            record.entry("IsConverted").or_insert(json!(false));
        }
        s.touch(&mut record);
        s.records.insert(id.clone(), record);
        id
    }

    /// Change a record's field as a person would in Salesforce (its `LastModifiedDate` moves).
    pub fn set(&self, id: &str, field: &str, value: Value) {
        let mut s = self.inner.lock().unwrap();
        let mut record = s.records.remove(id).unwrap();
        record.insert(field.into(), value);
        s.touch(&mut record);
        s.records.insert(id.to_owned(), record);
    }

    /// A record's field.
    pub fn get(&self, id: &str, field: &str) -> Option<Value> {
        let s = self.inner.lock().unwrap();
        s.records
            .get(id)?
            .get(field)
            .cloned()
            .filter(|v| !v.is_null())
    }

    /// Every record of `object`, by id.
    pub fn all(&self, object: &str) -> BTreeMap<String, Map<String, Value>> {
        let s = self.inner.lock().unwrap();
        s.records
            .iter()
            .filter(|(_, r)| r["attributes_type"] == object)
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect()
    }
}

impl Inner {
    fn new_id(&mut self, object: &str) -> String {
        let prefix = match object {
            "Lead" => "00Q",
            "Contact" => "003",
            "Opportunity" => "006",
            "Task" => "00T",
            _ => "00K",
        };
        self.next_id += 1;
        format!("{prefix}5e{:010}AAA", self.next_id)
    }

    fn touch(&mut self, record: &mut Map<String, Value>) {
        // Salesforce's clock keeps whole milliseconds; each change a later one.
        self.clock = self.clock.max(chrono::Utc::now()) + chrono::TimeDelta::milliseconds(1);
        let stamp = self.clock.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        record.entry("CreatedDate").or_insert(json!(stamp));
        record.insert("LastModifiedDate".into(), json!(stamp));
    }

    /// The fields `object` has.
    fn fields(&self, object: &str) -> Vec<String> {
        let mut fields: Vec<String> = match object {
            "Lead" => LEAD_FIELDS.iter().map(|f| f.to_string()).collect(),
            "Contact" => CONTACT_FIELDS.iter().map(|f| f.to_string()).collect(),
            "Opportunity" => [
                "Id",
                "StageName",
                "Amount",
                "IsClosed",
                "IsWon",
                "LastModifiedDate",
            ]
            .iter()
            .map(|f| f.to_string())
            .collect(),
            "OpportunityContactRole" => ["Id", "OpportunityId", "ContactId", "LastModifiedDate"]
                .iter()
                .map(|f| f.to_string())
                .collect(),
            _ => Vec::new(),
        };
        if let Some(custom) = self.custom.get(object) {
            fields.extend(custom.iter().cloned());
        }
        fields
    }

    /// A record as the API answers it: the asked fields (all when `None`) and `attributes`.
    fn answer(&self, id: &str, fields: Option<&[String]>) -> Value {
        let record = &self.records[id];
        let object = record["attributes_type"].as_str().unwrap().to_owned();
        let mut out = Map::new();
        out.insert(
            "attributes".into(),
            json!({"type": object, "url": format!("{API}/sobjects/{object}/{id}")}),
        );
        let names = fields.map_or_else(|| self.fields(&object), <[String]>::to_vec);
        for name in names {
            out.insert(
                name.clone(),
                record.get(&name).cloned().unwrap_or(Value::Null),
            );
        }
        Value::Object(out)
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!([{"message": message, "errorCode": code}])),
    )
        .into_response()
}

impl crate::oauth::Holds for Inner {
    fn authority(&mut self) -> &mut crate::oauth::Authority {
        &mut self.oauth
    }
}

/// The token endpoint: a code, a refresh token or a JWT bearer assertion.
async fn token(State(inner): State<Shared>, body: String) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.token_requests += 1;
    s.oauth.exchange(&crate::oauth::form(&body), None)
}

/// Every REST call: the session, then the daily limit; the usage on the answer.
async fn gate(
    State(inner): State<Shared>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let usage = {
        let mut s = inner.lock().unwrap();
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        if s.oauth.check(&bearer) != crate::oauth::Bearer::Valid {
            return error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            );
        }
        if s.stats.requests >= s.daily_limit {
            return error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
        }
        s.stats.requests += 1;
        format!("api-usage={}/{}", s.stats.requests, s.daily_limit)
    };
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("sforce-limit-info", usage.parse().unwrap());
    response
}

async fn describe(State(inner): State<Shared>, Path(object): Path<String>) -> Response {
    let s = inner.lock().unwrap();
    if object != "Lead" && object != "Contact" {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("The requested resource does not exist: {object}"),
        );
    }
    let fields: Vec<Value> = s
        .fields(&object)
        .iter()
        .map(|f| json!({"name": f, "label": f, "custom": f.ends_with("__c"), "updateable": f != "Id"}))
        .collect();
    axum::Json(json!({"name": object, "fields": fields})).into_response()
}

async fn limits(State(inner): State<Shared>) -> Response {
    let s = inner.lock().unwrap();
    axum::Json(json!({
        "DailyApiRequests": {"Max": s.daily_limit, "Remaining": s.daily_limit - s.stats.requests},
    }))
    .into_response()
}

async fn get_record(
    State(inner): State<Shared>,
    Path((object, id)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    match s.records.get(&id) {
        Some(r) if r["attributes_type"] == object.as_str() => {
            let fields: Option<Vec<String>> = query
                .get("fields")
                .map(|f| f.split(',').map(|x| x.trim().to_owned()).collect());
            axum::Json(s.answer(&id, fields.as_deref())).into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
}

/// The Task fields a create may set.
const TASK_FIELDS: [&str; 10] = [
    "WhoId",
    "OwnerId",
    "Subject",
    "Description",
    "Status",
    "Priority",
    "TaskSubtype",
    "ActivityDate",
    "IsReminderSet",
    "ReminderDateTime",
];

async fn create_record(
    State(inner): State<Shared>,
    Path(object): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    if object != "Task" {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    }
    let mut s = inner.lock().unwrap();
    let record = body.as_object().cloned().unwrap_or_default();
    if let Some(field) = record.keys().find(|k| !TASK_FIELDS.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!("No such column '{field}' on sobject of type Task"),
        );
    }
    if record
        .get("Subject")
        .and_then(Value::as_str)
        .is_some_and(|t| t.chars().count() > 255)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "STRING_TOO_LONG",
            "Subject: data value too large",
        );
    }
    let who = record
        .get("WhoId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let who_ok = s
        .records
        .get(who)
        .is_some_and(|r| r["attributes_type"] == "Lead" || r["attributes_type"] == "Contact");
    let owner_ok = record
        .get("OwnerId")
        .and_then(Value::as_str)
        .is_none_or(|o| o.starts_with("005") && (o.len() == 15 || o.len() == 18));
    if !who_ok || !owner_ok {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        );
    }
    let id = s.new_id("Task");
    let mut stored = record;
    stored.insert("Id".into(), json!(id));
    stored.insert("attributes_type".into(), json!("Task"));
    s.touch(&mut stored);
    s.records.insert(id.clone(), stored);
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "success": true, "errors": []})),
    )
        .into_response()
}

fn malformed(why: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", why)
}

/// A page of `rows` (at most 2,000), the rest kept behind a locator.
fn page(s: &mut Inner, mut rows: Vec<Value>) -> Response {
    let total = rows.len();
    let rest = if rows.len() > PAGE {
        rows.split_off(PAGE)
    } else {
        Vec::new()
    };
    let next = (!rest.is_empty()).then(|| {
        let locator = format!("01g5e{:08}-{}", s.locators.len() + 1, PAGE);
        s.locators.insert(locator.clone(), rest);
        format!("{API}/query/{locator}")
    });
    axum::Json(json!({
        "totalSize": total,
        "done": next.is_none(),
        "nextRecordsUrl": next,
        "records": rows,
    }))
    .into_response()
}

async fn more(State(inner): State<Shared>, Path(locator): Path<String>) -> Response {
    let mut s = inner.lock().unwrap();
    match s.locators.remove(&locator) {
        Some(rows) => page(&mut s, rows),
        None => error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        ),
    }
}

/// The SOQL shapes the sync sends.
async fn query(State(inner): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.queries += 1;
    let soql = q.get("q").cloned().unwrap_or_default();
    let Some(rest) = soql.strip_prefix("SELECT ") else {
        return malformed("expected SELECT");
    };
    let Some((fields, rest)) = rest.split_once(" FROM ") else {
        return malformed("expected FROM");
    };
    let fields: Vec<String> = fields.split(',').map(|f| f.trim().to_owned()).collect();
    let (object, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let known = s.fields(object);
    if known.is_empty() {
        return malformed(&format!("sObject type '{object}' is not supported."));
    }
    if let Some(bad) = fields.iter().find(|f| !known.contains(f)) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!("No such column '{bad}' on entity '{object}'."),
        );
    }
    // [WHERE cond] [ORDER BY field] [LIMIT n]
    let (rest, limit) = match rest.rsplit_once("LIMIT ") {
        Some((r, l)) => match l.trim().parse::<usize>() {
            Ok(n) => (r.trim_end().to_owned(), Some(n)),
            Err(_) => return malformed("LIMIT takes a number"),
        },
        None => (rest.to_owned(), None),
    };
    let (rest, order) = match rest.rsplit_once("ORDER BY ") {
        Some((r, o)) => (r.trim_end().to_owned(), o.trim().to_owned()),
        None => (rest, "Id".to_owned()),
    };
    let filter = match rest.strip_prefix("WHERE ") {
        Some(f) => Some(f.trim().to_owned()),
        None if rest.trim().is_empty() => None,
        None => return malformed(&format!("unexpected: {rest}")),
    };
    let matches = |r: &Map<String, Value>| -> Result<bool, Box<Response>> {
        let Some(filter) = &filter else {
            return Ok(true);
        };
        if filter == "IsConverted = false" {
            return Ok(r.get("IsConverted") != Some(&json!(true)));
        }
        if let Some(at) = filter.strip_prefix("LastModifiedDate > ") {
            let at = chrono::DateTime::parse_from_rfc3339(at.trim())
                .map_err(|_| Box::new(malformed("a datetime literal is YYYY-MM-DDThh:mm:ssZ")))?;
            let modified = r["LastModifiedDate"].as_str().unwrap_or_default();
            let modified = chrono::DateTime::parse_from_str(modified, "%Y-%m-%dT%H:%M:%S%.3f%z")
                .expect("the stand-in writes its own dates");
            return Ok(modified > at);
        }
        if let Some(id) = filter
            .strip_prefix("OpportunityId = '")
            .and_then(|i| i.strip_suffix('\''))
        {
            return Ok(r.get("OpportunityId") == Some(&json!(id)));
        }
        Err(Box::new(malformed(&format!(
            "unexpected condition: {filter}"
        ))))
    };
    let mut ids = Vec::new();
    for (id, r) in &s.records {
        if r["attributes_type"] != object {
            continue;
        }
        match matches(r) {
            Ok(true) => ids.push(id.clone()),
            Ok(false) => {}
            Err(response) => return *response,
        }
    }
    ids.sort_by(|a, b| {
        let key = |id: &String| {
            s.records[id]
                .get(&order)
                .map(Value::to_string)
                .unwrap_or_default()
        };
        key(a).cmp(&key(b)).then(a.cmp(b))
    });
    if let Some(limit) = limit {
        ids.truncate(limit);
    }
    let rows: Vec<Value> = ids.iter().map(|id| s.answer(id, Some(&fields))).collect();
    page(&mut s, rows)
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// `FIND {a OR b} IN PHONE|EMAIL FIELDS RETURNING Lead(f, ...), Contact(f, ...)`.
async fn search(
    State(inner): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    s.stats.searches += 1;
    let sosl = q.get("q").cloned().unwrap_or_default();
    let bad = |why: &str| error(StatusCode::BAD_REQUEST, "MALFORMED_SEARCH", why);
    let Some(rest) = sosl.strip_prefix("FIND {") else {
        return bad("expected FIND {");
    };
    let Some((terms, rest)) = rest.split_once("} IN ") else {
        return bad("expected } IN");
    };
    let Some((scope, returning)) = rest.split_once(" FIELDS RETURNING ") else {
        return bad("expected FIELDS RETURNING");
    };
    let terms: Vec<String> = terms
        .split(" OR ")
        .map(|t| {
            let t = t.trim().trim_matches('"');
            // Reserved characters come escaped with a backslash.
            let mut out = String::new();
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect();
    // `Lead(Id, Phone), Contact(Id, Phone)`.
    let mut objects: Vec<(String, Vec<String>)> = Vec::new();
    for part in returning.split("), ") {
        let Some((object, fields)) = part.split_once('(') else {
            return bad("expected RETURNING object(fields)");
        };
        let fields = fields.trim_end_matches(')');
        objects.push((
            object.trim().to_owned(),
            fields.split(',').map(|f| f.trim().to_owned()).collect(),
        ));
    }
    let mut hits = Vec::new();
    for (object, fields) in &objects {
        let known = s.fields(object);
        if let Some(f) = fields.iter().find(|f| !known.contains(f)) {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                &format!("No such column '{f}' on entity '{object}'."),
            );
        }
        for (id, r) in &s.records {
            if r["attributes_type"] != object.as_str() {
                continue;
            }
            let text = |f: &str| {
                r.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let hit = match scope {
                "PHONE" => ["Phone", "MobilePhone"].iter().any(|f| {
                    let have = digits(&text(f));
                    terms
                        .iter()
                        .any(|t| !t.is_empty() && have.contains(&digits(t)))
                }),
                "EMAIL" => terms.iter().any(|t| text("Email").eq_ignore_ascii_case(t)),
                _ => return bad("IN PHONE or IN EMAIL"),
            };
            if hit {
                hits.push(s.answer(id, Some(fields)));
            }
        }
    }
    axum::Json(json!({"searchRecords": hits})).into_response()
}

fn check_batch(body: &Value) -> Result<Vec<Value>, Box<Response>> {
    let records = body["records"].as_array().cloned().unwrap_or_default();
    if records.len() > 200 {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )));
    }
    Ok(records)
}

fn failure(code: &str, message: &str, fields: &[&str]) -> Value {
    json!({"success": false, "errors": [{"statusCode": code, "message": message, "fields": fields}]})
}

/// A record's written fields that the object lacks.
fn unknown_field(s: &Inner, object: &str, record: &Map<String, Value>) -> Option<String> {
    let known = s.fields(object);
    record
        .keys()
        .filter(|k| *k != "attributes" && *k != "id")
        .find(|k| !known.contains(k))
        .cloned()
}

async fn update_records(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let records = match check_batch(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let mut s = inner.lock().unwrap();
    s.stats.collection_calls += 1;
    let mut results = Vec::new();
    for record in records {
        let record = record.as_object().cloned().unwrap_or_default();
        let id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let object = record["attributes"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(stored) = s.records.get(&id) else {
            results.push(failure("ENTITY_IS_DELETED", "entity is deleted", &[]));
            continue;
        };
        if stored["attributes_type"] != object.as_str() {
            results.push(failure(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &[],
            ));
            continue;
        }
        if let Some(field) = unknown_field(&s, &object, &record) {
            results.push(failure(
                "INVALID_FIELD",
                &format!("No such column '{field}' on sobject of type {object}"),
                &[&field],
            ));
            continue;
        }
        let mut stored = s.records.remove(&id).unwrap();
        for (k, v) in record {
            if k != "attributes" && k != "id" {
                stored.insert(k, v);
            }
        }
        s.touch(&mut stored);
        s.records.insert(id.clone(), stored);
        s.stats.records_written += 1;
        results.push(json!({"id": id, "success": true, "errors": []}));
    }
    axum::Json(json!(results)).into_response()
}

async fn create_records(State(inner): State<Shared>, body: axum::Json<Value>) -> Response {
    let records = match check_batch(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let mut s = inner.lock().unwrap();
    s.stats.collection_calls += 1;
    let mut results = Vec::new();
    for record in records {
        let record = record.as_object().cloned().unwrap_or_default();
        let object = record["attributes"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(field) = unknown_field(&s, &object, &record) {
            results.push(failure(
                "INVALID_FIELD",
                &format!("No such column '{field}' on sobject of type {object}"),
                &[&field],
            ));
            continue;
        }
        let required: &[&str] = if object == "Lead" {
            &["LastName", "Company"]
        } else {
            &["LastName"]
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|f| {
                record
                    .get(*f)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            })
            .collect();
        if !missing.is_empty() {
            results.push(failure(
                "REQUIRED_FIELD_MISSING",
                &format!("Required fields are missing: [{}]", missing.join(", ")),
                &missing,
            ));
            continue;
        }
        let id = s.new_id(&object);
        let mut stored: Map<String, Value> = record
            .into_iter()
            .filter(|(k, _)| k != "attributes")
            .collect();
        stored.insert("Id".into(), json!(id));
        stored.insert("attributes_type".into(), json!(object));
        if object == "Lead" {
            stored.entry("IsConverted").or_insert(json!(false));
        }
        s.touch(&mut stored);
        s.records.insert(id.clone(), stored);
        s.stats.records_written += 1;
        results.push(json!({"id": id, "success": true, "errors": []}));
    }
    axum::Json(json!(results)).into_response()
}
