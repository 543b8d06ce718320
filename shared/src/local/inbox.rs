//! The inbox: a folder watched the way the bucket is. Files are grouped by stem (`x.wav`,
//! `x.vtt` and `x.meta.json` are one call), taken once they have stopped changing, ingested,
//! and removed; a file that cannot be ingested moves to `rejected/` with the reason beside it.
//! Files left in the inbox by a crash are picked up on the next start (ingest is idempotent).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use tracing::{info, warn};

use super::LocalApp;
use crate::Deps;
use crate::analysis::redact::redact;
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::formats::{self, FileKind};
use crate::handlers::ingest::{self, FileDrop, IngestReport};

/// The files that arrived under one stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropGroup {
    pub stem: String,
    pub files: Vec<PathBuf>,
}

/// What became of one file.
#[derive(Debug)]
pub struct GroupResult {
    pub path: PathBuf,
    pub result: Result<IngestReport>,
}

/// Skip hidden files and files still being written by common tools.
fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || [".tmp", ".part", ".crdownload", ".error.txt"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Group paths by stem, keeping the order of stems stable.
pub fn group_files(paths: impl IntoIterator<Item = PathBuf>) -> Vec<DropGroup> {
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for p in paths {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if ignored(name) {
            continue;
        }
        let stem = p
            .with_file_name(formats::stem(name))
            .to_string_lossy()
            .into_owned();
        groups.entry(stem).or_default().push(p);
    }
    groups
        .into_iter()
        .map(|(stem, mut files)| {
            files.sort();
            let stem = Path::new(&stem)
                .file_name()
                .map_or(stem.clone(), |n| n.to_string_lossy().into_owned());
            DropGroup { stem, files }
        })
        .collect()
}

/// What became of a group: each recording or transcript, and the sidecar that went with them.
#[derive(Debug)]
pub struct GroupOutcome {
    pub results: Vec<GroupResult>,
    pub sidecar: Option<PathBuf>,
}

impl GroupOutcome {
    /// Whether every file of the group was taken in.
    pub fn all_ok(&self) -> bool {
        self.results.iter().all(|r| r.result.is_ok())
    }
}

/// Ingest one group: its sidecar (if any) goes with each recording or transcript in it. Audio
/// goes first, so that a transcript arriving with it finds the call waiting.
pub async fn ingest_group(deps: &Deps, tenant: &TenantId, group: &DropGroup) -> GroupOutcome {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // (path, content, kind): each file read and classified once.
    let mut contents = Vec::new();
    let mut results = Vec::new();
    for path in &group.files {
        // A transcript or sidecar too large to take is refused by its size, unread.
        let size = tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if !formats::is_audio(&name(path))
            && let Err(e) = formats::check_transcript_size(&format!("`{}`", name(path)), size)
        {
            results.push(GroupResult {
                path: path.clone(),
                result: Err(e),
            });
            continue;
        }
        match tokio::fs::read(path).await {
            Ok(bytes) => {
                let kind = formats::classify(&name(path), &bytes).ok().map(|c| c.kind);
                contents.push((path.clone(), bytes, kind));
            }
            Err(e) => results.push(GroupResult {
                path: path.clone(),
                result: Err(Error::from(e).context(path.display())),
            }),
        }
    }
    let sidecar = contents
        .iter()
        .position(|(_, _, k)| *k == Some(FileKind::Sidecar))
        .map(|i| contents.remove(i))
        .map(|(p, b, _)| (p, b));
    if contents.is_empty()
        && let Some((path, bytes)) = sidecar
    {
        // A sidecar alone: ingest reports why that is not a call.
        let drop = FileDrop {
            tenant: tenant.clone(),
            file_name: name(&path),
            content: bytes,
            sidecar: None,
            received_at: Utc::now(),
        };
        results.push(GroupResult {
            path,
            result: ingest::ingest_file(deps, drop).await,
        });
        return GroupOutcome {
            results,
            sidecar: None,
        };
    }
    contents.sort_by_key(|(_, _, k)| *k != Some(FileKind::Audio));
    for (path, bytes, _) in contents {
        let drop = FileDrop {
            tenant: tenant.clone(),
            file_name: name(&path),
            content: bytes,
            sidecar: sidecar.as_ref().map(|(p, b)| (name(p), b.clone())),
            received_at: Utc::now(),
        };
        results.push(GroupResult {
            path,
            result: ingest::ingest_file(deps, drop).await,
        });
    }
    GroupOutcome {
        results,
        sidecar: sidecar.map(|(p, _)| p),
    }
}

/// `dir/name`, or `dir/<stem> (2).<ext>`, `(3)`, ... when a file (or its note) is there: a
/// second rejection under one name keeps the first.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let taken = |p: &Path| {
        let mut note = p.as_os_str().to_owned();
        note.push(".error.txt");
        p.symlink_metadata().is_ok() || Path::new(&note).exists()
    };
    let first = dir.join(name);
    if !taken(&first) {
        return first;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !taken(p))
        .expect("a free name")
}

/// Watches `DIR/inbox`.
pub struct Inbox {
    app: LocalApp,
    /// How long a lone sidecar waits for its recording or transcript before it is rejected.
    pub sidecar_grace: Duration,
    pub poll: Duration,
}

impl Inbox {
    pub fn new(app: LocalApp) -> Self {
        Self {
            sidecar_grace: app.deps.config.metadata_wait,
            app,
            poll: Duration::from_millis(500),
        }
    }

    /// Files in the inbox with their size and modification time. What is not a plain file
    /// with a readable name (a link, a folder, a FIFO or socket, a name that is not UTF-8) is
    /// moved to `rejected/` with the reason, once, and never opened: a link is moved as a link,
    /// never followed out of the inbox.
    fn list(&self) -> Result<HashMap<PathBuf, (u64, Option<SystemTime>)>> {
        let mut out = HashMap::new();
        for entry in std::fs::read_dir(self.app.inbox_dir())? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            // `DirEntry::metadata` does not follow links.
            let meta = entry.metadata()?;
            let kind = meta.file_type();
            let unusable = match name.to_str() {
                None => Some("its name is not UTF-8 text; rename it and drop it again"),
                Some(n) if ignored(n) => continue,
                Some(_) if kind.is_symlink() => Some(
                    "it is a symbolic link; links are not followed out of the inbox: copy the \
                     file itself in",
                ),
                Some(_) if kind.is_dir() => {
                    Some("it is a folder; folders are not read: drop the files themselves")
                }
                Some(_) if !kind.is_file() => {
                    Some("it is not a regular file (a FIFO, socket or device); only files are read")
                }
                Some(_) => None,
            };
            match unusable {
                Some(why) => {
                    warn!(file = %redact(&name.to_string_lossy()), why, "inbox entry moved aside");
                    self.reject(&path, why)?;
                }
                None => {
                    out.insert(path, (meta.len(), meta.modified().ok()));
                }
            }
        }
        Ok(out)
    }

    /// Ingest everything in the inbox now, whether or not it has settled (for callers that
    /// put the files there themselves). `on_group` hears of each group as it is done.
    pub async fn process_all(
        &self,
        on_group: &mut (dyn FnMut(&GroupOutcome) + Send),
    ) -> Result<usize> {
        let all = self.list()?;
        // The caller put every file there itself: nothing is still on its way.
        self.process_with(&all, false, on_group).await
    }

    /// Ingest every group whose files are all `settled`, and move the files out of the inbox.
    /// Returns how many files were handled.
    pub async fn process(
        &self,
        settled: &HashMap<PathBuf, (u64, Option<SystemTime>)>,
        on_group: &mut (dyn FnMut(&GroupOutcome) + Send),
    ) -> Result<usize> {
        self.process_with(settled, true, on_group).await
    }

    /// `process`, where `wait` says whether a recording or transcript that does not say who
    /// called may still be waiting for its sidecar (a lone sidecar always waits its grace for
    /// its recording).
    async fn process_with(
        &self,
        settled: &HashMap<PathBuf, (u64, Option<SystemTime>)>,
        wait: bool,
        on_group: &mut (dyn FnMut(&GroupOutcome) + Send),
    ) -> Result<usize> {
        let mut done = 0;
        for group in group_files(settled.keys().cloned()) {
            // Which files are call metadata (`x.meta.json`, or an `x.json` that is not a
            // transcript). Only `.json` files are read to tell.
            // A Gong document also says who the lead is itself.
            let region = &self.app.deps.config.default_region;
            let mut embedded: Result<Option<formats::CallMetadata>> = Ok(None);
            let kinds: Vec<Option<FileKind>> = group
                .files
                .iter()
                .map(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    let content = if formats::needs_content(name) {
                        std::fs::read(p).unwrap_or_default()
                    } else {
                        b"-".to_vec()
                    };
                    let kind = formats::classify(name, &content).ok().map(|c| c.kind);
                    if let Some(FileKind::Transcript(format)) = kind
                        && matches!(embedded, Ok(None))
                    {
                        embedded = formats::embedded_metadata(format, &content, region);
                    }
                    kind
                })
                .collect();
            let sidecars = kinds
                .iter()
                .filter(|k| **k == Some(FileKind::Sidecar))
                .count();
            let lone_sidecar = sidecars == group.files.len();
            // Files that are not a call's at all (an unsupported type, empty) are refused by
            // ingest with their own reason, at once.
            let calls_only = kinds.iter().all(Option::is_some);
            if wait && sidecars == 0 && calls_only {
                // A recording or transcript alone: the one decision the bucket makes too.
                let arrived = group
                    .files
                    .iter()
                    .filter_map(|p| settled[p].1)
                    .max()
                    .map_or_else(Utc::now, chrono::DateTime::<Utc>::from);
                let tenant = &self.app.deps.config.tenant;
                let decided = match embedded {
                    Ok(embedded) => {
                        ingest::arrival(
                            &self.app.deps,
                            tenant,
                            &group.stem,
                            None,
                            embedded,
                            arrived,
                            Utc::now(),
                        )
                        .await
                    }
                    Err(e) => Err(e),
                };
                match decided {
                    Ok(ingest::Arrival::Take) => {}
                    Ok(ingest::Arrival::AwaitMetadata { .. }) => continue,
                    Err(e) if e.is_retryable() => {
                        warn!(error = %redact(&e.report()), "will retry");
                        continue;
                    }
                    Err(e) => {
                        for path in &group.files {
                            done += 1;
                            warn!(file = %redact(&path.display().to_string()), error = %redact(&e.to_string()), "inbox file rejected");
                            self.reject(path, &e.to_string())?;
                        }
                        continue;
                    }
                }
            }
            if lone_sidecar {
                let young = group.files.iter().any(|p| {
                    settled[p]
                        .1
                        .and_then(|m| m.elapsed().ok())
                        .is_none_or(|age| age < self.sidecar_grace)
                });
                if young {
                    continue; // its recording may still be on the way
                }
            }
            let outcome = ingest_group(&self.app.deps, &self.app.deps.config.tenant, &group).await;
            let mut retry_later = false;
            for r in &outcome.results {
                done += 1;
                match &r.result {
                    Ok(report) => {
                        info!(file = %redact(&r.path.display().to_string()), call_id = %report.call.call_id, outcome = ?report.outcome, "inbox file ingested");
                        std::fs::remove_file(&r.path)?;
                    }
                    Err(e) if e.is_retryable() => {
                        retry_later = true;
                        warn!(file = %redact(&r.path.display().to_string()), error = %redact(&e.report()), "will retry");
                    }
                    Err(e) => {
                        warn!(file = %redact(&r.path.display().to_string()), error = %redact(&e.to_string()), "inbox file rejected");
                        self.reject(&r.path, &e.to_string())?;
                    }
                }
            }
            // The sidecar goes with its files: removed when they were taken in, kept beside
            // them in rejected/ when one was not.
            if let Some(sidecar) = &outcome.sidecar {
                if outcome.all_ok() {
                    std::fs::remove_file(sidecar)?;
                } else if !retry_later {
                    self.reject(
                        sidecar,
                        "the recording or transcript it describes was rejected",
                    )?;
                }
            }
            on_group(&outcome);
        }
        Ok(done)
    }

    /// Move `path` (as it is: a link stays a link) to `rejected/` under a name no earlier
    /// rejection holds, with `<name>.error.txt` beside it saying why.
    fn reject(&self, path: &Path, reason: &str) -> Result<()> {
        let dir = self.app.rejected_dir();
        std::fs::create_dir_all(&dir)?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let target = free_name(&dir, &name);
        std::fs::rename(path, &target)?;
        let mut note = target.into_os_string();
        note.push(".error.txt");
        std::fs::write(note, format!("{reason}\n"))?;
        Ok(())
    }

    /// Scan until `stop`. A file is taken when its size and time did not change between two scans.
    pub async fn watch(&self, stop: &mut tokio::sync::watch::Receiver<bool>) {
        let mut previous: HashMap<PathBuf, (u64, Option<SystemTime>)> = HashMap::new();
        while !*stop.borrow() {
            match self.list() {
                Ok(now) => {
                    let settled: HashMap<_, _> = now
                        .iter()
                        .filter(|(p, s)| previous.get(*p) == Some(s))
                        .map(|(p, s)| (p.clone(), *s))
                        .collect();
                    if !settled.is_empty()
                        && let Err(e) = self.process(&settled, &mut |_| {}).await
                    {
                        warn!(error = %e.report(), "inbox scan failed");
                    }
                    previous = now;
                }
                Err(e) => warn!(error = %e.report(), "cannot read the inbox"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
