//! Running the `leadscore` command as a user does, for the command's own tests.

#![allow(dead_code)] // Each test file uses its share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The command with a data folder and an engine store of its own (empty: no speech engine,
/// whatever this machine has installed).
pub fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadscore"));
    cmd.env("LEADSCORE_SPEECH_HOME", data_dir.join("engine-store"))
        .env_remove("LEADSCORE_SPEECH_PYTHON")
        .arg("--data-dir")
        .arg(data_dir);
    cmd
}

pub fn leadscore(data_dir: &Path, args: &[&str]) -> Output {
    command(data_dir)
        .args(args)
        .output()
        .expect("run leadscore")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A running `leadscore serve`, killed when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `leadscore serve --port 0` with `args`, and the address it printed.
pub fn serve(data_dir: &Path, args: &[&str]) -> (Server, String) {
    serve_with_env(data_dir, args, &[])
}

/// `serve`, with these environment variables set (a vendor's base URL).
pub fn serve_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Server, String) {
    let mut child = command(data_dir)
        .envs(env.iter().copied())
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    // Keep reading whatever else it prints, as a terminal would.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the server prints its address")
        .to_owned();
    (Server(child), url)
}
