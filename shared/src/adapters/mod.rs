//! Adapters: implementations of the ports. `local` (feature `local`) runs on one machine with
//! no cloud; `aws` (feature `aws`) runs on DynamoDB, S3, SQS, SSM and Amazon Transcribe.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "local")]
pub mod local;
