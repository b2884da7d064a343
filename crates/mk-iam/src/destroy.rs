//! Planning `--destroy`: what of the client's to delete, in the reverse
//! order of creation. Pure.
//!
//! Only what carries the client's tag goes; a same-name resource without
//! it is left with a finding. The shared EMR roles stay: only our policy
//! is detached from them.

use common::{Action, Change, Deployment, Finding, Severity};

use crate::desired::{Desired, PolicyRef, UserSpec};
use crate::observed::{Observed, ObservedUser};
use crate::op::{
    DESTROY_DEPENDENTS, DESTROY_OWNERS, DESTROY_POLICIES, KIND_ATTACHMENT, KIND_KEY, KIND_POLICY, KIND_PROFILE,
    KIND_ROLE, KIND_USER, KIND_USER_POLICY, Op, Plan, Step, not_ours, pairs,
};

fn delete(kind: &'static str, name: &str, id: &str) -> Change {
    Change::new(kind, name, Action::Delete).with_id(id)
}

/// A user's keys (with the key file and any pending marker) and the inline
/// policy we put on it.
fn user_dependents(spec: &UserSpec, u: &ObservedUser, stored: Option<&str>, pending: bool, plan: &mut Plan) {
    if !u.keys.is_empty() || stored.is_some() || pending {
        let mut ops: Vec<Op> =
            u.keys.iter().map(|k| Op::DeleteAccessKey { user: spec.name.clone(), id: k.id.clone() }).collect();
        ops.push(Op::RemoveKeyFile { user: spec.name.clone() });
        if pending {
            ops.push(Op::ClearPendingKey { user: spec.name.clone() });
        }
        let mut change = Change::new(KIND_KEY, &spec.name, Action::Delete);
        change.id = stored.map(str::to_owned).or_else(|| u.keys.first().map(|k| k.id.clone()));
        plan.step(Step::new(change, ops).in_phase(DESTROY_DEPENDENTS));
    }
    if let Some(inline) = spec.inline.as_ref().filter(|i| u.inline_names.contains(&i.name)) {
        let op = Op::DeleteUserPolicy { user: spec.name.clone(), name: inline.name.clone() };
        let change = Change::new(KIND_USER_POLICY, format!("{}/{}", spec.name, inline.name), Action::Delete);
        plan.step(Step::new(change, vec![op]).in_phase(DESTROY_DEPENDENTS));
    }
}

/// The user itself, with its other policies.
fn user_step(spec: &UserSpec, u: &ObservedUser) -> Step {
    let mut ops: Vec<Op> = u
        .inline_names
        .iter()
        .filter(|n| spec.inline.as_ref().is_none_or(|i| i.name != **n))
        .map(|n| Op::DeleteUserPolicy { user: spec.name.clone(), name: n.clone() })
        .collect();
    ops.extend(u.attached.iter().map(|a| Op::DetachUserPolicy { user: spec.name.clone(), arn: a.clone() }));
    ops.push(Op::DeleteUser { name: spec.name.clone() });
    Step::new(delete(KIND_USER, &spec.name, &u.arn), ops).in_phase(DESTROY_OWNERS)
}

/// The client's instance profile, emptied first.
fn profiles(d: &Deployment, desired: &Desired, o: &Observed, plan: &mut Plan) {
    for (spec, p) in desired.profiles.iter().zip(&o.profiles) {
        let Some(p) = p.as_ref().filter(|_| !spec.shared) else { continue };
        if !d.owns(pairs(&p.tags)) {
            plan.finding(not_ours(d, Severity::Info, "instance profile", &spec.name));
            continue;
        }
        let mut ops: Vec<Op> = p
            .roles
            .iter()
            .map(|r| Op::RemoveRoleFromInstanceProfile { profile: spec.name.clone(), role: r.clone() })
            .collect();
        ops.push(Op::DeleteInstanceProfile { name: spec.name.clone() });
        plan.step(Step::new(delete(KIND_PROFILE, &spec.name, &p.arn), ops).in_phase(DESTROY_DEPENDENTS));
    }
}

/// Our policies, detached from every role (the shared ones too); returns
/// the (role, policy ARN) pairs detached.
fn detach_ours(desired: &Desired, o: &Observed, policy_ours: &[bool], plan: &mut Plan) -> Vec<(String, String)> {
    let mut detached = Vec::new();
    for (spec, r) in desired.roles.iter().zip(&o.roles) {
        let Some(r) = r else { continue };
        for p in &spec.policies {
            let PolicyRef::Ours(i) = p else { continue };
            let (arn, name) = desired.resolve(p);
            if policy_ours[*i] && r.attached.contains(&arn) {
                let op = Op::DetachRolePolicy { role: spec.name.clone(), arn: arn.clone() };
                let change = delete(KIND_ATTACHMENT, &format!("{}/{name}", spec.name), &arn);
                plan.step(Step::new(change, vec![op]).in_phase(DESTROY_DEPENDENTS));
                detached.push((spec.name.clone(), arn));
            }
        }
    }
    detached
}

/// The client's role, with what is still attached to it.
fn roles(d: &Deployment, desired: &Desired, o: &Observed, detached: &[(String, String)], plan: &mut Plan) {
    for (spec, r) in desired.roles.iter().zip(&o.roles) {
        let Some(r) = r.as_ref().filter(|_| !spec.shared) else { continue };
        if !d.owns(pairs(&r.tags)) {
            plan.finding(not_ours(d, Severity::Info, "role", &spec.name));
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
        plan.step(Step::new(delete(KIND_ROLE, &spec.name, &r.arn), ops).in_phase(DESTROY_OWNERS));
    }
}

/// The policies, with their other versions.
fn policies(d: &Deployment, desired: &Desired, o: &Observed, policy_ours: &[bool], plan: &mut Plan) {
    for ((spec, p), ours) in desired.policies.iter().zip(&o.policies).zip(policy_ours) {
        let Some(p) = p else { continue };
        if !ours {
            plan.finding(not_ours(d, Severity::Info, "policy", &spec.name));
            continue;
        }
        let mut ops: Vec<Op> = p
            .other_versions
            .iter()
            .map(|v| Op::DeletePolicyVersion { arn: spec.arn.clone(), version: v.clone() })
            .collect();
        ops.push(Op::DeletePolicy { arn: spec.arn.clone() });
        plan.step(Step::new(delete(KIND_POLICY, &spec.name, &spec.arn), ops).in_phase(DESTROY_POLICIES));
    }
}

/// Plans `--destroy` (see the module's doc).
pub fn plan_destroy(d: &Deployment, desired: &Desired, o: &Observed, plan: &mut Plan) {
    let mut users_ours = Vec::new();
    for (i, spec) in desired.users.iter().enumerate() {
        let Some(u) = o.users[i].as_ref() else { continue };
        if !d.owns(pairs(&u.tags)) {
            plan.finding(not_ours(d, Severity::Info, "user", &spec.name));
            continue;
        }
        user_dependents(spec, u, o.stored_keys[i].as_deref(), o.pending_keys[i].is_some(), plan);
        users_ours.push((spec, u));
    }
    profiles(d, desired, o, plan);
    let policy_ours: Vec<bool> =
        o.policies.iter().map(|p| p.as_ref().is_some_and(|p| d.owns(pairs(&p.tags)))).collect();
    let detached = detach_ours(desired, o, &policy_ours, plan);
    for (spec, u) in users_ours {
        plan.step(user_step(spec, u));
    }
    roles(d, desired, o, &detached, plan);
    policies(d, desired, o, &policy_ours, plan);

    let shared: Vec<&str> = desired.roles.iter().filter(|r| r.shared).map(|r| r.name.as_str()).collect();
    plan.finding(
        Finding::info(format!("{} are shared by every deployment in the account: kept", shared.join(" and ")))
            .with_code("shared-roles-kept"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{converged, d, desired, desired_named, find, names};

    /// The destroy plan (`destroy` is true here).
    fn plan(d: &Deployment, want: &Desired, o: &Observed, destroy: bool, rotate: bool) -> Plan {
        assert!(destroy && !rotate);
        let mut p = Plan::default();
        plan_destroy(d, want, o, &mut p);
        p
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
    fn destroy_removes_only_ours_in_reverse_order() {
        let want = desired(true);
        let mut o = converged(&want);
        o.policies[0].as_mut().unwrap().other_versions = vec!["v1".into()];
        let p = plan(&d(), &want, &o, true, false);
        assert!(p.steps.iter().all(|s| s.change().action == Action::Delete));
        assert!(p.steps.iter().all(|s| !s.change().name.starts_with("EMR_") || s.change().kind == KIND_ATTACHMENT));
        let s = find(&p, KIND_ATTACHMENT, "EMR_EC2_DefaultRole/acme-elasticsearch-all");
        assert_eq!(s.phase, 0);
        assert!(p.steps.iter().all(|s| s.change().name != "EMR_EC2_DefaultRole/AmazonElasticMapReduceforEC2Role"));
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
        assert!(p.steps.iter().all(|s| !s.change().name.contains("edxanalytics") && !s.change().name.contains("EMR_")));
        assert!(p.steps.iter().all(|s| s.change().name != "emr-nodes"), "the shared role stays shared");
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
