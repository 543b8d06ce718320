//! A webhook receiver over a real socket (`tools/webhook_receiver.py`): every request verified
//! by the Standard Webhooks reference library from PyPI, not by our own signing code.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::venv::workspace;

/// A running receiver, stopped on drop.
pub struct Receiver {
    child: Child,
    /// Where to subscribe: `http://127.0.0.1:<port>/hook`.
    pub url: String,
    base: String,
    client: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh signing secret, as the specification writes it (`whsec_...`).
pub fn secret() -> String {
    shared::domain::WebhookSecret::generate().unwrap().expose()
}

impl Receiver {
    /// Start a receiver that verifies with `secret`.
    pub async fn start(secret: &str) -> Self {
        let venv = crate::venv::installed("webhooks", "tools/webhooks.txt");
        let mut child = Command::new(venv.join("bin/python"))
            .arg(workspace().join("tools/webhook_receiver.py"))
            .arg(secret)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the webhook receiver");
        let stdout = child.stdout.take().expect("the receiver's stdout");
        let port = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut line = String::new();
            std::io::BufReader::new(stdout).read_line(&mut line).ok();
            line.trim().parse::<u16>().ok()
        })
        .await
        .unwrap()
        .expect("the receiver prints the port it listens on");
        let base = format!("http://127.0.0.1:{port}");
        Self {
            child,
            url: format!("{base}/hook"),
            base,
            client: reqwest::Client::new(),
        }
    }

    /// Every request so far: `{id, verified, error, answered, type, payload, received_at}`.
    pub async fn received(&self) -> Vec<Value> {
        self.client
            .get(format!("{}/_received", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `{"fail_next": n}` or `{"down": bool}`.
    pub async fn control(&self, body: Value) {
        let status = self
            .client
            .post(format!("{}/_control", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{status}");
    }

    /// The first request `matches`, waiting up to `within` for it.
    pub async fn wait_for(&self, within: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(found) = self.received().await.into_iter().find(|r| matches(r)) {
                return found;
            }
            assert!(
                started.elapsed() < within,
                "no such webhook within {within:?}; received: {:#}",
                Value::Array(self.received().await)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
