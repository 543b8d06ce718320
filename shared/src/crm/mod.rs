//! The CRMs' APIs, each behind [`CrmApi`]: what a push, a match and an inbound change need from
//! a CRM. The adapters send through the `VendorHttp` port and keep to the account's rate limit
//! through the `RateLimiter` port, so they run unchanged on both runtimes.

pub mod hubspot;
pub mod oauth;
pub mod pipedrive;
pub mod salesforce;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::domain::{Change, ChangeObject};
use crate::domain::{Connection, Crm, CrmCredentials, GrantKind, Lead, PhoneNumber, ScoreFields};
use crate::ports::{Admission, RateLimiter, VendorHttp, VendorRequest, VendorResponse};

/// Why a CRM call did not go through.
#[derive(Debug, Clone, PartialEq)]
pub enum CrmError {
    /// Over the account's rate limit (ours, kept below the CRM's, or the CRM's own 429): try
    /// again after the wait.
    RateLimited(Duration),
    /// The CRM refused the request (bad token, missing scope, invalid values): trying the same
    /// again will not help. The sentence names what it said.
    Refused(String),
    /// No answer, or a server error: trying again later may.
    Unavailable(String),
}

impl std::fmt::Display for CrmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrmError::RateLimited(wait) => {
                write!(f, "over the rate limit; next try in {} s", wait.as_secs())
            }
            CrmError::Refused(why) | CrmError::Unavailable(why) => f.write_str(why),
        }
    }
}

pub type CrmResult<T> = std::result::Result<T, CrmError>;

/// A CRM record (a HubSpot contact), as far as the sync reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrmRecord {
    pub id: String,
    /// Its phone numbers that parse, in E.164.
    pub phones: Vec<PhoneNumber>,
    /// Lower-case.
    pub email: Option<String>,
    /// Its lifecycle stage or lead status.
    pub stage: Option<String>,
    /// Fields the rules may read as `crm.*` (`owner`, `source`).
    pub fields: BTreeMap<String, String>,
    /// Who it is, for a lead made from it.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    /// When the CRM last changed it.
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl CrmRecord {
    /// Whether this record is `lead`'s: its phone number, else its e-mail address.
    pub fn is_for(&self, lead: &Lead) -> bool {
        self.phones.contains(&lead.phone_number)
            || lead
                .email
                .as_deref()
                .is_some_and(|e| self.email.as_deref() == Some(e.to_lowercase().as_str()))
    }
}

/// What connecting set up in the CRM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// What was done, a sentence each.
    pub setup: Vec<String>,
    /// Our field name to the CRM's key for it, where the CRM assigns keys (Pipedrive).
    pub field_keys: BTreeMap<String, String>,
    /// The CRM's ids of the webhooks it subscribed (Pipedrive), to remove on disconnect.
    pub hooks: Vec<String>,
    /// The objects that have what a push writes, where the CRM has several (Salesforce's Lead
    /// and Contact).
    pub objects: Vec<String>,
}

/// What a CRM that is polled (Salesforce) says changed since a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changed {
    /// Records modified, as they are now.
    pub records: Vec<CrmRecord>,
    /// Ids of deals modified.
    pub deals: Vec<String>,
    /// The latest modification read: the next poll starts there.
    pub cursor: chrono::DateTime<chrono::Utc>,
}

/// Where a CRM that subscribes webhooks through its API (Pipedrive) sends its changes, and
/// the HTTP basic credentials it sends with them.
#[derive(Clone)]
pub struct HookTarget {
    pub url: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for HookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookTarget")
            .field("url", &self.url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The calls a sync makes on a CRM.
#[async_trait]
pub trait CrmApi: Send + Sync {
    /// Check the credentials and create what a push writes where the API allows (HubSpot's
    /// property group and properties, Pipedrive's person fields), and subscribe webhooks to
    /// `hook` where the API does that (Pipedrive).
    async fn prepare(&self, hook: Option<&HookTarget>) -> CrmResult<Prepared>;
    /// Records one call writes (HubSpot's batch, 100; Pipedrive, one): a push matches and
    /// writes this many leads at a time.
    fn batch(&self) -> usize;
    /// Whether a push may write to this record (Salesforce: a lead or contact whose object
    /// has the leadscore fields); a lead matched to one it may not is matched again.
    fn writes_to(&self, record: &str) -> bool {
        let _ = record;
        true
    }
    /// The account's use of its daily API limit, `(used, limit)`, as the CRM last reported it
    /// (Salesforce's `Sforce-Limit-Info`).
    fn usage(&self) -> Option<(u64, u64)> {
        None
    }
    /// Records and deals modified after `since`, for a CRM whose changes are polled
    /// (Salesforce); nothing for one that sends webhooks.
    async fn changed(&self, since: chrono::DateTime<chrono::Utc>) -> CrmResult<Changed> {
        Ok(Changed {
            cursor: since,
            ..Default::default()
        })
    }
    /// Remove webhooks `prepare` subscribed (on disconnect, or a reconnect's old ones).
    async fn unsubscribe(&self, hooks: &[String]) -> CrmResult<()> {
        let _ = hooks;
        Ok(())
    }
    /// The records with any of these phone numbers or e-mail addresses.
    async fn find(&self, phones: &[PhoneNumber], emails: &[String]) -> CrmResult<Vec<CrmRecord>>;
    /// Write each score on its record. The ids of records that are gone come back (their
    /// leads are matched again at their next push); any other refusal is an error.
    async fn update(&self, writes: &[(String, ScoreFields)]) -> CrmResult<Vec<String>>;
    /// Create a record for each lead, with its score; the records made.
    async fn create(&self, leads: &[(&Lead, ScoreFields)]) -> CrmResult<Vec<CrmRecord>>;
    /// A page of every record (at most 100), oldest first, and the cursor of the next page.
    async fn records(&self, after: Option<&str>) -> CrmResult<(Vec<CrmRecord>, Option<String>)>;
    /// One record, with its stage and fields; `None` when it is gone.
    async fn record(&self, id: &str) -> CrmResult<Option<CrmRecord>>;
    /// A deal: its stage, its value and the ids of its contacts' records; `None` when gone.
    async fn deal(&self, id: &str) -> CrmResult<Option<CrmDeal>>;
    /// Make a call task on a record, for its owner; the CRM's id of the task.
    async fn create_task(&self, task: &NewTask) -> CrmResult<String>;
}

/// A call task to make in a CRM (HubSpot's task, Pipedrive's `call` activity, Salesforce's
/// Task), on the lead's record and for its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub record_id: String,
    /// The record's owner (`fields["owner"]`); the CRM's default (the connecting user) when
    /// it has none.
    pub owner: Option<String>,
    pub subject: String,
    /// What it is about, in a few lines.
    pub body: String,
    pub due_at: chrono::DateTime<chrono::Utc>,
}

/// A deal, as far as an outcome needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrmDeal {
    pub stage: Option<String>,
    pub value: Option<f64>,
    pub contact_ids: Vec<String>,
}

/// The API of `connection`'s CRM, with its credentials, counting requests against the
/// account's limit in `rate`; a refresh token the CRM replaces goes to `keeper` at once.
pub fn api(
    connection: &Connection,
    credentials: &CrmCredentials,
    http: Arc<dyn VendorHttp>,
    rate: Arc<dyn RateLimiter>,
    keeper: Option<Arc<dyn oauth::TokenKeeper>>,
) -> Box<dyn CrmApi> {
    let throttle = Throttle::for_connection(connection, rate.clone());
    let access = oauth::Access::new(
        &connection.base_url,
        grant(connection, credentials),
        http,
        keeper,
    );
    match connection.crm {
        Crm::Hubspot => Box::new(hubspot::HubSpot::new(access, throttle)),
        Crm::Pipedrive => Box::new(pipedrive::Pipedrive::new(
            access,
            &connection.field_keys,
            throttle,
            Throttle::new(
                rate,
                format!("crm:{}:{}:search", connection.tenant_id, connection.crm),
                Crm::PIPEDRIVE_SEARCHES_PER_WINDOW,
                connection.crm.rate_window(),
            ),
        )),
        Crm::Salesforce => Box::new(salesforce::Salesforce::new(
            access,
            &connection.objects,
            throttle,
        )),
    }
}

/// How `connection` signs in with `credentials`.
fn grant(connection: &Connection, credentials: &CrmCredentials) -> oauth::Grant {
    let crm = connection.crm;
    match credentials.grant(crm) {
        GrantKind::Token => match crm {
            Crm::Pipedrive => oauth::Grant::Fixed {
                header: "x-api-token",
                value: credentials.token.clone(),
            },
            Crm::Hubspot | Crm::Salesforce => oauth::Grant::Fixed {
                header: "authorization",
                value: format!("Bearer {}", credentials.token),
            },
        },
        GrantKind::RefreshToken => oauth::Grant::Refresh {
            // Connections made before the token endpoint was kept are Salesforce's, whose
            // endpoint is on the login host.
            token_url: credentials.token_url.clone().unwrap_or_else(|| {
                oauth::endpoints(crm, &connection.base_url, &connection.base_url).token
            }),
            refresh_token: credentials.token.clone(),
            client: oauth::Client::for_crm(
                crm,
                credentials.client_id.as_deref().unwrap_or_default(),
                credentials.client_secret.as_deref(),
            ),
        },
        GrantKind::JwtBearer => oauth::Grant::JwtBearer {
            token_url: oauth::endpoints(crm, &connection.base_url, &connection.base_url).token,
            audience: connection.base_url.clone(),
            client_id: credentials.client_id.clone().unwrap_or_default(),
            username: credentials.username.clone().unwrap_or_default(),
            key: oauth::signing_key(&credentials.token).map(Box::new),
        },
    }
}

/// Keeps requests to one CRM account under its limit: a CRM's limit is per rolling window,
/// counted here in fixed windows of the same length at half the limit, so that no rolling
/// window (which spans at most two fixed ones) sees more than the limit.
pub struct Throttle {
    rate: Arc<dyn RateLimiter>,
    key: String,
    limit: u32,
    window: Duration,
}

impl Throttle {
    /// `limit` requests per rolling `window`, counted under `key`.
    pub fn new(rate: Arc<dyn RateLimiter>, key: String, limit: u32, window: Duration) -> Self {
        Self {
            rate,
            key,
            limit: (limit / 2).max(1),
            window,
        }
    }

    /// The connection's limit (`requests_per_10s`, in the CRM's own window).
    pub fn for_connection(connection: &Connection, rate: Arc<dyn RateLimiter>) -> Self {
        let window = connection.crm.rate_window();
        let per_window =
            (u64::from(connection.requests_per_10s) * window.as_millis() as u64 / 10_000) as u32;
        Self::new(
            rate,
            format!("crm:{}:{}", connection.tenant_id, connection.crm),
            per_window.max(1),
            window,
        )
    }

    /// Count one request; the wait when over the limit.
    pub async fn admit(&self) -> CrmResult<()> {
        match self.rate.admit(&self.key, self.limit, self.window).await {
            Ok(Admission::Admitted) => Ok(()),
            Ok(Admission::Limited { retry_after }) => Err(CrmError::RateLimited(retry_after)),
            Err(e) => Err(CrmError::Unavailable(format!(
                "the rate limit could not be counted: {e}"
            ))),
        }
    }
}

/// Send `request` after the throttle admits it, and sort the answer: 2xx is the answer, 429
/// a wait (`Retry-After`, else `default_wait`), 5xx and no answer `Unavailable`, any other
/// status `Refused` with what `describe` reads in the body.
pub(crate) async fn send(
    http: &dyn VendorHttp,
    throttle: &Throttle,
    request: VendorRequest,
    default_wait: Duration,
    describe: impl Fn(&VendorResponse) -> String,
) -> CrmResult<VendorResponse> {
    throttle.admit().await?;
    send_once(http, request, default_wait, describe).await
}

/// [`send`] without counting the request (a token endpoint's trade of a code, before the
/// connection has a limit to count against).
pub(crate) async fn send_once(
    http: &dyn VendorHttp,
    request: VendorRequest,
    default_wait: Duration,
    describe: impl Fn(&VendorResponse) -> String,
) -> CrmResult<VendorResponse> {
    let what = format!("{} {}", request.method, path_of(&request.url));
    let response = http
        .send(&request)
        .await
        .map_err(|e| CrmError::Unavailable(format!("{what}: {e}")))?;
    match response.status {
        200..=299 => Ok(response),
        429 => Err(CrmError::RateLimited(
            response.retry_after.unwrap_or(default_wait),
        )),
        500..=599 => Err(CrmError::Unavailable(format!(
            "{what}: {} {}",
            response.status,
            describe(&response)
        ))),
        status => Err(CrmError::Refused(format!(
            "{what}: {status} {}",
            describe(&response)
        ))),
    }
}

/// A vendor's answer read as `T`; a body that is not what the vendor's reference says is
/// `Unavailable`, naming the vendor and the status.
pub(crate) fn parse_answer<T: serde::de::DeserializeOwned>(
    vendor: &str,
    response: &VendorResponse,
) -> CrmResult<T> {
    serde_json::from_str(&response.body).map_err(|e| {
        CrmError::Unavailable(format!(
            "{vendor} answered {} with a body that is not what its reference says ({e})",
            response.status
        ))
    })
}

/// A query value, percent-encoded.
pub(crate) fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Phone numbers as a CRM keeps them (as typed): those that parse, in E.164; those without a
/// country code are read as US numbers, as the CRMs' own default.
pub(crate) fn phones<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<PhoneNumber> {
    values
        .into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .filter_map(|v| PhoneNumber::parse_with_region(v, Some("US")).ok())
        .collect()
}

/// The path of a URL, without its query: what an error may name.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}
