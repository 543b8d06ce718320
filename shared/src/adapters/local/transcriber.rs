use std::path::PathBuf;
use std::sync::OnceLock;

use async_trait::async_trait;

use super::WhisperEngine;
use super::speech::EngineStore;
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
    store: EngineStore,
    engine: OnceLock<WhisperEngine>,
}

impl LocalSpeech {
    /// The engine for a data folder, from the user's engine store or the folder itself.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self::with_store(data_dir, EngineStore::for_user())
    }

    pub fn with_store(data_dir: impl Into<PathBuf>, store: EngineStore) -> Self {
        Self {
            data_dir: data_dir.into(),
            store,
            engine: OnceLock::new(),
        }
    }

    fn engine(&self) -> Option<&WhisperEngine> {
        if let Some(engine) = self.engine.get() {
            return Some(engine);
        }
        let found = WhisperEngine::locate(&self.data_dir, &self.store)?;
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
        // GIVEN a data folder and an engine store, neither with an engine
        let dir = tempfile::tempdir().unwrap();
        let store = EngineStore::at(dir.path().join("engines"));
        let speech = LocalSpeech::with_store(dir.path().join("data"), store.clone());
        assert!(speech.engine().is_none());
        // WHEN the store's engine finishes installing (its Python and then the stamp)
        let venv = store.dir().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("bin/python"), "").unwrap();
        assert!(
            speech.engine().is_none(),
            "an unfinished install is not used"
        );
        std::fs::write(
            venv.join(".leadscore-installed"),
            super::super::speech::REQUIREMENTS,
        )
        .unwrap();
        // THEN the same transcriber uses it, without a restart
        assert!(speech.engine().is_some());
    }

    #[test]
    fn an_engine_of_other_pinned_versions_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = EngineStore::at(dir.path());
        let venv = store.dir().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("bin/python"), "").unwrap();
        std::fs::write(venv.join(".leadscore-installed"), "faster-whisper==0.1\n").unwrap();
        assert_eq!(store.python(), None);
    }
}
