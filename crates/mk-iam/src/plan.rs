//! Comparing the desired IAM resources with what exists: a
//! `common::Plan` of [`Op`]s, by pure code. Converging is planned in
//! [`crate::ensure`], destroying in [`crate::destroy`]; the calls, kinds and
//! phases they share are in [`crate::op`].
//!
//! The phases: converging, policies, roles and users first (they need
//! nothing), then the attachments, instance profiles (and the role each
//! holds), the users' inline policies and access keys; destroying, the
//! reverse: keys, the users' policies, the profile and our attachments,
//! then the users and the client's role, then the policies.

use common::Deployment;

use crate::desired::Desired;
use crate::keys::KeyPlan;
use crate::observed::Observed;
pub use crate::op::{Op, Plan, Step};

/// Plans the run: converge, or destroy what is the client's. Also returns,
/// per user (in [`Desired::users`] order), its keys' plan: `None` for a
/// user that is not ours, and on destroy.
pub fn plan(
    d: &Deployment,
    desired: &Desired,
    o: &Observed,
    destroy: bool,
    rotate_keys: bool,
) -> (Plan, Vec<Option<KeyPlan>>) {
    let mut plan = Plan::default();
    let keys = if destroy {
        crate::destroy::plan_destroy(d, desired, o, &mut plan);
        vec![None; desired.users.len()]
    } else {
        crate::ensure::plan_ensure(d, desired, o, rotate_keys, &mut plan)
    };
    (plan, keys)
}

#[cfg(test)]
mod tests {
    use common::Action;

    use super::*;
    use crate::fixtures::{converged, d, desired, empty, find, mutating_ops};
    use crate::op::{
        DESTROY_OWNERS, DESTROY_POLICIES, ENSURE_DEPENDENTS, ENSURE_OWNERS, KIND_ATTACHMENT, KIND_KEY, KIND_POLICY,
        KIND_PROFILE, KIND_ROLE, KIND_USER,
    };
    use crate::policy;

    #[test]
    fn empty_account_creates_everything_tagged() {
        let want = desired(true);
        let (p, keys) = plan(&d(), &want, &empty(&want), false, false);
        assert!(keys.iter().all(|k| k.as_ref().is_some_and(|k| k.key_id.is_none())), "no key yet");
        assert!(p.steps.iter().all(|s| s.change().action == Action::Create), "{:?}", p.steps);
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
                .all(|s| [KIND_POLICY, KIND_ROLE, KIND_USER].contains(&s.change().kind))
        );
    }

    #[test]
    fn converged_account_is_unchanged() {
        let want = desired(true);
        let (p, keys) = plan(&d(), &want, &converged(&want), false, false);
        assert!(p.steps.iter().all(|s| s.change().action == Action::Unchanged), "{:?}", p.steps);
        assert_eq!(mutating_ops(&p), 0);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(keys[1].as_ref().unwrap().key_id.as_deref(), Some("AK1"));
    }

    #[test]
    fn phases_put_what_is_needed_first() {
        let want = desired(true);
        let (p, _) = plan(&d(), &want, &empty(&want), false, false);
        for s in &p.steps {
            let first = [KIND_POLICY, KIND_ROLE, KIND_USER].contains(&s.change().kind);
            assert_eq!(s.phase, if first { ENSURE_OWNERS } else { ENSURE_DEPENDENTS }, "{:?}", s.change());
        }
        let (p, keys) = plan(&d(), &want, &converged(&want), true, false);
        assert!(keys.iter().all(Option::is_none));
        assert_eq!(find(&p, KIND_USER, "acme-analytics-reports").phase, DESTROY_OWNERS);
        assert_eq!(find(&p, KIND_POLICY, "acme-elasticsearch-all").phase, DESTROY_POLICIES);
        assert!(p.steps.iter().all(|s| s.change().action == Action::Delete));
    }
}
