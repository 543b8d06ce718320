//! The transcribed function: EventBridge "Transcribe Job State Change" events.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared_aws::AwsApp;
use shared_aws::lambda::{self, TranscribeJobStateChange};

// Lambda hands a function one event at a time: one thread runs it (no idle workers).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Every line through the redaction, in Lambda's log format and level settings.
    lambda_runtime::tracing::init_default_subscriber_with_writer(
        shared::telemetry::Redacting::new(std::io::stdout),
    );
    let app = &AwsApp::from_env()?;
    run(service_fn(
        |event: LambdaEvent<EventBridgeEvent<TranscribeJobStateChange>>| async move {
            let run_for = lambda::time_left(event.context.deadline);
            lambda::on_transcribe_event(app, event.payload, run_for)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
