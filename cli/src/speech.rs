//! `leadscore speech install|transcribe`: the local speech engine.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use shared::adapters::local::EngineStore;

use crate::emit;

/// `leadscore speech install`: the pinned engine in the user's engine store (see
/// `EngineStore`), unless this version is there already.
pub(crate) fn speech_install(python: &str) -> Result<()> {
    let store = EngineStore::for_user();
    let installed = store.python().is_some();
    store.install(python, |step| eprintln!("{step} ..."))?;
    emit(&format!(
        "the local speech engine {} {} {}; recordings dropped into the inbox are transcribed\n",
        EngineStore::version(),
        if installed {
            "was already installed in"
        } else {
            "is installed in"
        },
        store.dir().display(),
    ))?;
    Ok(())
}

/// `leadscore speech transcribe FILE...`.
pub(crate) async fn speech_transcribe(
    data_dir: &Path,
    files: &[PathBuf],
    json: bool,
) -> Result<()> {
    use shared::ports::Transcriber;
    let engine = shared::adapters::local::WhisperEngine::locate(data_dir, &EngineStore::for_user())
        .context("the local speech engine is not installed: run `leadscore speech install`")?;
    // Each file is reported, and a bad one does not stop the others.
    let mut failed = 0;
    for file in files {
        let heard = match std::fs::read(file) {
            Ok(audio) => {
                let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
                engine
                    .transcribe(&audio, ext)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("cannot read it: {e}")),
        };
        let speech = match heard {
            Ok(speech) => speech,
            Err(why) => {
                eprintln!("{}: {why}", file.display());
                failed += 1;
                continue;
            }
        };
        if json {
            emit(&format!("{}\n", serde_json::to_string(&speech.transcript)?))?;
            continue;
        }
        emit(&format!(
            "{}: {:.1} s of audio, {} channel(s), computed in {:.2} s (real-time factor {:.3}), engine peak memory {}\n",
            file.display(),
            speech.duration,
            if speech.transcript.by_channel { 2 } else { 1 },
            speech.compute_seconds,
            speech.compute_seconds / speech.duration.max(0.001),
            speech
                .peak_rss_mib
                .map_or("-".to_owned(), |m| format!("{m:.0} MiB"))
        ))?;
        for s in &speech.transcript.segments {
            emit(&format!(
                "  {:>6.1}-{:<6.1} {:<5} {}  ({:.2})\n",
                s.start,
                s.end,
                s.speaker,
                s.text,
                s.confidence.unwrap_or(0.0)
            ))?;
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be transcribed", files.len());
    }
    Ok(())
}
