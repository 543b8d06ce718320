//! The HTTP client the AWS SDK sends with: reqwest, HTTP/1.1 over rustls on ring, the client
//! the webhooks, the OIDC keys and the vendors' APIs already go through.
//!
//! The SDK's own client (`aws-smithy-http-client`) is hyper's with HTTP/2 built in, which none
//! of the services leadscore calls needs (DynamoDB, S3, SQS, SSM and Transcribe's batch API all
//! speak HTTP/1.1); it was a second HTTPS stack in every function, and HTTP/2 alone was about a
//! sixteenth of each binary. The SDK's retries, timeouts and signing are unchanged: they are the
//! runtime's, around this connector.
//!
//! What this client keeps from the SDK's: no redirects followed (a 301 from S3 is the SDK's to
//! read), no proxy taken from the environment, no response decompressed, the connect and read
//! timeouts the SDK asks for, and connection errors and timeouts reported as such so the SDK
//! retries them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;

/// The SDK's HTTP client: one reqwest client (its own connection pool) per pair of timeouts the
/// SDK asks for; a function's clients all ask for the same.
pub fn client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestClient::default())
}

type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug, Default)]
struct ReqwestClient {
    clients: Mutex<HashMap<Timeouts, reqwest::Client>>,
}

impl HttpClient for ReqwestClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients
            .entry(timeouts)
            .or_insert_with(|| build(timeouts))
            .clone();
        SharedHttpConnector::new(Connector { client })
    }
}

fn build((connect, read): Timeouts) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(connect) = connect {
        builder = builder.connect_timeout(connect);
    }
    if let Some(read) = read {
        builder = builder.read_timeout(read);
    }
    // Building fails only when the TLS backend cannot start, which a build without one would
    // have refused to compile.
    builder
        .build()
        .expect("the HTTPS client (rustls on ring) starts")
}

#[derive(Debug, Clone)]
struct Connector {
    /// A handle on the pooled client (reqwest's `Client` is itself shared).
    client: reqwest::Client,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let (parts, body) = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?
                .into_parts();
            let answer = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(reqwest::Body::wrap(body))
                .send()
                .await
                .map_err(connector_error)?;
            let (parts, body) = http::Response::from(answer).into_parts();
            let answer = http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
            Response::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// What the SDK's retry strategy needs to know: a timeout or a failed connection is worth
/// another try; a request reqwest could not build is not.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}
