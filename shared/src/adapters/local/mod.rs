//! Local adapters: an embedded SQLite database for leads, calls, rules and the job queue; a
//! folder of files in place of the bucket; owner-only files for secrets; and a local speech engine (faster-whisper), or the
//! statement that none is installed.

mod files;
mod rate;
mod secrets;
pub mod speech;
mod store;
mod transcriber;

pub use files::FileBlobStore;
pub use rate::MemoryRateLimiter;
pub use secrets::FileSecretStore;
pub use speech::{EngineStore, WhisperEngine};
pub use store::{ClaimedJob, QueueCounts, SqliteStore};
pub use transcriber::{LocalSpeech, NoSpeechEngine};
