use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use shared::adapters::local::EngineStore;
use shared::local::LocalApp;

pub use crate::logs::{captured as captured_logs, init as init_logs};

/// A running local server: API on a real socket, inbox watched, worker running.
pub struct TestApp {
    pub addr: SocketAddr,
    pub app: LocalApp,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app(data_dir: &Path) -> TestApp {
    spawn_app_with(data_dir, shared::Config::default()).await
}

/// A server whose files wait `seconds` for their sidecar (15 minutes by default).
pub async fn spawn_app_waiting(data_dir: &Path, seconds: u64) -> TestApp {
    let config = shared::Config {
        metadata_wait: Duration::from_secs(seconds),
        ..shared::Config::default()
    };
    spawn_app_with(data_dir, config).await
}

pub async fn spawn_app_with(data_dir: &Path, config: shared::Config) -> TestApp {
    spawn_app_at(data_dir, config, "127.0.0.1:0").await
}

/// A server listening on `address` (`0.0.0.0:0`: every interface, where keys are required).
pub async fn spawn_app_at(data_dir: &Path, config: shared::Config, address: &str) -> TestApp {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("bind a free port");
    serve_on(data_dir, config, listener)
}

/// A server that knows its own address as its public one (`PUBLIC_URL`): where a CRM that
/// subscribes its webhooks through its API (Pipedrive) is told to send them.
pub async fn spawn_app_public(data_dir: &Path, mut config: shared::Config) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    config.public_url = Some(format!("http://{}", listener.local_addr().unwrap()));
    serve_on(data_dir, config, listener)
}

/// A server on 127.0.0.1 where people sign in with `provider` (`serve --oidc-issuer`).
pub async fn spawn_app_signing_in(
    data_dir: &Path,
    provider: shared::adapters::oidc::IdentityProvider,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    serve_with(
        data_dir,
        shared::Config::default(),
        listener,
        Some(provider),
    )
}

fn serve_on(data_dir: &Path, config: shared::Config, listener: tokio::net::TcpListener) -> TestApp {
    serve_with(data_dir, config, listener, None)
}

fn serve_with(
    data_dir: &Path,
    config: shared::Config,
    listener: tokio::net::TcpListener,
    provider: Option<shared::adapters::oidc::IdentityProvider>,
) -> TestApp {
    init_logs();
    // Speech engines only from the data folder (`speech.rs` links one there), never from the
    // user's engine store, so a test that expects no engine sees none on any machine.
    let app = LocalApp::open(data_dir, config)
        .expect("open the data folder")
        .with_engine_store(EngineStore::at(data_dir.join("no-engine-store")));
    let app = match provider {
        Some(provider) => app.with_identity_provider(provider),
        None => app,
    };
    // Reached over loopback whatever the address listened on.
    let addr = SocketAddr::from(([127, 0, 0, 1], listener.local_addr().unwrap().port()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    let handle = tokio::spawn(async move {
        shared::local::serve(served, listener, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    TestApp {
        addr,
        app,
        client: reqwest::Client::new(),
        stop: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let resp = self
            .client
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Poll `GET path` until `done` holds for the body; panics with the last body after 30 s.
    pub async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (_, body) = self.get(path).await;
            if done(&body) {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "gave up waiting on {path}; last body: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the queue is empty and no inbox file is left.
    pub async fn settle(&self) {
        let start = Instant::now();
        loop {
            let counts = self.app.store.queue_counts().await.unwrap();
            let inbox_empty = std::fs::read_dir(self.app.inbox_dir())
                .unwrap()
                .next()
                .is_none();
            if counts.pending == 0 && counts.running == 0 && inbox_empty {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the pipeline did not settle: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A file of the bundled sample set.
pub fn sample(name: &str) -> PathBuf {
    repo_root().join("samples/calls").join(name)
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Put a file into the inbox the way a slow exporter would: written elsewhere, then moved in.
pub fn drop_into(app: &LocalApp, name: &str, bytes: &[u8]) {
    let staging = app.data_dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join(name), bytes).unwrap();
    std::fs::rename(staging.join(name), app.inbox_dir().join(name)).unwrap();
}

pub fn drop_sample(app: &LocalApp, name: &str) {
    drop_into(app, name, &std::fs::read(sample(name)).unwrap());
}

/// The lead with this phone number in a `GET /leads` body.
pub fn lead_by_phone<'a>(leads: &'a Value, phone: &str) -> Option<&'a Value> {
    leads["leads"]
        .as_array()?
        .iter()
        .find(|l| l["phone_number"] == phone)
}
