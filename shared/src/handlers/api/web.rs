//! The web app: three static files built into the binary (`shared/web/`), served at `/` and
//! `/app/...` by the same router as the API, gzipped for browsers that take it. The page is a
//! client of the documented API and nothing else; its policy lets it load only from here.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::AppState;
use crate::adapters::oidc::{WebSignIn, endpoint_origin};

/// Every file of the app: its name under `/app/`, its media type, and its bytes.
const FILES: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../../web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../../web/app.css"),
    ),
];

/// What the page may load and where it may connect: only this origin; no inline script.
/// Recordings play from here, or (on AWS) from a presigned S3 URL. Where people sign in with
/// an identity provider, the page may also connect to its token endpoint
/// ([`policy_with_sign_in`]).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     media-src 'self' https://*.amazonaws.com; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Where the page learns how to sign a person in (`crate::adapters::oidc::SignIn`).
pub const SIGN_IN_PATH: &str = "/app/sign-in.json";

/// The app's paths, each taken with GET and no credentials (the page asks for them where the
/// API does, on AWS, and holds no data of its own). Not API operations: not in the OpenAPI
/// document; the template opens them beside the document's public operations.
pub const APP_PATHS: [&str; 2] = ["/", "/app/{file}"];

type SignInExtension = Option<Extension<Arc<WebSignIn>>>;

/// `GET /` (the app's page), `GET /app/sign-in.json` and `GET /app/{file}`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            APP_PATHS[0],
            get(|headers: HeaderMap, sign_in: SignInExtension| async move {
                let policy = match sign_in {
                    Some(Extension(sign_in)) => policy_for(&sign_in).await,
                    None => CONTENT_SECURITY_POLICY.to_owned(),
                };
                file("index.html", &headers, &policy)
            }),
        )
        .route(SIGN_IN_PATH, get(sign_in))
        .route(
            APP_PATHS[1],
            get(|Path(name): Path<String>, headers: HeaderMap| async move {
                file(&name, &headers, CONTENT_SECURITY_POLICY)
            }),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

/// `GET /app/sign-in.json`: how the page signs a person in with the deployment's identity
/// provider; 404 where there is none (API keys, or no sign-in at all on 127.0.0.1).
async fn sign_in(sign_in: SignInExtension) -> Response {
    let Some(Extension(sign_in)) = sign_in else {
        return super::ApiError(crate::error::Error::not_found(
            "sign-in: this server takes API keys (no identity provider is configured)",
        ))
        .into_response();
    };
    match sign_in.get().await {
        Ok(found) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
            Json(found),
        )
            .into_response(),
        Err(e) => super::ApiError(e).into_response(),
    }
}

/// The page's policy where people sign in: connections to the token endpoint too. While the
/// sign-in cannot be worked out (the provider is down), the page is served with the plain
/// policy and says so when it asks for the sign-in.
async fn policy_for(sign_in: &WebSignIn) -> String {
    match sign_in.get().await {
        Ok(found) => policy_with_sign_in(&found.token_endpoint),
        Err(e) => {
            tracing::warn!(error = %e.report(), "the web app's sign-in could not be worked out");
            CONTENT_SECURITY_POLICY.to_owned()
        }
    }
}

/// [`CONTENT_SECURITY_POLICY`] with `token_endpoint`'s origin added to `connect-src`.
pub fn policy_with_sign_in(token_endpoint: &str) -> String {
    match endpoint_origin(token_endpoint) {
        Ok(origin) => CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ),
        Err(_) => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

/// Whether `path` is one of the app's files (not metered as API use).
pub(super) fn is_app_path(path: &str) -> bool {
    path == "/" || path.starts_with("/app/")
}

fn file(name: &str, headers: &HeaderMap, policy: &str) -> Response {
    let Some(index) = FILES.iter().position(|(n, ..)| *n == name) else {
        return super::ApiError(crate::error::Error::not_found(format!("file /app/{name}")))
            .into_response();
    };
    // Revalidated on every load (an upgrade shows at once), answered 304 when unchanged. The
    // tags are the files' digests, worked out once per process.
    static TAGS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        FILES
            .iter()
            .map(|(_, _, body)| format!("\"{}\"", &crate::domain::sha256_hex(body)[..16]))
            .collect()
    });
    let (_, media_type, body) = FILES[index];
    let etag = &TAGS[index];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let common = [
        (header::ETAG, HeaderValue::from_str(etag).expect("hex")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(policy)
                .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_names_is_served() {
        let page = FILES[0].2;
        for (name, ..) in &FILES[1..] {
            assert!(page.contains(&format!("/app/{name}")), "{name}");
        }
        // Nothing from elsewhere: no CDN, no inline script.
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn the_page_may_connect_to_the_token_endpoint_and_nowhere_else() {
        let policy = policy_with_sign_in(
            "https://leadscore-1a2b.auth.us-east-1.amazoncognito.com/oauth2/token",
        );
        assert!(policy.contains(
            "connect-src 'self' https://leadscore-1a2b.auth.us-east-1.amazoncognito.com;"
        ));
        assert_eq!(policy.matches("amazoncognito").count(), 1, "{policy}");
        // An endpoint that is not an https URL adds nothing.
        assert_eq!(
            policy_with_sign_in("http://idp.example.com/token"),
            CONTENT_SECURITY_POLICY
        );
    }
}
