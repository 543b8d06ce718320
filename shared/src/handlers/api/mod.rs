//! The REST API: an axum `Router` that local mode serves on a socket and the Lambda API
//! function serves behind API Gateway, unchanged.

mod audit;
mod calls;
mod crm;
mod doc;
mod extract;
mod gong;
mod keys;
mod leads;
mod model;
mod problem;
mod recordings;
mod reports;
mod rescores;
mod routing;
mod rules;
mod settings;
mod sms;
mod usage;
mod web;
mod webhooks;

use axum::Json;
use axum::Router;
use schemars::JsonSchema;
use serde::Serialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use problem::ApiError;
pub use web::APP_PATHS;

use crate::Deps;
use crate::domain::{Actor, Caller, Counter, Role};
use crate::error::Error;
use crate::ports::Admission;
use routing::{Build, Routes, get_with};

/// The methods a page may use, the request headers it may send, and the response headers it
/// may read; the template's `CorsConfiguration` says the same (checked by `tests/aws/infra.rs`).
pub const CORS_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
pub const CORS_ALLOW_HEADERS: [&str; 3] = ["authorization", "content-type", "idempotency-key"];
pub const CORS_EXPOSE_HEADERS: [&str; 3] = ["location", "link", "idempotent-replayed"];
/// How long a browser may keep a preflight's answer.
pub const CORS_MAX_AGE_SECONDS: u64 = 600;

/// The CORS policy for `origins`, or none when there are none: preflights answered for the
/// methods and headers the API takes, and the headers a page may read exposed (`Location`,
/// `Link`, `Idempotent-Replayed`). Each origin is written as browsers send it
/// (`https://app.example.com`, no path or trailing slash), or `*` for any page (no credentials
/// are involved: keys and tokens travel in `Authorization`). The error names a bad origin.
pub fn cors(origins: &[String]) -> crate::Result<Option<CorsLayer>> {
    use axum::http::{HeaderName, HeaderValue, Method};
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let parsed = origins
            .iter()
            .map(|o| {
                let serialized = url::Url::parse(o)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .map(|u| u.origin().ascii_serialization())
                    .filter(|s| s != "null")
                    .ok_or_else(|| {
                        Error::validation(format!(
                            "CORS origin `{o}`: not a web origin such as https://app.example.com"
                        ))
                    })?;
                if serialized != *o {
                    return Err(Error::validation(format!(
                        "CORS origin `{o}`: browsers send it as `{serialized}`; write it so"
                    )));
                }
                HeaderValue::from_str(o)
                    .map_err(|e| Error::validation(format!("CORS origin `{o}`: {e}")))
            })
            .collect::<crate::Result<Vec<_>>>()?;
        AllowOrigin::list(parsed)
    };
    let names = |list: &[&'static str]| {
        list.iter()
            .map(|h| HeaderName::from_static(h))
            .collect::<Vec<_>>()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods(
                CORS_METHODS
                    .iter()
                    .map(|m| Method::from_bytes(m.as_bytes()).expect("a method"))
                    .collect::<Vec<_>>(),
            )
            .allow_headers(names(&CORS_ALLOW_HEADERS))
            .expose_headers(names(&CORS_EXPOSE_HEADERS))
            .max_age(std::time::Duration::from_secs(CORS_MAX_AGE_SECONDS)),
    ))
}

/// The routes' state: the process's one [`Deps`], shared. axum hands each handler and
/// middleware its own copy of the state, so a request costs a reference count, not a copy of
/// every port and the configuration.
pub(crate) type AppState = std::sync::Arc<Deps>;

/// The API for local mode on 127.0.0.1: a request without an API key acts as the machine's own
/// user, the admin of `deps.config.tenant`; one with a key acts as the key says.
pub fn router(deps: Deps) -> Router {
    let local = LocalCaller(Caller {
        tenant: deps.config.tenant.clone(),
        role: Role::Admin,
        actor: Actor::Local,
    });
    routes(deps).layer(axum::Extension(local))
}

/// Who a request without credentials acts as, where the runtime allows that (local mode on
/// 127.0.0.1).
#[derive(Clone)]
struct LocalCaller(Caller);

/// Everything the API serves over `deps`: its operations and its pages, as local mode serves
/// them. Each request acts as the `Caller` in its extensions: put there by the runtime (the AWS
/// authorizer's verdict), or by `authenticate` from an API key, or local mode's own user. A
/// request without one is refused with 401 where it needs one.
pub fn routes(deps: Deps) -> Router {
    serve(
        deps,
        documented::<routing::Serve>()
            .into_inner()
            .merge(web::routes()),
    )
}

/// The API's operations alone, without its pages ([`pages`]): what the API function serves on
/// AWS, where API Gateway sends the pages' paths ([`PAGE_PATHS`]) to a function of their own.
pub fn operations(deps: Deps) -> Router {
    serve(deps, operation_routes::<routing::Serve>().into_inner())
}

/// The pages, which a browser loads before it holds any credentials: the web app (`/`,
/// `/app/...`), the OpenAPI document and its reference page. They act for no caller and read
/// no store, so no request here is authenticated, limited or audited.
pub fn pages(deps: Deps) -> Router {
    doc::routes::<routing::Serve>()
        .into_inner()
        .merge(web::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response(
            problem::router_errors_as_problems,
        ))
        .with_state(AppState::new(deps))
}

/// The paths [`pages`] answers (GET, no credentials): the web app's and the document's.
pub const PAGE_PATHS: [&str; 4] = [APP_PATHS[0], APP_PATHS[1], doc::PATHS[0], doc::PATHS[1]];

/// Whether `path` is one of [`PAGE_PATHS`], as API Gateway matches them.
pub fn is_page_path(path: &str) -> bool {
    web::is_app_path(path) || doc::PATHS.contains(&path)
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(Error::not_found(format!(
        "endpoint {method} {}",
        uri.path()
    )))
}

/// `routes` with what every operation goes through: the body's limit, the caller, the rate
/// limit, the audit log, and errors as problem documents.
fn serve(deps: Deps, routes: axum::Router<AppState>) -> Router {
    let deps = AppState::new(deps);
    routes
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            problem::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            audit::record_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            rate_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            authenticate,
        ))
        .layer(axum::middleware::map_response(
            problem::router_errors_as_problems,
        ))
        .with_state(deps)
}

/// The OpenAPI document of the API `routes` serves, generated from the routes' declarations.
/// `GET /openapi.json` answers it as written ahead of time (`shared/openapi.json`, held equal
/// to this by a test), so a process serving the API never generates it.
pub fn document() -> aide::openapi::OpenApi {
    let mut api = aide::openapi::OpenApi::default();
    let _described = documented::<routing::Describe>()
        .into_inner()
        .finish_api_with(&mut api, doc::describe);
    api
}

/// Every route, with its documentation: the operations and the document's own.
fn documented<B: Build>() -> Routes<B> {
    operation_routes().merge(doc::routes())
}

/// Every operation, with its documentation.
fn operation_routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/health",
            get_with(health, |op| {
                op.id("health")
                    .tag("meta")
                    .summary("Whether the service is up, and its version")
            }),
        )
        .api_route(
            "/me",
            get_with(me, |op| {
                op.id("me")
                    .tag("meta")
                    .summary("Who the request acts as: tenant, role and actor")
                    .description(
                        "What a client shows depends on it: a viewer reads, a rep also works \
                         leads, an admin also runs the tenant (the web app offers each only \
                         what the role may do).",
                    )
            }),
        )
        .merge(leads::routes())
        .merge(calls::routes())
        .merge(recordings::routes())
        .merge(rules::routes())
        .merge(settings::routes())
        .merge(model::routes())
        .merge(rescores::routes())
        .merge(sms::routes())
        .merge(keys::routes())
        .merge(audit::routes())
        .merge(usage::routes())
        .merge(webhooks::routes())
        .merge(crm::routes())
        .merge(gong::routes())
        .merge(reports::routes())
}

/// The caller, as `GET /me` answers it.
#[derive(Serialize, JsonSchema)]
struct Me {
    tenant: String,
    role: Role,
    /// `local` (serve on 127.0.0.1 without a key), `key:<id>` or `user:<subject>`.
    actor: String,
}

async fn me(extract::Who(caller): extract::Who) -> Json<Me> {
    Json(Me {
        tenant: caller.tenant.to_string(),
        role: caller.role,
        actor: match caller.actor {
            Actor::Local => "local".to_owned(),
            Actor::Key(id) => format!("key:{id}"),
            Actor::User(subject) => format!("user:{subject}"),
        },
    })
}

/// Who the request acts as. A caller the runtime has put in (the AWS authorizer's verdict)
/// stands; else an API key in `Authorization: Bearer lsk_...` is checked (401 if it does not
/// hold); else, where the runtime takes an identity provider's tokens (an `IdTokens`
/// extension: `serve --oidc-issuer`), any other bearer token is verified as one; else local
/// mode's own user, where the runtime allows one.
async fn authenticate(
    axum::extract::State(deps): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.extensions().get::<Caller>().is_none() {
        let token = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::domain::bearer_token)
            .map(str::to_owned);
        let tokens = request
            .extensions()
            .get::<std::sync::Arc<crate::adapters::oidc::IdTokens>>()
            .cloned();
        let caller = match (token, tokens) {
            (Some(token), _) if token.starts_with(crate::domain::KEY_PREFIX) => {
                crate::handlers::access::caller_for_key(&deps, &token, chrono::Utc::now())
                    .await
                    .map(Some)
            }
            (Some(token), Some(tokens)) => tokens.caller(&token).await.map(Some),
            _ => Ok(request
                .extensions()
                .get::<LocalCaller>()
                .map(|local| local.0.clone())),
        };
        match caller {
            Ok(Some(caller)) => {
                request.extensions_mut().insert(caller);
            }
            Ok(None) => {}
            Err(e) => return ApiError(e).into_response(),
        }
    }
    next.run(request).await
}

/// Count the request against its tenant's limit per minute (`Config::rate_limit_per_minute`)
/// and its key's (`key_rate_limit_per_minute`), and, once admitted, in the tenant's usage;
/// past a limit, 429 with `Retry-After`. Requests that name no tenant (`/health`, Twilio's
/// webhooks, short links) and the pages ([`PAGE_PATHS`], which local mode serves beside the
/// operations) are not counted here. A limiter that cannot count (its store is
/// down) lets the request through and says so in the log: the stage's throttle still holds.
async fn rate_limit(
    axum::extract::State(deps): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let caller = request.extensions().get::<Caller>().cloned();
    let path = request.uri().path();
    if let (Some(caller), true) = (caller, path != "/health" && !is_page_path(path)) {
        let window = std::time::Duration::from_secs(60);
        let mut limits = vec![(
            format!("tenant:{}", caller.tenant),
            deps.config.rate_limit_per_minute,
            format!("tenant {}", caller.tenant),
        )];
        if let Actor::Key(id) = &caller.actor {
            limits.push((
                format!("key:{}:{id}", caller.tenant),
                deps.config.key_rate_limit_per_minute,
                format!("API key {id}"),
            ));
        }
        for (key, limit, whose) in limits.into_iter().filter(|(_, limit, _)| *limit > 0) {
            match deps.rate.admit(&key, limit, window).await {
                Ok(Admission::Limited { retry_after }) => {
                    return problem::rate_limited(&whose, limit, retry_after);
                }
                Ok(Admission::Admitted) => {}
                Err(e) => {
                    tracing::warn!(error = %e.report(), "the rate limit could not be counted")
                }
            }
        }
        // Admitted: a request the tenant pays for.
        crate::handlers::usage::count(&deps, &caller.tenant, Counter::ApiRequests, 1).await;
    }
    next.run(request).await
}

/// The service is up.
#[derive(Serialize, JsonSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
    version: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn deps() -> (tempfile::TempDir, Deps) {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::local::LocalApp::open(dir.path(), crate::Config::default()).unwrap();
        (dir, app.deps)
    }

    async fn call(
        deps: &Deps,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value, Option<String>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = router(deps.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            ct,
        )
    }

    #[tokio::test]
    async fn malformed_bodies_get_problem_documents_naming_the_field() {
        let (_d, deps) = deps();
        let (status, body, ct) = call(&deps, "POST", "/leads", r#"{"phone_number": "12"}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["type"], "urn:leadscore:problem:validation");
        assert!(
            body["detail"].as_str().unwrap().contains("phone_number"),
            "{body}"
        );

        let (status, body, _) = call(
            &deps,
            "POST",
            "/leads",
            r#"{"phone_number": "+14155550134",}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"].as_str().unwrap().contains("line 1 column"),
            "{body}"
        );

        let (status, body, _) = call(&deps, "GET", "/leads?tier=boiling", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"].as_str().unwrap().contains("boiling"),
            "{body}"
        );

        let (status, _, _) = call(&deps, "GET", "/nowhere", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_routers_own_answers_are_problem_documents_too() {
        let (_d, deps) = deps();
        // GIVEN requests the router answers itself: a path that is not there, a method the
        // path does not take, a body past the limit
        let (status, body, ct) = call(&deps, "GET", "/nowhere", "").await;
        // THEN each is a problem document that says what is wrong
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["detail"], "endpoint GET /nowhere not found");

        let req = Request::builder()
            .method("DELETE")
            .uri("/scoring_rules")
            .body(Body::empty())
            .unwrap();
        let resp = router(deps.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], "urn:leadscore:problem:method-not-allowed");
        assert!(body["detail"].as_str().unwrap().contains("Allow"), "{body}");

        let huge = format!(
            r#"{{"phone_number": "+14155550134", "first_name": "{}"}}"#,
            "x".repeat(problem::MAX_BODY_BYTES)
        );
        let (status, body, ct) = call(&deps, "POST", "/leads", &huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["type"], "urn:leadscore:problem:too-large");
    }

    #[tokio::test]
    async fn a_rule_that_does_not_parse_is_rejected_with_its_column() {
        let (_d, deps) = deps();
        let (status, body, _) = call(
            &deps,
            "POST",
            "/scoring_rules",
            r#"{"criteria": "calls.count >= two", "weight": 5}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["detail"],
            "criteria: at column 16: unknown field `two`"
        );
        let (_, rules, _) = call(&deps, "GET", "/scoring_rules", "").await;
        assert_eq!(
            rules["scoring_rules"].as_array().unwrap().len(),
            scoring::DEFAULT_RULES.len()
        );
    }
}
