//! The DynamoDB store keeps every promise the store ports make (`testkit::contract`, held
//! against the embedded store in `tests/api/stores.rs` too), on moto's DynamoDB with the
//! template's tables; its calls are held against the template's policies like every test's.

use shared::Deps;

use crate::emulator::Cloud;

async fn open() -> (Cloud, Deps) {
    let cloud = Cloud::start().await;
    let deps = cloud.app.deps.clone();
    (cloud, deps)
}

testkit::store_contract!(open());

/// Tenant secrets on moto's SSM through `shared_aws::Ssm`, the client of the three operations
/// leadscore sends: kept encrypted, replaced, deleted once, absent as nothing; an error AWS
/// answers is reported with its code and the parameter it was about.
#[tokio::test]
async fn secrets_are_kept_replaced_and_deleted_in_parameter_store() {
    use shared::domain::TenantId;
    use shared::ports::SecretName;

    let (cloud, deps) = open().await;
    let (acme, name) = (TenantId::parse("acme").unwrap(), SecretName::twilio());
    assert_eq!(deps.secrets.get_secret(&acme, &name).await.unwrap(), None);
    deps.secrets
        .put_secret(&acme, &name, "first")
        .await
        .unwrap();
    deps.secrets
        .put_secret(&acme, &name, "second")
        .await
        .unwrap();
    assert_eq!(
        deps.secrets
            .get_secret(&acme, &name)
            .await
            .unwrap()
            .as_deref(),
        Some("second")
    );
    let ssm = shared_aws::Ssm::new(&cloud.emulator.sdk().await);
    let parameter = ssm
        .get_parameter("/leadscore/tenants/acme/twilio", false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parameter.kind, "SecureString");
    assert_eq!(parameter.version, 2);
    assert_ne!(
        parameter.value, "second",
        "without decryption, the value stays sealed"
    );

    deps.secrets.delete_secret(&acme, &name).await.unwrap();
    deps.secrets.delete_secret(&acme, &name).await.unwrap();
    assert_eq!(deps.secrets.get_secret(&acme, &name).await.unwrap(), None);
    assert!(
        !ssm.delete_parameter("/leadscore/tenants/acme/twilio")
            .await
            .unwrap()
    );

    let err = ssm
        .put_parameter("ssm-reserved", "x", shared_aws::ParameterKind::String)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SSM PutParameter ssm-reserved") && err.contains("ValidationException"),
        "{err}"
    );
}

/// A function builds its SDK configuration from Lambda's environment alone
/// (`shared_aws::lambda_config`, not aws-config's chains): given the emulator's address in
/// `AWS_ENDPOINT_URL`, it reaches each service a function sends to (S3, DynamoDB, SSM, SQS),
/// signed with the credentials in the environment, and lands where the rest of the stack reads.
#[tokio::test]
async fn a_function_reaches_each_service_with_the_configuration_from_its_environment() {
    use aws_types::os_shim_internal::Env;
    use shared::domain::{CallId, TenantId};
    use shared::ports::{Job, SecretName};

    let cloud = Cloud::start().await;
    let env = Env::from_slice(&[
        ("AWS_ENDPOINT_URL", cloud.emulator.url.as_str()),
        ("AWS_REGION", testkit::iam::REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "session"),
    ]);
    let sdk = shared_aws::lambda_config(&env).unwrap();
    let function = shared_aws::AwsApp::new(&sdk, cloud.app.deployment.clone()).deps;
    let (stack, acme) = (&cloud.app.deps, TenantId::parse("acme").unwrap());
    // S3 (path-style, as an emulator needs)
    let key = "recordings/acme/probe.txt";
    function.blobs.put(key, b"a recording").await.unwrap();
    assert_eq!(stack.blobs.get(key).await.unwrap(), b"a recording");
    // DynamoDB
    let rules = shared::scoring::default_rules(&acme, chrono::Utc::now());
    assert!(function.rules.seed_rules(&acme, &rules).await.unwrap());
    assert_eq!(
        stack.rules.list_rules(&acme).await.unwrap().len(),
        rules.len()
    );
    // SSM Parameter Store
    let name = SecretName::twilio();
    function
        .secrets
        .put_secret(&acme, &name, "token")
        .await
        .unwrap();
    assert_eq!(
        stack
            .secrets
            .get_secret(&acme, &name)
            .await
            .unwrap()
            .as_deref(),
        Some("token")
    );
    // SQS
    let job = Job::Analyze {
        tenant_id: acme.clone(),
        call_id: CallId::derive(&acme, "probe-call"),
    };
    function.queue.send(&job).await.unwrap();
    let received = cloud
        .sqs
        .receive_message()
        .queue_url(&cloud.app.deployment.analyze_queue_url)
        .send()
        .await
        .unwrap();
    let bodies: Vec<Job> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies, [job]);
}
