//! A stand-in OpenID Connect provider over a real socket, as the web app's sign-in meets one
//! (Amazon Cognito's managed login, or any provider `serve --oidc-issuer` is pointed at):
//!
//! - discovery at `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and the
//!   signing keys at `/.well-known/jwks.json` (RS256, one key with its `kid`);
//! - `GET /oauth2/authorize` (authorization code flow, RFC 6749 §4.1, with PKCE, RFC 7636):
//!   an unknown client or an unregistered redirect URI gets an error page and no redirect (§4.1.2.1);
//!   a request without an S256 `code_challenge` or with another `response_type` goes back with
//!   `error=`; else a sign-in page where the person picks who they are (a form posting to the
//!   same address), which goes back to the redirect URI with `code` and `state`;
//! - `POST /oauth2/token`: `authorization_code` (the code good once, for ten minutes, with its
//!   redirect URI, client and the verifier whose SHA-256 is the challenge) and `refresh_token`;
//!   answers `id_token`, `access_token`, `refresh_token` (on the code only, as Cognito does),
//!   `expires_in`, `token_type`; refusals are 400 `{"error", "error_description"}` (§5.2). The
//!   answer carries `Access-Control-Allow-Origin` for the redirect URIs' origins, so a page may
//!   call it from the browser;
//! - `GET /logout` (RP-initiated logout): back to a registered `post_logout_redirect_uri`.
//!
//! ID tokens carry `iss`, `aud` (the client), `sub`, `email`, `token_use: id`, `iat`, `exp`, the
//! user's tenant in `tenant_id` and groups in `groups`. The key is a test key
//! (`oidc-test-key.pem`, made for these tests with `openssl genpkey -algorithm RSA`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest;

const KEY_PEM: &str = include_str!("oidc-test-key.pem");
const KID: &str = "standin-key-1";
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Someone who can sign in.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub email: String,
    pub tenant: String,
    pub groups: Vec<String>,
}

/// What the provider saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub sign_in_pages: u64,
    pub codes_issued: u64,
    pub codes_traded: u64,
    pub refreshes: u64,
    pub refused: u64,
    pub logouts: u64,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: User,
    issued: Instant,
}

struct Inner {
    client_id: String,
    redirect_uris: Vec<String>,
    users: Vec<User>,
    token_lifetime: Duration,
    codes: HashMap<String, Code>,
    refresh_tokens: HashMap<String, User>,
    stats: Stats,
    next: u64,
}

/// The provider: serving until dropped.
pub struct Provider {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
    _serving: crate::standin::Serving,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    key: Arc<EncodingKey>,
    inner: Arc<Mutex<Inner>>,
}

impl Provider {
    /// A provider with one public client, `client_id`, that may send people back to
    /// `redirect_uris`, and these users.
    pub async fn start(client_id: &str, redirect_uris: &[&str], users: Vec<User>) -> Self {
        let (listener, issuer) = crate::standin::bind().await;
        let inner = Arc::new(Mutex::new(Inner {
            client_id: client_id.to_owned(),
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            users,
            token_lifetime: Duration::from_secs(3600),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            stats: Stats::default(),
            next: 1,
        }));
        let shared = Shared {
            issuer: issuer.clone(),
            key: Arc::new(EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).expect("the test key")),
            inner: inner.clone(),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/oauth2/authorize", get(authorize).post(signed_in))
            .route("/oauth2/token", axum::routing::post(token))
            .route("/logout", get(logout))
            .with_state(shared);
        let serving = crate::standin::Serving::start(listener, app);
        Self {
            issuer,
            inner,
            _serving: serving,
        }
    }

    /// Add a URI the client may be sent back to (after sign-in, or sign-out).
    pub fn allow_redirect(&self, uri: &str) {
        self.inner
            .lock()
            .unwrap()
            .redirect_uris
            .push(uri.to_owned());
    }

    /// How long the tokens issued from now on last.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.inner.lock().unwrap().token_lifetime = lifetime;
    }

    pub fn stats(&self) -> Stats {
        self.inner.lock().unwrap().stats.clone()
    }

    /// An ID token for `user` as the provider would issue it to `audience`, expiring in
    /// `lifetime_seconds` (negative: already expired).
    pub fn id_token(&self, user: &User, audience: &str, lifetime_seconds: i64) -> String {
        let key = EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap();
        sign(&key, &self.issuer, audience, user, lifetime_seconds)
    }
}

fn sign(key: &EncodingKey, issuer: &str, audience: &str, user: &User, lifetime: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let claims = json!({
        "iss": issuer, "aud": audience, "sub": user.sub, "email": user.email,
        "token_use": "id", "iat": now, "auth_time": now, "exp": now + lifetime,
        "tenant_id": user.tenant, "groups": user.groups,
    });
    // jsonwebtoken's provider is the product's (ring's RS256); its signatures are held to
    // OpenSSL's in `shared::adapters::rs256`.
    shared::adapters::rs256::install();
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

async fn discovery(State(s): State<Shared>) -> Response {
    let i = &s.issuer;
    axum::Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{i}/logout"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Shared>) -> Response {
    shared::adapters::rs256::install();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&s.key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(KID.to_owned());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    axum::Json(json!({ "keys": [jwk] })).into_response()
}

fn error_page(status: StatusCode, why: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><p id=error>{why}</p>"
        )),
    )
        .into_response()
}

fn back_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = url::Url::parse(redirect_uri).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    Redirect::to(url.as_str()).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The authorization request checked; the sign-in page, or the error.
async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = s.inner.lock().unwrap();
    let param = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    if param("client_id") != inner.client_id {
        inner.stats.refused += 1;
        return error_page(StatusCode::BAD_REQUEST, "unknown client_id");
    }
    let redirect_uri = param("redirect_uri");
    if !inner.redirect_uris.iter().any(|u| u == redirect_uri) {
        inner.stats.refused += 1;
        return error_page(StatusCode::BAD_REQUEST, "redirect_uri is not registered");
    }
    let state = param("state");
    let refuse = |inner: &mut Inner, error: &str, why: &str| {
        inner.stats.refused += 1;
        back_with(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", why),
                ("state", state),
            ],
        )
    };
    if param("response_type") != "code" {
        return refuse(&mut inner, "unsupported_response_type", "only code");
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").len() < 43 {
        return refuse(&mut inner, "invalid_request", "PKCE with S256 is required");
    }
    if !param("scope").split(' ').any(|s| s == "openid") {
        return refuse(&mut inner, "invalid_scope", "openid is required");
    }
    inner.stats.sign_in_pages += 1;
    let hidden: String = ["client_id", "redirect_uri", "state", "code_challenge"]
        .iter()
        .map(|name| {
            format!(
                "<input type=hidden name={name} value=\"{}\">",
                escape(param(name))
            )
        })
        .collect();
    let options: String = inner
        .users
        .iter()
        .map(|u| format!("<option value=\"{0}\">{0}</option>", escape(&u.email)))
        .collect();
    Html(format!(
        "<!doctype html><html lang=en><title>Sign in</title><h1>Sign in to Example IdP</h1>\
         <form method=post action=/oauth2/authorize>{hidden}\
         <label>Account <select name=user>{options}</select></label>\
         <button type=submit>Sign in</button></form></html>"
    ))
    .into_response()
}

/// The person signed in: back to the app with a code.
async fn signed_in(State(s): State<Shared>, body: String) -> Response {
    let f = form(&body);
    let mut inner = s.inner.lock().unwrap();
    let field = |name: &str| f.get(name).cloned().unwrap_or_default();
    let Some(user) = inner
        .users
        .iter()
        .find(|u| u.email == field("user"))
        .cloned()
    else {
        return error_page(StatusCode::BAD_REQUEST, "no such account");
    };
    let redirect_uri = field("redirect_uri");
    if field("client_id") != inner.client_id || !inner.redirect_uris.contains(&redirect_uri) {
        return error_page(StatusCode::BAD_REQUEST, "the request changed on the way");
    }
    let code = format!("code-{}-{}", inner.next, uuid_like());
    inner.next += 1;
    inner.stats.codes_issued += 1;
    inner.codes.insert(
        code.clone(),
        Code {
            client_id: field("client_id"),
            redirect_uri: redirect_uri.clone(),
            challenge: field("code_challenge"),
            user,
            issued: Instant::now(),
        },
    );
    back_with(
        &redirect_uri,
        &[("code", &code), ("state", &field("state"))],
    )
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refusal(origin: Option<HeaderValue>, error: &str, why: &str) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": why})),
    )
        .into_response();
    if let Some(origin) = origin {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

/// The origin of the calling page, when it is one of the redirect URIs' (CORS).
fn allowed_origin(inner: &Inner, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let origin_str = origin.to_str().ok()?;
    inner
        .redirect_uris
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .any(|u| u.origin().ascii_serialization() == origin_str)
        .then(|| origin.clone())
}

async fn token(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let f = form(&body);
    let mut inner = s.inner.lock().unwrap();
    let origin = allowed_origin(&inner, &headers);
    let field = |name: &str| f.get(name).cloned().unwrap_or_default();
    if field("client_id") != inner.client_id {
        inner.stats.refused += 1;
        return refusal(origin, "invalid_client", "unknown client");
    }
    let lifetime = inner.token_lifetime.as_secs() as i64;
    let (user, refresh_token) = match field("grant_type").as_str() {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(&field("code")) else {
                inner.stats.refused += 1;
                return refusal(origin, "invalid_grant", "unknown or used code");
            };
            let verifier_digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(field("code_verifier").as_bytes()));
            let why = if code.issued.elapsed() > CODE_LIFETIME {
                Some("the code expired")
            } else if code.redirect_uri != field("redirect_uri") {
                Some("redirect_uri differs from the authorization request's")
            } else if code.client_id != field("client_id") {
                Some("the code was issued to another client")
            } else if verifier_digest != code.challenge {
                Some("code_verifier does not match the code_challenge")
            } else {
                None
            };
            if let Some(why) = why {
                inner.stats.refused += 1;
                return refusal(origin, "invalid_grant", why);
            }
            inner.stats.codes_traded += 1;
            let refresh = format!("refresh-{}", uuid_like());
            inner
                .refresh_tokens
                .insert(refresh.clone(), code.user.clone());
            (code.user, Some(refresh))
        }
        "refresh_token" => {
            let Some(user) = inner.refresh_tokens.get(&field("refresh_token")).cloned() else {
                inner.stats.refused += 1;
                return refusal(origin, "invalid_grant", "unknown refresh token");
            };
            inner.stats.refreshes += 1;
            (user, None)
        }
        _ => {
            inner.stats.refused += 1;
            return refusal(origin, "unsupported_grant_type", "code or refresh_token");
        }
    };
    let id_token = sign(&s.key, &s.issuer, &inner.client_id, &user, lifetime);
    let mut body = json!({
        "id_token": id_token,
        "access_token": format!("access-{}", uuid_like()),
        "token_type": "Bearer",
        "expires_in": lifetime,
    });
    if let Some(refresh) = refresh_token {
        body["refresh_token"] = Value::String(refresh);
    }
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(origin) = origin {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

async fn logout(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = s.inner.lock().unwrap();
    let back = q
        .get("post_logout_redirect_uri")
        .cloned()
        .unwrap_or_default();
    if q.get("client_id") != Some(&inner.client_id) || !inner.redirect_uris.contains(&back) {
        inner.stats.refused += 1;
        return error_page(
            StatusCode::BAD_REQUEST,
            "unknown client or sign-out address",
        );
    }
    inner.stats.logouts += 1;
    Redirect::to(&back).into_response()
}
