//! The web app: three static files built into the binary (`shared/web/`), served at `/` and
//! `/app/...` by the same router as the API, gzipped for browsers that take it. The page is a
//! client of the documented API and nothing else; its policy lets it load only from here.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Deps;

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
/// Recordings play from here, or (on AWS) from a presigned S3 URL.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     media-src 'self' https://*.amazonaws.com; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The app's paths, each taken with GET and no credentials (the page asks for them where the
/// API does, on AWS, and holds no data of its own). Not API operations: not in the OpenAPI
/// document; the template opens them beside the document's public operations.
pub const APP_PATHS: [&str; 2] = ["/", "/app/{file}"];

/// `GET /` (the app's page) and `GET /app/{file}`.
pub(super) fn routes() -> Router<Deps> {
    Router::new()
        .route(
            APP_PATHS[0],
            get(|headers: HeaderMap| async move { file("index.html", &headers) }),
        )
        .route(
            APP_PATHS[1],
            get(
                |Path(name): Path<String>, headers: HeaderMap| async move { file(&name, &headers) },
            ),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

/// Whether `path` is one of the app's files (not metered as API use).
pub(super) fn is_app_path(path: &str) -> bool {
    path == "/" || path.starts_with("/app/")
}

fn file(name: &str, headers: &HeaderMap) -> Response {
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
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
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
}
