//! Salesforce's REST API, as its reference documents it (developer.salesforce.com, REST API
//! Developer Guide): OAuth 2.0 (the refresh token of a connected app's web server flow, or a
//! JWT bearer assertion, traded at `POST {login}/services/oauth2/token` for an access token
//! and the org's `instance_url`: see [`super::oauth`]), then `{instance}/services/data/v62.0/...`: an
//! object's `describe`, `limits`, SOQL `query` (pages by `nextRecordsUrl`), SOSL `search`
//! (`FIND {...} IN PHONE FIELDS`: Salesforce matches numbers by their digits, however typed),
//! sObject Collections (`composite/sobjects`, 200 records a call, `allOrNone: false`, an answer
//! per record in order), single records by id, and a Task made on a lead or contact
//! (`POST sobjects/Task`: `WhoId` the record, `OwnerId` its owner, `TaskSubtype` `Call`,
//! `ActivityDate` and a reminder at the time due). Errors are `[{"message", "errorCode"}]`;
//! `INVALID_SESSION_ID` (401) is a token to refresh; `REQUEST_LIMIT_EXCEEDED` (403) the org's
//! daily limit, which every answer reports in `Sforce-Limit-Info`.
//!
//! A push writes six custom fields on leads and contacts (`FIELDS`), which a Salesforce
//! administrator adds (the API that would create them is the Metadata API): connecting checks
//! them with `describe` and says which are missing, and how to add them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::{Access, Answers};
use super::{
    Changed, CrmApi, CrmDeal, CrmError, CrmRecord, CrmResult, HookTarget, NewTask, Prepared,
    Throttle, encode,
};
use crate::domain::{Lead, PhoneNumber, ScoreFields};
use crate::ports::VendorResponse;

pub const API_VERSION: &str = "v62.0";
/// Pages of 2,000 a poll reads per object: 20,000 changes an hour, the rest at the next.
pub const POLL_PAGES: usize = 10;
/// Records one sObject Collections call takes.
pub const BATCH_LIMIT: usize = 200;
/// How long to wait on a 429 without `Retry-After` (Salesforce's limits are daily; a 429 is
/// rare and short).
const WAIT: Duration = Duration::from_secs(10);
/// The objects a push writes to, in the order a lead is looked for.
pub const OBJECTS: [&str; 2] = ["Lead", "Contact"];

/// The custom fields a push writes: API name, label, type as Setup names it.
pub const FIELDS: [(&str, &str, &str); 6] = [
    ("LeadScore__c", "Lead Score", "Number(3, 0)"),
    ("LeadTier__c", "Lead Tier", "Text(10)"),
    ("LeadProbability__c", "Lead Probability", "Number(1, 3)"),
    (
        "LeadReasons__c",
        "Lead Score Reasons",
        "Long Text Area(1000)",
    ),
    ("LeadScoredAt__c", "Lead Scored At", "Date/Time"),
    ("LeadLink__c", "Lead in leadscore", "URL(255)"),
];

/// What a read asks for, per object.
const LEAD_FIELDS: &str = "Id, FirstName, LastName, Company, Phone, MobilePhone, Email, Status, \
                           OwnerId, LeadSource, LastModifiedDate";
const CONTACT_FIELDS: &str =
    "Id, FirstName, LastName, Phone, MobilePhone, Email, OwnerId, LeadSource, LastModifiedDate";

pub struct Salesforce {
    access: Access,
    /// The objects that have every field (connecting found them); matched and written.
    objects: Vec<String>,
    throttle: Throttle,
    /// The last `Sforce-Limit-Info` seen: (used, limit) of the org's daily API requests.
    usage: Mutex<Option<(u64, u64)>>,
}

impl Salesforce {
    /// `access` signs in (a refresh token, or a JWT bearer assertion) and names the org's
    /// instance, where every call goes.
    pub fn new(access: Access, objects: &[String], throttle: Throttle) -> Self {
        Self {
            access,
            objects: objects.to_vec(),
            throttle,
            usage: Mutex::new(None),
        }
    }

    /// Call `path` (under the instance URL), signed in; the daily limit's use noted.
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> CrmResult<VendorResponse> {
        let answer = self
            .access
            .send(
                &self.throttle,
                method,
                path,
                body.as_ref().map(Value::to_string),
                Answers {
                    wait: WAIT,
                    describe: error_message,
                    expired: |why| why.contains("INVALID_SESSION_ID"),
                },
            )
            .await;
        match answer {
            Err(CrmError::Refused(why)) if why.contains("REQUEST_LIMIT_EXCEEDED") => {
                // The org's daily limit: nothing goes through until it rolls over.
                Err(CrmError::RateLimited(Duration::from_secs(15 * 60)))
            }
            other => {
                if let Ok(response) = &other {
                    self.note_usage(response);
                }
                other
            }
        }
    }

    fn note_usage(&self, response: &VendorResponse) {
        let usage = response.limit_info.as_deref().and_then(|info| {
            let (used, limit) = info.split_once("api-usage=")?.1.split_once('/')?;
            let limit: String = limit.chars().take_while(char::is_ascii_digit).collect();
            Some((used.trim().parse().ok()?, limit.parse().ok()?))
        });
        if usage.is_some() {
            *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
        }
    }

    fn data(&self, rest: &str) -> String {
        format!("/services/data/{API_VERSION}{rest}")
    }

    /// A query's records, following `nextRecordsUrl` for at most [`POLL_PAGES`] pages.
    async fn modified(&self, soql: &str) -> CrmResult<Vec<RecordJson>> {
        let mut page = self.query(soql).await?;
        let mut rows = std::mem::take(&mut page.records);
        for _ in 1..POLL_PAGES {
            let Some(next) = page.next_records_url.take() else {
                break;
            };
            if !next.starts_with("/services/data/") || next.contains("..") {
                break;
            }
            page = parse(&self.call("GET", &next, None).await?)?;
            rows.append(&mut page.records);
        }
        Ok(rows)
    }

    async fn query(&self, soql: &str) -> CrmResult<QueryPage> {
        let path = self.data(&format!("/query?q={}", encode(soql)));
        parse(&self.call("GET", &path, None).await?)
    }

    /// The fields a push writes, by their API names.
    fn values(fields: &ScoreFields) -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        map.insert("LeadScore__c".into(), json!(fields.score));
        map.insert("LeadTier__c".into(), json!(fields.tier));
        map.insert(
            "LeadProbability__c".into(),
            fields.probability.map_or(Value::Null, |p| json!(p)),
        );
        map.insert("LeadReasons__c".into(), json!(fields.reasons));
        map.insert(
            "LeadScoredAt__c".into(),
            json!(
                fields
                    .scored_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        );
        map.insert("LeadLink__c".into(), json!(fields.link));
        map
    }

    /// Both objects, whether or not a push may write to them: a person who is a contact is
    /// not made a second time as a lead.
    fn returning(&self) -> String {
        OBJECTS
            .iter()
            .map(|o| {
                let fields = if *o == "Lead" {
                    LEAD_FIELDS
                } else {
                    CONTACT_FIELDS
                };
                format!("{o}({fields})")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn search(&self, terms: &[String], scope: &str) -> CrmResult<Vec<CrmRecord>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let sosl = format!(
            "FIND {{{}}} IN {scope} FIELDS RETURNING {}",
            terms.join(" OR "),
            self.returning()
        );
        let path = self.data(&format!("/search/?q={}", encode(&sosl)));
        let answer: SearchAnswer = parse(&self.call("GET", &path, None).await?)?;
        Ok(answer
            .search_records
            .into_iter()
            .map(RecordJson::into_record)
            .collect())
    }
}

#[async_trait::async_trait]
impl CrmApi for Salesforce {
    /// Salesforce's changes are polled (`changed`), not pushed: `hook` is not used. Checks the
    /// fields on each object and reads the org's daily limit.
    async fn prepare(&self, _hook: Option<&HookTarget>) -> CrmResult<Prepared> {
        let mut prepared = Prepared::default();
        let mut missing_everywhere = Vec::new();
        for object in OBJECTS {
            let path = self.data(&format!("/sobjects/{object}/describe"));
            let describe: Describe = parse(&self.call("GET", &path, None).await?)?;
            let missing: Vec<&str> = FIELDS
                .iter()
                .filter(|(name, _, _)| !describe.fields.iter().any(|f| f.name == *name))
                .map(|(name, _, _)| *name)
                .collect();
            if missing.is_empty() {
                prepared
                    .setup
                    .push(format!("{object}: the six leadscore fields are in place"));
                prepared.objects.push(object.to_owned());
            } else {
                let steps = FIELDS
                    .iter()
                    .filter(|(name, _, _)| missing.contains(name))
                    .map(|(name, label, kind)| format!("{label} ({kind}, API name {name})"))
                    .collect::<Vec<_>>()
                    .join("; ");
                prepared.setup.push(format!(
                    "{object}: missing {}; scores are not written to {object} records until an \
                     administrator adds them (Setup > Object Manager > {object} > Fields & \
                     Relationships > New: {steps}) and connects again",
                    missing.join(", ")
                ));
                missing_everywhere.push(object);
            }
        }
        if prepared.objects.is_empty() {
            return Err(CrmError::Refused(format!(
                "neither Lead nor Contact has the leadscore fields: {}",
                prepared.setup.join(" | ")
            )));
        }
        let limits: BTreeMap<String, Limit> =
            parse(&self.call("GET", &self.data("/limits"), None).await?)?;
        if let Some(daily) = limits.get("DailyApiRequests") {
            prepared.setup.push(format!(
                "daily API requests: {} of {} left today",
                daily.remaining, daily.max
            ));
        }
        Ok(prepared)
    }

    fn batch(&self) -> usize {
        BATCH_LIMIT
    }

    fn writes_to(&self, record: &str) -> bool {
        checked_id(record)
            .and_then(object_of)
            .is_ok_and(|object| self.objects.iter().any(|o| o == object))
    }

    fn usage(&self) -> Option<(u64, u64)> {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn find(&self, phones: &[PhoneNumber], emails: &[String]) -> CrmResult<Vec<CrmRecord>> {
        // SOSL matches phone fields by their digits, however typed: the national digits find
        // "(415) 555-0134" and "+1 415 555 0134" alike; answers are checked by the caller.
        let nationals: Vec<String> = phones.iter().map(PhoneNumber::national_digits).collect();
        let mut records = self.search(&nationals, "PHONE").await?;
        let quoted: Vec<String> = emails
            .iter()
            .map(|e| format!("\"{}\"", sosl_escape(&e.to_lowercase())))
            .collect();
        records.extend(self.search(&quoted, "EMAIL").await?);
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records.dedup_by(|a, b| a.id == b.id);
        Ok(records)
    }

    async fn update(&self, writes: &[(String, ScoreFields)]) -> CrmResult<Vec<String>> {
        let mut gone = Vec::new();
        for chunk in writes.chunks(BATCH_LIMIT) {
            let mut records = Vec::new();
            for (id, fields) in chunk {
                let object = object_of(checked_id(id)?)?;
                let mut record = Self::values(fields);
                record.insert("attributes".into(), json!({"type": object}));
                record.insert("id".into(), json!(id));
                records.push(Value::Object(record));
            }
            let body = json!({"allOrNone": false, "records": records});
            let response = self
                .call("PATCH", &self.data("/composite/sobjects"), Some(body))
                .await?;
            let results: Vec<SaveResult> = parse(&response)?;
            for ((id, _), result) in chunk.iter().zip(results) {
                if result.success {
                    continue;
                }
                let error = result.errors.into_iter().next().unwrap_or_default();
                match error.status_code.as_str() {
                    "ENTITY_IS_DELETED" | "INVALID_CROSS_REFERENCE_KEY" | "NOT_FOUND" => {
                        gone.push(id.clone())
                    }
                    code => {
                        return Err(CrmError::Refused(format!(
                            "PATCH composite/sobjects: {code}: {}",
                            error.message
                        )));
                    }
                }
            }
        }
        Ok(gone)
    }

    async fn create(&self, leads: &[(&Lead, ScoreFields)]) -> CrmResult<Vec<CrmRecord>> {
        if !self.objects.iter().any(|o| o == "Lead") {
            return Err(CrmError::Refused(
                "new leads are made as Salesforce leads, which lack the leadscore fields"
                    .to_owned(),
            ));
        }
        let mut made = Vec::new();
        for chunk in leads.chunks(BATCH_LIMIT) {
            let records: Vec<Value> = chunk
                .iter()
                .map(|(lead, fields)| {
                    let mut record = Self::values(fields);
                    record.insert("attributes".into(), json!({"type": "Lead"}));
                    // Salesforce requires a lead's last name and company.
                    record.insert(
                        "LastName".into(),
                        json!(
                            lead.last_name
                                .as_deref()
                                .unwrap_or(lead.phone_number.as_str())
                        ),
                    );
                    record.insert(
                        "Company".into(),
                        json!(lead.company.as_deref().unwrap_or("[not provided]")),
                    );
                    record.insert("Phone".into(), json!(lead.phone_number.as_str()));
                    if let Some(first) = &lead.first_name {
                        record.insert("FirstName".into(), json!(first));
                    }
                    if let Some(email) = &lead.email {
                        record.insert("Email".into(), json!(email));
                    }
                    record.insert("LeadSource".into(), json!("leadscore"));
                    Value::Object(record)
                })
                .collect();
            let body = json!({"allOrNone": false, "records": records});
            let response = self
                .call("POST", &self.data("/composite/sobjects"), Some(body))
                .await?;
            let results: Vec<SaveResult> = parse(&response)?;
            for ((lead, _), result) in chunk.iter().zip(results) {
                match (result.success, result.id) {
                    (true, Some(id)) => made.push(CrmRecord {
                        id,
                        phones: vec![lead.phone_number.clone()],
                        email: lead.email.as_ref().map(|e| e.to_lowercase()),
                        ..Default::default()
                    }),
                    _ => {
                        let error = result.errors.into_iter().next().unwrap_or_default();
                        return Err(CrmError::Refused(format!(
                            "POST composite/sobjects: {}: {}",
                            error.status_code, error.message
                        )));
                    }
                }
            }
        }
        Ok(made)
    }

    /// Leads (not converted), then contacts; the cursor is the object and Salesforce's next
    /// page (`nextRecordsUrl`).
    async fn records(&self, after: Option<&str>) -> CrmResult<(Vec<CrmRecord>, Option<String>)> {
        let (object, next) = match after {
            None => ("Lead", None),
            Some(cursor) => {
                let (object, next) = cursor.split_once('|').ok_or_else(|| {
                    CrmError::Refused(format!("`{cursor}` is not a Salesforce cursor"))
                })?;
                let object = match object {
                    "Lead" => "Lead",
                    "Contact" => "Contact",
                    _ => {
                        return Err(CrmError::Refused(format!(
                            "`{cursor}` is not a Salesforce cursor"
                        )));
                    }
                };
                let next = (!next.is_empty()).then_some(next);
                if next.is_some_and(|n| {
                    !n.starts_with("/services/data/") || n.contains("..") || n.len() > 300
                }) {
                    return Err(CrmError::Refused(format!(
                        "`{cursor}` is not a Salesforce cursor"
                    )));
                }
                (object, next)
            }
        };
        let page: QueryPage = match next {
            Some(url) => parse(&self.call("GET", url, None).await?)?,
            None if object == "Lead" => {
                self.query(&format!(
                    "SELECT {LEAD_FIELDS} FROM Lead WHERE IsConverted = false ORDER BY Id"
                ))
                .await?
            }
            None => {
                self.query(&format!("SELECT {CONTACT_FIELDS} FROM Contact ORDER BY Id"))
                    .await?
            }
        };
        let cursor = match (page.next_records_url, object) {
            (Some(next), _) => Some(format!("{object}|{next}")),
            (None, "Lead") => Some("Contact|".to_owned()),
            (None, _) => None,
        };
        Ok((
            page.records
                .into_iter()
                .map(RecordJson::into_record)
                .collect(),
            cursor,
        ))
    }

    async fn record(&self, id: &str) -> CrmResult<Option<CrmRecord>> {
        let id = checked_id(id)?;
        let object = object_of(id)?;
        let fields = if object == "Lead" {
            LEAD_FIELDS
        } else {
            CONTACT_FIELDS
        };
        let path = self.data(&format!(
            "/sobjects/{object}/{id}?fields={}",
            fields.replace(' ', "")
        ));
        match self.call("GET", &path, None).await {
            Ok(response) => Ok(Some(parse::<RecordJson>(&response)?.into_record())),
            Err(CrmError::Refused(why)) if why.contains(": 404 ") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_task(&self, task: &NewTask) -> CrmResult<String> {
        let mut body = json!({
            "WhoId": checked_id(&task.record_id)?,
            "Subject": task.subject,
            "Description": task.body,
            "Status": "Not Started",
            "Priority": "High",
            "TaskSubtype": "Call",
            "ActivityDate": task.due_at.format("%Y-%m-%d").to_string(),
            "IsReminderSet": true,
            "ReminderDateTime": task.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        if let Some(owner) = &task.owner {
            body["OwnerId"] = json!(checked_id(owner)?);
        }
        let path = self.data("/sobjects/Task");
        let made: Created = parse(&self.call("POST", &path, Some(body)).await?)?;
        match made {
            Created { id: Some(id), .. } => Ok(id),
            Created { errors, .. } => Err(CrmError::Refused(format!(
                "POST sobjects/Task: {}",
                errors
                    .into_iter()
                    .next()
                    .map(|e| e.message)
                    .unwrap_or_default()
            ))),
        }
    }

    async fn deal(&self, id: &str) -> CrmResult<Option<CrmDeal>> {
        let id = checked_id(id)?;
        let path = self.data(&format!(
            "/sobjects/Opportunity/{id}?fields=StageName,Amount"
        ));
        let deal: OpportunityJson = match self.call("GET", &path, None).await {
            Ok(response) => parse(&response)?,
            Err(CrmError::Refused(why)) if why.contains(": 404 ") => return Ok(None),
            Err(e) => return Err(e),
        };
        let roles = self
            .query(&format!(
                "SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = '{id}'"
            ))
            .await?;
        Ok(Some(CrmDeal {
            stage: deal.stage_name,
            value: deal.amount,
            contact_ids: roles
                .records
                .into_iter()
                .filter_map(|r| r.contact_id)
                .collect(),
        }))
    }

    /// Leads and contacts, and opportunities, modified after `since`, oldest first, at most
    /// [`POLL_PAGES`] pages of 2,000 each (a push's own writes come back too); the cursor is
    /// the latest modification read, so the rest come at the next poll.
    async fn changed(&self, since: DateTime<Utc>) -> CrmResult<Changed> {
        let at = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut changed = Changed {
            cursor: since,
            ..Default::default()
        };
        for object in &self.objects {
            let fields = if object == "Lead" {
                LEAD_FIELDS
            } else {
                CONTACT_FIELDS
            };
            let rows = self
                .modified(&format!(
                    "SELECT {fields} FROM {object} WHERE LastModifiedDate > {at} \
                     ORDER BY LastModifiedDate"
                ))
                .await?;
            for record in rows {
                if let Some(modified) = record.last_modified() {
                    changed.cursor = changed.cursor.max(modified);
                }
                changed.records.push(record.into_record());
            }
        }
        let rows = self
            .modified(&format!(
                "SELECT Id, LastModifiedDate FROM Opportunity WHERE LastModifiedDate > {at} \
                 ORDER BY LastModifiedDate"
            ))
            .await?;
        for deal in rows {
            if let Some(modified) = deal.last_modified() {
                changed.cursor = changed.cursor.max(modified);
            }
            changed.deals.push(deal.id);
        }
        Ok(changed)
    }
}

/// Salesforce ids: 15 or 18 letters and digits.
fn checked_id(id: &str) -> CrmResult<&str> {
    if (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(CrmError::Refused(format!("`{id}` is not a Salesforce id")))
    }
}

/// The object a record id is of, by its key prefix.
fn object_of(id: &str) -> CrmResult<&'static str> {
    match &id[..3] {
        "00Q" => Ok("Lead"),
        "003" => Ok("Contact"),
        _ => Err(CrmError::Refused(format!(
            "`{id}` is neither a lead nor a contact"
        ))),
    }
}

/// A term inside a SOSL `FIND {...}`, its reserved characters escaped.
fn sosl_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if "?&|!{}[]()^~*:\\\"'+-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A single record's create answer: `{"id", "success", "errors"}`.
#[derive(Deserialize)]
struct Created {
    id: Option<String>,
    #[serde(default)]
    errors: Vec<CreateError>,
}

#[derive(Deserialize, Default)]
struct CreateError {
    #[serde(default)]
    message: String,
}

fn parse<T: serde::de::DeserializeOwned>(response: &VendorResponse) -> CrmResult<T> {
    super::parse_answer("Salesforce", response)
}

/// What an error answer says: `[{"message", "errorCode"}]`, else the start of the body.
fn error_message(response: &VendorResponse) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ErrorJson {
        message: String,
        error_code: String,
    }
    match serde_json::from_str::<Vec<ErrorJson>>(&response.body) {
        Ok(errors) if !errors.is_empty() => errors
            .into_iter()
            .map(|e| format!("{}: {}", e.error_code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => response.body.chars().take(200).collect(),
    }
}

#[derive(Deserialize)]
struct Limit {
    #[serde(rename = "Max")]
    max: u64,
    #[serde(rename = "Remaining")]
    remaining: u64,
}

#[derive(Deserialize)]
struct Describe {
    fields: Vec<DescribeField>,
}

#[derive(Deserialize)]
struct DescribeField {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPage {
    #[serde(default)]
    records: Vec<RecordJson>,
    #[serde(default)]
    next_records_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchAnswer {
    #[serde(default)]
    search_records: Vec<RecordJson>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SaveResult {
    #[serde(default)]
    id: Option<String>,
    success: bool,
    #[serde(default)]
    errors: Vec<SaveError>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SaveError {
    #[serde(default)]
    status_code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct OpportunityJson {
    #[serde(rename = "StageName", default)]
    stage_name: Option<String>,
    #[serde(rename = "Amount", default)]
    amount: Option<f64>,
}

/// A record as SOQL and SOSL answer it: its fields by API name.
#[derive(Deserialize)]
struct RecordJson {
    #[serde(rename = "Id", default)]
    id: String,
    #[serde(rename = "ContactId", default)]
    contact_id: Option<String>,
    #[serde(flatten)]
    fields: BTreeMap<String, Value>,
}

impl RecordJson {
    fn text(&self, name: &str) -> Option<String> {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn last_modified(&self) -> Option<DateTime<Utc>> {
        // Salesforce writes `2026-12-02T14:03:18.000+0000`.
        let text = self.text("LastModifiedDate")?;
        DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    fn into_record(self) -> CrmRecord {
        let modified_at = self.last_modified();
        let typed: Vec<String> = ["Phone", "MobilePhone"]
            .iter()
            .filter_map(|f| self.text(f))
            .collect();
        let phones = super::phones(typed.iter().map(String::as_str));
        let mut fields = BTreeMap::new();
        if let Some(owner) = self.text("OwnerId") {
            fields.insert("owner".to_owned(), owner);
        }
        if let Some(source) = self.text("LeadSource") {
            fields.insert("source".to_owned(), source);
        }
        CrmRecord {
            phones,
            email: self.text("Email").map(|e| e.to_lowercase()),
            // A lead's status; a contact has none (its opportunities decide it).
            stage: self.text("Status"),
            fields,
            first_name: self.text("FirstName"),
            last_name: self.text("LastName"),
            company: self.text("Company"),
            modified_at,
            id: self.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sosl_terms_are_escaped_and_ids_are_told_apart() {
        assert_eq!(sosl_escape("ann+leads@x-y.com"), "ann\\+leads@x\\-y.com");
        assert_eq!(object_of("00Q5e00000AbCdE").unwrap(), "Lead");
        assert_eq!(object_of("0035e00000AbCdEAAZ").unwrap(), "Contact");
        assert!(object_of("0065e00000AbCdE").is_err());
        assert!(checked_id("00Q5e00000AbCdE/../x").is_err());
    }

    #[test]
    fn a_record_reads_its_numbers_status_owner_and_modification() {
        let record: RecordJson = serde_json::from_value(json!({
            "attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q5e00000AbCdE"},
            "Id": "00Q5e00000AbCdE", "FirstName": "Ada", "LastName": "Park",
            "Company": "Park Solar", "Phone": "(415) 555-0134", "MobilePhone": null,
            "Email": "Ada@Example.com", "Status": "Closed - Converted", "OwnerId": "0055e000001",
            "LeadSource": "Web", "LastModifiedDate": "2026-12-02T14:03:18.000+0000"
        }))
        .unwrap();
        assert_eq!(
            record.last_modified().unwrap().to_rfc3339(),
            "2026-12-02T14:03:18+00:00"
        );
        let record = record.into_record();
        assert_eq!(
            record.phones,
            vec![PhoneNumber::parse("+14155550134").unwrap()]
        );
        assert_eq!(record.stage.as_deref(), Some("Closed - Converted"));
        assert_eq!(record.fields["owner"], "0055e000001");
        assert_eq!(record.company.as_deref(), Some("Park Solar"));
    }
}
