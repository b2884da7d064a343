//! Planning a converge run: what to create, update or leave of each
//! desired resource. Pure.
//!
//! Resources of the client are changed only when they carry its tag; a
//! same-name resource without it is left alone with a finding. The shared
//! EMR roles are adopted as they are: created when missing, given the
//! policies EMR needs, never tagged for a client.

use common::{Action, Change, Deployment, Finding, Severity};

use crate::desired::{Desired, PolicyRef, PolicySpec, ProfileSpec, RoleSpec, UserSpec};
use crate::keys::{self, KeyOp, KeyPlan};
use crate::observed::{Observed, ObservedPolicy, ObservedProfile, ObservedRole, ObservedUser};
use crate::op::{
    ENSURE_DEPENDENTS, ENSURE_OWNERS, KIND_ATTACHMENT, KIND_KEY, KIND_POLICY, KIND_PROFILE, KIND_ROLE, KIND_USER,
    KIND_USER_POLICY, Op, Plan, Step, action_for, not_ours, pairs, tag_map,
};
use crate::policy;

/// Returns whether the policy is ours to attach (ours, or to be created).
fn ensure_policy(d: &Deployment, spec: &PolicySpec, o: Option<&ObservedPolicy>, plan: &mut Plan) -> bool {
    let mut change = Change::new(KIND_POLICY, &spec.name, Action::Unchanged).with_id(&spec.arn);
    let Some(o) = o else {
        change.action = Action::Create;
        let op = Op::CreatePolicy { name: spec.name.clone(), document: spec.document.clone(), tags: d.tags() };
        plan.step(Step::new(change, vec![op]).in_phase(ENSURE_OWNERS));
        return true;
    };
    if !d.owns(pairs(&o.tags)) {
        plan.finding(not_ours(d, Severity::Warning, "policy", &spec.name));
        plan.step(Step::unchanged(change).in_phase(ENSURE_OWNERS));
        return false;
    }
    let mut ops = Vec::new();
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        change = change.with_diff("tags", tag_map(&o.tags, &[]), tag_map(&o.tags, &missing));
        ops.push(Op::TagPolicy { arn: spec.arn.clone(), tags: missing });
    }
    if !o.document.as_ref().is_some_and(|doc| policy::same(doc, &spec.document)) {
        change = change.with_diff("document", o.document.clone().unwrap_or_default(), spec.document.clone());
        ops.push(Op::SetPolicyDocument { arn: spec.arn.clone(), document: spec.document.clone() });
    }
    change.action = action_for(&ops);
    plan.step(Step::new(change, ops).in_phase(ENSURE_OWNERS));
    true
}

/// Returns whether the role may be given its policies: ours, shared, or
/// to be created.
fn ensure_role(d: &Deployment, spec: &RoleSpec, o: Option<&ObservedRole>, plan: &mut Plan) -> bool {
    let arn = o.map_or(spec.arn.as_str(), |r| r.arn.as_str());
    let mut change = Change::new(KIND_ROLE, &spec.name, Action::Unchanged).with_id(arn);
    let Some(o) = o else {
        change.action = Action::Create;
        let tags = if spec.shared { vec![] } else { d.tags() };
        let op = Op::CreateRole { name: spec.name.clone(), trust: spec.trust.clone(), tags };
        plan.step(Step::new(change, vec![op]).in_phase(ENSURE_OWNERS));
        return true;
    };
    if spec.shared {
        if !policy::trusts_service(&o.trust, spec.service) {
            plan.finding(
                Finding::warning(format!(
                    "shared role {} does not trust {}: EMR cannot use it; fix its trust policy (mk-iam leaves shared roles as they are)",
                    spec.name,
                    spec.service.principal()
                ))
                .with_code("shared-role-untrusting")
                .about(&spec.name),
            );
        }
        plan.step(Step::unchanged(change).in_phase(ENSURE_OWNERS));
        return true;
    }
    if !d.owns(pairs(&o.tags)) {
        plan.finding(not_ours(d, Severity::Warning, "role", &spec.name));
        plan.step(Step::unchanged(change).in_phase(ENSURE_OWNERS));
        return false;
    }
    let mut ops = Vec::new();
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        change = change.with_diff("tags", tag_map(&o.tags, &[]), tag_map(&o.tags, &missing));
        ops.push(Op::TagRole { name: spec.name.clone(), tags: missing });
    }
    if !policy::same(&o.trust, &spec.trust) {
        change = change.with_diff("trust policy", o.trust.clone(), spec.trust.clone());
        ops.push(Op::UpdateTrust { name: spec.name.clone(), trust: spec.trust.clone() });
    }
    change.action = action_for(&ops);
    plan.step(Step::new(change, ops).in_phase(ENSURE_OWNERS));
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
        let change = Change::new(KIND_ATTACHMENT, format!("{}/{name}", spec.name), action).with_id(arn);
        plan.step(Step::new(change, ops).in_phase(ENSURE_DEPENDENTS));
    }
}

fn ensure_profile(d: &Deployment, spec: &ProfileSpec, o: Option<&ObservedProfile>, plan: &mut Plan) {
    let arn = o.map_or(spec.arn.as_str(), |p| p.arn.as_str());
    let mut change = Change::new(KIND_PROFILE, &spec.name, Action::Unchanged).with_id(arn);
    let add_role = Op::AddRoleToInstanceProfile { profile: spec.name.clone(), role: spec.role.clone() };
    let Some(o) = o else {
        change.action = Action::Create;
        let tags = if spec.shared { vec![] } else { d.tags() };
        let ops = vec![Op::CreateInstanceProfile { name: spec.name.clone(), tags }, add_role];
        plan.step(Step::new(change, ops).in_phase(ENSURE_DEPENDENTS));
        return;
    };
    if !spec.shared && !d.owns(pairs(&o.tags)) {
        plan.finding(not_ours(d, Severity::Warning, "instance profile", &spec.name));
        plan.step(Step::unchanged(change).in_phase(ENSURE_DEPENDENTS));
        return;
    }
    let mut ops = Vec::new();
    if !spec.shared {
        let missing = d.missing_tags(pairs(&o.tags));
        if !missing.is_empty() {
            change = change.with_diff("tags", tag_map(&o.tags, &[]), tag_map(&o.tags, &missing));
            ops.push(Op::TagInstanceProfile { name: spec.name.clone(), tags: missing });
        }
    }
    if !o.roles.contains(&spec.role) {
        if spec.shared && !o.roles.is_empty() {
            plan.finding(
                Finding::warning(format!(
                    "shared instance profile {} holds role {} instead of {}: left as it is",
                    spec.name,
                    o.roles.join(", "),
                    spec.role
                ))
                .with_code("shared-profile-other-role")
                .about(&spec.name),
            );
        } else {
            // A profile holds one role: take out the wrong one first.
            ops.extend(
                o.roles
                    .iter()
                    .map(|r| Op::RemoveRoleFromInstanceProfile { profile: spec.name.clone(), role: r.clone() }),
            );
            ops.push(add_role);
            change = change.with_diff("role", o.roles.clone(), vec![spec.role.clone()]);
        }
    }
    change.action = action_for(&ops);
    plan.step(Step::new(change, ops).in_phase(ENSURE_DEPENDENTS));
}

/// Returns whether the user is ours (or to be created).
fn ensure_user(d: &Deployment, spec: &UserSpec, o: Option<&ObservedUser>, plan: &mut Plan) -> bool {
    let arn = o.map_or(spec.arn.as_str(), |u| u.arn.as_str());
    let mut change = Change::new(KIND_USER, &spec.name, Action::Unchanged).with_id(arn);
    let Some(o) = o else {
        change.action = Action::Create;
        let op = Op::CreateUser { name: spec.name.clone(), tags: d.tags() };
        plan.step(Step::new(change, vec![op]).in_phase(ENSURE_OWNERS));
        return true;
    };
    if !d.owns(pairs(&o.tags)) {
        plan.finding(not_ours(d, Severity::Warning, "user", &spec.name));
        plan.step(Step::unchanged(change).in_phase(ENSURE_OWNERS));
        return false;
    }
    let missing = d.missing_tags(pairs(&o.tags));
    if missing.is_empty() {
        plan.step(Step::unchanged(change).in_phase(ENSURE_OWNERS));
    } else {
        change = change.with_diff("tags", tag_map(&o.tags, &[]), tag_map(&o.tags, &missing));
        change.action = Action::Update;
        let op = Op::TagUser { name: spec.name.clone(), tags: missing };
        plan.step(Step::new(change, vec![op]).in_phase(ENSURE_OWNERS));
    }
    true
}

fn ensure_user_policy(spec: &UserSpec, o: Option<&ObservedUser>, plan: &mut Plan) {
    let Some(inline) = &spec.inline else { return };
    let mut change = Change::new(KIND_USER_POLICY, format!("{}/{}", spec.name, inline.name), Action::Create);
    match o.and_then(|u| u.inline.as_ref()) {
        None => {}
        Some(doc) if policy::same(doc, &inline.document) => change.action = Action::Unchanged,
        Some(doc) => {
            change = change.with_diff("document", doc.clone(), inline.document.clone());
            change.action = Action::Update;
        }
    }
    let ops = if change.action == Action::Unchanged {
        vec![]
    } else {
        vec![Op::PutUserPolicy {
            user: spec.name.clone(),
            name: inline.name.clone(),
            document: inline.document.clone(),
        }]
    };
    plan.step(Step::new(change, ops).in_phase(ENSURE_DEPENDENTS));
}

/// The key id the step reports is the key in use once it is done, when
/// known now; a key still to be created gets its id when made.
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
        plan.finding(w.clone());
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
    plan.step(Step::new(change, ops).in_phase(ENSURE_DEPENDENTS));
    kp
}

/// Plans a converge run; returns, per user (in [`Desired::users`] order),
/// its keys' plan, `None` for a user that is not ours.
pub fn plan_ensure(
    d: &Deployment,
    desired: &Desired,
    o: &Observed,
    rotate: bool,
    plan: &mut Plan,
) -> Vec<Option<KeyPlan>> {
    // What depends on nothing.
    let policy_usable: Vec<bool> =
        desired.policies.iter().zip(&o.policies).map(|(s, p)| ensure_policy(d, s, p.as_ref(), plan)).collect();
    let role_usable: Vec<bool> =
        desired.roles.iter().zip(&o.roles).map(|(s, r)| ensure_role(d, s, r.as_ref(), plan)).collect();
    let user_ours: Vec<bool> =
        desired.users.iter().zip(&o.users).map(|(s, u)| ensure_user(d, s, u.as_ref(), plan)).collect();
    // What needs the above.
    for ((spec, r), usable) in desired.roles.iter().zip(&o.roles).zip(role_usable) {
        if usable {
            ensure_attachments(desired, spec, r.as_ref(), &policy_usable, plan);
        }
    }
    for (spec, p) in desired.profiles.iter().zip(&o.profiles) {
        ensure_profile(d, spec, p.as_ref(), plan);
    }
    let mut keys = Vec::new();
    for (i, spec) in desired.users.iter().enumerate() {
        let u = o.users[i].as_ref();
        let kp = user_ours[i].then(|| {
            ensure_user_policy(spec, u, plan);
            ensure_keys(spec, u, o.stored_keys[i].as_deref(), o.pending_keys[i].as_deref(), rotate, plan)
        });
        keys.push(kp);
    }
    keys
}
