//! API keys and roles over a real socket: a key is shown once and kept hashed; each role may
//! do what it may and is refused the rest with 403, and nothing is changed; a bad or revoked
//! key gets 401; each key has its own rate limit; and beyond 127.0.0.1 nothing answers without
//! a key.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, captured_logs, spawn_app, spawn_app_at, spawn_app_with};

/// A request with `Authorization: Bearer <key>`.
async fn with_key(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Make a key as the machine's own user (an admin, on 127.0.0.1): its token and id.
async fn make_key(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let (status, body) = app
        .send(
            Method::POST,
            "/api_keys",
            &json!({"name": name, "role": role}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["token"].as_str().unwrap().to_owned(),
        body["key_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_key_is_shown_once_and_kept_only_as_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // WHEN an admin makes a key
    let (token, key_id) = make_key(&app, "zapier", "rep").await;
    assert!(token.starts_with("lsk_default_ak_"), "{token}");
    // THEN it works, and the list shows it (and when it was used) without its secret
    let (status, _) = with_key(&app, &token, Method::GET, "/leads", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, list) = app.get("/api_keys").await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list["api_keys"][0];
    assert_eq!(listed["key_id"], key_id.as_str());
    assert_eq!(listed["role"], "rep");
    assert!(listed["last_used_at"].is_string(), "{listed}");
    let secret = &token[token.len() - 64..];
    assert!(!list.to_string().contains(secret), "{list}");
    assert!(listed.get("token").is_none() && listed.get("secret_sha256").is_none());
    // ... nor in the database file or the log
    app.stop().await;
    let db = std::fs::read(dir.path().join("leadscore.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(secret));
    assert!(!captured_logs().contains(secret));
}

#[tokio::test]
async fn each_role_does_what_it_may_and_is_refused_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (viewer, viewer_id) = make_key(&app, "dashboard", "viewer").await;
    let (rep, _) = make_key(&app, "crm sync", "rep").await;
    let (_, rules_before) = app.get("/scoring_rules").await;

    // Each caller can ask who it is (what a client offers depends on it).
    let (status, me) = with_key(&app, &viewer, Method::GET, "/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"tenant": "default", "role": "viewer", "actor": format!("key:{viewer_id}")})
    );
    let (_, local) = app.get("/me").await;
    assert_eq!(
        local,
        json!({"tenant": "default", "role": "admin", "actor": "local"})
    );
    let rule = json!({"criteria": "calls.count >= 2", "weight": 5, "description": "came back"});

    // GIVEN a viewer's key: it reads, and a rule change is refused with 403 saying why
    let (status, _) = with_key(&app, &viewer, Method::GET, "/scoring_rules", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = with_key(
        &app,
        &viewer,
        Method::POST,
        "/scoring_rules",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["type"], "urn:leadscore:problem:forbidden");
    assert_eq!(
        problem["detail"],
        "this needs the admin role; the caller is a viewer"
    );
    let (status, _) = with_key(
        &app,
        &viewer,
        Method::POST,
        "/leads",
        Some(json!({"phone_number": "+14155550134"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A rep's key works leads, and may not change rules or make keys
    let (status, lead) = with_key(
        &app,
        &rep,
        Method::POST,
        "/leads",
        Some(json!({"phone_number": "+14155550134"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    let outcome = format!("/leads/{}/outcome", lead["lead_id"].as_str().unwrap());
    let (status, _) = with_key(
        &app,
        &rep,
        Method::PUT,
        &outcome,
        Some(json!({"outcome": "won", "value": 1200})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, "/scoring_rules", rule.clone()),
        (
            Method::PUT,
            "/settings",
            json!({"tiers": {"hot": 80, "warm": 50}}),
        ),
        (
            Method::POST,
            "/api_keys",
            json!({"name": "mine", "role": "admin"}),
        ),
    ] {
        let (status, problem) = with_key(&app, &rep, method, path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
    }
    // THEN the refusals changed nothing
    let (_, rules_after) = app.get("/scoring_rules").await;
    assert_eq!(rules_after, rules_before);
    let (_, settings) = app.get("/settings").await;
    assert_eq!(settings["tiers"]["hot"], 70);
    let (_, keys) = app.get("/api_keys").await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_wrong_or_revoked_key_is_refused_with_401() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (token, key_id) = make_key(&app, "old integration", "admin").await;
    // A key with one character changed, and a key of a tenant that does not exist
    let mut wrong = token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    for bad in [
        wrong.as_str(),
        "lsk_nobody_ak_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000",
        "lsk_not-a-key",
    ] {
        let (status, problem) = with_key(&app, bad, Method::GET, "/leads", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {problem}");
        assert_eq!(
            problem["detail"],
            "the API key is not valid: unknown, revoked, or not copied whole"
        );
    }
    // Revoked: refused from the next request on, and the list says when
    let (status, revoked) = app
        .send(Method::DELETE, &format!("/api_keys/{key_id}"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, _) = with_key(&app, &token, Method::GET, "/leads", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .send(Method::DELETE, "/api_keys/ak_0000000000000000", "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_key_has_a_rate_limit_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        key_rate_limit_per_minute: 3,
        ..shared::Config::default()
    };
    let app = spawn_app_with(dir.path(), config).await;
    let (busy, busy_id) = make_key(&app, "runaway", "viewer").await;
    let (calm, _) = make_key(&app, "calm", "viewer").await;
    // The window may turn over mid-test; start early in one.
    testkit::contract::early_in_window(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(10),
    )
    .await;
    for _ in 0..3 {
        let (status, _) = with_key(&app, &busy, Method::GET, "/leads", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = app
        .client
        .get(app.url("/leads"))
        .bearer_auth(&busy)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("API key {busy_id} made more than 3 requests")),
        "{problem}"
    );
    // Another key of the same tenant, and the tenant's own user, are not held back
    let (status, _) = with_key(&app, &calm, Method::GET, "/leads", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/leads").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn beyond_loopback_every_request_needs_a_key() {
    let dir = tempfile::tempdir().unwrap();
    // GIVEN a key made on the data folder (as `leadscore keys create` does)
    let opened = shared::local::LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    let tenant = shared::domain::TenantId::default_tenant();
    let (_, token) = shared::handlers::access::issue(
        &opened.deps,
        &tenant,
        &shared::domain::NewApiKey {
            name: "ops".into(),
            role: shared::domain::Role::Viewer,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    drop(opened);
    // WHEN the server listens on every interface
    let app = spawn_app_at(dir.path(), shared::Config::default(), "0.0.0.0:0").await;
    // THEN a request without a key is refused, one with the key acts as its role, and the
    // health check and the API's description stay open
    let (status, problem) = app.get("/leads").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let (status, _) = with_key(&app, &token, Method::GET, "/leads", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = with_key(
        &app,
        &token,
        Method::POST,
        "/api_keys",
        Some(json!({"name": "more", "role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for open in ["/health", "/openapi.json"] {
        let (status, _) = app.get(open).await;
        assert_eq!(status, StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn every_write_is_in_the_audit_log_with_who_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (rep, rep_id) = make_key(&app, "crm sync", "rep").await;
    let (viewer, viewer_id) = make_key(&app, "dashboard", "viewer").await;
    // GIVEN a rep's write, a viewer's refused write, and reads (which are not logged)
    let (status, lead) = with_key(
        &app,
        &rep,
        Method::POST,
        "/leads",
        Some(json!({"phone_number": "+14155550134", "first_name": "Dana"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = with_key(
        &app,
        &viewer,
        Method::PUT,
        "/settings",
        Some(json!({"tiers": {"hot": 90, "warm": 10}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let _ = with_key(&app, &viewer, Method::GET, "/leads", None).await;
    // WHEN an admin reads the log
    let (status, log) = app.get("/audit_log?limit=3").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries = log["entries"].as_array().unwrap();
    // THEN the newest first: the refusal, the rep's lead, and the key made before them
    let seen: Vec<(String, String, String, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                format!("key:{viewer_id}"),
                "PUT".into(),
                "/settings".into(),
                403
            ),
            (format!("key:{rep_id}"), "POST".into(), "/leads".into(), 201),
            ("local".into(), "POST".into(), "/api_keys".into(), 201),
        ]
    );
    // ... with no body in it (the lead's name and number are in the lead, not the log)
    let text = log.to_string();
    assert!(
        !text.contains("Dana") && !text.contains("4155550134"),
        "{text}"
    );
    assert!(lead["lead_id"].is_string());
    // The rest, a page on; and a viewer may not read it
    let cursor = log["next_cursor"].as_str().unwrap();
    let (_, older) = app.get(&format!("/audit_log?cursor={cursor}")).await;
    assert_eq!(older["entries"][0]["path"], "/api_keys");
    assert_eq!(older["next_cursor"], Value::Null);
    let (status, _) = with_key(&app, &viewer, Method::GET, "/audit_log", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
