//! Connecting a CRM on its own consent screen (OAuth 2.0 authorization code) and Salesforce's
//! JWT bearer flow, against the stand-ins' authorization servers over real sockets
//! (`testkit::oauth`): the admin asks for the consent screen, the "browser" follows the CRM's
//! redirect back to `/oauth/callback`, and the connection then pushes with access tokens made
//! from the refresh token, made again when the CRM stops taking them.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::OAuthApp;
use shared::domain::Crm;
use testkit::hubspot::{self, HubSpot};
use testkit::pipedrive::{self, Pipedrive};
use testkit::salesforce::Salesforce;

use crate::helpers::{TestApp, spawn_app, spawn_app_public};

/// A browser: it follows nothing by itself, so each hop is seen.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Open the consent screen; the CRM consents and sends the browser back: where to.
async fn consent(authorize_url: &str) -> String {
    let answer = browser().get(authorize_url).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND, "{authorize_url}");
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// Follow the CRM's redirect to the callback: its status and page.
async fn back(location: &str) -> (StatusCode, String) {
    let answer = browser().get(location).send().await.unwrap();
    (answer.status(), answer.text().await.unwrap())
}

async fn app_with(
    dir: &std::path::Path,
    crm: Crm,
    (id, secret): (&str, &str),
    oauth_url: &str,
) -> TestApp {
    let config = shared::Config {
        oauth_apps: BTreeMap::from([(
            crm,
            OAuthApp {
                client_id: id.to_owned(),
                client_secret: secret.to_owned(),
            },
        )]),
        oauth_urls: BTreeMap::from([(crm, oauth_url.to_owned())]),
        ..Default::default()
    };
    spawn_app_public(dir, config).await
}

/// A server whose deployment has `crm`'s app, with the demo's calls scored, where an admin
/// has asked for the consent screen with `settings`: the server and the screen's address.
async fn demo_authorizing(
    dir: &std::path::Path,
    crm: Crm,
    app_credentials: (&str, &str),
    oauth_url: &str,
    settings: Value,
) -> (TestApp, String) {
    let app = app_with(dir, crm, app_credentials, oauth_url).await;
    crate::crm::copy_samples(&app);
    app.settle().await;
    let (status, started) = app
        .send(
            Method::POST,
            &format!("/integrations/{crm}/authorize"),
            &settings.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["redirect_uri"], app.url("/oauth/callback"));
    let url = started["authorize_url"].as_str().unwrap().to_owned();
    (app, url)
}

/// The first lead listed (the hottest), as the API shows it.
async fn first_lead(app: &TestApp) -> Value {
    app.get("/leads?limit=1").await.1["leads"][0].clone()
}

/// A rep adjusts `lead` by `points` (in place of any adjustment before), and the work that
/// follows is done: the lead as the API shows it then, its score moved (so a push followed).
async fn adjust(app: &TestApp, lead: &Value, points: i32) -> Value {
    let path = format!("/leads/{}", lead["lead_id"].as_str().unwrap());
    let (status, answer) = app
        .send(
            Method::PUT,
            &format!("{path}/adjustment"),
            &json!({"points": points, "reason": "checked by hand"}).to_string(),
        )
        .await;
    assert!(status.is_success(), "{answer}");
    app.settle().await;
    let after = app.get(&path).await.1;
    assert_ne!(after["lead_score"], lead["lead_score"], "{after:#}");
    after
}

fn all_synced(crm: &'static str) -> impl Fn(&Value) -> bool {
    move |page: &Value| {
        page["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["lead_score"].is_null() || l["crm_sync"][crm]["state"] == "synced")
    }
}

#[tokio::test]
async fn hubspot_connects_on_its_consent_screen_and_pushes_with_refreshed_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let hubspot = HubSpot::start("pat-unused").await;
    // WHEN an admin asks for HubSpot's consent screen
    let (app, authorize_url) = demo_authorizing(
        dir.path(),
        Crm::Hubspot,
        (hubspot::CLIENT_ID, hubspot::CLIENT_SECRET),
        &hubspot.url,
        json!({"base_url": hubspot.url, "create_missing": true}),
    )
    .await;
    let authorize_url = authorize_url.as_str();
    // THEN it is HubSpot's, for the deployment's app, asking for the scopes a sync needs, and
    // sends the browser back to this API
    let url = url::Url::parse(authorize_url).unwrap();
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(authorize_url.starts_with(&format!("{}/oauth/authorize?", hubspot.url)));
    assert_eq!(query["client_id"], hubspot::CLIENT_ID);
    assert_eq!(query["redirect_uri"], app.url("/oauth/callback"));
    assert!(
        query["scope"].contains("crm.objects.contacts.write"),
        "{query:?}"
    );
    let state = &query["state"];
    assert!(state.starts_with("default.hubspot."), "{state}");

    // A forged state (the right tenant and CRM, another nonce) is refused and leaves the
    // real authorization waiting; a callback without a state is refused the same way.
    let forged = app.url(&format!(
        "/oauth/callback?code=stolen&state=default.hubspot.{}",
        "0".repeat(64)
    ));
    let (status, page) = back(&forged).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("no authorization is waiting"), "{page}");
    let (status, _) = back(&app.url("/oauth/callback?code=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // WHEN the admin allows leadscore and HubSpot sends the browser back
    let location = consent(authorize_url).await;
    assert!(
        location.starts_with(&app.url("/oauth/callback?code=")),
        "{location}"
    );
    let (status, page) = back(&location).await;
    // THEN the page says HubSpot is connected, and the connection signs in with the refresh
    // token, which no answer shows
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("HubSpot is connected"), "{page}");
    let (_, connection) = app.get("/integrations/hubspot").await;
    assert_eq!(connection["auth"], "refresh_token", "{connection}");
    assert_eq!(connection["state"], "connected");
    assert_eq!(
        connection["accepts_webhooks"], true,
        "the app's secret checks its webhooks"
    );
    let refresh_tokens = hubspot.oauth(|o| o.refresh_tokens());
    assert_eq!(refresh_tokens.len(), 1);
    let (_, listed) = app.get("/integrations").await;
    for shown in [connection.to_string(), listed.to_string(), page.clone()] {
        assert!(!shown.contains(&refresh_tokens[0]) && !shown.contains(hubspot::CLIENT_SECRET));
    }
    // AND every scored lead's score reaches HubSpot, with the access token the code's trade
    // gave (no refresh needed yet)
    app.wait_for("/leads?limit=200", all_synced("hubspot"))
        .await;
    assert_eq!(hubspot.oauth(|o| o.stats.codes_traded), 1);
    assert_eq!(hubspot.oauth(|o| o.stats.refreshes), 0);

    // The same callback again finds nothing: a code and its state are used once.
    let (status, page) = back(&location).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");

    // WHEN HubSpot stops taking the access token (it expired, or was revoked) and a score
    // changes
    hubspot.oauth(|o| o.expire_all());
    let refreshes = hubspot.oauth(|o| o.stats.refreshes);
    let adjusted = adjust(&app, &first_lead(&app).await, -30).await;
    // THEN a new access token is made from the refresh token, once, and the score lands
    assert_eq!(
        adjusted["crm_sync"]["hubspot"]["state"], "synced",
        "{adjusted:#}"
    );
    let contact = &hubspot.contacts()[adjusted["crm_sync"]["hubspot"]["record_id"]
        .as_str()
        .unwrap()];
    assert_eq!(
        contact["leadscore_score"],
        adjusted["lead_score"].to_string()
    );
    assert_eq!(hubspot.oauth(|o| o.stats.refreshes), refreshes + 1);
}

#[tokio::test]
async fn pipedrive_connects_on_its_consent_screen_on_the_company_domain_and_keeps_a_rotated_refresh_token()
 {
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = Pipedrive::start("api-token-unused").await;
    let (app, authorize_url) = demo_authorizing(
        dir.path(),
        Crm::Pipedrive,
        (pipedrive::CLIENT_ID, pipedrive::CLIENT_SECRET),
        &pipedrive.url,
        json!({"create_missing": true}),
    )
    .await;
    let authorize_url = authorize_url.as_str();
    assert!(authorize_url.starts_with(&format!(
        "{}/oauth/authorize?client_id={}",
        pipedrive.url,
        pipedrive::CLIENT_ID
    )));
    // WHEN the admin allows leadscore (the app's client proves itself with HTTP basic)
    let (status, page) = back(&consent(authorize_url).await).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // THEN the connection is on the company's API host the tokens named, its person fields
    // are made, and its webhooks subscribed with credentials of leadscore's own
    let (_, connection) = app.get("/integrations/pipedrive").await;
    assert_eq!(connection["base_url"], pipedrive.url.as_str());
    assert_eq!(connection["auth"], "refresh_token");
    assert_eq!(connection["accepts_webhooks"], true, "{connection:#}");
    assert_eq!(connection["field_keys"].as_object().unwrap().len(), 6);
    app.wait_for("/leads?limit=200", all_synced("pipedrive"))
        .await;

    // WHEN Pipedrive rotates refresh tokens and the access token lapses
    pipedrive.oauth(|o| {
        o.set_rotation(true);
        o.expire_all();
    });
    let first = adjust(&app, &first_lead(&app).await, -20).await;
    assert_eq!(
        first["crm_sync"]["pipedrive"]["state"], "synced",
        "{first:#}"
    );
    // THEN the new refresh token is the one kept: after the next lapse it still signs in (the
    // old one is refused by now)
    pipedrive.oauth(|o| o.expire_all());
    let second = adjust(&app, &first, 15).await;
    assert_eq!(
        second["crm_sync"]["pipedrive"]["state"], "synced",
        "{second:#}"
    );
    assert_eq!(pipedrive.oauth(|o| o.stats.refreshes), 2);
    assert_eq!(pipedrive.oauth(|o| o.stats.refused), 0);
}

#[tokio::test]
async fn authorizing_says_what_is_missing_and_a_refusal_on_the_consent_screen_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Without a public address, the CRM could not send the browser back.
    let plain = spawn_app(dir.path()).await;
    let (status, answer) = plain
        .send(
            Method::POST,
            "/integrations/hubspot/authorize",
            &json!({"client_id": "a", "client_secret": "b"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("public address"),
        "{answer}"
    );
    drop(plain);

    let dir = tempfile::tempdir().unwrap();
    let org = Salesforce::start("3MVG9.consent", "consumer-secret", "unused").await;
    let app = spawn_app_public(dir.path(), shared::Config::default()).await;
    // No app of the deployment's, and none given: the answer names the variables.
    let (status, answer) = app
        .send(Method::POST, "/integrations/salesforce/authorize", "{}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let detail = answer["detail"].as_str().unwrap();
    assert!(detail.contains("SALESFORCE_CLIENT_ID"), "{detail}");
    // Half an app is refused by name.
    let (status, answer) = app
        .send(
            Method::POST,
            "/integrations/salesforce/authorize",
            &json!({"client_id": "x"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["detail"].as_str().unwrap().contains("client_secret"),
        "{answer}"
    );

    // WHEN the admin declines on Salesforce's consent screen (the tenant's own connected app)
    let (status, started) = app
        .send(
            Method::POST,
            "/integrations/salesforce/authorize",
            &json!({"client_id": "3MVG9.consent", "client_secret": "consumer-secret", "base_url": org.url})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let authorize_url = started["authorize_url"].as_str().unwrap();
    assert!(authorize_url.starts_with(&format!(
        "{}/services/oauth2/authorize?response_type=code&",
        org.url
    )));
    let state: String = url::Url::parse(authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let declined = app.url(&format!(
        "/oauth/callback?error=access_denied&error_description=end-user+denied+authorization&state={state}"
    ));
    let (status, page) = back(&declined).await;
    // THEN the answer says Salesforce was not allowed, and why; nothing is connected
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(
            "Salesforce did not authorize leadscore: access_denied end-user denied authorization"
        ),
        "{page}"
    );
    let (status, _) = app.get("/integrations/salesforce").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // AND a second attempt, allowed, connects through the web server flow
    let (_, started) = app
        .send(
            Method::POST,
            "/integrations/salesforce/authorize",
            &json!({"client_id": "3MVG9.consent", "client_secret": "consumer-secret", "base_url": org.url})
                .to_string(),
        )
        .await;
    let (status, page) = back(&consent(started["authorize_url"].as_str().unwrap()).await).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (_, connection) = app.get("/integrations/salesforce").await;
    assert_eq!(connection["auth"], "refresh_token");
    assert_eq!(connection["objects"], json!(["Lead"]));
}

#[tokio::test]
async fn salesforce_connects_with_the_jwt_bearer_flow_and_signs_in_again_when_its_session_ends() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let org = Salesforce::start("3MVG9.jwt", "unused-secret", "unused").await;
    let fixtures = crate::helpers::repo_root().join("tests/fixtures/crm");
    let private_key = std::fs::read_to_string(fixtures.join("jwt-test-key.pem")).unwrap();
    let public_key = std::fs::read_to_string(fixtures.join("jwt-test-key.pub.pem")).unwrap();
    org.oauth(|o| o.allow_jwt(&public_key, "integration@acme.example"));
    crate::crm::copy_samples(&app);
    app.settle().await;
    let connect = |body: Value| {
        let app = &app;
        async move {
            app.send(Method::PUT, "/integrations/salesforce", &body.to_string())
                .await
        }
    };
    let body = |user: &str, key: &str| json!({"client_id": "3MVG9.jwt", "username": user, "private_key": key, "base_url": org.url, "create_missing": true});

    // Refusals name the field, and never repeat the key.
    let (status, answer) = connect(body(
        "integration@acme.example",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .starts_with("private_key: not an RSA private key"),
        "{answer}"
    );
    let (status, answer) = connect(body("someone-else@acme.example", &private_key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("user hasn't approved this consumer"),
        "{answer}"
    );
    let (status, answer) = connect(json!({"token": "x", "username": "integration@acme.example", "private_key": private_key, "client_id": "3MVG9.jwt", "base_url": org.url})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["detail"].as_str().unwrap().starts_with("token:"),
        "{answer}"
    );

    // WHEN the tenant connects with the connected app's key for its integration user
    let (status, connection) = connect(body("integration@acme.example", &private_key)).await;
    // THEN it is connected with no refresh token at all, and the key is not shown
    assert_eq!(status, StatusCode::OK, "{connection}");
    assert_eq!(connection["auth"], "jwt_bearer");
    assert!(!connection.to_string().contains("PRIVATE KEY"));
    app.wait_for("/leads?limit=200", |page| {
        page["leads"].as_array().unwrap().iter().all(|l| {
            l["lead_score"].is_null()
                || ["synced", "failed"].contains(
                    &l["crm_sync"]["salesforce"]["state"]
                        .as_str()
                        .unwrap_or_default(),
                )
        })
    })
    .await;
    let assertions = org.oauth(|o| o.stats.assertions);
    assert!(assertions >= 1);

    // WHEN the session ends, the next push signs in with a fresh assertion
    org.expire_sessions();
    let adjusted = adjust(&app, &first_lead(&app).await, -30).await;
    assert_eq!(
        adjusted["crm_sync"]["salesforce"]["state"], "synced",
        "{adjusted:#}"
    );
    let record = adjusted["crm_sync"]["salesforce"]["record_id"]
        .as_str()
        .unwrap();
    assert_eq!(
        org.get(record, "LeadScore__c"),
        Some(adjusted["lead_score"].clone())
    );
    assert_eq!(org.oauth(|o| o.stats.assertions), assertions + 1);
}
