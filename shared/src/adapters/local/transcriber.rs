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
                "waiting for a transcript: no speech engine is set up in local mode; drop a transcript named \
                 `{stem}.vtt`, `{stem}.srt`, `{stem}.txt` or `{stem}.json` (Amazon Transcribe) into the inbox",
                stem = call.source_name
            ),
        })
    }
}
