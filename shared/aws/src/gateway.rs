//! API Gateway's HTTP API (payload format 2.0) into the axum routers and back: what the api
//! and web functions run.
//!
//! The request is lambda_http's conversion of the event into an `http::Request`: the path and
//! the raw query string, the headers, the cookies as one `Cookie` header, the body (base64
//! decoded when API Gateway says so), and the request context (the authorizer's answer among
//! it) as an extension.
//!
//! The response is converted here, not by lambda_http. lambda_http decodes a text body from
//! whatever charset its content type names, so it links encoding_rs with every legacy encoding
//! (0.13 MiB of each zipped package), and it sends only the first value of a repeated header.
//! Here:
//! - a textual body (`text/*`, JSON, JavaScript, XML, YAML, a form) that is UTF-8 goes as
//!   text, as leadscore writes it; any other body (audio, images, compressed) goes base64;
//! - `Set-Cookie` headers go in `cookies`, one each, as the payload format requires;
//! - a repeated header goes once, its values joined with commas (RFC 9110, 5.3);
//! - a body that cannot be read, or that is larger than Lambda returns, is a 500 problem
//!   document, logged, not a crash of the function.

use std::convert::Infallible;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use axum::Router;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use axum::http::response::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use lambda_http::request::LambdaRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use tower::ServiceExt;
use tracing::error;

use shared::error::Error;
use shared::handlers::api::ApiError;

/// The most a synchronous Lambda invocation returns (6 MB, the whole JSON response); a larger
/// body could not reach the caller.
pub const RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// Serve `router` to API Gateway until the Lambda runtime stops.
pub async fn run(router: Router) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
            let router = router.clone();
            async move { Ok::<_, Infallible>(handle(router, event.payload).await) }
        },
    ))
    .await
}

/// One API Gateway event through `router`: what the function returns to API Gateway.
pub async fn handle(router: Router, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let request: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    to_gateway(response).await
}

/// `response` as API Gateway takes it (payload format 2.0).
pub async fn to_gateway(response: Response) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, RESPONSE_LIMIT).await {
        Ok(bytes) => convert(parts, &bytes),
        Err(e) => {
            error!(error = %e, status = %parts.status, "the response's body could not be returned");
            let problem = ApiError(Error::Internal {
                message: format!(
                    "the response could not be returned (unreadable, or more than the \
                     {RESPONSE_LIMIT} bytes Lambda returns)"
                ),
                source: None,
            })
            .into_response();
            let (parts, body) = problem.into_parts();
            let bytes = axum::body::to_bytes(body, RESPONSE_LIMIT)
                .await
                .unwrap_or_default();
            convert(parts, &bytes)
        }
    }
}

fn convert(parts: Parts, bytes: &[u8]) -> ApiGatewayV2httpResponse {
    let body = if bytes.is_empty() {
        None
    } else if !is_textual(&parts.headers) {
        Some(Body::Binary(bytes.to_vec()))
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Some(Body::Text(text)),
            Err(e) => Some(Body::Binary(e.into_bytes())),
        }
    };
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.is_base64_encoded = matches!(body, Some(Body::Binary(_)));
    out.body = body;
    out.cookies = parts
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    for name in parts.headers.keys().filter(|name| *name != SET_COOKIE) {
        let mut values = parts.headers.get_all(name).iter();
        let Some(first) = values.next() else { continue };
        let mut joined = first.as_bytes().to_vec();
        for value in values {
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(value.as_bytes());
        }
        // Joined from valid values with ", ": valid too.
        if let Ok(value) = HeaderValue::from_bytes(&joined) {
            out.headers.insert(name.clone(), value);
        }
    }
    out
}

/// Whether the body is text leadscore wrote: a textual media type, not compressed.
fn is_textual(headers: &HeaderMap) -> bool {
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(media) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media = media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || [
            "application/json",
            "application/javascript",
            "application/xml",
            "application/yaml",
            "application/x-www-form-urlencoded",
        ]
        .contains(&media.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::get;

    fn json(response: &ApiGatewayV2httpResponse) -> serde_json::Value {
        serde_json::to_value(response).unwrap()
    }

    #[tokio::test]
    async fn json_goes_as_text_with_its_status_and_headers() {
        let response = (
            StatusCode::CREATED,
            [(CONTENT_TYPE, "application/json")],
            r#"{"name":"Zoë"}"#,
        )
            .into_response();
        let out = json(&to_gateway(response).await);
        assert_eq!(out["statusCode"], 201);
        assert_eq!(out["body"], r#"{"name":"Zoë"}"#);
        assert_eq!(out["isBase64Encoded"], false);
        assert_eq!(out["headers"]["content-type"], "application/json");
        assert_eq!(out["cookies"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn binary_goes_base64_and_is_not_mangled() {
        let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff];
        let response = ([(CONTENT_TYPE, "image/png")], png.clone()).into_response();
        let out = json(&to_gateway(response).await);
        assert_eq!(out["isBase64Encoded"], true);
        assert_eq!(out["body"], "iVBORw0KGgoA/w==");
        // Compressed text is binary too; so is text that is not UTF-8.
        for headers in [
            vec![(CONTENT_TYPE, "text/html"), (CONTENT_ENCODING, "gzip")],
            vec![(CONTENT_TYPE, "text/csv; charset=latin1")],
        ] {
            let mut response = vec![0xe9u8, b'a'].into_response();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            let out = json(&to_gateway(response).await);
            assert_eq!(out["isBase64Encoded"], true);
            assert_eq!(out["body"], "6WE=");
        }
    }

    #[tokio::test]
    async fn cookies_go_one_each_and_repeated_headers_are_joined() {
        let mut response = ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response();
        let headers = response.headers_mut();
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("a=1; Path=/; HttpOnly"),
        );
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2; Path=/"));
        headers.append("vary", HeaderValue::from_static("origin"));
        headers.append("vary", HeaderValue::from_static("accept-encoding"));
        let out = json(&to_gateway(response).await);
        assert_eq!(
            out["cookies"],
            serde_json::json!(["a=1; Path=/; HttpOnly", "b=2; Path=/"])
        );
        assert!(out["headers"].get("set-cookie").is_none());
        assert_eq!(out["headers"]["vary"], "origin, accept-encoding");
        assert_eq!(out["body"], "ok");
    }

    #[tokio::test]
    async fn an_empty_body_is_no_body() {
        let out = json(&to_gateway(StatusCode::NO_CONTENT.into_response()).await);
        assert_eq!(out["statusCode"], 204);
        assert!(out.get("body").is_none());
        assert_eq!(out["isBase64Encoded"], false);
    }

    #[tokio::test]
    async fn a_body_larger_than_lambda_returns_is_a_problem_not_a_crash() {
        let big = vec![b'x'; RESPONSE_LIMIT + 1];
        let response = ([(CONTENT_TYPE, "text/plain")], big).into_response();
        let out = json(&to_gateway(response).await);
        assert_eq!(out["statusCode"], 500);
        assert_eq!(out["headers"]["content-type"], "application/problem+json");
        let problem: serde_json::Value =
            serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
        assert_eq!(problem["type"], "urn:leadscore:problem:internal");
    }

    #[tokio::test]
    async fn an_event_reaches_the_route_with_its_query_cookies_and_base64_body() {
        let router = Router::new().route(
            "/echo",
            get(|request: axum::extract::Request| async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1024).await.unwrap();
                let cookie = parts.headers.get("cookie").unwrap().to_str().unwrap();
                format!(
                    "{} {} {}",
                    parts.uri.query().unwrap_or_default(),
                    cookie,
                    String::from_utf8_lossy(&body)
                )
            }),
        );
        let event: ApiGatewayV2httpRequest = serde_json::from_value(serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/echo",
            "rawQueryString": "q=a%20b&tier=hot",
            "cookies": ["s=1", "t=2"],
            "headers": { "host": "api.example.com" },
            "requestContext": {
                "http": { "method": "GET", "path": "/echo", "protocol": "HTTP/1.1",
                          "sourceIp": "192.0.2.1", "userAgent": "test" },
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "requestId": "r1", "stage": "$default", "time": "", "timeEpoch": 0
            },
            "body": "aGVsbG8=",
            "isBase64Encoded": true
        }))
        .unwrap();
        let out = json(&handle(router, event).await);
        assert_eq!(out["statusCode"], 200);
        assert_eq!(out["body"], "q=a%20b&tier=hot s=1; t=2 hello");
    }
}
