//! Passwords and the pipeline's credential files (SPEC section 11): what
//! is known of each user's password before planning, a fresh one where one
//! may be needed, and the `edxanalytics_creds` / `edxapp_creds` JSON.
//! Values never reach a log, an error or the report.

use std::path::Path;

use common::SecretsDir;
use common::error::bad_input;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::desired::{Desired, PasswordSource};

/// What is known of one user's password before planning.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PasswordState {
    /// The password we hold: the secrets file (generated users) or the
    /// given file (the migration user).
    pub known: Option<String>,
    /// A freshly generated one, for a generated user that needs one.
    pub fresh: Option<String>,
}

impl std::fmt::Debug for PasswordState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordState")
            .field("known", &self.known.as_ref().map(|_| "<password>"))
            .field("fresh", &self.fresh.as_ref().map(|_| "<password>"))
            .finish()
    }
}

const LETTERS_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Symbols that need no quoting in YAML, INI, JSON, shell words or URLs.
const SYMBOLS: &[u8] = b"-_.";
pub const GENERATED_LENGTH: usize = 28;

/// A random password: 28 characters of letters, digits and `-_.`, starting
/// with a letter or digit, with at least one upper, lower, digit and symbol
/// (so a server with a password-strength plugin accepts it).
pub fn generate(rng: &mut impl Rng) -> String {
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
            return pw;
        }
    }
}

/// A password as kept in a file: one trailing newline is not part of it.
pub fn parse_password(text: &str) -> Result<String, &'static str> {
    let pw = text.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(text);
    if pw.is_empty() {
        return Err("it is empty");
    }
    if pw.chars().any(char::is_control) {
        return Err("it holds a control character (only one trailing newline is allowed)");
    }
    Ok(pw.to_owned())
}

/// Reads a password file given on the command line (bad input if it
/// cannot be read); the message names the file, never its content.
pub fn read_password_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| bad_input(format!("cannot read {what} {}: {e}", path.display())))?;
    parse_password(&text).map_err(|why| bad_input(format!("{what} {} is not usable: {why}", path.display())))
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
                let known = match secrets.read(file).map_err(|e| bad_input(format!("{e:#}")))? {
                    None => None,
                    Some(text) => Some(parse_password(&text).map_err(|why| {
                        bad_input(format!(
                            "{} is not usable: {why}; remove it and re-run with --rotate",
                            secrets.file(file).display()
                        ))
                    })?),
                };
                Ok(PasswordState { known, fresh: Some(generate(&mut rng)) })
            }
        })
        .collect()
}

/// The pipeline's credentials file. The port is a string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creds {
    pub host: String,
    pub port: String,
    pub username: String,
    pub password: String,
}

/// Writes the credentials file unless it already says the same; returns
/// whether it wrote.
pub fn write_creds(secrets: &SecretsDir, name: &str, creds: &Creds) -> anyhow::Result<bool> {
    let current = secrets.read(name)?.and_then(|t| serde_json::from_str::<Creds>(&t).ok());
    if current.as_ref() == Some(creds) {
        return Ok(false);
    }
    let mut text = serde_json::to_string_pretty(creds)?;
    text.push('\n');
    secrets.write(name, text.as_bytes())?;
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
        for pw in [a, b] {
            assert_eq!(pw.len(), GENERATED_LENGTH);
            assert!(pw.chars().next().unwrap().is_ascii_alphanumeric());
            assert!(pw.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{pw}");
            assert!(pw.chars().any(|c| c.is_ascii_uppercase()) && pw.chars().any(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn password_files_lose_one_trailing_newline() {
        assert_eq!(parse_password("s3cret\n").unwrap(), "s3cret");
        assert_eq!(parse_password("s3cret\r\n").unwrap(), "s3cret");
        assert_eq!(parse_password(" a'b\\ ").unwrap(), " a'b\\ ");
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
    fn creds_are_rewritten_only_when_they_differ() {
        let t = tempfile::tempdir().unwrap();
        let s = SecretsDir::new(t.path().join("s"));
        let c = Creds { host: "h".into(), port: "3306".into(), username: "u".into(), password: "p".into() };
        assert!(write_creds(&s, "edxanalytics_creds", &c).unwrap());
        assert!(!write_creds(&s, "edxanalytics_creds", &c).unwrap());
        let v: serde_json::Value = serde_json::from_str(&s.read("edxanalytics_creds").unwrap().unwrap()).unwrap();
        assert_eq!(v["port"], "3306");
        let c2 = Creds { password: "q".into(), ..c };
        assert!(write_creds(&s, "edxanalytics_creds", &c2).unwrap());
    }
}
