//! Settings that are the same for every request of a process.

use std::sync::Arc;

use crate::analysis::topics::Vocabulary;
use crate::domain::{Crm, TenantId, TierThresholds};

#[derive(Debug, Clone)]
pub struct Config {
    /// The tenant requests act for where no authentication names one (local mode).
    pub tenant: TenantId,
    /// Where numbers written without a country code are from (ISO 3166, e.g. "US").
    pub default_region: String,
    pub tiers: TierThresholds,
    /// Keep transcripts as delivered. Off by default: stored transcripts have phone numbers,
    /// e-mail addresses, card and social security numbers masked, and the delivered file is
    /// not kept.
    pub keep_original_transcripts: bool,
    /// The tenant's tracked keywords and topics (added to the default taxonomy), compiled
    /// once: `Vocabulary::new(&keywords, &topics)`.
    pub vocabulary: Arc<Vocabulary>,
    /// The Twilio auth token that signs webhooks for tenants that saved none of their own
    /// (`TWILIO_AUTH_TOKEN`).
    pub twilio_auth_token: Option<String>,
    /// Twilio's REST API, where texts are sent (`https://api.twilio.com`; `TWILIO_API_URL`
    /// for a stand-in, in tests).
    pub twilio_api_url: String,
    /// The address Twilio calls the API at (`PUBLIC_URL`, e.g. `https://sms.example.com`),
    /// when it is not what the request's Host header says (a proxy, a path mapping): the
    /// signature covers the URL as Twilio sees it.
    pub public_url: Option<String>,
    /// How long a recording or transcript that does not say who called waits for its sidecar
    /// (`<stem>.meta.json`) before it is failed, and a sidecar for its recording: uploads are
    /// not ordered (15 minutes; `METADATA_WAIT_SECONDS` on AWS).
    pub metadata_wait: std::time::Duration,
    /// Web origins whose pages may call the API from a browser (`leadscore serve
    /// --cors-origin`; checked by `handlers::api::cors`). On AWS, API Gateway answers for CORS
    /// (the template's `CorsAllowOrigins`), so the API function leaves this empty.
    pub cors_origins: Vec<String>,
    /// How many API requests a tenant may make in a minute before it is answered 429 with
    /// `Retry-After` (600; 0 for no limit; `serve --rate-limit`, `RATE_LIMIT_PER_MINUTE` on
    /// AWS). API Gateway's stage throttle still applies to all tenants together.
    pub rate_limit_per_minute: u32,
    /// How many of them one API key may make (300; 0 for no limit of its own; `serve
    /// --key-rate-limit`, `KEY_RATE_LIMIT_PER_MINUTE` on AWS): a runaway integration does not
    /// spend the whole tenant's allowance.
    pub key_rate_limit_per_minute: u32,
    /// Whether webhooks may go to loopback, private and link-local addresses, and over plain
    /// http: yes locally (a receiver on this machine or the office network), never on AWS
    /// (`ALLOW_PRIVATE_WEBHOOK_TARGETS`, for tests against an emulator only).
    pub allow_private_webhook_targets: bool,
    /// The waits between a delivery's attempts after the first (`DEFAULT_RETRY_DELAYS`: eight
    /// attempts over 23 h 35 min; `serve --webhook-retry-seconds`, `WEBHOOK_RETRY_SECONDS` on
    /// AWS). When the last fails, the delivery has failed.
    pub webhook_retry_delays: Vec<std::time::Duration>,
    /// How many outcomes must arrive after the model in force was trained before a challenger
    /// is trained (50; `RETRAIN_AFTER_OUTCOMES` on AWS, `--retrain-after` locally).
    pub retrain_after_outcomes: usize,
    /// The deployment's OAuth apps, by CRM, through which a tenant connects on the CRM's own
    /// consent screen (`POST /integrations/{crm}/authorize`) without an app of its own
    /// (`HUBSPOT_CLIENT_ID` and `HUBSPOT_CLIENT_SECRET`, likewise `PIPEDRIVE_` and
    /// `SALESFORCE_`: see [`Config::oauth_apps_from`]).
    pub oauth_apps: std::collections::BTreeMap<Crm, OAuthApp>,
    /// Where HubSpot's and Pipedrive's consent screens (and Pipedrive's token endpoint) are:
    /// `https://app.hubspot.com` and `https://oauth.pipedrive.com` unless set
    /// (`HUBSPOT_OAUTH_URL`, `PIPEDRIVE_OAUTH_URL`: a stand-in, in tests). Salesforce's are on
    /// the connection's login host.
    pub oauth_urls: std::collections::BTreeMap<Crm, String>,
}

/// An OAuth app (HubSpot public app, Pipedrive app, Salesforce connected app). Its `Debug`
/// leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Waits written as whole seconds, comma-separated (`5,300,1800`): at most 20, each at most a
/// day.
pub fn parse_retry_seconds(text: &str) -> Result<Vec<std::time::Duration>, String> {
    let delays = text
        .split(',')
        .map(|part| match part.trim().parse::<u64>() {
            Ok(s) if (1..=86_400).contains(&s) => Ok(std::time::Duration::from_secs(s)),
            _ => Err(format!(
                "`{part}` is not a wait in seconds from 1 to 86400 (write them comma-separated)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if delays.len() > 20 {
        return Err("at most 20 waits".to_owned());
    }
    Ok(delays)
}

impl Config {
    /// The OAuth apps and vendor addresses the environment gives through `var`
    /// (`<CRM>_CLIENT_ID` with `<CRM>_CLIENT_SECRET`, `<CRM>_OAUTH_URL`, `TWILIO_API_URL`); an
    /// id without its secret, or the reverse, is an error naming both.
    pub fn oauth_apps_from(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        for crm in Crm::ALL {
            let prefix = crm.as_str().to_ascii_uppercase();
            let (id, secret) = (
                format!("{prefix}_CLIENT_ID"),
                format!("{prefix}_CLIENT_SECRET"),
            );
            match (set(&id), set(&secret)) {
                (Some(client_id), Some(client_secret)) => {
                    self.oauth_apps.insert(
                        crm,
                        OAuthApp {
                            client_id,
                            client_secret,
                        },
                    );
                }
                (None, None) => {}
                _ => {
                    return Err(format!(
                        "{id} and {secret} are set together (the {} app's client id and secret), or neither",
                        crm.name()
                    ));
                }
            }
            if let Some(url) = set(&format!("{prefix}_OAUTH_URL")) {
                self.oauth_urls
                    .insert(crm, url.trim_end_matches('/').to_owned());
            }
        }
        if let Some(url) = set("TWILIO_API_URL") {
            self.twilio_api_url = url.trim_end_matches('/').to_owned();
        }
        Ok(self)
    }

    /// Where `crm`'s consent screen is (HubSpot, Pipedrive; Salesforce's is on the
    /// connection's login host).
    pub fn oauth_url(&self, crm: Crm) -> &str {
        self.oauth_urls
            .get(&crm)
            .map_or(crm.default_oauth_url(), String::as_str)
    }

    pub const DEFAULT_METADATA_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);
    pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;
    pub const DEFAULT_KEY_RATE_LIMIT_PER_MINUTE: u32 = 300;
    pub const DEFAULT_RETRAIN_AFTER_OUTCOMES: usize = 50;
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tenant: TenantId::default_tenant(),
            default_region: "US".to_owned(),
            tiers: TierThresholds::default(),
            keep_original_transcripts: false,
            vocabulary: Vocabulary::shared_default(),
            twilio_auth_token: None,
            twilio_api_url: crate::sms::messages::DEFAULT_API_URL.to_owned(),
            public_url: None,
            metadata_wait: Self::DEFAULT_METADATA_WAIT,
            cors_origins: Vec::new(),
            rate_limit_per_minute: Self::DEFAULT_RATE_LIMIT_PER_MINUTE,
            key_rate_limit_per_minute: Self::DEFAULT_KEY_RATE_LIMIT_PER_MINUTE,
            allow_private_webhook_targets: false,
            webhook_retry_delays: crate::domain::DEFAULT_RETRY_DELAYS.to_vec(),
            retrain_after_outcomes: Self::DEFAULT_RETRAIN_AFTER_OUTCOMES,
            oauth_apps: Default::default(),
            oauth_urls: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_apps_come_from_the_environment_in_pairs() {
        let env = |pairs: &[(&str, &str)]| {
            let map: std::collections::HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |name: &str| map.get(name).cloned()
        };
        let config = Config::default()
            .oauth_apps_from(env(&[
                ("HUBSPOT_CLIENT_ID", "id"),
                ("HUBSPOT_CLIENT_SECRET", "secret"),
                ("PIPEDRIVE_CLIENT_ID", " "),
                ("PIPEDRIVE_OAUTH_URL", "http://127.0.0.1:9/"),
            ]))
            .unwrap();
        assert_eq!(config.oauth_apps[&Crm::Hubspot].client_id, "id");
        assert!(
            !config.oauth_apps.contains_key(&Crm::Pipedrive),
            "empty is unset"
        );
        assert_eq!(config.oauth_url(Crm::Pipedrive), "http://127.0.0.1:9");
        assert_eq!(config.oauth_url(Crm::Hubspot), "https://app.hubspot.com");
        assert!(
            !format!("{config:?}").contains("secret"),
            "Debug leaves the secret out"
        );
        let half = Config::default()
            .oauth_apps_from(env(&[("SALESFORCE_CLIENT_ID", "id")]))
            .unwrap_err();
        assert!(half.contains("SALESFORCE_CLIENT_SECRET"), "{half}");
    }
}
