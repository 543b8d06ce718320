use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Identifies a customer account. Every stored row belongs to exactly one tenant.
/// Lower-case letters, digits and `-`, 1 to 64 characters, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// The tenant local mode uses when none is named.
    pub const DEFAULT: &'static str = "default";

    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::validation(format!(
                "`{s}` is not a valid tenant id: use 1 to 64 lower-case letters, digits and '-'"
            )))
        }
    }

    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Letters, digits, `.`, `_` and `-`; 1 to 128 characters.
            pub fn parse(s: &str) -> Result<Self> {
                let ok = !s.is_empty()
                    && s.len() <= 128
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(Error::validation(format!(
                        "`{s}` is not a valid {}: use 1 to 128 letters, digits, '.', '_' or '-'",
                        $what
                    )))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

opaque_id!(
    /// A lead: one person (one phone number) a tenant may sell to.
    LeadId,
    "lead id"
);
opaque_id!(
    /// A call. Derived from what identifies the call at its source, so that a second delivery
    /// of the same call maps to the same id.
    CallId,
    "call id"
);
opaque_id!(
    /// A scoring rule.
    RuleId,
    "rule id"
);

impl LeadId {
    /// A new, time-ordered lead id.
    pub fn generate() -> Self {
        Self(format!("ld_{}", uuid::Uuid::now_v7().simple()))
    }
}

impl RuleId {
    pub fn generate() -> Self {
        Self(format!(
            "rl_{}",
            &uuid::Uuid::now_v7().simple().to_string()[..20]
        ))
    }
}

impl CallId {
    /// The call id for a call known at its source as `source_identity` (an external id such as
    /// a telephony call SID, or the recording's file stem). Deterministic: the same source
    /// identity in the same tenant always gives the same id, which is what makes a repeated
    /// delivery of the same file or event land on the same call.
    pub fn derive(tenant: &TenantId, source_identity: &str) -> Self {
        let mut h = Sha256::new();
        h.update(tenant.as_str().as_bytes());
        h.update([0]);
        h.update(source_identity.as_bytes());
        Self(format!("ca_{}", &hex::encode(h.finalize())[..24]))
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
    )*};
}
string_conversions!(TenantId, LeadId, CallId, RuleId);

/// Each id is a JSON string of the characters `parse` takes (in the OpenAPI document).
macro_rules! string_schema {
    ($($name:ident: $pattern:literal, $description:literal;)*) => {$(
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    )*};
}
string_schema! {
    TenantId: "^[a-z0-9][a-z0-9-]{0,63}$", "A tenant: 1 to 64 lower-case letters, digits and '-'.";
    LeadId: "^[A-Za-z0-9._-]{1,128}$", "A lead (`ld_...`).";
    CallId: "^[A-Za-z0-9._-]{1,128}$", "A call (`ca_...`), derived from its source.";
    RuleId: "^[A-Za-z0-9._-]{1,128}$", "A scoring rule (`rl_...`, or a default rule's name).";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::parse("acme-roofing").is_ok());
        for bad in ["", "Acme", "-acme", "acme corp", &"a".repeat(65)] {
            let err = TenantId::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Validation(_)), "{bad:?} accepted");
        }
    }

    #[test]
    fn call_ids_are_deterministic_per_tenant() {
        // GIVEN two tenants and one source identity
        let a = TenantId::parse("a").unwrap();
        let b = TenantId::parse("b").unwrap();
        // THEN the id is stable within a tenant and differs across tenants
        assert_eq!(CallId::derive(&a, "file:x"), CallId::derive(&a, "file:x"));
        assert_ne!(CallId::derive(&a, "file:x"), CallId::derive(&b, "file:x"));
        assert_ne!(CallId::derive(&a, "file:x"), CallId::derive(&a, "file:y"));
        assert!(CallId::parse(CallId::derive(&a, "x").as_str()).is_ok());
    }

    #[test]
    fn opaque_ids_reject_path_characters() {
        assert!(LeadId::parse("ld_0193").is_ok());
        assert!(LeadId::parse("../etc/passwd").is_err());
        assert!(RuleId::parse("pricing interest").is_err());
    }
}
