//! Passwords and the pipeline's credential files (SPEC section 11): what
//! is known of each user's password before planning, a fresh one where one
//! may be needed, the password files, and the `edxanalytics_creds` /
//! `edxapp_creds` JSON ([`DbCredentials`]). Values are held in [`Secret`]:
//! they never reach a log, an error or the report.

use std::path::{Path, PathBuf};

use common::SecretsDir;
use common::error::{bad_input, exit_status};
use common::secrets::{DbCredentials, Secret};
use rand::Rng;

use crate::desired::{Desired, PasswordSource};

/// What is known of one user's password before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordState {
    /// The password we hold: the secrets file (generated users) or the
    /// given file (the migration user).
    pub known: Option<Secret>,
    /// A freshly generated one, for a generated user that needs one.
    pub fresh: Option<Secret>,
}

const LETTERS_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Symbols that need no quoting in YAML, INI, JSON, shell words or URLs.
const SYMBOLS: &[u8] = b"-_.";
pub const GENERATED_LENGTH: usize = 28;

/// A random password: 28 characters of letters, digits and `-_.`, starting
/// with a letter or digit, with at least one upper, lower, digit and symbol
/// (so a server with a password-strength plugin accepts it).
pub fn generate(rng: &mut impl Rng) -> Secret {
    let all: Vec<u8> = [LETTERS_DIGITS, SYMBOLS].concat();
    loop {
        let mut pw = String::with_capacity(GENERATED_LENGTH);
        pw.push(LETTERS_DIGITS[rng.random_range(0..LETTERS_DIGITS.len())] as char);
        for _ in 1..GENERATED_LENGTH {
            pw.push(all[rng.random_range(0..all.len())] as char);
        }
        let has = |f: fn(&char) -> bool| pw.chars().any(|c| f(&c));
        if has(char::is_ascii_uppercase)
            && has(char::is_ascii_lowercase)
            && has(char::is_ascii_digit)
            && has(|c| SYMBOLS.contains(&(*c as u8)))
        {
            return Secret::new(pw);
        }
    }
}

/// Why a password cannot be used, if it cannot.
fn unusable(pw: &str) -> Option<&'static str> {
    if pw.is_empty() {
        Some("it is empty")
    } else if pw.chars().any(char::is_control) {
        Some("it holds a control character (only one trailing newline is allowed)")
    } else {
        None
    }
}

/// A password as kept in a file: one trailing newline is not part of it.
pub fn parse_password(text: &str) -> Result<Secret, &'static str> {
    let pw = text.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(text);
    match unusable(pw) {
        Some(why) => Err(why),
        None => Ok(Secret::new(pw)),
    }
}

/// Reads a password file given on the command line (bad input if it
/// cannot be read); the message names the file, never its content. Such a
/// file is anywhere, not in the secrets directory.
pub fn read_password_file(path: &Path, what: &str) -> anyhow::Result<Secret> {
    let text =
        std::fs::read_to_string(path).map_err(|e| bad_input(format!("cannot read {what} {}: {e}", path.display())))?;
    parse_password(&text).map_err(|why| bad_input(format!("{what} {} is not usable: {why}", path.display())))
}

/// Reads a generated password's file in the secrets directory, `None`
/// when there is none; an unusable one is bad input.
pub fn read_generated(secrets: &SecretsDir, file: &str) -> anyhow::Result<Option<Secret>> {
    let Some(pw) = secrets.read_secret(file).map_err(|e| bad_input(format!("{e:#}")))? else { return Ok(None) };
    match unusable(pw.expose()) {
        Some(why) => Err(bad_input(format!(
            "{} is not usable: {why}; remove it and re-run with --rotate",
            secrets.file(file).display()
        ))),
        None => Ok(Some(pw)),
    }
}

/// Writes a generated password's file (0600, atomically).
pub fn write_generated(secrets: &SecretsDir, file: &str, password: &Secret) -> anyhow::Result<PathBuf> {
    secrets.write_secret(file, password)
}

/// Reads what is known of every user's password, and generates a fresh one
/// for each generated user.
pub fn password_states(desired: &Desired, secrets: &SecretsDir) -> anyhow::Result<Vec<PasswordState>> {
    let mut rng = rand::rng();
    desired
        .users
        .iter()
        .map(|u| match &u.password {
            PasswordSource::Given { path } => Ok(PasswordState {
                known: Some(read_password_file(path, &format!("the password file of {}", u.account))?),
                fresh: None,
            }),
            PasswordSource::Generated { file } => {
                Ok(PasswordState { known: read_generated(secrets, file)?, fresh: Some(generate(&mut rng)) })
            }
        })
        .collect()
}

/// Writes the credentials file unless it already says the same; returns
/// whether it wrote. One that is not a credentials file is rewritten.
pub fn write_creds(secrets: &SecretsDir, name: &str, creds: &DbCredentials) -> anyhow::Result<bool> {
    let current = match secrets.read_json::<DbCredentials>(name, "a credentials file") {
        Ok(c) => c,
        Err(e) if exit_status(&e) == 2 => None,
        Err(e) => return Err(e),
    };
    if current.as_ref() == Some(creds) {
        return Ok(false);
    }
    secrets.write_json(name, creds)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords() {
        let mut rng = rand::rng();
        let a = generate(&mut rng);
        let b = generate(&mut rng);
        assert_ne!(a, b);
        for pw in [a.expose(), b.expose()] {
            assert_eq!(pw.len(), GENERATED_LENGTH);
            assert!(pw.chars().next().unwrap().is_ascii_alphanumeric());
            assert!(pw.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{pw}");
            assert!(pw.chars().any(|c| c.is_ascii_uppercase()) && pw.chars().any(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn password_files_lose_one_trailing_newline() {
        assert_eq!(parse_password("s3cret\n").unwrap().expose(), "s3cret");
        assert_eq!(parse_password("s3cret\r\n").unwrap().expose(), "s3cret");
        assert_eq!(parse_password(" a'b\\ ").unwrap().expose(), " a'b\\ ");
        assert!(parse_password("").is_err());
        assert!(parse_password("\n").is_err());
        assert!(parse_password("a\n\n").is_err());
        assert!(parse_password("a\0b").is_err());
    }

    #[test]
    fn unreadable_given_file_is_bad_input_naming_the_file() {
        let e = read_password_file(Path::new("/nonexistent/pw"), "the admin password file").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("/nonexistent/pw"), "{e}");
    }

    #[test]
    fn generated_password_files_hold_the_password_alone() {
        let t = tempfile::tempdir().unwrap();
        let s = SecretsDir::new(t.path().join("s"));
        assert_eq!(read_generated(&s, "mysql-u.password").unwrap(), None);
        write_generated(&s, "mysql-u.password", &Secret::new("p-1.x")).unwrap();
        assert_eq!(std::fs::read_to_string(s.file("mysql-u.password")).unwrap(), "p-1.x", "no final newline");
        assert_eq!(read_generated(&s, "mysql-u.password").unwrap(), Some(Secret::new("p-1.x")));
        std::fs::write(s.file("mysql-u.password"), "p-1.x\n").unwrap();
        assert_eq!(read_generated(&s, "mysql-u.password").unwrap(), Some(Secret::new("p-1.x")), "by hand");
        std::fs::write(s.file("mysql-u.password"), "\n").unwrap();
        let e = read_generated(&s, "mysql-u.password").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("--rotate"), "{e}");
    }

    #[test]
    fn creds_are_rewritten_only_when_they_differ() {
        let t = tempfile::tempdir().unwrap();
        let s = SecretsDir::new(t.path().join("s"));
        let c =
            DbCredentials { host: "h".into(), port: "3306".into(), username: "u".into(), password: Secret::new("p") };
        assert!(write_creds(&s, "edxanalytics_creds", &c).unwrap());
        assert!(!write_creds(&s, "edxanalytics_creds", &c).unwrap());
        let v: serde_json::Value = serde_json::from_str(&s.read("edxanalytics_creds").unwrap().unwrap()).unwrap();
        assert_eq!(v["port"], "3306");
        let c2 = DbCredentials { password: Secret::new("q"), ..c };
        assert!(write_creds(&s, "edxanalytics_creds", &c2).unwrap());
        std::fs::write(s.file("edxanalytics_creds"), "not json").unwrap();
        assert!(write_creds(&s, "edxanalytics_creds", &c2).unwrap(), "a broken file is rewritten");
    }
}
