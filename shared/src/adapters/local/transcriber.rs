use async_trait::async_trait;

use crate::domain::Call;
use crate::error::Result;
use crate::ports::{Transcriber, TranscriptionStart};

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
