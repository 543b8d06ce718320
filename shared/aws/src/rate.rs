//! Rate limits across every instance of the API function: a counter per key and window in the
//! idempotency table (`id` = `rate#<key>#<window>`), raised with one atomic `ADD` per request
//! and expiring an hour after its window by the table's TTL.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::Utc;
use tracing::instrument;

use super::sdk_error;
use shared::error::{Error, Result};
use shared::ports::{Admission, RateLimiter, fixed_window};

pub struct DynamoRateLimiter {
    client: Client,
    table: String,
}

impl DynamoRateLimiter {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

#[async_trait]
impl RateLimiter for DynamoRateLimiter {
    #[instrument(name = "dynamo.admit", level = "debug", skip_all, fields(key = %key))]
    async fn admit(&self, key: &str, limit: u32, window: Duration) -> Result<Admission> {
        let now = Utc::now();
        let (index, left) = fixed_window(now, window);
        let expires = (now + left).timestamp() + 3600;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(format!("rate#{key}#{index}")))
            .update_expression("ADD hits :one SET expiration = if_not_exists(expiration, :exp)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":exp", AttributeValue::N(expires.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB UpdateItem (rate limit)", e))?;
        let hits: u64 = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                Error::internal(
                    "DynamoDB gave back no count for a rate limit",
                    std::fmt::Error,
                )
            })?;
        Ok(if hits <= u64::from(limit) {
            Admission::Admitted
        } else {
            Admission::Limited { retry_after: left }
        })
    }
}
