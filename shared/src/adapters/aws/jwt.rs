//! The identity provider's tokens, verified: RS256 signatures against the issuer's published
//! keys (its JWKS, fetched over HTTPS and kept for an hour), the issuer, the expiry (a minute's
//! leeway for clocks) and, when configured, the app client the token was issued to (`aud` on
//! an ID token, `client_id` on an access token). The Lambda authorizer uses it; the claims it
//! returns are then read by `Caller::from_claims`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::error::{Error, Result};

/// How long fetched keys are used before they are fetched again.
const KEYS_FOR: Duration = Duration::from_secs(3600);
/// A token naming a key the set does not have makes the set be fetched again, at most this
/// often (a provider rotating its keys is followed at once; a stream of forged key ids does
/// not turn into a stream of fetches).
const REFETCH_AFTER: Duration = Duration::from_secs(60);
/// The largest key set read (Cognito's is about 1 KB).
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Where tokens come from, and whom they are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `iss`, exactly: `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The app client tokens must be issued to; any when unset.
    pub audience: Option<String>,
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
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
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
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(refused)?
            .claims;
        if let Some(audience) = &self.settings.audience {
            let issued_to = claims
                .get("aud")
                .or_else(|| claims.get("client_id"))
                .and_then(Value::as_str);
            if issued_to != Some(audience.as_str()) {
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
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(&e))?;
        let body = response.bytes().await.map_err(|e| unavailable(&e))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(unavailable(&format!("over {MAX_JWKS_BYTES} bytes")));
        }
        serde_json::from_slice(&body).map_err(|e| unavailable(&e))
    }
}
