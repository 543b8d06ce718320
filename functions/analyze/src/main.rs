//! The analyze function: batches from the analyze queue, reporting the messages that failed
//! (`ReportBatchItemFailures`) so that SQS retries those alone.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared_aws::AwsApp;
use shared_aws::lambda;

// Lambda hands a function one event at a time: one thread runs it (no idle workers).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Every line through the redaction, in Lambda's log format and level settings.
    lambda_runtime::tracing::init_default_subscriber_with_writer(
        shared::telemetry::Redacting::new(std::io::stdout),
    );
    let app = &AwsApp::from_env()?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let run_for = lambda::time_left(event.context.deadline);
        Ok::<_, Error>(lambda::on_analyze_batch(app, event.payload, run_for).await)
    }))
    .await
}
