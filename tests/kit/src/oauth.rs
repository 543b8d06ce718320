//! The OAuth 2.0 authorization server inside each CRM stand-in (RFC 6749, and RFC 7523's JWT
//! bearer grant for Salesforce), answering in each vendor's dialect:
//!
//! - HubSpot (developers.hubspot.com, OAuth tokens v1): `GET /oauth/authorize` on the app host,
//!   `POST /oauth/v1/token` with the client in the form; answers `token_type`, `access_token`,
//!   `refresh_token`, `expires_in` (1,800 s); refusals are 400 `{"status": "BAD_AUTH_CODE" |
//!   "BAD_REFRESH_TOKEN" | "BAD_CLIENT_ID" | "BAD_REDIRECT_URI", "message"}`.
//! - Pipedrive (developers.pipedrive.com, OAuth): `GET /oauth/authorize` and `POST
//!   /oauth/token` on `oauth.pipedrive.com`, the client in HTTP basic; answers with `scope`,
//!   `expires_in` (3,599 s) and `api_domain` (the company's API host); refusals are
//!   `{"success": false, "message", "error"}` (401 for the client, 400 for the grant).
//! - Salesforce (OAuth 2.0 web server and JWT bearer flows): `GET /services/oauth2/authorize`
//!   and `POST /services/oauth2/token` on the login host, the client in the form; answers
//!   `instance_url` and no expiry (a session lasts until the org's timeout: 401
//!   `INVALID_SESSION_ID`); refusals are 400 `{"error", "error_description"}`.
//!
//! The consent screen is a person's step: here it consents at once and sends the browser back
//! (302 to `redirect_uri` with `code` and `state`) for a client id it knows, or shows an error
//! page for one it does not. Codes are good once, for ten minutes, with the redirect URI they
//! were given for. Access tokens expire after the lifetime set (`set_lifetime`), and the tests
//! can expire them all at once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

/// Whose OAuth this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    HubSpot,
    Pipedrive,
    Salesforce,
}

/// What the authorization server saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthStats {
    pub authorizations: u64,
    pub codes_traded: u64,
    pub refreshes: u64,
    pub assertions: u64,
    pub refused: u64,
}

/// A verdict on a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    Valid,
    Expired,
    Unknown,
}

pub struct Authority {
    dialect: Dialect,
    client_id: String,
    client_secret: String,
    /// Where its APIs are (Pipedrive's `api_domain`, Salesforce's `instance_url` and the JWT
    /// audience).
    url: String,
    codes: HashMap<String, (String, Instant)>,
    refresh_tokens: Vec<String>,
    access: HashMap<String, Option<Instant>>,
    lifetime: Option<Duration>,
    /// Give a new refresh token at each refresh, the old one then refused.
    rotate: bool,
    /// JWT bearer (Salesforce): the connected app's certificate's key and the users
    /// pre-authorized for it.
    jwt: Option<(jsonwebtoken::DecodingKey, String)>,
    next: u64,
    pub stats: OAuthStats,
}

impl Authority {
    pub fn new(dialect: Dialect, client_id: &str, client_secret: &str, url: &str) -> Self {
        Self {
            dialect,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            url: url.to_owned(),
            codes: HashMap::new(),
            refresh_tokens: Vec::new(),
            access: HashMap::new(),
            lifetime: match dialect {
                Dialect::HubSpot => Some(Duration::from_secs(1800)),
                Dialect::Pipedrive => Some(Duration::from_secs(3599)),
                Dialect::Salesforce => None,
            },
            rotate: false,
            jwt: None,
            next: 1,
            stats: OAuthStats::default(),
        }
    }

    /// A refresh token a user granted earlier (Salesforce's, given when connecting by hand).
    pub fn grant_refresh_token(&mut self, token: &str) {
        self.refresh_tokens.push(token.to_owned());
    }

    /// How long access tokens last (`None`: until expired by hand).
    pub fn set_lifetime(&mut self, lifetime: Option<Duration>) {
        self.lifetime = lifetime;
    }

    pub fn set_rotation(&mut self, rotate: bool) {
        self.rotate = rotate;
    }

    /// Allow the JWT bearer flow for `username`, signed with the key whose public half is
    /// `public_pem` (the certificate uploaded to the connected app).
    pub fn allow_jwt(&mut self, public_pem: &str, username: &str) {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes())
            .expect("a public key in PEM");
        self.jwt = Some((key, username.to_owned()));
    }

    /// Every access token stops working (a session timeout, a revocation).
    pub fn expire_all(&mut self) {
        let past = Instant::now() - Duration::from_secs(1);
        for expiry in self.access.values_mut() {
            *expiry = Some(past);
        }
    }

    pub fn refresh_tokens(&self) -> Vec<String> {
        self.refresh_tokens.clone()
    }

    pub fn check(&self, bearer: &str) -> Bearer {
        match self.access.get(bearer) {
            None => Bearer::Unknown,
            Some(Some(at)) if *at <= Instant::now() => Bearer::Expired,
            Some(_) => Bearer::Valid,
        }
    }

    fn token(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:012}", self.next)
    }

    /// The consent screen: a person who allows at once.
    pub fn authorize(&mut self, query: &BTreeMap<String, String>) -> Response {
        let field = |name: &str| query.get(name).cloned().unwrap_or_default();
        if field("client_id") != self.client_id {
            return (
                StatusCode::BAD_REQUEST,
                axum::response::Html("<h1>This app is not known</h1>"),
            )
                .into_response();
        }
        let redirect = field("redirect_uri");
        if redirect.is_empty() {
            return (
                StatusCode::BAD_REQUEST,
                axum::response::Html("<h1>redirect_uri is missing</h1>"),
            )
                .into_response();
        }
        if self.dialect == Dialect::Salesforce && field("response_type") != "code" {
            return (
                StatusCode::BAD_REQUEST,
                axum::response::Html("<h1>unsupported_response_type</h1>"),
            )
                .into_response();
        }
        self.stats.authorizations += 1;
        let code = self.token("code-");
        self.codes
            .insert(code.clone(), (redirect.clone(), Instant::now()));
        let mut back = url::Url::parse(&redirect).expect("a redirect URI that is a URL");
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &field("state"));
        (
            StatusCode::FOUND,
            [(axum::http::header::LOCATION, back.to_string())],
        )
            .into_response()
    }

    /// The token endpoint: `form` as posted, `authorization` the header (Pipedrive's client).
    pub fn exchange(
        &mut self,
        form: &BTreeMap<String, String>,
        authorization: Option<&str>,
    ) -> Response {
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        let grant = field("grant_type");
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            return self.assertion(&field("assertion"));
        }
        let (id, secret) = match self.dialect {
            Dialect::Pipedrive => authorization
                .and_then(|h| h.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|pair| {
                    pair.split_once(':')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))
                })
                .unwrap_or_default(),
            Dialect::HubSpot | Dialect::Salesforce => (field("client_id"), field("client_secret")),
        };
        if id != self.client_id || secret != self.client_secret {
            return self.refuse("client", "invalid client credentials");
        }
        let refresh = match grant.as_str() {
            "authorization_code" => {
                let Some((redirect, at)) = self.codes.remove(&field("code")) else {
                    return self.refuse("code", "authorization code is invalid or used");
                };
                if at.elapsed() > Duration::from_secs(600) {
                    return self.refuse("code", "authorization code expired");
                }
                if redirect != field("redirect_uri") {
                    return self.refuse(
                        "redirect",
                        "redirect_uri does not match the authorization's",
                    );
                }
                self.stats.codes_traded += 1;
                let token = self.token("refresh-");
                self.refresh_tokens.push(token.clone());
                Some(token)
            }
            "refresh_token" => {
                let given = field("refresh_token");
                let Some(i) = self.refresh_tokens.iter().position(|t| *t == given) else {
                    return self.refuse("refresh", "missing or unknown refresh token");
                };
                self.stats.refreshes += 1;
                if self.rotate {
                    let token = self.token("refresh-");
                    self.refresh_tokens[i] = token.clone();
                    Some(token)
                } else if self.dialect == Dialect::Salesforce {
                    // Salesforce gives a refresh token again only when it rotates them.
                    None
                } else {
                    Some(given)
                }
            }
            _ => return self.refuse("grant", "grant type not supported"),
        };
        self.answer(refresh)
    }

    fn assertion(&mut self, assertion: &str) -> Response {
        let Some((key, user)) = &self.jwt else {
            return self.refuse("grant", "grant type not supported");
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[self.url.as_str()]);
        validation.set_issuer(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        shared::adapters::rs256::install();
        let claims = match jsonwebtoken::decode::<Value>(assertion, key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return self.refuse("assertion", &format!("invalid assertion: {e}")),
        };
        let exp = claims["exp"].as_i64().unwrap_or_default();
        if exp > chrono::Utc::now().timestamp() + 300 {
            return self.refuse("assertion", "expiration time is too far in the future");
        }
        if claims["sub"].as_str() != Some(user.as_str()) {
            return self.refuse("assertion", "user hasn't approved this consumer");
        }
        self.stats.assertions += 1;
        self.answer(None)
    }

    fn answer(&mut self, refresh: Option<String>) -> Response {
        let access = self.token("access-");
        let expiry = self.lifetime.map(|l| Instant::now() + l);
        self.access.insert(access.clone(), expiry);
        let expires_in = self.lifetime.map(|l| l.as_secs());
        let body = match self.dialect {
            Dialect::HubSpot => json!({
                "token_type": "bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": expires_in,
            }),
            Dialect::Pipedrive => json!({
                "access_token": access,
                "token_type": "Bearer",
                "refresh_token": refresh,
                "scope": "base,deals:read,contacts:full,admin",
                "expires_in": expires_in,
                "api_domain": self.url,
            }),
            Dialect::Salesforce => {
                let mut body = json!({
                    "access_token": access,
                    "instance_url": self.url,
                    "id": format!("{}/id/00D5e0000000001/0055e000000AbCd", self.url),
                    "token_type": "Bearer",
                    "issued_at": chrono::Utc::now().timestamp_millis().to_string(),
                    "signature": "c2lnbmF0dXJl",
                    "scope": "refresh_token api",
                });
                if let Some(refresh) = refresh {
                    body["refresh_token"] = json!(refresh);
                }
                body
            }
        };
        axum::Json(body).into_response()
    }

    /// A refusal in the vendor's words; `what` is what was wrong.
    fn refuse(&mut self, what: &str, description: &str) -> Response {
        self.stats.refused += 1;
        let (status, body) = match self.dialect {
            Dialect::HubSpot => {
                let code = match what {
                    "client" => "BAD_CLIENT_ID",
                    "code" => "BAD_AUTH_CODE",
                    "redirect" => "BAD_REDIRECT_URI",
                    "refresh" => "BAD_REFRESH_TOKEN",
                    _ => "BAD_GRANT_TYPE",
                };
                (
                    StatusCode::BAD_REQUEST,
                    json!({"status": code, "message": description, "correlationId": "5f6e2f5c-0000-4000-8000-000000000000"}),
                )
            }
            Dialect::Pipedrive => (
                if what == "client" {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                },
                json!({"success": false, "message": description, "error": if what == "client" { "invalid_client" } else { "invalid_grant" }}),
            ),
            Dialect::Salesforce => {
                let error = match what {
                    "client" => "invalid_client",
                    "grant" => "unsupported_grant_type",
                    "redirect" => "redirect_uri_mismatch",
                    _ => "invalid_grant",
                };
                (
                    StatusCode::BAD_REQUEST,
                    json!({"error": error, "error_description": description}),
                )
            }
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A form body as a map.
pub fn form(body: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A stand-in's state, which holds its authorization server.
pub trait Holds: Send + 'static {
    fn authority(&mut self) -> &mut Authority;
}

type Held<H> = std::sync::Arc<std::sync::Mutex<H>>;

/// The consent screen's route, for any stand-in.
pub async fn authorize_route<H: Holds>(
    axum::extract::State(inner): axum::extract::State<Held<H>>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    inner.lock().unwrap().authority().authorize(&query)
}

/// The token endpoint's route, for any stand-in.
pub async fn token_route<H: Holds>(
    axum::extract::State(inner): axum::extract::State<Held<H>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    inner
        .lock()
        .unwrap()
        .authority()
        .exchange(&form(&body), authorization)
}
