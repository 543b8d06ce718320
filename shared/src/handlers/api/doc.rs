//! The API's OpenAPI 3.1 document, generated from the routes themselves: aide reads each
//! handler's extractors and answer types, schemars derives every schema from the serde
//! attributes of the types the handlers parse and return, and each route adds its summary,
//! problem answers, examples and links where it is declared. It is generated ahead of time
//! into `shared/openapi.json` (a test holds the file to the routes) and served from there at
//! `GET /openapi.json`, with a Redoc reference page at `GET /docs` whose script comes built
//! into the binary (from the aide crate), so the page works with no network.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{
    self, Header, Link, LinkOperation, MediaType, ParameterSchemaOrContent, ReferenceOr,
    SchemaObject, SecurityScheme, Server, StatusCode as DocStatus, Tag,
};
use aide::transform::{TransformOpenApi, TransformOperation};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use super::ApiError;
use super::problem::Problem;
use super::routing::{Build, Routes, get_with};
use crate::handlers::score;

/// The document's tags, in the order the reference page shows them.
const TAGS: [(&str, &str); 10] = [
    (
        "leads",
        "The ranked leads, each with the score, tier, probability and factors behind it.",
    ),
    (
        "calls",
        "Calls sent through the API, and their transcripts.",
    ),
    (
        "scoring",
        "The tenant's scoring rules, tier thresholds and surveys; a change re-scores every lead.",
    ),
    (
        "model",
        "The tenant's model: what is in force, and retraining it from recorded outcomes.",
    ),
    (
        "texts",
        "Texts, consent, tracked links and surveys; Twilio's webhooks.",
    ),
    (
        "reports",
        "How the scoring performs on the tenant's leads: spread, conversion and value by band, \
         gains, calibration and the success metrics; JSON, or CSV with `?format=csv`.",
    ),
    ("operations", "Re-scores in progress."),
    (
        "webhooks",
        "Subscriptions to the tenant's events, signed per Standard Webhooks, with each \
         delivery's log; the events themselves are under `webhooks` in this document.",
    ),
    (
        "access",
        "API keys: made by an admin, each with a role (viewer, rep or admin).",
    ),
    ("meta", "The service itself: health and this document."),
];

/// Fill in what the routes do not say: the title, the description, the tags, the security
/// scheme, and the `Problem` answers every operation may give.
pub(super) fn describe(api: TransformOpenApi<'_>) -> TransformOpenApi<'_> {
    let mut api = api
        .title("leadscore")
        .version(env!("CARGO_PKG_VERSION"))
        .description(
            "Scores sales leads from their calls and texts: a score from 0 to 100, a tier, a \
             calibrated probability and the factors behind it, each with its evidence.\n\n\
             Every error is a problem document (RFC 9457, `application/problem+json`) whose \
             `detail` names the field or value at fault. Requests act for one tenant: on AWS the \
             one named by the bearer token; locally the one `leadscore serve` was started for.",
        )
        .security_scheme(
            "bearer",
            SecurityScheme::Http {
                scheme: "bearer".into(),
                bearer_format: Some("API key (lsk_...) or JWT".into()),
                description: Some(
                    "An API key (`POST /api_keys`), or a JWT from the deployment's issuer whose \
                     tenant claim names the tenant and whose group claim names the role \
                     (admin, rep or viewer; viewer when none). Locally on 127.0.0.1 no \
                     credentials are needed: the machine's user is the tenant's admin."
                        .into(),
                ),
                extensions: IndexMap::default(),
            },
        )
        .server(Server {
            url: "/".into(),
            description: Some("This deployment".into()),
            ..Server::default()
        });
    for (name, description) in TAGS {
        api = api.tag(Tag {
            name: name.into(),
            description: Some(description.into()),
            ..Tag::default()
        });
    }
    describe_events(api)
}

/// The events a subscription receives, as OpenAPI 3.1 `webhooks`: what each POST carries.
fn describe_events(mut api: TransformOpenApi<'_>) -> TransformOpenApi<'_> {
    let schema =
        aide::generate::in_context(|ctx| ctx.schema.subschema_for::<crate::domain::Event>());
    for event in crate::domain::EventType::ALL {
        let taken = openapi::Response {
            description: "Taken: any 2xx within 10 seconds. Anything else is tried again".into(),
            ..openapi::Response::default()
        };
        let operation = openapi::Operation {
            operation_id: Some(event.as_str().replace('.', "_")),
            summary: Some(event.description().into()),
            description: Some(super::webhooks::SIGNING.into()),
            tags: vec!["webhooks".into()],
            request_body: Some(ReferenceOr::Item(openapi::RequestBody {
                description: Some(format!(
                    "`type` is `{event}`; `data` as described for it; `timestamp` when it \
                     happened."
                )),
                content: IndexMap::from_iter([("application/json".into(), media(schema.clone()))]),
                required: true,
                ..openapi::RequestBody::default()
            })),
            responses: Some(openapi::Responses {
                responses: IndexMap::from_iter([(DocStatus::Code(200), ReferenceOr::Item(taken))]),
                ..openapi::Responses::default()
            }),
            ..openapi::Operation::default()
        };
        api.inner_mut().webhooks.insert(
            event.as_str().into(),
            ReferenceOr::Item(openapi::PathItem {
                post: Some(operation),
                ..openapi::PathItem::default()
            }),
        );
    }
    api
}

/// The document as `GET /openapi.json` serves it: written ahead of time from the routes, so
/// serving never generates it. `the_served_document_is_the_one_the_routes_describe` holds it
/// equal to [`super::document`], and rewrites it when run with `UPDATE_EXPECT=1`.
pub(super) const SERVED: &str = include_str!("../../../openapi.json");

/// Where the document and its reference page are served.
pub(super) const PATHS: [&str; 2] = ["/openapi.json", "/docs"];

/// `GET /openapi.json` and `GET /docs`: no credentials needed, as on API Gateway.
pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            PATHS[0],
            get_with(openapi_json, |op| {
                op.id("openapi")
                    .tag("meta")
                    .summary("This document: the API in OpenAPI 3.1")
                    .response_with::<200, Json<serde_json::Value>, _>(|r| {
                        r.description("The OpenAPI document")
                    })
            }),
        )
        .api_route(
            PATHS[1],
            get_with(reference_page, |op| {
                op.id("reference_page")
                    .tag("meta")
                    .summary("The API reference, as a page to read (Redoc, served from here)")
                    .response_with::<200, Html<String>, _>(|r| r.description("The page"))
            }),
        )
}

/// `GET /openapi.json`.
async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        SERVED,
    )
        .into_response()
}

/// `GET /docs`: the reference page, from the document at `/openapi.json`.
async fn reference_page() -> Response {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let page = PAGE.get_or_init(|| {
        aide::redoc::Redoc::new("openapi.json")
            .with_title("leadscore API")
            .html()
    });
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        )],
        Html(page.as_str()),
    )
        .into_response()
}

/// A body of `schema`, as a media type of the document.
pub(super) fn media(schema: schemars::Schema) -> MediaType {
    MediaType {
        schema: Some(SchemaObject {
            json_schema: schema,
            example: None,
            external_docs: None,
        }),
        ..MediaType::default()
    }
}

/// An answer of `content_type` whose body is a `T`, saying `description`.
fn response_of<T: JsonSchema>(
    ctx: &mut GenContext,
    content_type: &str,
    description: &str,
) -> openapi::Response {
    openapi::Response {
        description: description.into(),
        content: IndexMap::from_iter([(
            content_type.into(),
            media(ctx.schema.subschema_for::<T>()),
        )]),
        ..openapi::Response::default()
    }
}

/// A problem answer in the document, saying why it is given.
pub(super) fn problem_response(ctx: &mut GenContext, description: &str) -> openapi::Response {
    response_of::<Problem>(ctx, "application/problem+json", description)
}

/// The answers any operation that acts for a tenant may give, whatever it does.
impl OperationOutput for ApiError {
    type Inner = Problem;

    fn operation_response(
        ctx: &mut GenContext,
        _: &mut openapi::Operation,
    ) -> Option<openapi::Response> {
        Some(problem_response(
            ctx,
            "A problem document naming what is wrong",
        ))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        _: &mut openapi::Operation,
    ) -> Vec<(Option<DocStatus>, openapi::Response)> {
        [
            (
                400,
                "The request is not valid: the detail names the field or value",
            ),
            (
                401,
                "The request names no tenant (no or a bad bearer token)",
            ),
            (
                429,
                "The tenant's requests per minute are used up; `Retry-After` says when to retry",
            ),
            (500, "An internal error; the server log has the details"),
            (503, "A store is temporarily unavailable; retry"),
        ]
        .into_iter()
        .map(|(status, why)| (Some(DocStatus::Code(status)), problem_response(ctx, why)))
        .collect()
    }
}

/// What an operation adds to the answers every operation may give: `404` for a path that
/// names something absent, `409` for a conflict with what is stored, and so on.
pub(super) trait Problems {
    fn problem<const STATUS: u16>(self, why: &str) -> Self;
}

impl Problems for TransformOperation<'_> {
    fn problem<const STATUS: u16>(self, why: &str) -> Self {
        self.response_with::<STATUS, ProblemDoc, _>(|r| r.description(why))
    }
}

/// The problem answer's documentation, for `Problems::problem`.
struct ProblemDoc;

impl OperationOutput for ProblemDoc {
    type Inner = Problem;

    fn operation_response(
        ctx: &mut GenContext,
        _: &mut openapi::Operation,
    ) -> Option<openapi::Response> {
        Some(problem_response(ctx, ""))
    }
}

pub(super) fn header(description: &str, example: &str, required: bool) -> ReferenceOr<Header> {
    ReferenceOr::Item(Header {
        description: Some(description.into()),
        style: Default::default(),
        required,
        deprecated: None,
        format: ParameterSchemaOrContent::Schema(SchemaObject {
            json_schema: schemars::json_schema!({"type": "string"}),
            example: None,
            external_docs: None,
        }),
        example: Some(example.into()),
        examples: IndexMap::default(),
        extensions: IndexMap::default(),
    })
}

/// An answer type's one inferred response, under the status it is always given with.
pub(super) fn at_status(
    status: u16,
    response: Option<openapi::Response>,
) -> Vec<(Option<DocStatus>, openapi::Response)> {
    response
        .map(|r| vec![(Some(DocStatus::Code(status)), r)])
        .unwrap_or_default()
}

fn json_response<T: JsonSchema>(ctx: &mut GenContext, description: &str) -> openapi::Response {
    response_of::<T>(ctx, "application/json", description)
}

/// `201 Created`, the new thing in the body and, when it has a path of its own, where it
/// lives in `Location`.
pub(super) struct Created<T> {
    pub location: Option<String>,
    pub body: T,
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::CREATED, Json(self.body)).into_response();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

impl<T: JsonSchema> OperationOutput for Created<T> {
    type Inner = T;

    fn operation_response(
        ctx: &mut GenContext,
        _: &mut openapi::Operation,
    ) -> Option<openapi::Response> {
        let mut response = json_response::<T>(ctx, "Created");
        response.headers.insert(
            "Location".into(),
            header(
                "Where the new resource is, when it has a path",
                "/leads/ld_0193...",
                false,
            ),
        );
        Some(response)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut openapi::Operation,
    ) -> Vec<(Option<DocStatus>, openapi::Response)> {
        at_status(201, Self::operation_response(ctx, op))
    }
}

/// Where a re-score that a change started can be followed.
#[derive(Serialize, JsonSchema)]
pub(super) struct RescoreRef {
    pub rescore_id: String,
    pub state: score::RescoreState,
    /// `GET` this to follow it: `/rescores/{rescore_id}`.
    pub path: String,
}

/// The change itself, and the re-score of every lead it started.
#[derive(Serialize, JsonSchema)]
pub(super) struct WithRescore<T> {
    #[serde(flatten)]
    pub item: T,
    pub rescore: RescoreRef,
}

/// A change that re-scores every lead: answered with `STATUS`, the change and the re-score it
/// started (which runs in the background): `rescore` in the body, and a `Link` with
/// `rel="monitor"` to `GET /rescores/{id}`; `Location` too when the change created something.
pub(super) struct Rescoring<T, const STATUS: u16> {
    pub location: Option<String>,
    pub body: WithRescore<T>,
}

impl<T, const STATUS: u16> Rescoring<T, STATUS> {
    pub(super) fn new(item: T, rescore: &score::Rescore) -> Self {
        Self {
            location: None,
            body: WithRescore {
                item,
                rescore: RescoreRef {
                    rescore_id: rescore.rescore_id.clone(),
                    state: rescore.state,
                    path: rescore.path(),
                },
            },
        }
    }

    pub(super) fn at(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
}

impl<T: Serialize, const STATUS: u16> IntoResponse for Rescoring<T, STATUS> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(STATUS).unwrap_or(StatusCode::OK);
        let link = HeaderValue::from_str(&format!("<{}>; rel=\"monitor\"", self.body.rescore.path));
        let mut response = (status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        if let Ok(link) = link {
            headers.insert(header::LINK, link);
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        response
    }
}

impl<T: JsonSchema, const STATUS: u16> OperationOutput for Rescoring<T, STATUS> {
    type Inner = WithRescore<T>;

    fn operation_response(
        ctx: &mut GenContext,
        _: &mut openapi::Operation,
    ) -> Option<openapi::Response> {
        let mut response = json_response::<WithRescore<T>>(
            ctx,
            "The change, and the re-score of every lead it started",
        );
        response.headers.insert(
            "Link".into(),
            header(
                "`rel=\"monitor\"`: where the re-score can be followed",
                "</rescores/rs_0193...>; rel=\"monitor\"",
                true,
            ),
        );
        response.links.insert(
            "rescore".into(),
            ReferenceOr::Item(Link {
                description: Some("Follow the re-score the change started".into()),
                operation: LinkOperation::OperationId("get_rescore".into()),
                request_body: None,
                parameters: IndexMap::from_iter([(
                    "id".into(),
                    "$response.body#/rescore/rescore_id".into(),
                )]),
                server: None,
                extensions: IndexMap::default(),
            }),
        );
        if STATUS == 201 {
            response.headers.insert(
                "Location".into(),
                header(
                    "Where the new resource is",
                    "/scoring_rules/rl_0193...",
                    true,
                ),
            );
        }
        Some(response)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut openapi::Operation,
    ) -> Vec<(Option<DocStatus>, openapi::Response)> {
        at_status(STATUS, Self::operation_response(ctx, op))
    }
}

/// A link from an answer to the operation `operation_id`, its `id` parameter taken from the
/// answer's body at `pointer` (for clients and for schemathesis's stateful tests).
pub(super) fn link<'t>(
    op: TransformOperation<'t>,
    status: u16,
    name: &str,
    operation_id: &str,
    pointer: &str,
) -> TransformOperation<'t> {
    op.with(|mut op| {
        if let Some(responses) = op.inner_mut().responses.as_mut()
            && let Some(ReferenceOr::Item(response)) =
                responses.responses.get_mut(&DocStatus::Code(status))
        {
            response.links.insert(
                name.into(),
                ReferenceOr::Item(Link {
                    description: None,
                    operation: LinkOperation::OperationId(operation_id.into()),
                    request_body: None,
                    parameters: IndexMap::from_iter([(
                        "id".into(),
                        format!("$response.body#{pointer}").into(),
                    )]),
                    server: None,
                    extensions: IndexMap::default(),
                }),
            );
        }
        op
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    async fn get(path: &str) -> (StatusCode, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::local::LocalApp::open(dir.path(), crate::Config::default()).unwrap();
        let response = super::super::router(app.deps)
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 8 << 20)
            .await
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    use super::*;

    /// The component schema a `$ref` points at, or the schema itself.
    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
            None => schema,
        }
    }

    /// What `GET /openapi.json` serves is what the routes describe: a route, a type or a
    /// description changed without `shared/openapi.json` written again fails here, with the
    /// difference. `UPDATE_EXPECT=1 cargo test -p shared served_document` writes it again.
    #[test]
    fn the_served_document_is_the_one_the_routes_describe() {
        let generated = serde_json::to_string_pretty(&super::super::document()).unwrap() + "\n";
        expect_test::expect_file!["../../../openapi.json"].assert_eq(&generated);
    }

    #[tokio::test]
    async fn the_document_is_served_as_written() {
        let (status, content_type, body) = get("/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, SERVED);
        let doc: Value = serde_json::from_str(&body).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[tokio::test]
    async fn every_event_a_subscription_receives_is_described_with_its_payload() {
        let (_, _, body) = get("/openapi.json").await;
        let doc: Value = serde_json::from_str(&body).unwrap();
        let webhooks = doc["webhooks"].as_object().unwrap();
        let mut names: Vec<&str> = webhooks.keys().map(String::as_str).collect();
        let mut all = crate::domain::EventType::ALL.map(|e| e.as_str());
        names.sort_unstable();
        all.sort_unstable();
        assert_eq!(names, all);
        for (name, item) in webhooks {
            let post = &item["post"];
            assert!(
                post["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}"
            );
            assert!(
                post["description"]
                    .as_str()
                    .unwrap()
                    .contains("webhook-signature")
            );
            let schema = resolve(
                &doc,
                &post["requestBody"]["content"]["application/json"]["schema"],
            );
            for field in ["type", "timestamp", "data"] {
                assert!(schema["properties"][field].is_object(), "{name}: {schema}");
            }
        }
    }

    #[tokio::test]
    async fn every_operation_says_what_it_does_takes_and_answers() {
        // GIVEN the document the API serves
        let (status, content_type, body) = get("/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let at = format!("{method} {path}");
                // THEN each has an id, a tag and a summary
                assert!(op["operationId"].is_string(), "{at}: no operationId");
                assert!(
                    op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{at}"
                );
                assert!(op["tags"][0].is_string(), "{at}: no tag");
                // ... every `{parameter}` of its path is described
                for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                    let described = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == name && p["in"] == "path")
                    });
                    assert!(described, "{at}: path parameter {name} undescribed");
                }
                // ... a JSON body has an example to copy
                if let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema")
                {
                    let schema = resolve(&doc, schema);
                    assert!(schema["examples"][0].is_object(), "{at}: no example body");
                }
                // ... and every answer is described; errors are problem documents
                for (code, response) in op["responses"].as_object().unwrap() {
                    assert!(response["description"].is_string(), "{at} {code}");
                    if code.starts_with('4') || code.starts_with('5') {
                        let problem = &response["content"]["application/problem+json"];
                        assert!(problem["schema"].is_object(), "{at} {code}: not a problem");
                    }
                }
            }
        }
        assert!(operations >= 28, "{operations} operations");
        // Every text reads as written: no run of spaces left by a lost line continuation.
        fn texts<'v>(v: &'v Value, at: String, out: &mut Vec<(String, &'v str)>) {
            match v {
                Value::String(s) => out.push((at, s)),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        texts(item, format!("{at}/{i}"), out);
                    }
                }
                Value::Object(fields) => {
                    for (k, item) in fields {
                        texts(item, format!("{at}/{k}"), out);
                    }
                }
                _ => {}
            }
        }
        let mut all = Vec::new();
        texts(&doc, String::new(), &mut all);
        for (at, text) in all {
            assert!(!text.contains("   "), "{at}: a run of spaces in {text:?}");
        }
        // The problem document's own schema carries an example of one.
        assert_eq!(
            doc["components"]["schemas"]["Problem"]["examples"][0]["status"],
            400
        );
    }

    #[tokio::test]
    async fn the_reference_page_loads_nothing_from_elsewhere() {
        // GIVEN the reference page
        let (status, content_type, page) = get("/docs").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/html"), "{content_type}");
        // THEN it reads the document from this API, with the script inside the page: no
        // script, style sheet or font from another host
        assert!(page.contains("Redoc.init(\"openapi.json\""));
        for outside in ["src=\"http", "href=\"http", "@import url(http", "<link "] {
            assert!(!page.contains(outside), "the page loads {outside}...");
        }
    }
}
