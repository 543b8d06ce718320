//! Secrets on the laptop: one file per tenant and secret, `<root>/<tenant>/<name>`, readable
//! and writable by the owner only (files 0600, folders 0700, set when they are created, not
//! after), written atomically (a private temp file, fsync, rename).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use tracing::instrument;

use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::ports::{SecretName, SecretStore};

#[derive(Debug, Clone)]
pub struct FileSecretStore {
    root: PathBuf,
}

impl FileSecretStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, tenant: &TenantId, name: &SecretName) -> PathBuf {
        // Both are validated to plain path components.
        self.root.join(tenant.as_str()).join(name.as_str())
    }
}

/// Create `dir` and any missing parents with mode 0700; an existing folder is narrowed to it.
fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[async_trait]
impl SecretStore for FileSecretStore {
    #[instrument(name = "secrets.get_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn get_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<Option<String>> {
        let path = self.path(tenant, name);
        match tokio::fs::read(&path).await {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                Error::internal(format!("the secret {name} of {tenant} is not text"), e)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    #[instrument(name = "secrets.put_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn put_secret(&self, tenant: &TenantId, name: &SecretName, value: &str) -> Result<()> {
        let root = self.root.clone();
        let path = self.path(tenant, name);
        let value = value.to_owned();
        tokio::task::spawn_blocking(move || -> Result<()> {
            private_dir(&root)?;
            let dir = path.parent().expect("a secret lies in its tenant's folder");
            private_dir(dir)?;
            static WRITES: AtomicU64 = AtomicU64::new(0);
            let n = WRITES.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
            {
                // 0600 from the start: the secret is never readable by others, even briefly.
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(value.as_bytes())?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })
        .await
        .map_err(|e| Error::internal("secret write task failed", e))?
    }

    #[instrument(name = "secrets.delete_secret", level = "debug", skip_all, fields(tenant = %tenant, name = %name))]
    async fn delete_secret(&self, tenant: &TenantId, name: &SecretName) -> Result<()> {
        match tokio::fs::remove_file(self.path(tenant, name)).await {
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
    async fn secrets_are_kept_for_the_owner_alone() {
        // GIVEN a store in a folder
        let dir = tempfile::tempdir().unwrap();
        let store = FileSecretStore::new(dir.path().join("secrets"));
        let acme = TenantId::parse("acme").unwrap();
        let globex = TenantId::parse("globex").unwrap();
        let twilio = SecretName::twilio();
        assert_eq!(store.get_secret(&acme, &twilio).await.unwrap(), None);

        // WHEN a secret is saved, then replaced
        store.put_secret(&acme, &twilio, "first").await.unwrap();
        store.put_secret(&acme, &twilio, "second").await.unwrap();

        // THEN it reads back, for its tenant only, from a 0600 file in 0700 folders
        assert_eq!(
            store.get_secret(&acme, &twilio).await.unwrap().as_deref(),
            Some("second")
        );
        assert_eq!(store.get_secret(&globex, &twilio).await.unwrap(), None);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("secrets")), 0o700);
        assert_eq!(mode(&dir.path().join("secrets/acme")), 0o700);
        assert_eq!(mode(&dir.path().join("secrets/acme/twilio")), 0o600);
        // No temp file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("secrets/acme"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["twilio"]);
    }

    #[test]
    fn secret_names_are_plain() {
        assert!(SecretName::parse("crm-hubspot_2").is_ok());
        for bad in ["", "../x", "Twilio", "a/b", &"x".repeat(65)] {
            assert!(SecretName::parse(bad).is_err(), "{bad}");
        }
    }
}
