//! Pipedrive's API, as its reference documents it (developers.pipedrive.com/docs/api/v1 and
//! /v2): an API token in the `x-api-token` header, or an OAuth app's bearer token on the
//! company's API host (`api_domain`); persons through API v2 (`GET
//! /api/v2/persons` a cursor page at a time, `GET` and `PATCH /api/v2/persons/{id}`, `POST
//! /api/v2/persons`, `GET /api/v2/persons/search`), deals (`GET /api/v2/deals/{id}`, whose
//! `status` is `open`, `won` or `lost`), person fields (`GET` and `POST /api/v2/personFields`:
//! a custom field is written under the 40-character `field_code` Pipedrive assigns, kept on
//! the connection), activities (`POST /api/v2/activities`, a `call` for the person's owner,
//! the person its primary participant, due in UTC) and webhooks (`POST` and `DELETE /api/v1/webhooks`, version 2.0, with the
//! HTTP basic credentials Pipedrive sends back). Answers are `{"success": true, "data": ...}`;
//! errors `{"success": false, "error", "error_info"}`. Limits: requests per rolling two
//! seconds per token (20 on Essential with an API token), and 10 searches per two seconds
//! whatever the plan; past them, 429.
//!
//! Pipedrive has no batch update for persons: a push is one `PATCH` a lead. A lead without a
//! known person is looked for with one search per phone number (on its national digits) and
//! per e-mail address.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::{Access, Answers};
use super::{
    CrmApi, CrmDeal, CrmError, CrmRecord, CrmResult, HookTarget, NewTask, Prepared, Throttle,
    encode,
};
use crate::domain::{Lead, PhoneNumber, ScoreFields};
use crate::ports::VendorResponse;

/// Pipedrive's window: how long to wait on a 429 without `Retry-After`.
const WINDOW: Duration = Duration::from_secs(2);
/// Persons a page of the import asks for (Pipedrive allows up to 500).
pub const PAGE: usize = 100;
/// Search results read per term: a phone number or an address is on few persons.
const SEARCH_LIMIT: usize = 20;

/// The person fields a push writes: our name, the field's name in Pipedrive, its type.
pub const FIELDS: [(&str, &str, &str); 6] = [
    ("score", "leadscore score", "double"),
    ("tier", "leadscore tier", "varchar"),
    ("probability", "leadscore probability", "double"),
    ("reasons", "leadscore reasons", "text"),
    ("scored_at", "leadscore scored at", "varchar"),
    ("link", "leadscore link", "varchar"),
];

/// The deal counts a person's read asks for: its outcome, when it has one.
const DEAL_COUNTS: &str = "won_deals_count,lost_deals_count,open_deals_count";

pub struct Pipedrive {
    access: Access,
    /// Our field name to Pipedrive's field code, as connecting found or made them.
    field_keys: BTreeMap<String, String>,
    throttle: Throttle,
    /// Searches count against a limit of their own.
    search_throttle: Throttle,
}

impl Pipedrive {
    /// `access` signs in: an API token (`x-api-token`), or an OAuth app's session (a bearer
    /// token, on the company's own API host).
    pub fn new(
        access: Access,
        field_keys: &BTreeMap<String, String>,
        throttle: Throttle,
        search_throttle: Throttle,
    ) -> Self {
        Self {
            access,
            field_keys: field_keys.clone(),
            throttle,
            search_throttle,
        }
    }

    async fn call_with(
        &self,
        throttle: &Throttle,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> CrmResult<VendorResponse> {
        self.access
            .send(
                throttle,
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

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> CrmResult<VendorResponse> {
        self.call_with(&self.throttle, method, path, body).await
    }

    /// `None` for 404 (a person or deal that is gone).
    async fn get_or_gone(&self, path: &str) -> CrmResult<Option<VendorResponse>> {
        match self.call("GET", path, None).await {
            Ok(r) => Ok(Some(r)),
            Err(CrmError::Refused(why)) if why.contains(": 404 ") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn search(&self, term: &str, field: &str, exact: bool) -> CrmResult<Vec<CrmRecord>> {
        let path = format!(
            "/api/v2/persons/search?term={}&fields={field}&exact_match={exact}&limit={SEARCH_LIMIT}",
            encode(term)
        );
        // A search counts against the token's limit as well as the searches' own.
        self.throttle.admit().await?;
        let response = self
            .call_with(&self.search_throttle, "GET", &path, None)
            .await?;
        let page: Answer<SearchData> = parse(&response)?;
        Ok(page
            .data
            .map(|d| d.items)
            .unwrap_or_default()
            .into_iter()
            .map(|hit| hit.item.into_record())
            .collect())
    }

    /// The custom fields a push writes, under their codes; an error when connecting did not
    /// find them all.
    fn custom_fields(&self, fields: &ScoreFields) -> CrmResult<serde_json::Map<String, Value>> {
        let values = [
            ("score", json!(fields.score)),
            ("tier", json!(fields.tier)),
            (
                "probability",
                fields.probability.map_or(Value::Null, |p| json!(p)),
            ),
            ("reasons", json!(fields.reasons)),
            (
                "scored_at",
                json!(
                    fields
                        .scored_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ),
            ("link", json!(fields.link)),
        ];
        let mut map = serde_json::Map::new();
        for (name, value) in values {
            let code = self.field_keys.get(name).ok_or_else(|| {
                CrmError::Refused(format!(
                    "the person field `{name}` is not known: connect Pipedrive again"
                ))
            })?;
            map.insert(code.clone(), value);
        }
        Ok(map)
    }
}

#[async_trait::async_trait]
impl CrmApi for Pipedrive {
    async fn prepare(&self, hook: Option<&HookTarget>) -> CrmResult<Prepared> {
        let mut prepared = Prepared::default();
        // The fields there are, by name (a reconnect finds its own again).
        let mut existing: BTreeMap<String, String> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut path = "/api/v2/personFields?limit=500".to_owned();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", encode(c)));
            }
            let response = self.call("GET", &path, None).await?;
            let page: Answer<Vec<FieldJson>> = parse(&response)?;
            for field in page.data.unwrap_or_default() {
                existing.insert(field.field_name, field.field_code);
            }
            match page.additional_data.and_then(|a| a.next_cursor) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        for (name, label, kind) in FIELDS {
            let code = match existing.get(label) {
                Some(code) => {
                    prepared
                        .setup
                        .push(format!("found the person field `{label}`"));
                    code.clone()
                }
                None => {
                    let response = self
                        .call(
                            "POST",
                            "/api/v2/personFields",
                            Some(json!({"field_name": label, "field_type": kind})),
                        )
                        .await?;
                    let made: Answer<FieldJson> = parse(&response)?;
                    let code = made.data.map(|f| f.field_code).ok_or_else(|| {
                        CrmError::Unavailable(format!(
                            "Pipedrive made the person field `{label}` without saying its code"
                        ))
                    })?;
                    prepared
                        .setup
                        .push(format!("created the person field `{label}`"));
                    code
                }
            };
            prepared.field_keys.insert(name.to_owned(), code);
        }
        match hook {
            Some(hook) => {
                // Deals for outcomes (won, lost, reopened), persons for their owner.
                for (action, object) in [("*", "deal"), ("change", "person")] {
                    let body = json!({
                        "subscription_url": hook.url,
                        "event_action": action,
                        "event_object": object,
                        "http_auth_user": hook.user,
                        "http_auth_password": hook.password,
                        "version": "2.0",
                    });
                    let response = self.call("POST", "/api/v1/webhooks", Some(body)).await?;
                    let made: Answer<WebhookJson> = parse(&response)?;
                    if let Some(id) = made.data.map(|w| w.id) {
                        prepared.hooks.push(id_text(&id));
                    }
                    prepared
                        .setup
                        .push(format!("subscribed a webhook to {object} changes"));
                }
            }
            None => prepared.setup.push(
                "no webhooks: the API's public address (PUBLIC_URL) is not set, so Pipedrive \
                 has nowhere to send deals won and lost"
                    .to_owned(),
            ),
        }
        Ok(prepared)
    }

    fn batch(&self) -> usize {
        1
    }

    async fn unsubscribe(&self, hooks: &[String]) -> CrmResult<()> {
        for id in hooks {
            let id = checked_id(id)?;
            match self
                .call("DELETE", &format!("/api/v1/webhooks/{id}"), None)
                .await
            {
                Ok(_) => {}
                // Deleted in Pipedrive already.
                Err(CrmError::Refused(why)) if why.contains(": 404 ") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn find(&self, phones: &[PhoneNumber], emails: &[String]) -> CrmResult<Vec<CrmRecord>> {
        let mut records = Vec::new();
        // Pipedrive keeps numbers as typed and searches them by their digits: a search on the
        // national digits finds the number however it was written; the answers are checked
        // against the full numbers by the caller.
        for phone in phones {
            records.extend(
                self.search(&phone.national_digits(), "phone", false)
                    .await?,
            );
        }
        for email in emails {
            records.extend(self.search(&email.to_lowercase(), "email", true).await?);
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records.dedup_by(|a, b| a.id == b.id);
        Ok(records)
    }

    async fn update(&self, writes: &[(String, ScoreFields)]) -> CrmResult<Vec<String>> {
        let mut gone = Vec::new();
        for (id, fields) in writes {
            let id = checked_id(id)?;
            let body = json!({ "custom_fields": self.custom_fields(fields)? });
            match self
                .call("PATCH", &format!("/api/v2/persons/{id}"), Some(body))
                .await
            {
                Ok(_) => {}
                Err(CrmError::Refused(why)) if why.contains(": 404 ") => gone.push(id.to_owned()),
                Err(e) => return Err(e),
            }
        }
        Ok(gone)
    }

    async fn create(&self, leads: &[(&Lead, ScoreFields)]) -> CrmResult<Vec<CrmRecord>> {
        let mut made = Vec::new();
        for (lead, fields) in leads {
            let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let mut body = json!({
                "name": if name.is_empty() { lead.phone_number.as_str().to_owned() } else { name },
                "phones": [{"value": lead.phone_number.as_str(), "primary": true, "label": "work"}],
                "custom_fields": self.custom_fields(fields)?,
            });
            if let Some(email) = &lead.email {
                body["emails"] = json!([{"value": email, "primary": true, "label": "work"}]);
            }
            let response = self.call("POST", "/api/v2/persons", Some(body)).await?;
            let person: Answer<PersonJson> = parse(&response)?;
            if let Some(person) = person.data {
                made.push(person.into_record());
            }
        }
        Ok(made)
    }

    async fn records(&self, after: Option<&str>) -> CrmResult<(Vec<CrmRecord>, Option<String>)> {
        let mut path = format!("/api/v2/persons?limit={PAGE}&include_fields={DEAL_COUNTS}");
        if let Some(after) = after {
            if after.is_empty() || after.len() > 500 {
                return Err(CrmError::Refused(format!(
                    "`{after}` is not a Pipedrive cursor"
                )));
            }
            path.push_str(&format!("&cursor={}", encode(after)));
        }
        let response = self.call("GET", &path, None).await?;
        let page: Answer<Vec<PersonJson>> = parse(&response)?;
        Ok((
            page.data
                .unwrap_or_default()
                .into_iter()
                .map(PersonJson::into_record)
                .collect(),
            page.additional_data.and_then(|a| a.next_cursor),
        ))
    }

    async fn record(&self, id: &str) -> CrmResult<Option<CrmRecord>> {
        let id = checked_id(id)?;
        let path = format!("/api/v2/persons/{id}?include_fields={DEAL_COUNTS}");
        match self.get_or_gone(&path).await? {
            Some(response) => Ok(parse::<Answer<PersonJson>>(&response)?
                .data
                .map(PersonJson::into_record)),
            None => Ok(None),
        }
    }

    async fn create_task(&self, task: &NewTask) -> CrmResult<String> {
        let response = self
            .call("POST", "/api/v2/activities", Some(activity_body(task)?))
            .await?;
        match parse::<Answer<Made>>(&response)?.data {
            Some(made) => Ok(id_text(&made.id)),
            None => Err(CrmError::Unavailable(
                "POST /api/v2/activities: Pipedrive answered without the activity".to_owned(),
            )),
        }
    }

    async fn deal(&self, id: &str) -> CrmResult<Option<CrmDeal>> {
        let id = checked_id(id)?;
        let Some(response) = self.get_or_gone(&format!("/api/v2/deals/{id}")).await? else {
            return Ok(None);
        };
        let Some(deal) = parse::<Answer<DealJson>>(&response)?.data else {
            return Ok(None);
        };
        Ok(Some(CrmDeal {
            stage: deal.status,
            value: deal.value,
            contact_ids: deal
                .person_id
                .map(|p| vec![p.to_string()])
                .unwrap_or_default(),
        }))
    }
}

/// Pipedrive's ids are numbers; anything else is not sent into a path.
fn checked_id(id: &str) -> CrmResult<&str> {
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(CrmError::Refused(format!("`{id}` is not a Pipedrive id")))
    }
}

/// A `call` activity with the person as its primary participant (API v2 sets `person_id`
/// from the participants; it refuses it given), for the person's owner, due in UTC.
fn activity_body(task: &NewTask) -> CrmResult<Value> {
    let person: u64 = checked_id(&task.record_id)?
        .parse()
        .map_err(|_| CrmError::Refused(format!("`{}` is not a Pipedrive id", task.record_id)))?;
    let mut body = json!({
        "subject": task.subject,
        "type": "call",
        "due_date": task.due_at.format("%Y-%m-%d").to_string(),
        "due_time": task.due_at.format("%H:%M").to_string(),
        "participants": [{"person_id": person, "primary": true}],
        "note": task.body,
        "done": false,
    });
    if let Some(owner) = task.owner.as_deref().and_then(|o| o.parse::<u64>().ok()) {
        body["owner_id"] = json!(owner);
    }
    Ok(body)
}

/// A created object, as `data` carries it.
#[derive(Deserialize)]
struct Made {
    id: Value,
}

/// An id Pipedrive sent as a number or a string.
fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(response: &VendorResponse) -> CrmResult<T> {
    super::parse_answer("Pipedrive", response)
}

/// What an error answer says: its `error` (and `error_info`), else the start of the body.
fn error_message(response: &VendorResponse) -> String {
    #[derive(Deserialize)]
    struct ErrorJson {
        error: Option<String>,
        error_info: Option<String>,
    }
    match serde_json::from_str::<ErrorJson>(&response.body) {
        Ok(ErrorJson {
            error: Some(e),
            error_info,
        }) => match error_info {
            Some(info) if !info.is_empty() => format!("{e} ({info})"),
            _ => e,
        },
        _ => response.body.chars().take(200).collect(),
    }
}

/// `{"success": true, "data": ..., "additional_data": {"next_cursor": ...}}`.
#[derive(Deserialize)]
struct Answer<T> {
    data: Option<T>,
    #[serde(default)]
    additional_data: Option<AdditionalData>,
}

#[derive(Deserialize)]
struct AdditionalData {
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct FieldJson {
    field_name: String,
    field_code: String,
}

#[derive(Deserialize)]
struct WebhookJson {
    id: Value,
}

#[derive(Deserialize)]
struct SearchData {
    #[serde(default)]
    items: Vec<SearchHit>,
}

#[derive(Deserialize)]
struct SearchHit {
    item: SearchItem,
}

/// A search result: numbers and addresses as plain strings.
#[derive(Deserialize)]
struct SearchItem {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    emails: Vec<String>,
}

impl SearchItem {
    fn into_record(self) -> CrmRecord {
        CrmRecord {
            id: self.id.to_string(),
            phones: super::phones(self.phones.iter().map(String::as_str)),
            email: self.emails.first().map(|e| e.to_lowercase()),
            first_name: self.name,
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
struct Labelled {
    value: String,
}

/// A person as API v2 answers it.
#[derive(Deserialize)]
struct PersonJson {
    id: u64,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    owner_id: Option<u64>,
    #[serde(default)]
    phones: Vec<Labelled>,
    #[serde(default)]
    emails: Vec<Labelled>,
    #[serde(default)]
    won_deals_count: Option<u64>,
    #[serde(default)]
    lost_deals_count: Option<u64>,
    #[serde(default)]
    open_deals_count: Option<u64>,
    #[serde(default)]
    update_time: Option<String>,
}

impl PersonJson {
    fn into_record(self) -> CrmRecord {
        // A person has no stage of its own; its deals say whether it was won or lost: a won
        // deal is won, lost deals and none open are lost, anything else is undecided.
        let stage = match (
            self.won_deals_count.unwrap_or(0),
            self.lost_deals_count.unwrap_or(0),
            self.open_deals_count.unwrap_or(0),
        ) {
            (won, _, _) if won > 0 => Some("won".to_owned()),
            (0, lost, 0) if lost > 0 => Some("lost".to_owned()),
            _ => None,
        };
        let mut fields = BTreeMap::new();
        if let Some(owner) = self.owner_id {
            fields.insert("owner".to_owned(), owner.to_string());
        }
        let text = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        CrmRecord {
            id: self.id.to_string(),
            phones: super::phones(self.phones.iter().map(|p| p.value.as_str())),
            email: self
                .emails
                .first()
                .map(|e| e.value.to_lowercase())
                .filter(|e| !e.is_empty()),
            stage,
            fields,
            first_name: text(self.first_name),
            last_name: text(self.last_name),
            company: None,
            modified_at: self
                .update_time
                .as_deref()
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.with_timezone(&chrono::Utc)),
        }
    }
}

#[derive(Deserialize)]
struct DealJson {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    person_id: Option<u64>,
}

/// One webhook notification (version 2.0), as far as the product reads it: what changed.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookBody {
    pub meta: WebhookMeta,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookMeta {
    /// `create`, `change` or `delete`.
    pub action: String,
    /// `person`, `deal`, ...
    pub entity: String,
    /// The person's or deal's id (a string in version 2.0; a number is taken too).
    pub entity_id: Value,
}

impl WebhookBody {
    /// The change it reports, when it is about a person or a deal that still exists.
    pub fn change(&self) -> Option<super::Change> {
        if self.meta.action == "delete" {
            return None;
        }
        let id = id_text(&self.meta.entity_id);
        checked_id(&id).ok()?;
        let object = match self.meta.entity.as_str() {
            "person" => super::ChangeObject::Record,
            "deal" => super::ChangeObject::Deal,
            _ => return None,
        };
        Some(super::Change { object, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_reads_its_numbers_address_owner_and_outcome() {
        let person: PersonJson = serde_json::from_value(json!({
            "id": 7,
            "name": "Ada Park",
            "first_name": "Ada",
            "last_name": "Park",
            "owner_id": 31,
            "phones": [{"value": "(415) 555-0134", "primary": true, "label": "work"},
                       {"value": "not a number", "primary": false, "label": "home"}],
            "emails": [{"value": "Ada@Example.com", "primary": true, "label": "work"}],
            "won_deals_count": 0, "lost_deals_count": 2, "open_deals_count": 0,
        }))
        .unwrap();
        let record = person.into_record();
        assert_eq!(record.id, "7");
        assert_eq!(
            record.phones,
            vec![PhoneNumber::parse("+14155550134").unwrap()]
        );
        assert_eq!(record.email.as_deref(), Some("ada@example.com"));
        assert_eq!(record.stage.as_deref(), Some("lost"));
        assert_eq!(record.fields["owner"], "31");

        let open: PersonJson =
            serde_json::from_value(json!({"id": 8, "lost_deals_count": 1, "open_deals_count": 1}))
                .unwrap();
        assert_eq!(open.into_record().stage, None, "an open deal: undecided");
    }

    #[test]
    fn a_webhook_names_a_person_or_a_deal_and_nothing_else() {
        let body = |entity: &str, action: &str, id: Value| -> WebhookBody {
            serde_json::from_value(json!({
                "meta": {"action": action, "entity": entity, "entity_id": id, "version": "2.0"},
                "data": {}, "previous": null
            }))
            .unwrap()
        };
        let deal = body("deal", "change", json!("42")).change().unwrap();
        assert_eq!(
            (deal.object, deal.id.as_str()),
            (super::super::ChangeObject::Deal, "42")
        );
        let person = body("person", "create", json!(7)).change().unwrap();
        assert_eq!(person.object, super::super::ChangeObject::Record);
        assert!(body("deal", "delete", json!("42")).change().is_none());
        assert!(body("activity", "change", json!("1")).change().is_none());
        assert!(body("deal", "change", json!("../x")).change().is_none());
    }
}
