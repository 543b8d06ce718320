//! Python tools the tests install for themselves: a virtualenv under `target/tools/<name>` made
//! from a requirements file on first use, and again whenever that file changes. Test processes
//! that start together wait on a file lock for the one that installs.
//!
//! The installer is uv (from PyPI, pinned, itself installed with pip into `target/tools/uv`,
//! its download cache in `target/tools/uv-cache`): it installs the 850 MB of tools in 13 s
//! where pip took 49 (both with a cold cache, bytecode compiled, on two cores), a cold run's
//! largest wait after the build. It reads pip's `PIP_FIND_LINKS` when set, and the system's
//! certificates.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the folder with `Cargo.lock`), from whichever member's tests include this.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("a workspace root above the package")
        .to_owned()
}

/// `target/tools/<name>/venv` (or `target/tools/venv` for `name` ""), with `requirements`
/// (relative to the workspace) installed. `PYTHON` names the interpreter, `python3` by default.
pub fn installed(name: &str, requirements: &str) -> PathBuf {
    let root = workspace();
    let requirements = root.join(requirements);
    let dir = root.join("target/tools").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(dir.join(".lock")).unwrap();
    lock.lock().expect("lock the tools folder");
    let venv = dir.join("venv");
    let stamp = venv.join(".requirements");
    let wanted = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("{}: {e}", requirements.display()));
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let log = dir.join("install.log");
        say(&format!(
            "installing {} into {} (log: {})",
            requirements.display(),
            venv.display(),
            log.display()
        ));
        let _ = std::fs::remove_dir_all(&venv);
        let uv = uv();
        run_logged(uv_command(&uv).arg("venv").arg("--quiet").arg(&venv), &log);
        run_logged(
            uv_command(&uv)
                .args([
                    "pip",
                    "install",
                    "--quiet",
                    "--compile-bytecode",
                    "--python",
                ])
                .arg(venv.join("bin/python"))
                .arg("-r")
                .arg(&requirements),
            &log,
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    venv
}

/// The uv the installs use: `target/tools/uv/venv/bin/uv`, installed with pip the first time.
fn uv() -> PathBuf {
    const UV: &str = "uv==0.13.9";
    let dir = workspace().join("target/tools/uv");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(dir.join(".lock")).unwrap();
    lock.lock().expect("lock the uv folder");
    let venv = dir.join("venv");
    let stamp = venv.join(".installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(UV) {
        let log = dir.join("install.log");
        let _ = std::fs::remove_dir_all(&venv);
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run_logged(Command::new(python).arg("-m").arg("venv").arg(&venv), &log);
        run_logged(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                UV,
            ]),
            &log,
        );
        std::fs::write(&stamp, UV).unwrap();
    }
    venv.join("bin/uv")
}

/// uv with its cache inside the project, the interpreter `PYTHON` names (`python3` by
/// default), pip's extra wheel folder when one is configured, and the system's certificates.
fn uv_command(uv: &Path) -> Command {
    let mut cmd = Command::new(uv);
    cmd.env("UV_CACHE_DIR", workspace().join("target/tools/uv-cache"))
        .env(
            "UV_PYTHON",
            std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
        )
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_NATIVE_TLS", "1")
        .env("UV_NO_PROGRESS", "1");
    if let Some(links) = std::env::var_os("PIP_FIND_LINKS").filter(|l| !l.is_empty()) {
        cmd.env("UV_FIND_LINKS", links);
    }
    cmd
}

/// A line on the terminal while the tests run: the test harness captures `println!` and
/// `eprintln!`, not writes to the process's stderr, so a long step is announced where the
/// person (or CI's log) waiting on it sees it.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn run_logged(cmd: &mut Command, log: &Path) {
    let out = File::options().create(true).append(true).open(log).unwrap();
    let status = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        status.success(),
        "{cmd:?} failed: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
