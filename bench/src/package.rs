//! package-bench: each Lambda function's package as `sam build` makes it (`cargo lambda build
//! --release --arm64` in a function's folder, as `sam build` runs it: the workspace's release profile, the Lambda build's
//! settings in `functions/.cargo/config.toml`, and what cargo-lambda adds for those the two
//! leave unset), zipped, against issue 19's baseline (5.1-5.4 MiB zipped) and its
//! goal (at most 4 MiB each).
//!
//!     cargo run --release -p leadscore-bench --bin package-bench -- [--target-dir DIR]
//!
//! The build goes to `target/lambda-release` unless told otherwise (a cold one takes about
//! twenty minutes on two cores).

use std::path::PathBuf;

use testkit::lambda::{FUNCTIONS, build_folder, tool};
use testkit::venv::workspace;

const BASELINE_MIB: f64 = 5.1;
const GOAL_MIB: f64 = 4.0;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = match args.as_slice() {
        [] => workspace().join("target/lambda-release"),
        [flag, dir] if flag == "--target-dir" => PathBuf::from(dir),
        _ => anyhow::bail!("usage: package-bench [--target-dir DIR]"),
    };
    eprintln!(
        "==> cargo lambda build --release --arm64 --output-format zip (all {} functions)",
        FUNCTIONS.len()
    );
    let mut build = tool("cargo");
    build
        .args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--locked",
            "--output-format",
            "zip",
        ])
        .current_dir(build_folder())
        .env("CARGO_TARGET_DIR", &target);
    for f in FUNCTIONS {
        build.args(["--package", f]);
    }
    anyhow::ensure!(build.status()?.success(), "the functions did not build");

    println!(
        "{:<12} {:>12} {:>12}",
        "function", "zipped MiB", "/ baseline"
    );
    let mut largest: f64 = 0.0;
    for f in FUNCTIONS {
        let zip_path = target.join("lambda").join(f).join("bootstrap.zip");
        let zipped = mib(std::fs::metadata(&zip_path)?.len());
        largest = largest.max(zipped);
        println!("{f:<12} {zipped:>12.2} {:>12.2}", zipped / BASELINE_MIB);
    }
    println!(
        "\nlargest package {largest:.2} MiB zipped: {:.2}x the baseline's smallest ({BASELINE_MIB} MiB); \
         goal at most {GOAL_MIB} MiB: {}",
        largest / BASELINE_MIB,
        if largest <= GOAL_MIB {
            "met"
        } else {
            "not met"
        }
    );
    Ok(())
}
