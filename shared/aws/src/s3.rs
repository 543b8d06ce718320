//! Recordings and transcripts in an S3 bucket.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;

use super::sdk_error;
use tracing::instrument;

use shared::error::{Error, Result};
use shared::ports::{BlobInfo, BlobStore};

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    #[instrument(name = "s3.put", level = "debug", skip_all, fields(key = %key, bytes = bytes.len()))]
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .map_err(|e| sdk_error(&format!("S3 PutObject {key}"), e))?;
        Ok(())
    }

    #[instrument(name = "s3.list", level = "debug", skip_all, fields(prefix = %prefix))]
    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("S3 ListObjectsV2 {prefix}"), e))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(BlobInfo {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    fingerprint: o.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
                })
            })
            .collect())
    }

    #[instrument(name = "s3.delete", level = "debug", skip_all, fields(key = %key))]
    async fn delete(&self, key: &str) -> Result<()> {
        // S3 answers a missing key's delete with success too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("S3 DeleteObject {key}"), e))?;
        Ok(())
    }

    #[instrument(name = "s3.get", level = "debug", skip_all, fields(key = %key))]
    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => {
                return Err(match err.as_service_error() {
                    Some(GetObjectError::NoSuchKey(_)) => Error::not_found(format!("blob {key}")),
                    _ => sdk_error(&format!("S3 GetObject {key}"), err),
                });
            }
        };
        let body =
            out.body.collect().await.map_err(|e| {
                Error::transient(format!("S3 GetObject {key}: the body broke off"), e)
            })?;
        Ok(body.into_bytes().to_vec())
    }

    #[instrument(name = "s3.download_url", level = "debug", skip_all, fields(key = %key))]
    async fn download_url(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::validation(format!("download URL lifetime: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| sdk_error(&format!("S3 presign GetObject {key}"), e))?;
        Ok(Some(request.uri().to_owned()))
    }

    #[instrument(name = "s3.upload_url", level = "debug", skip_all, fields(key = %key))]
    async fn upload_url(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::validation(format!("upload URL lifetime: {e}")))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| sdk_error(&format!("S3 presign PutObject {key}"), e))?;
        Ok(Some(request.uri().to_owned()))
    }
}
