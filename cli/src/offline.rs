//! Commands that store nothing: `sentiment` (a score per line) and `analyze` (one transcript).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::emit;
use crate::output;

/// `leadscore sentiment`: a compound score per line of standard input.
pub(crate) fn sentiment() -> Result<()> {
    use std::io::{BufRead, BufWriter, Write};
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let bytes = line?;
        let text = shared::formats::decode_text(&bytes);
        let score = shared::analysis::compound(text.trim_end_matches('\r'));
        if let Err(e) = writeln!(out, "{score:.4}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `leadscore analyze FILE`: the analysis of one transcript, without storing anything.
pub(crate) fn analyze(
    file: &Path,
    json: bool,
    direction: &str,
    agent: Option<&str>,
    tracked: &[String],
    topics: &[shared::analysis::topics::Topic],
) -> Result<()> {
    let direction = match direction.to_ascii_lowercase().as_str() {
        "inbound" | "in" => shared::domain::Direction::Inbound,
        "outbound" | "out" => shared::domain::Direction::Outbound,
        other => bail!("`{other}` is not a direction: use inbound or outbound"),
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = match shared::formats::classify(&name, &bytes)?.kind {
        shared::formats::FileKind::Transcript(f) => f,
        shared::formats::FileKind::Audio => bail!("{name} is audio: analyze takes a transcript"),
        shared::formats::FileKind::Sidecar => bail!("{name} is call metadata, not a transcript"),
    };
    let transcript = shared::formats::parse_transcript(format, &bytes)
        .with_context(|| format!("cannot read {name}"))?;
    let vocabulary = shared::analysis::topics::Vocabulary::new(tracked, topics);
    let hints = shared::analysis::Hints {
        agent,
        direction,
        vocabulary: &vocabulary,
    };
    let analysis = shared::analysis::analyze_with(&transcript, &hints);
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&analysis)?))
    } else {
        emit(&output::analysis(&name, &transcript, &analysis))
    }
}
