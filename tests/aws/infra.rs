//! The deployment itself: the SAM template passes both linters, and every function builds the
//! way `sam build` builds it (cargo-lambda, arm64 for provided.al2023). The tools come
//! from `tools/requirements.txt` and run offline.

use std::process::Command;

use testkit::lambda::{FUNCTIONS, build_command, target_dir, tool};

use crate::emulator::workspace;

fn run(cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn the_template_passes_cfn_lint() {
    run(tool("cfn-lint").arg("infra/template.yaml"));
}

#[test]
fn the_template_passes_sam_validate_lint() {
    let out = run(tool("sam").args(["validate", "--lint"]));
    assert!(out.contains("is a valid SAM Template"), "{out}");
}

/// The template's functions are exactly the packages under `functions/`.
#[test]
fn the_template_deploys_every_function_package() {
    let template = crate::emulator::template();
    let mut deployed: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            assert_eq!(
                r["Metadata"]["BuildMethod"].as_str(),
                Some("rust-cargolambda")
            );
            // SAM resolves CodeUri from the template's folder and runs cargo-lambda there.
            let uri = r["Properties"]["CodeUri"].as_str().expect("CodeUri");
            let dir = workspace().join("infra").join(uri).canonicalize().unwrap();
            assert!(dir.join("Cargo.toml").is_file(), "{uri} is a package");
            assert_eq!(dir.parent().unwrap(), workspace().join("functions"));
            dir.file_name().unwrap().to_str().unwrap().to_owned()
        })
        .collect();
    deployed.sort();
    let mut packages: Vec<String> = std::fs::read_dir(workspace().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").exists())
        .map(|dir| dir.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    packages.sort();
    assert_eq!(deployed, packages);
    let mut expected = FUNCTIONS.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(packages, expected);
}

/// Every function's failures page someone: each has an alarm on its `Errors` metric that
/// fires on the first one and notifies the alarm topic.
#[test]
fn every_function_has_an_errors_alarm() {
    let template = crate::emulator::template();
    let resources = template["Resources"].as_mapping().unwrap();
    let functions: Vec<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    assert_eq!(functions.len(), FUNCTIONS.len());
    for function in functions {
        let alarms: Vec<&serde_yaml::Value> = resources
            .values()
            .filter(|r| {
                r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                    && r["Properties"]["MetricName"].as_str() == Some("Errors")
                    && reference(&r["Properties"]["Dimensions"][0]["Value"]) == Some(function)
            })
            .collect();
        assert_eq!(alarms.len(), 1, "{function}'s errors alarm");
        let alarm = &alarms[0]["Properties"];
        assert_eq!(alarm["Namespace"].as_str(), Some("AWS/Lambda"));
        assert_eq!(alarm["Threshold"].as_i64(), Some(0), "{function}");
        assert_eq!(
            alarm["ComparisonOperator"].as_str(),
            Some("GreaterThanThreshold")
        );
        assert!(
            serde_yaml::to_string(&alarm["AlarmActions"])
                .unwrap()
                .contains("AlarmTopic"),
            "{function}'s alarm notifies no one"
        );
    }
}

/// The resource a `!Ref` names.
fn reference(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        _ => None,
    }
}

/// Browsers get the same CORS policy from API Gateway as from `leadscore serve`.
#[test]
fn the_template_and_serve_give_browsers_one_cors_policy() {
    use shared::handlers::api::{
        CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS, CORS_METHODS,
    };
    let template = crate::emulator::template();
    let cors = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    // `!If [HasCorsOrigins, policy, !Ref AWS::NoValue]`: the policy is the second item.
    let policy = match cors {
        serde_yaml::Value::Tagged(t) if t.tag == "If" => &t.value[1],
        other => panic!("CorsConfiguration is an !If on HasCorsOrigins: {other:?}"),
    };
    let list = |key: &str| -> Vec<String> {
        policy[key]
            .as_sequence()
            .unwrap_or_else(|| panic!("{key} is a list"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("AllowMethods"), CORS_METHODS);
    assert_eq!(list("AllowHeaders"), CORS_ALLOW_HEADERS);
    assert_eq!(list("ExposeHeaders"), CORS_EXPOSE_HEADERS);
    assert_eq!(policy["MaxAge"].as_u64(), Some(CORS_MAX_AGE_SECONDS));
}

/// What API Gateway lets through without a token is what the OpenAPI document says needs none
/// (the health check, the document and its page, Twilio's webhooks, the short links, the OAuth
/// callback) and the web app's files. Every other operation takes the bearer token, and
/// reaches the API function through `/{proxy+}`. The pages (`api::PAGE_PATHS`) go to the web
/// function, and nothing else does.
#[test]
fn the_template_opens_to_the_public_exactly_the_operations_the_document_does() {
    let template = crate::emulator::template();
    let events = |function: &str| -> Vec<(String, bool)> {
        let mut routes: Vec<(String, bool)> =
            template["Resources"][function]["Properties"]["Events"]
                .as_mapping()
                .unwrap_or_else(|| panic!("the {function}'s events"))
                .values()
                .map(|e| {
                    let route = format!(
                        "{} {}",
                        e["Properties"]["Method"].as_str().unwrap().to_lowercase(),
                        e["Properties"]["Path"].as_str().unwrap()
                    );
                    let open = e["Properties"]["Auth"]["Authorizer"].as_str() == Some("NONE");
                    (route, open)
                })
                .collect();
        routes.sort();
        routes
    };
    let (api, web) = (events("ApiFunction"), events("WebFunction"));
    let mut pages: Vec<(String, bool)> = shared::handlers::api::PAGE_PATHS
        .iter()
        .map(|path| (format!("get {path}"), true))
        .collect();
    pages.sort();
    assert_eq!(
        web, pages,
        "the web function's routes are the pages, all open"
    );
    let mut public: Vec<String> = api
        .into_iter()
        .chain(web)
        .filter(|(_, open)| *open)
        .map(|(route, _)| route)
        .collect();
    public.sort();
    let doc = serde_json::to_value(shared::handlers::api::document()).unwrap();
    let mut open: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].as_array().is_none_or(|s| s.is_empty()) {
                open.push(format!("{method} {path}"));
            }
        }
    }
    open.extend(
        shared::handlers::api::APP_PATHS
            .iter()
            .map(|path| format!("get {path}")),
    );
    open.sort();
    assert_eq!(public, open);
}

/// Every function cross-compiles and links for arm64 with the zig linker (the dev profile: the
/// release profile's thin LTO proves nothing more here and took three times as long; the
/// release packages' sizes are measured separately, the README's table, from `cargo lambda
/// build --release --arm64`).
#[test]
fn every_function_builds_for_lambda_arm64() {
    crate::venv::say(&format!(
        "building the {} Lambda functions for arm64 (cargo lambda build --arm64; about four \
         minutes the first time)",
        FUNCTIONS.len()
    ));
    run(&mut build_command());
    let target = target_dir();
    for f in FUNCTIONS {
        let bootstrap = target.join("lambda").join(f).join("bootstrap");
        let elf =
            std::fs::read(&bootstrap).unwrap_or_else(|e| panic!("{}: {e}", bootstrap.display()));
        assert_eq!(
            &elf[..4],
            b"\x7fELF",
            "{} is an ELF binary",
            bootstrap.display()
        );
        // e_machine 183: AArch64, what an arm64 Lambda runs.
        assert_eq!(
            u16::from_le_bytes([elf[18], elf[19]]),
            183,
            "{f} is built for arm64"
        );
        // e_type 2: a position-dependent executable, as functions/.cargo/config.toml asks of
        // a build run where `sam build` runs it (a PIE would be 3).
        assert_eq!(
            u16::from_le_bytes([elf[16], elf[17]]),
            2,
            "{f} was built without the Lambda build's settings (functions/.cargo/config.toml)"
        );
        // The embedded runtime (feature `local`) stays on the laptop: no SQLite in a function.
        assert!(
            !elf.windows(12).any(|w| w == b"sqlite3_open"),
            "{f} links SQLite: something enables shared's `local` feature for it"
        );
    }
}
