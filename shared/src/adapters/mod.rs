//! Adapters: implementations of the ports. `local` runs on one machine with no cloud; `aws`
//! (feature `aws`) runs on DynamoDB, S3, SQS and Amazon Transcribe.

#[cfg(feature = "aws")]
pub mod aws;
pub mod local;
