use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use tracing::instrument;

use crate::error::{Error, Result};
use crate::ports::{BlobInfo, BlobStore};

/// Blobs as files under a root folder, in place of the S3 bucket. Writes are atomic (a temp
/// file renamed into place after fsync), so a crash never leaves half a file under a key.
/// Clones share their deferred syncs.
#[derive(Debug, Clone)]
pub struct FileBlobStore {
    root: PathBuf,
    /// While deferring (a group commit is open): the files written since the last
    /// [`sync_deferred`](Self::sync_deferred), whose fsync that call makes.
    deferred: Arc<Mutex<Option<Vec<PathBuf>>>>,
}

impl FileBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            deferred: Arc::default(),
        }
    }

    /// Write without syncing until [`sync_deferred`](Self::sync_deferred): a group commit
    /// syncs its blobs together, before the rows that name them are committed.
    pub fn defer_syncs(&self) {
        let mut d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        d.get_or_insert_with(Vec::new);
    }

    /// Sync every file written since deferring began, and write synced again from now on.
    pub async fn sync_deferred(&self) -> Result<()> {
        let files = self
            .deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        if files.is_empty() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || -> Result<()> {
            for path in files {
                match std::fs::File::open(&path) {
                    Ok(f) => f.sync_all()?,
                    // Written, then replaced or deleted by a later write in the same group.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::from(e).context(path.display())),
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::internal("blob sync task failed", e))?
    }

    /// The path for a key; keys are relative paths of plain components.
    fn path(&self, key: &str) -> Result<PathBuf> {
        let rel = Path::new(key);
        let plain = !key.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(Error::validation(format!(
                "`{key}` is not a valid blob key"
            )));
        }
        Ok(self.root.join(rel))
    }
}

#[async_trait]
impl BlobStore for FileBlobStore {
    #[instrument(name = "files.put", level = "debug", skip_all, fields(key = %key, bytes = bytes.len()))]
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let bytes = bytes.to_vec();
        let deferred = self.deferred.clone();
        let defer = deferred.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let dir = path.parent().expect("a key has a parent under the root");
            std::fs::create_dir_all(dir)?;
            // A temp name of its own per write: concurrent writers of one key never share one.
            static WRITES: AtomicU64 = AtomicU64::new(0);
            let n = WRITES.fetch_add(1, Ordering::Relaxed);
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            let tmp = dir.join(format!(".{file}.tmp-{}-{n}", std::process::id()));
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&bytes)?;
                if !defer {
                    f.sync_all()?;
                }
            }
            std::fs::rename(&tmp, &path)?;
            if defer {
                let mut deferred = deferred.lock().unwrap_or_else(|p| p.into_inner());
                match deferred.as_mut() {
                    Some(files) => files.push(path),
                    // The group was synced while this was written: sync it now.
                    None => std::fs::File::open(&path)?.sync_all()?,
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::internal("blob write task failed", e))?
    }

    #[instrument(name = "files.get", level = "debug", skip_all, fields(key = %key))]
    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::not_found(format!("blob `{key}`")))
            }
            Err(e) => Err(e.into()),
        }
    }

    #[instrument(name = "files.list", level = "debug", skip_all, fields(prefix = %prefix))]
    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>> {
        // The folder the prefix ends in, then the names in it that go on with the prefix.
        let (dir_key, name_start) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let dir = if dir_key.is_empty() {
            self.root.clone()
        } else {
            self.path(dir_key)?
        };
        let mut found = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata().await?;
            if !meta.is_file() || !name.starts_with(name_start) || name.starts_with('.') {
                continue;
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            found.push(BlobInfo {
                key: if dir_key.is_empty() {
                    name
                } else {
                    format!("{dir_key}/{name}")
                },
                size: meta.len(),
                fingerprint: format!("{}-{modified}", meta.len()),
            });
            if found.len() == 1000 {
                break;
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    #[instrument(name = "files.delete", level = "debug", skip_all, fields(key = %key))]
    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_key_safety() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::new(dir.path());
        store.put("recordings/t/a.vtt", b"WEBVTT").await.unwrap();
        assert_eq!(store.get("recordings/t/a.vtt").await.unwrap(), b"WEBVTT");
        assert!(matches!(
            store.get("recordings/t/b.vtt").await,
            Err(Error::NotFound(_))
        ));
        // Concurrent writes of one key all succeed, and one of them wins whole.
        let writes = (0..16u8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put("k/same", &[i; 4096]).await })
        });
        for w in writes.collect::<Vec<_>>() {
            w.await.unwrap().unwrap();
        }
        let got = store.get("k/same").await.unwrap();
        assert!(got.len() == 4096 && got.iter().all(|b| *b == got[0]));
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(
                matches!(store.put(bad, b"x").await, Err(Error::Validation(_))),
                "{bad}"
            );
        }
    }
}
