use std::fmt;

use phonenumber::{Mode, country};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A phone number in E.164 form (`+14155550134`), checked against libphonenumber's metadata
/// (through the `phonenumber` crate), so that one caller always maps to one lead whatever way
/// the number was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parse a number written in international form, or in the national form of
    /// `default_region` (an ISO 3166 code such as "US"; numbers without a `+` need one).
    pub fn parse_with_region(s: &str, default_region: Option<&str>) -> Result<Self> {
        let trimmed = s.trim();
        let bad =
            |why: &str| Error::validation(format!("`{s}` is not a valid phone number: {why}"));
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        if trimmed.len() > 40 {
            return Err(bad("it is too long"));
        }
        let region = match default_region {
            Some(r) => Some(r.parse::<country::Id>().map_err(|_| {
                Error::validation(format!("`{r}` is not a country code such as US or GB"))
            })?),
            None => None,
        };
        let parsed = phonenumber::parse(region, trimmed).map_err(|e| bad(&e.to_string()))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(bad(
                "no such number exists in the numbering plan of its country",
            ));
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }

    /// Parse a number in international form (`+` and country code).
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_with_region(s, None)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The national significant number, digits only, without the country code
    /// (`4155550134` for `+14155550134`): how CRMs index a phone number for search, whatever
    /// way it was typed.
    pub fn national_digits(&self) -> String {
        phonenumber::parse(None, &self.0)
            .map(|p| p.national().value().to_string())
            .unwrap_or_else(|_| self.0.trim_start_matches('+').to_owned())
    }

    /// The ISO 3166 region the number belongs to ("US", "CA", "GB"), when known.
    pub fn region(&self) -> Option<String> {
        let parsed = phonenumber::parse(None, &self.0).ok()?;
        parsed.country().id().map(|id| format!("{id:?}"))
    }
}

impl schemars::JsonSchema for PhoneNumber {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PhoneNumber".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Stored and answered in E.164; requests may write a number nationally (in the
        // deployment's default region) or with spaces and dashes.
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": 40,
            "description": "A phone number; answers give it in E.164 (+14155550134).",
            "examples": ["+14155550134"],
        })
    }
}

/// Numbers this process has found valid and already in E.164 form. Numbers read back from the
/// store skip the check ([`reading_stored`]); the ones that come back in other ways (a queue
/// message's job on AWS, a vendor's answer naming the same caller again) are checked once
/// each here. A number's validity never changes within a process, so one check each is enough. Bounded: emptied when it reaches
/// [`KNOWN_VALID_CAP`] numbers (about 5 MB).
static KNOWN_VALID: std::sync::LazyLock<std::sync::RwLock<std::collections::HashSet<Box<str>>>> =
    std::sync::LazyLock::new(Default::default);
const KNOWN_VALID_CAP: usize = 100_000;

thread_local! {
    /// Whether this thread is reading documents back from the store ([`reading_stored`]).
    static READING_STORED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `read`, which reads documents back from the service's own store, taking the numbers in
/// them as they are when they have E.164's form: each was checked against the numbering plan
/// when it was written. A lead's page read every stored number through libphonenumber again
/// (its regexes, looked up by pattern): on a cold process with 100,000 leads, most of a
/// lead's read. Input from anywhere else (requests, files, vendors) is checked in full.
pub fn reading_stored<T>(read: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            READING_STORED.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(READING_STORED.with(|r| r.replace(true)));
    read()
}

/// `+`, a country code that does not start with 0, and at most 15 digits in all: E.164's form.
fn has_e164_form(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

impl TryFrom<String> for PhoneNumber {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        if READING_STORED.with(|r| r.get()) && has_e164_form(&s) {
            return Ok(Self(s));
        }
        let known = |s: &str| {
            KNOWN_VALID
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains(s)
        };
        if known(&s) {
            return Ok(Self(s));
        }
        let parsed = Self::parse(&s)?;
        if parsed.0 == s {
            let mut set = KNOWN_VALID.write().unwrap_or_else(|p| p.into_inner());
            if set.len() >= KNOWN_VALID_CAP {
                set.clear();
            }
            set.insert(s.into_boxed_str());
        }
        Ok(parsed)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a tenant keeps of a number whose lead was erased after it opted out, so it is never
/// texted again: the hex SHA-256 of the tenant and the number (E.164), not the number. (A
/// hash of a phone number can be reversed by trying every number; it keeps the number out of
/// sight of whoever reads the store, not out of reach of a determined one.)
pub fn suppression_digest(tenant: &super::TenantId, phone: &PhoneNumber) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(
        Sha256::new()
            .chain_update(b"leadscore-suppression\0")
            .chain_update(tenant.as_str())
            .chain_update([0])
            .chain_update(phone.as_str())
            .finalize(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored document's number is taken by its form alone; anything else is checked in
    /// full, also after a stored read (the scope ends with it, even when it fails).
    #[test]
    fn only_numbers_read_back_from_the_store_skip_the_numbering_plan() {
        let not_in_plan = "\"+15555550000\"";
        assert!(serde_json::from_str::<PhoneNumber>(not_in_plan).is_err());
        let stored: PhoneNumber = reading_stored(|| serde_json::from_str(not_in_plan)).unwrap();
        assert_eq!(stored.as_str(), "+15555550000");
        for bad in [
            "\"4155550134\"",
            "\"+0155550134\"",
            "\"+1415555013x\"",
            "\"+1234567890123456\"",
        ] {
            assert!(
                reading_stored(|| serde_json::from_str::<PhoneNumber>(bad)).is_err(),
                "{bad} has not E.164's form"
            );
        }
        let failed = std::panic::catch_unwind(|| reading_stored(|| panic!("a read that fails")));
        assert!(failed.is_err());
        assert!(
            serde_json::from_str::<PhoneNumber>(not_in_plan).is_err(),
            "checked again"
        );
    }

    /// Reading a number again (the second time from the known-valid set) gives the same
    /// answer as the first: valid and canonical, valid in another form, or refused.
    #[test]
    fn a_number_read_again_reads_as_it_did_the_first_time() {
        for _ in 0..2 {
            let p: PhoneNumber = serde_json::from_str("\"+14155550134\"").unwrap();
            assert_eq!(p.as_str(), "+14155550134");
            let spaced: PhoneNumber = serde_json::from_str("\"+1 415 555 0134\"").unwrap();
            assert_eq!(spaced.as_str(), "+14155550134");
            let err = serde_json::from_str::<PhoneNumber>("\"+17995551998\"").unwrap_err();
            assert!(
                err.to_string().contains("not a valid phone number"),
                "{err}"
            );
        }
    }

    #[test]
    fn national_and_international_forms_normalise_to_e164() {
        // GIVEN the same number written four ways
        let forms = [
            "+1 415 555 0134",
            "(415) 555-0134",
            "415.555.0134",
            "+14155550134",
        ];
        // THEN they are one number
        for f in forms {
            assert_eq!(
                PhoneNumber::parse_with_region(f, Some("US"))
                    .unwrap()
                    .as_str(),
                "+14155550134",
                "{f}"
            );
        }
    }

    #[test]
    fn regions_are_known() {
        assert_eq!(
            PhoneNumber::parse("+442079460958")
                .unwrap()
                .region()
                .as_deref(),
            Some("GB")
        );
        assert_eq!(
            PhoneNumber::parse("+14165550199")
                .unwrap()
                .region()
                .as_deref(),
            Some("CA")
        );
        assert_eq!(
            PhoneNumber::parse("+15125550147")
                .unwrap()
                .region()
                .as_deref(),
            Some("US")
        );
    }

    #[test]
    fn bad_numbers_name_the_input() {
        for bad in ["", "+1 555", "call me", "+999 1234567", "12345"] {
            let err = PhoneNumber::parse_with_region(bad, Some("US"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a valid phone number"), "{bad:?}: {err}");
        }
        // Without a region a national number is ambiguous.
        assert!(PhoneNumber::parse("4155550134").is_err());
    }
}
