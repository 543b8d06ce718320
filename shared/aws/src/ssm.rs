//! Per-tenant secrets as SSM Parameter Store `SecureString` parameters, encrypted with the
//! account's `aws/ssm` key: `<prefix>/<tenant>/<name>`, the prefix (`SECRETS_PREFIX`) being
//! `/<stack>/tenants` as the template sets it, so each function's policy can name exactly the
//! parameters it may read. Standard parameters: free, up to 4 KB each.

use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::operation::delete_parameter::DeleteParameterError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::types::ParameterType;
use tracing::instrument;

use super::sdk_error;
use shared::domain::TenantId;
use shared::error::{Error, Result};
use shared::ports::{SecretName, SecretStore};

#[derive(Clone)]
pub struct SsmSecretStore {
    client: Client,
    prefix: String,
}

impl SsmSecretStore {
    pub fn new(client: Client, prefix: &str) -> Self {
        Self {
            client,
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
        let parameter = self.name(tenant, name);
        match self
            .client
            .get_parameter()
            .name(&parameter)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
            Err(err) => match err.as_service_error() {
                Some(GetParameterError::ParameterNotFound(_)) => Ok(None),
                _ => Err(sdk_error(&format!("SSM GetParameter {parameter}"), err)),
            },
        }
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
        let parameter = self.name(tenant, name);
        self.client
            .put_parameter()
            .name(&parameter)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("SSM PutParameter {parameter}"), e))?;
        Ok(())
    }

    #[instrument(name = "ssm.delete_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn delete_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<()> {
        let parameter = self.name(tenant, name);
        match self.client.delete_parameter().name(&parameter).send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(DeleteParameterError::ParameterNotFound(_)) => Ok(()),
                _ => Err(sdk_error(&format!("SSM DeleteParameter {parameter}"), err)),
            },
        }
    }
}
