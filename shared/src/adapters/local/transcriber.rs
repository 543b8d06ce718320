use std::path::PathBuf;
use std::sync::OnceLock;

use async_trait::async_trait;

use super::WhisperEngine;
use crate::domain::Call;
use crate::error::Result;
use crate::ports::{Speech, Transcriber, TranscriptionStart};

/// Local mode without a speech engine: audio waits for a transcript, and the call's status
/// says how to supply one.
#[derive(Debug, Default, Clone)]
pub struct NoSpeechEngine;

#[async_trait]
impl Transcriber for NoSpeechEngine {
    async fn start(&self, call: &Call, _media_key: &str) -> Result<TranscriptionStart> {
        Ok(TranscriptionStart::Unavailable {
            reason: format!(
                "{} (`{stem}.vtt`, `{stem}.srt`, `{stem}.txt` or `{stem}.json`)",
                super::speech::install_hint(),
                stem = call.source_name
            ),
        })
    }
}

/// A data folder's speech: its engine once one is installed there, looked for at each use
/// until found, so `leadscore speech install` while `serve` runs takes effect at once (the
/// waiting recording dropped again is transcribed); until then, `NoSpeechEngine`.
pub struct LocalSpeech {
    data_dir: PathBuf,
    engine: OnceLock<WhisperEngine>,
}

impl LocalSpeech {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            engine: OnceLock::new(),
        }
    }

    fn engine(&self) -> Option<&WhisperEngine> {
        if let Some(engine) = self.engine.get() {
            return Some(engine);
        }
        let found = WhisperEngine::locate(&self.data_dir)?;
        Some(self.engine.get_or_init(|| found))
    }
}

#[async_trait]
impl Transcriber for LocalSpeech {
    async fn start(&self, call: &Call, media_key: &str) -> Result<TranscriptionStart> {
        match self.engine() {
            Some(engine) => engine.start(call, media_key).await,
            None => NoSpeechEngine.start(call, media_key).await,
        }
    }

    async fn transcribe(&self, audio: &[u8], extension: &str) -> Result<Speech> {
        match self.engine() {
            Some(engine) => engine.transcribe(audio, extension).await,
            None => Err(crate::Error::transient(
                format!(
                    "no speech engine is installed here: {}",
                    super::speech::install_hint()
                ),
                std::fmt::Error,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_installed_later_is_found_at_its_next_use() {
        // GIVEN a data folder without an engine
        let dir = tempfile::tempdir().unwrap();
        let speech = LocalSpeech::new(dir.path());
        assert!(speech.engine().is_none());
        // WHEN the engine's Python appears (as `leadscore speech install` makes it)
        let python = super::super::speech::python_for(dir.path());
        std::fs::create_dir_all(python.parent().unwrap()).unwrap();
        std::fs::write(&python, "").unwrap();
        // THEN the same transcriber uses it, without a restart
        assert!(speech.engine().is_some());
    }
}
