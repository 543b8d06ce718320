//! The AWS side against a local emulator: moto's server (started per test on 127.0.0.1 by
//! `emulator.rs`, from the tools the suite installs for itself), the tables the SAM template
//! declares, and the same event glue the Lambda binaries run.

mod access;
mod bad_input;
mod call_logs;
mod chain;
mod crm;
mod erasure;
mod feed;
mod gong;
mod grants;
mod infra;
mod recordings;
mod schedule;
mod store;
mod texts;
mod webhooks;

use testkit::{emulator, iam, logs, venv};
