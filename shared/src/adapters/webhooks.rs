//! Webhook requests over HTTP(S) (reqwest on rustls), for both runtimes.
//!
//! On AWS the sender refuses every target that is not a public address (SSRF: a tenant must
//! not reach the deployment's own network, the instance metadata service or loopback through a
//! webhook): an address in the URL is checked as it stands, a host name is resolved and every
//! address it resolves to checked, and the connection is made to the address checked (the
//! client's resolver is this check, so a name that resolves differently a moment later, DNS
//! rebinding, cannot slip past). Redirects are not followed. Locally any target is allowed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::{DELIVERY_TIMEOUT, RESPONSE_EXCERPT_CHARS, check_url, is_public_ip};
use crate::error::{Error, Result};
use crate::ports::{
    Answer, MAX_VENDOR_RESPONSE_BYTES, Outgoing, VendorHttp, VendorRequest, VendorResponse,
    WebhookSender,
};

/// Resolves names for the client, keeping only public addresses (and failing when none is).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let public = public_addresses(&host)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

async fn public_addresses(host: &str) -> std::result::Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("{host} does not resolve ({e})"))?
        .collect();
    if let Some(private) = all.iter().find(|a| !is_public_ip(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, which is not a public address; requests leave for the \
             public internet only",
            private.ip()
        ));
    }
    if all.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    Ok(all)
}

/// Sends webhook requests; on AWS to public addresses only.
pub struct HttpWebhookSender {
    /// Built at the first request: most functions never send one, and pay nothing at start.
    client: std::sync::OnceLock<std::result::Result<reqwest::Client, String>>,
    allow_private: bool,
}

impl HttpWebhookSender {
    /// `allow_private`: local mode, where a receiver on this machine or the office network is
    /// what a user means.
    pub fn new(allow_private: bool) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            allow_private,
        }
    }

    fn client(&self) -> std::result::Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                let mut builder = reqwest::Client::builder()
                    .timeout(DELIVERY_TIMEOUT)
                    .connect_timeout(DELIVERY_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("leadscore-webhooks/", env!("CARGO_PKG_VERSION")));
                if !self.allow_private {
                    builder = builder.dns_resolver(Arc::new(PublicOnly));
                }
                builder
                    .build()
                    .map_err(|e| format!("the HTTP client does not start: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The reason `url` may not be sent to, if there is one.
    async fn refusal(&self, url: &str) -> Option<String> {
        let parsed = match check_url(url, self.allow_private) {
            Ok(u) => u,
            Err(e) => return Some(e.to_string()),
        };
        if self.allow_private {
            return None;
        }
        match parsed.host()? {
            // An address in the URL never reaches the resolver.
            url::Host::Ipv4(ip) if !is_public_ip(ip.into()) => Some(format!(
                "{ip} is not a public address; requests leave for the public internet only"
            )),
            url::Host::Ipv6(ip) if !is_public_ip(ip.into()) => Some(format!(
                "{ip} is not a public address; requests leave for the public internet only"
            )),
            url::Host::Domain(name) => public_addresses(name).await.err(),
            _ => None,
        }
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn check_target(&self, url: &str) -> Result<()> {
        match self.refusal(url).await {
            Some(why) => Err(Error::validation(format!("url: {why}"))),
            None => Ok(()),
        }
    }

    async fn post(&self, request: &Outgoing) -> std::result::Result<Answer, String> {
        if let Some(why) = self.refusal(&request.url).await {
            return Err(format!("not sent: {why}"));
        }
        let mut builder = self.client()?.post(&request.url).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|e| describe(&e, started))?;
        let status = response.status().as_u16();
        // The start of the answer is enough to tell what went wrong; the rest is not read.
        let mut excerpt = Vec::new();
        let mut response = response;
        while excerpt.len() < RESPONSE_EXCERPT_CHARS * 4 {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let excerpt: String = String::from_utf8_lossy(&excerpt)
            .chars()
            .filter(|c| !c.is_control() || *c == ' ')
            .take(RESPONSE_EXCERPT_CHARS)
            .collect();
        Ok(Answer { status, excerpt })
    }
}

#[async_trait]
impl VendorHttp for HttpWebhookSender {
    async fn check_base(&self, url: &str) -> Result<()> {
        match self.refusal(url).await {
            Some(why) => Err(Error::validation(format!("base_url: {why}"))),
            None => Ok(()),
        }
    }

    async fn send(&self, request: &VendorRequest) -> std::result::Result<VendorResponse, String> {
        if let Some(why) = self.refusal(&request.url).await {
            return Err(format!("not sent: {why}"));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| format!("method {}: {e}", request.method))?;
        let mut builder = self.client()?.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if let Some(body) = &request.body {
            if !request
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            {
                builder = builder.header("content-type", "application/json");
            }
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let mut response = builder.send().await.map_err(|e| describe(&e, started))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        let limit_info = response
            .headers()
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(100).collect());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e, started))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_VENDOR_RESPONSE_BYTES {
                return Err(format!(
                    "the answer is longer than {} MiB",
                    MAX_VENDOR_RESPONSE_BYTES >> 20
                ));
            }
        }
        Ok(VendorResponse {
            status,
            retry_after,
            limit_info,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn describe(e: &reqwest::Error, started: Instant) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {} s",
            started.elapsed().as_secs().max(DELIVERY_TIMEOUT.as_secs())
        )
    } else if e.is_connect() {
        // The resolver's refusal, or the receiver not listening.
        let mut source = std::error::Error::source(e);
        let mut deepest = e.to_string();
        while let Some(s) = source {
            deepest = s.to_string();
            source = s.source();
        }
        format!("no connection: {deepest}")
    } else {
        format!("the request failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_targets_are_refused_on_aws_and_allowed_locally() {
        let aws = HttpWebhookSender::new(false);
        for url in [
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://localhost/hook",
            "https://[::ffff:10.0.0.1]/hook",
        ] {
            let err = aws.check_target(url).await.unwrap_err().to_string();
            assert!(err.contains("not a public address"), "{url}: {err}");
            let answer = aws
                .post(&Outgoing {
                    url: url.to_owned(),
                    headers: Vec::new(),
                    body: "{}".into(),
                })
                .await
                .unwrap_err();
            assert!(answer.starts_with("not sent:"), "{url}: {answer}");
        }
        let err = aws
            .check_target("http://hooks.example.com/")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be https"), "{err}");
        let local = HttpWebhookSender::new(true);
        local.check_target("http://127.0.0.1:9/hook").await.unwrap();
    }
}
