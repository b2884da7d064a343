//! Comparing the desired IAM resources with what exists. Pure.
//!
//! Resources of the client are changed only when they carry its tag; a
//! same-name resource without it is left alone with a finding. The shared
//! EMR roles are adopted as they are: created when missing, given the
//! policies EMR needs, never tagged for a client, never destroyed.

use common::deployment::TAG_CLIENT;
use common::{Action, Change, Deployment, Finding, Severity};
use serde_json::Value;

use crate::desired::{Desired, PolicyRef, PolicySpec, ProfileSpec, RoleSpec, UserSpec};
use crate::keys::{self, AwsKey, KeyOp, KeyPlan};
use crate::policy;

pub const KIND_POLICY: &str = "iam-policy";
pub const KIND_ROLE: &str = "iam-role";
pub const KIND_PROFILE: &str = "iam-instance-profile";
pub const KIND_USER: &str = "iam-user";
pub const KIND_KEY: &str = "iam-access-key";
pub const KIND_USER_POLICY: &str = "iam-user-policy";
pub const KIND_ATTACHMENT: &str = "iam-role-policy-attachment";

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
    /// user that has one ([`keys::PendingKey`]).
    pub pending_keys: Vec<Option<Vec<String>>>,
}

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

/// One resource's change and the calls that make it. Steps of one phase
/// run concurrently, phases in order (what a phase needs exists by then).
#[derive(Debug, Clone)]
pub struct Step {
    pub phase: u8,
    pub change: Change,
    pub ops: Vec<Op>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    /// Per user (in [`Desired::users`] order), its keys' plan; `None` for
    /// a user that is not ours, and on destroy.
    pub keys: Vec<Option<KeyPlan>>,
}

impl Plan {
    fn step(&mut self, phase: u8, change: Change, ops: Vec<Op>) {
        self.steps.push(Step { phase, change, ops });
    }

    fn finding(&mut self, severity: Severity, message: String) {
        self.findings.push(Finding::new(severity, message));
    }

    /// A same-name resource without the client's tag.
    fn not_ours(&mut self, d: &Deployment, severity: Severity, kind: &str, name: &str) {
        self.finding(
            severity,
            format!(
                "{kind} {name} exists but is not tagged {TAG_CLIENT}={}: left as it is (mk-iam changes only what it created)",
                d.client
            ),
        );
    }
}

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn action_for(ops: &[Op]) -> Action {
    if ops.is_empty() { Action::Unchanged } else { Action::Update }
}

/// Plans the run: converge, or destroy what is the client's.
pub fn plan(d: &Deployment, desired: &Desired, o: &Observed, destroy: bool, rotate_keys: bool) -> Plan {
    let mut plan = Plan::default();
    if destroy {
        plan_destroy(d, desired, o, &mut plan);
    } else {
        plan_ensure(d, desired, o, rotate_keys, &mut plan);
    }
    plan
}

// ---- converge ----

/// Returns whether the policy is ours to attach (ours, or to be created).
fn ensure_policy(d: &Deployment, spec: &PolicySpec, o: Option<&ObservedPolicy>, plan: &mut Plan) -> bool {
    let change = |action| Change::new(KIND_POLICY, &spec.name, action).with_id(&spec.arn);
    let Some(o) = o else {
        let op = Op::CreatePolicy { name: spec.name.clone(), document: spec.document.clone(), tags: d.tags() };
        plan.step(0, change(Action::Create), vec![op]);
        return true;
    };
    if !d.owns(pairs(&o.tags)) {
        plan.not_ours(d, Severity::Warning, "policy", &spec.name);
        plan.step(0, change(Action::Unchanged), vec![]);
        return false;
    }
    let mut ops = Vec::new();
    let mut details = Vec::new();
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        ops.push(Op::TagPolicy { arn: spec.arn.clone(), tags: missing });
        details.push("tags".to_owned());
    }
    if !o.document.as_ref().is_some_and(|doc| policy::same(doc, &spec.document)) {
        ops.push(Op::SetPolicyDocument { arn: spec.arn.clone(), document: spec.document.clone() });
        details.push("document".to_owned());
    }
    plan.step(0, change(action_for(&ops)).with_details(details), ops);
    true
}

/// Returns whether the role may be given its policies: ours, shared, or
/// to be created.
fn ensure_role(d: &Deployment, spec: &RoleSpec, o: Option<&ObservedRole>, plan: &mut Plan) -> bool {
    let arn = o.map_or(spec.arn.as_str(), |r| r.arn.as_str());
    let change = |action| Change::new(KIND_ROLE, &spec.name, action).with_id(arn);
    let Some(o) = o else {
        let tags = if spec.shared { vec![] } else { d.tags() };
        let op = Op::CreateRole { name: spec.name.clone(), trust: spec.trust.clone(), tags };
        plan.step(0, change(Action::Create), vec![op]);
        return true;
    };
    if spec.shared {
        if !policy::trusts_service(&o.trust, spec.service) {
            plan.finding(
                Severity::Warning,
                format!(
                    "shared role {} does not trust {}: EMR cannot use it; fix its trust policy (mk-iam leaves shared roles as they are)",
                    spec.name,
                    spec.service.principal()
                ),
            );
        }
        plan.step(0, change(Action::Unchanged), vec![]);
        return true;
    }
    if !d.owns(pairs(&o.tags)) {
        plan.not_ours(d, Severity::Warning, "role", &spec.name);
        plan.step(0, change(Action::Unchanged), vec![]);
        return false;
    }
    let mut ops = Vec::new();
    let mut details = Vec::new();
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        ops.push(Op::TagRole { name: spec.name.clone(), tags: missing });
        details.push("tags".to_owned());
    }
    if !policy::same(&o.trust, &spec.trust) {
        ops.push(Op::UpdateTrust { name: spec.name.clone(), trust: spec.trust.clone() });
        details.push("trust policy".to_owned());
    }
    plan.step(0, change(action_for(&ops)).with_details(details), ops);
    true
}

fn ensure_attachments(
    desired: &Desired,
    spec: &RoleSpec,
    o: Option<&ObservedRole>,
    policy_usable: &[bool],
    plan: &mut Plan,
) {
    for p in &spec.policies {
        if let PolicyRef::Ours(i) = p
            && !policy_usable[*i]
        {
            continue;
        }
        let (arn, name) = desired.resolve(p);
        let attached = o.is_some_and(|r| r.attached.contains(&arn));
        let (action, ops) = if attached {
            (Action::Unchanged, vec![])
        } else {
            (Action::Create, vec![Op::AttachRolePolicy { role: spec.name.clone(), arn: arn.clone() }])
        };
        plan.step(1, Change::new(KIND_ATTACHMENT, format!("{}/{name}", spec.name), action).with_id(arn), ops);
    }
}

fn ensure_profile(d: &Deployment, spec: &ProfileSpec, o: Option<&ObservedProfile>, plan: &mut Plan) {
    let arn = o.map_or(spec.arn.as_str(), |p| p.arn.as_str());
    let change = |action| Change::new(KIND_PROFILE, &spec.name, action).with_id(arn);
    let add_role = Op::AddRoleToInstanceProfile { profile: spec.name.clone(), role: spec.role.clone() };
    let Some(o) = o else {
        let tags = if spec.shared { vec![] } else { d.tags() };
        let ops = vec![Op::CreateInstanceProfile { name: spec.name.clone(), tags }, add_role];
        plan.step(1, change(Action::Create), ops);
        return;
    };
    if !spec.shared && !d.owns(pairs(&o.tags)) {
        plan.not_ours(d, Severity::Warning, "instance profile", &spec.name);
        plan.step(1, change(Action::Unchanged), vec![]);
        return;
    }
    let mut ops = Vec::new();
    let mut details = Vec::new();
    if !spec.shared {
        let missing = d.missing_tags(pairs(&o.tags));
        if !missing.is_empty() {
            ops.push(Op::TagInstanceProfile { name: spec.name.clone(), tags: missing });
            details.push("tags".to_owned());
        }
    }
    if !o.roles.contains(&spec.role) {
        if spec.shared && !o.roles.is_empty() {
            plan.finding(
                Severity::Warning,
                format!(
                    "shared instance profile {} holds role {} instead of {}: left as it is",
                    spec.name,
                    o.roles.join(", "),
                    spec.role
                ),
            );
        } else {
            // A profile holds one role: take out the wrong one first.
            ops.extend(
                o.roles
                    .iter()
                    .map(|r| Op::RemoveRoleFromInstanceProfile { profile: spec.name.clone(), role: r.clone() }),
            );
            ops.push(add_role);
            details.push("role".to_owned());
        }
    }
    plan.step(1, change(action_for(&ops)).with_details(details), ops);
}

/// Returns whether the user is ours (or to be created).
fn ensure_user(d: &Deployment, spec: &UserSpec, o: Option<&ObservedUser>, plan: &mut Plan) -> bool {
    let arn = o.map_or(spec.arn.as_str(), |u| u.arn.as_str());
    let change = |action| Change::new(KIND_USER, &spec.name, action).with_id(arn);
    let Some(o) = o else {
        plan.step(0, change(Action::Create), vec![Op::CreateUser { name: spec.name.clone(), tags: d.tags() }]);
        return true;
    };
    if !d.owns(pairs(&o.tags)) {
        plan.not_ours(d, Severity::Warning, "user", &spec.name);
        plan.step(0, change(Action::Unchanged), vec![]);
        return false;
    }
    let missing = d.missing_tags(pairs(&o.tags));
    if missing.is_empty() {
        plan.step(0, change(Action::Unchanged), vec![]);
    } else {
        let op = Op::TagUser { name: spec.name.clone(), tags: missing };
        plan.step(0, change(Action::Update).with_details(vec!["tags".into()]), vec![op]);
    }
    true
}

fn ensure_user_policy(spec: &UserSpec, o: Option<&ObservedUser>, plan: &mut Plan) {
    let Some(inline) = &spec.inline else { return };
    let (action, details) = match o.and_then(|u| u.inline.as_ref()) {
        None => (Action::Create, vec![]),
        Some(doc) if policy::same(doc, &inline.document) => (Action::Unchanged, vec![]),
        Some(_) => (Action::Update, vec!["document".to_owned()]),
    };
    let ops = if action == Action::Unchanged {
        vec![]
    } else {
        vec![Op::PutUserPolicy {
            user: spec.name.clone(),
            name: inline.name.clone(),
            document: inline.document.clone(),
        }]
    };
    let change = Change::new(KIND_USER_POLICY, format!("{}/{}", spec.name, inline.name), action).with_details(details);
    plan.step(1, change, ops);
}

fn ensure_keys(
    spec: &UserSpec,
    o: Option<&ObservedUser>,
    stored: Option<&str>,
    pending: Option<&[String]>,
    rotate: bool,
    plan: &mut Plan,
) -> KeyPlan {
    let aws = o.map_or(&[][..], |u| u.keys.as_slice());
    let kp = keys::plan(&spec.name, aws, stored, pending, rotate);
    for w in &kp.warnings {
        plan.finding(Severity::Warning, w.clone());
    }
    let ops = kp
        .ops
        .iter()
        .map(|op| match op {
            KeyOp::Create => Op::CreateAccessKey { user: spec.name.clone() },
            KeyOp::Delete(id) => Op::DeleteAccessKey { user: spec.name.clone(), id: id.clone() },
            KeyOp::ClearPending => Op::ClearPendingKey { user: spec.name.clone() },
        })
        .collect();
    let mut change = Change::new(KIND_KEY, &spec.name, kp.action).with_details(kp.details.clone());
    change.id = kp.key_id.clone();
    plan.step(1, change, ops);
    kp
}

fn plan_ensure(d: &Deployment, desired: &Desired, o: &Observed, rotate: bool, plan: &mut Plan) {
    // Phase 0: what depends on nothing.
    let policy_usable: Vec<bool> =
        desired.policies.iter().zip(&o.policies).map(|(s, p)| ensure_policy(d, s, p.as_ref(), plan)).collect();
    let role_usable: Vec<bool> =
        desired.roles.iter().zip(&o.roles).map(|(s, r)| ensure_role(d, s, r.as_ref(), plan)).collect();
    let user_ours: Vec<bool> =
        desired.users.iter().zip(&o.users).map(|(s, u)| ensure_user(d, s, u.as_ref(), plan)).collect();
    // Phase 1: what needs the above.
    for ((spec, r), usable) in desired.roles.iter().zip(&o.roles).zip(role_usable) {
        if usable {
            ensure_attachments(desired, spec, r.as_ref(), &policy_usable, plan);
        }
    }
    for (spec, p) in desired.profiles.iter().zip(&o.profiles) {
        ensure_profile(d, spec, p.as_ref(), plan);
    }
    for (i, spec) in desired.users.iter().enumerate() {
        let u = o.users[i].as_ref();
        let kp = user_ours[i].then(|| {
            ensure_user_policy(spec, u, plan);
            ensure_keys(spec, u, o.stored_keys[i].as_deref(), o.pending_keys[i].as_deref(), rotate, plan)
        });
        plan.keys.push(kp);
    }
}

// ---- destroy ----

fn plan_destroy(d: &Deployment, desired: &Desired, o: &Observed, plan: &mut Plan) {
    let delete = |kind, name: &str, id: &str| Change::new(kind, name, Action::Delete).with_id(id);

    // Phase 0: keys, the users' policies, the profile, our attachments.
    let mut users_ours = Vec::new();
    for (i, spec) in desired.users.iter().enumerate() {
        plan.keys.push(None);
        let Some(u) = o.users[i].as_ref() else { continue };
        if !d.owns(pairs(&u.tags)) {
            plan.not_ours(d, Severity::Info, "user", &spec.name);
            continue;
        }
        let stored = o.stored_keys[i].as_deref();
        let pending = o.pending_keys[i].is_some();
        if !u.keys.is_empty() || stored.is_some() || pending {
            let mut ops: Vec<Op> =
                u.keys.iter().map(|k| Op::DeleteAccessKey { user: spec.name.clone(), id: k.id.clone() }).collect();
            ops.push(Op::RemoveKeyFile { user: spec.name.clone() });
            if pending {
                ops.push(Op::ClearPendingKey { user: spec.name.clone() });
            }
            let mut change = Change::new(KIND_KEY, &spec.name, Action::Delete);
            change.id = stored.map(str::to_owned).or_else(|| u.keys.first().map(|k| k.id.clone()));
            plan.step(0, change, ops);
        }
        if let Some(inline) = spec.inline.as_ref().filter(|i| u.inline_names.contains(&i.name)) {
            let op = Op::DeleteUserPolicy { user: spec.name.clone(), name: inline.name.clone() };
            plan.step(
                0,
                Change::new(KIND_USER_POLICY, format!("{}/{}", spec.name, inline.name), Action::Delete),
                vec![op],
            );
        }
        users_ours.push((spec, u));
    }
    for (spec, p) in desired.profiles.iter().zip(&o.profiles) {
        let Some(p) = p.as_ref().filter(|_| !spec.shared) else { continue };
        if !d.owns(pairs(&p.tags)) {
            plan.not_ours(d, Severity::Info, "instance profile", &spec.name);
            continue;
        }
        let mut ops: Vec<Op> = p
            .roles
            .iter()
            .map(|r| Op::RemoveRoleFromInstanceProfile { profile: spec.name.clone(), role: r.clone() })
            .collect();
        ops.push(Op::DeleteInstanceProfile { name: spec.name.clone() });
        plan.step(0, delete(KIND_PROFILE, &spec.name, &p.arn), ops);
    }
    let policy_ours: Vec<bool> =
        o.policies.iter().map(|p| p.as_ref().is_some_and(|p| d.owns(pairs(&p.tags)))).collect();
    let mut detached: Vec<(String, String)> = Vec::new();
    for (spec, r) in desired.roles.iter().zip(&o.roles) {
        let Some(r) = r else { continue };
        for p in &spec.policies {
            let PolicyRef::Ours(i) = p else { continue };
            let (arn, name) = desired.resolve(p);
            if policy_ours[*i] && r.attached.contains(&arn) {
                let op = Op::DetachRolePolicy { role: spec.name.clone(), arn: arn.clone() };
                plan.step(0, delete(KIND_ATTACHMENT, &format!("{}/{name}", spec.name), &arn), vec![op]);
                detached.push((spec.name.clone(), arn));
            }
        }
    }

    // Phase 1: the users and the client's role.
    for (spec, u) in users_ours {
        let mut ops: Vec<Op> = u
            .inline_names
            .iter()
            .filter(|n| spec.inline.as_ref().is_none_or(|i| i.name != **n))
            .map(|n| Op::DeleteUserPolicy { user: spec.name.clone(), name: n.clone() })
            .collect();
        ops.extend(u.attached.iter().map(|a| Op::DetachUserPolicy { user: spec.name.clone(), arn: a.clone() }));
        ops.push(Op::DeleteUser { name: spec.name.clone() });
        plan.step(1, delete(KIND_USER, &spec.name, &u.arn), ops);
    }
    for (spec, r) in desired.roles.iter().zip(&o.roles) {
        let Some(r) = r.as_ref().filter(|_| !spec.shared) else { continue };
        if !d.owns(pairs(&r.tags)) {
            plan.not_ours(d, Severity::Info, "role", &spec.name);
            continue;
        }
        let mut ops: Vec<Op> = r
            .attached
            .iter()
            .filter(|a| !detached.contains(&(spec.name.clone(), (*a).clone())))
            .map(|a| Op::DetachRolePolicy { role: spec.name.clone(), arn: a.clone() })
            .collect();
        ops.extend(r.inline.iter().map(|n| Op::DeleteRolePolicy { role: spec.name.clone(), name: n.clone() }));
        ops.push(Op::DeleteRole { name: spec.name.clone() });
        plan.step(1, delete(KIND_ROLE, &spec.name, &r.arn), ops);
    }

    // Phase 2: the policies, once detached everywhere we attached them.
    for ((spec, p), ours) in desired.policies.iter().zip(&o.policies).zip(&policy_ours) {
        let Some(p) = p else { continue };
        if !ours {
            plan.not_ours(d, Severity::Info, "policy", &spec.name);
            continue;
        }
        let mut ops: Vec<Op> = p
            .other_versions
            .iter()
            .map(|v| Op::DeletePolicyVersion { arn: spec.arn.clone(), version: v.clone() })
            .collect();
        ops.push(Op::DeletePolicy { arn: spec.arn.clone() });
        plan.step(2, delete(KIND_POLICY, &spec.name, &spec.arn), ops);
    }

    let shared: Vec<&str> = desired.roles.iter().filter(|r| r.shared).map(|r| r.name.as_str()).collect();
    plan.finding(
        Severity::Info,
        format!("{} are shared by every deployment in the account: kept", shared.join(" and ")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{AccountInfo, Names, UserKind};
    use common::ClientName;
    use serde_json::json;

    fn d() -> Deployment {
        Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-iam", extra_tags: vec![] }
    }

    fn desired(reports: bool) -> Desired {
        desired_named(names(reports))
    }

    fn desired_named(names: Names) -> Desired {
        Desired::new(&names, &AccountInfo::new("123456789012", "arn:aws:iam::123456789012:root"))
    }

    fn names(reports: bool) -> Names {
        let mut users = vec![(UserKind::Elasticsearch, "acme-analytics-elasticsearch".to_owned())];
        if reports {
            users.push((UserKind::Reports, "acme-analytics-reports".to_owned()));
        }
        Names {
            provision_policy: "acme-provision-emr-clusters".into(),
            elasticsearch_policy: "acme-elasticsearch-all".into(),
            role: "acme-edxanalytics".into(),
            emr_role: "EMR_DefaultRole".into(),
            emr_ec2_role: "EMR_EC2_DefaultRole".into(),
            users,
            reports_policy: "s3-read-analytics-reports".into(),
            reports_bucket: reports.then(|| "acme-analytics-api-reports".to_owned()),
            es_domain_arn: None,
        }
    }

    fn empty(want: &Desired) -> Observed {
        Observed {
            policies: vec![None; want.policies.len()],
            roles: vec![None; want.roles.len()],
            profiles: vec![None; want.profiles.len()],
            users: vec![None; want.users.len()],
            stored_keys: vec![None; want.users.len()],
            pending_keys: vec![None; want.users.len()],
        }
    }

    /// What a converged account looks like.
    fn converged(want: &Desired) -> Observed {
        let tags = d().tags();
        Observed {
            policies: want
                .policies
                .iter()
                .map(|p| {
                    Some(ObservedPolicy {
                        tags: tags.clone(),
                        document: Some(p.document.clone()),
                        other_versions: vec![],
                    })
                })
                .collect(),
            roles: want
                .roles
                .iter()
                .map(|r| {
                    Some(ObservedRole {
                        arn: r.arn.clone(),
                        tags: if r.shared { vec![] } else { tags.clone() },
                        trust: r.trust.clone(),
                        attached: r.policies.iter().map(|p| want.resolve(p).0).collect(),
                        inline: vec![],
                    })
                })
                .collect(),
            profiles: want
                .profiles
                .iter()
                .map(|p| {
                    Some(ObservedProfile {
                        arn: p.arn.clone(),
                        tags: if p.shared { vec![] } else { tags.clone() },
                        roles: vec![p.role.clone()],
                    })
                })
                .collect(),
            users: want
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    Some(ObservedUser {
                        arn: u.arn.clone(),
                        tags: tags.clone(),
                        keys: vec![AwsKey { id: format!("AK{i}"), active: true, created: 1 }],
                        inline: u.inline.as_ref().map(|p| p.document.clone()),
                        inline_names: u.inline.iter().map(|p| p.name.clone()).collect(),
                        attached: vec![],
                    })
                })
                .collect(),
            stored_keys: (0..want.users.len()).map(|i| Some(format!("AK{i}"))).collect(),
            pending_keys: vec![None; want.users.len()],
        }
    }

    fn find<'a>(p: &'a Plan, kind: &str, name: &str) -> &'a Step {
        p.steps
            .iter()
            .find(|s| s.change.kind == kind && s.change.name == name)
            .unwrap_or_else(|| panic!("no step {kind} {name}"))
    }

    fn mutating_ops(p: &Plan) -> usize {
        p.steps.iter().map(|s| s.ops.len()).sum()
    }

    #[test]
    fn empty_account_creates_everything_tagged() {
        let want = desired(true);
        let p = plan(&d(), &want, &empty(&want), false, false);
        assert!(p.steps.iter().all(|s| s.change.action == Action::Create), "{:?}", p.steps);
        // 2 policies, 3 roles, 2 users, 4 attachments, 2 profiles, 1 inline policy, 2 keys.
        assert_eq!(p.steps.len(), 16);
        let Op::CreatePolicy { tags, document, .. } = &find(&p, KIND_POLICY, "acme-provision-emr-clusters").ops[0]
        else {
            panic!()
        };
        assert!(tags.contains(&("analytics:client".into(), "acme".into())));
        assert_eq!(document, &policy::provision_emr_clusters());
        let Op::CreateRole { tags, .. } = &find(&p, KIND_ROLE, "EMR_DefaultRole").ops[0] else { panic!() };
        assert!(tags.is_empty(), "shared roles carry no client tag");
        let profile = find(&p, KIND_PROFILE, "acme-edxanalytics");
        assert!(matches!(&profile.ops[1], Op::AddRoleToInstanceProfile { role, .. } if role == "acme-edxanalytics"));
        find(&p, KIND_ATTACHMENT, "EMR_EC2_DefaultRole/acme-elasticsearch-all");
        find(&p, KIND_ATTACHMENT, "EMR_EC2_DefaultRole/AmazonElasticMapReduceforEC2Role");
        assert_eq!(
            find(&p, KIND_KEY, "acme-analytics-reports").ops,
            vec![Op::CreateAccessKey { user: "acme-analytics-reports".into() }]
        );
        // What others depend on comes first.
        assert!(
            p.steps
                .iter()
                .filter(|s| s.phase == 0)
                .all(|s| [KIND_POLICY, KIND_ROLE, KIND_USER].contains(&s.change.kind))
        );
    }

    #[test]
    fn converged_account_is_unchanged() {
        let want = desired(true);
        let p = plan(&d(), &want, &converged(&want), false, false);
        assert!(p.steps.iter().all(|s| s.change.action == Action::Unchanged), "{:?}", p.steps);
        assert_eq!(mutating_ops(&p), 0);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(p.keys[1].as_ref().unwrap().key_id.as_deref(), Some("AK1"));
    }

    #[test]
    fn drifted_documents_are_updated() {
        let want = desired(true);
        let mut o = converged(&want);
        o.policies[0].as_mut().unwrap().document = Some(json!({"Version": "2012-10-17", "Statement": []}));
        o.roles[0].as_mut().unwrap().trust = policy::trust(policy::TrustedService::Emr);
        o.users[1].as_mut().unwrap().inline = Some(policy::reports_read("aws", "elsewhere"));
        let p = plan(&d(), &want, &o, false, false);
        let s = find(&p, KIND_POLICY, "acme-provision-emr-clusters");
        assert_eq!(s.change.action, Action::Update);
        assert!(matches!(&s.ops[..], [Op::SetPolicyDocument { .. }]));
        let s = find(&p, KIND_ROLE, "acme-edxanalytics");
        assert!(matches!(&s.ops[..], [Op::UpdateTrust { .. }]));
        let s = find(&p, KIND_USER_POLICY, "acme-analytics-reports/s3-read-analytics-reports");
        assert_eq!(s.change.action, Action::Update);
        assert!(matches!(&s.ops[..], [Op::PutUserPolicy { .. }]));
        assert_eq!(mutating_ops(&p), 3);
    }

    #[test]
    fn missing_attachment_tag_and_profile_role_are_restored() {
        let want = desired(false);
        let mut o = converged(&want);
        o.roles[2].as_mut().unwrap().attached.pop();
        o.profiles[0].as_mut().unwrap().roles.clear();
        o.users[0].as_mut().unwrap().tags.retain(|(k, _)| k != "analytics:managed-by");
        let p = plan(&d(), &want, &o, false, false);
        let s = find(&p, KIND_ATTACHMENT, "EMR_EC2_DefaultRole/acme-elasticsearch-all");
        assert_eq!(s.change.action, Action::Create);
        let s = find(&p, KIND_PROFILE, "acme-edxanalytics");
        assert_eq!(
            s.ops,
            vec![Op::AddRoleToInstanceProfile {
                profile: "acme-edxanalytics".into(),
                role: "acme-edxanalytics".into()
            }]
        );
        let s = find(&p, KIND_USER, "acme-analytics-elasticsearch");
        assert_eq!(
            s.ops,
            vec![Op::TagUser {
                name: "acme-analytics-elasticsearch".into(),
                tags: vec![("analytics:managed-by".into(), "mk-iam".into())]
            }]
        );
    }

    #[test]
    fn lost_secret_warns_without_a_new_key() {
        let want = desired(false);
        let mut o = converged(&want);
        o.stored_keys[0] = None;
        let p = plan(&d(), &want, &o, false, false);
        let s = find(&p, KIND_KEY, "acme-analytics-elasticsearch");
        assert_eq!(s.change.action, Action::Unchanged);
        assert!(s.ops.is_empty());
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].severity, Severity::Warning);
        assert!(p.findings[0].message.contains("--rotate-keys"));
        let p = plan(&d(), &want, &o, false, true);
        let s = find(&p, KIND_KEY, "acme-analytics-elasticsearch");
        assert_eq!(s.change.action, Action::Update);
        assert_eq!(s.ops[0], Op::CreateAccessKey { user: "acme-analytics-elasticsearch".into() });
    }

    #[test]
    fn a_key_left_unstored_by_an_interrupted_run_is_replaced() {
        let want = desired(false);
        let mut o = converged(&want);
        let user = "acme-analytics-elasticsearch".to_owned();
        // Killed between CreateAccessKey (AK7) and storing its secret.
        o.users[0].as_mut().unwrap().keys = vec![AwsKey { id: "AK7".into(), active: true, created: 7 }];
        o.stored_keys[0] = None;
        o.pending_keys[0] = Some(vec![]);
        let p = plan(&d(), &want, &o, false, false);
        let s = find(&p, KIND_KEY, &user);
        assert_eq!(s.change.action, Action::Create);
        assert_eq!(s.change.details, ["unstored key AK7"]);
        assert_eq!(
            s.ops,
            vec![
                Op::DeleteAccessKey { user: user.clone(), id: "AK7".into() },
                Op::CreateAccessKey { user: user.clone() },
                Op::ClearPendingKey { user: user.clone() }
            ]
        );
        assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
        assert_eq!(p.findings[0].severity, Severity::Warning);
        assert!(p.findings[0].message.contains("AK7") && !p.findings[0].message.contains("--rotate-keys"));
        // Without the marker the same key is a lost secret: reported, kept.
        o.pending_keys[0] = None;
        let p = plan(&d(), &want, &o, false, false);
        assert!(find(&p, KIND_KEY, &user).ops.is_empty());
        assert!(p.findings[0].message.contains("--rotate-keys"));
    }

    #[test]
    fn destroy_clears_a_pending_marker() {
        let want = desired(false);
        let mut o = converged(&want);
        let user = "acme-analytics-elasticsearch".to_owned();
        o.pending_keys[0] = Some(vec!["AK0".into()]);
        let p = plan(&d(), &want, &o, true, false);
        assert_eq!(
            find(&p, KIND_KEY, &user).ops,
            vec![
                Op::DeleteAccessKey { user: user.clone(), id: "AK0".into() },
                Op::RemoveKeyFile { user: user.clone() },
                Op::ClearPendingKey { user: user.clone() }
            ]
        );
        // Only the marker is left: it goes too.
        o.users[0].as_mut().unwrap().keys.clear();
        o.stored_keys[0] = None;
        let p = plan(&d(), &want, &o, true, false);
        assert_eq!(
            find(&p, KIND_KEY, &user).ops,
            vec![Op::RemoveKeyFile { user: user.clone() }, Op::ClearPendingKey { user }]
        );
    }

    #[test]
    fn foreign_resources_are_left_alone() {
        let want = desired(false);
        let mut o = converged(&want);
        o.roles[0].as_mut().unwrap().tags.clear();
        o.roles[0].as_mut().unwrap().attached.clear();
        o.users[0].as_mut().unwrap().tags = vec![("analytics:client".into(), "other".into())];
        let p = plan(&d(), &want, &o, false, false);
        assert_eq!(find(&p, KIND_ROLE, "acme-edxanalytics").change.action, Action::Unchanged);
        assert_eq!(find(&p, KIND_USER, "acme-analytics-elasticsearch").change.action, Action::Unchanged);
        assert!(
            p.steps.iter().all(|s| !s.change.name.starts_with("acme-edxanalytics/")),
            "no attachment to a foreign role"
        );
        assert!(p.steps.iter().all(|s| s.change.kind != KIND_KEY), "no key for a foreign user");
        assert_eq!(mutating_ops(&p), 0);
        assert_eq!(p.findings.len(), 2);
        assert!(p.findings.iter().all(|f| f.severity == Severity::Warning && f.message.contains("left as it is")));
    }

    #[test]
    fn shared_roles_are_adopted_as_they_are() {
        let want = desired(false);
        let mut o = converged(&want);
        let cli_trust = json!({"Version": "2008-10-17", "Statement": [{"Sid": "", "Effect": "Allow",
            "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        o.roles[1].as_mut().unwrap().trust = cli_trust;
        o.roles[1].as_mut().unwrap().tags = vec![("team".into(), "data".into())];
        let p = plan(&d(), &want, &o, false, false);
        assert_eq!(find(&p, KIND_ROLE, "EMR_DefaultRole").change.action, Action::Unchanged);
        assert_eq!(mutating_ops(&p), 0);
        assert!(p.findings.is_empty());
        o.roles[2].as_mut().unwrap().trust = policy::trust(policy::TrustedService::Emr);
        let p = plan(&d(), &want, &o, false, false);
        assert_eq!(mutating_ops(&p), 0);
        assert!(p.findings[0].message.contains("does not trust ec2.amazonaws.com"));
    }

    #[test]
    fn destroy_removes_only_ours_in_reverse_order() {
        let want = desired(true);
        let mut o = converged(&want);
        o.policies[0].as_mut().unwrap().other_versions = vec!["v1".into()];
        let p = plan(&d(), &want, &o, true, false);
        assert!(p.steps.iter().all(|s| s.change.action == Action::Delete));
        assert!(p.steps.iter().all(|s| !s.change.name.starts_with("EMR_") || s.change.kind == KIND_ATTACHMENT));
        let s = find(&p, KIND_ATTACHMENT, "EMR_EC2_DefaultRole/acme-elasticsearch-all");
        assert_eq!(s.phase, 0);
        assert!(p.steps.iter().all(|s| s.change.name != "EMR_EC2_DefaultRole/AmazonElasticMapReduceforEC2Role"));
        let s = find(&p, KIND_KEY, "acme-analytics-reports");
        assert_eq!(
            s.ops,
            vec![
                Op::DeleteAccessKey { user: "acme-analytics-reports".into(), id: "AK1".into() },
                Op::RemoveKeyFile { user: "acme-analytics-reports".into() }
            ]
        );
        let s = find(&p, KIND_ROLE, "acme-edxanalytics");
        assert_eq!((s.phase, s.ops.len()), (1, 1), "already detached in phase 0: {:?}", s.ops);
        let s = find(&p, KIND_POLICY, "acme-provision-emr-clusters");
        assert_eq!(s.phase, 2);
        assert!(matches!(&s.ops[..], [Op::DeletePolicyVersion { .. }, Op::DeletePolicy { .. }]));
        assert!(p.findings.iter().any(|f| f.message.contains("EMR_DefaultRole and EMR_EC2_DefaultRole")));
    }

    #[test]
    fn destroy_uses_the_overridden_names() {
        let mut n = names(true);
        n.role = "insights".into();
        n.emr_ec2_role = "emr-nodes".into();
        n.elasticsearch_policy = "search-all".into();
        n.users[1].1 = "reports-api".into();
        n.reports_policy = "read-reports".into();
        let want = desired_named(n);
        let mut o = converged(&want);
        // Another inline policy on the user goes with it, in phase 1.
        o.users[1].as_mut().unwrap().inline_names.push("by-hand".into());
        let p = plan(&d(), &want, &o, true, false);
        let s = find(&p, KIND_USER_POLICY, "reports-api/read-reports");
        assert_eq!(
            (s.phase, &s.ops[..]),
            (0, &[Op::DeleteUserPolicy { user: "reports-api".into(), name: "read-reports".into() }][..])
        );
        let s = find(&p, KIND_USER, "reports-api");
        assert_eq!(
            s.ops,
            vec![
                Op::DeleteUserPolicy { user: "reports-api".into(), name: "by-hand".into() },
                Op::DeleteUser { name: "reports-api".into() }
            ]
        );
        find(&p, KIND_PROFILE, "insights");
        find(&p, KIND_ROLE, "insights");
        find(&p, KIND_ATTACHMENT, "emr-nodes/search-all");
        assert!(p.steps.iter().all(|s| !s.change.name.contains("edxanalytics") && !s.change.name.contains("EMR_")));
        assert!(p.steps.iter().all(|s| s.change.name != "emr-nodes"), "the shared role stays shared");
        assert!(p.findings.iter().any(|f| f.message.contains("EMR_DefaultRole and emr-nodes")), "{:?}", p.findings);
    }

    #[test]
    fn destroy_leaves_untagged_resources() {
        let want = desired(false);
        let mut o = converged(&want);
        for p in o.policies.iter_mut().flatten() {
            p.tags.clear();
        }
        o.roles[0].as_mut().unwrap().tags.clear();
        o.profiles[0].as_mut().unwrap().tags.clear();
        o.users[0].as_mut().unwrap().tags.clear();
        let p = plan(&d(), &want, &o, true, false);
        assert!(p.steps.is_empty(), "{:?}", p.steps);
        assert_eq!(p.findings.iter().filter(|f| f.message.contains("not tagged")).count(), 5);
    }
}
