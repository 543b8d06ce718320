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
