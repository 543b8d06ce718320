//! Adapters: implementations of the ports. `local` (feature `local`) runs on one machine with
//! no cloud; `aws` (feature `aws`) runs on DynamoDB, S3, SQS, SSM and Amazon Transcribe;
//! `webhooks` sends signed webhook requests, and `oidc` signs people in with
//! an OpenID Connect provider, for both.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "local")]
pub mod local;
pub mod oidc;
pub mod webhooks;
