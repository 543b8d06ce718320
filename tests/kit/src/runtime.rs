//! A stand-in for the Lambda Runtime API on a real socket, so a function's own binary runs as
//! Lambda runs it: events handed out one at a time on `GET /2018-06-01/runtime/invocation/next`
//! (with the request id, deadline and function ARN headers), answers taken on
//! `POST .../invocation/{id}/response` or `.../error`, and `POST .../init/error`. Each
//! invocation's time from handing out to answer is kept (the function bench's figures).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;
use tokio::sync::Notify;

/// What a function posted back for one invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `response` or `error`.
    pub kind: &'static str,
    pub body: Value,
    /// From handing the event out to this answer.
    pub took: Duration,
}

struct Invocation {
    sent: Instant,
    answer: Option<Answer>,
}

#[derive(Default)]
struct State_ {
    events: Mutex<VecDeque<Value>>,
    first_poll: Mutex<Option<Instant>>,
    invocations: Mutex<Vec<Invocation>>,
    init_error: Mutex<Option<Value>>,
    arrived: Notify,
    answered: Notify,
}

/// A running Runtime API; stops when dropped.
pub struct RuntimeApi {
    state: Arc<State_>,
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn request_id(index: usize) -> String {
    format!("req-{}", index + 1)
}

fn index_of(id: &str) -> Option<usize> {
    id.strip_prefix("req-")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

async fn next(State(rt): State<Arc<State_>>) -> impl IntoResponse {
    rt.first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    loop {
        // Registered before looking, so an event pushed in between is not missed.
        let arrived = rt.arrived.notified();
        let event = rt.events.lock().unwrap().pop_front();
        if let Some(event) = event {
            let mut invocations = rt.invocations.lock().unwrap();
            let id = request_id(invocations.len());
            invocations.push(Invocation {
                sent: Instant::now(),
                answer: None,
            });
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:leadscore"
                    .parse()
                    .unwrap(),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-stand-in".parse().unwrap(),
            );
            return (StatusCode::OK, headers, axum::Json(event));
        }
        arrived.await;
    }
}

fn record(rt: &State_, id: &str, kind: &'static str, body: &str) -> StatusCode {
    let Some(index) = index_of(id) else {
        return StatusCode::BAD_REQUEST;
    };
    if let Some(inv) = rt.invocations.lock().unwrap().get_mut(index) {
        inv.answer = Some(Answer {
            kind,
            body: serde_json::from_str(body).unwrap_or(Value::Null),
            took: inv.sent.elapsed(),
        });
    }
    rt.answered.notify_waiters();
    StatusCode::ACCEPTED
}

async fn response(
    State(rt): State<Arc<State_>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    record(&rt, &id, "response", &body)
}

async fn error(State(rt): State<Arc<State_>>, Path(id): Path<String>, body: String) -> StatusCode {
    record(&rt, &id, "error", &body)
}

async fn init_error(State(rt): State<Arc<State_>>, body: String) -> StatusCode {
    *rt.init_error.lock().unwrap() = Some(serde_json::from_str(&body).unwrap_or(Value::Null));
    rt.answered.notify_waiters();
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let state = Arc::new(State_::default());
        let app = axum::Router::new()
            .route(
                "/2018-06-01/runtime/invocation/next",
                axum::routing::get(next),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                axum::routing::post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                axum::routing::post(error),
            )
            .route(
                "/2018-06-01/runtime/init/error",
                axum::routing::post(init_error),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            state,
            address,
            server,
        }
    }

    /// Queue an event for the function's next poll.
    pub fn push(&self, event: Value) {
        self.state.events.lock().unwrap().push_back(event);
        self.state.arrived.notify_waiters();
    }

    /// When the function first asked for an event: its init was over.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.state.first_poll.lock().unwrap()
    }

    /// What the function reported when it could not start, if it did.
    pub fn init_error(&self) -> Option<Value> {
        self.state.init_error.lock().unwrap().clone()
    }

    /// The answer to invocation `index` (0 for the first event pushed), waiting up to
    /// `within`; `None` when none came (or the function reported an init error).
    pub async fn answer(&self, index: usize, within: Duration) -> Option<Answer> {
        let until = Instant::now() + within;
        loop {
            let answered = self.state.answered.notified();
            if let Some(answer) = self
                .state
                .invocations
                .lock()
                .unwrap()
                .get(index)
                .and_then(|i| i.answer.clone())
            {
                return Some(answer);
            }
            if self.init_error().is_some() {
                return None;
            }
            let left = until.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), answered).await;
        }
    }
}
