//! The deployment itself: the SAM template passes both linters, and every function builds the
//! way `sam build` builds it (cargo-lambda, release, arm64 for provided.al2023). The tools come
//! from `tools/requirements.txt` and run offline.

use std::path::Path;
use std::process::Command;

use crate::emulator::{tools_bin, workspace};

/// The functions `infra/template.yaml` deploys, by the package that builds each.
const FUNCTIONS: [&str; 5] = ["ingest", "transcribed", "analyze", "score", "api"];

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

/// The tools first on the PATH (cargo-lambda finds its zig there), telemetry off.
fn tool(name: &str) -> Command {
    let bin = tools_bin();
    let mut cmd = Command::new(name);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_owned()];
    dirs.extend(std::env::split_paths(&path));
    cmd.current_dir(workspace())
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    cmd
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
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    packages.sort();
    assert_eq!(deployed, packages);
    let mut expected = FUNCTIONS.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(packages, expected);
}

/// `cargo lambda build --release --arm64`, as `sam build` runs it, into its own target folder
/// (the test's own cargo holds the lock on the usual one).
#[test]
fn every_function_builds_for_lambda_arm64() {
    let target = workspace().join("target/lambda-build");
    let mut cmd = tool("cargo");
    cmd.args(["lambda", "build", "--release", "--arm64", "--locked"])
        .env("CARGO_TARGET_DIR", &target);
    for f in FUNCTIONS {
        cmd.args(["--package", f]);
    }
    run(&mut cmd);
    for f in FUNCTIONS {
        let bootstrap = target.join("lambda").join(f).join("bootstrap");
        let elf = read_head(&bootstrap);
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
    }
}

fn read_head(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes[..20].to_vec()
}

/// What each function's handlers do in the bucket, by key prefix: the template must grant it.
/// (S3 answers a read of a missing key with 403 unless the reader may list the bucket, so a
/// function that reads optional objects, such as a tenant's settings, needs `s3:ListBucket`.)
const BUCKET_ACCESS: &[(&str, &str, &[&str])] = &[
    ("IngestFunction", "s3:GetObject", &["recordings/"]),
    ("IngestFunction", "s3:PutObject", &["transcripts/"]),
    ("IngestFunction", "s3:ListBucket", &[""]),
    ("TranscribedFunction", "s3:GetObject", &["transcripts/"]),
    ("TranscribedFunction", "s3:PutObject", &["transcripts/"]),
    ("AnalyzeFunction", "s3:GetObject", &["transcripts/"]),
    ("ScoreFunction", "s3:GetObject", &["settings/", "models/"]),
    ("ScoreFunction", "s3:ListBucket", &[""]),
    (
        "ApiFunction",
        "s3:GetObject",
        &[
            "recordings/",
            "transcripts/",
            "settings/",
            "models/",
            "secrets/",
        ],
    ),
    (
        "ApiFunction",
        "s3:PutObject",
        &["recordings/", "settings/", "models/", "secrets/"],
    ),
    ("ApiFunction", "s3:ListBucket", &[""]),
];

#[test]
fn every_function_may_reach_the_objects_its_handlers_use() {
    let template = crate::emulator::template();
    for (function, action, prefixes) in BUCKET_ACCESS {
        let statements = template["Resources"][function]["Properties"]["Policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{function} has policies"))
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default());
        // Resources as written (`!Sub "arn:...:s3:::<bucket>/settings/*"`), one string each.
        let granted: Vec<String> = statements
            .filter(|s| {
                s["Action"]
                    .as_sequence()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(action)))
                    && s.get("Condition").is_none()
            })
            .flat_map(|s| match &s["Resource"] {
                serde_yaml::Value::Sequence(list) => list.clone(),
                one => vec![one.clone()],
            })
            .map(|r| serde_yaml::to_string(&r).unwrap())
            .collect();
        for prefix in *prefixes {
            let wanted = if prefix.is_empty() {
                "-${AWS::Region}".to_owned()
            } else {
                format!("-${{AWS::Region}}/{prefix}*")
            };
            assert!(
                granted.iter().any(|r| r.trim_end().ends_with(&wanted)),
                "{function} lacks {action} on `{prefix}*` in the bucket; it has {granted:?}"
            );
        }
    }
}
