//! leadscore on AWS: the ports over DynamoDB (`dynamo`), S3 (`s3`), SQS (`sqs`), SSM Parameter
//! Store (`ssm`, secrets) and Amazon Transcribe (`transcribe`); `Deployment`, what a function
//! knows of its deployment (table, bucket and queue names, limits), read from its environment;
//! and `lambda`, the Lambda events each function hands to `shared`'s handlers.
//!
//! The SDK honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`), so the same binaries
//! run against a local emulator; S3 is then addressed path-style, which emulators need.

mod dynamo;
pub mod gateway;
mod http;
mod idempotency;
pub mod lambda;
mod rate;
mod s3;
mod sdk;
mod sqs;
mod ssm;
mod transcribe;

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};

pub use dynamo::{DynamoStore, Tables};
pub use idempotency::{Claim, DynamoIdempotency};
pub use rate::DynamoRateLimiter;
pub use s3::S3BlobStore;
pub use sdk::lambda_config;
pub use sqs::SqsQueue;
pub use ssm::{Parameter, ParameterKind, Ssm, SsmSecretStore};
pub use transcribe::AmazonTranscribe;

use shared::adapters::oidc::{JwtSettings, SignInDraft, WebSignIn};
use shared::adapters::webhooks::HttpWebhookSender;
use shared::error::{Error, Result};
use shared::{Config, Deps};

/// What a function needs to know about its deployment, from environment variables set by the
/// SAM template.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub tables: Tables,
    pub idempotency_table: String,
    pub bucket: String,
    pub analyze_queue_url: String,
    pub score_queue_url: String,
    /// Where webhook attempts are queued (`WEBHOOK_QUEUE_URL`), for the webhooks function.
    pub webhook_queue_url: String,
    /// Where CRM pushes are queued (`CRM_QUEUE_URL`), for the webhooks function.
    pub crm_queue_url: String,
    /// Where tenants' secrets live in SSM Parameter Store (`SECRETS_PREFIX`, `/<stack>/tenants`).
    pub secrets_prefix: String,
    /// Where a queue consumer puts a message that failed for good (`DEAD_LETTER_QUEUE_URL`, its
    /// queue's dead-letter queue). Without it such a message is reported failed until SQS
    /// moves it there after its `maxReceiveCount`.
    pub dead_letter_queue_url: Option<String>,
    /// The dead-letter queue for CRM jobs (`CRM_DEAD_LETTER_QUEUE_URL`), where a function
    /// drains the CRM queue beside its own.
    pub crm_dead_letter_queue_url: Option<String>,
    /// Recordings and transcripts larger than this are refused (`MAX_OBJECT_BYTES`).
    pub max_object_bytes: u64,
    /// Ask Transcribe to redact PII in its output (`TRANSCRIBE_REDACT_PII`, true unless set
    /// to false).
    pub transcribe_redact_pii: bool,
    /// The language calls are in, as Transcribe names it (`TRANSCRIBE_LANGUAGE`, `en-US`).
    pub transcribe_language: String,
    /// The JWT claim that names the caller's tenant (`TENANT_CLAIM`, `tenant_id`).
    pub tenant_claim: String,
    /// The JWT claim that lists the caller's groups, of which `admin`, `rep` and `viewer` are
    /// roles (`ROLE_CLAIM`, `cognito:groups`).
    pub role_claim: String,
    /// Whose JWTs the authorizer accepts (`JWT_ISSUER`, `JWT_AUDIENCE`: app clients, comma
    /// separated, any when empty; `JWKS_URL`); none: API keys only.
    pub jwt: Option<JwtSettings>,
    /// The SSM parameter holding the web app's sign-in (`SIGN_IN_PARAMETER`; JSON: the app
    /// client's id and, for the stack's own user pool, its endpoints): the template cannot
    /// hand the API function the client's id directly (the client names the API's address,
    /// which names the function). None: the web app takes API keys only.
    pub sign_in_parameter: Option<String>,
    pub config: Config,
}

impl Deployment {
    /// 500 MiB: larger than a 4-hour 16 kHz mono WAV; Transcribe itself takes up to 2 GB.
    pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 500 * 1024 * 1024;

    /// Read the deployment from the process environment; the error names a missing variable.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the deployment through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let required = |name: &str| {
            var(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                Error::validation(format!(
                    "the environment variable {name} is not set; the SAM template sets it \
                     (infra/template.yaml)"
                ))
            })
        };
        let flag_or = |name: &str, unset: bool| -> Result<bool> {
            match var(name).as_deref().map(str::trim) {
                None | Some("") => Ok(unset),
                Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
                Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
                Some(v) => Err(Error::validation(format!(
                    "the environment variable {name} is `{v}`; use true or false"
                ))),
            }
        };
        let mut config = Config::default();
        if let Some(region) = var("DEFAULT_PHONE_REGION").filter(|r| !r.trim().is_empty()) {
            config.default_region = region.trim().to_ascii_uppercase();
        }
        config.keep_original_transcripts = flag_or("KEEP_ORIGINAL_TRANSCRIPTS", false)?;
        config.twilio_auth_token = var("TWILIO_AUTH_TOKEN").filter(|t| !t.trim().is_empty());
        config.public_url = var("PUBLIC_URL").filter(|u| !u.trim().is_empty());
        let mut config = config
            .oauth_apps_from(&var)
            .map_err(|why| Error::validation(format!("the environment: {why}")))?;
        if let Some(v) = var("METADATA_WAIT_SECONDS").filter(|v| !v.trim().is_empty()) {
            let seconds: u64 = v.trim().parse().map_err(|_| {
                Error::validation(format!(
                    "the environment variable METADATA_WAIT_SECONDS is `{v}`; use a number of seconds"
                ))
            })?;
            if seconds > 900 {
                return Err(Error::validation(format!(
                    "the environment variable METADATA_WAIT_SECONDS is {seconds}; at most 900 \
                     (15 minutes, the longest SQS holds the deadline)"
                )));
            }
            config.metadata_wait = std::time::Duration::from_secs(seconds);
        }
        for (name, limit) in [
            ("RATE_LIMIT_PER_MINUTE", &mut config.rate_limit_per_minute),
            (
                "KEY_RATE_LIMIT_PER_MINUTE",
                &mut config.key_rate_limit_per_minute,
            ),
        ] {
            if let Some(v) = var(name) {
                *limit = v.trim().parse().map_err(|_| {
                    Error::validation(format!(
                        "the environment variable {name} is `{v}`; use a number of requests (0 \
                         for no limit)"
                    ))
                })?;
            }
        }
        config.allow_private_webhook_targets = flag_or("ALLOW_PRIVATE_WEBHOOK_TARGETS", false)?;
        if let Some(v) = var("WEBHOOK_RETRY_SECONDS").filter(|v| !v.trim().is_empty()) {
            config.webhook_retry_delays =
                shared::config::parse_retry_seconds(&v).map_err(|why| {
                    Error::validation(format!(
                        "the environment variable WEBHOOK_RETRY_SECONDS is `{v}`: {why}"
                    ))
                })?;
        }
        if let Some(v) = var("RETRAIN_AFTER_OUTCOMES").filter(|v| !v.trim().is_empty()) {
            config.retrain_after_outcomes = v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    Error::validation(format!(
                        "the environment variable RETRAIN_AFTER_OUTCOMES is `{v}`, not a number \
                         of outcomes from 1 to 1,000,000"
                    ))
                })?;
        }
        let max_object_bytes = match var("MAX_OBJECT_BYTES") {
            None => Self::DEFAULT_MAX_OBJECT_BYTES,
            Some(v) => v.trim().parse().map_err(|_| {
                Error::validation(format!(
                    "the environment variable MAX_OBJECT_BYTES is `{v}`; use a number of bytes"
                ))
            })?,
        };
        Ok(Self {
            tables: Tables {
                leads: required("LEADS_TABLE")?,
                calls: required("CALLS_TABLE")?,
                rules: required("RULES_TABLE")?,
                audit: required("AUDIT_TABLE")?,
                usage: required("USAGE_TABLE")?,
                webhooks: required("WEBHOOKS_TABLE")?,
            },
            idempotency_table: required("IDEMPOTENCY_TABLE")?,
            bucket: required("BUCKET")?,
            analyze_queue_url: required("ANALYZE_QUEUE_URL")?,
            score_queue_url: required("SCORE_QUEUE_URL")?,
            webhook_queue_url: required("WEBHOOK_QUEUE_URL")?,
            crm_queue_url: required("CRM_QUEUE_URL")?,
            secrets_prefix: required("SECRETS_PREFIX")?,
            dead_letter_queue_url: var("DEAD_LETTER_QUEUE_URL").filter(|u| !u.trim().is_empty()),
            crm_dead_letter_queue_url: var("CRM_DEAD_LETTER_QUEUE_URL")
                .filter(|u| !u.trim().is_empty()),
            max_object_bytes,
            transcribe_redact_pii: flag_or("TRANSCRIBE_REDACT_PII", true)?,
            transcribe_language: var("TRANSCRIBE_LANGUAGE")
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| "en-US".to_owned()),
            tenant_claim: var("TENANT_CLAIM")
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| "tenant_id".to_owned()),
            role_claim: var("ROLE_CLAIM")
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| "cognito:groups".to_owned()),
            jwt: var("JWT_ISSUER")
                .map(|i| i.trim().trim_end_matches('/').to_owned())
                .filter(|i| !i.is_empty())
                .map(|issuer| JwtSettings {
                    jwks_url: var("JWKS_URL")
                        .filter(|u| !u.trim().is_empty())
                        .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                    audiences: var("JWT_AUDIENCE")
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    issuer,
                }),
            sign_in_parameter: var("SIGN_IN_PARAMETER").filter(|p| !p.trim().is_empty()),
            config,
        })
    }
}

/// The SDK's configuration loader over one HTTPS client, reqwest's (HTTP/1.1, rustls on ring;
/// `http.rs`): the SDK's default client is left out of the build (see the workspace Cargo.toml).
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http::client())
}

/// The handlers' dependencies on AWS, plus the idempotency store the event glue uses.
#[derive(Clone)]
pub struct AwsApp {
    pub deps: Deps,
    pub sqs: SqsQueue,
    pub idempotency: DynamoIdempotency,
    pub transcribe: AmazonTranscribe,
    pub deployment: Deployment,
    /// The SDK configuration the clients were made from.
    sdk: SdkConfig,
    /// The web app's sign-in, made on first use ([`AwsApp::web_sign_in`]).
    sign_in: Arc<OnceLock<Option<Arc<WebSignIn>>>>,
}

impl AwsApp {
    /// Connect the adapters. S3 is addressed path-style when an endpoint is overridden (an
    /// emulator), virtual-hosted otherwise.
    pub fn new(sdk: &SdkConfig, deployment: Deployment) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk::endpoint_override(sdk, "S3").is_some())
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);
        let store = DynamoStore::new(dynamo.clone(), deployment.tables.clone());
        let transcribe = AmazonTranscribe::new(
            aws_sdk_transcribe::Client::new(sdk),
            s3.clone(),
            deployment.bucket.clone(),
            &deployment.transcribe_language,
            deployment.transcribe_redact_pii,
        );
        let sqs = SqsQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            deployment.analyze_queue_url.clone(),
            deployment.score_queue_url.clone(),
            deployment.webhook_queue_url.clone(),
            deployment.crm_queue_url.clone(),
        );
        let outbound = Arc::new(HttpWebhookSender::new(
            deployment.config.allow_private_webhook_targets,
        ));
        let deps = Deps {
            leads: Arc::new(store.clone()),
            calls: Arc::new(store.clone()),
            rules: Arc::new(store.clone()),
            keys: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            usage: Arc::new(store.clone()),
            webhooks: Arc::new(store.clone()),
            crm: Arc::new(store.clone()),
            sender: outbound.clone(),
            http: outbound,
            sms: Arc::new(store),
            blobs: Arc::new(S3BlobStore::new(s3.clone(), deployment.bucket.clone())),
            secrets: Arc::new(SsmSecretStore::new(
                Ssm::new(sdk),
                &deployment.secrets_prefix,
            )),
            queue: Arc::new(sqs.clone()),
            transcriber: Arc::new(transcribe.clone()),
            rate: Arc::new(DynamoRateLimiter::new(
                dynamo.clone(),
                deployment.idempotency_table.clone(),
            )),
            config: deployment.config.clone(),
        };
        Self {
            deps,
            sqs,
            idempotency: DynamoIdempotency::new(dynamo, deployment.idempotency_table.clone()),
            transcribe,
            deployment,
            sdk: sdk.clone(),
            sign_in: Arc::default(),
        }
    }

    /// The web app's sign-in, when the deployment has one: what the web function serves at
    /// `/app/sign-in.json` (`lambda::web`), read from the stack's SSM parameter once for the
    /// app's life. Made there alone, so no other function carries it.
    pub fn web_sign_in(&self) -> Option<Arc<WebSignIn>> {
        self.sign_in
            .get_or_init(|| {
                let jwt = self.deployment.jwt.as_ref()?;
                let parameter = self.deployment.sign_in_parameter.clone()?;
                let ssm = Ssm::new(&self.sdk);
                Some(Arc::new(WebSignIn::new(&jwt.issuer, move || {
                    let (ssm, parameter) = (ssm.clone(), parameter.clone());
                    Box::pin(async move { sign_in_draft(&ssm, &parameter).await })
                })))
            })
            .clone()
    }

    /// Everything from the environment: what a function does once, at start (the SDK's
    /// configuration from Lambda's variables alone, [`lambda_config`]).
    pub fn from_env() -> Result<Self> {
        let deployment = Deployment::from_env()?;
        let sdk = lambda_config(&aws_types::os_shim_internal::Env::real())?;
        Ok(Self::new(&sdk, deployment))
    }
}

/// The web app's sign-in as the template wrote it into `parameter`.
async fn sign_in_draft(ssm: &Ssm, parameter: &str) -> Result<SignInDraft> {
    let value = ssm
        .get_parameter(parameter, false)
        .await?
        .map(|p| p.value)
        .unwrap_or_default();
    serde_json::from_str(&value).map_err(|e| {
        Error::internal(
            format!("the SSM parameter {parameter} is not the web app's sign-in"),
            e.to_string(),
        )
    })
}

/// Turn an SDK error into ours: throttling, timeouts and 5xx are worth retrying; anything else
/// is a bug in how we call AWS (or a missing resource) and is reported with its message.
pub(crate) fn sdk_error<E, R>(what: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static + aws_sdk_dynamodb::error::ProvideErrorMetadata,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::error::SdkError;
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or_default();
            code.contains("Throttl")
                || code.contains("ProvisionedThroughputExceeded")
                || code == "RequestLimitExceeded"
                || code == "InternalServerError"
                || code == "ServiceUnavailable"
                || code == "SlowDown"
                || code == "LimitExceededException"
                || code == "TransactionConflict"
                || code == "TransactionInProgressException"
        }
        _ => false,
    };
    let message = match &err {
        SdkError::ServiceError(e) => format!(
            "{what}: {}: {}",
            e.err().code().unwrap_or("error"),
            e.err().message().unwrap_or("no message")
        ),
        other => format!("{what}: {other}"),
    };
    if retryable {
        Error::transient(message, err)
    } else {
        Error::internal(message, err)
    }
}
