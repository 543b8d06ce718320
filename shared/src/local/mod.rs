//! Local mode: the handlers over the embedded store, with a worker for the job queue and an
//! inbox folder watched the way the bucket is on AWS. Layout of a data folder:
//!
//! ```text
//! DIR/leadscore.db   leads, calls, rules, score ledgers, the job queue (SQLite)
//! DIR/blobs/         recordings and transcripts (the bucket)
//! DIR/secrets/       per-tenant secrets such as Twilio auth tokens (0700; files 0600)
//! DIR/inbox/         drop calls here
//! DIR/rejected/      files that could not be ingested, each with a `.error.txt` saying why
//! ```

mod group;
mod inbox;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use group::GroupCommit;
pub use inbox::{DropGroup, GroupOutcome, GroupResult, Inbox, group_files, ingest_group};
pub use worker::Worker;

use crate::adapters::local::{
    EngineStore, FileBlobStore, FileSecretStore, LocalSpeech, MemoryRateLimiter, SqliteStore,
};
use crate::adapters::oidc::IdentityProvider;
use crate::adapters::webhooks::HttpWebhookSender;
use crate::domain::TenantId;
use crate::ports::{SecretName, SecretStore};
use crate::{Config, Deps, Result};

/// A data folder opened for use.
#[derive(Clone)]
pub struct LocalApp {
    pub deps: Deps,
    pub store: SqliteStore,
    /// The blobs (`DIR/blobs`), also in `deps`: a group commit defers their syncs.
    pub blobs: FileBlobStore,
    pub data_dir: PathBuf,
    /// Whom people sign in with (`serve --oidc-issuer`): then every request needs an API key
    /// or the provider's token, wherever the server listens.
    pub identity: Option<IdentityProvider>,
}

impl LocalApp {
    pub fn open(data_dir: &Path, mut config: Config) -> Result<Self> {
        // A receiver on this machine or the office network is what a local user means.
        config.allow_private_webhook_targets = true;
        std::fs::create_dir_all(data_dir.join("inbox"))?;
        let store = SqliteStore::open(&data_dir.join("leadscore.db"))?;
        let secrets = FileSecretStore::new(data_dir.join("secrets"));
        move_secrets_out_of_blobs(data_dir, &secrets)?;
        let outbound = Arc::new(HttpWebhookSender::new(config.allow_private_webhook_targets));
        let blobs = FileBlobStore::new(data_dir.join("blobs"));
        let deps = Deps {
            leads: Arc::new(store.clone()),
            calls: Arc::new(store.clone()),
            rules: Arc::new(store.clone()),
            keys: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            usage: Arc::new(store.clone()),
            webhooks: Arc::new(store.clone()),
            crm: Arc::new(store.clone()),
            sender: outbound.clone(),
            http: outbound,
            sms: Arc::new(store.clone()),
            blobs: Arc::new(blobs.clone()),
            secrets: Arc::new(secrets),
            queue: Arc::new(store.clone()),
            transcriber: Arc::new(LocalSpeech::new(data_dir)),
            rate: Arc::new(MemoryRateLimiter::default()),
            config,
        };
        Ok(Self {
            deps,
            store,
            blobs,
            data_dir: data_dir.to_owned(),
            identity: None,
        })
    }

    /// Take speech engines from `store` instead of the user's engine store (a virtualenv in
    /// the data folder still comes first).
    pub fn with_engine_store(mut self, store: EngineStore) -> Self {
        self.deps.transcriber = Arc::new(LocalSpeech::with_store(self.data_dir.clone(), store));
        self
    }

    /// People sign in with `provider`: no request acts without a key or a token.
    pub fn with_identity_provider(mut self, provider: IdentityProvider) -> Self {
        self.identity = Some(provider);
        self
    }

    pub fn inbox_dir(&self) -> PathBuf {
        self.data_dir.join("inbox")
    }

    pub fn rejected_dir(&self) -> PathBuf {
        self.data_dir.join("rejected")
    }

    pub fn worker(&self) -> Worker {
        Worker::new(self.deps.clone(), self.store.clone())
    }

    /// Group commit for a command that has the data folder to itself (see [`GroupCommit`]).
    pub fn group_commit(&self) -> GroupCommit {
        GroupCommit::new(self.store.clone(), self.blobs.clone())
    }
}

/// Data folders written before the secret store kept Twilio tokens as blobs
/// (`blobs/secrets/<tenant>/twilio.json`, world-readable): move each into the secret store and
/// remove the blob.
fn move_secrets_out_of_blobs(data_dir: &Path, secrets: &FileSecretStore) -> Result<()> {
    let old = data_dir.join("blobs").join("secrets");
    let Ok(tenants) = std::fs::read_dir(&old) else {
        return Ok(());
    };
    for entry in tenants.flatten() {
        let file = entry.path().join("twilio.json");
        let Ok(tenant) = TenantId::parse(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        if let Ok(value) = std::fs::read_to_string(&file) {
            let runtime = tokio::runtime::Builder::new_current_thread().build()?;
            runtime.block_on(secrets.put_secret(&tenant, &SecretName::twilio(), &value))?;
            std::fs::remove_file(&file)?;
        }
        let _ = std::fs::remove_dir(entry.path());
    }
    let _ = std::fs::remove_dir(&old);
    Ok(())
}

/// Serve the API on `listener`, watch the inbox and run the worker, until `shutdown` resolves.
/// On a loopback address a request without an API key acts as the tenant's admin; on any other,
/// or with an identity provider, every request that acts for the tenant needs a key (or the
/// provider's token).
pub async fn serve(
    app: LocalApp,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // A bad origin stops the server before it starts, with the origin named.
    let cors = crate::handlers::api::cors(&app.deps.config.cors_origins)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = app.worker();
    let mut worker_stop = stop_rx.clone();
    let worker_task = tokio::spawn(async move { worker.run(&mut worker_stop).await });
    let inbox = Inbox::new(app.clone());
    let mut inbox_stop = stop_rx.clone();
    let inbox_task = tokio::spawn(async move { inbox.watch(&mut inbox_stop).await });
    // The scheduled sweep (decay, weekly retrain): at start and every hour, as EventBridge
    // Scheduler sends it on AWS.
    let queue = app.deps.queue.clone();
    let mut sweep_stop = stop_rx.clone();
    let sweep_task = tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::handlers::schedule::SWEEP_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    if let Err(e) = queue.send(&crate::ports::Job::Sweep { after: None }).await {
                        tracing::warn!(error = %e.report(), "the scheduled sweep could not be queued");
                    }
                }
                _ = sweep_stop.changed() => break,
            }
        }
    });

    // On 127.0.0.1 only this machine can call, as the tenant's admin; anywhere else, or where
    // people sign in, every request needs an API key or a token.
    let open = listener
        .local_addr()
        .map_err(|e| crate::Error::internal("the listening socket has no address", e))?
        .ip()
        .is_loopback();
    let router = match &app.identity {
        Some(provider) => crate::handlers::api::routes(app.deps.clone())
            .layer(axum::Extension(provider.tokens.clone()))
            .layer(axum::Extension(provider.sign_in.clone())),
        None if open => crate::handlers::api::router(app.deps.clone()),
        None => crate::handlers::api::routes(app.deps.clone()),
    }
    .layer(axum::middleware::from_fn(log_request));
    // Outermost, so that a preflight is answered before routing (which would say 405).
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = worker_task.await;
    let _ = inbox_task.await;
    let _ = sweep_task.await;
    served.map_err(|e| crate::Error::internal("the HTTP server failed", e))
}

/// One log line per request (method, path, status, time), at debug level.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    resp
}
