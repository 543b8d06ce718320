//! Handlers: the pipeline's stages, driven by Lambda functions on AWS and by the local runner.
//! Each takes `&Deps` and a request, and is idempotent: delivering the same request twice
//! has the effect of delivering it once.

pub mod access;
pub mod analyze;
pub mod api;
pub mod authorize;
pub mod backtest;
pub mod call_log;
pub mod crm;
pub mod follow_ups;
pub mod gong;
pub mod ingest;
pub mod jobs;
pub mod lead_detail;
pub mod model;
pub mod privacy;
mod records;
pub mod reports;
pub mod schedule;
pub mod score;
pub mod settings;
pub mod sms;
pub mod texts;
pub mod transcribed;
pub mod usage;
pub mod voice;
pub mod webhooks;

pub use jobs::{record_failure, run_job};
pub(crate) use records::{lead_for, mark_failed, modify_call, modify_lead};
