//! Local adapters: an embedded SQLite database for leads, calls, rules and the job queue; a
//! folder of files in place of the bucket; and the statement that no speech engine is here.

mod files;
mod store;
mod transcriber;

pub use files::FileBlobStore;
pub use store::{ClaimedJob, QueueCounts, SqliteStore};
pub use transcriber::NoSpeechEngine;
