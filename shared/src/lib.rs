//! leadscore: turns sales calls into ranked leads with reasons.
//!
//! The crate holds the domain (`domain`), input formats (`formats`), transcript analysis
//! (`analysis`), scoring (`scoring`), the ports the handlers need (`ports`), their adapters
//! (`adapters`; the AWS ones are the `shared-aws` crate), the handlers that Lambda functions and
//! the local runner both drive (`handlers`), and the local runner itself (`local`, feature
//! `local`).

pub mod adapters;
pub mod analysis;
pub mod config;
pub mod crm;
pub mod domain;
pub mod error;
pub mod formats;
pub mod gong;
pub mod handlers;
pub mod keys;
#[cfg(feature = "local")]
pub mod local;
pub mod model;
pub mod ports;
pub mod reports;
pub mod scoring;
pub mod sms;
pub mod telemetry;
pub mod voice;

use std::sync::Arc;

pub use config::Config;
pub use error::{Error, Result};
use ports::{
    ApiKeyStore, AuditLog, BlobStore, CallStore, CrmStore, LeadStore, Queue, RateLimiter,
    RuleStore, SecretStore, SmsStore, Transcriber, UsageMeter, VendorHttp, WebhookSender,
    WebhookStore,
};

/// Everything a handler needs, behind ports.
#[derive(Clone)]
pub struct Deps {
    pub leads: Arc<dyn LeadStore>,
    pub calls: Arc<dyn CallStore>,
    pub rules: Arc<dyn RuleStore>,
    pub keys: Arc<dyn ApiKeyStore>,
    pub audit: Arc<dyn AuditLog>,
    pub usage: Arc<dyn UsageMeter>,
    pub webhooks: Arc<dyn WebhookStore>,
    /// CRM connections and the leads waiting to be pushed to them.
    pub crm: Arc<dyn CrmStore>,
    /// Sends webhook requests (refusing non-public targets unless
    /// `Config::allow_private_webhook_targets`).
    pub sender: Arc<dyn WebhookSender>,
    /// Calls vendors' APIs (CRMs), under the same address rules as `sender`.
    pub http: Arc<dyn VendorHttp>,
    pub sms: Arc<dyn SmsStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub queue: Arc<dyn Queue>,
    pub transcriber: Arc<dyn Transcriber>,
    /// Counts each tenant's API requests (`Config::rate_limit_per_minute`).
    pub rate: Arc<dyn RateLimiter>,
    pub config: Config,
}
