//! IAM as AWS would answer it, which the emulator does not: every AWS request each function
//! sends is recorded (IAM action and resource ARN) by the HTTP client under its SDK, and held
//! against the policies `infra/template.yaml` gives that function's role after the SAM
//! transform (`tools/sam_policies.py`, run through aws-sam-translator: policy templates and
//! event-source policies expanded as on deploy).
//!
//! A call no statement allows fails the test that made it (the check runs when its `Cloud` is
//! dropped); a granted action and resource that no handler uses fails `every_grant_is_used`.

use std::collections::BTreeMap;
use std::fmt;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::Value;

use crate::capacity::{self, Units};

pub const REGION: &str = "us-east-1";
/// moto's account.
pub const ACCOUNT: &str = "123456789012";
/// The stack the tests pretend to have deployed: the bucket's name is made from it.
pub const STACK: &str = "leadscore";

/// The functions of the template, by logical id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Function {
    Ingest,
    Transcribed,
    Analyze,
    Score,
    Api,
    Authorizer,
    Webhooks,
    Web,
}

impl Function {
    pub const ALL: [Function; 8] = [
        Function::Ingest,
        Function::Transcribed,
        Function::Analyze,
        Function::Score,
        Function::Api,
        Function::Authorizer,
        Function::Webhooks,
        Function::Web,
    ];

    pub fn logical_id(self) -> &'static str {
        match self {
            Function::Ingest => "IngestFunction",
            Function::Transcribed => "TranscribedFunction",
            Function::Analyze => "AnalyzeFunction",
            Function::Score => "ScoreFunction",
            Function::Api => "ApiFunction",
            Function::Authorizer => "AuthorizerFunction",
            Function::Webhooks => "WebhooksFunction",
            Function::Web => "WebFunction",
        }
    }

    /// The access key its requests are signed with, so a presigned URL tells who signed it.
    pub fn access_key(self) -> String {
        format!("AKIA{}", self.logical_id().to_ascii_uppercase())
    }

    fn from_access_key(key: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.access_key() == key)
    }
}

/// One AWS request a function made, as IAM sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AwsCall {
    pub function: Function,
    /// `service:Action`, as policies name it.
    pub action: String,
    pub resource: String,
    /// An SQS message's body.
    pub message: Option<String>,
}

impl fmt::Display for AwsCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on {}",
            self.function.logical_id(),
            self.action,
            self.resource
        )
    }
}

/// Every call the functions of one test made.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<AwsCall>>>,
    /// Each HTTP request, as `service:Operation` (what AWS bills; a transaction of 29 puts is
    /// one request and 29 actions IAM checks).
    requests: Arc<Mutex<Vec<(Function, String)>>>,
    /// The DynamoDB capacity each function's requests consumed.
    units: Arc<Mutex<BTreeMap<Function, Units>>>,
}

impl Recorder {
    pub fn calls(&self) -> Vec<AwsCall> {
        self.calls.lock().unwrap().clone()
    }

    fn push(&self, call: AwsCall) {
        self.calls.lock().unwrap().push(call);
    }

    /// The HTTP client for `function`'s SDK: records, then sends through `inner`.
    pub fn client(&self, function: Function, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Recording {
            function,
            inner,
            recorder: self.clone(),
        })
    }

    /// A request made with a presigned URL (by whoever holds it) is authorised as the function
    /// that signed it.
    pub fn presigned(&self, method: &str, url: &str) {
        let url = url::Url::parse(url).unwrap();
        let credential = url
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())
            .expect("a presigned URL names its credential");
        let function = Function::from_access_key(credential.split('/').next().unwrap())
            .unwrap_or_else(|| panic!("{credential} is no function's key"));
        let (bucket, key) = url.path()[1..].split_once('/').unwrap();
        let key = percent_decode(key);
        let action = match method {
            "PUT" => "s3:PutObject",
            "GET" | "HEAD" => "s3:GetObject",
            other => panic!("presigned {other} is not mapped"),
        };
        self.push(AwsCall {
            function,
            action: action.into(),
            resource: format!("arn:aws:s3:::{bucket}/{key}"),
            message: None,
        });
    }

    /// The DynamoDB capacity units each function's requests consumed (see `capacity`).
    pub fn units(&self) -> BTreeMap<Function, Units> {
        self.units.lock().unwrap().clone()
    }

    /// Where the record stands now: what [`summary_since`](Self::summary_since) counts from.
    pub fn mark(&self) -> Mark {
        Mark {
            requests: self.requests.lock().unwrap().len(),
            units: self.units(),
        }
    }

    /// How many requests of each operation each function made, and the DynamoDB read and
    /// write units they consumed, one line per function, and the totals.
    pub fn summary(&self) -> String {
        self.summary_since(&Mark::default())
    }

    /// [`summary`](Self::summary) of what was recorded after `mark`.
    pub fn summary_since(&self, mark: &Mark) -> String {
        let cost = self.cost_since(mark);
        let mut lines = Vec::new();
        for f in Function::ALL {
            let mine: Vec<String> = cost
                .operations
                .iter()
                .filter(|((g, _), _)| *g == f)
                .map(|((_, op), n)| format!("{op} {n}"))
                .collect();
            let units = cost.units.get(&f).copied().unwrap_or_default();
            lines.push(format!(
                "{}: {} ({}); DynamoDB {} RRU, {} WRU",
                f.logical_id(),
                cost.requests_of(f),
                mine.join(", "),
                units.read,
                units.write
            ));
        }
        let units = cost.total_units();
        lines.push(format!(
            "total: {} requests; DynamoDB {} read request units, {} write request units",
            cost.requests(),
            units.read,
            units.write
        ));
        lines.join("\n")
    }

    /// The requests and capacity recorded after `mark`.
    pub fn cost_since(&self, mark: &Mark) -> Cost {
        let mut operations: BTreeMap<(Function, String), usize> = BTreeMap::new();
        for r in &self.requests.lock().unwrap()[mark.requests..] {
            *operations.entry(r.clone()).or_default() += 1;
        }
        let units = self
            .units()
            .into_iter()
            .map(|(f, mut u)| {
                let before = mark.units.get(&f).copied().unwrap_or_default();
                u.read -= before.read;
                u.write -= before.write;
                (f, u)
            })
            .collect();
        Cost { operations, units }
    }

    /// SQS messages sent to the queue named `queue`, by body.
    pub fn messages_to(&self, queue: &str) -> Vec<String> {
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}");
        self.calls()
            .into_iter()
            .filter(|c| c.action == "sqs:SendMessage" && c.resource == arn)
            .filter_map(|c| c.message)
            .collect()
    }

    /// Panics, naming them, if any recorded call is not allowed by its function's policies.
    pub fn assert_granted(&self) {
        let policies = policies();
        let mut denied: Vec<String> = self
            .calls()
            .into_iter()
            .filter(|c| !policies[&c.function].allows(&c.action, &c.resource))
            .map(|c| c.to_string())
            .collect();
        denied.sort();
        denied.dedup();
        assert!(
            denied.is_empty(),
            "AWS would refuse these calls: infra/template.yaml grants them to no function that \
             makes them:\n  {}",
            denied.join("\n  ")
        );
    }

    /// The grants (function, action, resource pattern) that no recorded call used.
    pub fn unused_grants(&self) -> Vec<String> {
        let calls = self.calls();
        let mut unused = Vec::new();
        for (function, policy) in policies() {
            for s in &policy.statements {
                if s.platform {
                    continue;
                }
                for action in &s.actions {
                    for resource in &s.resources {
                        let used = calls.iter().any(|c| {
                            c.function == *function
                                && glob(
                                    &action.to_ascii_lowercase(),
                                    &c.action.to_ascii_lowercase(),
                                )
                                && glob(resource, &c.resource)
                        });
                        if !used {
                            unused
                                .push(format!("{} {action} on {resource}", function.logical_id()));
                        }
                    }
                }
            }
        }
        unused
    }
}

/// A point in a [`Recorder`]'s record.
#[derive(Debug, Clone, Default)]
pub struct Mark {
    requests: usize,
    units: BTreeMap<Function, Units>,
}

/// What some recorded work cost: requests by function and operation, DynamoDB units by
/// function.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub operations: BTreeMap<(Function, String), usize>,
    pub units: BTreeMap<Function, Units>,
}

impl Cost {
    pub fn requests(&self) -> usize {
        self.operations.values().sum()
    }

    pub fn requests_of(&self, function: Function) -> usize {
        self.operations
            .iter()
            .filter(|((f, _), _)| *f == function)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total_units(&self) -> Units {
        let mut total = Units::default();
        for u in self.units.values() {
            total += *u;
        }
        total
    }
}

struct Recording {
    function: Function,
    inner: SharedHttpClient,
    recorder: Recorder,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recording({:?})", self.function)
    }
}

impl HttpClient for Recording {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RecordingConnector {
            function: self.function,
            inner: self.inner.http_connector(settings, components),
            recorder: self.recorder.clone(),
        })
    }
}

#[derive(Debug)]
struct RecordingConnector {
    function: Function,
    inner: SharedHttpConnector,
    recorder: Recorder,
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let calls = describe(self.function, &request);
        // S3 answers a read of a missing key with 404 only to a caller that may list the
        // bucket (403 otherwise): a handler that reads optional objects relies on that grant.
        let listing = calls
            .iter()
            .find(|c| c.action == "s3:GetObject")
            .map(|c| AwsCall {
                action: "s3:ListBucket".into(),
                resource: c.resource.split('/').next().unwrap().to_owned(),
                ..c.clone()
            });
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| Some((calls.first()?, t.rsplit('.').next()?)))
            .map(|(c, op)| format!("{}:{op}", c.action.split(':').next().unwrap_or_default()))
            .or_else(|| calls.first().map(|c| c.action.clone()));
        if let Some(op) = operation {
            self.recorder
                .requests
                .lock()
                .unwrap()
                .push((self.function, op));
        }
        for call in calls {
            self.recorder.push(call);
        }
        // A DynamoDB request's JSON, to work out its capacity with the response's.
        let dynamodb = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
            .map(|op| {
                let body = request.body().bytes().unwrap_or_default();
                (
                    op.to_owned(),
                    serde_json::from_slice(body).unwrap_or(Value::Null),
                )
            });
        let response = self.inner.call(request);
        let (recorder, function) = (self.recorder.clone(), self.function);
        HttpConnectorFuture::new(async move {
            let mut response = response.await;
            if let (Ok(r), Some(listing)) = (&response, listing)
                && r.status().as_u16() == 404
            {
                recorder.push(listing);
            }
            if let (Ok(r), Some((op, sent))) = (&mut response, dynamodb)
                && r.status().is_success()
            {
                let bytes = ByteStream::new(r.take_body())
                    .collect()
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?
                    .into_bytes();
                let answer = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                *recorder.units.lock().unwrap().entry(function).or_default() +=
                    capacity::units(&op, &sent, &answer);
                *r.body_mut() = SdkBody::from(bytes);
            }
            response
        })
    }
}

/// The IAM actions and resources of one request.
fn describe(function: Function, request: &HttpRequest) -> Vec<AwsCall> {
    let header = |name: &str| request.headers().get(name).map(str::to_owned);
    let authorization = header("authorization").expect("SDK requests are signed");
    // `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...`
    let service = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(3))
        .expect("a credential scope")
        .to_owned();
    let body: Value = request
        .body()
        .bytes()
        .filter(|b| !b.is_empty())
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null);
    let operation = header("x-amz-target")
        .map(|t| t.rsplit('.').next().unwrap().to_owned())
        .unwrap_or_default();
    let call = |action: String, resource: String| AwsCall {
        function,
        action,
        resource,
        message: None,
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match service.as_str() {
        "dynamodb" => {
            let table =
                |name: &Value| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", text(name));
            match operation.as_str() {
                "TransactWriteItems" => body["TransactItems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|item| {
                        let (kind, op) = item.as_object().unwrap().iter().next().unwrap();
                        let action = match kind.as_str() {
                            "Put" => "PutItem",
                            "Update" => "UpdateItem",
                            "Delete" => "DeleteItem",
                            "ConditionCheck" => "ConditionCheckItem",
                            other => panic!("transaction item {other}"),
                        };
                        call(format!("dynamodb:{action}"), table(&op["TableName"]))
                    })
                    .collect(),
                "TransactGetItems" => body["TransactItems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|item| call("dynamodb:GetItem".into(), table(&item["Get"]["TableName"])))
                    .collect(),
                "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|t| {
                        call(
                            format!("dynamodb:{operation}"),
                            table(&Value::from(t.as_str())),
                        )
                    })
                    .collect(),
                _ => {
                    let mut resource = table(&body["TableName"]);
                    if let Some(index) = body["IndexName"].as_str() {
                        resource = format!("{resource}/index/{index}");
                    }
                    vec![call(format!("dynamodb:{operation}"), resource)]
                }
            }
        }
        "sqs" => {
            let queue_arn = |url: &Value| {
                let url = text(url);
                let name = url.rsplit('/').next().unwrap().to_owned();
                format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
            };
            match operation.as_str() {
                "SendMessage" => vec![AwsCall {
                    message: body["MessageBody"].as_str().map(str::to_owned),
                    ..call("sqs:SendMessage".into(), queue_arn(&body["QueueUrl"]))
                }],
                "SendMessageBatch" => body["Entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| AwsCall {
                        message: e["MessageBody"].as_str().map(str::to_owned),
                        ..call("sqs:SendMessage".into(), queue_arn(&body["QueueUrl"]))
                    })
                    .collect(),
                "DeleteMessageBatch" => {
                    vec![call(
                        "sqs:DeleteMessage".into(),
                        queue_arn(&body["QueueUrl"]),
                    )]
                }
                "GetQueueUrl" => vec![call(
                    "sqs:GetQueueUrl".into(),
                    format!(
                        "arn:aws:sqs:{REGION}:{ACCOUNT}:{}",
                        text(&body["QueueName"])
                    ),
                )],
                op => vec![call(format!("sqs:{op}"), queue_arn(&body["QueueUrl"]))],
            }
        }
        "ssm" => {
            let name = text(&body["Name"]);
            vec![call(
                format!("ssm:{operation}"),
                format!(
                    "arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{}",
                    name.trim_start_matches('/')
                ),
            )]
        }
        "transcribe" => {
            let resource = match body["TranscriptionJobName"].as_str() {
                Some(job) => {
                    format!("arn:aws:transcribe:{REGION}:{ACCOUNT}:transcription-job/{job}")
                }
                None => "*".to_owned(),
            };
            vec![call(format!("transcribe:{operation}"), resource)]
        }
        "s3" => {
            let uri = url::Url::parse(request.uri()).unwrap();
            let query: BTreeMap<String, String> = uri.query_pairs().into_owned().collect();
            let path = uri.path().trim_start_matches('/');
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            let key = percent_decode(key);
            let object = format!("arn:aws:s3:::{bucket}/{key}");
            let method = request.method();
            let action = if key.is_empty() {
                if method == "GET" && (query.contains_key("list-type") || query.is_empty()) {
                    return vec![call(
                        "s3:ListBucket".into(),
                        format!("arn:aws:s3:::{bucket}"),
                    )];
                }
                panic!("S3 {method} on bucket {bucket} ({query:?}) is not mapped to IAM here")
            } else {
                match (method, query.get("x-id").map(String::as_str)) {
                    ("GET" | "HEAD", _) => "s3:GetObject",
                    ("PUT", Some("PutObject") | None) => "s3:PutObject",
                    ("DELETE", _) => "s3:DeleteObject",
                    (m, id) => panic!("S3 {m} {id:?} is not mapped to IAM here"),
                }
            };
            vec![call(action.into(), object)]
        }
        other => panic!("requests to {other} are not mapped to IAM here ({operation})"),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("k={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// IAM's wildcard match: `*` any run of characters, `?` one.
fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One statement of a role's inline policies.
#[derive(Debug)]
pub struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    /// Added by SAM for the Lambda service itself (an async invocation's dead-letter queue),
    /// not for the handlers.
    platform: bool,
}

#[derive(Debug)]
pub struct Policy {
    statements: Vec<Statement>,
}

impl Policy {
    fn matching(&self, action: &str, resource: &str) -> impl Iterator<Item = &Statement> {
        let action = action.to_ascii_lowercase();
        self.statements.iter().filter(move |s| {
            s.actions
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action))
                && s.resources.iter().any(|r| glob(r, resource))
        })
    }

    pub fn allows(&self, action: &str, resource: &str) -> bool {
        let mut matching = self.matching(action, resource).peekable();
        matching.peek().is_some() && matching.all(|s| s.allow)
    }
}

/// The names of the test deployment, for the intrinsic functions in the template.
fn names() -> Value {
    let table = |t: &str| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}");
    let queue = |q: &str| format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{q}");
    let queue_url = |q: &str| format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{q}");
    serde_json::json!({
        "pseudo": {
            "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
        },
        "refs": {
            "LeadsTable": "leads", "CallsTable": "calls", "RulesTable": "rules",
            "AuditTable": "audit", "UsageTable": "usage", "IdempotencyTable": "idempotency",
            "WebhooksTable": "webhooks",
            "AnalyzeQueue": queue_url("analyze"), "ScoreQueue": queue_url("score"),
            "AnalyzeDeadLetterQueue": queue_url("analyze-dlq"),
            "ScoreDeadLetterQueue": queue_url("score-dlq"),
            "WebhookQueue": queue_url("webhooks"),
            "WebhookDeadLetterQueue": queue_url("webhooks-dlq"),
            "CrmQueue": queue_url("crm"),
            "CrmDeadLetterQueue": queue_url("crm-dlq"),
        },
        "arns": {
            "LeadsTable": table("leads"), "CallsTable": table("calls"),
            "RulesTable": table("rules"), "AuditTable": table("audit"),
            "UsageTable": table("usage"), "WebhooksTable": table("webhooks"),
            "IdempotencyTable": table("idempotency"),
            "AnalyzeQueue": queue("analyze"), "ScoreQueue": queue("score"),
            "AnalyzeDeadLetterQueue": queue("analyze-dlq"),
            "ScoreDeadLetterQueue": queue("score-dlq"),
            "WebhookQueue": queue("webhooks"),
            "WebhookDeadLetterQueue": queue("webhooks-dlq"),
            "CrmQueue": queue("crm"),
            "CrmDeadLetterQueue": queue("crm-dlq"),
            "EventDeadLetterQueue": queue("events-dlq"),
        },
    })
}

/// Each function's policies, from the transformed template (computed once per test binary).
pub fn policies() -> &'static BTreeMap<Function, Policy> {
    static POLICIES: OnceLock<BTreeMap<Function, Policy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let root = crate::emulator::workspace();
        let output = Command::new(crate::emulator::tools_bin().join("python"))
            .arg(root.join("tools/sam_policies.py"))
            .arg(root.join("infra/template.yaml"))
            .arg(names().to_string())
            .output()
            .expect("run tools/sam_policies.py");
        assert!(
            output.status.success(),
            "tools/sam_policies.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let all: Value = serde_json::from_slice(&output.stdout).unwrap();
        Function::ALL
            .into_iter()
            .map(|f| {
                let role = &all[f.logical_id()];
                assert!(role.is_object(), "the template has no {}", f.logical_id());
                let strings = |v: &Value| -> Vec<String> {
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().expect("a resolved string").to_owned())
                        .collect()
                };
                let statements = role["statements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        assert!(
                            s["condition"].is_null(),
                            "{}: conditions are not evaluated here: {s}",
                            f.logical_id()
                        );
                        Statement {
                            allow: s["effect"] == "Allow",
                            actions: strings(&s["actions"]),
                            resources: strings(&s["resources"]),
                            platform: s["policy"] == "DeadLetterQueuePolicy",
                        }
                    })
                    .collect();
                (f, Policy { statements })
            })
            .collect()
    })
}

#[test]
fn wildcards_match_as_iam_matches_them() {
    assert!(glob(
        "arn:aws:s3:::b/recordings/*",
        "arn:aws:s3:::b/recordings/acme/x.wav"
    ));
    assert!(!glob(
        "arn:aws:s3:::b/recordings/*",
        "arn:aws:s3:::b/secrets/acme"
    ));
    assert!(glob("dynamodb:*", "dynamodb:getitem"));
    assert!(glob("a?c", "abc") && !glob("a?c", "abbc"));
    assert!(glob("*", "") && !glob("x", ""));
}
