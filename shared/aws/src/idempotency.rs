//! Idempotency records, in the manner of Powertools for AWS Lambda: before an event is handled
//! its key is claimed (`INPROGRESS`, for as long as a function may run); once handled it is
//! marked `COMPLETED` and kept for a while, so a redelivery within that time is skipped
//! outright; a failure releases the claim (`RELEASED`, claimable again) so that the retry runs. Records expire through the
//! table's TTL on `expiration`.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use sha2::{Digest, Sha256};

use super::dynamo::s;
use super::sdk_error;
use shared::error::Result;

/// What claiming an event's key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody handled it yet: handle it, then `complete` (or `release` on failure).
    Acquired,
    /// Handled before: skip it.
    Completed,
    /// Being handled right now by another invocation: try again later.
    InProgress,
}

#[derive(Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

fn epoch(after: Duration) -> AttributeValue {
    let at = chrono::Utc::now().timestamp() + after.as_secs() as i64;
    AttributeValue::N(at.to_string())
}

impl DynamoIdempotency {
    /// How long a completed record keeps redeliveries away.
    pub const KEEP: Duration = Duration::from_secs(24 * 3600);

    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The record key for an event: its kind and a digest of what identifies it.
    pub fn key(kind: &str, identity: &str) -> String {
        format!(
            "{kind}#{}",
            hex::encode(Sha256::digest(identity.as_bytes()))
        )
    }

    /// Claim `key` for `run_for` (the longest a handler may take).
    pub async fn claim(&self, key: &str, run_for: Duration) -> Result<Claim> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s("INPROGRESS"))
            .item("in_progress_expiry", epoch(run_for))
            .item("expiration", epoch(Self::KEEP))
            .condition_expression(
                "attribute_not_exists(id) OR expiration < :now OR #status = :released \
                 OR (#status = :in_progress AND in_progress_expiry < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", epoch(Duration::ZERO))
            .expression_attribute_values(":in_progress", s("INPROGRESS"))
            .expression_attribute_values(":released", s("RELEASED"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => {
                    let completed = e
                        .item()
                        .and_then(|i| i.get("status"))
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|v| v == "COMPLETED");
                    Ok(if completed {
                        Claim::Completed
                    } else {
                        Claim::InProgress
                    })
                }
                _ => Err(sdk_error("DynamoDB PutItem (idempotency)", err)),
            },
        }
    }

    /// The event was handled: keep redeliveries away for `KEEP`.
    pub async fn complete(&self, key: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s("COMPLETED"))
            .item("expiration", epoch(Self::KEEP))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB PutItem (idempotency)", e))?;
        Ok(())
    }

    /// Handling failed: let the retry run.
    pub async fn release(&self, key: &str) -> Result<()> {
        // Overwritten rather than deleted: the functions need no DeleteItem on the table.
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s("RELEASED"))
            .item("expiration", epoch(Self::KEEP))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB PutItem (idempotency release)", e))?;
        Ok(())
    }
}
