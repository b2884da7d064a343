//! The converging plan: from the hosts, key pairs and address we want and
//! what exists, the steps that make them (key pairs, then hosts, then the
//! wait for the hosts starting, then their instance profiles, then the
//! Elastic IP), the findings, and what is missing for them. Pure: no I/O.
//! The key pairs' part is in [`crate::plan_keys`], the hosts' in
//! [`crate::plan_hosts`], destroy's plan in [`crate::plan_destroy`]; its
//! shape in [`crate::converge`].

use std::collections::BTreeSet;

use common::{Deployment, Finding};

use crate::converge::{Converge, Step};
use crate::desired::{Desired, Role};
use crate::image::ImageChoice;
use crate::observed::{Host, Observed};
use crate::op::{Op, WAIT_RUNNING};
use crate::plan_hosts::{plan_address, plan_hosts, plan_profiles};
use crate::plan_keys::plan_key_pair;

/// What a launch or an association needs and is not there.
fn prerequisites(w: &Desired, o: &Observed, c: &mut Converge, profile_needed: bool) {
    let launching: BTreeSet<Role> = c.launches().map(|l| l.spec.role).collect();
    if !launching.is_empty() && o.image.is_none() {
        c.missing.push(match &w.image {
            ImageChoice::Lookup { pattern, owner, .. } => format!(
                "no available image named {pattern} owned by Canonical ({owner}) in this region: choose another \
                 --ubuntu-release or pass --ami-id"
            ),
            ImageChoice::Given(id) => format!("image {id} not found in this region"),
        });
    }
    if let Some(n) = o.network.as_ref().filter(|_| !launching.is_empty()) {
        let mut groups = vec!["default".to_owned()];
        groups.extend(w.hosts.iter().filter(|h| launching.contains(&h.role)).map(|h| h.group_name.clone()));
        for g in groups {
            if !o.groups.contains_key(&g) {
                c.missing.push(format!("security group {g} not found in {}: run mk-sg first", n.vpc_id));
            }
        }
    }
    if profile_needed && o.instance_profile_exists == Some(false) {
        c.missing.push(format!("instance profile {} not found: run mk-iam first", w.instance_profile));
    }
}

/// Whether the plan will need the instance profile: a launch of an
/// analytics host, or one running without a profile. Observe looks the
/// profile up only then.
pub fn needs_instance_profile(w: &Desired, o: &Observed) -> bool {
    w.hosts.iter().filter(|s| s.instance_profile.is_some()).any(|s| {
        let found: Vec<&Host> = o.hosts.iter().filter(|h| h.role == s.role).collect();
        found.len() < s.count as usize || found.iter().any(|h| h.profile_arn.is_none())
    })
}

/// The plan for a converging run; `waits` when the run waits for the
/// hosts it starts (no `--no-wait`).
pub fn plan(d: &Deployment, w: &Desired, o: &Observed, waits: bool) -> Converge {
    let mut c = Converge::default();
    for spec in &w.key_pairs {
        let k = plan_key_pair(d, w, spec, o, &mut c.plan, &mut c.missing);
        c.key_pairs.push(k);
    }
    for spec in &w.hosts {
        plan_hosts(d, spec, o, &mut c);
    }
    for role in Role::ALL.into_iter().filter(|r| w.host(*r).is_none()) {
        for h in o.hosts.iter().filter(|h| h.role == role) {
            c.plan.finding(
                Finding::info(format!(
                    "{} ({}) exists and is not managed by this run (--no-{}): left as it is",
                    h.label(),
                    h.id,
                    role.tag()
                ))
                .with_code("unmanaged-host")
                .about(&h.id),
            );
        }
    }
    let starting = c.hosts.iter().any(|h| h.existing.as_ref().is_none_or(|h| h.state == "pending"));
    if waits && starting {
        // Changes nothing itself: waits for what the hosts' phase started.
        c.plan.step(Step::ops_only(vec![Op::WaitRunning]).in_phase(WAIT_RUNNING));
    }
    let profile_needed = plan_profiles(w, &mut c, waits);
    plan_address(d, w, o, &mut c, waits);
    prerequisites(w, o, &mut c, profile_needed);
    if o.image.is_none() && c.launches().next().is_none() {
        c.plan.info("no image matches; none is needed, since every host exists");
    }
    c
}

#[cfg(test)]
mod tests {
    use common::Action;

    use super::*;
    use crate::converge::Deferred;
    use crate::desired::KeySource;
    use crate::fixtures::{actions, address_step, converged, dep, empty_account, in_phase, ops, step, want};
    use crate::observed::key_pair_tags;
    use crate::op::{ADDRESS, HOSTS, KEY_PAIRS, KIND_INSTANCE, KIND_KEY_PAIR, KIND_PROFILE, PROFILES};

    #[test]
    fn empty_account_creates_everything() {
        let c = plan(&dep(), &want(1, true), &empty_account(), true);
        assert_eq!(
            actions(&c),
            [
                "ec2-key-pair acme-analytics created",
                "ec2-key-pair acme-director created",
                "ec2-instance analytics-1 created",
                "ec2-instance director-1 created",
                "iam-instance-profile-association analytics-1/acme-edxanalytics created",
                "elastic-ip acme-analytics created",
            ]
        );
        assert!(c.missing.is_empty(), "{:?}", c.missing);
        assert!(matches!(ops(&c, KIND_KEY_PAIR, "acme-analytics"), [Op::GenerateKey { .. }]));
        assert!(c.key_pairs.iter().all(|k| k.holds_private_key));
        let [Op::Launch(l)] = ops(&c, KIND_INSTANCE, "analytics-1") else { panic!() };
        assert_eq!((l.slot, l.index, l.name.as_str()), (0, 1, "analytics-1"));
        assert!(l.tags.contains(&("Name".into(), "analytics-1".into())));
        assert!(l.tags.contains(&("analytics:role".into(), "analytics".into())));
        assert!(l.tags.contains(&("analytics:managed-by".into(), "mk-ec2".into())));
        assert_eq!(
            ops(&c, KIND_PROFILE, "analytics-1/acme-edxanalytics"),
            [Op::ProfileOfLaunch { slot: 0 }],
            "the launch carries the profile"
        );
        let a = address_step(&c).unwrap();
        assert!(matches!(&a.ops[..], [Op::AllocateAddress { .. }, Op::AssociateAddress { slot: 0 }]), "{:?}", a.ops);
        // Phases: key pairs, hosts, the wait, profiles, the address.
        let phases: Vec<u8> = c.plan.steps.iter().map(|s| s.phase).collect();
        assert_eq!(phases, [KEY_PAIRS, KEY_PAIRS, HOSTS, HOSTS, WAIT_RUNNING, PROFILES, ADDRESS]);
        assert_eq!(in_phase(&c, WAIT_RUNNING)[0].ops, [Op::WaitRunning]);
        assert!(c.deferred.is_empty());
    }

    #[test]
    fn converged_is_unchanged() {
        let c = plan(&dep(), &want(1, true), &converged(), true);
        assert!(c.plan.changes().all(|c| c.action == Action::Unchanged), "{:?}", actions(&c));
        assert_eq!(c.plan.changes().count(), 6);
        assert!(c.plan.findings.is_empty(), "{:?}", c.plan.findings);
        assert!(!c.plan.has_work(), "nothing to send, not even a wait");
    }

    #[test]
    fn public_key_imports() {
        let mut w = want(1, false);
        w.public_key = Some("ssh-ed25519 AAAA me".into());
        let c = plan(&dep(), &w, &empty_account(), true);
        assert_eq!(
            ops(&c, KIND_KEY_PAIR, "acme-analytics"),
            [Op::ImportKeyPair {
                spec: w.key_pairs[0].clone(),
                public_key: "ssh-ed25519 AAAA me".into(),
                tags: key_pair_tags(&dep(), Role::Analytics, KeySource::Operator),
            }]
        );
        assert!(!c.key_pairs[0].holds_private_key, "the operator holds it");
        assert_eq!(key_pair_tags(&dep(), Role::Analytics, KeySource::Operator).last().unwrap().1, "operator");
        assert_eq!(c.hosts.len(), 1);
    }

    #[test]
    fn a_host_without_profile_gets_it_associated() {
        let mut o = converged();
        o.hosts[0].profile_arn = None;
        let c = plan(&dep(), &want(1, true), &o, true);
        let s = step(&c, KIND_PROFILE, "analytics-1/acme-edxanalytics");
        assert_eq!(s.ops, [Op::AssociateProfile { slot: 0, profile: "acme-edxanalytics".into() }]);
        assert_eq!(s.change().action, Action::Create);
        assert!(needs_instance_profile(&want(1, true), &o));
        assert!(!needs_instance_profile(&want(1, true), &converged()));
        o.instance_profile_exists = Some(false);
        let c = plan(&dep(), &want(1, true), &o, true);
        assert_eq!(c.missing, ["instance profile acme-edxanalytics not found: run mk-iam first"]);
    }

    #[test]
    fn without_waiting_associations_are_left_to_a_later_run() {
        // Launched and not waited for: the address is allocated, not associated.
        let c = plan(&dep(), &want(1, false), &empty_account(), false);
        let a = address_step(&c).unwrap();
        assert!(matches!(&a.ops[..], [Op::AllocateAddress { .. }]), "{:?}", a.ops);
        assert_eq!(a.change().action, Action::Create);
        assert_eq!(c.deferred, [Deferred::Address { slot: 0 }]);
        assert!(in_phase(&c, WAIT_RUNNING).is_empty());
        // A pending host without a profile and an unassociated address.
        let mut o = converged();
        o.hosts[0].state = "pending".into();
        o.hosts[0].profile_arn = None;
        o.addresses[0].instance_id = None;
        o.addresses[0].association_id = None;
        let c = plan(&dep(), &want(1, true), &o, false);
        assert_eq!(address_step(&c).unwrap().change().action, Action::Unchanged, "nothing to do now");
        assert!(in_phase(&c, PROFILES).is_empty());
        assert_eq!(
            c.deferred,
            [Deferred::Profile { slot: 0, profile: "acme-edxanalytics".into() }, Deferred::Address { slot: 0 }]
        );
        // Waited for, it gets both.
        let c = plan(&dep(), &want(1, true), &o, true);
        assert!(c.deferred.is_empty());
        assert_eq!(in_phase(&c, WAIT_RUNNING)[0].ops, [Op::WaitRunning]);
        assert_eq!(address_step(&c).unwrap().ops, [Op::AssociateAddress { slot: 0 }]);
    }

    #[test]
    fn an_unwanted_director_is_left_alone() {
        let c = plan(&dep(), &want(1, false), &converged(), true);
        assert_eq!(c.hosts.len(), 1);
        assert!(c.plan.findings.iter().any(|f| f.message.contains("director-1 (i-d1) exists and is not managed")));
    }

    #[test]
    fn missing_prerequisites_only_when_launching() {
        let mut o = empty_account();
        o.groups.remove("acme-director");
        o.image = None;
        o.instance_profile_exists = Some(false);
        let c = plan(&dep(), &want(1, true), &o, true);
        assert_eq!(c.missing.len(), 3, "{:?}", c.missing);
        assert!(c.missing[0].contains("ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*"));
        assert!(c.missing[1].contains("acme-director not found in vpc-1: run mk-sg first"));
        let mut o = converged();
        o.groups.clear();
        o.image = None;
        let c = plan(&dep(), &want(1, true), &o, true);
        assert!(c.missing.is_empty());
        assert!(c.plan.findings.iter().any(|f| f.message.starts_with("no image matches; none is needed")));
    }
}
