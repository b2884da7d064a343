//! The secrets directory and every secret file format, in one module.
//!
//! The directory is 0700, its files 0600, each written atomically (a
//! temporary file in the same directory, synced, then renamed), so a crash
//! never leaves half a key. The formats: an IAM access key
//! ([`AccessKeyFile`], `<user>.access-key.json`), a password (a text file of
//! one line, [`SecretsDir::read_secret`]), a private key (PEM text), and
//! the pipeline's database credentials ([`DbCredentials`]). Values are held
//! in [`Secret`], whose `Debug` and `Display` print `<redacted>`, so no log
//! line, error or report can show one; the report names files, not values.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::bad_input;

/// A secret value. Printing it, in any form, shows `<redacted>`; only
/// [`Secret::expose`] gives the value, where it is sent or written.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An IAM user's access key as mk-iam keeps it and mk-config reads it:
/// `{"user": ..., "access_key_id": ..., "secret_access_key": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyFile {
    pub user: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

impl AccessKeyFile {
    /// The file that holds a user's key: `<user>.access-key.json`.
    pub fn file_name(user: &str) -> String {
        format!("{user}.access-key.json")
    }
}

/// A pipeline credentials file (`edxanalytics_creds`, `edxapp_creds`):
/// `{"host": ..., "port": "3306", "username": ..., "password": ...}`. The
/// port is a string, as the pipeline reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbCredentials {
    pub host: String,
    pub port: String,
    pub username: String,
    pub password: Secret,
}

/// `O_NOFOLLOW` for [`std::os::unix::fs::OpenOptionsExt::custom_flags`].
fn nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).expect("O_NOFOLLOW fits an int")
}

/// Refuses a symlink at `path` (bad input); its metadata, `None` when
/// nothing is there.
fn not_a_symlink(path: &Path) -> anyhow::Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(bad_input(format!(
            "{} is a symbolic link: the secrets directory holds only real files (remove it)",
            path.display()
        ))),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Narrows a mode wider than `mode` (with a warning) and warns about a
/// foreign owner.
fn check_owner_and_mode(path: &Path, meta: &fs::Metadata, mode: u32) {
    let have = meta.permissions().mode() & 0o777;
    if have & !mode != 0 {
        match fs::set_permissions(path, fs::Permissions::from_mode(mode)) {
            Ok(()) => tracing::warn!("{} had mode {have:04o}; narrowed to {mode:04o}", path.display()),
            Err(e) => tracing::warn!("{} has mode {have:04o} and could not be narrowed: {e}", path.display()),
        }
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        tracing::warn!(
            "{} is owned by uid {}, not by this user (uid {me}): check who else can change it",
            path.display(),
            meta.uid()
        );
    }
}

/// Parses a secret JSON file. serde's message may quote a value (a
/// secret), so the error says only where the file is wrong.
pub fn parse_json<T: DeserializeOwned>(text: &str, path: &Path, what: &str) -> anyhow::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        bad_input(format!(
            "{} is not {what} (line {}, column {}): fix or remove it",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

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

    /// Reads a file, `None` when it does not exist. A symlink is refused
    /// (bad input: it could plant content or point at another's secret),
    /// and the file is opened with `O_NOFOLLOW`, so one swapped in between
    /// is refused too; a file readable by others is narrowed to 0600 with a
    /// warning, and one owned by another user is a warning.
    pub fn read(&self, name: &str) -> anyhow::Result<Option<String>> {
        let p = self.file(name);
        if not_a_symlink(&p)?.is_none() {
            return Ok(None);
        }
        let file = fs::OpenOptions::new().read(true).custom_flags(nofollow()).open(&p);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        let meta = file.metadata().with_context(|| format!("reading {}", p.display()))?;
        check_owner_and_mode(&p, &meta, 0o600);
        let mut text = String::new();
        file.read_to_string(&mut text).with_context(|| format!("reading {}", p.display()))?;
        Ok(Some(text))
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
        check_owner_and_mode(&self.path, &meta, 0o700);
        Ok(())
    }

    /// Writes a file atomically with mode 0600 and returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> anyhow::Result<PathBuf> {
        self.ensure()?;
        let target = self.file(name);
        not_a_symlink(&target)?;
        // NamedTempFile creates its file 0600 before any byte is written.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.path)
            .with_context(|| format!("creating a file in {}", self.path.display()))?;
        tmp.write_all(contents)?;
        tmp.as_file().sync_all()?;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(0o600))?;
        tmp.persist(&target).with_context(|| format!("writing {}", target.display()))?;
        Ok(target)
    }

    /// Reads a JSON secret file (`what` names its format in errors), `None`
    /// when there is none; a malformed one is bad input.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str, what: &str) -> anyhow::Result<Option<T>> {
        match self.read(name)? {
            None => Ok(None),
            Some(text) => parse_json(&text, &self.file(name), what).map(Some),
        }
    }

    /// Writes a JSON secret file (pretty, with a final newline).
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> anyhow::Result<PathBuf> {
        let mut body = serde_json::to_vec_pretty(value)?;
        body.push(b'\n');
        self.write(name, &body)
    }

    /// Reads a one-line secret (a password), trailing newline removed.
    pub fn read_secret(&self, name: &str) -> anyhow::Result<Option<Secret>> {
        Ok(self.read(name)?.map(|t| Secret::new(t.trim_end_matches(['\r', '\n']))))
    }

    /// Writes a one-line secret: the value alone, no final newline (the
    /// password files' format since the first release; [`read_secret`]
    /// takes either).
    ///
    /// [`read_secret`]: SecretsDir::read_secret
    pub fn write_secret(&self, name: &str, secret: &Secret) -> anyhow::Result<PathBuf> {
        self.write(name, secret.expose().as_bytes())
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
    fn symlinks_are_refused_and_loose_modes_narrowed() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path().join("s"));
        dir.ensure().unwrap();
        let planted = t.path().join("planted");
        fs::write(&planted, "attacker's content").unwrap();
        std::os::unix::fs::symlink(&planted, dir.file("pw")).unwrap();
        let e = dir.read_secret("pw").unwrap_err();
        assert_eq!(crate::error::exit_status(&e), 2, "{e:#}");
        assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
        let e = dir.write_secret("pw", &Secret::new("x")).unwrap_err();
        assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
        assert_eq!(fs::read_to_string(&planted).unwrap(), "attacker's content", "never written through");
        fs::remove_file(dir.file("pw")).unwrap();
        fs::write(dir.file("loose"), "x").unwrap();
        fs::set_permissions(dir.file("loose"), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(dir.read_secret("loose").unwrap().unwrap().expose(), "x");
        assert_eq!(fs::metadata(dir.file("loose")).unwrap().permissions().mode() & 0o777, 0o600);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        dir.ensure().unwrap();
        assert_eq!(fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
    }

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
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        let k = AccessKeyFile { user: "u".into(), access_key_id: "AKIA1".into(), secret_access_key: s.clone() };
        assert!(!format!("{k:?}").contains("hunter2"));
        let c = DbCredentials { host: "h".into(), port: "3306".into(), username: "a".into(), password: s };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn formats_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path().join("s"));
        let k = AccessKeyFile { user: "u".into(), access_key_id: "AKIA1".into(), secret_access_key: Secret::new("x") };
        let p = dir.write_json(&AccessKeyFile::file_name("u"), &k).unwrap();
        let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"user": "u", "access_key_id": "AKIA1", "secret_access_key": "x"}));
        assert_eq!(dir.read_json::<AccessKeyFile>("u.access-key.json", "an access key file").unwrap(), Some(k));
        dir.write_secret("pw", &Secret::new("p'a\"ss")).unwrap();
        assert_eq!(fs::read_to_string(dir.file("pw")).unwrap(), "p'a\"ss", "the value alone");
        assert_eq!(dir.read_secret("pw").unwrap().unwrap().expose(), "p'a\"ss");
        fs::write(dir.file("pw"), "typed by hand\n").unwrap();
        assert_eq!(
            dir.read_secret("pw").unwrap().unwrap().expose(),
            "typed by hand",
            "a final newline is not part of it"
        );
        assert_eq!(dir.read_secret("none").unwrap(), None);
        fs::write(dir.file("bad.json"), r#"{"user": "u", "access_key_id": 1, "secret_access_key": "leaked"}"#).unwrap();
        let e = dir.read_json::<AccessKeyFile>("bad.json", "an access key file").unwrap_err();
        assert_eq!(crate::error::exit_status(&e), 2);
        assert!(e.to_string().contains("is not an access key file (line 1"), "{e}");
        assert!(!e.to_string().contains("leaked"));
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
