//! Adapters: implementations of the ports. `local` (feature `local`) runs on one machine with
//! no cloud; `webhooks` sends signed webhook requests, `oidc` signs people in with an
//! OpenID Connect provider, and `rs256` signs and verifies JWTs (ring under `jsonwebtoken`),
//! for both runtimes. The AWS adapters (DynamoDB, S3, SQS, SSM,
//! Amazon Transcribe) are the `shared-aws` crate.

#[cfg(feature = "local")]
pub mod local;
pub mod oidc;
pub mod rs256;
pub mod webhooks;
