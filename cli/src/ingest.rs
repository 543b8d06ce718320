//! `leadscore ingest`: files and folders through the pipeline, with progress.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use shared::local::{self, LocalApp};

use crate::output;
use crate::{drain, emit, progress};

pub(crate) async fn ingest(app: &LocalApp, paths: Vec<PathBuf>) -> Result<()> {
    let mut files = Vec::new();
    for p in &paths {
        if p.is_dir() {
            for entry in
                std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))?
            {
                let path = entry?.path();
                if path.is_file() {
                    files.push(path);
                }
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            bail!("{} is neither a file nor a folder", p.display());
        }
    }
    let groups = local::group_files(files);
    let bar = progress(groups.len() as u64, "ingesting");
    let mut tally = output::Tally::default();
    for group in &groups {
        let outcome = local::ingest_group(&app.deps, &app.deps.config.tenant, group).await;
        let lines: String = outcome
            .results
            .iter()
            .map(|r| output::file_line(r) + "\n")
            .collect();
        bar.suspend(|| emit(&lines))?;
        tally.add(&outcome);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let scored = drain(app).await?;
    emit(&format!("{}\n", tally.summary(scored)))?;
    for (job, err) in app.store.dead_jobs().await? {
        eprintln!("  failed {}: {err}", job.key());
    }
    if tally.errors.is_empty() {
        Ok(())
    } else {
        bail!("{} file(s) could not be ingested", tally.errors.len())
    }
}
