//! The web app's tests' tools: Debian's chromium (installed with apt-get when it is missing
//! and this user may install packages) and the npm packages in `cli/tests/browser` (Playwright's
//! `playwright-core`, which drives an installed browser and downloads none, and `axe-core`),
//! installed from their lockfile with `npm ci` into `target/tools/browser`, again whenever the
//! lockfile changes.

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;

use crate::venv::{run_logged, say, workspace};

/// Where the tools are.
pub struct Browser {
    /// The chromium binary (`CHROMIUM` names another).
    pub chromium: PathBuf,
    /// `node_modules` with the lockfile's packages.
    pub node_modules: PathBuf,
}

/// The tools, installed first where they are missing. Panics naming the package to install
/// when the browser cannot be installed here.
pub fn installed() -> Browser {
    let dir = workspace().join("target/tools/browser");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(dir.join(".lock")).unwrap();
    lock.lock().expect("lock the browser tools folder");
    node_is_there();
    Browser {
        chromium: chromium(&dir),
        node_modules: node_modules(&dir),
    }
}

fn chromium(dir: &std::path::Path) -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return path.into();
    }
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return path;
    }
    let log = dir.join("apt.log");
    say(&format!(
        "installing Debian's chromium for the web app's tests (apt-get install chromium; log: {})",
        log.display()
    ));
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        cmd.stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&["update", "-q"])
        && apt(&["install", "-y", "-q", "--no-install-recommends", "chromium"]);
    assert!(
        installed && path.exists(),
        "the web app's tests need a browser: install Debian's package `chromium` \
         (apt-get install chromium), or name one in CHROMIUM. apt-get said:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    path
}

/// Playwright 1.65 needs Node.js 20 or later: say so, rather than fail inside npm.
fn node_is_there() {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let major = version.as_deref().and_then(|v| {
        v.trim_start_matches('v')
            .split('.')
            .next()?
            .parse::<u32>()
            .ok()
    });
    assert!(
        major.is_some_and(|m| m >= 20),
        "the web app's tests need Node.js 20 or later with npm (Playwright drives the browser \
         from it); found {}",
        version.as_deref().unwrap_or("no `node` on the PATH")
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn node_modules(dir: &std::path::Path) -> PathBuf {
    let source = workspace().join("cli/tests/browser");
    let wanted = std::fs::read_to_string(source.join("package-lock.json")).unwrap();
    let stamp = dir.join("node_modules/.lockfile");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let log = dir.join("npm.log");
        say(&format!(
            "installing cli/tests/browser/package-lock.json into {} (log: {})",
            dir.display(),
            log.display()
        ));
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        run_logged(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                .current_dir(dir),
            &log,
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    dir.join("node_modules")
}
