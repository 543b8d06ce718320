//! The local AWS: the project's Python tools (moto's server, cfn-lint, SAM CLI, cargo-lambda)
//! installed on first use into `target/tools/venv` from `tools/requirements.txt`, and a moto
//! server per test on a free port of 127.0.0.1, stopped when the test ends, with the bucket,
//! queues and tables the template declares.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
};
use serde_yaml::Value;
use shared_aws::{AwsApp, Deployment};

use crate::iam::{Function, Recorder};

pub use crate::venv::workspace;

/// The tools' `bin` folder, installing them first if `tools/requirements.txt` changed since.
pub fn tools_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::venv::installed("", "tools/requirements.txt").join("bin"))
}

/// A moto server (`tools/moto_serial.py`: one request at a time, so that each is atomic as on
/// AWS), stopped on drop.
pub struct Emulator {
    child: Child,
    pub url: String,
}

impl Emulator {
    pub async fn start() -> Self {
        let bin = tools_bin();
        // The server binds a free port itself and says which: no other test's server can be
        // on it.
        let mut child = Command::new(bin.join("python"))
            .arg(workspace().join("tools/moto_serial.py"))
            .arg("127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let stdout = child.stdout.take().expect("moto's stdout");
        let port = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).ok();
            // Whatever else it prints is read and dropped: a closed pipe would stop it.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            line.trim().parse::<u16>().ok()
        })
        .await
        .unwrap()
        .expect("moto_serial.py prints the port it listens on");
        let url = format!("http://127.0.0.1:{port}");
        let emulator = Self { child, url };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client
            .get(format!("{}/moto-api/", emulator.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not answer on {} within a minute",
                emulator.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        emulator
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        // Boxed: the loader's future is large in a debug build, and a test holds several.
        Box::pin(
            shared_aws::loader()
                .endpoint_url(&self.url)
                .region(aws_config::Region::new(crate::iam::REGION))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing", "testing", None, None, "moto",
                ))
                .load(),
        )
        .await
    }

    /// The SDK as `function` has it: its own key, and every request it sends recorded.
    pub async fn sdk_for(&self, function: Function, recorder: &Recorder) -> aws_config::SdkConfig {
        let base = self.sdk().await;
        let inner = base.http_client().expect("the loader sets an HTTP client");
        base.into_builder()
            .http_client(recorder.client(function, inner))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new(
                    function.access_key(),
                    "testing",
                    None,
                    None,
                    "function",
                ),
            ))
            .build()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator with the deployment's resources, and the apps the functions would build.
pub struct Cloud {
    /// The test's own view (its calls are not a function's, so not recorded).
    pub app: AwsApp,
    /// What each function builds, its AWS calls recorded in `recorder`.
    functions: BTreeMap<Function, AwsApp>,
    pub recorder: Recorder,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub transcribe: aws_sdk_transcribe::Client,
    pub analyze_dlq: String,
    pub score_dlq: String,
    pub webhook_dlq: String,
    pub crm_dlq: String,
    /// The functions' environment for these resources (as the template sets it), without the
    /// endpoint and credentials (for the function binaries' own tests).
    #[allow(dead_code)]
    pub env: HashMap<&'static str, String>,
    pub emulator: Emulator,
}

/// As the template names it: `${AWS::StackName}-recordings-${AWS::AccountId}-${AWS::Region}`.
pub const BUCKET: &str = "leadscore-recordings-123456789012-us-east-1";
/// Tries before a message goes to its dead-letter queue (the template says 5; fewer keeps the
/// tests short).
pub const MAX_RECEIVES: u32 = 2;

impl Cloud {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Deployment)) -> Self {
        let emulator = Emulator::start().await;
        let sdk = emulator.sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        for (logical, name) in [
            ("LeadsTable", "leads"),
            ("CallsTable", "calls"),
            ("RulesTable", "rules"),
            ("AuditTable", "audit"),
            ("UsageTable", "usage"),
            ("WebhooksTable", "webhooks"),
            ("IdempotencyTable", "idempotency"),
        ] {
            create_table_from_template(&dynamo, logical, name).await;
        }
        let (analyze, analyze_dlq) = queue_with_dlq(&sqs, "analyze").await;
        let (score, score_dlq) = queue_with_dlq(&sqs, "score").await;
        let (webhooks, webhook_dlq) = queue_with_dlq(&sqs, "webhooks").await;
        let (crm, crm_dlq) = queue_with_dlq(&sqs, "crm").await;
        let vars = HashMap::from([
            ("LEADS_TABLE", "leads".to_owned()),
            ("CALLS_TABLE", "calls".to_owned()),
            ("RULES_TABLE", "rules".to_owned()),
            ("AUDIT_TABLE", "audit".to_owned()),
            ("USAGE_TABLE", "usage".to_owned()),
            ("WEBHOOKS_TABLE", "webhooks".to_owned()),
            ("IDEMPOTENCY_TABLE", "idempotency".to_owned()),
            ("BUCKET", BUCKET.to_owned()),
            ("ANALYZE_QUEUE_URL", analyze),
            ("SCORE_QUEUE_URL", score),
            ("WEBHOOK_QUEUE_URL", webhooks),
            ("CRM_QUEUE_URL", crm),
            ("SECRETS_PREFIX", format!("/{}/tenants", crate::iam::STACK)),
        ]);
        let mut settings = Deployment::from_lookup(|k| vars.get(k).cloned()).unwrap();
        adjust(&mut settings);
        let recorder = Recorder::default();
        let mut functions = BTreeMap::new();
        for f in Function::ALL {
            let sdk = emulator.sdk_for(f, &recorder).await;
            // As the template sets it for the queue consumers.
            let mut settings = settings.clone();
            settings.dead_letter_queue_url = match f {
                Function::Analyze => Some(analyze_dlq.clone()),
                Function::Score => Some(score_dlq.clone()),
                Function::Webhooks => Some(webhook_dlq.clone()),
                _ => None,
            };
            if f == Function::Webhooks {
                settings.crm_dead_letter_queue_url = Some(crm_dlq.clone());
            }
            functions.insert(f, AwsApp::new(&sdk, settings));
        }
        let app = AwsApp::new(&sdk, settings);
        Self {
            app,
            functions,
            recorder,
            s3,
            sqs,
            dynamo,
            transcribe: aws_sdk_transcribe::Client::new(&sdk),
            analyze_dlq,
            score_dlq,
            webhook_dlq,
            crm_dlq,
            env: vars,
            emulator,
        }
    }
}

impl Cloud {
    /// The app `function` runs with.
    pub fn function(&self, function: Function) -> &AwsApp {
        &self.functions[&function]
    }
}

/// Every AWS call the functions made in the test must be one their role allows.
impl Drop for Cloud {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.recorder.assert_granted();
        }
    }
}

async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&A::QueueArn]
        .clone();
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(A::VisibilityTimeout, "1")
        .attributes(
            A::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (url, dlq)
}

/// The template, parsed once.
pub fn template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| {
        let text = std::fs::read_to_string(workspace().join("infra/template.yaml")).unwrap();
        serde_yaml::from_str(&text).expect("infra/template.yaml is YAML")
    })
}

fn text(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {v:?}"))
        .to_owned()
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    v["KeySchema"]
        .as_sequence()
        .expect("KeySchema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName"))
                .key_type(KeyType::from(text(k, "KeyType").as_str()))
                .build()
                .unwrap()
        })
        .collect()
}

fn projection(v: &Value) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(
            text(&v["Projection"], "ProjectionType").as_str(),
        ))
        .build()
}

/// Create the table the template declares as `logical`, under `name`: the tests run on the
/// very keys and indexes that deploy.
async fn create_table_from_template(dynamo: &aws_sdk_dynamodb::Client, logical: &str, name: &str) {
    let props = &template()["Resources"][logical]["Properties"];
    assert!(props.is_mapping(), "the template has no table {logical}");
    let mut request = dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(text(props, "BillingMode").as_str()))
        .set_key_schema(Some(key_schema(props)));
    for a in props["AttributeDefinitions"].as_sequence().unwrap() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType").as_str()))
                .build()
                .unwrap(),
        );
    }
    for g in props["GlobalSecondaryIndexes"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(g, "IndexName"))
                .set_key_schema(Some(key_schema(g)))
                .projection(projection(g))
                .build()
                .unwrap(),
        );
    }
    for l in props["LocalSecondaryIndexes"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(text(l, "IndexName"))
                .set_key_schema(Some(key_schema(l)))
                .projection(projection(l))
                .build()
                .unwrap(),
        );
    }
    request.send().await.unwrap();
}
