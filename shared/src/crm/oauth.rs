//! How the adapters sign in to a CRM (RFC 6749): a token sent as it is (HubSpot's private app
//! token, Pipedrive's API token), or an OAuth 2.0 session, made from a refresh token (the
//! authorization-code grant's, kept in the secret store) or from a signed JWT assertion
//! (Salesforce's JWT bearer flow, RFC 7523) and made again before it expires.
//!
//! A session lives in the process, not in the secret store: it is made on first use, kept
//! (by a digest of the grant, never the grant itself) for the next job in the same process,
//! made again a minute before the expiry the CRM gave, and once more if the CRM answers 401
//! (a session revoked or timed out early). A refresh token the CRM replaces in its answer is
//! used from then on and handed at once to a [`TokenKeeper`] (the secret store): a CRM that
//! rotates them takes the old one no more.
//!
//! Also here: the consent screen's address ([`authorize_url`]) and the trade of its code for
//! tokens ([`exchange_code`]), each as the CRM's OAuth reference has it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{CrmError, CrmResult, Throttle, send};
use crate::domain::Crm;
use crate::ports::{VendorHttp, VendorRequest, VendorResponse};

/// How long before the expiry the CRM gave a session is made again.
const EARLY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// How long a JWT assertion is valid (Salesforce takes at most three minutes).
const ASSERTION_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::seconds(180);
/// Sessions kept per process; past it, the cache starts again.
const SESSIONS_KEPT: usize = 1000;
/// How long to wait when a token endpoint answers 429 without `Retry-After`.
const WAIT: Duration = Duration::from_secs(10);

/// The scopes leadscore asks for on each CRM's consent screen.
pub const HUBSPOT_SCOPES: &str = "oauth crm.objects.contacts.read crm.objects.contacts.write \
                                  crm.schemas.contacts.write crm.objects.deals.read";
pub const SALESFORCE_SCOPES: &str = "api refresh_token";

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form (HubSpot, Salesforce).
    Form,
    /// HTTP basic with them (Pipedrive).
    Basic,
}

/// The OAuth client: an app's id and secret.
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub auth: ClientAuth,
}

impl Client {
    /// How `crm`'s token endpoint takes a client.
    pub fn for_crm(crm: Crm, id: &str, secret: Option<&str>) -> Self {
        Self {
            id: id.to_owned(),
            secret: secret.map(str::to_owned),
            auth: match crm {
                Crm::Pipedrive => ClientAuth::Basic,
                Crm::Hubspot | Crm::Salesforce => ClientAuth::Form,
            },
        }
    }
}

/// What a connection signs in with.
pub enum Grant {
    /// A token sent as it is, in `header` (`authorization` as `Bearer ...`, or Pipedrive's
    /// `x-api-token`).
    Fixed { header: &'static str, value: String },
    /// A refresh token, traded at `token_url` for a session.
    Refresh {
        token_url: String,
        refresh_token: String,
        client: Client,
    },
    /// A JWT signed with the connected app's private key for `username` (Salesforce), traded
    /// at `token_url` for a session. `audience` is the login host.
    JwtBearer {
        token_url: String,
        audience: String,
        client_id: String,
        username: String,
        /// The key, or why the one kept is not one.
        key: Result<Box<jsonwebtoken::EncodingKey>, String>,
    },
}

/// A CRM's answer at its token endpoint, as far as leadscore reads it.
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    /// The authorization-code grant's (and a refresh's, where the CRM replaces it).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds (HubSpot: 1,800; Pipedrive: 3,599). Salesforce gives none: its sessions last
    /// until the org's timeout, told by a 401.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Salesforce: the org's API host.
    #[serde(default)]
    pub instance_url: Option<String>,
    /// Pipedrive: the company's API host.
    #[serde(default)]
    pub api_domain: Option<String>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("expires_in", &self.expires_in)
            .field("instance_url", &self.instance_url)
            .field("api_domain", &self.api_domain)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Session {
    access_token: String,
    /// Where the API is, when the token endpoint says (Salesforce's instance, Pipedrive's
    /// company domain).
    base: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

impl Session {
    fn from_answer(token_url: &str, answer: &TokenAnswer, now: DateTime<Utc>) -> CrmResult<Self> {
        let base = match answer.instance_url.as_ref().or(answer.api_domain.as_ref()) {
            Some(host) => Some(api_host(token_url, host)?),
            None => None,
        };
        Ok(Session {
            access_token: answer.access_token.clone(),
            base,
            expires_at: answer
                .expires_in
                .map(|s| now + chrono::TimeDelta::seconds(s.clamp(0, 86_400 * 365))),
        })
    }

    fn fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| now + EARLY < at)
    }
}

static SESSIONS: LazyLock<Mutex<HashMap<String, Session>>> = LazyLock::new(Default::default);
/// Who may sign in, per grant: one job at a time.
static SIGN_INS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// How a CRM's answers read.
#[derive(Clone, Copy)]
pub struct Answers {
    /// The wait on a 429 without `Retry-After`.
    pub wait: Duration,
    /// What a refusal says.
    pub describe: fn(&VendorResponse) -> String,
    /// Whether a refusal that is not a 401 means the session ended (Salesforce's
    /// `INVALID_SESSION_ID`).
    pub expired: fn(&str) -> bool,
}

/// Keeps a refresh token the CRM gave in place of the connection's.
#[async_trait::async_trait]
pub trait TokenKeeper: Send + Sync {
    async fn keep(&self, refresh_token: &str) -> crate::error::Result<()>;
    /// The refresh token kept now (another process may have replaced it).
    async fn current(&self) -> crate::error::Result<Option<String>>;
}

/// Signs a connection's requests in: see the module's documentation.
pub struct Access {
    grant: Grant,
    /// The API's address, unless the session names one.
    base: String,
    http: Arc<dyn VendorHttp>,
    /// This grant's key among the process's sessions: a digest (of the rotated refresh token
    /// once the CRM replaced it).
    key: Mutex<String>,
    /// The key it began with.
    origin: String,
    session: tokio::sync::Mutex<Option<Session>>,
    /// A refresh token the CRM gave in place of the grant's.
    rotated: Mutex<Option<String>>,
    keeper: Option<Arc<dyn TokenKeeper>>,
}

impl Access {
    pub fn new(
        base: &str,
        grant: Grant,
        http: Arc<dyn VendorHttp>,
        keeper: Option<Arc<dyn TokenKeeper>>,
    ) -> Self {
        let key = session_key(&grant, None);
        Self {
            grant,
            base: base.trim_end_matches('/').to_owned(),
            http,
            key: Mutex::new(key.clone()),
            origin: key,
            session: tokio::sync::Mutex::new(None),
            rotated: Mutex::new(None),
            keeper,
        }
    }

    fn key(&self) -> String {
        self.key.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn rotated(&self) -> Option<String> {
        self.rotated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Send `method path` (under the API's address) signed in, counted by `throttle`; a
    /// session is made first when there is none or it is about to expire, and made once more
    /// when the CRM answers 401 (or `expired`, for an answer that says so another way).
    pub async fn send(
        &self,
        throttle: &Throttle,
        method: &'static str,
        path: &str,
        body: Option<String>,
        answers: Answers,
    ) -> CrmResult<VendorResponse> {
        let Answers {
            wait,
            describe,
            expired,
        } = answers;
        if let Grant::Fixed { header, value } = &self.grant {
            let request = VendorRequest {
                method,
                url: format!("{}{path}", self.base),
                headers: vec![(*header, value.clone())],
                body,
            };
            return send(self.http.as_ref(), throttle, request, wait, describe).await;
        }
        let mut session = self.session.lock().await;
        // The access token the CRM turned away, if it did.
        let mut refused: Option<String> = None;
        for attempt in 0..2 {
            let now = Utc::now();
            if !session.as_ref().is_some_and(|s| s.fresh(now)) {
                *session = Some(self.session_for(throttle, now, refused.as_deref()).await?);
            }
            let s = session.as_ref().expect("a session was just made");
            let request = VendorRequest {
                method,
                url: format!("{}{path}", s.base.as_deref().unwrap_or(&self.base)),
                headers: vec![("authorization", format!("Bearer {}", s.access_token))],
                body: body.clone(),
            };
            match send(self.http.as_ref(), throttle, request, wait, describe).await {
                Err(CrmError::Refused(why))
                    if attempt == 0 && (why.contains(": 401 ") || expired(&why)) =>
                {
                    refused = session.take().map(|s| s.access_token);
                }
                other => return other,
            }
        }
        Err(CrmError::Refused(
            "the CRM refused a session just made for this connection: connect again".to_owned(),
        ))
    }

    /// A fresh session: one another job in this process made meanwhile (unless it is the one
    /// the CRM just turned away), else a new one. One job at a time signs in per grant, so
    /// jobs that find their session gone together make one new session, not one each (and a
    /// CRM that rotates refresh tokens is not sent the same one twice).
    async fn session_for(
        &self,
        throttle: &Throttle,
        now: DateTime<Utc>,
        refused: Option<&str>,
    ) -> CrmResult<Session> {
        let lock = {
            let mut locks = SIGN_INS.lock().unwrap_or_else(|p| p.into_inner());
            if locks.len() >= SESSIONS_KEPT {
                locks.clear();
            }
            locks.entry(self.origin.clone()).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        let kept = SESSIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&self.key())
            .cloned();
        if let Some(kept) =
            kept.filter(|s| s.fresh(now) && Some(s.access_token.as_str()) != refused)
        {
            return Ok(kept);
        }
        let made = match self.sign_in(throttle, now).await {
            // Another process may have had this refresh token replaced (a CRM that rotates
            // them) and kept the new one: signed in with that, this job goes on.
            Err(CrmError::Refused(why)) => match self.kept_elsewhere().await {
                Some(token) => {
                    self.adopt(&token);
                    self.sign_in(throttle, now).await?
                }
                None => return Err(CrmError::Refused(why)),
            },
            other => other?,
        };
        let mut kept = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= SESSIONS_KEPT {
            kept.clear();
        }
        // Under the key this grant began with, and under its rotated refresh token's: jobs
        // that read either find it.
        kept.insert(self.origin.clone(), made.clone());
        kept.insert(self.key(), made.clone());
        Ok(made)
    }

    /// The refresh token in use: the grant's, or the one that replaced it.
    fn current_refresh(&self) -> Option<String> {
        match &self.grant {
            Grant::Refresh { refresh_token, .. } => {
                Some(self.rotated().unwrap_or_else(|| refresh_token.clone()))
            }
            _ => None,
        }
    }

    /// A refresh token the keeper has that is not the one in use.
    async fn kept_elsewhere(&self) -> Option<String> {
        let current = self.current_refresh()?;
        let keeper = self.keeper.as_ref()?;
        match keeper.current().await {
            Ok(Some(kept)) if kept != current => Some(kept),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the kept refresh token could not be read");
                None
            }
        }
    }

    /// Use `refresh_token` from now on.
    fn adopt(&self, refresh_token: &str) {
        *self.rotated.lock().unwrap_or_else(|p| p.into_inner()) = Some(refresh_token.to_owned());
        *self.key.lock().unwrap_or_else(|p| p.into_inner()) =
            session_key(&self.grant, Some(refresh_token));
    }

    /// Make a session from the grant.
    async fn sign_in(&self, throttle: &Throttle, now: DateTime<Utc>) -> CrmResult<Session> {
        let (token_url, form, client) = match &self.grant {
            Grant::Fixed { .. } => unreachable!("a fixed token needs no session"),
            Grant::Refresh {
                token_url, client, ..
            } => {
                let current = self.current_refresh().unwrap_or_default();
                (
                    token_url,
                    vec![
                        ("grant_type", "refresh_token".to_owned()),
                        ("refresh_token", current),
                    ],
                    Some(client),
                )
            }
            Grant::JwtBearer {
                token_url,
                audience,
                client_id,
                username,
                key,
            } => {
                let key = key.as_ref().map_err(|why| {
                    CrmError::Refused(format!("the connection's private key: {why}"))
                })?;
                let assertion = assertion(client_id, username, audience, key, now)?;
                (
                    token_url,
                    vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                        ),
                        ("assertion", assertion),
                    ],
                    None,
                )
            }
        };
        throttle.admit().await?;
        let answer = token_request(self.http.as_ref(), token_url, &form, client).await?;
        if let (Some(current), Some(given)) = (self.current_refresh(), &answer.refresh_token)
            && *given != current
        {
            // The next job reads the new token from the secret store: it finds this session.
            self.adopt(given);
            if let Some(keeper) = &self.keeper
                && let Err(e) = keeper.keep(given).await
            {
                // This process goes on with the new token; the next may be refused, and the
                // connection then says so.
                tracing::error!(error = %e, "a refresh token the CRM replaced could not be kept");
            }
        }
        Session::from_answer(token_url, &answer, now)
    }
}

/// Keep the session a code's trade made (its access token), so that the connection's first
/// calls use it instead of refreshing at once.
pub fn keep_session(
    token_url: &str,
    client: &Client,
    answer: &TokenAnswer,
    now: DateTime<Utc>,
) -> CrmResult<()> {
    let Some(refresh_token) = &answer.refresh_token else {
        return Ok(());
    };
    let grant = Grant::Refresh {
        token_url: token_url.to_owned(),
        refresh_token: refresh_token.clone(),
        client: client.clone(),
    };
    let session = Session::from_answer(token_url, answer, now)?;
    let mut kept = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() >= SESSIONS_KEPT {
        kept.clear();
    }
    kept.insert(session_key(&grant, None), session);
    Ok(())
}

/// A grant's key among the process's sessions: a digest of what identifies it (with
/// `refresh_token` in place of the grant's own, once rotated), never the secret itself.
fn session_key(grant: &Grant, refresh_token: Option<&str>) -> String {
    use sha2::Digest;
    let identity = match grant {
        Grant::Fixed { value, .. } => format!("fixed\n{value}"),
        Grant::Refresh {
            token_url,
            refresh_token: own,
            client,
        } => format!(
            "refresh\n{token_url}\n{}\n{}",
            client.id,
            refresh_token.unwrap_or(own)
        ),
        Grant::JwtBearer {
            token_url,
            client_id,
            username,
            ..
        } => format!("jwt\n{token_url}\n{client_id}\n{username}"),
    };
    hex::encode(sha2::Sha256::digest(identity.as_bytes()))
}

/// The API host a token endpoint named: an https address (or plain http when the token
/// endpoint itself is, as a stand-in on this machine is), without a trailing slash.
pub fn api_host(token_url: &str, host: &str) -> CrmResult<String> {
    let secure = host.starts_with("https://")
        || (token_url.starts_with("http://") && host.starts_with("http://"));
    if !secure {
        return Err(CrmError::Refused(format!(
            "the token endpoint named an API host that is not https: {host}"
        )));
    }
    Ok(host.trim_end_matches('/').to_owned())
}

/// A JWT bearer assertion (RFC 7523) as Salesforce takes it: RS256, `iss` the consumer key,
/// `sub` the user, `aud` the login host, `exp` three minutes on.
fn assertion(
    client_id: &str,
    username: &str,
    audience: &str,
    key: &jsonwebtoken::EncodingKey,
    now: DateTime<Utc>,
) -> CrmResult<String> {
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": username,
        "aud": audience,
        "exp": (now + ASSERTION_LIFETIME).timestamp(),
    });
    crate::adapters::rs256::install();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        key,
    )
    .map_err(|e| CrmError::Refused(format!("the JWT assertion could not be signed: {e}")))
}

/// A private key in PEM (PKCS#1 or PKCS#8) for signing assertions; the error names what is
/// wrong without repeating the key.
pub fn signing_key(pem: &str) -> Result<jsonwebtoken::EncodingKey, String> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
        format!("not an RSA private key in PEM (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----): {e}")
    })?;
    // Refused now rather than at the first sign-in: a key ring cannot sign with.
    crate::adapters::rs256::key_pair(&key)
        .map_err(|e| format!("{e}: leadscore signs with RSA keys of 2048 to 4096 bits"))?;
    Ok(key)
}

/// Ask `token_url` for tokens with `form`, the client proving itself as `client` says.
async fn token_request(
    http: &dyn VendorHttp,
    token_url: &str,
    form: &[(&str, String)],
    client: Option<&Client>,
) -> CrmResult<TokenAnswer> {
    let mut fields: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    match client {
        Some(Client {
            id,
            secret,
            auth: ClientAuth::Form,
        }) => {
            fields.push(("client_id", id));
            if let Some(secret) = secret {
                fields.push(("client_secret", secret));
            }
        }
        Some(Client {
            id,
            secret,
            auth: ClientAuth::Basic,
        }) => {
            use base64::Engine;
            let pair = format!("{id}:{}", secret.as_deref().unwrap_or_default());
            headers.push((
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            ));
        }
        None => {}
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let request = VendorRequest {
        method: "POST",
        url: token_url.to_owned(),
        headers,
        body: Some(body),
    };
    let response = super::send_once(http, request, WAIT, error_message).await?;
    super::parse_answer("the token endpoint", &response)
}

/// What a token endpoint's refusal says: RFC 6749's `error` and `error_description`
/// (Salesforce, Pipedrive), HubSpot's `status` and `message`, else the start of the body.
pub fn error_message(response: &VendorResponse) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        #[serde(default, alias = "status")]
        error: String,
        #[serde(default, alias = "message")]
        error_description: String,
    }
    match serde_json::from_str::<OAuthError>(&response.body) {
        Ok(e) if !e.error.is_empty() => format!("{}: {}", e.error, e.error_description),
        _ => response.body.chars().take(200).collect(),
    }
}

/// Trade an authorization code for tokens (the consent screen's redirect brought it).
pub async fn exchange_code(
    http: &dyn VendorHttp,
    token_url: &str,
    client: &Client,
    code: &str,
    redirect_uri: &str,
) -> CrmResult<TokenAnswer> {
    token_request(
        http,
        token_url,
        &[
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ],
        Some(client),
    )
    .await
}

/// Where a CRM's OAuth endpoints are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The consent screen a person is sent to.
    pub authorize: String,
    /// Where codes and refresh tokens are traded.
    pub token: String,
}

/// `crm`'s OAuth endpoints: HubSpot's consent screen at `oauth_base` (`https://app.hubspot.com`)
/// and its token endpoint on the API (`api_base`); Pipedrive's both at `oauth_base`
/// (`https://oauth.pipedrive.com`); Salesforce's both on the login host (`api_base`).
pub fn endpoints(crm: Crm, oauth_base: &str, api_base: &str) -> Endpoints {
    let (oauth, api) = (
        oauth_base.trim_end_matches('/'),
        api_base.trim_end_matches('/'),
    );
    match crm {
        Crm::Hubspot => Endpoints {
            authorize: format!("{oauth}/oauth/authorize"),
            token: format!("{api}/oauth/v1/token"),
        },
        Crm::Pipedrive => Endpoints {
            authorize: format!("{oauth}/oauth/authorize"),
            token: format!("{oauth}/oauth/token"),
        },
        Crm::Salesforce => Endpoints {
            authorize: format!("{api}/services/oauth2/authorize"),
            token: format!("{api}/services/oauth2/token"),
        },
    }
}

/// The consent screen's address, with what each CRM's reference asks for.
pub fn authorize_url(
    crm: Crm,
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if crm == Crm::Salesforce {
        query.append_pair("response_type", "code");
    }
    query
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri);
    match crm {
        Crm::Hubspot => {
            query.append_pair("scope", HUBSPOT_SCOPES);
        }
        Crm::Salesforce => {
            query.append_pair("scope", SALESFORCE_SCOPES);
        }
        Crm::Pipedrive => {}
    }
    query.append_pair("state", state);
    format!("{endpoint}?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token endpoint that takes only `new` (another process traded `old` for it), and an
    /// API that takes the access token it gives; a unit-test fake of the CRM.
    struct Rotated {
        sent: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl VendorHttp for Rotated {
        async fn check_base(&self, _: &str) -> crate::error::Result<()> {
            Ok(())
        }
        async fn send(&self, request: &VendorRequest) -> Result<VendorResponse, String> {
            let body = request.body.clone().unwrap_or_default();
            self.sent
                .lock()
                .unwrap()
                .push(format!("{} {body}", request.url));
            let answer = |status: u16, body: &str| VendorResponse::new(status, body);
            Ok(if request.url.ends_with("/token") {
                if body.contains("refresh_token=new") {
                    answer(
                        200,
                        r#"{"access_token":"fresh","expires_in":1800,"refresh_token":"new"}"#,
                    )
                } else {
                    answer(
                        400,
                        r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}"#,
                    )
                }
            } else if request.headers.iter().any(|(_, v)| v == "Bearer fresh") {
                answer(200, "{}")
            } else {
                answer(401, "{}")
            })
        }
        async fn download(
            &self,
            request: &VendorRequest,
            _: usize,
            _: std::time::Duration,
        ) -> Result<crate::ports::Download, String> {
            Err(format!("{}: this CRM has no files", request.url))
        }
    }

    struct Kept(Mutex<String>);

    #[async_trait::async_trait]
    impl TokenKeeper for Kept {
        async fn keep(&self, token: &str) -> crate::error::Result<()> {
            *self.0.lock().unwrap() = token.to_owned();
            Ok(())
        }
        async fn current(&self) -> crate::error::Result<Option<String>> {
            Ok(Some(self.0.lock().unwrap().clone()))
        }
    }

    #[tokio::test]
    async fn a_refresh_token_another_process_replaced_is_read_back_and_used() {
        let http = Arc::new(Rotated {
            sent: Mutex::new(Vec::new()),
        });
        let access = Access::new(
            "https://api.example",
            Grant::Refresh {
                token_url: "https://api.example/oauth/v1/token".into(),
                refresh_token: "old".into(),
                client: Client::for_crm(Crm::Hubspot, "app", Some("secret")),
            },
            http.clone(),
            Some(Arc::new(Kept(Mutex::new("new".into())))),
        );
        let throttle = Throttle::new(
            Arc::new(crate::adapters::local::MemoryRateLimiter::default()),
            "t".into(),
            100,
            Duration::from_secs(10),
        );
        let answers = Answers {
            wait: WAIT,
            describe: error_message,
            expired: |_| false,
        };
        let answer = access
            .send(&throttle, "GET", "/crm/v3/objects/contacts", None, answers)
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        let sent = http.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 3, "{sent:#?}");
        assert!(sent[0].contains("refresh_token=old") && sent[1].contains("refresh_token=new"));
    }

    #[test]
    fn consent_screens_ask_what_each_reference_says() {
        let url = authorize_url(
            Crm::Hubspot,
            "https://app.hubspot.com/oauth/authorize",
            "abc",
            "https://leads.example.com/oauth/callback",
            "t.hubspot.00",
        );
        assert_eq!(
            url,
            "https://app.hubspot.com/oauth/authorize?client_id=abc&redirect_uri=https%3A%2F%2Fleads.example.com%2Foauth%2Fcallback&scope=oauth+crm.objects.contacts.read+crm.objects.contacts.write+crm.schemas.contacts.write+crm.objects.deals.read&state=t.hubspot.00"
        );
        let sf = authorize_url(
            Crm::Salesforce,
            "https://login.salesforce.com/services/oauth2/authorize",
            "k",
            "https://x/cb",
            "s",
        );
        assert!(sf.starts_with(
            "https://login.salesforce.com/services/oauth2/authorize?response_type=code&client_id=k&"
        ));
        assert!(sf.contains("scope=api+refresh_token"));
        let pd = authorize_url(
            Crm::Pipedrive,
            "https://oauth.pipedrive.com/oauth/authorize",
            "k",
            "https://x/cb",
            "s",
        );
        assert!(
            !pd.contains("scope="),
            "Pipedrive's scopes are the app's: {pd}"
        );
        assert_eq!(
            endpoints(
                Crm::Pipedrive,
                "https://oauth.pipedrive.com/",
                "https://api.pipedrive.com"
            ),
            Endpoints {
                authorize: "https://oauth.pipedrive.com/oauth/authorize".into(),
                token: "https://oauth.pipedrive.com/oauth/token".into()
            }
        );
        assert_eq!(
            endpoints(
                Crm::Hubspot,
                "https://app.hubspot.com",
                "https://api.hubapi.com"
            )
            .token,
            "https://api.hubapi.com/oauth/v1/token"
        );
    }

    #[test]
    fn a_session_is_made_again_a_minute_before_its_expiry() {
        let now = Utc::now();
        let answer = |expires_in: Option<i64>| TokenAnswer {
            access_token: "a".into(),
            refresh_token: None,
            expires_in,
            instance_url: None,
            api_domain: Some("https://acme.pipedrive.com".into()),
        };
        let hour = Session::from_answer(
            "https://oauth.pipedrive.com/oauth/token",
            &answer(Some(3599)),
            now,
        )
        .unwrap();
        assert!(hour.fresh(now + chrono::TimeDelta::seconds(3500)));
        assert!(
            !hour.fresh(now + chrono::TimeDelta::seconds(3540)),
            "within a minute of expiry"
        );
        assert_eq!(hour.base.as_deref(), Some("https://acme.pipedrive.com"));
        // Salesforce gives no expiry: a session is used until the CRM turns it away.
        let open = Session::from_answer(
            "https://oauth.pipedrive.com/oauth/token",
            &answer(None),
            now,
        )
        .unwrap();
        assert!(open.fresh(now + chrono::TimeDelta::days(1)));
    }

    #[test]
    fn an_api_host_is_https_unless_the_token_endpoint_is_local() {
        assert_eq!(
            api_host(
                "https://oauth.pipedrive.com/oauth/token",
                "https://acme.pipedrive.com/"
            )
            .unwrap(),
            "https://acme.pipedrive.com"
        );
        assert!(
            api_host(
                "https://login.salesforce.com/services/oauth2/token",
                "http://evil.example"
            )
            .is_err()
        );
        assert!(
            api_host(
                "http://127.0.0.1:9/services/oauth2/token",
                "http://127.0.0.1:9"
            )
            .is_ok()
        );
    }

    #[test]
    fn refusals_name_the_error_each_vendor_gives() {
        let answer = |body: &str| VendorResponse::new(400, body);
        assert_eq!(
            error_message(&answer(
                r#"{"error":"invalid_grant","error_description":"expired authorization code"}"#
            )),
            "invalid_grant: expired authorization code"
        );
        assert_eq!(
            error_message(&answer(
                r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token","correlationId":"x"}"#
            )),
            "BAD_REFRESH_TOKEN: missing or unknown refresh token"
        );
        assert_eq!(error_message(&answer("Bad Request")), "Bad Request");
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused_without_repeating_it() {
        let err =
            signing_key("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----")
                .err()
                .unwrap();
        assert!(err.starts_with("not an RSA private key in PEM"), "{err}");
        assert!(!err.contains("bm90IGEga2V5"), "{err}");
    }

    /// A key that parses but cannot sign is refused when it is kept, not at the first sign-in.
    #[test]
    fn a_key_too_short_to_sign_with_is_refused_when_given() {
        // Made for this test: `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024`.
        const SHORT: &str = "-----BEGIN PRIVATE KEY-----\n\
MIICeQIBADANBgkqhkiG9w0BAQEFAASCAmMwggJfAgEAAoGBAM6tu5nHJ6gkAPUD\n\
ROQUm15HJqYB6bBmJLvUNl7ff4M/vHad7l9zQ4phbpPjACERrzhNLBFPpKy/RQKZ\n\
di6jG5kXckAmXPq7TBRfJBglZvb7u1G7DKVa91dVpm9PpxzilUU5c9Lj7Um2CyQ/\n\
L3hotz7drxJOLzZ9Q022EmE8FMCXAgMBAAECgYEAqL5oIRHdawaaUXEt2hqJD9x/\n\
zaJaLk/3RfPpwGQyM/Lh6ObhLMVrK5yJL+1yuY06xnkbtbaU+QXhTlIFj+ZULJ4L\n\
toNrLpTTKSyI694ngeV7hKlZFE24LifCE1pQMrDDQLb7CTmyRxSQjVpwo10lbIyP\n\
SGe0GCMRs4Cz1M7JNiECQQD0i1pZEwYp1Rs1KSM6UdUMmp4Fz5C0oBM6rFfZOEPc\n\
xDOk9M7ImuoXcbKGyMJ7pFKitn7Q45t/bbo+mQ+2wnj7AkEA2FxIiRgwUJ6AXuKO\n\
AI7AAPAVOkXgPQafN+47E0jf3omfOU7Yrj3ME4e7pxKJO1xm6QaZY3oIiZ+nZXMh\n\
PnI8FQJBALtApbsFRTftFbtcN7xlgvT2xEAA03ZsCK1p4I7Vdalrl3wddOXJMa0o\n\
A6MPwVQ53Ij5oxvC3YPy+qUKQS0ZttcCQQCOee7WQNSIMmhMk5p5aYes1mzUK/Gn\n\
njW5KitC3sl1jWEJ5w8vZsh9z/NV6RHvwkCOkWbvKAx5PGaKmw84RRelAkEAoH0v\n\
t91d9LZEvAjxi9DT2cVfGlXx5tBTPrl3CzcwPYtHMh74TPlBFWcvJEojLS5hyc/l\n\
06DKouktUeBUvpyDnA==\n\
-----END PRIVATE KEY-----";
        let err = signing_key(SHORT).err().unwrap();
        assert!(err.contains("2048 to 4096 bits"), "{err}");
        let usable = include_str!("../../../tests/fixtures/crm/jwt-test-key.pem");
        assert!(signing_key(usable).is_ok());
    }
}
