//! The local speech engine: faster-whisper with the tiny.en model, run by a Python helper
//! process (`tools/speech/worker.py`) that stays warm across calls, one JSON line per request.
//! `leadscore speech install` puts it in a virtualenv in the data folder; without it, audio
//! waits with a status that says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::domain::{Call, Segment, Transcript, TranscriptFormat};
use crate::error::{Error, Result};
use crate::ports::{Speech, Transcriber, TranscriptionStart};

/// The helper's source, written next to its virtualenv so the two always match this build.
pub const WORKER_PY: &str = include_str!("../../../../tools/speech/worker.py");
/// What the helper needs from PyPI, pinned.
pub const REQUIREMENTS: &str = include_str!("../../../../tools/speech/requirements.txt");

/// Recordings longer than this are refused with a status rather than transcribed for hours.
pub const DEFAULT_MAX_MINUTES: f64 = 90.0;

/// How to say that the engine is missing, on every call that waits for it.
pub fn install_hint() -> String {
    "waiting for a transcript: the local speech engine is not installed; run `leadscore speech \
     install` (a Python virtualenv with faster-whisper and the tiny.en model, about 550 MB), \
     or drop a transcript with the recording's name into the inbox"
        .to_owned()
}

/// Where the engine lives: `LEADSCORE_SPEECH_PYTHON` names a Python that has it, or
/// `<data>/speech/venv` holds it.
pub fn python_for(data_dir: &Path) -> PathBuf {
    match std::env::var_os("LEADSCORE_SPEECH_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => data_dir.join("speech/venv/bin/python"),
    }
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
    /// The engine for a data folder, if its Python is there (the helper starts on first use).
    pub fn locate(data_dir: &Path) -> Option<Self> {
        let python = python_for(data_dir);
        if !python.exists() {
            return None;
        }
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
