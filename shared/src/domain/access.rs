//! Who may do what: roles, API keys, and the caller a request acts as.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TenantId;
use crate::error::{Error, Result};

/// What a caller may do. Each role may do what the roles below it may.
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
pub enum Role {
    /// Reads leads, calls, rules, settings and the model.
    Viewer,
    /// Also works leads: creates and edits them, adjusts scores, records outcomes and consent,
    /// logs texts, makes links, starts surveys, sends calls.
    Rep,
    /// Also runs the tenant: rules, settings, the model, integrations and API keys.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Rep => "rep",
            Role::Admin => "admin",
        }
    }

    /// `admin`, `rep` or `viewer`, as a JWT's group claim names them (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "rep" => Some(Role::Rep),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// Who a request comes from, for permissions and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An API key, by its id (never its secret).
    Key(String),
    /// A signed-in user, by the token's subject.
    User(String),
    /// The local machine: `leadscore serve` on 127.0.0.1 without a key.
    Local,
}

/// The caller a request acts as: its tenant, its role, and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: Role,
    pub actor: Actor,
}

impl Caller {
    /// Refused with `Forbidden` unless the caller's role is `needed` or above.
    pub fn require(&self, needed: Role) -> Result<()> {
        if self.role >= needed {
            return Ok(());
        }
        Err(Error::Forbidden(format!(
            "this needs the {} role; the caller is a {}",
            needed.as_str(),
            self.role.as_str()
        )))
    }
}

impl Caller {
    /// The caller as an authorizer hands it to the API (API Gateway's `authorizer.lambda`
    /// context): `tenant`, `role`, `actor` (`key:<id>` or `user:<subject>`).
    pub fn to_context(&self) -> serde_json::Map<String, serde_json::Value> {
        let actor = match &self.actor {
            Actor::Key(id) => format!("key:{id}"),
            Actor::User(sub) => format!("user:{sub}"),
            Actor::Local => "local".to_owned(),
        };
        serde_json::Map::from_iter([
            ("tenant".to_owned(), self.tenant.as_str().into()),
            ("role".to_owned(), self.role.as_str().into()),
            ("actor".to_owned(), actor.into()),
        ])
    }

    /// The caller an authorizer's context names; `None` unless it names a valid tenant, a
    /// role and a key or user.
    pub fn from_context(
        context: &std::collections::HashMap<String, serde_json::Value>,
    ) -> Option<Self> {
        let field = |name: &str| context.get(name).and_then(|v| v.as_str());
        let actor = match field("actor")?.split_once(':') {
            Some(("key", id)) if !id.is_empty() => Actor::Key(id.to_owned()),
            Some(("user", sub)) if !sub.is_empty() => Actor::User(sub.to_owned()),
            _ => return None,
        };
        Some(Caller {
            tenant: TenantId::parse(field("tenant")?).ok()?,
            role: Role::parse(field("role")?)?,
            actor,
        })
    }

    /// The caller a verified token's claims name: the tenant claim (which the identity
    /// provider sets, never the user), the highest role among the groups in the group claim
    /// (viewer when it names none), and the subject. `None` without a valid tenant or subject.
    pub fn from_claims(
        claims: &serde_json::Map<String, serde_json::Value>,
        tenant_claim: &str,
        role_claim: &str,
    ) -> Option<Self> {
        let tenant = TenantId::parse(claims.get(tenant_claim)?.as_str()?).ok()?;
        let sub = claims.get("sub")?.as_str().filter(|s| !s.is_empty())?;
        let role = match claims.get(role_claim) {
            Some(serde_json::Value::Array(groups)) => groups
                .iter()
                .filter_map(|g| g.as_str().and_then(Role::parse))
                .max(),
            Some(serde_json::Value::String(groups)) => groups
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter_map(Role::parse)
                .max(),
            _ => None,
        }
        .unwrap_or(Role::Viewer);
        Some(Caller {
            tenant,
            role,
            actor: Actor::User(sub.to_owned()),
        })
    }
}

/// One write request in a tenant's audit log: who (an API key's id, a user's subject, or the
/// local machine), with which role, what (method, path, the answer's status), when. Never a
/// body: what was written is in the records themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub tenant_id: TenantId,
    /// Time-ordered and unique: the entry's place in the log.
    pub entry_id: String,
    pub at: DateTime<Utc>,
    /// `key:<id>`, `user:<subject>` or `local`.
    pub actor: String,
    pub role: Role,
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// How long audit entries are kept: a year and a month, past a yearly review.
pub const AUDIT_RETENTION_DAYS: i64 = 400;

impl AuditEntry {
    pub fn new(caller: &Caller, method: &str, path: &str, status: u16, at: DateTime<Utc>) -> Self {
        let actor = match &caller.actor {
            Actor::Key(id) => format!("key:{id}"),
            Actor::User(sub) => format!("user:{sub}"),
            Actor::Local => "local".to_owned(),
        };
        AuditEntry {
            tenant_id: caller.tenant.clone(),
            entry_id: format!(
                "{}-{}",
                at.format("%Y%m%dT%H%M%S%.6fZ"),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            at,
            actor,
            role: caller.role,
            method: method.to_owned(),
            // Paths are ids and route names; a query string could carry anything, so it is
            // left out.
            path: path.chars().take(300).collect(),
            status,
        }
    }
}

/// The characters of an API key after `lsk_`: `<tenant>_<id>_<secret>`.
pub const KEY_PREFIX: &str = "lsk_";
/// The longest key name.
pub const MAX_KEY_NAME: usize = 100;
/// How many live (unrevoked) keys a tenant may hold.
pub const MAX_KEYS_PER_TENANT: usize = 100;

/// An API key as stored: its secret only as a SHA-256 hash (the secret is 256 random bits, so a
/// fast hash is as safe as a slow one), shown to its creator once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKey {
    pub tenant_id: TenantId,
    /// `ak_` and 16 hex digits: names the key in lists, logs and the audit trail.
    pub key_id: String,
    pub name: String,
    pub role: Role,
    /// The key's first characters (`lsk_acme_ak_3f2a…`), to tell keys apart.
    pub hint: String,
    #[serde(skip)]
    pub secret_sha256: String,
    pub created_at: DateTime<Utc>,
    /// Within a minute: uses are recorded once a minute at most. Absent before the first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Absent while the key works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How an API key's stored form keeps its hash: `ApiKey` leaves it out of its JSON (an answer
/// never shows it), so stores write this.
#[derive(Serialize, Deserialize)]
pub struct StoredKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret_sha256: String,
}

impl From<StoredKey> for ApiKey {
    fn from(stored: StoredKey) -> Self {
        ApiKey {
            secret_sha256: stored.secret_sha256,
            ..stored.key
        }
    }
}

impl From<&ApiKey> for StoredKey {
    fn from(key: &ApiKey) -> Self {
        StoredKey {
            key: key.clone(),
            secret_sha256: key.secret_sha256.clone(),
        }
    }
}

/// What an admin sends to make a key (`POST /api_keys`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"name": "zapier", "role": "rep"}))]
pub struct NewApiKey {
    /// What the key is for, to recognise it by: 1 to 100 characters.
    pub name: String,
    pub role: Role,
}

/// Whether two byte strings are equal, in a time that depends only on their lengths (for
/// secrets and their digests: a comparison that stops early says where they differ).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A secret's SHA-256, in hex.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl ApiKey {
    /// A new key for `tenant`, and its secret: the only time the secret exists in clear.
    pub fn issue(
        tenant: &TenantId,
        draft: &NewApiKey,
        now: DateTime<Utc>,
    ) -> Result<(Self, String)> {
        let name = draft.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_KEY_NAME
            || name.chars().any(char::is_control)
        {
            return Err(Error::validation(format!(
                "name: 1 to {MAX_KEY_NAME} characters without control characters"
            )));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let key_id = format!("ak_{}", &id[..16]);
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let token = format!("{KEY_PREFIX}{tenant}_{key_id}_{secret}");
        let key = ApiKey {
            tenant_id: tenant.clone(),
            hint: format!(
                "{}…",
                &token[..KEY_PREFIX.len() + tenant.as_str().len() + 8]
            ),
            key_id,
            name: name.to_owned(),
            role: draft.role,
            secret_sha256: sha256_hex(&token),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        Ok((key, token))
    }

    /// The order stores list a tenant's keys in: oldest first (ties by id).
    pub fn sort_oldest_first(keys: &mut [ApiKey]) {
        keys.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
    }

    /// Whether `token` is this key's secret (in constant time) and the key is not revoked.
    pub fn accepts(&self, token: &str) -> bool {
        same_bytes(self.secret_sha256.as_bytes(), sha256_hex(token).as_bytes())
            && self.revoked_at.is_none()
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, as RFC 9110
/// has it); `None` for another scheme or an empty token.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The tenant and key id a bearer token names, when it has the form of an API key.
pub fn parse_key_token(token: &str) -> Option<(TenantId, String)> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (tenant, rest) = rest.split_once("_ak_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(id, 16) || !hex(secret, 64) {
        return None;
    }
    Some((TenantId::parse(tenant).ok()?, format!("ak_{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_names_its_tenant_and_id_and_is_stored_only_as_a_hash() {
        let tenant = TenantId::parse("acme-roofing").unwrap();
        let draft = NewApiKey {
            name: "zapier".into(),
            role: Role::Rep,
        };
        let (key, token) = ApiKey::issue(&tenant, &draft, Utc::now()).unwrap();
        assert_eq!(parse_key_token(&token), Some((tenant, key.key_id.clone())));
        assert!(key.accepts(&token));
        assert!(!key.accepts(&token.replace('a', "b")));
        assert!(
            !serde_json::to_string(&key)
                .unwrap()
                .contains(&key.secret_sha256)
        );
        assert!(!format!("{key:?}{}", key.hint).contains(&token[token.len() - 64..]));
        let stored = serde_json::to_string(&StoredKey::from(&key)).unwrap();
        let back: ApiKey = serde_json::from_str::<StoredKey>(&stored).unwrap().into();
        assert_eq!(back, key);
    }

    #[test]
    fn roles_order_what_they_may_do() {
        let caller = |role| Caller {
            tenant: TenantId::default_tenant(),
            role,
            actor: Actor::Local,
        };
        assert!(caller(Role::Admin).require(Role::Rep).is_ok());
        assert!(caller(Role::Rep).require(Role::Rep).is_ok());
        let refused = caller(Role::Viewer).require(Role::Rep).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "this needs the rep role; the caller is a viewer"
        );
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn a_callers_context_and_claims_name_it_and_nothing_else_does() {
        let caller = Caller {
            tenant: TenantId::parse("acme").unwrap(),
            role: Role::Rep,
            actor: Actor::Key("ak_0123456789abcdef".into()),
        };
        let context: std::collections::HashMap<_, _> = caller.to_context().into_iter().collect();
        assert_eq!(Caller::from_context(&context), Some(caller));
        for broken in [
            serde_json::json!({"tenant": "acme", "role": "owner", "actor": "key:ak_1"}),
            serde_json::json!({"tenant": "Not A Tenant", "role": "admin", "actor": "key:ak_1"}),
            serde_json::json!({"tenant": "acme", "role": "admin", "actor": "local"}),
            serde_json::json!({"tenant": "acme", "role": "admin"}),
        ] {
            let map = broken.as_object().unwrap().clone().into_iter().collect();
            assert_eq!(Caller::from_context(&map), None, "{broken}");
        }
        let claims = |groups: serde_json::Value| {
            serde_json::json!({"sub": "u-1", "custom:tenant": "acme", "cognito:groups": groups})
                .as_object()
                .unwrap()
                .clone()
        };
        let role = |groups| {
            Caller::from_claims(&claims(groups), "custom:tenant", "cognito:groups").map(|c| c.role)
        };
        assert_eq!(role(serde_json::json!(["rep", "admin"])), Some(Role::Admin));
        assert_eq!(role(serde_json::json!(["sales-team"])), Some(Role::Viewer));
        assert_eq!(role(serde_json::json!(null)), Some(Role::Viewer));
        assert_eq!(role(serde_json::json!("viewer, rep")), Some(Role::Rep));
        let no_tenant = serde_json::json!({"sub": "u-1"})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            Caller::from_claims(&no_tenant, "custom:tenant", "cognito:groups"),
            None
        );
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_schemes_case() {
        assert_eq!(bearer_token("Bearer lsk_x"), Some("lsk_x"));
        assert_eq!(bearer_token("bearer  lsk_x "), Some("lsk_x"));
        assert_eq!(bearer_token("Basic dXNlcg=="), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token(""), None);
    }

    #[test]
    fn tokens_not_shaped_like_keys_name_nothing() {
        for token in [
            "",
            "lsk_",
            "eyJhbGciOi.x.y",
            "lsk_acme_ak_12_34",
            "lsk_Acme_ak_0123456789abcdef_00",
        ] {
            assert_eq!(parse_key_token(token), None, "{token}");
        }
    }
}
