//! Who may call on AWS: the Lambda authorizer turns a request's bearer token (an API key, or
//! an ID token of the user pool) into a caller, and the API function holds each operation to
//! that caller's role. The keys live in DynamoDB on moto; the tokens come from moto's Cognito,
//! signed with its key and verified against its published key set.

use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};
use shared::adapters::oidc::{IdTokens, JwtSettings};
use shared_aws::lambda;

use crate::emulator::Cloud;
use crate::feed;
use crate::iam::Function;

/// The authorizer's verdict on `Authorization: <header>`: its context when it allows.
pub(crate) async fn authorize(
    cloud: &Cloud,
    tokens: Option<&IdTokens>,
    header: Option<&str>,
) -> Option<Value> {
    let event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/leads",
        "identitySource": header.map(|h| vec![h]),
        "routeKey": "$default",
        "rawPath": "/leads",
        "rawQueryString": "",
        "headers": header.map_or(json!({}), |h| json!({"authorization": h})),
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "http": {"method": "GET", "path": "/leads", "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.9", "userAgent": "curl/8"}, "requestId": "r-1", "routeKey": "$default",
            "stage": "$default", "time": "02/Dec/2026:07:00:00 +0000", "timeEpoch": 1796194800000_u64
        }
    });
    let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event).unwrap();
    let response = lambda::authorize(cloud.function(Function::Authorizer), tokens, request).await;
    response
        .is_authorized
        .then_some(Value::Object(response.context))
}

/// A request to the API function that the authorizer let through with `context`.
async fn api_as(
    cloud: &Cloud,
    context: &Value,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    feed::api_through(cloud, method, path, Some(context.clone()), body).await
}

#[tokio::test]
async fn an_api_key_passes_as_its_tenant_and_role_until_it_is_revoked() {
    let cloud = Cloud::start().await;
    let admin = json!({"tenant": "acme", "role": "admin", "actor": "user:founder"});
    // GIVEN a rep's key, made through the API by an admin
    let (status, made) = api_as(
        &cloud,
        &admin,
        "POST",
        "/api_keys",
        Some(json!({"name": "crm sync", "role": "rep"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    let key_id = made["key_id"].as_str().unwrap().to_owned();
    // WHEN the authorizer sees it, THEN it vouches for acme's rep, that key
    let context = authorize(&cloud, None, Some(&format!("Bearer {token}")))
        .await
        .expect("the key is authorized");
    assert_eq!(
        context,
        json!({"tenant": "acme", "role": "rep", "actor": format!("key:{key_id}")})
    );
    // ... and the API holds the rep to its role
    let (status, _) = api_as(&cloud, &context, "GET", "/leads", None).await;
    assert_eq!(status, 200);
    let (status, problem) = api_as(
        &cloud,
        &context,
        "POST",
        "/scoring_rules",
        Some(json!({"criteria": "calls.count >= 2", "weight": 5})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(
        problem["detail"],
        "this needs the admin role; the caller is a rep"
    );
    // The key's use is recorded
    let (_, keys) = api_as(&cloud, &admin, "GET", "/api_keys", None).await;
    assert!(keys["api_keys"][0]["last_used_at"].is_string(), "{keys}");
    // A key with a character changed, no token, and a JWT where no issuer is configured
    let mut wrong = token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'a' { 'b' } else { 'a' });
    for header in [
        Some(format!("Bearer {wrong}")),
        None,
        Some("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln".to_owned()),
        Some(token.clone()),
    ] {
        assert_eq!(
            authorize(&cloud, None, header.as_deref()).await,
            None,
            "{header:?}"
        );
    }
    // Revoked by the admin: refused from then on
    let (status, _) = api_as(
        &cloud,
        &admin,
        "DELETE",
        &format!("/api_keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        authorize(&cloud, None, Some(&format!("Bearer {token}"))).await,
        None
    );
}

#[tokio::test]
async fn an_authorizer_context_that_names_no_valid_caller_vouches_for_no_one() {
    let cloud = Cloud::start().await;
    for broken in [
        json!({"tenant": "acme", "role": "owner", "actor": "key:ak_1"}),
        json!({"tenant": "Not A Tenant", "role": "admin", "actor": "key:ak_1"}),
        json!({"tenant": "acme", "role": "admin"}),
    ] {
        let (status, _) = api_as(&cloud, &broken, "GET", "/leads", None).await;
        assert_eq!(status, 401, "{broken}");
    }
    // No authorizer at all (a route API Gateway leaves open): only the open operations answer
    let (status, _) = feed::api_through(&cloud, "GET", "/leads", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = feed::api_through(&cloud, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    // The web app's page and files, which then sign in to the API.
    for path in ["/", "/app/app.js", "/app/app.css"] {
        let (status, _) = feed::api_through(&cloud, "GET", path, None, None).await;
        assert_eq!(status, 200, "{path}");
    }
}

/// A call to moto's Cognito (the JSON protocol, as the SDK sends it).
async fn cognito(cloud: &Cloud, action: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(&cloud.emulator.url)
        .header(
            "x-amz-target",
            format!("AWSCognitoIdentityProviderService.{action}"),
        )
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=host, Signature=00",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A user of `pool` with `tenant` (if any) in custom:tenant, in `group` (if any): their ID token.
async fn id_token(
    cloud: &Cloud,
    pool: &str,
    client: &str,
    email: &str,
    tenant: Option<&str>,
    group: Option<&str>,
) -> String {
    let mut attributes = vec![json!({"Name": "email", "Value": email})];
    if let Some(t) = tenant {
        attributes.push(json!({"Name": "custom:tenant", "Value": t}));
    }
    cognito(
        cloud,
        "AdminCreateUser",
        json!({"UserPoolId": pool, "Username": email, "UserAttributes": attributes,
               "MessageAction": "SUPPRESS"}),
    )
    .await;
    cognito(
        cloud,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool, "Username": email, "Password": "Correct-Horse-Battery-9", "Permanent": true}),
    )
    .await;
    if let Some(g) = group {
        cognito(
            cloud,
            "AdminAddUserToGroup",
            json!({"UserPoolId": pool, "Username": email, "GroupName": g}),
        )
        .await;
    }
    let auth = cognito(
        cloud,
        "AdminInitiateAuth",
        json!({"UserPoolId": pool, "ClientId": client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": email, "PASSWORD": "Correct-Horse-Battery-9"}}),
    )
    .await;
    auth["AuthenticationResult"]["IdToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no ID token: {auth}"))
        .to_owned()
}

#[tokio::test]
async fn a_user_pool_id_token_passes_with_the_tenant_and_group_the_pool_gives() {
    let cloud = Cloud::start_with(|d| d.tenant_claim = "custom:tenant".into()).await;
    // GIVEN the pool the template makes: a tenant attribute, an app client, the groups
    let pool = cognito(
        &cloud,
        "CreateUserPool",
        json!({"PoolName": "leadscore-users",
               "Schema": [{"Name": "tenant", "AttributeDataType": "String", "Mutable": true}]}),
    )
    .await["UserPool"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = cognito(
        &cloud,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": "leadscore",
               "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    for group in ["admin", "rep", "viewer"] {
        cognito(
            &cloud,
            "CreateGroup",
            json!({"UserPoolId": pool, "GroupName": group}),
        )
        .await;
    }
    let settings = |audience: &str| JwtSettings {
        issuer: format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}"),
        audiences: vec![audience.to_owned()],
        jwks_url: format!("{}/{pool}/.well-known/jwks.json", cloud.emulator.url),
    };
    // As the authorizer function makes them from its deployment.
    let deployment = &cloud.function(Function::Authorizer).deployment;
    let tokens = |audience: &str| {
        IdTokens::new(
            settings(audience),
            &deployment.tenant_claim,
            &deployment.role_claim,
        )
    };
    let verifier = tokens(&client);
    let bearer = |token: &str| format!("Bearer {token}");

    // WHEN a rep of acme signs in, THEN the authorizer vouches for acme's rep, that user
    let rep = id_token(
        &cloud,
        &pool,
        &client,
        "maya@acme.test",
        Some("acme"),
        Some("rep"),
    )
    .await;
    let context = authorize(&cloud, Some(&verifier), Some(&bearer(&rep)))
        .await
        .expect("the token is authorized");
    assert_eq!(context["tenant"], "acme");
    assert_eq!(context["role"], "rep");
    assert!(
        context["actor"].as_str().unwrap().starts_with("user:"),
        "{context}"
    );
    let (status, _) = api_as(
        &cloud,
        &context,
        "POST",
        "/leads",
        Some(json!({"phone_number": "+14155550134"})),
    )
    .await;
    assert_eq!(status, 201);
    // A user in no group is a viewer
    let plain = id_token(&cloud, &pool, &client, "sam@acme.test", Some("acme"), None).await;
    let context = authorize(&cloud, Some(&verifier), Some(&bearer(&plain)))
        .await
        .unwrap();
    assert_eq!(context["role"], "viewer");
    // Refused: a user without a tenant, a token with its claims changed (the signature no
    // longer holds), a token for another app client
    let stray = id_token(
        &cloud,
        &pool,
        &client,
        "lost@acme.test",
        None,
        Some("admin"),
    )
    .await;
    let mut parts: Vec<String> = rep.split('.').map(str::to_owned).collect();
    let claims = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap(),
    )
    .unwrap()
    .replace("\"acme\"", "\"globex\"");
    parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims);
    let forged = parts.join(".");
    for token in [&stray, &forged] {
        assert_eq!(
            authorize(&cloud, Some(&verifier), Some(&bearer(token))).await,
            None
        );
    }
    let elsewhere = tokens("another-client");
    assert_eq!(
        authorize(&cloud, Some(&elsewhere), Some(&bearer(&rep))).await,
        None
    );
}

/// A deployment with the stack's own user pool and the web app's sign-in parameter.
pub(crate) fn with_web_sign_in(d: &mut shared_aws::Deployment) {
    d.jwt = Some(JwtSettings {
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1".into(),
        audiences: Vec::new(),
        jwks_url:
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1/.well-known/jwks.json"
                .into(),
    });
    d.sign_in_parameter = Some(format!("/{}/web/sign-in", testkit::iam::STACK));
}

/// The sign-in parameter as the stack writes it (web client `web-client-1`, pool domain
/// `leadscore-0a1b2c3d4e5f`).
pub(crate) async fn put_template_sign_in(cloud: &Cloud) {
    shared_aws::Ssm::new(&cloud.emulator.sdk().await)
        .put_parameter(
            &format!("/{}/web/sign-in", testkit::iam::STACK),
            &template_sign_in("web-client-1", "leadscore-0a1b2c3d4e5f"),
            shared_aws::ParameterKind::String,
        )
        .await
        .unwrap();
}

/// The sign-in the template writes for its own user pool, as CloudFormation would resolve it
/// with `client` as the web client's id and `domain` as the pool's domain prefix.
fn template_sign_in(client: &str, domain: &str) -> String {
    let parameter = &crate::emulator::template()["Resources"]["SignInParameter"]["Properties"];
    assert_eq!(
        parameter["Name"],
        serde_yaml::Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: serde_yaml::value::Tag::new("Sub"),
            value: "/${AWS::StackName}/web/sign-in".into(),
        }))
    );
    // `!If [CreateUserPool, !Sub '<the pool's>', !Sub '<your issuer's>']`
    let serde_yaml::Value::Tagged(choice) = &parameter["Value"] else {
        panic!("the parameter's value is an !If");
    };
    let serde_yaml::Value::Tagged(own) = &choice.value[1] else {
        panic!("the stack's pool's sign-in is a !Sub");
    };
    own.value
        .as_str()
        .unwrap()
        .replace("${WebClient}", client)
        .replace("${UserPoolDomain}", domain)
        .replace("${AWS::Region}", testkit::iam::REGION)
}

#[tokio::test]
async fn the_web_function_serves_the_web_apps_sign_in_from_the_stacks_parameter() {
    let cloud = Cloud::start_with(with_web_sign_in).await;
    // GIVEN the parameter as the stack writes it for its own pool
    put_template_sign_in(&cloud).await;
    // WHEN the page asks how to sign in (no token: the route is open), THEN it learns the
    // pool's managed sign-in pages and its own client
    let (status, sign_in) = feed::api_through(&cloud, "GET", "/app/sign-in.json", None, None).await;
    assert_eq!(status, 200, "{sign_in}");
    let pages = "https://leadscore-0a1b2c3d4e5f.auth.us-east-1.amazoncognito.com";
    assert_eq!(
        sign_in,
        json!({
            "client_id": "web-client-1",
            "authorization_endpoint": format!("{pages}/oauth2/authorize"),
            "token_endpoint": format!("{pages}/oauth2/token"),
            "end_session_endpoint": format!("{pages}/logout"),
            "logout_redirect_parameter": "logout_uri",
            "scope": "openid email",
        })
    );
    // ... and the page may reach the token endpoint, and nothing else new
    let mut event = feed::sample("apigw-get-leads.json");
    event["rawPath"] = "/".into();
    event["rawQueryString"] = "".into();
    event["requestContext"]["http"]["path"] = "/".into();
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, headers, _) = feed::api_event(&cloud, &event).await;
    assert_eq!(status, 200);
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains(&format!("connect-src 'self' {pages};")),
        "{policy}"
    );
    // The parameter was read once for the function's life (the grant is held by the recorder
    // when the cloud is dropped).
    let reads = cloud
        .recorder
        .calls()
        .into_iter()
        .filter(|c| c.action == "ssm:GetParameter")
        .count();
    assert_eq!(reads, 1, "{}", cloud.recorder.summary());
}
