//! Per-tenant secrets as SSM Parameter Store `SecureString` parameters, encrypted with the
//! account's `aws/ssm` key: `<prefix>/<tenant>/<name>`, the prefix (`SECRETS_PREFIX`) being
//! `/<stack>/tenants` as the template sets it, so each function's policy can name exactly the
//! parameters it may read. Standard parameters: free, up to 4 KB each.
//!
//! The three SSM operations leadscore uses (GetParameter, PutParameter, DeleteParameter) are sent
//! by `Ssm`, a client on the SDK's own runtime (`aws-smithy-runtime`'s `Operation`: the same HTTP
//! client, credentials, SigV4 signer, retries and timeouts as the generated clients) instead of
//! `aws-sdk-ssm`. That crate generates all of SSM's ~150 operations: it was the longest crate in
//! both the test build and the functions' arm64 build (63 s of one core each) and in every
//! function's package, for three JSON calls. What is written here is only the JSON 1.1 protocol
//! of those three: a body, a target header and the error's `__type`.

use async_trait::async_trait;
use aws_runtime::auth::SigV4OperationSigningConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4AuthScheme};
use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{
    HttpStatusCodeClassifier, TransientErrorClassifier,
};
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::auth::{
    AuthSchemeOptionResolverParams, SharedAuthScheme, SharedAuthSchemeOptionResolver,
};
use aws_smithy_runtime_api::client::identity::SharedIdentityResolver;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::{SharedRuntimePlugin, StaticRuntimePlugin};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{FrozenLayer, Layer};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::{Region, SigningRegion};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::instrument;

use super::sdk_error;
use shared::domain::TenantId;
use shared::error::{Error, Result};
use shared::ports::{SecretName, SecretStore};

/// SSM's JSON 1.1 operations take a JSON object and answer with one.
type Call = Operation<Value, Value, ErrorMetadata>;

/// A parameter as GetParameter answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    pub name: String,
    /// `String`, `StringList` or `SecureString`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Decrypted when asked with decryption.
    pub value: String,
    pub version: i64,
}

/// A client of the three SSM operations leadscore calls.
#[derive(Clone)]
pub struct Ssm {
    get: Call,
    put: Call,
    delete: Call,
}

impl Ssm {
    /// Everything from `sdk`: HTTP client, credentials, region, endpoint (`AWS_ENDPOINT_URL_SSM`
    /// or `AWS_ENDPOINT_URL` when set, as the SDK's clients take it), retries, timeouts.
    pub fn new(sdk: &SdkConfig) -> Self {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = crate::sdk::endpoint_override(sdk, "SSM")
            .unwrap_or_else(|| format!("https://ssm.{region}.amazonaws.com"));
        let signing = signing(sdk, &region);
        let operation = |name: &'static str| build(sdk, &endpoint, signing.clone(), name);
        Self {
            get: operation("GetParameter"),
            put: operation("PutParameter"),
            delete: operation("DeleteParameter"),
        }
    }

    /// The parameter `name`, decrypted when `decrypt`; `None` when there is none.
    pub async fn get_parameter(&self, name: &str, decrypt: bool) -> Result<Option<Parameter>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            parameter: Parameter,
        }
        let body = serde_json::json!({ "Name": name, "WithDecryption": decrypt });
        match self.get.invoke(body).await {
            Ok(answer) => serde_json::from_value::<Answer>(answer)
                .map(|a| Some(a.parameter))
                .map_err(|e| {
                    Error::internal(
                        format!("SSM GetParameter {name}: an answer without its parameter"),
                        e.to_string(),
                    )
                }),
            Err(err) if not_found(&err) => Ok(None),
            Err(err) => Err(sdk_error(&format!("SSM GetParameter {name}"), err)),
        }
    }

    /// Write `value` to `name` (replacing what is there) as `kind`.
    pub async fn put_parameter(&self, name: &str, value: &str, kind: ParameterKind) -> Result<()> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Put<'a> {
            name: &'a str,
            value: &'a str,
            #[serde(rename = "Type")]
            kind: ParameterKind,
            overwrite: bool,
        }
        let body = serde_json::to_value(Put {
            name,
            value,
            kind,
            overwrite: true,
        })
        .expect("a parameter is JSON");
        self.put
            .invoke(body)
            .await
            .map_err(|e| sdk_error(&format!("SSM PutParameter {name}"), e))?;
        Ok(())
    }

    /// Delete `name`; whether it was there.
    pub async fn delete_parameter(&self, name: &str) -> Result<bool> {
        match self
            .delete
            .invoke(serde_json::json!({ "Name": name }))
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if not_found(&err) => Ok(false),
            Err(err) => Err(sdk_error(&format!("SSM DeleteParameter {name}"), err)),
        }
    }
}

/// A parameter's type as PutParameter takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParameterKind {
    String,
    SecureString,
}

fn not_found(err: &SdkError<ErrorMetadata, HttpResponse>) -> bool {
    err.as_service_error().and_then(ErrorMetadata::code) == Some("ParameterNotFound")
}

/// SigV4 for `ssm` in the region, with the SDK's credentials and identity cache.
fn signing(sdk: &SdkConfig, region: &str) -> SharedRuntimePlugin {
    let mut layer = Layer::new("ssm-signing");
    layer.store_put(SigV4OperationSigningConfig {
        region: Some(SigningRegion::from(Region::new(region.to_owned()))),
        name: Some(aws_types::SigningName::from_static("ssm")),
        ..Default::default()
    });
    layer.store_put(AuthSchemeOptionResolverParams::new(()));
    let mut components = RuntimeComponentsBuilder::new("ssm-signing")
        .with_auth_scheme(SharedAuthScheme::new(SigV4AuthScheme::new()))
        .with_auth_scheme_option_resolver(Some(SharedAuthSchemeOptionResolver::new(
            StaticAuthSchemeOptionResolver::new(vec![SCHEME_ID]),
        )))
        .with_identity_cache(Some(
            sdk.identity_cache()
                .unwrap_or_else(|| IdentityCache::lazy().build()),
        ));
    if let Some(credentials) = sdk.credentials_provider() {
        components =
            components.with_identity_resolver(SCHEME_ID, SharedIdentityResolver::new(credentials));
    }
    SharedRuntimePlugin::new(
        StaticRuntimePlugin::new()
            .with_config(FrozenLayer::from(layer))
            .with_runtime_components(components),
    )
}

/// One operation: `AmazonSSM.<name>` in JSON 1.1, errors by their `__type`.
fn build(
    sdk: &SdkConfig,
    endpoint: &str,
    signing: SharedRuntimePlugin,
    name: &'static str,
) -> Call {
    let mut builder = Operation::builder()
        .service_name("ssm")
        .operation_name(name)
        .endpoint_url(endpoint)
        .standard_retry(
            &sdk.retry_config()
                .cloned()
                .unwrap_or_else(RetryConfig::standard),
        )
        .timeout_config(
            sdk.timeout_config()
                .cloned()
                .unwrap_or_else(TimeoutConfig::disabled),
        )
        .retry_classifier(HttpStatusCodeClassifier::default())
        .retry_classifier(TransientErrorClassifier::<ErrorMetadata>::new())
        .retry_classifier(AwsErrorCodeClassifier::<ErrorMetadata>::new())
        .runtime_plugin(signing);
    if let Some(bv) = sdk.behavior_version() {
        builder = builder.behavior_version(bv);
    }
    if let Some(client) = sdk.http_client() {
        builder = builder.http_client(client);
    }
    if let Some(sleep) = sdk.sleep_impl() {
        builder = builder.sleep_impl(sleep);
    }
    if let Some(time) = sdk.time_source() {
        builder = builder.time_source(time);
    }
    builder
        .serializer(move |body: Value| {
            let mut request = HttpRequest::new(SdkBody::from(body.to_string()));
            request.set_method("POST")?;
            request.set_uri("/")?;
            let headers = request.headers_mut();
            headers.insert("content-type", "application/x-amz-json-1.1");
            headers.insert("x-amz-target", format!("AmazonSSM.{name}"));
            Ok(request)
        })
        .deserializer(|response: &HttpResponse| {
            let body: Value = response
                .body()
                .bytes()
                .filter(|b| !b.is_empty())
                .map(serde_json::from_slice)
                .transpose()
                .map_err(|e| OrchestratorError::response(e.into()))?
                .unwrap_or(Value::Null);
            if response.status().is_success() {
                return Ok(body);
            }
            // `__type` may carry a namespace: `com.amazonaws.ssm#ParameterNotFound`.
            let code = body["__type"]
                .as_str()
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
                .unwrap_or_else(|| format!("HTTP {}", response.status().as_u16()));
            let message = body["message"]
                .as_str()
                .or(body["Message"].as_str())
                .unwrap_or_default();
            Err(OrchestratorError::operation(
                ErrorMetadata::builder().code(code).message(message).build(),
            ))
        })
        .build()
}

#[derive(Clone)]
pub struct SsmSecretStore {
    ssm: Ssm,
    prefix: String,
}

impl SsmSecretStore {
    pub fn new(ssm: Ssm, prefix: &str) -> Self {
        Self {
            ssm,
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    fn name(&self, tenant: &TenantId, secret: &SecretName) -> String {
        format!("{}/{tenant}/{secret}", self.prefix)
    }
}

#[async_trait]
impl SecretStore for SsmSecretStore {
    #[instrument(name = "ssm.get_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn get_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<Option<String>> {
        let parameter = self
            .ssm
            .get_parameter(&self.name(tenant, name), true)
            .await?;
        Ok(parameter.map(|p| p.value))
    }

    // The value is never a field: it is the secret.
    #[instrument(name = "ssm.put_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn put_secret(&self, tenant: &TenantId, name: &SecretName, value: &str) -> Result<()> {
        if value.len() > 4096 {
            return Err(Error::validation(format!(
                "the secret {name} is {} bytes; at most 4096 are kept",
                value.len()
            )));
        }
        self.ssm
            .put_parameter(&self.name(tenant, name), value, ParameterKind::SecureString)
            .await
    }

    #[instrument(name = "ssm.delete_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn delete_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<()> {
        self.ssm.delete_parameter(&self.name(tenant, name)).await?;
        Ok(())
    }
}
