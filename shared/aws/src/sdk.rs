//! The SDK's configuration in a function, from Lambda's environment alone.
//!
//! Lambda hands a function its region (`AWS_REGION`) and its role's credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) in the environment, for
//! the life of the execution environment. aws-config's default chains would find them there
//! too, but only after looking for profile files, and they link every other source they know
//! (SSO, STS web identity, the container and instance metadata services, profile parsing):
//! code a function never runs, carried in every package and paged in at start.
//!
//! So a function's configuration is built here from those variables, with what aws-config's
//! loader would set for the same behaviour version: standard retries (3 attempts), a 3.1 s
//! connect timeout, and `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (a local emulator;
//! ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true). The clients' own defaults give
//! the rest as the loader would (the lazy identity cache, Tokio's sleep, the system clock).
//! Tests and tools keep aws-config's loader ([`crate::loader`]).

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_runtime::env_config::EnvConfigValue;
use aws_sdk_dynamodb::config::{
    Credentials, Region, SharedCredentialsProvider, retry::RetryConfig, timeout::TimeoutConfig,
};
use aws_types::os_shim_internal::Env;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use shared::error::{Error, Result};

/// What aws-config's loader gives a client to connect within (its `SDK_DEFAULT_CONNECT_TIMEOUT`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The SDK's configuration from `env` (the process environment on Lambda); the error names the
/// variable that is missing.
pub fn lambda_config(env: &Env) -> Result<SdkConfig> {
    let var = |name: &str| env.get(name).ok().filter(|v| !v.trim().is_empty());
    let required = |name: &str| {
        var(name).ok_or_else(|| {
            Error::validation(format!(
                "the environment variable {name} is not set; Lambda sets it for every function"
            ))
        })
    };
    let region = match var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
        Some(region) => region,
        None => required("AWS_REGION")?,
    };
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "the Lambda environment",
    );
    let ignore_endpoints = var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .http_client(crate::http::client())
        .service_config(EnvEndpoints {
            env: env.clone(),
            ignore: ignore_endpoints,
        });
    if !ignore_endpoints && let Some(url) = var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// The endpoint `sdk` gives the service `service_id` (`"S3"`, `"SSM"`), as the SDK's generated
/// clients resolve it: its `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`; `None` for
/// AWS's own.
pub(crate) fn endpoint_override(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    sdk.service_config()
        .and_then(|conf| {
            let key = ServiceConfigKey::builder()
                .service_id(service_id)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .expect("every field is set");
            conf.load_config(key)
        })
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// `AWS_ENDPOINT_URL_<SERVICE>` for each client, read as aws-config reads it (environment only:
/// a function has no profile files).
#[derive(Debug)]
struct EnvEndpoints {
    env: Env,
    ignore: bool,
}

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if self.ignore && key.env() == "AWS_ENDPOINT_URL" {
            return None;
        }
        let (value, _) = EnvConfigValue::new()
            .env(key.env())
            .profile(key.profile())
            .service_id(key.service_id())
            .load(&self.env, None)?;
        Some(value.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::ProvideCredentials;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_slice(vars)
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[tokio::test]
    async fn a_function_signs_with_its_roles_credentials_in_its_region() {
        let config = lambda_config(&env(&LAMBDA)).unwrap();
        assert_eq!(config.region().unwrap().as_ref(), "eu-west-1");
        let credentials = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
        assert_eq!(config.endpoint_url(), None);
        assert_eq!(config.retry_config().unwrap().max_attempts(), 3);
        assert_eq!(
            config.timeout_config().unwrap().connect_timeout(),
            Some(CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn an_emulators_endpoint_is_taken_unless_configured_endpoints_are_ignored() {
        let mut vars = LAMBDA.to_vec();
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"));
        vars.push(("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"));
        let config = lambda_config(&env(&vars)).unwrap();
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            endpoint_override(&config, "S3").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            endpoint_override(&config, "SSM").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        let config = lambda_config(&env(&vars)).unwrap();
        assert_eq!(config.endpoint_url(), None);
        assert_eq!(endpoint_override(&config, "S3"), None);
    }

    #[test]
    fn a_missing_variable_is_named() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<_> = LAMBDA.into_iter().filter(|(k, _)| *k != missing).collect();
            let err = lambda_config(&env(&vars)).unwrap_err().to_string();
            assert!(err.contains(missing), "{missing}: {err}");
        }
        // Without a session token the keys are long-term ones, as aws-config takes them.
        let vars: Vec<_> = LAMBDA
            .into_iter()
            .filter(|(k, _)| *k != "AWS_SESSION_TOKEN")
            .collect();
        assert!(lambda_config(&env(&vars)).is_ok());
    }
}
