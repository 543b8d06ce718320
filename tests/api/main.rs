//! Integration tests: the REST API over a real socket, the pipeline on the embedded store
//! (a real SQLite file in a temporary folder), the inbox, and recovery after a crash.

mod access;
mod bounds;
mod call_logs;
mod cors;
mod crm;
mod events;
mod follow_ups;
mod formats;
mod gong;
mod helpers;
mod leads_api;
mod oauth;
mod pipedrive;
mod pipeline;
mod privacy;
mod recordings;
mod recovery;
mod reports;
mod salesforce;
mod schedule;
mod scoring_api;
mod sending;
mod sign_in;
mod speech;
mod stores;
mod texts;
mod webhooks;

use testkit::logs;
