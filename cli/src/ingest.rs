//! `leadscore ingest`: files and folders through the pipeline, with progress.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use shared::local::{self, GroupCommit, LocalApp};

use crate::output;
use crate::{drain_in, emit, progress};

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
    // The data folder is this command's alone: many files and jobs share one commit.
    let mut commit = app.group_commit();
    let taken = take(app, &groups, &mut commit).await;
    // What was taken is committed even when taking stopped early (stdout closed, say).
    let committed = commit.commit().await;
    let tally = taken?;
    committed?;
    let scored = drain_in(app, Some(&mut commit)).await?;
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

/// Ingest each group of files, printing a line per file.
async fn take(
    app: &LocalApp,
    groups: &[local::DropGroup],
    commit: &mut GroupCommit,
) -> Result<output::Tally> {
    let bar = progress(groups.len() as u64, "ingesting");
    let mut tally = output::Tally::default();
    for group in groups {
        commit.enter().await?;
        let outcome = local::ingest_group(&app.deps, &app.deps.config.tenant, group).await;
        commit.leave().await?;
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
    Ok(tally)
}
