//! The secrets directory: 0700, its files 0600, each written atomically
//! (a temporary file in the same directory, synced, then renamed), so a
//! crash never leaves half a key. Secret values never go to stdout,
//! stderr or logs; the report names files, not values.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Secrets")]
pub struct SecretsArgs {
    /// Where keys and passwords are written (default ./secrets/<client>)
    #[arg(long, env = "ANALYTICS_SECRETS_DIR", value_name = "DIR", help_heading = "Secrets")]
    pub secrets_dir: Option<PathBuf>,
}

impl SecretsArgs {
    /// The secrets directory for `client`. A path that exists and is not a
    /// directory is bad input, found before any call.
    pub fn dir(&self, client: &str) -> anyhow::Result<SecretsDir> {
        let path = self.secrets_dir.clone().unwrap_or_else(|| Path::new("secrets").join(client));
        if path.exists() && !path.is_dir() {
            return Err(crate::error::bad_input(format!(
                "secrets directory {} exists and is not a directory",
                path.display()
            )));
        }
        Ok(SecretsDir { path })
    }
}

#[derive(Debug, Clone)]
pub struct SecretsDir {
    path: PathBuf,
}

impl SecretsDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SecretsDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Reads a file, `None` when it does not exist.
    pub fn read(&self, name: &str) -> anyhow::Result<Option<String>> {
        let p = self.file(name);
        match fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    /// Creates the directory (0700) if needed, and narrows a wider mode.
    pub fn ensure(&self) -> anyhow::Result<()> {
        if !self.path.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.path)
                .with_context(|| format!("creating secrets directory {}", self.path.display()))?;
        }
        let meta = fs::metadata(&self.path).with_context(|| format!("reading {}", self.path.display()))?;
        if meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("setting mode 0700 on {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Writes a file atomically with mode 0600 and returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> anyhow::Result<PathBuf> {
        self.ensure()?;
        let target = self.file(name);
        // NamedTempFile creates its file 0600 before any byte is written.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.path)
            .with_context(|| format!("creating a file in {}", self.path.display()))?;
        tmp.write_all(contents)?;
        tmp.as_file().sync_all()?;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(0o600))?;
        tmp.persist(&target).with_context(|| format!("writing {}", target.display()))?;
        Ok(target)
    }

    /// Removes a file; a missing one is fine.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        match fs::remove_file(self.file(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", self.file(name).display()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_atomic_write() {
        let t = tempfile::tempdir().unwrap();
        let s = SecretsDir::new(t.path().join("secrets/acme"));
        assert_eq!(s.read("k").unwrap(), None);
        let p = s.write("k", b"one").unwrap();
        s.write("k", b"two").unwrap();
        assert_eq!(s.read("k").unwrap().as_deref(), Some("two"));
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(s.path()).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(s.path()).unwrap().count(), 1, "no temporary file left");
        s.remove("k").unwrap();
        s.remove("k").unwrap();
    }

    #[test]
    fn a_file_is_not_a_secrets_directory() {
        let t = tempfile::NamedTempFile::new().unwrap();
        let args = SecretsArgs { secrets_dir: Some(t.path().to_path_buf()) };
        let e = args.dir("acme").unwrap_err();
        assert_eq!(crate::error::exit_status(&e), 2);
        assert!(e.to_string().contains("is not a directory"), "{e}");
        let d = tempfile::tempdir().unwrap();
        assert!(SecretsArgs { secrets_dir: Some(d.path().to_path_buf()) }.dir("acme").is_ok());
    }

    #[test]
    fn narrows_a_wide_directory() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
        SecretsDir::new(t.path()).ensure().unwrap();
        assert_eq!(fs::metadata(t.path()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
