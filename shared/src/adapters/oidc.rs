//! OpenID Connect, both sides of a sign-in.
//!
//! - [`JwtVerifier`]: the identity provider's tokens, verified: RS256 signatures against the
//!   issuer's published keys (its JWKS, fetched over HTTPS and kept for an hour), the issuer,
//!   the expiry (a minute's leeway for clocks) and, when configured, the app client the token
//!   was issued to (`aud` on an ID token, `client_id` on an access token). [`IdTokens`] turns
//!   the claims into a [`Caller`]: the Lambda authorizer uses it on AWS, `serve
//!   --oidc-issuer` on a machine.
//! - [`WebSignIn`]: what the web app needs to sign a person in with the authorization code
//!   flow and PKCE (RFC 7636): the app's client id and the provider's authorize, token and
//!   sign-out endpoints, given or found by OpenID Connect discovery
//!   (`<issuer>/.well-known/openid-configuration`), served at `/app/sign-in.json`.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{OnceCell, RwLock};

use crate::domain::Caller;
use crate::error::{Error, Result};

/// How long fetched keys are used before they are fetched again.
const KEYS_FOR: Duration = Duration::from_secs(3600);
/// A token naming a key the set does not have makes the set be fetched again, at most this
/// often (a provider rotating its keys is followed at once; a stream of forged key ids does
/// not turn into a stream of fetches).
const REFETCH_AFTER: Duration = Duration::from_secs(60);
/// The largest key set or discovery document read (Cognito's are about 1 KB each).
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Where tokens come from, and whom they are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `iss`, exactly: `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The app clients tokens may be issued to; any when empty.
    pub audiences: Vec<String>,
    /// The key set's address: `<issuer>/.well-known/jwks.json` unless set (`JWKS_URL`).
    pub jwks_url: String,
}

pub struct JwtVerifier {
    settings: JwtSettings,
    http: reqwest::Client,
    keys: RwLock<Option<(Instant, JwkSet)>>,
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::Unauthorized(format!("the bearer token is not valid: {why}"))
}

impl JwtVerifier {
    pub fn new(settings: JwtSettings) -> Self {
        Self {
            settings,
            http: http_client(),
            keys: RwLock::new(None),
        }
    }

    /// The token's claims, when its signature, issuer, expiry and audience hold; else
    /// `Unauthorized` saying which did not (never echoing the token).
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).map_err(refused)?;
        if header.alg != Algorithm::RS256 {
            return Err(refused(format!("signed with {:?}, not RS256", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| refused("no key id (kid)"))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_aud = false;
        validation.leeway = 60;
        super::rs256::install();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(refused)?
            .claims;
        if !self.settings.audiences.is_empty() {
            let issued_to = claims
                .get("aud")
                .or_else(|| claims.get("client_id"))
                .and_then(Value::as_str);
            if !issued_to.is_some_and(|to| self.settings.audiences.iter().any(|a| a == to)) {
                return Err(refused("issued to another app client"));
            }
        }
        Ok(claims)
    }

    /// The key `kid`, from the cached set, or from a fresh one when the set is old or lacks it.
    async fn key(&self, kid: &str) -> Result<DecodingKey> {
        {
            let cached = self.keys.read().await;
            if let Some((at, set)) = cached.as_ref() {
                let fresh = at.elapsed() < KEYS_FOR;
                match set.find(kid) {
                    Some(jwk) if fresh => return DecodingKey::from_jwk(jwk).map_err(refused),
                    None if at.elapsed() < REFETCH_AFTER => {
                        return Err(refused(format!("no key `{kid}` in the issuer's key set")));
                    }
                    _ => {}
                }
            }
        }
        let set = self.fetch().await?;
        let key = set
            .find(kid)
            .map(|jwk| DecodingKey::from_jwk(jwk).map_err(refused))
            .unwrap_or_else(|| Err(refused(format!("no key `{kid}` in the issuer's key set"))));
        *self.keys.write().await = Some((Instant::now(), set));
        key
    }

    async fn fetch(&self) -> Result<JwkSet> {
        let url = &self.settings.jwks_url;
        let unavailable = |e: &dyn std::fmt::Display| {
            Error::transient(
                format!("the issuer's key set at {url} could not be read"),
                e.to_string(),
            )
        };
        let body = get_document(&self.http, url)
            .await
            .map_err(|e| unavailable(&e))?;
        serde_json::from_slice(&body).map_err(|e| unavailable(&e))
    }
}

/// A small JSON document over HTTP(S): at most [`MAX_DOCUMENT_BYTES`], a success status.
async fn get_document(http: &reqwest::Client, url: &str) -> std::result::Result<Vec<u8>, String> {
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("over {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// Who an identity provider's token names: a verifier and the claims that carry the tenant
/// and the groups.
pub struct IdTokens {
    verifier: JwtVerifier,
    tenant_claim: String,
    role_claim: String,
}

impl IdTokens {
    pub fn new(settings: JwtSettings, tenant_claim: &str, role_claim: &str) -> Self {
        Self {
            verifier: JwtVerifier::new(settings),
            tenant_claim: tenant_claim.to_owned(),
            role_claim: role_claim.to_owned(),
        }
    }

    /// The caller `token` names, when it is valid and names a tenant and a subject; else
    /// `Unauthorized` saying why (never echoing the token), or `Transient` when the issuer's
    /// keys cannot be read.
    pub async fn caller(&self, token: &str) -> Result<Caller> {
        let claims = self.verifier.verify(token).await?;
        Caller::from_claims(&claims, &self.tenant_claim, &self.role_claim).ok_or_else(|| {
            Error::Unauthorized(format!(
                "the token names no tenant (claim `{}`) or no subject",
                self.tenant_claim
            ))
        })
    }
}

/// What OpenID Connect discovery says about a provider (the fields leadscore uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovered {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// `<issuer>/.well-known/openid-configuration`, read and checked: it must name the same issuer
/// (OpenID Connect Discovery 1.0, §4.3) and give absolute endpoints.
pub async fn discover(issuer: &str) -> Result<Discovered> {
    let issuer = issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    let unavailable = |why: &dyn std::fmt::Display| {
        Error::transient(
            format!("the identity provider's discovery document at {url} could not be read"),
            why.to_string(),
        )
    };
    let body = get_document(&http_client(), &url)
        .await
        .map_err(|e| unavailable(&e))?;
    let found: Discovered = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
    if found.issuer.trim_end_matches('/') != issuer {
        return Err(Error::validation(format!(
            "the discovery document at {url} names the issuer `{}`, not `{issuer}`",
            found.issuer
        )));
    }
    for endpoint in [
        &found.authorization_endpoint,
        &found.token_endpoint,
        &found.jwks_uri,
    ]
    .into_iter()
    .chain(found.end_session_endpoint.as_ref())
    {
        endpoint_origin(endpoint)
            .map_err(|why| Error::validation(format!("the discovery document at {url}: {why}")))?;
    }
    Ok(found)
}

/// `https://host[:port]` of an endpoint (what a page's policy must allow it to connect to);
/// plain HTTP only on a loopback address.
pub fn endpoint_origin(endpoint: &str) -> std::result::Result<String, String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("`{endpoint}` is not a URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(format!("`{endpoint}` is not an https URL")),
    }
    Ok(url.origin().ascii_serialization())
}

/// How the web app signs a person in (`GET /app/sign-in.json`): the authorization code flow
/// with PKCE against these endpoints, as this public client (no secret). The page sends the ID
/// token as its bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// The web app's client at the provider.
    pub client_id: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Where signing out ends the provider's session too, when it has such an endpoint.
    pub end_session_endpoint: Option<String>,
    /// The parameter that tells the sign-out endpoint where to send the browser back:
    /// `post_logout_redirect_uri` (OpenID Connect RP-initiated logout) or `logout_uri`
    /// (Amazon Cognito).
    pub logout_redirect_parameter: String,
    pub scope: String,
}

/// A sign-in's settings as given: whatever is left out is found by discovery.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInDraft {
    pub client_id: String,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub logout_redirect_parameter: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// The scope the web app asks for when none is set: an ID token with the user's email.
pub const DEFAULT_SCOPE: &str = "openid email";

type Reading = Pin<Box<dyn Future<Output = Result<SignInDraft>> + Send>>;

/// The web app's sign-in, worked out once per process: its draft read (given, or from where
/// the deployment keeps it), the gaps filled by discovery. A failure is not kept: the next
/// page load tries again.
pub struct WebSignIn {
    issuer: String,
    read: Box<dyn Fn() -> Reading + Send + Sync>,
    ready: OnceCell<SignIn>,
}

impl WebSignIn {
    /// A sign-in whose draft `read` gives (an SSM parameter's value on AWS).
    pub fn new(issuer: &str, read: impl Fn() -> Reading + Send + Sync + 'static) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            read: Box::new(read),
            ready: OnceCell::new(),
        }
    }

    /// A sign-in with the draft at hand (`serve --oidc-issuer --oidc-client-id`).
    pub fn given(issuer: &str, draft: SignInDraft) -> Self {
        Self::new(issuer, move || {
            let draft = draft.clone();
            Box::pin(async move { Ok(draft) })
        })
    }

    /// The sign-in, read and discovered on first use.
    pub async fn get(&self) -> Result<&SignIn> {
        self.ready
            .get_or_try_init(|| async {
                let draft = (self.read)().await?;
                complete(&self.issuer, draft).await
            })
            .await
    }
}

/// An identity provider people sign in with, for a server on its own (`serve --oidc-issuer`):
/// the tokens it accepts and the web app's sign-in.
#[derive(Clone)]
pub struct IdentityProvider {
    pub issuer: String,
    pub tokens: std::sync::Arc<IdTokens>,
    pub sign_in: std::sync::Arc<WebSignIn>,
}

impl IdentityProvider {
    /// The provider at `issuer`, found by discovery (its keys, its endpoints): ID tokens issued
    /// to `client_id` (the web app's public client) are accepted, their `tenant_claim` naming
    /// the tenant and `role_claim` the groups. The error names what could not be found.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        tenant_claim: &str,
        role_claim: &str,
    ) -> Result<Self> {
        let issuer = issuer.trim_end_matches('/');
        let found = discover(issuer).await?;
        let sign_in = WebSignIn::given(
            issuer,
            SignInDraft {
                client_id: client_id.to_owned(),
                authorization_endpoint: Some(found.authorization_endpoint),
                token_endpoint: Some(found.token_endpoint),
                end_session_endpoint: found.end_session_endpoint,
                ..SignInDraft::default()
            },
        );
        sign_in.get().await?;
        let tokens = IdTokens::new(
            JwtSettings {
                issuer: issuer.to_owned(),
                audiences: vec![client_id.to_owned()],
                jwks_url: found.jwks_uri,
            },
            tenant_claim,
            role_claim,
        );
        Ok(Self {
            issuer: issuer.to_owned(),
            tokens: std::sync::Arc::new(tokens),
            sign_in: std::sync::Arc::new(sign_in),
        })
    }
}

/// `draft` with its gaps filled from the issuer's discovery document (read only when there
/// are gaps), every endpoint checked.
async fn complete(issuer: &str, draft: SignInDraft) -> Result<SignIn> {
    if draft.client_id.trim().is_empty() {
        return Err(Error::validation(
            "the web app's sign-in names no client id",
        ));
    }
    let discovered = match (&draft.authorization_endpoint, &draft.token_endpoint) {
        (Some(_), Some(_)) => None,
        _ => Some(discover(issuer).await?),
    };
    let pick = |given: Option<String>, found: fn(&Discovered) -> Option<String>| {
        given.or_else(|| discovered.as_ref().and_then(found))
    };
    let sign_in = SignIn {
        authorization_endpoint: pick(draft.authorization_endpoint, |d| {
            Some(d.authorization_endpoint.clone())
        })
        .unwrap_or_default(),
        token_endpoint: pick(draft.token_endpoint, |d| Some(d.token_endpoint.clone()))
            .unwrap_or_default(),
        end_session_endpoint: pick(draft.end_session_endpoint, |d| {
            d.end_session_endpoint.clone()
        }),
        logout_redirect_parameter: draft
            .logout_redirect_parameter
            .unwrap_or_else(|| "post_logout_redirect_uri".to_owned()),
        scope: draft.scope.unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
        client_id: draft.client_id,
    };
    for endpoint in [&sign_in.authorization_endpoint, &sign_in.token_endpoint]
        .into_iter()
        .chain(sign_in.end_session_endpoint.as_ref())
    {
        endpoint_origin(endpoint)
            .map_err(|why| Error::validation(format!("the web app's sign-in: {why}")))?;
    }
    Ok(sign_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_except_on_this_machine() {
        let origin = |e: &str| endpoint_origin(e);
        assert_eq!(
            origin("https://acme.auth.us-east-1.amazoncognito.com/oauth2/token").unwrap(),
            "https://acme.auth.us-east-1.amazoncognito.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:9000/token").unwrap(),
            "http://127.0.0.1:9000"
        );
        assert!(
            origin("http://idp.example.com/token")
                .unwrap_err()
                .contains("not an https URL")
        );
        assert!(
            origin("/oauth2/token")
                .unwrap_err()
                .contains("is not a URL")
        );
    }

    #[tokio::test]
    async fn a_draft_with_its_endpoints_needs_no_discovery_and_takes_the_defaults() {
        // The issuer answers nothing: a draft that names both endpoints never asks it.
        let draft: SignInDraft = serde_json::from_str(
            r#"{"client_id": "web-1", "authorization_endpoint": "https://idp.example/authorize",
                "token_endpoint": "https://idp.example/token"}"#,
        )
        .unwrap();
        let sign_in = complete("https://unreachable.invalid", draft)
            .await
            .unwrap();
        assert_eq!(sign_in.scope, DEFAULT_SCOPE);
        assert_eq!(
            sign_in.logout_redirect_parameter,
            "post_logout_redirect_uri"
        );
        assert_eq!(sign_in.end_session_endpoint, None);
        // A draft without a client, or with an endpoint that is not https, is refused by name.
        let no_client = SignInDraft {
            client_id: " ".into(),
            ..SignInDraft::default()
        };
        let err = complete("https://unreachable.invalid", no_client)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no client id"), "{err}");
        let plain = SignInDraft {
            client_id: "web-1".into(),
            authorization_endpoint: Some("http://idp.example/authorize".into()),
            token_endpoint: Some("https://idp.example/token".into()),
            ..SignInDraft::default()
        };
        let err = complete("https://unreachable.invalid", plain)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not an https URL"), "{err}");
        // A misspelt field in the stored settings is an error, not a silent default.
        assert!(
            serde_json::from_str::<SignInDraft>(r#"{"client_id": "w", "scopes": "x"}"#).is_err()
        );
    }
}
