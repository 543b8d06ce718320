//! The local AWS: the project's Python tools (moto's server, cfn-lint, SAM CLI, cargo-lambda)
//! installed on first use into `target/tools/venv` from `tools/requirements.txt`, and a moto
//! server per test on a free port of 127.0.0.1, stopped when the test ends, with the bucket,
//! queues and tables the template declares.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
};
use serde_yaml::Value;
use shared::adapters::aws::{AwsApp, Settings};

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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin.join("python"))
            .arg(workspace().join("tools/moto_serial.py"))
            .args(["127.0.0.1", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
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
        shared::adapters::aws::loader()
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator with the deployment's resources, and the app the functions would build.
pub struct Cloud {
    pub app: AwsApp,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub transcribe: aws_sdk_transcribe::Client,
    pub score_dlq: String,
    /// The functions' environment for these resources (as the template sets it), without the
    /// endpoint and credentials (for the function binaries' own tests).
    #[allow(dead_code)]
    pub env: HashMap<&'static str, String>,
    pub emulator: Emulator,
}

pub const BUCKET: &str = "leadscore-test-recordings";
/// Tries before a message goes to its dead-letter queue (the template says 5; fewer keeps the
/// tests short).
pub const MAX_RECEIVES: u32 = 2;

impl Cloud {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
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
            ("IdempotencyTable", "idempotency"),
        ] {
            create_table_from_template(&dynamo, logical, name).await;
        }
        let (analyze, _) = queue_with_dlq(&sqs, "analyze").await;
        let (score, score_dlq) = queue_with_dlq(&sqs, "score").await;
        let vars = HashMap::from([
            ("LEADS_TABLE", "leads".to_owned()),
            ("CALLS_TABLE", "calls".to_owned()),
            ("RULES_TABLE", "rules".to_owned()),
            ("IDEMPOTENCY_TABLE", "idempotency".to_owned()),
            ("BUCKET", BUCKET.to_owned()),
            ("ANALYZE_QUEUE_URL", analyze),
            ("SCORE_QUEUE_URL", score),
        ]);
        let mut settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
        adjust(&mut settings);
        let app = AwsApp::new(&sdk, settings);
        Self {
            app,
            s3,
            sqs,
            dynamo,
            transcribe: aws_sdk_transcribe::Client::new(&sdk),
            score_dlq,
            env: vars,
            emulator,
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
