//! What leadscore's test suites share, in one crate instead of files included by path:
//!
//! - `contract`: the promises every store makes, held against the embedded store and DynamoDB;
//! - `emulator`: moto's server per test, with the template's bucket, queues and tables;
//! - `iam`: each function's AWS calls recorded and held against the template's policies;
//! - `lambda`: the functions' arm64 build, as `sam build` makes it but in the dev profile;
//! - `venv`: the Python tools the tests install into `target/tools/`;
//! - `logs`: log capture for a test process;
//! - `runtime`: a stand-in for the Lambda Runtime API, to run a function's own binary;
//! - `webhooks`: a webhook receiver that verifies with the Standard Webhooks library;
//! - `hubspot`, `pipedrive`, `salesforce`: stateful stand-ins for the CRMs' APIs, each with
//!   its OAuth authorization server (`oauth`);
//! - `oidc`: an OpenID Connect provider people sign in to the web app with.

pub mod browser;
pub mod capacity;
pub mod contract;
pub mod emulator;
pub mod files;
pub mod gong;
pub mod hubspot;
pub mod iam;
pub mod lambda;
pub mod leads;
pub mod logs;
pub mod oauth;
pub mod oidc;
pub mod pipedrive;
pub mod runtime;
pub mod salesforce;
pub mod standin;
pub mod twilio;
pub mod venv;
pub mod webhooks;
