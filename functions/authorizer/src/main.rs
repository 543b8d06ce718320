//! The authorizer function: API Gateway asks it who each request's bearer token names (an API
//! key, or a JWT of the deployment's identity provider) and caches the answer per token.

use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::adapters::oidc::IdTokens;
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
    // One verifier for the function's life: the issuer's keys are fetched once an hour.
    let deployment = &app.deployment;
    let tokens = &deployment
        .jwt
        .clone()
        .map(|jwt| IdTokens::new(jwt, &deployment.tenant_claim, &deployment.role_claim));
    run(service_fn(
        |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, Error>(lambda::authorize(app, tokens.as_ref(), event.payload).await)
        },
    ))
    .await
}
