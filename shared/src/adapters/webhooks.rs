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
    Answer, Download, MAX_VENDOR_RESPONSE_BYTES, Outgoing, VendorHttp, VendorRequest,
    VendorResponse, WebhookSender,
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
    async fn download(
        &self,
        request: &VendorRequest,
        max_bytes: usize,
        timeout: std::time::Duration,
    ) -> std::result::Result<Download, String> {
        let started = Instant::now();
        let mut url = request.url.clone();
        let mut headers = request.headers.clone();
        // A redirect (to the vendor's media host) is followed up to 3 times, each target held
        // to the same rules; the credentials go to the first host only.
        for _ in 0..=3 {
            if let Some(why) = self.refusal(&url).await {
                return Err(format!("not sent: {why}"));
            }
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|e| format!("method {}: {e}", request.method))?;
            let mut builder = self.client()?.request(method, &url).timeout(timeout);
            for (name, value) in &headers {
                builder = builder.header(*name, value);
            }
            let mut response = builder.send().await.map_err(|e| describe(&e, started))?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| reqwest::Url::parse(&url).ok()?.join(l).ok())
                    .ok_or_else(|| format!("a {status} without a Location"))?;
                if reqwest::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    != next.host_str().map(str::to_owned)
                {
                    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
                }
                url = next.to_string();
                continue;
            }
            if response
                .content_length()
                .is_some_and(|n| n > max_bytes as u64)
            {
                return Err(too_long(max_bytes));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e, started))? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > max_bytes {
                    return Err(too_long(max_bytes));
                }
            }
            return Ok(Download {
                status: status.as_u16(),
                bytes,
            });
        }
        Err("more than 3 redirects".to_owned())
    }
}

fn too_long(max_bytes: usize) -> String {
    format!("the file is longer than {} MiB", max_bytes >> 20)
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

    /// A media host on 127.0.0.1 that answers `/file` with `size` bytes, reports the
    /// Authorization header it saw on `/seen`, and redirects `/moved` to `target`.
    async fn media_host(size: usize, target: Option<String>) -> String {
        use axum::routing::get;
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let (file_seen, seen_seen) = (seen.clone(), seen.clone());
        let app = axum::Router::new()
            .route(
                "/file",
                get(move |headers: axum::http::HeaderMap| async move {
                    *file_seen.lock().unwrap() = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    vec![7u8; size]
                }),
            )
            .route(
                "/seen",
                get(move || async move { seen_seen.lock().unwrap().clone() }),
            )
            .route(
                "/moved",
                get(move || async move {
                    (
                        axum::http::StatusCode::FOUND,
                        [("location", target.unwrap_or_default())],
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn get(url: String) -> VendorRequest {
        VendorRequest {
            method: "GET",
            url,
            headers: vec![("authorization", "Basic c2VjcmV0".to_owned())],
            body: None,
        }
    }

    #[tokio::test]
    async fn a_download_is_bounded_and_its_credentials_stay_with_the_first_host() {
        let client = HttpWebhookSender::new(true);
        let limit = 1 << 20;
        let timeout = std::time::Duration::from_secs(5);
        // Another host (`localhost`, not `127.0.0.1`) behind a redirect: the file arrives,
        // the credentials do not.
        let media = media_host(1000, None).await;
        let elsewhere = media.replace("127.0.0.1", "localhost");
        let api = media_host(0, Some(format!("{elsewhere}/file"))).await;
        let got = client
            .download(&get(format!("{api}/moved")), limit, timeout)
            .await
            .unwrap();
        assert_eq!((got.status, got.bytes.len()), (200, 1000));
        let seen = client
            .send(&get(format!("{media}/seen")))
            .await
            .unwrap()
            .body;
        assert_eq!(seen, "", "no credentials for another host");
        // The same host keeps them.
        client
            .download(&get(format!("{media}/file")), limit, timeout)
            .await
            .unwrap();
        let seen = client
            .send(&get(format!("{media}/seen")))
            .await
            .unwrap()
            .body;
        assert_eq!(seen, "Basic c2VjcmV0");
        // Past the limit: refused, naming it.
        let big = media_host(limit + 1, None).await;
        let err = client
            .download(&get(format!("{big}/file")), limit, timeout)
            .await
            .unwrap_err();
        assert_eq!(err, "the file is longer than 1 MiB");
        // A redirect loop ends.
        let looping = media_host(0, None).await;
        let err = client
            .download(&get(format!("{looping}/moved")), limit, timeout)
            .await
            .unwrap_err();
        assert!(
            err.contains("Location") || err.contains("redirect"),
            "{err}"
        );
    }

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
