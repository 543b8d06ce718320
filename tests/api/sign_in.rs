//! Signing in with an OpenID Connect provider (`serve --oidc-issuer`; on AWS the same page and
//! sign-in document, with the authorizer verifying): the web app learns the provider's
//! endpoints from `/app/sign-in.json`, its policy lets it reach the token endpoint, and the API
//! takes the provider's ID tokens for the tenant and role their claims name, refusing every
//! other token with a reason. The provider is the stand-in in `testkit::oidc`, over a socket.

use reqwest::StatusCode;
use serde_json::Value;
use shared::adapters::oidc::IdentityProvider;
use testkit::oidc::{Provider, User};

use crate::helpers::{TestApp, spawn_app, spawn_app_signing_in};

fn user(sub: &str, tenant: &str, groups: &[&str]) -> User {
    User {
        sub: sub.to_owned(),
        email: format!("{sub}@acme.example"),
        tenant: tenant.to_owned(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

async fn with_token(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_providers_id_tokens_act_for_their_tenant_and_role_and_nothing_else_passes() {
    let dir = tempfile::tempdir().unwrap();
    let rep = user("rep-1", "acme", &["rep"]);
    let provider = Provider::start("leadscore-web", &[], vec![rep.clone()]).await;
    let identity =
        IdentityProvider::discover(&provider.issuer, "leadscore-web", "tenant_id", "groups")
            .await
            .expect("the provider is found by discovery");
    let app = spawn_app_signing_in(dir.path(), identity).await;

    // The page learns where to sign in; its policy lets it reach the token endpoint.
    let (status, sign_in) = app.get("/app/sign-in.json").await;
    assert_eq!(status, StatusCode::OK, "{sign_in}");
    assert_eq!(sign_in["client_id"], "leadscore-web");
    let issuer = &provider.issuer;
    assert_eq!(
        sign_in["authorization_endpoint"],
        format!("{issuer}/oauth2/authorize")
    );
    assert_eq!(sign_in["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(sign_in["end_session_endpoint"], format!("{issuer}/logout"));
    assert_eq!(sign_in["scope"], "openid email");
    let page = app.client.get(app.url("/")).send().await.unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains(&format!("connect-src 'self' {issuer};")),
        "{policy}"
    );

    // On 127.0.0.1 too, no request acts without a token once people sign in.
    let (status, problem) = app.get("/leads").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    // The app's files and the sign-in document need none.
    assert_eq!(page.status(), StatusCode::OK);

    // The rep's ID token: acme's rep, by subject.
    let token = provider.id_token(&rep, "leadscore-web", 3600);
    let (status, me) = with_token(&app, &token, "/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        serde_json::json!({"tenant": "acme", "role": "rep", "actor": "user:rep-1"})
    );
    let (status, leads) = with_token(&app, &token, "/leads").await;
    assert_eq!(status, StatusCode::OK, "{leads}");
    // ... held to the role: a rep changes no rules.
    let resp = app
        .client
        .post(app.url("/scoring_rules"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"rule_id": "x", "criteria": "has_intent(\"pricing\")", "points": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Every other token is refused, saying why (never echoing it).
    let admin_elsewhere = user("admin-9", "acme", &["admin"]);
    let refusals = [
        (
            provider.id_token(&admin_elsewhere, "another-app", 3600),
            "another app client",
        ),
        (
            provider.id_token(&rep, "leadscore-web", -600),
            "ExpiredSignature",
        ),
        (
            provider.id_token(&user("nobody", "", &[]), "leadscore-web", 3600),
            "names no tenant",
        ),
        (format!("{}x", &token[..token.len() - 1]), "not valid"),
        ("not-a-jwt".to_owned(), "not valid"),
    ];
    for (bad, why) in refusals {
        let (status, problem) = with_token(&app, &bad, "/leads").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(why), "{why}: {problem}");
        assert!(!detail.contains(&bad), "the token is echoed: {problem}");
    }
}

#[tokio::test]
async fn without_a_provider_there_is_no_sign_in_and_this_machine_acts_as_admin() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    let (status, problem) = app.get("/app/sign-in.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("API keys"),
        "{problem}"
    );
    let (status, me) = app.get("/me").await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
}

#[tokio::test]
async fn a_provider_that_cannot_be_found_stops_the_server_before_it_starts() {
    // Nothing listens there.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let err = IdentityProvider::discover(&gone, "leadscore-web", "tenant_id", "groups")
        .await
        .err()
        .expect("no provider there");
    assert!(
        err.to_string()
            .contains(&format!("{gone}/.well-known/openid-configuration")),
        "{err}"
    );
    // A discovery document naming another issuer is refused too (OpenID Connect Discovery
    // §4.3): a provider is who it says it is.
    let provider = Provider::start("leadscore-web", &[], Vec::new()).await;
    let aliased = provider.issuer.replace("127.0.0.1", "localhost");
    let err = IdentityProvider::discover(&aliased, "leadscore-web", "tenant_id", "groups")
        .await
        .err()
        .expect("another issuer");
    assert!(err.to_string().contains("names the issuer"), "{err}");
}
