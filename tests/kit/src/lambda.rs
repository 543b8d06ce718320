//! The five Lambda functions built for arm64 the way `sam build` builds them (cargo-lambda,
//! `provided.al2023`), but in the dev profile, into `target/lambda-build` (the test's own cargo
//! holds the lock on `target/debug`).
//!
//! The build takes about four of a cold run's minutes on two cores, so it starts in the
//! background as soon as the tools are installed (`start_in_background`, from
//! `emulator::tools_bin`) and runs while other suites do. What it proves is checked by
//! `tests/aws/infra.rs`, which runs the same build in the foreground: cargo's lock on the
//! target folder makes that wait for the background one, and then finds the work done. A
//! background build that failed or was killed changes nothing but the time.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::emulator::tools_bin;
use crate::venv::{say, workspace};

/// The functions `infra/template.yaml` deploys, by the package that builds each.
pub const FUNCTIONS: [&str; 5] = ["ingest", "transcribed", "analyze", "score", "api"];

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

/// `cargo lambda build --arm64` of the five functions, dev profile, into `target_dir()`.
pub fn build_command() -> Command {
    let mut cmd = tool("cargo");
    cmd.args(["lambda", "build", "--arm64", "--locked"])
        .env("CARGO_TARGET_DIR", target_dir());
    for f in FUNCTIONS {
        cmd.args(["--package", f]);
    }
    cmd
}

/// Start the build without waiting for it, its output appended to
/// `target/lambda-build/background.log` (started afresh once it passes 1 MB). Each test process
/// that installs or finds the tools starts one; a second waits on cargo's lock for the first
/// and then finds nothing to do.
pub(crate) fn start_in_background() {
    use std::io::Write;
    let dir = target_dir();
    let _ = std::fs::create_dir_all(&dir);
    let log = dir.join("background.log");
    if std::fs::metadata(&log).is_ok_and(|m| m.len() > 1 << 20) {
        let _ = std::fs::remove_file(&log);
    }
    let Ok(mut out) = std::fs::File::options().create(true).append(true).open(&log) else {
        return;
    };
    let _ = writeln!(out, "== started by test process {} ==", std::process::id());
    say(&format!(
        "building the five Lambda functions for arm64 in the background (cargo lambda build \
         --arm64; about four minutes the first time; log: {})",
        log.display()
    ));
    let _ = build_command()
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_or(Stdio::null(), Stdio::from))
        .stderr(Stdio::from(out))
        .spawn();
}
