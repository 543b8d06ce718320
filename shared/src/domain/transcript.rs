use serde::{Deserialize, Serialize};

/// Where a transcript came from. Every format normalises to the same [`Transcript`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptFormat {
    /// Amazon Transcribe batch output JSON (speaker labels or channel identification).
    AmazonTranscribe,
    /// Gong's call transcript JSON (`callTranscripts`), with the call's parties when given.
    Gong,
    WebVtt,
    Srt,
    /// Plain text, one `Speaker: text` turn per line.
    PlainText,
    /// Segments given directly as JSON (the REST API).
    Segments,
}

impl TranscriptFormat {
    pub fn label(self) -> &'static str {
        match self {
            Self::AmazonTranscribe => "Amazon Transcribe JSON",
            Self::Gong => "Gong JSON",
            Self::WebVtt => "WebVTT",
            Self::Srt => "SRT",
            Self::PlainText => "plain text",
            Self::Segments => "segments",
        }
    }
}

/// One stretch of speech by one party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Segment {
    /// Who spoke: a speaker label (`spk_0`), a channel (`ch_1`) or a name from the source.
    pub speaker: String,
    /// Seconds from the start of the call.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Mean recognition confidence 0..1, where the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// A call's words, normalised: segments in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Transcript {
    pub format: TranscriptFormat,
    /// Whether speakers are recording channels (one party per channel), which makes roles certain.
    #[serde(default)]
    pub by_channel: bool,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// Speakers in order of first appearance.
    pub fn speakers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.segments {
            if !out.contains(&s.speaker.as_str()) {
                out.push(&s.speaker);
            }
        }
        out
    }

    /// The end of the last segment: a lower bound on the call's length.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.end).fold(0.0, f64::max)
    }

    /// `Speaker: text` lines, for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push_str(&s.speaker);
            out.push_str(": ");
            out.push_str(&s.text);
            out.push('\n');
        }
        out
    }
}
