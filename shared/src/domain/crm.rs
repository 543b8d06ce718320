//! CRM connections: which CRM a tenant's scores go to, what it may do there, how its stages
//! read as outcomes, and each lead's sync state. No I/O: the vendors' APIs are in `crate::crm`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{Factor, Lead, Outcome, TenantId};
use crate::error::{Error, Result};

/// A CRM the product syncs with.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Crm {
    Hubspot,
    Pipedrive,
    Salesforce,
}

impl Crm {
    pub const ALL: [Crm; 3] = [Crm::Hubspot, Crm::Pipedrive, Crm::Salesforce];

    /// Pipedrive's search API: 10 requests per two seconds per token, whatever the plan.
    pub const PIPEDRIVE_SEARCHES_PER_WINDOW: u32 = 10;

    pub fn as_str(self) -> &'static str {
        match self {
            Crm::Hubspot => "hubspot",
            Crm::Pipedrive => "pipedrive",
            Crm::Salesforce => "salesforce",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Crm::Hubspot => "HubSpot",
            Crm::Pipedrive => "Pipedrive",
            Crm::Salesforce => "Salesforce",
        }
    }

    /// The rolling window its rate limit is counted in (HubSpot: ten seconds; Pipedrive: two;
    /// Salesforce's limit is daily: ten seconds of the connection's own pace).
    pub fn rate_window(self) -> std::time::Duration {
        match self {
            Crm::Hubspot | Crm::Salesforce => std::time::Duration::from_secs(10),
            Crm::Pipedrive => std::time::Duration::from_secs(2),
        }
    }

    /// The CRM a path or a command names; the error lists the ones there are.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::not_found(format!(
                    "CRM `{s}`: this version syncs with {}",
                    Self::ALL.map(Crm::as_str).join(", ")
                ))
            })
    }

    /// Where its API is, unless a connection says otherwise (a sandbox, a test).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Crm::Hubspot => "https://api.hubapi.com",
            Crm::Pipedrive => "https://api.pipedrive.com",
            // The login host; the org's instance URL comes with each access token.
            Crm::Salesforce => "https://login.salesforce.com",
        }
    }

    /// Where its OAuth consent screen is (Salesforce's is on the login host, `base_url`).
    pub fn default_oauth_url(self) -> &'static str {
        match self {
            Crm::Hubspot => "https://app.hubspot.com",
            Crm::Pipedrive => "https://oauth.pipedrive.com",
            Crm::Salesforce => "https://login.salesforce.com",
        }
    }

    /// Requests its API takes per ten seconds, by default (HubSpot's private apps on Free
    /// and Starter accounts: 100 per rolling ten seconds; Pipedrive with an API token on
    /// Essential: 20 per rolling two seconds).
    pub fn default_requests_per_10s(self) -> u32 {
        match self {
            Crm::Hubspot => 100,
            Crm::Pipedrive => 100,
            // No per-second limit: a daily one (`Sforce-Limit-Info`); this keeps a push from
            // spending it in a burst.
            Crm::Salesforce => 100,
        }
    }

    /// Leads a push takes at once: one batch call's worth (HubSpot 100, Salesforce 200;
    /// Pipedrive, with no batch update, 100 single updates).
    pub fn push_batch(self) -> u32 {
        match self {
            Crm::Hubspot | Crm::Pipedrive => 100,
            Crm::Salesforce => 200,
        }
    }

    /// Whether its changes are polled (on the hourly sweep) rather than sent as webhooks.
    pub fn polled(self) -> bool {
        self == Crm::Salesforce
    }

    /// The stages that mean a lead was won or lost, by default: HubSpot's lifecycle stage
    /// `customer` and its deal stages `closedwon` / `closedlost`, and lead statuses
    /// `UNQUALIFIED` and `BAD_TIMING`; Pipedrive's deal status `won` and `lost` (a person
    /// with a won deal is won; with lost deals and none open, lost).
    pub fn default_stages(self) -> StageMap {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        match self {
            Crm::Hubspot => StageMap {
                won: set(&["customer", "closedwon"]),
                lost: set(&["closedlost", "unqualified", "bad_timing"]),
            },
            Crm::Pipedrive => StageMap {
                won: set(&["won"]),
                lost: set(&["lost"]),
            },
            Crm::Salesforce => StageMap {
                won: set(&["Closed - Converted", "Closed Won"]),
                lost: set(&["Closed - Not Converted", "Closed Lost"]),
            },
        }
    }
}

impl std::fmt::Display for Crm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CRM stage values mean won and lost (compared without case); any other stage is open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageMap {
    pub won: Vec<String>,
    pub lost: Vec<String>,
}

impl StageMap {
    const MAX: usize = 50;

    /// `Some(true)` for a won stage, `Some(false)` for a lost one, `None` for an open one.
    pub fn verdict(&self, stage: &str) -> Option<bool> {
        let has = |list: &[String]| list.iter().any(|s| s.eq_ignore_ascii_case(stage.trim()));
        if has(&self.won) {
            Some(true)
        } else if has(&self.lost) {
            Some(false)
        } else {
            None
        }
    }

    fn validate(&self) -> Result<()> {
        for (name, list) in [("won", &self.won), ("lost", &self.lost)] {
            if list.len() > Self::MAX
                || list.iter().any(|s| {
                    s.trim().is_empty() || s.len() > 100 || s.chars().any(char::is_control)
                })
            {
                return Err(Error::validation(format!(
                    "stages.{name}: at most {} stage names of 1 to 100 characters",
                    Self::MAX
                )));
            }
        }
        if let Some(both) = self
            .lost
            .iter()
            .find(|l| self.won.iter().any(|w| w.eq_ignore_ascii_case(l)))
        {
            return Err(Error::validation(format!(
                "stages: `{both}` is both won and lost"
            )));
        }
        Ok(())
    }
}

/// Whether a connection is working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Its last push went through (or none has been tried).
    Connected,
    /// Its last push failed; `last_error` says why. Pushes go on being tried.
    Failing,
}

/// What a connection has done since it was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SyncCounts {
    /// Leads whose score was written to a CRM record.
    pub pushed: u64,
    /// CRM records created for leads the CRM did not have (`create_missing`).
    pub created: u64,
    /// Pushes skipped: no record has the lead's phone number or e-mail address.
    pub unmatched: u64,
    /// Pushes the CRM refused.
    pub failed: u64,
    /// Outcomes and fields the CRM sent back.
    pub received: u64,
    /// CRM records read by the first sync's import (leads made or matched from them).
    pub imported: u64,
    /// Of them, with an outcome (a won or lost stage).
    pub imported_outcomes: u64,
}

/// A tenant's connection to a CRM. Its credentials are in the secret store, never here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Connection {
    pub tenant_id: TenantId,
    pub crm: Crm,
    /// The API's address (the vendor's unless set: a sandbox, an EU data centre, a test).
    pub base_url: String,
    /// Create a CRM record for a lead the CRM does not have; else the lead is `unmatched`.
    pub create_missing: bool,
    /// Requests per rolling ten seconds the CRM takes from this account; the push keeps to it.
    pub requests_per_10s: u32,
    pub stages: StageMap,
    pub state: ConnectionState,
    /// What connecting set up (properties created, or found in place).
    #[serde(default)]
    pub setup: Vec<String>,
    /// The CRM's keys for the fields a push writes, where the CRM assigns them (Pipedrive's
    /// 40-character field codes), by our name (`score`, `tier`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub field_keys: BTreeMap<String, String>,
    /// The webhooks connecting subscribed in the CRM (Pipedrive), removed on disconnect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<String>,
    /// The CRM objects a push writes to (Salesforce: `Lead` and `Contact`, those with every
    /// leadscore field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// The account's daily API requests as the CRM last reported them (Salesforce).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_usage: Option<ApiUsage>,
    /// Changes up to this time were polled (Salesforce): the next poll asks for later ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polled_until: Option<DateTime<Utc>>,
    /// Whether the CRM's webhooks are taken: HubSpot's when a client secret was given to
    /// check their signatures; Pipedrive's when connecting subscribed them.
    pub accepts_webhooks: bool,
    /// How leadscore signs in (unset for connections made before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GrantKind>,
    #[serde(default)]
    pub counts: SyncCounts,
    pub connected_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_received_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// A CRM account's use of its daily API requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiUsage {
    pub used: u64,
    pub limit: u64,
    pub at: DateTime<Utc>,
}

/// What a client sends to connect a CRM (`PUT /integrations/{crm}`). Its `Debug` leaves the
/// token and the client secret out.
#[derive(Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"token": "pat-na1-00000000-0000-0000-0000-000000000000", "create_missing": false}))]
pub struct ConnectionDraft {
    /// HubSpot: a private app's access token (scopes `crm.objects.contacts.read`,
    /// `crm.objects.contacts.write`, `crm.schemas.contacts.write`). Pipedrive: the API token
    /// of an admin user (Personal preferences > API). Kept in the secret store; never shown
    /// again. Salesforce: a refresh token of the connected app (its OAuth web server flow,
    /// scopes `api` and `refresh_token`), with `client_id` and `client_secret`; `base_url` is
    /// the login host (`https://test.salesforce.com` for a sandbox, or the org's My Domain).
    /// Left out for Salesforce's JWT bearer flow (`username` and `private_key`). To connect
    /// through the CRM's consent screen instead, see `POST /integrations/{crm}/authorize`.
    #[serde(default)]
    pub token: String,
    /// Salesforce: the connected app's consumer key.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Salesforce's JWT bearer flow: the user leadscore acts as (pre-authorized for the
    /// connected app by an administrator).
    #[serde(default)]
    pub username: Option<String>,
    /// Salesforce's JWT bearer flow: the private key (PEM, RSA) whose certificate is uploaded
    /// to the connected app. Kept in the secret store; never shown again.
    #[serde(default)]
    pub private_key: Option<String>,
    /// HubSpot: the app's client secret, which signs the webhooks it sends
    /// (`X-HubSpot-Signature-v3`). Without it, inbound webhooks are refused. Salesforce: the
    /// connected app's consumer secret. Not for Pipedrive, whose webhooks leadscore subscribes
    /// with credentials of its own.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The API's address; the vendor's when unset.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Create records for leads the CRM does not have (default: no).
    #[serde(default)]
    pub create_missing: Option<bool>,
    /// 1..=1000: requests per ten seconds the account allows (HubSpot: 100, or 190 on
    /// Professional and Enterprise; Pipedrive: five times its two-second limit, 100 on
    /// Essential with an API token, up to 600 on Enterprise).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub requests_per_10s: Option<u32>,
    /// Stage values meaning won and lost; the CRM's defaults when unset.
    #[serde(default)]
    pub stages: Option<StageMap>,
}

impl std::fmt::Debug for ConnectionDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionDraft")
            .field("base_url", &self.base_url)
            .field("create_missing", &self.create_missing)
            .field("requests_per_10s", &self.requests_per_10s)
            .field("stages", &self.stages)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What a client sends to connect a CRM through the CRM's own consent screen (`POST
/// /integrations/{crm}/authorize`): the connection's settings, and the OAuth app when it is
/// not the deployment's. Its `Debug` leaves the client secret out.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"create_missing": true}))]
pub struct AuthorizeDraft {
    /// The OAuth app's client id (HubSpot public app, Pipedrive app, Salesforce connected
    /// app's consumer key); the deployment's app when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// That app's client secret, with `client_id`. Kept in the secret store; never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The API's address (HubSpot), or the login host (Salesforce: a sandbox's
    /// `https://test.salesforce.com`, or My Domain); Pipedrive's comes with the tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_missing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub requests_per_10s: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<StageMap>,
}

impl std::fmt::Debug for AuthorizeDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeDraft")
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .field("create_missing", &self.create_missing)
            .field("requests_per_10s", &self.requests_per_10s)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

impl AuthorizeDraft {
    /// The connection these settings make with `refresh_token` and the app (`client_id`,
    /// `client_secret`) that got it at `token_url`, its API at `base_url`.
    #[allow(clippy::too_many_arguments)]
    pub fn connection(
        &self,
        tenant: &TenantId,
        crm: Crm,
        previous: Option<&Connection>,
        allow_private: bool,
        now: DateTime<Utc>,
        refresh_token: &str,
        (client_id, client_secret): (&str, &str),
        token_url: &str,
        base_url: Option<&str>,
    ) -> Result<(Connection, CrmCredentials)> {
        let draft = ConnectionDraft {
            token: refresh_token.to_owned(),
            client_id: (crm == Crm::Salesforce).then(|| client_id.to_owned()),
            // HubSpot's app secret signs its webhooks; Pipedrive's webhooks carry credentials
            // of leadscore's own.
            client_secret: (crm != Crm::Pipedrive).then(|| client_secret.to_owned()),
            base_url: base_url
                .map(str::to_owned)
                .or_else(|| self.base_url.clone()),
            create_missing: self.create_missing,
            requests_per_10s: self.requests_per_10s,
            stages: self.stages.clone(),
            username: None,
            private_key: None,
        };
        let (mut connection, mut credentials) =
            draft.validate(tenant, crm, previous, allow_private, now)?;
        connection.auth = Some(GrantKind::RefreshToken);
        credentials.grant = Some(GrantKind::RefreshToken);
        credentials.token_url = Some(token_url.to_owned());
        credentials.client_id = Some(client_id.to_owned());
        credentials.client_secret = Some(client_secret.to_owned());
        Ok((connection, credentials))
    }
}

/// How a connection signs in to its CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// A token used as it is: HubSpot's private app token, Pipedrive's API token.
    Token,
    /// An OAuth 2.0 refresh token (the CRM's consent screen, or Salesforce's web server
    /// flow), traded for short-lived access tokens.
    RefreshToken,
    /// Salesforce's JWT bearer flow: assertions signed with the connected app's key.
    JwtBearer,
}

/// The credentials a connection keeps in the secret store.
#[derive(Clone, Serialize, Deserialize)]
pub struct CrmCredentials {
    /// The token, the refresh token, or (JWT bearer) the private key in PEM.
    pub token: String,
    /// The OAuth client's secret (for HubSpot, also what signs its webhooks).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The OAuth client's id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// How `token` is used; unset in credentials kept before it was: a token, and a refresh
    /// token for Salesforce.
    #[serde(default)]
    pub grant: Option<GrantKind>,
    /// Where a refresh token is traded (kept from the consent screen's flow).
    #[serde(default)]
    pub token_url: Option<String>,
    /// JWT bearer: the Salesforce user.
    #[serde(default)]
    pub username: Option<String>,
    /// The password the CRM's webhooks carry (Pipedrive's basic credentials).
    #[serde(default)]
    pub hook_password: Option<String>,
}

impl CrmCredentials {
    pub fn grant(&self, crm: Crm) -> GrantKind {
        self.grant.unwrap_or(match crm {
            Crm::Salesforce => GrantKind::RefreshToken,
            Crm::Hubspot | Crm::Pipedrive => GrantKind::Token,
        })
    }

    /// The secret the CRM's webhooks to this connection are checked against: HubSpot's app
    /// secret, Pipedrive's basic-auth password (kept as the client secret by connections made
    /// before OAuth apps were).
    pub fn webhook_secret(&self, crm: Crm) -> Option<&str> {
        match crm {
            Crm::Pipedrive => self.hook_password.as_deref().or(match self.grant(crm) {
                GrantKind::Token => self.client_secret.as_deref(),
                _ => None,
            }),
            Crm::Hubspot | Crm::Salesforce => self.client_secret.as_deref(),
        }
    }
}

impl std::fmt::Debug for CrmCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CrmCredentials(..)")
    }
}

impl ConnectionDraft {
    /// The connection it makes (replacing `previous`'s settings, keeping its counts), and the
    /// credentials to keep. `allow_private`: whether the API may be on a private address or
    /// plain http (local mode, tests).
    pub fn validate(
        &self,
        tenant: &TenantId,
        crm: Crm,
        previous: Option<&Connection>,
        allow_private: bool,
        now: DateTime<Utc>,
    ) -> Result<(Connection, CrmCredentials)> {
        let (grant, token, username) = match (&self.private_key, &self.username) {
            (None, None) => {
                let token = self.token.trim();
                if token.is_empty()
                    || token.len() > 2048
                    || !token.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(Error::validation(
                        "token: 1 to 2,048 printable characters without spaces",
                    ));
                }
                let grant = match crm {
                    Crm::Salesforce => GrantKind::RefreshToken,
                    Crm::Hubspot | Crm::Pipedrive => GrantKind::Token,
                };
                (grant, token.to_owned(), None)
            }
            _ if crm != Crm::Salesforce => {
                return Err(Error::validation(format!(
                    "username, private_key: only Salesforce's JWT bearer flow takes them, not {}'s",
                    crm.name()
                )));
            }
            (Some(key), Some(user)) => {
                let (key, user) = (key.trim(), user.trim());
                if !self.token.trim().is_empty() {
                    return Err(Error::validation(
                        "token: leave it out with a private_key (the JWT bearer flow needs no \
                         refresh token)",
                    ));
                }
                if key.is_empty() || key.len() > 3300 {
                    return Err(Error::validation(
                        "private_key: an RSA private key in PEM, at most 3,300 characters (a \
                         2,048- or 3,072-bit key)",
                    ));
                }
                if user.is_empty() || user.len() > 80 || !user.contains('@') {
                    return Err(Error::validation(
                        "username: the Salesforce user leadscore acts as (user@example.com, at \
                         most 80 characters)",
                    ));
                }
                (GrantKind::JwtBearer, key.to_owned(), Some(user.to_owned()))
            }
            (None, Some(_)) => {
                return Err(Error::validation(
                    "private_key: Salesforce's JWT bearer flow needs the connected app's \
                     private key beside the username",
                ));
            }
            (Some(_), None) => {
                return Err(Error::validation(
                    "username: Salesforce's JWT bearer flow needs the user leadscore acts as",
                ));
            }
        };
        let client_secret = match self.client_secret.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(_) if crm == Crm::Pipedrive => {
                return Err(Error::validation(
                    "client_secret: Pipedrive's webhooks are subscribed by leadscore with \
                     credentials of its own; leave it out",
                ));
            }
            Some(s) if s.len() <= 512 && s.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(s.to_owned())
            }
            Some(_) => {
                return Err(Error::validation(
                    "client_secret: at most 512 printable characters without spaces",
                ));
            }
        };
        let client_id = match (crm, self.client_id.as_deref().map(str::trim)) {
            (Crm::Salesforce, Some(id))
                if !id.is_empty()
                    && id.len() <= 256
                    && id.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Some(id.to_owned())
            }
            (Crm::Salesforce, _) => {
                return Err(Error::validation(
                    "client_id: Salesforce needs the connected app's consumer key (1 to 256 \
                     printable characters)",
                ));
            }
            (_, None | Some("")) => None,
            (_, Some(_)) => {
                return Err(Error::validation(format!(
                    "client_id: only Salesforce takes one, not {}",
                    crm.name()
                )));
            }
        };
        let base_url = match self.base_url.as_deref() {
            None => crm.default_base_url().to_owned(),
            Some(url) => super::check_url(url, allow_private)
                .map_err(|e| Error::validation(e.to_string().replacen("url:", "base_url:", 1)))?
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        };
        let requests_per_10s = self
            .requests_per_10s
            .unwrap_or_else(|| crm.default_requests_per_10s());
        if !(1..=1000).contains(&requests_per_10s) {
            return Err(Error::validation(format!(
                "requests_per_10s: {requests_per_10s} is not from 1 to 1000"
            )));
        }
        let stages = self.stages.clone().unwrap_or_else(|| crm.default_stages());
        stages.validate()?;
        let connection = Connection {
            tenant_id: tenant.clone(),
            crm,
            base_url,
            create_missing: self.create_missing.unwrap_or(false),
            requests_per_10s,
            stages,
            state: ConnectionState::Connected,
            setup: Vec::new(),
            field_keys: BTreeMap::new(),
            hooks: previous.map(|p| p.hooks.clone()).unwrap_or_default(),
            objects: Vec::new(),
            api_usage: previous.and_then(|p| p.api_usage),
            polled_until: previous.and_then(|p| p.polled_until),
            accepts_webhooks: client_secret.is_some() && crm == Crm::Hubspot,
            auth: Some(grant),
            counts: previous.map(|p| p.counts.clone()).unwrap_or_default(),
            connected_at: previous.map_or(now, |p| p.connected_at),
            last_push_at: previous.and_then(|p| p.last_push_at),
            last_received_at: previous.and_then(|p| p.last_received_at),
            last_error: None,
            last_error_at: None,
            updated_at: now,
            version: previous.map_or(0, |p| p.version),
        };
        let credentials = CrmCredentials {
            token,
            client_secret,
            client_id,
            grant: Some(grant),
            token_url: None,
            username,
            hook_password: None,
        };
        Ok((connection, credentials))
    }
}

impl Connection {
    /// Note a failure (`error` says what the CRM answered, never a credential).
    pub fn failed(&mut self, error: &str, now: DateTime<Utc>) {
        self.state = ConnectionState::Failing;
        self.last_error = Some(error.chars().take(500).collect());
        self.last_error_at = Some(now);
        self.updated_at = now;
    }
}

/// What a CRM's webhook said changed: a record or a deal, read back from the CRM when worked
/// through (`Job::CrmEvents`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub object: ChangeObject,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeObject {
    /// A contact (HubSpot), person (Pipedrive), lead or contact (Salesforce).
    Record,
    Deal,
}

/// Where a lead stands with one CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Its current score is on its CRM record.
    Synced,
    /// Its CRM record is known (the first sync's import found it by phone number); its score
    /// is on its way.
    Matched,
    /// No CRM record has its phone number or e-mail address (and the tenant does not create
    /// them).
    Unmatched,
    /// The CRM refused the last push; `last_error` says why. The next score change tries again.
    Failed,
}

/// A lead's sync state with one CRM (`crm_sync` in the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CrmSync {
    pub state: SyncState,
    /// The CRM record it is written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<DateTime<Utc>>,
    /// Tells the pushed values apart: a push of the same values is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What a push writes on a CRM record: the lead's score, tier, probability, its three largest
/// reasons as text, when it was scored and where to see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreFields {
    pub score: u8,
    pub tier: &'static str,
    pub probability: Option<f64>,
    pub reasons: String,
    pub scored_at: DateTime<Utc>,
    pub link: String,
}

impl ScoreFields {
    /// Longest reasons text written (HubSpot's multi-line text holds 65,536 characters).
    pub const MAX_REASONS: usize = 1000;

    /// The fields for `lead`, or `None` when it has no score yet. `base`: where the API is seen
    /// (`PUBLIC_URL`), for the link; the lead's path alone when unknown.
    pub fn of(lead: &Lead, base: Option<&str>) -> Option<Self> {
        let (score, tier) = (lead.lead_score?, lead.tier?);
        let path = format!("/leads/{}", lead.lead_id);
        Some(Self {
            score,
            tier: tier.as_str(),
            probability: lead.probability.map(|p| (p * 1000.0).round() / 1000.0),
            reasons: reasons_text(&lead.factors),
            scored_at: lead.score_updated_at.unwrap_or(lead.updated_at),
            link: base.map_or(path.clone(), |b| {
                format!("{}{path}", b.trim_end_matches('/'))
            }),
        })
    }

    /// Tells one set of values from another, whenever they were scored: a push that would
    /// write what the record already has is skipped.
    pub fn digest(&self) -> String {
        let text = format!(
            "{}|{}|{:?}|{}|{}",
            self.score, self.tier, self.probability, self.reasons, self.link
        );
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..12])
    }
}

/// The three largest reasons, one a line: `+12 Asked about pricing`.
pub fn reasons_text(factors: &[Factor]) -> String {
    let mut largest: Vec<&Factor> = factors.iter().filter(|f| f.points != 0.0).collect();
    largest.sort_by(|a, b| b.points.abs().total_cmp(&a.points.abs()));
    let text = largest
        .iter()
        .take(3)
        .map(|f| format!("{:+} {}", f.points.round() as i64, f.description))
        .collect::<Vec<_>>()
        .join("\n");
    text.chars().take(ScoreFields::MAX_REASONS).collect()
}

/// What a CRM said about one of its records (a webhook, a poll): its stage, and fields the
/// rules can read as `crm.*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrmUpdate {
    /// A lifecycle stage, lead status or deal stage, as the CRM names it.
    pub stage: Option<String>,
    /// A deal's value, with a won or lost stage.
    pub value: Option<f64>,
    /// Other fields (`owner`, `source`, ...), as `crm.<name>`.
    pub fields: BTreeMap<String, String>,
    /// When the CRM last changed the record, for an outcome read from history (the import):
    /// the outcome is dated then, not at the import, so the time-ordered check orders it.
    pub decided_at: Option<DateTime<Utc>>,
}

impl CrmUpdate {
    /// Apply to `lead`: fields into `lead.crm`, the stage as its CRM status, and a won or lost
    /// stage as its outcome (a training label). Returns whether anything changed.
    pub fn apply(&self, lead: &mut Lead, stages: &StageMap, at: DateTime<Utc>) -> bool {
        let before = (
            lead.crm.clone(),
            lead.crm_lead_status.clone(),
            lead.outcome.clone(),
        );
        for (k, v) in &self.fields {
            let v: String = v.chars().take(200).collect();
            if v.is_empty() {
                lead.crm.remove(k);
            } else {
                lead.crm.insert(k.clone(), v);
            }
        }
        if let Some(stage) = &self.stage {
            lead.crm_lead_status = Some(stage.chars().take(100).collect());
            match stages.verdict(stage) {
                Some(converted) => {
                    let same = lead.outcome.as_ref().is_some_and(|o| {
                        o.converted == converted && (self.value.is_none() || o.value == self.value)
                    });
                    if !same {
                        lead.outcome = Some(Outcome {
                            converted,
                            value: self.value.filter(|v| v.is_finite() && *v >= 0.0),
                            // Never later than now.
                            at: self.decided_at.map_or(at, |d| d.min(at)),
                        });
                    }
                }
                // Back to an open stage: the lead is not decided any more.
                None => lead.outcome = None,
            }
        }
        before
            != (
                lead.crm.clone(),
                lead.crm_lead_status.clone(),
                lead.outcome.clone(),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn a_draft_is_checked_field_by_field() {
        let now = Utc::now();
        let draft = |f: fn(&mut ConnectionDraft)| {
            let mut d = ConnectionDraft {
                token: "pat-na1-abc".into(),
                ..Default::default()
            };
            f(&mut d);
            d.validate(&tenant(), Crm::Hubspot, None, false, now)
        };
        let (conn, creds) = draft(|_| {}).unwrap();
        let shown = format!(
            "{:?}",
            ConnectionDraft {
                token: "pat-na1-abc".into(),
                client_secret: Some("shh".into()),
                ..Default::default()
            }
        );
        assert!(!shown.contains("abc") && !shown.contains("shh"), "{shown}");
        assert_eq!(conn.base_url, "https://api.hubapi.com");
        assert_eq!(conn.requests_per_10s, 100);
        assert!(!conn.accepts_webhooks && !conn.create_missing);
        assert_eq!(creds.token, "pat-na1-abc");
        assert!(!format!("{creds:?}").contains("abc"));

        let err = |f| draft(f).unwrap_err().to_string();
        assert!(err(|d| d.token = " ".into()).contains("token"));
        assert!(err(|d| d.client_id = Some("3MVG9".into())).contains("only Salesforce"));
        // Salesforce needs the connected app's consumer key.
        let salesforce = |id: Option<&str>| {
            ConnectionDraft {
                token: "5Aep861".into(),
                client_id: id.map(str::to_owned),
                ..Default::default()
            }
            .validate(&tenant(), Crm::Salesforce, None, false, now)
        };
        assert!(
            salesforce(None)
                .unwrap_err()
                .to_string()
                .contains("client_id")
        );
        let (conn, creds) = salesforce(Some("3MVG9")).unwrap();
        assert_eq!(conn.base_url, "https://login.salesforce.com");
        assert_eq!(creds.client_id.as_deref(), Some("3MVG9"));
        assert!(!conn.accepts_webhooks);
        assert!(err(|d| d.base_url = Some("http://10.0.0.1".into())).contains("base_url"));
        assert!(err(|d| d.requests_per_10s = Some(0)).contains("requests_per_10s"));
        assert!(
            err(|d| d.stages = Some(StageMap {
                won: vec!["customer".into()],
                lost: vec!["Customer".into()]
            }))
            .contains("both won and lost")
        );
    }

    #[test]
    fn stages_decide_outcomes_and_an_open_stage_undecides() {
        let stages = Crm::Hubspot.default_stages();
        let now = Utc::now();
        let mut lead = Lead::new(tenant(), PhoneNumber::parse("+14155550134").unwrap(), now);
        let won = CrmUpdate {
            stage: Some("closedwon".into()),
            value: Some(1200.0),
            fields: BTreeMap::from([("owner".into(), "Sam".into())]),
            ..Default::default()
        };
        assert!(won.apply(&mut lead, &stages, now));
        let outcome = lead.outcome.clone().unwrap();
        assert!(outcome.converted);
        assert_eq!(outcome.value, Some(1200.0));
        assert_eq!(lead.crm["owner"], "Sam");
        // The same news again changes nothing (a redelivered webhook).
        assert!(!won.apply(&mut lead, &stages, now));

        let reopened = CrmUpdate {
            stage: Some("opportunity".into()),
            ..Default::default()
        };
        assert!(reopened.apply(&mut lead, &stages, now));
        assert_eq!(lead.outcome, None);
        assert_eq!(lead.crm_lead_status.as_deref(), Some("opportunity"));
    }

    #[test]
    fn reasons_are_the_three_largest_and_the_digest_ignores_when() {
        let now = Utc::now();
        let mut lead = Lead::new(tenant(), PhoneNumber::parse("+14155550134").unwrap(), now);
        assert_eq!(ScoreFields::of(&lead, None), None);
        lead.lead_score = Some(81);
        lead.tier = Some(super::super::Tier::Hot);
        lead.factors = [("a", 3.0), ("b", -20.0), ("c", 12.4), ("d", 7.0)]
            .into_iter()
            .map(|(d, p)| Factor {
                kind: Default::default(),
                rule_id: crate::domain::RuleId::generate(),
                description: d.into(),
                points: p,
                evidence: vec![],
                note: None,
            })
            .collect();
        let fields = ScoreFields::of(&lead, Some("https://api.example.com/")).unwrap();
        assert_eq!(fields.reasons, "-20 b\n+12 c\n+7 d");
        assert_eq!(
            fields.link,
            format!("https://api.example.com/leads/{}", lead.lead_id)
        );
        lead.score_updated_at = Some(now + chrono::TimeDelta::hours(1));
        let later = ScoreFields::of(&lead, Some("https://api.example.com/")).unwrap();
        assert_eq!(fields.digest(), later.digest());
        lead.lead_score = Some(82);
        let changed = ScoreFields::of(&lead, Some("https://api.example.com/")).unwrap();
        assert_ne!(fields.digest(), changed.digest());
    }
}
