//! Roles on AWS: API Gateway's authorizer vouches for the caller (the JWT authorizer's claims,
//! or a Lambda authorizer's context), and the API function holds each operation to its role.

use serde_json::{Value, json};

use crate::emulator::Cloud;
use crate::feed;

#[tokio::test]
async fn a_jwt_group_claim_gives_the_role_and_no_group_gives_a_viewer() {
    let cloud = Cloud::start().await;
    let rule = json!({"criteria": "calls.count >= 2", "weight": 5});
    let lead = json!({"phone_number": "+14155550134"});
    // A viewer reads, and a rule change or a new lead is refused with 403
    for groups in [Some("[viewer]"), None, Some("[sales-team]")] {
        let (status, _) =
            feed::api_as(&cloud, "GET", "/scoring_rules", Some("acme"), groups, None).await;
        assert_eq!(status, 200, "{groups:?}");
        let (status, problem) = feed::api_as(
            &cloud,
            "POST",
            "/scoring_rules",
            Some("acme"),
            groups,
            Some(rule.clone()),
        )
        .await;
        assert_eq!(status, 403, "{groups:?}: {problem}");
        assert_eq!(
            problem["detail"],
            "this needs the admin role; the caller is a viewer"
        );
        let (status, _) = feed::api_as(
            &cloud,
            "POST",
            "/leads",
            Some("acme"),
            groups,
            Some(lead.clone()),
        )
        .await;
        assert_eq!(status, 403, "{groups:?}");
    }
    // A rep (API Gateway hands the list over as text) works leads, and is refused the rules
    let (status, body) = feed::api_as(
        &cloud,
        "POST",
        "/leads",
        Some("acme"),
        Some("[rep]"),
        Some(lead),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = feed::api_as(
        &cloud,
        "POST",
        "/scoring_rules",
        Some("acme"),
        Some("[\"viewer\",\"rep\"]"),
        Some(rule.clone()),
    )
    .await;
    assert_eq!(status, 403);
    // An admin changes the rules
    let (status, body) = feed::api_as(
        &cloud,
        "POST",
        "/scoring_rules",
        Some("acme"),
        Some("[rep admin]"),
        Some(rule),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// A request a Lambda authorizer let through, with its verdict in the context.
async fn through_lambda_authorizer(cloud: &Cloud, context: Value, path: &str) -> u16 {
    let mut event = feed::sample("apigw-get-leads.json");
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["authorizer"] = json!({ "lambda": context });
    let (status, _, _) = feed::api_event(cloud, &event).await;
    status
}

#[tokio::test]
async fn a_lambda_authorizers_verdict_names_the_caller() {
    let cloud = Cloud::start().await;
    let verdict =
        |role: &str| json!({"tenant": "acme", "role": role, "actor": "key:ak_0123456789abcdef"});
    assert_eq!(
        through_lambda_authorizer(&cloud, verdict("viewer"), "/leads").await,
        200
    );
    assert_eq!(
        through_lambda_authorizer(&cloud, verdict("viewer"), "/api_keys").await,
        403
    );
    assert_eq!(
        through_lambda_authorizer(&cloud, verdict("admin"), "/api_keys").await,
        200
    );
    // A verdict that does not name a tenant, a role and who it is vouches for no one
    for broken in [
        json!({"tenant": "acme", "role": "owner", "actor": "key:ak_1"}),
        json!({"tenant": "Not A Tenant", "role": "admin", "actor": "key:ak_1"}),
        json!({"tenant": "acme", "role": "admin"}),
    ] {
        assert_eq!(
            through_lambda_authorizer(&cloud, broken.clone(), "/leads").await,
            401,
            "{broken}"
        );
    }
}
