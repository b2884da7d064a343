//! What exists on IAM (and in the secrets directory) of what mk-iam
//! manages, as [`crate::observe`] reads it and [`crate::plan`] compares it.

use serde_json::Value;

use crate::keys::AwsKey;

pub type Tags = Vec<(String, String)>;

/// A managed policy of the client, as it exists (found by its ARN).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedPolicy {
    pub tags: Tags,
    /// The default version's document (not read on destroy).
    pub document: Option<Value>,
    /// Versions other than the default (read on destroy only).
    pub other_versions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedRole {
    pub arn: String,
    pub tags: Tags,
    /// The trust policy (`Null` when not read: a shared role on destroy).
    pub trust: Value,
    /// ARNs of the attached managed policies.
    pub attached: Vec<String>,
    /// Names of its inline policies (read on destroy only).
    pub inline: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedProfile {
    pub arn: String,
    pub tags: Tags,
    /// Names of the roles it holds (at most one).
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedUser {
    pub arn: String,
    pub tags: Tags,
    pub keys: Vec<AwsKey>,
    /// The document of the user's inline policy that we manage, if any.
    pub inline: Option<Value>,
    /// Names of every inline policy (read on destroy only).
    pub inline_names: Vec<String>,
    /// ARNs of attached managed policies (read on destroy only).
    pub attached: Vec<String>,
}

/// What exists, in the order of [`Desired`]'s lists; `None`: missing (or,
/// for the shared EMR_DefaultRole on destroy, not read).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub policies: Vec<Option<ObservedPolicy>>,
    pub roles: Vec<Option<ObservedRole>>,
    pub profiles: Vec<Option<ObservedProfile>>,
    pub users: Vec<Option<ObservedUser>>,
    /// The key id in the secrets directory, per user.
    pub stored_keys: Vec<Option<String>>,
    /// The key ids a pending marker in the secrets directory lists, per
    /// user that has one ([`crate::keyfile::PendingKey`]).
    pub pending_keys: Vec<Option<Vec<String>>>,
}
