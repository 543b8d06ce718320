//! HubSpot's CRM API (v3), as its reference documents it: bearer tokens (a private app's
//! access token, or an OAuth app's, refreshed at `POST /oauth/v1/token`), the contacts' search (`POST /crm/v3/objects/contacts/search`, filter groups
//! OR-ed, `IN` filters, pages of at most 100 here), batch create and update (100 inputs a
//! call), contact properties and their groups, deals with their associated contacts, tasks
//! (`POST /crm/v3/objects/tasks`, associated with the contact by the HubSpot-defined type 204,
//! task to contact); errors
//! as `{"status": "error", "message", "category", "correlationId"}`; 429 when over the
//! account's ten-second or daily limit. Inbound webhooks are signed with the app's client
//! secret (`X-HubSpot-Signature-v3`, see [`verify_signature`]).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::{Access, Answers};
use super::{
    CrmApi, CrmDeal, CrmError, CrmRecord, CrmResult, HookTarget, NewTask, Prepared, Throttle,
};
use crate::domain::{Lead, PhoneNumber, ScoreFields};
use crate::ports::VendorResponse;

/// The most inputs HubSpot takes in one batch call, and records in one page here.
pub const BATCH_LIMIT: usize = 100;
/// The most values one `IN` filter carries here.
pub const IN_LIMIT: usize = 100;
/// HubSpot's ten-second window: how long to wait on a 429 without `Retry-After`.
const WINDOW: Duration = Duration::from_secs(10);
/// The property group the product's properties are in.
pub const GROUP: &str = "leadscore";
/// How old a signed webhook may be (HubSpot: reject timestamps older than five minutes).
pub const MAX_WEBHOOK_AGE_MS: i64 = 5 * 60 * 1000;

/// The contact properties a push writes: name, label, type, field type, description.
pub const PROPERTIES: [(&str, &str, &str, &str, &str); 6] = [
    (
        "leadscore_score",
        "Lead score",
        "number",
        "number",
        "leadscore's score, 0 to 100",
    ),
    (
        "leadscore_tier",
        "Lead tier",
        "enumeration",
        "select",
        "hot, warm or cold",
    ),
    (
        "leadscore_probability",
        "Conversion probability",
        "number",
        "number",
        "The calibrated chance the lead converts, 0 to 1",
    ),
    (
        "leadscore_reasons",
        "Score reasons",
        "string",
        "textarea",
        "The three largest reasons for the score, with their points",
    ),
    (
        "leadscore_scored_at",
        "Scored at",
        "datetime",
        "date",
        "When the lead was last scored",
    ),
    (
        "leadscore_link",
        "Lead in leadscore",
        "string",
        "text",
        "Where the lead is in leadscore",
    ),
];

/// What a contact search and read ask for.
const READ: [&str; 11] = [
    "firstname",
    "lastname",
    "company",
    "phone",
    "mobilephone",
    "email",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "hs_analytics_source",
    "lastmodifieddate",
];

pub struct HubSpot {
    access: Access,
    throttle: Throttle,
}

impl HubSpot {
    /// `access` signs in: a private app's token, or an OAuth app's session.
    pub fn new(access: Access, throttle: Throttle) -> Self {
        Self { access, throttle }
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> CrmResult<VendorResponse> {
        self.access
            .send(
                &self.throttle,
                method,
                path,
                body.map(|b| b.to_string()),
                Answers {
                    wait: WINDOW,
                    describe: error_message,
                    expired: |_| false,
                },
            )
            .await
    }

    /// Call, answering `None` for 404 (a record that is gone) and `Some(true)` for 409 (a
    /// property that exists).
    async fn call_lenient(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> CrmResult<Result<VendorResponse, u16>> {
        match self.call(method, path, body).await {
            Ok(r) => Ok(Ok(r)),
            Err(CrmError::Refused(why)) if why.contains(": 404 ") => Ok(Err(404)),
            Err(CrmError::Refused(why)) if why.contains(": 409 ") => Ok(Err(409)),
            Err(e) => Err(e),
        }
    }

    async fn search(&self, groups: Vec<Value>) -> CrmResult<Vec<CrmRecord>> {
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        // A search answers at most 10,000 records; a batch of leads matches far fewer.
        for _ in 0..100 {
            let mut body = json!({
                "filterGroups": groups,
                "properties": READ,
                "limit": BATCH_LIMIT,
            });
            if let Some(a) = &after {
                body["after"] = json!(a);
            }
            let response = self
                .call("POST", "/crm/v3/objects/contacts/search", Some(body))
                .await?;
            let page: SearchPage = parse(&response)?;
            records.extend(page.results.into_iter().map(ContactJson::into_record));
            match page.paging.and_then(|p| p.next).map(|n| n.after) {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(records)
    }
}

#[async_trait::async_trait]
impl CrmApi for HubSpot {
    fn batch(&self) -> usize {
        BATCH_LIMIT
    }

    /// HubSpot's webhooks are set in the app's settings, not through the API: `hook` is not
    /// used.
    async fn prepare(&self, _hook: Option<&HookTarget>) -> CrmResult<Prepared> {
        let mut done = Vec::new();
        let group = json!({"name": GROUP, "label": "leadscore", "displayOrder": -1});
        match self
            .call_lenient("POST", "/crm/v3/properties/contacts/groups", Some(group))
            .await?
        {
            Ok(_) => done.push(format!("created the contact property group `{GROUP}`")),
            Err(_) => done.push(format!("found the contact property group `{GROUP}`")),
        }
        for (name, label, kind, field, description) in PROPERTIES {
            let mut body = json!({
                "name": name,
                "label": label,
                "type": kind,
                "fieldType": field,
                "groupName": GROUP,
                "description": description,
            });
            if kind == "enumeration" {
                body["options"] = json!([
                    {"label": "Hot", "value": "hot", "displayOrder": 0},
                    {"label": "Warm", "value": "warm", "displayOrder": 1},
                    {"label": "Cold", "value": "cold", "displayOrder": 2},
                ]);
            }
            match self
                .call_lenient("POST", "/crm/v3/properties/contacts", Some(body))
                .await?
            {
                Ok(_) => done.push(format!("created the contact property `{name}`")),
                Err(409) => done.push(format!("found the contact property `{name}`")),
                Err(status) => {
                    return Err(CrmError::Refused(format!(
                        "creating the contact property `{name}`: {status}"
                    )));
                }
            }
        }
        Ok(Prepared {
            setup: done,
            ..Default::default()
        })
    }

    async fn find(&self, phones: &[PhoneNumber], emails: &[String]) -> CrmResult<Vec<CrmRecord>> {
        let mut records: Vec<CrmRecord> = Vec::new();
        // HubSpot keeps each number's national digits in searchable properties, whatever way
        // it was typed; the answers are checked against the full numbers below.
        let nationals: Vec<String> = phones.iter().map(PhoneNumber::national_digits).collect();
        for chunk in nationals.chunks(IN_LIMIT) {
            let filter = |property: &str| json!({"filters": [{"propertyName": property, "operator": "IN", "values": chunk}]});
            records.extend(
                self.search(vec![
                    filter("hs_searchable_calculated_phone_number"),
                    filter("hs_searchable_calculated_mobile_number"),
                ])
                .await?,
            );
        }
        let emails: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
        for chunk in emails.chunks(IN_LIMIT) {
            records.extend(
                self.search(vec![json!({"filters": [
                    {"propertyName": "email", "operator": "IN", "values": chunk}
                ]})])
                .await?,
            );
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records.dedup_by(|a, b| a.id == b.id);
        Ok(records)
    }

    async fn update(&self, writes: &[(String, ScoreFields)]) -> CrmResult<Vec<String>> {
        let mut gone = Vec::new();
        for chunk in writes.chunks(BATCH_LIMIT) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|(id, fields)| json!({"id": id, "properties": properties(fields)}))
                .collect();
            let response = self
                .call(
                    "POST",
                    "/crm/v3/objects/contacts/batch/update",
                    Some(json!({ "inputs": inputs })),
                )
                .await?;
            // 207: some inputs failed; each error names its records.
            let batch: BatchAnswer = parse(&response)?;
            for error in batch.errors {
                if error.category.as_deref() == Some("OBJECT_NOT_FOUND") {
                    gone.extend(error.context.ids);
                } else {
                    return Err(CrmError::Refused(format!(
                        "POST /crm/v3/objects/contacts/batch/update: {}",
                        error.message.unwrap_or_default()
                    )));
                }
            }
        }
        Ok(gone)
    }

    async fn create(&self, leads: &[(&Lead, ScoreFields)]) -> CrmResult<Vec<CrmRecord>> {
        let mut made = Vec::new();
        for chunk in leads.chunks(BATCH_LIMIT) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|(lead, fields)| {
                    let mut p = properties(fields);
                    p.insert("phone".into(), json!(lead.phone_number.as_str()));
                    for (name, value) in [
                        ("firstname", &lead.first_name),
                        ("lastname", &lead.last_name),
                        ("company", &lead.company),
                        ("email", &lead.email),
                    ] {
                        if let Some(v) = value {
                            p.insert(name.into(), json!(v));
                        }
                    }
                    json!({ "properties": p })
                })
                .collect();
            let response = self
                .call(
                    "POST",
                    "/crm/v3/objects/contacts/batch/create",
                    Some(json!({ "inputs": inputs })),
                )
                .await?;
            let batch: BatchAnswer = parse(&response)?;
            if let Some(error) = batch.errors.into_iter().next() {
                return Err(CrmError::Refused(format!(
                    "POST /crm/v3/objects/contacts/batch/create: {}",
                    error.message.unwrap_or_default()
                )));
            }
            made.extend(batch.results.into_iter().map(ContactJson::into_record));
        }
        Ok(made)
    }

    async fn records(&self, after: Option<&str>) -> CrmResult<(Vec<CrmRecord>, Option<String>)> {
        let mut path = format!(
            "/crm/v3/objects/contacts?limit={BATCH_LIMIT}&properties={}",
            READ.join(",")
        );
        if let Some(after) = after {
            // HubSpot's cursors are opaque tokens; only what a URL carries as it is is sent.
            if after.is_empty()
                || after.len() > 200
                || !after
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
            {
                return Err(CrmError::Refused(format!(
                    "`{after}` is not a HubSpot cursor"
                )));
            }
            path.push_str(&format!("&after={after}"));
        }
        let response = self.call("GET", &path, None).await?;
        let page: SearchPage = parse(&response)?;
        Ok((
            page.results
                .into_iter()
                .map(ContactJson::into_record)
                .collect(),
            page.paging.and_then(|p| p.next).map(|n| n.after),
        ))
    }

    async fn record(&self, id: &str) -> CrmResult<Option<CrmRecord>> {
        let id = checked_id(id)?;
        let path = format!(
            "/crm/v3/objects/contacts/{id}?properties={}",
            READ.join(",")
        );
        match self.call_lenient("GET", &path, None).await? {
            Ok(response) => Ok(Some(parse::<ContactJson>(&response)?.into_record())),
            Err(_) => Ok(None),
        }
    }

    async fn create_task(&self, task: &NewTask) -> CrmResult<String> {
        let response = self
            .call("POST", "/crm/v3/objects/tasks", Some(task_body(task)?))
            .await?;
        let made: Made = parse(&response)?;
        Ok(made.id)
    }

    async fn deal(&self, id: &str) -> CrmResult<Option<CrmDeal>> {
        let id = checked_id(id)?;
        let path =
            format!("/crm/v3/objects/deals/{id}?properties=dealstage,amount&associations=contacts");
        let response = match self.call_lenient("GET", &path, None).await? {
            Ok(r) => r,
            Err(_) => return Ok(None),
        };
        let deal: DealJson = parse(&response)?;
        Ok(Some(CrmDeal {
            stage: deal.properties.get("dealstage").cloned().flatten(),
            value: deal
                .properties
                .get("amount")
                .cloned()
                .flatten()
                .and_then(|a| a.parse::<f64>().ok()),
            contact_ids: deal
                .associations
                .and_then(|mut a| a.remove("contacts"))
                .map(|c| c.results.into_iter().map(|r| r.id).collect())
                .unwrap_or_default(),
        }))
    }
}

/// HubSpot's record ids are numbers; anything else is not sent into a path.
fn checked_id(id: &str) -> CrmResult<&str> {
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(CrmError::Refused(format!(
            "`{id}` is not a HubSpot record id"
        )))
    }
}

/// The properties a push writes.
fn properties(fields: &ScoreFields) -> serde_json::Map<String, Value> {
    let mut p = serde_json::Map::new();
    p.insert("leadscore_score".into(), json!(fields.score.to_string()));
    p.insert("leadscore_tier".into(), json!(fields.tier));
    p.insert(
        "leadscore_probability".into(),
        json!(fields.probability.map_or(String::new(), |v| v.to_string())),
    );
    p.insert("leadscore_reasons".into(), json!(fields.reasons));
    // Datetime properties take milliseconds since the epoch.
    p.insert(
        "leadscore_scored_at".into(),
        json!(fields.scored_at.timestamp_millis().to_string()),
    );
    p.insert("leadscore_link".into(), json!(fields.link));
    p
}

/// HubSpot's association type of a task to a contact (HubSpot-defined).
const TASK_TO_CONTACT: u32 = 204;

/// A call task on the contact, due at `due_at` (`hs_timestamp`), for the contact's owner.
fn task_body(task: &NewTask) -> CrmResult<Value> {
    let contact = checked_id(&task.record_id)?;
    let mut properties = json!({
        "hs_timestamp": task.due_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "hs_task_subject": task.subject,
        "hs_task_body": task.body,
        "hs_task_status": "NOT_STARTED",
        "hs_task_type": "CALL",
        "hs_task_priority": "HIGH",
    });
    if let Some(owner) = &task.owner {
        properties["hubspot_owner_id"] = json!(checked_id(owner)?);
    }
    Ok(json!({
        "properties": properties,
        "associations": [{
            "to": {"id": contact},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}],
        }],
    }))
}

/// A created object's answer.
#[derive(Deserialize)]
struct Made {
    id: String,
}

fn parse<T: serde::de::DeserializeOwned>(response: &VendorResponse) -> CrmResult<T> {
    super::parse_answer("HubSpot", response)
}

/// What an error answer says: its `message` and `category`, else the start of the body.
fn error_message(response: &VendorResponse) -> String {
    #[derive(Deserialize)]
    struct ErrorJson {
        message: Option<String>,
        category: Option<String>,
    }
    match serde_json::from_str::<ErrorJson>(&response.body) {
        Ok(ErrorJson {
            message: Some(m),
            category,
        }) => match category {
            Some(c) => format!("{c}: {m}"),
            None => m,
        },
        _ => response.body.chars().take(200).collect(),
    }
}

#[derive(Deserialize)]
struct SearchPage {
    #[serde(default)]
    results: Vec<ContactJson>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<Next>,
}

#[derive(Deserialize)]
struct Next {
    after: String,
}

#[derive(Deserialize)]
struct ContactJson {
    id: String,
    #[serde(default)]
    properties: BTreeMap<String, Option<String>>,
}

impl ContactJson {
    fn into_record(self) -> CrmRecord {
        let get = |name: &str| {
            self.properties
                .get(name)
                .cloned()
                .flatten()
                .filter(|v| !v.trim().is_empty())
        };
        // HubSpot keeps numbers as typed.
        let typed: Vec<String> = ["phone", "mobilephone"]
            .iter()
            .filter_map(|p| get(p))
            .collect();
        let phones = super::phones(typed.iter().map(String::as_str));
        let stage = get("hs_lead_status").or_else(|| get("lifecyclestage"));
        let mut fields = BTreeMap::new();
        if let Some(owner) = get("hubspot_owner_id") {
            fields.insert("owner".to_owned(), owner);
        }
        if let Some(source) = get("hs_analytics_source") {
            fields.insert("source".to_owned(), source);
        }
        if let Some(stage) = get("lifecyclestage") {
            fields.insert("lifecyclestage".to_owned(), stage);
        }
        CrmRecord {
            phones,
            email: get("email").map(|e| e.to_lowercase()),
            stage,
            fields,
            first_name: get("firstname"),
            last_name: get("lastname"),
            company: get("company"),
            modified_at: get("lastmodifieddate")
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
                .map(|d| d.with_timezone(&chrono::Utc)),
            id: self.id,
        }
    }
}

#[derive(Deserialize, Default)]
struct BatchAnswer {
    #[serde(default)]
    results: Vec<ContactJson>,
    #[serde(default)]
    errors: Vec<BatchError>,
}

#[derive(Deserialize)]
struct BatchError {
    category: Option<String>,
    message: Option<String>,
    #[serde(default)]
    context: ErrorContext,
}

#[derive(Deserialize, Default)]
struct ErrorContext {
    #[serde(default)]
    ids: Vec<String>,
}

#[derive(Deserialize)]
struct DealJson {
    #[serde(default)]
    properties: BTreeMap<String, Option<String>>,
    #[serde(default)]
    associations: Option<BTreeMap<String, AssociationPage>>,
}

#[derive(Deserialize)]
struct AssociationPage {
    #[serde(default)]
    results: Vec<Associated>,
}

#[derive(Deserialize)]
struct Associated {
    id: String,
}

/// One change a HubSpot webhook reports (what the handler reads of it).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub event_id: u64,
    pub subscription_type: String,
    pub object_id: u64,
    #[serde(default)]
    pub property_name: Option<String>,
    #[serde(default)]
    pub property_value: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<i64>,
}

impl WebhookEvent {
    /// The contact or deal it is about; `None` for another object.
    pub fn change(&self) -> Option<super::Change> {
        let (kind, _) = self.subscription_type.split_once('.')?;
        let object = match kind {
            "contact" => super::ChangeObject::Record,
            "deal" => super::ChangeObject::Deal,
            _ => return None,
        };
        Some(super::Change {
            object,
            id: self.object_id.to_string(),
        })
    }
}

/// The most events one webhook request may carry (HubSpot sends at most 100).
pub const MAX_WEBHOOK_EVENTS: usize = 100;

/// Check a webhook's `X-HubSpot-Signature-v3`: the base64 HMAC-SHA256, keyed with the app's
/// client secret, of the method, the URL as HubSpot called it, the body and the
/// `X-HubSpot-Request-Timestamp` (ms), in that order; the URL with HubSpot's list of
/// percent-encoded characters decoded. Refused when more than five minutes old (`now_ms`).
pub fn verify_signature(
    secret: &str,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: &str,
    signature: &str,
    now_ms: i64,
) -> Result<(), &'static str> {
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| "X-HubSpot-Request-Timestamp is not a time in milliseconds")?;
    if (now_ms - at).abs() > MAX_WEBHOOK_AGE_MS {
        return Err("X-HubSpot-Request-Timestamp is more than five minutes off");
    }
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| "X-HubSpot-Signature-v3 is not base64")?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| "the client secret is unusable")?;
    mac.update(&source(method, url, body, timestamp));
    // Compared in constant time.
    mac.verify_slice(&given)
        .map_err(|_| "X-HubSpot-Signature-v3 does not verify")?;
    Ok(())
}

/// The signature HubSpot sends for a request (what [`verify_signature`] checks).
pub fn sign(secret: &str, method: &str, url: &str, body: &[u8], timestamp: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(&source(method, url, body, timestamp));
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn source(method: &str, url: &str, body: &[u8], timestamp: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(method.len() + url.len() + body.len() + timestamp.len());
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(decode_uri(url).as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(timestamp.as_bytes());
    out
}

/// HubSpot decodes these before signing: `%3A : %2F / %3F ? %40 @ %21 ! %24 $ %27 ' %28 (
/// %29 ) %2A * %2C , %3B ;`.
fn decode_uri(url: &str) -> String {
    const PAIRS: [(&str, &str); 12] = [
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ];
    let mut out = url.to_owned();
    for (from, to) in PAIRS {
        out = out.replace(from, to).replace(&from.to_lowercase(), to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_within_five_minutes_and_not_after_a_change() {
        let secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
        let url = "https://api.example.com/integrations/hubspot/acme/events?x=%3A";
        let body = br#"[{"eventId":1}]"#;
        let now = 1_700_000_000_000i64;
        let ts = now.to_string();
        let sig = sign(secret, "POST", url, body, &ts);
        // Signed over the decoded URL.
        assert_eq!(
            sig,
            sign(
                secret,
                "POST",
                "https://api.example.com/integrations/hubspot/acme/events?x=:",
                body,
                &ts
            )
        );
        verify_signature(secret, "POST", url, body, &ts, &sig, now + 1000).unwrap();
        assert_eq!(
            verify_signature(secret, "POST", url, b"[]", &ts, &sig, now),
            Err("X-HubSpot-Signature-v3 does not verify")
        );
        assert_eq!(
            verify_signature(
                secret,
                "POST",
                url,
                body,
                &ts,
                &sig,
                now + MAX_WEBHOOK_AGE_MS + 1
            ),
            Err("X-HubSpot-Request-Timestamp is more than five minutes off")
        );
        assert!(verify_signature("other", "POST", url, body, &ts, &sig, now).is_err());
    }

    #[test]
    fn a_contact_reads_its_numbers_email_stage_and_fields() {
        let contact: ContactJson = serde_json::from_value(json!({
            "id": "501",
            "properties": {
                "phone": "(415) 555-0134",
                "mobilephone": "+44 20 7946 0958",
                "email": "Dana@Reyes-Roofing.test",
                "lifecyclestage": "opportunity",
                "hs_lead_status": null,
                "hubspot_owner_id": "77"
            }
        }))
        .unwrap();
        let record = contact.into_record();
        assert_eq!(
            record.phones,
            vec![
                PhoneNumber::parse("+14155550134").unwrap(),
                PhoneNumber::parse("+442079460958").unwrap()
            ]
        );
        assert_eq!(record.email.as_deref(), Some("dana@reyes-roofing.test"));
        assert_eq!(record.stage.as_deref(), Some("opportunity"));
        assert_eq!(record.fields["owner"], "77");
    }
}
