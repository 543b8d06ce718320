//! The API function: API Gateway HTTP API requests, served by the same axum router as local
//! mode, each acting for the tenant named by the JWT authorizer's claim.

use lambda_runtime::Error;
use shared_aws::AwsApp;

// Lambda hands a function one event at a time: one thread runs it (no idle workers).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Every line through the redaction, in Lambda's log format and level settings.
    lambda_runtime::tracing::init_default_subscriber_with_writer(
        shared::telemetry::Redacting::new(std::io::stdout),
    );
    let app = AwsApp::from_env()?;
    shared_aws::gateway::run(shared_aws::lambda::api(&app)).await
}
