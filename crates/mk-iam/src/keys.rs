//! Access keys: when a user gets a new one, and which keys go. The rules
//! (SPEC section 2):
//!
//! - a user gets a new key only when the secrets directory has none for it
//!   that is still active on AWS;
//! - a key whose secret was lost (active on AWS, not in the directory) is
//!   never silently replaced: the run says so, and `--rotate-keys` replaces
//!   it;
//! - `--rotate-keys` creates a new key, stores it, then deletes the old
//!   ones; AWS allows two keys per user, so when there are two already the
//!   least useful one goes first;
//! - a key made by a run that stopped before storing its secret (killed
//!   between CreateAccessKey and writing the file) is told apart from a
//!   lost one by the pending marker that run left
//!   ([`crate::keyfile::PendingKey`]): nobody holds its secret, so it is
//!   deleted and the user is planned as if it had never been made.
//!
//! Pure: the files are read and written in [`crate::keyfile`], the keys
//! made in [`crate::new_key`].

use common::{Action, Finding};

use crate::keyfile::pending_file_name;

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
    /// Remove the user's pending marker: its keys are settled.
    ClearPending,
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
    pub warnings: Vec<Finding>,
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
/// user still to be created), `stored` the id in the secrets directory,
/// `pending` the key ids a pending marker lists, when one was found.
pub fn plan(user: &str, aws: &[AwsKey], stored: Option<&str>, pending: Option<&[String]>, rotate: bool) -> KeyPlan {
    let Some(before) = pending else { return plan_known(user, aws, stored, rotate) };
    let (unstored, known): (Vec<AwsKey>, Vec<AwsKey>) =
        aws.iter().cloned().partition(|k| !before.contains(&k.id) && Some(k.id.as_str()) != stored);
    let mut kp = plan_known(user, &known, stored, rotate);
    if !unstored.is_empty() && kp.action == Action::Unchanged {
        kp.action = Action::Update;
    }
    for k in unstored.iter().rev() {
        kp.ops.insert(0, KeyOp::Delete(k.id.clone()));
    }
    kp.details.splice(0..0, unstored.iter().map(|k| format!("unstored key {}", k.id)));
    kp.warnings.splice(
        0..0,
        unstored.iter().map(|k| {
            Finding::warning(format!(
                "access key {} of user {user} was made by an mk-iam run that stopped before storing its secret \
                 (its marker {} is in the secrets directory): nobody holds the secret, so the key is deleted",
                k.id,
                pending_file_name(user)
            ))
            .with_code("unstored-access-key")
            .about(format!("{user}/{}", k.id))
        }),
    );
    kp.ops.push(KeyOp::ClearPending);
    kp
}

/// Plans the keys whose secret is either stored or held by someone else.
fn plan_known(user: &str, aws: &[AwsKey], stored: Option<&str>, rotate: bool) -> KeyPlan {
    let usable = stored.filter(|id| aws.iter().any(|k| k.id == *id && k.active));
    let unchanged = |key_id: &str, stored: bool, warnings| KeyPlan {
        action: Action::Unchanged,
        ops: vec![],
        key_id: Some(key_id.to_owned()),
        stored,
        details: vec![],
        warnings,
    };
    if !rotate {
        if let Some(id) = usable {
            return unchanged(id, true, vec![]);
        }
        let active = aws.iter().filter(|k| k.active);
        if let Some(k) = active.max_by_key(|k| (k.created, k.id.clone())) {
            let warning = Finding::warning(format!(
                "user {user} has active access key {} but its secret is not in the secrets directory (lost?): \
                 no new key was made; run again with --rotate-keys to replace it",
                k.id
            ))
            .with_code("lost-secret")
            .about(format!("{user}/{}", k.id));
            return unchanged(&k.id, false, vec![warning]);
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
    KeyPlan { action, ops, key_id: None, stored: true, details, warnings: vec![] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, active: bool, created: i64) -> AwsKey {
        AwsKey { id: id.into(), active, created }
    }

    #[test]
    fn stored_and_active_is_unchanged() {
        let p = plan("u", &[key("AK1", true, 1)], Some("AK1"), None, false);
        assert_eq!(p.action, Action::Unchanged);
        assert!(p.ops.is_empty());
        assert_eq!((p.key_id.as_deref(), p.stored), (Some("AK1"), true));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn no_key_anywhere_creates_one() {
        let p = plan("u", &[], None, None, false);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create]));
        assert_eq!(p.key_id, None);
    }

    #[test]
    fn active_key_without_secret_warns_and_creates_nothing() {
        let p = plan("u", &[key("AK1", true, 1)], None, None, false);
        assert_eq!(p.action, Action::Unchanged);
        assert!(p.ops.is_empty(), "a lost secret is never silently replaced");
        assert_eq!(p.key_id.as_deref(), Some("AK1"));
        assert!(!p.stored);
        let [w] = &p.warnings[..] else { panic!("one warning: {:?}", p.warnings) };
        assert!(w.message.contains("--rotate-keys") && w.message.contains("AK1"), "{w:?}");
        // The file names a key that AWS no longer has, but another is active.
        let p = plan("u", &[key("AK2", true, 2)], Some("AK1"), None, false);
        assert!(p.ops.is_empty() && p.warnings.len() == 1);
    }

    #[test]
    fn dead_stored_key_is_replaced() {
        let p = plan("u", &[key("AK1", false, 1)], Some("AK1"), None, false);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create]));
        // Two inactive keys: the oldest goes first to make room.
        let p = plan("u", &[key("AK2", false, 2), key("AK1", false, 1)], Some("AK2"), None, false);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK1".into()), KeyOp::Create]);
    }

    #[test]
    fn rotate_creates_then_deletes_the_old_keys() {
        let p = plan("u", &[key("AK1", true, 1)], Some("AK1"), None, true);
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.ops, vec![KeyOp::Create, KeyOp::Delete("AK1".into())]);
        assert_eq!(p.details, ["rotated"]);
        let p = plan("u", &[], None, None, true);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create]));
    }

    #[test]
    fn rotate_with_two_keys_makes_room_with_the_least_useful() {
        // An inactive key goes first, even when newer.
        let p = plan("u", &[key("AK1", true, 1), key("AK2", false, 2)], Some("AK1"), None, true);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK2".into()), KeyOp::Create, KeyOp::Delete("AK1".into())]);
        // Both active: the one the directory does not know.
        let p = plan("u", &[key("AK1", true, 1), key("AK2", true, 2)], Some("AK1"), None, true);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK2".into()), KeyOp::Create, KeyOp::Delete("AK1".into())]);
        // Lost secret, two active keys: the oldest.
        let p = plan("u", &[key("AK2", true, 2), key("AK1", true, 1)], None, None, true);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK1".into()), KeyOp::Create, KeyOp::Delete("AK2".into())]);
    }

    #[test]
    fn a_key_an_interrupted_run_made_is_deleted_and_replaced() {
        // Killed after CreateAccessKey of a first key: the marker lists none.
        let before: Vec<String> = vec![];
        let p = plan("u", &[key("AK9", true, 9)], None, Some(&before), false);
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK9".into()), KeyOp::Create, KeyOp::ClearPending]);
        assert_eq!((p.key_id, p.stored), (None, true));
        assert_eq!(p.details, ["unstored key AK9"]);
        let [w] = &p.warnings[..] else { panic!("one warning: {:?}", p.warnings) };
        assert!(
            w.message.contains("AK9")
                && w.message.contains("u.access-key.pending.json")
                && w.message.contains("deleted"),
            "{w:?}"
        );
        assert!(!w.message.contains("--rotate-keys"), "not a lost secret: {w:?}");
        // Killed before the call reached AWS: nothing to delete.
        let p = plan("u", &[], None, Some(&before), false);
        assert_eq!((p.action, p.ops), (Action::Create, vec![KeyOp::Create, KeyOp::ClearPending]));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn keys_a_marker_lists_or_the_stored_one_are_kept() {
        let before = vec!["AK1".to_owned()];
        // Killed during --rotate-keys, before the new key was stored: the
        // old key stays in use, the new one goes.
        let p = plan("u", &[key("AK1", true, 1), key("AK9", true, 9)], Some("AK1"), Some(&before), false);
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK9".into()), KeyOp::ClearPending]);
        assert_eq!((p.key_id.as_deref(), p.stored), (Some("AK1"), true));
        assert_eq!(p.warnings.len(), 1);
        // Killed after the new key was stored: nothing of it is lost.
        let p = plan("u", &[key("AK1", true, 1), key("AK9", true, 9)], Some("AK9"), Some(&before), false);
        assert_eq!((p.action, p.ops), (Action::Unchanged, vec![KeyOp::ClearPending]));
        assert_eq!(p.key_id.as_deref(), Some("AK9"));
        assert!(p.warnings.is_empty());
        // A key the marker lists whose secret is not stored was lost by
        // someone else: reported as before, never deleted.
        let p = plan("u", &[key("AK1", true, 1)], None, Some(&before), false);
        assert_eq!((p.action, p.ops), (Action::Unchanged, vec![KeyOp::ClearPending]));
        let [w] = &p.warnings[..] else { panic!("one warning: {:?}", p.warnings) };
        assert!(w.message.contains("--rotate-keys") && w.message.contains("AK1"), "{w:?}");
        // Both at once: the unstored key goes, the lost one is reported.
        let p = plan("u", &[key("AK1", true, 1), key("AK9", true, 9)], None, Some(&before), false);
        assert_eq!(p.ops, vec![KeyOp::Delete("AK9".into()), KeyOp::ClearPending]);
        assert_eq!(p.key_id.as_deref(), Some("AK1"));
        assert_eq!(p.warnings.len(), 2);
        // With --rotate-keys: the unstored key first, then the rotation.
        let p = plan("u", &[key("AK1", true, 1), key("AK9", true, 9)], Some("AK1"), Some(&before), true);
        assert_eq!(
            p.ops,
            vec![KeyOp::Delete("AK9".into()), KeyOp::Create, KeyOp::Delete("AK1".into()), KeyOp::ClearPending]
        );
        assert_eq!(p.action, Action::Update);
    }
}
