//! The plan's vocabulary, shared by converging ([`crate::ensure`]) and
//! destroying ([`crate::destroy`]): the kinds of resource in the report,
//! the phases, the IAM calls ([`Op`]), and the finding for a same-name
//! resource that is not the client's.

use common::deployment::TAG_CLIENT;
use common::{Action, Deployment, Finding, Severity};
use serde_json::Value;

use crate::observed::Tags;

pub const KIND_POLICY: &str = "iam-policy";
pub const KIND_ROLE: &str = "iam-role";
pub const KIND_PROFILE: &str = "iam-instance-profile";
pub const KIND_USER: &str = "iam-user";
pub const KIND_KEY: &str = "iam-access-key";
pub const KIND_USER_POLICY: &str = "iam-user-policy";
pub const KIND_ATTACHMENT: &str = "iam-role-policy-attachment";

/// Converging, first: what depends on nothing (policies, roles, users).
pub const ENSURE_OWNERS: u8 = 0;
/// Converging, then: what needs those (attachments, instance profiles and
/// the role each holds, the users' inline policies and access keys).
pub const ENSURE_DEPENDENTS: u8 = 1;
/// Destroying, first: keys, the users' policies, the instance profile, our
/// attachments.
pub const DESTROY_DEPENDENTS: u8 = 0;
/// Destroying, then: the users and the client's role.
pub const DESTROY_OWNERS: u8 = 1;
/// Destroying, last: the policies, once detached everywhere we attached them.
pub const DESTROY_POLICIES: u8 = 2;

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

/// One IAM call.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    CreatePolicy {
        name: String,
        document: Value,
        tags: Tags,
    },
    TagPolicy {
        arn: String,
        tags: Tags,
    },
    /// A new default version; the oldest other one goes first when the
    /// policy has the five IAM allows.
    SetPolicyDocument {
        arn: String,
        document: Value,
    },
    DeletePolicyVersion {
        arn: String,
        version: String,
    },
    DeletePolicy {
        arn: String,
    },
    CreateRole {
        name: String,
        trust: Value,
        tags: Tags,
    },
    TagRole {
        name: String,
        tags: Tags,
    },
    UpdateTrust {
        name: String,
        trust: Value,
    },
    AttachRolePolicy {
        role: String,
        arn: String,
    },
    DetachRolePolicy {
        role: String,
        arn: String,
    },
    DeleteRolePolicy {
        role: String,
        name: String,
    },
    DeleteRole {
        name: String,
    },
    CreateInstanceProfile {
        name: String,
        tags: Tags,
    },
    TagInstanceProfile {
        name: String,
        tags: Tags,
    },
    AddRoleToInstanceProfile {
        profile: String,
        role: String,
    },
    RemoveRoleFromInstanceProfile {
        profile: String,
        role: String,
    },
    DeleteInstanceProfile {
        name: String,
    },
    CreateUser {
        name: String,
        tags: Tags,
    },
    TagUser {
        name: String,
        tags: Tags,
    },
    PutUserPolicy {
        user: String,
        name: String,
        document: Value,
    },
    DeleteUserPolicy {
        user: String,
        name: String,
    },
    DetachUserPolicy {
        user: String,
        arn: String,
    },
    DeleteUser {
        name: String,
    },
    /// Creates a key and stores it in the secrets directory.
    CreateAccessKey {
        user: String,
    },
    DeleteAccessKey {
        user: String,
        id: String,
    },
    /// Removes the user's key file from the secrets directory.
    RemoveKeyFile {
        user: String,
    },
    /// Removes the user's pending marker from the secrets directory.
    ClearPendingKey {
        user: String,
    },
}

/// Tags as the `(key, value)` pairs `Deployment::owns` and `missing_tags` take.
pub fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Tags as an object, with `added` on top, for a change's before -> after.
pub fn tag_map(tags: &[(String, String)], added: &[(String, String)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in tags.iter().chain(added) {
        m.insert(k.clone(), Value::from(v.clone()));
    }
    Value::Object(m)
}

/// `Update` when there is something to send, else `Unchanged`.
pub fn action_for(ops: &[Op]) -> Action {
    if ops.is_empty() { Action::Unchanged } else { Action::Update }
}

/// A same-name resource without the client's tag: left as it is.
pub fn not_ours(d: &Deployment, severity: Severity, kind: &str, name: &str) -> Finding {
    let message = format!(
        "{kind} {name} exists but is not tagged {TAG_CLIENT}={}: left as it is (mk-iam changes only what it created)",
        d.client
    );
    Finding::new(severity, message).with_code("foreign-resource").about(name)
}
