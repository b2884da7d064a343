//! Access keys: the file each one is kept in, and when a user gets a new
//! one. The rules (SPEC section 2):
//!
//! - a user gets a new key only when the secrets directory has none for it
//!   that is still active on AWS;
//! - a key whose secret was lost (active on AWS, not in the directory) is
//!   never silently replaced: the run says so, and `--rotate-keys` replaces
//!   it;
//! - `--rotate-keys` creates a new key, stores it, then deletes the old
//!   ones; AWS allows two keys per user, so when there are two already the
//!   least useful one goes first.
//!
//! The planning is pure; reading and writing the file is the only I/O here.

use std::path::PathBuf;

use common::error::bad_input;
use common::{Action, SecretsDir};
use serde::{Deserialize, Serialize};

/// The file that holds a user's key: `<user>.access-key.json`.
pub fn file_name(user: &str) -> String {
    format!("{user}.access-key.json")
}

/// A key and its secret as kept in the secrets directory.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub user: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

// Never print the secret, even in a debug log.
impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("user", &self.user)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The id of the key stored for `user`, if any. A file that cannot be
/// read as a key of this user is bad input: the operator fixes or removes
/// it, the tool never guesses.
pub fn stored_key_id(dir: &SecretsDir, user: &str) -> anyhow::Result<Option<String>> {
    let name = file_name(user);
    let Some(text) = dir.read(&name)? else { return Ok(None) };
    let path = dir.file(&name);
    // serde's message may quote a value (the secret): show only where.
    let key: StoredKey = serde_json::from_str(&text).map_err(|e| {
        bad_input(format!(
            "{} is not an access key file (line {}, column {}): fix or remove it",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    if key.user != user {
        return Err(bad_input(format!(
            "{} holds a key of user {:?}, not {user:?}: fix or remove it",
            path.display(),
            key.user
        )));
    }
    Ok(Some(key.access_key_id))
}

/// Stores a new key (0600, atomically) and returns the file's path.
pub fn store(dir: &SecretsDir, key: &StoredKey) -> anyhow::Result<PathBuf> {
    let mut body = serde_json::to_vec_pretty(key)?;
    body.push(b'\n');
    dir.write(&file_name(&key.user), &body)
}

/// A key as ListAccessKeys shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsKey {
    pub id: String,
    pub active: bool,
    /// Seconds since the epoch.
    pub created: i64,
}

/// A call on the user's keys, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOp {
    /// Create a key and store it in the secrets directory.
    Create,
    Delete(String),
}

/// What to do with one user's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPlan {
    pub action: Action,
    pub ops: Vec<KeyOp>,
    /// The key in use once the plan is done, when it is known now (a key
    /// still to be created has no id yet).
    pub key_id: Option<String>,
    /// Whether the secrets directory holds (or will hold) that key.
    pub stored: bool,
    pub details: Vec<String>,
    /// For the operator, e.g. a lost secret.
    pub warning: Option<String>,
}

fn oldest<'a>(keys: impl Iterator<Item = &'a AwsKey>) -> Option<&'a AwsKey> {
    keys.min_by_key(|k| (k.created, k.id.clone()))
}

/// The key to delete to make room for a new one, when the user has two:
/// the oldest inactive one, else the oldest the directory does not know.
fn make_room(aws: &[AwsKey], stored: Option<&str>) -> Option<String> {
    if aws.len() < 2 {
        return None;
    }
    oldest(aws.iter().filter(|k| !k.active))
        .or_else(|| oldest(aws.iter().filter(|k| Some(k.id.as_str()) != stored)))
        .or_else(|| oldest(aws.iter()))
        .map(|k| k.id.clone())
}

/// Plans one user's keys. `aws` is what ListAccessKeys shows (empty for a
/// user still to be created), `stored` the id in the secrets directory.
pub fn plan(user: &str, aws: &[AwsKey], stored: Option<&str>, rotate: bool) -> KeyPlan {
    let usable = stored.filter(|id| aws.iter().any(|k| k.id == *id && k.active));
    let unchanged = |key_id: &str, stored: bool, warning| KeyPlan {
        action: Action::Unchanged,
        ops: vec![],
        key_id: Some(key_id.to_owned()),
        stored,
        details: vec![],
        warning,
    };
    if !rotate {
        if let Some(id) = usable {
            return unchanged(id, true, None);
        }
        let active = aws.iter().filter(|k| k.active);
        if let Some(k) = active.max_by_key(|k| (k.created, k.id.clone())) {
            let warning = format!(
                "user {user} has active access key {} but its secret is not in the secrets directory (lost?): \
                 no new key was made; run again with --rotate-keys to replace it",
                k.id
            );
            return unchanged(&k.id, false, Some(warning));
        }
    }
    let mut ops: Vec<KeyOp> = make_room(aws, stored).map(KeyOp::Delete).into_iter().collect();
    let room_made = ops.first().cloned();
    ops.push(KeyOp::Create);
    if rotate {
        // The new key is stored before the old ones go, so a failure in
        // between never leaves the user without a usable key.
        ops.extend(aws.iter().map(|k| KeyOp::Delete(k.id.clone())).filter(|op| Some(op) != room_made.as_ref()));
    }
    let (action, details) =
        if rotate && !aws.is_empty() { (Action::Update, vec!["rotated".to_owned()]) } else { (Action::Create, vec![]) };
    KeyPlan { action, ops, key_id: None, stored: true, details, warning: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, active: bool, created: i64) -> AwsKey {
        AwsKey { id: id.into(), active, created }
    }

    #[test]
    fn stored_and_active_is_unchanged() {
        let p = plan("u", &[key("AK1", true, 1)], Some("AK1"), false);
        assert_eq!(p.action, Action::Unchanged);
        assert!(p.ops.is_empty());
        assert_eq!((p.key_id.as_deref(), p.stored, p.warning), (Some("AK1"), true, None));
    }

    #[test]
    fn no_key_anywhere_creates_one() {
        let p = plan("u", &[], None, false);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create]));
        assert_eq!(p.key_id, None);
    }

    #[test]
    fn active_key_without_secret_warns_and_creates_nothing() {
        let p = plan("u", &[key("AK1", true, 1)], None, false);
        assert_eq!(p.action, Action::Unchanged);
        assert!(p.ops.is_empty(), "a lost secret is never silently replaced");
        assert_eq!(p.key_id.as_deref(), Some("AK1"));
        assert!(!p.stored);
        let w = p.warning.unwrap();
        assert!(w.contains("--rotate-keys") && w.contains("AK1"), "{w}");
        // The file names a key that AWS no longer has, but another is active.
        let p = plan("u", &[key("AK2", true, 2)], Some("AK1"), false);
        assert!(p.ops.is_empty() && p.warning.is_some());
    }

    #[test]
    fn dead_stored_key_is_replaced() {
        let p = plan("u", &[key("AK1", false, 1)], Some("AK1"), false);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create]));
        // Two inactive keys: the oldest goes first to make room.
        let p = plan("u", &[key("AK2", false, 2), key("AK1", false, 1)], Some("AK2"), false);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK1".into()), KeyOp::Create]);
    }

    #[test]
    fn rotate_creates_then_deletes_the_old_keys() {
        let p = plan("u", &[key("AK1", true, 1)], Some("AK1"), true);
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.ops, vec![KeyOp::Create, KeyOp::Delete("AK1".into())]);
        assert_eq!(p.details, ["rotated"]);
        let p = plan("u", &[], None, true);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create]));
    }

    #[test]
    fn rotate_with_two_keys_makes_room_with_the_least_useful() {
        // An inactive key goes first, even when newer.
        let p = plan("u", &[key("AK1", true, 1), key("AK2", false, 2)], Some("AK1"), true);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK2".into()), KeyOp::Create, KeyOp::Delete("AK1".into())]);
        // Both active: the one the directory does not know.
        let p = plan("u", &[key("AK1", true, 1), key("AK2", true, 2)], Some("AK1"), true);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK2".into()), KeyOp::Create, KeyOp::Delete("AK1".into())]);
        // Lost secret, two active keys: the oldest.
        let p = plan("u", &[key("AK2", true, 2), key("AK1", true, 1)], None, true);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK1".into()), KeyOp::Create, KeyOp::Delete("AK2".into())]);
    }

    #[test]
    fn stored_file_round_trip_and_checks() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path().join("s"));
        assert_eq!(stored_key_id(&dir, "u").unwrap(), None);
        let k = StoredKey { user: "u".into(), access_key_id: "AKIA1".into(), secret_access_key: "s3cr3t".into() };
        assert!(!format!("{k:?}").contains("s3cr3t"));
        let path = store(&dir, &k).unwrap();
        assert!(path.ends_with("u.access-key.json"));
        assert_eq!(stored_key_id(&dir, "u").unwrap().as_deref(), Some("AKIA1"));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"user": "u", "access_key_id": "AKIA1", "secret_access_key": "s3cr3t"}));
        dir.write(&file_name("v"), br#"{"user": "u", "access_key_id": "A", "secret_access_key": "x"}"#).unwrap();
        assert_eq!(common::error::exit_status(&stored_key_id(&dir, "v").unwrap_err()), 2);
        dir.write(&file_name("w"), b"garbage").unwrap();
        let e = stored_key_id(&dir, "w").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
    }
}
