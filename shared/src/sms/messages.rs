//! Twilio's Messages API, the one call that sends a text: `POST
//! {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with `To`, `From` (or
//! `MessagingServiceSid`), `Body` and `StatusCallback` as a form, basic auth with the account
//! SID and its auth token. Twilio answers 201 with the Message resource (`sid`, `status`), or
//! an error document (`code`, `message`, `more_info`, `status`). A text whose answer was lost
//! is looked for in the account's Messages list (`GET .../Messages.json?To=`).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ports::{VendorRequest, VendorResponse};

/// Twilio's REST API, unless the deployment points elsewhere (`TWILIO_API_URL`).
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";

/// A text to send.
pub struct Outgoing<'a> {
    pub account_sid: &'a str,
    pub auth_token: &'a str,
    /// A number (E.164) or a Messaging Service SID (`MG...`).
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Where Twilio posts the text's delivery statuses.
    pub status_callback: Option<&'a str>,
}

/// The request, for `VendorHttp::send`. Its `Debug` shows no credentials.
pub fn request(base: &str, m: &Outgoing) -> VendorRequest {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("To", m.to);
    if m.from.starts_with("MG") {
        form.append_pair("MessagingServiceSid", m.from);
    } else {
        form.append_pair("From", m.from);
    }
    form.append_pair("Body", m.body);
    if let Some(url) = m.status_callback {
        form.append_pair("StatusCallback", url);
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", m.account_sid, m.auth_token));
    VendorRequest {
        method: "POST",
        url: format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            base.trim_end_matches('/'),
            m.account_sid
        ),
        headers: vec![
            ("authorization", format!("Basic {basic}")),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("accept", "application/json".to_owned()),
        ],
        body: Some(form.finish()),
    }
}

/// The account's latest messages to `to` (Twilio's Messages list, newest first, one page of
/// 50): where a text whose answer was lost is looked for.
pub fn lookup(base: &str, account_sid: &str, auth_token: &str, to: &str) -> VendorRequest {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("To", to)
        .append_pair("PageSize", "50")
        .finish();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{account_sid}:{auth_token}"));
    VendorRequest {
        method: "GET",
        url: format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json?{query}",
            base.trim_end_matches('/')
        ),
        headers: vec![
            ("authorization", format!("Basic {basic}")),
            ("accept", "application/json".to_owned()),
        ],
        body: None,
    }
}

#[derive(Deserialize)]
struct Page {
    messages: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    sid: String,
    status: String,
    body: Option<String>,
    /// RFC 2822, as Twilio writes its dates.
    date_created: Option<String>,
}

/// The message in a lookup's answer with this body, created at `since` or later: the text a
/// lost answer was about, if Twilio took it.
pub fn find(response: &VendorResponse, body: &str, since: DateTime<Utc>) -> Result<Option<Sent>> {
    if !(200..300).contains(&response.status) {
        return answer(response).map(|_| None);
    }
    let page: Page = serde_json::from_str(&response.body)
        .map_err(|e| Error::transient("Twilio's message list is not a page of messages", e))?;
    Ok(page
        .messages
        .into_iter()
        .find(|m| {
            m.body.as_deref() == Some(body)
                && m.date_created
                    .as_deref()
                    .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                    .is_some_and(|d| d >= since)
        })
        .map(|m| Sent {
            sid: m.sid,
            status: m.status,
        }))
}

/// What Twilio made of a send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sent {
    /// The Message's SID (`SM...`), which its status callbacks name.
    pub sid: String,
    /// `queued`, `accepted`, `sending`, `sent`...
    pub status: String,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: Option<String>,
}

/// Twilio's answer: the Message, or an error naming Twilio's code. 4xx answers are the
/// request's fault (`Validation`; 21610: the number texted STOP to Twilio itself), 401 and 403
/// the credentials' (`Forbidden`), 429 and 5xx may pass (`Transient`).
pub fn answer(response: &VendorResponse) -> Result<Sent> {
    if (200..300).contains(&response.status) {
        let sent: Sent = serde_json::from_str(&response.body).map_err(|e| {
            Error::transient("Twilio's answer to a send is not a Message resource", e)
        })?;
        if !(sent.sid.starts_with("SM") || sent.sid.starts_with("MM")) {
            return Err(Error::transient(
                "Twilio's answer to a send has no message SID",
                "sid",
            ));
        }
        return Ok(sent);
    }
    let detail = serde_json::from_str::<TwilioError>(&response.body).ok();
    let said = match &detail {
        Some(TwilioError {
            code: Some(code),
            message,
        }) => format!(
            "Twilio refused the text: {code} {}",
            message.as_deref().unwrap_or_default()
        ),
        _ => format!("Twilio answered HTTP {}", response.status),
    };
    let said = crate::analysis::redact::redact(&said).into_owned();
    Err(match response.status {
        401 | 403 => Error::Forbidden(format!(
            "{said}; check the account SID and auth token (PUT /settings/twilio)"
        )),
        429 | 500.. => Error::transient(said, "Twilio"),
        _ => Error::validation(said),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> VendorResponse {
        VendorResponse::new(status, body)
    }

    #[test]
    fn a_send_is_a_form_with_basic_auth_to_the_accounts_messages() {
        let r = request(
            "http://127.0.0.1:9/",
            &Outgoing {
                account_sid: "AC0123",
                auth_token: "secret-token",
                from: "+15125550100",
                to: "+14155550134",
                body: "Hi Dana & co",
                status_callback: Some("https://x.example/twilio/status"),
            },
        );
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/2010-04-01/Accounts/AC0123/Messages.json"
        );
        assert_eq!(
            r.body.as_deref(),
            Some(
                "To=%2B14155550134&From=%2B15125550100&Body=Hi+Dana+%26+co&\
                 StatusCallback=https%3A%2F%2Fx.example%2Ftwilio%2Fstatus"
            )
        );
        let auth = &r.headers[0].1;
        assert_eq!(auth, "Basic QUMwMTIzOnNlY3JldC10b2tlbg==");
        assert!(
            !format!("{r:?}").contains("QUMw"),
            "Debug hides the credentials"
        );
        let service = request(
            "https://api.twilio.com",
            &Outgoing {
                account_sid: "AC1",
                auth_token: "t",
                from: "MG0123",
                to: "+14155550134",
                body: "b",
                status_callback: None,
            },
        );
        assert!(service.body.unwrap().contains("MessagingServiceSid=MG0123"));
    }

    #[test]
    fn twilios_answers_are_read_as_it_documents_them() {
        let sent = answer(&response(
            201,
            r#"{"sid":"SM1234","status":"queued","to":"+14155550134"}"#,
        ))
        .unwrap();
        assert_eq!(
            (sent.sid.as_str(), sent.status.as_str()),
            ("SM1234", "queued")
        );
        let e = answer(&response(
            400,
            r#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","more_info":"https://www.twilio.com/docs/errors/21610","status":400}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(&e, Error::Validation(m) if m.contains("21610")),
            "{e}"
        );
        let e = answer(&response(
            401,
            r#"{"code":20003,"message":"Authenticate","status":401}"#,
        ))
        .unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
        assert!(answer(&response(503, "<html>")).unwrap_err().is_retryable());
        assert!(answer(&response(429, "{}")).unwrap_err().is_retryable());
        // A number in Twilio's message is masked before it goes anywhere.
        let e = answer(&response(
            400,
            r#"{"code":21211,"message":"The 'To' number +14155550134 is not a valid phone number."}"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(!e.contains("4155550134"), "{e}");
    }

    #[test]
    fn a_lost_text_is_found_in_the_list_by_its_body_and_time() {
        let r = lookup("http://127.0.0.1:9", "AC1", "t", "+14155550134");
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages.json?To=%2B14155550134&PageSize=50"
        );
        let page = response(
            200,
            r#"{"messages": [
                {"sid": "SM3", "status": "sent", "body": "See you at 10", "date_created": "Fri, 04 Dec 2026 12:00:05 +0000"},
                {"sid": "SM2", "status": "delivered", "body": "See you at 10", "date_created": "Thu, 03 Dec 2026 12:00:00 +0000"},
                {"sid": "SM1", "status": "sent", "body": "Hello", "date_created": "Fri, 04 Dec 2026 12:00:06 +0000"}
            ], "page": 0, "page_size": 50}"#,
        );
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let found = find(&page, "See you at 10", at("2026-12-04T11:59:00Z")).unwrap();
        assert_eq!(found.map(|s| s.sid), Some("SM3".to_owned()));
        // The same words sent before the text was claimed are another text.
        assert_eq!(
            find(&page, "See you at 10", at("2026-12-04T12:01:00Z")).unwrap(),
            None
        );
        assert_eq!(
            find(&page, "Bye", at("2026-12-01T00:00:00Z")).unwrap(),
            None
        );
        assert!(matches!(
            find(&response(401, r#"{"code":20003}"#), "x", Utc::now()),
            Err(Error::Forbidden(_))
        ));
    }
}
