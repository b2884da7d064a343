//! The access key files in the secrets directory, through
//! `common::secrets`: the key itself ([`AccessKeyFile`],
//! `<user>.access-key.json`) and the pending marker a run writes just
//! before it makes one ([`PendingKey`], `<user>.access-key.pending.json`).
//! A file that cannot be read as such, or that names another user, is bad
//! input: the operator fixes or removes it, the tool never guesses.

use std::path::PathBuf;

use common::SecretsDir;
use common::error::bad_input;
use common::secrets::AccessKeyFile;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::names::Names;

/// The pending marker of a user's key: `<user>.access-key.pending.json`.
pub fn pending_file_name(user: &str) -> String {
    format!("{user}.access-key.pending.json")
}

/// Reads a JSON file of `user` from the secrets directory, `None` when
/// there is none (a bad file, or one of another user, is bad input).
fn read_user_file<T: DeserializeOwned>(
    dir: &SecretsDir,
    name: &str,
    what: &str,
    user: &str,
    user_of: impl Fn(&T) -> &str,
) -> anyhow::Result<Option<T>> {
    let Some(value) = dir.read_json::<T>(name, what)? else { return Ok(None) };
    let of = user_of(&value);
    if of != user {
        let path = dir.file(name);
        return Err(bad_input(format!("{} is {what} of user {of:?}, not {user:?}: fix or remove it", path.display())));
    }
    Ok(Some(value))
}

/// The id of the key stored for `user`, if any (a bad file is bad input).
pub fn stored_key_id(dir: &SecretsDir, user: &str) -> anyhow::Result<Option<String>> {
    let name = AccessKeyFile::file_name(user);
    let key = read_user_file(dir, &name, "an access key file", user, |k: &AccessKeyFile| &k.user)?;
    Ok(key.map(|k| k.access_key_id))
}

/// Stores a new key (0600, atomically) and returns the file's path.
pub fn store(dir: &SecretsDir, key: &AccessKeyFile) -> anyhow::Result<PathBuf> {
    dir.write_json(&AccessKeyFile::file_name(&key.user), key)
}

/// Written (0600, atomically) just before CreateAccessKey and removed once
/// the new key's secret is stored. A later run that finds it knows the run
/// that wrote it stopped in between: a key of the user that is not listed
/// here and is not the stored one was made by that run, and its secret,
/// which AWS shows only in CreateAccessKey's answer, went with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingKey {
    pub user: String,
    /// The ids of the user's keys just before the call.
    pub keys_before: Vec<String>,
}

/// The key ids listed by `user`'s pending marker, when there is one (a
/// bad marker is bad input).
pub fn pending_keys(dir: &SecretsDir, user: &str) -> anyhow::Result<Option<Vec<String>>> {
    let marker =
        read_user_file(dir, &pending_file_name(user), "a pending access key marker", user, |p: &PendingKey| &p.user)?;
    Ok(marker.map(|p| p.keys_before))
}

/// Writes `user`'s pending marker: the keys it has before a CreateAccessKey.
pub fn mark_pending(dir: &SecretsDir, user: &str, keys_before: &[String]) -> anyhow::Result<PathBuf> {
    let marker = PendingKey { user: user.to_owned(), keys_before: keys_before.to_vec() };
    dir.write_json(&pending_file_name(user), &marker)
}

/// Removes `user`'s pending marker; a missing one is fine.
pub fn clear_pending(dir: &SecretsDir, user: &str) -> anyhow::Result<()> {
    dir.remove(&pending_file_name(user))
}

/// What the secrets directory holds of each user's keys, in the order of
/// [`Names::users`]: the stored key's id, and a pending marker's list.
pub type StoredKeys = (Vec<Option<String>>, Vec<Option<Vec<String>>>);

/// Reads every user's key file and marker (before any AWS call: a bad one
/// is bad input).
pub fn read_all(dir: &SecretsDir, names: &Names) -> anyhow::Result<StoredKeys> {
    let stored = names.users.iter().map(|(_, user)| stored_key_id(dir, user)).collect::<anyhow::Result<Vec<_>>>()?;
    let pending = names.users.iter().map(|(_, user)| pending_keys(dir, user)).collect::<anyhow::Result<Vec<_>>>()?;
    Ok((stored, pending))
}

#[cfg(test)]
mod tests {
    use common::secrets::Secret;

    use super::*;

    #[test]
    fn stored_file_round_trip_and_checks() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path().join("s"));
        assert_eq!(stored_key_id(&dir, "u").unwrap(), None);
        let k =
            AccessKeyFile { user: "u".into(), access_key_id: "AKIA1".into(), secret_access_key: Secret::new("s3cr3t") };
        assert!(!format!("{k:?}").contains("s3cr3t"));
        let path = store(&dir, &k).unwrap();
        assert!(path.ends_with("u.access-key.json"));
        assert_eq!(stored_key_id(&dir, "u").unwrap().as_deref(), Some("AKIA1"));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"user": "u", "access_key_id": "AKIA1", "secret_access_key": "s3cr3t"}));
        // Byte for byte as mk-iam has always written it.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"user\": \"u\",\n  \"access_key_id\": \"AKIA1\",\n  \"secret_access_key\": \"s3cr3t\"\n}\n"
        );
        dir.write(&AccessKeyFile::file_name("v"), br#"{"user": "u", "access_key_id": "A", "secret_access_key": "x"}"#)
            .unwrap();
        assert_eq!(common::error::exit_status(&stored_key_id(&dir, "v").unwrap_err()), 2);
        dir.write(&AccessKeyFile::file_name("w"), b"garbage").unwrap();
        let e = stored_key_id(&dir, "w").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        // A field of its own (a note by hand) does not make it unreadable.
        dir.write(
            &AccessKeyFile::file_name("x"),
            br#"{"user": "x", "access_key_id": "AKIA2", "secret_access_key": "y", "note": "ops"}"#,
        )
        .unwrap();
        assert_eq!(stored_key_id(&dir, "x").unwrap().as_deref(), Some("AKIA2"));
    }

    #[test]
    fn pending_marker_round_trip_and_checks() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path().join("s"));
        assert_eq!(pending_keys(&dir, "u").unwrap(), None);
        let path = mark_pending(&dir, "u", &["AK1".to_owned()]).unwrap();
        assert!(path.ends_with("u.access-key.pending.json"));
        assert!(!path.to_string_lossy().ends_with(".access-key.json"), "not taken for a key file");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(pending_keys(&dir, "u").unwrap(), Some(vec!["AK1".to_owned()]));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"user": "u", "keys_before": ["AK1"]}));
        clear_pending(&dir, "u").unwrap();
        clear_pending(&dir, "u").unwrap();
        assert_eq!(pending_keys(&dir, "u").unwrap(), None);
        dir.write(&pending_file_name("v"), br#"{"user": "u", "keys_before": []}"#).unwrap();
        let e = pending_keys(&dir, "v").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("fix or remove it"), "{e}");
        dir.write(&pending_file_name("w"), b"{").unwrap();
        assert_eq!(common::error::exit_status(&pending_keys(&dir, "w").unwrap_err()), 2);
    }
}
