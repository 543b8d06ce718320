//! Twilio's webhooks in Twilio's own wire format: the `X-Twilio-Signature` check, the
//! parameters of an inbound message and of a status callback, and TwiML replies.
//!
//! The signature is an HMAC (SHA-1, or SHA-256 when `X-Twilio-Webhooks-Signature-Settings`
//! says `algorithm=HMAC_SHA256`) keyed by the account's auth token, over the full URL Twilio
//! requested followed by every posted parameter, sorted by name, as name then value. A JSON
//! body is signed through the URL instead: its SHA-256 is the `bodySHA256` query parameter.
//! As in Twilio's SDKs, the URL is tried with and without its port. The test vectors in
//! `twilio_vectors.json` come from Twilio's Python SDK (`tools/twilio_vectors.py`).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::domain::SmsMedia;
use crate::error::{Error, Result};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
pub const SIGNATURE_SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
}

impl Algorithm {
    /// From `X-Twilio-Webhooks-Signature-Settings` (`key=...,algorithm=HMAC_SHA256`); SHA-1
    /// without it. An algorithm we do not know is refused.
    pub fn from_settings(header: Option<&str>) -> Result<Self> {
        let named = header.unwrap_or("").split(',').find_map(|part| {
            let (name, value) = part.split_once('=')?;
            (name.trim() == "algorithm" && !value.trim().is_empty()).then(|| value.trim())
        });
        match named.map(str::to_ascii_uppercase).as_deref() {
            None | Some("HMAC_SHA1") => Ok(Self::HmacSha1),
            Some("HMAC_SHA256") => Ok(Self::HmacSha256),
            Some(other) => Err(Error::Forbidden(format!(
                "the webhook is signed with {other}, which is not HMAC_SHA1 or HMAC_SHA256"
            ))),
        }
    }
}

/// A webhook's body: form parameters, or JSON signed through `bodySHA256`.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Form(&'a [(String, String)]),
    Json(&'a [u8]),
}

/// The string Twilio signs: the URL, then each parameter name and value, sorted by name then
/// value, each distinct pair once (as Twilio's SDKs do).
fn signed_text(url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut s = String::with_capacity(
        url.len() + pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
    );
    s.push_str(url);
    for (k, v) in pairs {
        s.push_str(k);
        s.push_str(v);
    }
    s
}

fn mac_of(algorithm: Algorithm, token: &str, text: &str) -> Vec<u8> {
    match algorithm {
        Algorithm::HmacSha1 => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(text.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::HmacSha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(text.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    }
}

/// The signature Twilio sends for a request to `url` with `params` (base64).
pub fn signature(
    algorithm: Algorithm,
    token: &str,
    url: &str,
    params: &[(String, String)],
) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac_of(
        algorithm,
        token,
        &signed_text(url, params),
    ))
}

/// `url` with and without its port, as Twilio's SDKs try it: Twilio signs the URL as it was
/// configured, which may or may not spell out the default port.
fn port_variants(url: &str) -> (String, String) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), url.to_owned());
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(cut);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let without = format!("{scheme}://{host}{tail}");
    let with = match port {
        Some(_) => url.to_owned(),
        None => {
            let default = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            format!("{scheme}://{host}:{default}{tail}")
        }
    };
    (without, with)
}

/// Whether `signature` is Twilio's for this request, keyed by `token`.
pub fn verify(algorithm: Algorithm, token: &str, url: &str, body: Body, signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let params: &[(String, String)] = match body {
        Body::Form(params) => params,
        Body::Json(bytes) => {
            let Some(claimed) = query_param(url, "bodySHA256") else {
                return false;
            };
            let actual = hex::encode(Sha256::digest(bytes));
            if !crate::domain::same_bytes(actual.as_bytes(), claimed.as_bytes()) {
                return false;
            }
            &[]
        }
    };
    let (without, with) = port_variants(url);
    // Both are computed, so the time taken does not say which one matched.
    let a = crate::domain::same_bytes(
        &mac_of(algorithm, token, &signed_text(&without, params)),
        &given,
    );
    let b = crate::domain::same_bytes(
        &mac_of(algorithm, token, &signed_text(&with, params)),
        &given,
    );
    a | b
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Form parameters, in order.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A JSON body's top-level fields as parameters (strings as they are, other values as JSON).
pub fn parse_json(body: &[u8]) -> Result<Vec<(String, String)>> {
    let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| Error::validation(format!("the JSON body is not an object: {e}")))?;
    Ok(value
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}

fn param<'a>(params: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
}

fn message_sid(params: &[(String, String)]) -> Result<String> {
    let sid = param(params, &["MessageSid", "SmsMessageSid", "SmsSid"]).ok_or_else(|| {
        Error::validation("MessageSid: missing; is this a Twilio messaging webhook?")
    })?;
    if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::validation(format!(
            "MessageSid: `{sid}` is not a message id"
        )));
    }
    Ok(sid.to_owned())
}

/// An inbound message (Twilio's "A message comes in" webhook).
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub sid: String,
    pub account_sid: Option<String>,
    /// The lead's number, as Twilio sends it (E.164).
    pub from: String,
    pub to: Option<String>,
    pub body: String,
    pub media: Vec<SmsMedia>,
}

impl Inbound {
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        let sid = message_sid(params)?;
        let from = param(params, &["From"])
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| {
                Error::validation("From: missing; an inbound message names its sender")
            })?;
        let media_count: usize = match param(params, &["NumMedia"]) {
            None | Some("") => 0,
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n <= 10)
                .ok_or_else(|| Error::validation(format!("NumMedia: `{n}` is not 0..10")))?,
        };
        let media = (0..media_count)
            .filter_map(|i| {
                Some(SmsMedia {
                    url: param(params, &[&format!("MediaUrl{i}")])?.to_owned(),
                    content_type: param(params, &[&format!("MediaContentType{i}")])
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                })
            })
            .collect();
        Ok(Self {
            sid,
            account_sid: param(params, &["AccountSid"]).map(str::to_owned),
            from: from.to_owned(),
            to: param(params, &["To"]).map(str::to_owned),
            body: param(params, &["Body"]).unwrap_or("").to_owned(),
            media,
        })
    }
}

/// A delivery status of an outbound message (Twilio's status callback).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusCallback {
    pub sid: String,
    pub account_sid: Option<String>,
    pub status: String,
    /// The lead's number: whom the message went to.
    pub to: String,
    pub error_code: Option<String>,
    /// Only some callbacks carry the text.
    pub body: Option<String>,
}

impl StatusCallback {
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        let sid = message_sid(params)?;
        let status = param(params, &["MessageStatus", "SmsStatus"])
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 20
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .ok_or_else(|| Error::validation("MessageStatus: missing or not a status"))?;
        let to = param(params, &["To"])
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::validation("To: missing; a status callback names the recipient")
            })?;
        Ok(Self {
            sid,
            account_sid: param(params, &["AccountSid"]).map(str::to_owned),
            status: status.to_owned(),
            to: to.to_owned(),
            error_code: param(params, &["ErrorCode"])
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            body: param(params, &["Body"]).map(str::to_owned),
        })
    }
}

/// A TwiML response: empty, or one message back to the sender.
pub fn twiml(message: Option<&str>) -> String {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    if let Some(text) = message {
        xml.push_str("<Message>");
        for c in text.chars() {
            match c {
                '&' => xml.push_str("&amp;"),
                '<' => xml.push_str("&lt;"),
                '>' => xml.push_str("&gt;"),
                '"' => xml.push_str("&quot;"),
                '\'' => xml.push_str("&apos;"),
                c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {}
                c => xml.push(c),
            }
        }
        xml.push_str("</Message>");
    }
    xml.push_str("</Response>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        generator: String,
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        kind: String,
        #[serde(default)]
        algorithm: Option<String>,
        url: String,
        #[serde(default)]
        params: Vec<(String, String)>,
        signature: String,
        checks: Vec<Check>,
    }

    #[derive(serde::Deserialize)]
    struct Check {
        what: String,
        url: String,
        #[serde(default)]
        params: Vec<(String, String)>,
        #[serde(default)]
        body: Option<String>,
        token: String,
        signature: String,
        valid: bool,
    }

    const TOKEN: &str = "12345678901234567890123456789012";

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("twilio_vectors.json")).unwrap()
    }

    fn algorithm(case: &Case) -> Algorithm {
        match case.algorithm.as_deref() {
            Some("HMAC_SHA256") => Algorithm::HmacSha256,
            _ => Algorithm::HmacSha1,
        }
    }

    #[test]
    fn signatures_match_twilios_sdk() {
        let v = vectors();
        assert!(v.generator.starts_with("twilio 9."), "{}", v.generator);
        for case in v.cases.iter().filter(|c| c.kind == "form") {
            assert_eq!(
                signature(algorithm(case), TOKEN, &case.url, &case.params),
                case.signature,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn verification_agrees_with_twilios_sdk_on_valid_and_tampered_requests() {
        let v = vectors();
        let mut checked = 0;
        for case in &v.cases {
            for check in &case.checks {
                let body = match &check.body {
                    Some(json) => Body::Json(json.as_bytes()),
                    None => Body::Form(&check.params),
                };
                assert_eq!(
                    verify(
                        algorithm(case),
                        &check.token,
                        &check.url,
                        body,
                        &check.signature
                    ),
                    check.valid,
                    "{}: {}",
                    case.name,
                    check.what
                );
                checked += 1;
            }
        }
        // valid, tampered URL, tampered parameter, wrong token, empty signature, port...
        assert!(checked >= 40, "{checked} checks");
    }

    #[test]
    fn a_signature_is_refused_under_the_other_algorithm() {
        let case = vectors()
            .cases
            .into_iter()
            .find(|c| c.algorithm.as_deref() == Some("HMAC_SHA256"))
            .unwrap();
        assert!(verify(
            Algorithm::HmacSha256,
            TOKEN,
            &case.url,
            Body::Form(&case.params),
            &case.signature
        ));
        assert!(!verify(
            Algorithm::HmacSha1,
            TOKEN,
            &case.url,
            Body::Form(&case.params),
            &case.signature
        ));
        assert!(!verify(
            Algorithm::HmacSha256,
            TOKEN,
            &case.url,
            Body::Form(&case.params),
            "not base64!"
        ));
        assert_eq!(Algorithm::from_settings(None).unwrap(), Algorithm::HmacSha1);
        assert_eq!(
            Algorithm::from_settings(Some("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"))
                .unwrap(),
            Algorithm::HmacSha256
        );
        assert!(Algorithm::from_settings(Some("algorithm=HMAC_MD5")).is_err());
    }

    #[test]
    fn the_captured_webhook_reads_as_an_inbound_message() {
        let body =
            include_str!("../../../tests/fixtures/twilio/inbound_sms_webhook.form-urlencoded.txt");
        let m = Inbound::from_params(&parse_form(body.trim().as_bytes())).unwrap();
        assert_eq!(m.sid, "SM1521fa559fb923c1ed64f56cd1bed8ef");
        assert_eq!(m.from, "+19253920364");
        assert_eq!(m.body, "twilio-go testing!");
        assert!(m.media.is_empty());
        let e = Inbound::from_params(&[("Body".into(), "hi".into())]).unwrap_err();
        assert!(e.to_string().contains("MessageSid"), "{e}");
    }

    #[test]
    fn media_only_messages_keep_their_media() {
        let p: Vec<(String, String)> = [
            ("MessageSid", "MM1"),
            ("From", "+15125550147"),
            ("Body", ""),
            ("NumMedia", "1"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl0", "https://api.twilio.com/m/0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let m = Inbound::from_params(&p).unwrap();
        assert_eq!(m.body, "");
        assert_eq!(m.media[0].content_type, "image/jpeg");
    }

    #[test]
    fn twiml_is_escaped() {
        assert_eq!(
            twiml(None),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
        );
        assert_eq!(
            twiml(Some("1 < 2 & \"ok\"\u{0}")),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>1 &lt; 2 &amp; &quot;ok&quot;</Message></Response>"#
        );
    }
}
