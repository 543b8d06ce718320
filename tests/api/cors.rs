//! A web page on another origin calls the API from a browser: `serve --cors-origin` lets the
//! origins it names in (preflight answered, the headers a page reads exposed) and no other.

use crate::helpers::{spawn_app, spawn_app_with};

const APP: &str = "https://app.example.com";

async fn serving(origins: &[&str]) -> (tempfile::TempDir, crate::helpers::TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        cors_origins: origins.iter().map(|o| o.to_string()).collect(),
        ..shared::Config::default()
    };
    let app = spawn_app_with(dir.path(), config).await;
    (dir, app)
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_page_of_a_named_origin_may_call_the_api_and_read_what_it_needs() {
    let (_dir, app) = serving(&[APP, "http://localhost:5173"]).await;
    // The browser asks first, for a POST with a JSON body and an idempotency key.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/leads"))
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some(APP));
    let methods = header(&preflight, "access-control-allow-methods").unwrap_or("");
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = header(&preflight, "access-control-allow-headers").unwrap_or("");
    assert!(headers.contains("idempotency-key"), "{headers}");

    // Then the request itself: the page may read the new lead's Location.
    let created = app
        .client
        .post(app.url("/leads"))
        .header("origin", APP)
        .header("content-type", "application/json")
        .body(r#"{"phone_number": "+14155550134"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    assert_eq!(header(&created, "access-control-allow-origin"), Some(APP));
    let exposed = header(&created, "access-control-expose-headers").unwrap_or("");
    assert!(exposed.contains("location"), "{exposed}");
    app.stop().await;
}

#[tokio::test]
async fn other_origins_get_no_permission() {
    let (_dir, app) = serving(&[APP]).await;
    let resp = app
        .client
        .get(app.url("/leads"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    app.stop().await;
    // A server started without origins allows none, not even that one.
    let dir = tempfile::tempdir().unwrap();
    let plain = spawn_app(dir.path()).await;
    let resp = plain
        .client
        .get(plain.url("/leads"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    plain.stop().await;
}

#[test]
fn an_origin_written_other_than_browsers_send_it_is_refused_by_name() {
    use shared::handlers::api::cors;
    for (bad, says) in [
        ("https://app.example.com/", "write it so"),
        ("https://App.Example.com", "write it so"),
        ("app.example.com", "not a web origin"),
        ("ftp://files.example.com", "not a web origin"),
    ] {
        let err = cors(&[bad.to_owned()])
            .err()
            .unwrap_or_else(|| panic!("{bad} taken"));
        let text = err.to_string();
        assert!(text.contains(bad) && text.contains(says), "{bad}: {text}");
    }
    assert!(cors(&["*".to_owned()]).unwrap().is_some());
    assert!(cors(&[]).unwrap().is_none());
}
