//! Gong's API, the two requests a pull makes (help.gong.io/apidocs): basic auth with the
//! company's access key and its secret, a base URL of its own (`https://us-NNNNN.api.gong.io`,
//! shown on Gong's API page), at most 100 records a page with a `records.cursor` while more
//! remain.
//!
//! - `POST /v2/calls/extensive` with `{"filter": {"fromDateTime"}, "contentSelector":
//!   {"exposedFields": {"parties": true}}, "cursor"}`: the calls that started at or after the
//!   time, each with its `metaData` (`id`, `started`, `direction`...) and `parties`.
//! - `POST /v2/calls/transcript` with `{"filter": {"callIds": [...]}}`: their
//!   `callTranscripts` (empty for a call Gong has not transcribed yet).
//!
//! Both answer 404 when no call matches the filter ("No calls found corresponding to the
//! provided filters"), which is an empty page here. Errors are `{"requestId", "errors": [...]}`;
//! 429 carries `Retry-After`.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::ports::{VendorRequest, VendorResponse};

/// Gong's API unless the company's own base URL is given.
pub const DEFAULT_API_URL: &str = "https://api.gong.io";

/// A tenant's Gong connection, kept in the secret store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"access_key": "KEY3XGZ7QK2M", "access_key_secret": "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0", "base_url": "https://us-55616.api.gong.io"}))]
pub struct GongAccount {
    /// The access key from Gong's API page (Company Settings, Ecosystem, API).
    pub access_key: String,
    /// Its secret: kept in the secret store, never shown again.
    pub access_key_secret: String,
    /// The company's base URL, as Gong's API page shows it (default `https://api.gong.io`).
    #[serde(default)]
    pub base_url: Option<String>,
}

impl GongAccount {
    pub fn validate(&self) -> Result<()> {
        let ok = |s: &str| !s.is_empty() && s.len() <= 512 && !s.chars().any(char::is_whitespace);
        if !ok(&self.access_key) {
            return Err(Error::validation(
                "access_key: the access key from Gong's API page, 1 to 512 characters",
            ));
        }
        if !ok(&self.access_key_secret) {
            return Err(Error::validation(
                "access_key_secret: the access key's secret from Gong's API page, 1 to 512 \
                 characters",
            ));
        }
        if let Some(url) = &self.base_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Error::validation(
                "base_url: an http(s) URL, as Gong's API page shows it",
            ));
        }
        Ok(())
    }

    pub fn base(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(DEFAULT_API_URL)
            .trim_end_matches('/')
    }

    fn post(&self, path: &str, body: &Value) -> VendorRequest {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.access_key, self.access_key_secret));
        VendorRequest {
            method: "POST",
            url: format!("{}{path}", self.base()),
            headers: vec![
                ("authorization", format!("Basic {basic}")),
                ("accept", "application/json".to_owned()),
            ],
            body: Some(body.to_string()),
        }
    }

    /// A page of the calls that started at or after `from`, with their parties.
    pub fn calls(&self, from: DateTime<Utc>, cursor: Option<&str>) -> VendorRequest {
        let mut body = json!({
            "filter": {"fromDateTime": from.to_rfc3339_opts(SecondsFormat::Secs, true)},
            "contentSelector": {"exposedFields": {"parties": true}},
        });
        if let Some(cursor) = cursor {
            body["cursor"] = cursor.into();
        }
        self.post("/v2/calls/extensive", &body)
    }

    /// The transcripts of `ids` (at most a page's 100).
    pub fn transcripts(&self, ids: &[&str]) -> VendorRequest {
        self.post("/v2/calls/transcript", &json!({"filter": {"callIds": ids}}))
    }
}

/// A call of a page: its id and start, and the object as Gong gave it (kept whole, to be read
/// with its transcript by `formats::gong`).
#[derive(Debug, Clone)]
pub struct ListedCall {
    pub id: String,
    pub started: DateTime<Utc>,
    pub raw: Value,
}

/// A page of `calls`: its calls and the cursor of the next page, if there is one.
#[derive(Debug, Clone, Default)]
pub struct CallsPage {
    pub calls: Vec<ListedCall>,
    pub cursor: Option<String>,
}

fn problem(what: &str, response: &VendorResponse) -> Error {
    #[derive(Deserialize)]
    struct Problem {
        #[serde(default)]
        errors: Vec<String>,
    }
    let detail = serde_json::from_str::<Problem>(&response.body)
        .ok()
        .map(|p| p.errors.join("; "))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    let message = format!("Gong answered {what} with {}: {detail}", response.status);
    match response.status {
        401 | 403 => Error::validation(format!(
            "{message}; check the access key and its secret (PUT /settings/gong)"
        )),
        429 | 500.. => Error::transient(message, "Gong"),
        _ => Error::validation(message),
    }
}

/// The answer to `calls`.
pub fn calls_page(response: &VendorResponse) -> Result<CallsPage> {
    if response.status == 404 {
        return Ok(CallsPage::default());
    }
    if !(200..300).contains(&response.status) {
        return Err(problem("the calls' list", response));
    }
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        records: Records,
        #[serde(default)]
        calls: Vec<Value>,
    }
    let page: Page = serde_json::from_str(&response.body)
        .map_err(|e| Error::transient("Gong's calls' list is not a page of calls", e))?;
    let mut calls = Vec::with_capacity(page.calls.len());
    for raw in page.calls {
        let meta = &raw["metaData"];
        let (Some(id), Some(started)) = (meta["id"].as_str(), meta["started"].as_str()) else {
            return Err(Error::validation(
                "Gong's calls' list has a call without metaData.id or metaData.started",
            ));
        };
        let started = DateTime::parse_from_rfc3339(started)
            .map_err(|e| Error::validation(format!("Gong's call {id}: started `{started}`: {e}")))?
            .with_timezone(&Utc);
        calls.push(ListedCall {
            id: id.to_owned(),
            started,
            raw,
        });
    }
    Ok(CallsPage {
        calls,
        cursor: page.records.cursor.filter(|c| !c.is_empty()),
    })
}

#[derive(Deserialize, Default)]
struct Records {
    cursor: Option<String>,
}

/// The answer to `transcripts`: each call's transcript object, by call id; a call with no
/// monologue yet (Gong still processing it) is left out.
pub fn transcripts(response: &VendorResponse) -> Result<Vec<(String, Value)>> {
    if response.status == 404 {
        return Ok(Vec::new());
    }
    if !(200..300).contains(&response.status) {
        return Err(problem("the transcripts", response));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        call_transcripts: Vec<Value>,
    }
    let page: Page = serde_json::from_str(&response.body)
        .map_err(|e| Error::transient("Gong's transcripts are not a page of transcripts", e))?;
    Ok(page
        .call_transcripts
        .into_iter()
        .filter(|t| t["transcript"].as_array().is_some_and(|m| !m.is_empty()))
        .filter_map(|t| Some((t["callId"].as_str()?.to_owned(), t)))
        .collect())
}

/// One call as one Gong document (`formats::gong` reads it): its transcript and its
/// extensive call, parties included.
pub fn document(transcript: &Value, call: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"callTranscripts": [transcript], "calls": [call]}))
        .expect("JSON values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> VendorResponse {
        VendorResponse::new(status, body)
    }

    #[test]
    fn pages_transcripts_and_refusals_are_read_as_gong_writes_them() {
        let page = calls_page(&answer(
            200,
            r#"{"requestId":"r1","records":{"totalRecords":3,"currentPageSize":2,"currentPageNumber":0,"cursor":"c2"},
                "calls":[{"metaData":{"id":"1","started":"2026-11-02T09:15:03-05:00"},"parties":[]},
                         {"metaData":{"id":"2","started":"2026-11-02T15:00:00Z"},"parties":[]}]}"#,
        ))
        .unwrap();
        assert_eq!(page.calls.len(), 2);
        assert_eq!(
            page.calls[0].started.to_rfc3339(),
            "2026-11-02T14:15:03+00:00"
        );
        assert_eq!(page.cursor.as_deref(), Some("c2"));
        let none = calls_page(&answer(
            404,
            r#"{"requestId":"r2","errors":["No calls found corresponding to the provided filters"]}"#,
        ))
        .unwrap();
        assert!(none.calls.is_empty() && none.cursor.is_none());
        let refused = calls_page(&answer(
            401,
            r#"{"requestId":"r3","errors":["Invalid credentials"]}"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("Invalid credentials") && refused.contains("/settings/gong"),
            "{refused}"
        );
        assert!(matches!(
            calls_page(&answer(429, "{}")),
            Err(Error::Transient { .. })
        ));
        let ready = transcripts(&answer(
            200,
            r#"{"callTranscripts":[{"callId":"1","transcript":[{"speakerId":"s","sentences":[]}]},
                                   {"callId":"2","transcript":[]}]}"#,
        ))
        .unwrap();
        assert_eq!(ready.len(), 1, "a call not yet transcribed waits");
        assert_eq!(ready[0].0, "1");
    }

    #[test]
    fn a_connection_names_its_wrong_field() {
        let good = GongAccount {
            access_key: "KEY".into(),
            access_key_secret: "SECRET".into(),
            base_url: Some("https://us-55616.api.gong.io/".into()),
        };
        good.validate().unwrap();
        assert_eq!(good.base(), "https://us-55616.api.gong.io");
        let request = good.calls(DateTime::UNIX_EPOCH, Some("c2"));
        assert_eq!(
            request.url,
            "https://us-55616.api.gong.io/v2/calls/extensive"
        );
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["filter"]["fromDateTime"], "1970-01-01T00:00:00Z");
        assert_eq!(body["cursor"], "c2");
        for (bad, field) in [
            (
                GongAccount {
                    access_key: " ".into(),
                    ..good.clone()
                },
                "access_key",
            ),
            (
                GongAccount {
                    access_key_secret: String::new(),
                    ..good.clone()
                },
                "access_key_secret",
            ),
            (
                GongAccount {
                    base_url: Some("us-55616.api.gong.io".into()),
                    ..good.clone()
                },
                "base_url",
            ),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
