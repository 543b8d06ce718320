//! The job queues on SQS: analysis jobs to one queue, scoring jobs to another, webhook attempts
//! to a third and CRM pushes to a fourth, so each stage has its own concurrency and
//! dead-letter queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::sdk_error;
use tracing::instrument;

use shared::error::{Error, Result};
use shared::ports::{Job, JobQueue, Queue};

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    analyze_url: String,
    score_url: String,
    webhook_url: String,
    crm_url: String,
}

impl SqsQueue {
    /// SQS takes at most ten messages per batch.
    const BATCH: usize = 10;

    pub fn new(
        client: Client,
        analyze_url: String,
        score_url: String,
        webhook_url: String,
        crm_url: String,
    ) -> Self {
        Self {
            client,
            analyze_url,
            score_url,
            webhook_url,
            crm_url,
        }
    }

    /// Put a message that failed for good into a dead-letter queue as it came, with why in its
    /// attributes (`failure_reason`, `failed_stage`), so it can be read, fixed and redriven.
    pub async fn dead_letter(
        &self,
        dlq_url: &str,
        body: &str,
        stage: &str,
        reason: &str,
    ) -> Result<()> {
        let text = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| Error::internal("an SQS message attribute is incomplete", e))
        };
        // SQS takes attribute values up to the message's own 256 KiB; a reason is a sentence.
        let reason: String = reason.chars().take(2000).collect();
        self.client
            .send_message()
            .queue_url(dlq_url)
            .message_body(body)
            .message_attributes("failed_stage", text(stage)?)
            .message_attributes("failure_reason", text(&reason)?)
            .send()
            .await
            .map_err(|e| sdk_error("SQS SendMessage (dead-letter queue)", e))?;
        Ok(())
    }

    fn url(&self, job: &Job) -> &str {
        match job.queue() {
            JobQueue::Analyze => &self.analyze_url,
            JobQueue::Score => &self.score_url,
            JobQueue::Webhook => &self.webhook_url,
            JobQueue::Crm => &self.crm_url,
        }
    }

    async fn send_batch(&self, url: &str, jobs: &[&Job]) -> Result<()> {
        let mut entries = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(job)?)
                    .build()
                    .map_err(|e| Error::internal("an SQS batch entry is incomplete", e))?,
            );
        }
        let mut pending = entries;
        // Entries SQS could not take this time are sent again, twice at most.
        for _ in 0..3 {
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| sdk_error("SQS SendMessageBatch", e))?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(f) = failed.iter().find(|f| f.sender_fault()) {
                return Err(Error::internal(
                    format!(
                        "SQS refused a job: {}: {}",
                        f.code(),
                        f.message().unwrap_or_default()
                    ),
                    "SendMessageBatch",
                ));
            }
            pending.retain(|e| failed.iter().any(|f| f.id() == e.id()));
        }
        Err(Error::transient(
            format!("SQS did not take {} jobs after three tries", pending.len()),
            "SendMessageBatch",
        ))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    #[instrument(name = "sqs.send", level = "debug", skip_all)]
    async fn send(&self, job: &Job) -> Result<()> {
        self.client
            .send_message()
            .queue_url(self.url(job))
            .message_body(serde_json::to_string(job)?)
            .send()
            .await
            .map_err(|e| sdk_error("SQS SendMessage", e))?;
        Ok(())
    }

    #[instrument(name = "sqs.send_after", level = "debug", skip_all)]
    async fn send_after(&self, job: &Job, delay: std::time::Duration) -> Result<()> {
        // SQS holds a message for 15 minutes at most.
        let seconds = delay.as_secs().min(900) as i32;
        self.client
            .send_message()
            .queue_url(self.url(job))
            .message_body(serde_json::to_string(job)?)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| sdk_error("SQS SendMessage (delayed)", e))?;
        Ok(())
    }

    #[instrument(name = "sqs.send_all", level = "debug", skip_all, fields(jobs = jobs.len()))]
    async fn send_all(&self, jobs: &[Job]) -> Result<()> {
        // Each job to its queue, in order, a batch per queue: every queue a job can go to.
        let mut urls: Vec<&str> = jobs.iter().map(|j| self.url(j)).collect();
        urls.dedup();
        urls.sort_unstable();
        urls.dedup();
        for url in urls {
            let mine: Vec<&Job> = jobs.iter().filter(|j| self.url(j) == url).collect();
            for chunk in mine.chunks(Self::BATCH) {
                self.send_batch(url, chunk).await?;
            }
        }
        Ok(())
    }
}
