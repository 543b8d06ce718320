//! The web function: what a browser loads before it holds any credentials (the web app's
//! page and files, its sign-in, the OpenAPI document and its reference page), served by the
//! same router as local mode. Apart from the API function, whose package stays free of them.

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
    shared_aws::gateway::run(shared_aws::lambda::web(&app)).await
}
