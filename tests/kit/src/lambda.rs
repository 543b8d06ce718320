//! The Lambda functions built for arm64 the way `sam build` builds them (cargo-lambda,
//! `provided.al2023`), but in the dev profile, into `target/lambda-build` (the test's own cargo
//! holds the lock on `target/debug`). `tests/aws/infra.rs` runs it and checks what it made.
//!
//! Starting it in the background as soon as the tools were installed, to overlap the other
//! suites, was tried and measured: on two cores the build is bound by the processor, so it
//! only slowed the suites beside it (a cold run took 665 s instead of 605).

use std::path::PathBuf;
use std::process::Command;

use crate::emulator::tools_bin;
use crate::venv::workspace;

/// The functions `infra/template.yaml` deploys, by the package that builds each.
pub const FUNCTIONS: [&str; 8] = [
    "ingest",
    "transcribed",
    "analyze",
    "score",
    "api",
    "authorizer",
    "webhooks",
    "web",
];

/// Where the arm64 build goes; each function's binary is `lambda/<function>/bootstrap` in it.
pub fn target_dir() -> PathBuf {
    workspace().join("target/lambda-build")
}

/// A tool from the installed tools first on the PATH (cargo-lambda finds its zig there),
/// run in the workspace, telemetry off.
pub fn tool(name: &str) -> Command {
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

/// Where `cargo lambda build` runs to build the functions as `sam build` builds them: in a
/// function's folder (`sam build` runs it in each function's `CodeUri`), so that cargo reads
/// the Lambda build's settings (`functions/.cargo/config.toml`). Any function's folder builds
/// every function named with `--package`.
pub fn build_folder() -> PathBuf {
    workspace().join("functions").join(FUNCTIONS[0])
}

/// `cargo lambda build --arm64` of the functions, dev profile, into `target_dir()`, run where
/// `sam build` runs it (`build_folder`).
pub fn build_command() -> Command {
    let mut cmd = tool("cargo");
    cmd.current_dir(build_folder())
        .args(["lambda", "build", "--arm64", "--locked"])
        .env("CARGO_TARGET_DIR", target_dir());
    for f in FUNCTIONS {
        cmd.args(["--package", f]);
    }
    cmd
}
