//! The hosts' part of a converging plan: each host kept (its tags and
//! IMDSv2 put right) or launched, its instance profile, and the Elastic IP
//! on the first analytics host. Pure.

use common::{Action, Change, Deployment, Finding};

use crate::converge::{Converge, Deferred, HostSlot, Step};
use crate::desired::{Desired, HostSpec, Role};
use crate::observed::{Address, Host, Observed, missing_tags, profile_name, role_tags};
use crate::op::{ADDRESS, HOSTS, KIND_ADDRESS, KIND_INSTANCE, KIND_PROFILE, Launch, Op, PROFILES};

/// The `count` smallest indexes from 1 that `used` does not hold.
pub fn next_free_indexes(used: &[u32], count: usize) -> Vec<u32> {
    (1..).filter(|i| !used.contains(i)).take(count).collect()
}

fn warning(message: String, code: &'static str, about: &str) -> Finding {
    Finding::warning(message).with_code(code).about(about)
}

pub fn plan_hosts(d: &Deployment, spec: &HostSpec, o: &Observed, c: &mut Converge) {
    let mut found: Vec<&Host> = o.hosts.iter().filter(|h| h.role == spec.role).collect();
    found.sort_by_key(|h| h.sort_key());
    for h in &found {
        let mut ops = Vec::new();
        let mut details = Vec::new();
        let missing = missing_tags(&role_tags(d, spec.role, h.name.as_deref()), &h.tags);
        if !missing.is_empty() {
            ops.push(Op::Tag { id: h.id.clone(), tags: missing });
            details.push("tags".to_owned());
        }
        if h.http_tokens.as_deref() != Some("required") {
            ops.push(Op::RequireImdsv2 { id: h.id.clone(), label: h.label() });
            details.push("IMDSv2 required".to_owned());
        }
        if h.instance_type != spec.instance_type {
            c.plan.finding(warning(
                format!(
                    "{} ({}) is a {}, not a {}: left as it is, since changing the type needs the host stopped \
                     (aws ec2 stop-instances, modify-instance-attribute --instance-type, start-instances)",
                    h.label(),
                    h.id,
                    h.instance_type,
                    spec.instance_type
                ),
                "instance-type-drift",
                &h.id,
            ));
        }
        if matches!(h.state.as_str(), "stopped" | "stopping") {
            c.plan.finding(warning(
                format!(
                    "{} ({}) is {}: left so; start it with aws ec2 start-instances --instance-ids {}",
                    h.label(),
                    h.id,
                    h.state,
                    h.id
                ),
                "host-stopped",
                &h.id,
            ));
        }
        let action = if ops.is_empty() { Action::Unchanged } else { Action::Update };
        let change = Change::new(KIND_INSTANCE, h.label(), action).with_id(&h.id).with_details(details);
        c.plan.step(Step::new(change, ops).in_phase(HOSTS));
        c.hosts.push(HostSlot { spec: spec.clone(), name: h.label(), existing: Some((*h).clone()) });
    }
    let wanted = spec.count as usize;
    if found.len() < wanted {
        let used: Vec<u32> = found.iter().filter_map(|h| h.index()).collect();
        for index in next_free_indexes(&used, wanted - found.len()) {
            let name = spec.host_name(index);
            let tags = role_tags(d, spec.role, Some(&name));
            let launch = Launch { slot: c.hosts.len(), spec: spec.clone(), index, name: name.clone(), tags };
            let change = Change::new(KIND_INSTANCE, &name, Action::Create);
            c.plan.step(Step::new(change, vec![Op::Launch(Box::new(launch))]).in_phase(HOSTS));
            c.hosts.push(HostSlot { spec: spec.clone(), name, existing: None });
        }
    } else if found.len() > wanted {
        c.plan.finding(Finding::info(format!(
            "{} {} hosts exist where {} are wanted: none is terminated (only --destroy terminates)",
            found.len(),
            spec.role.tag(),
            wanted
        )));
    }
}

/// The hosts' instance profiles; whether one is to be associated (and so
/// must exist).
pub fn plan_profiles(w: &Desired, c: &mut Converge, waits: bool) -> bool {
    let mut needed = false;
    for slot in 0..c.hosts.len() {
        let h = c.hosts[slot].clone();
        let Some(profile) = h.spec.instance_profile.clone() else { continue };
        let change = |action| Change::new(KIND_PROFILE, format!("{}/{profile}", h.name), action);
        let step = match &h.existing {
            // The launch carries the profile.
            None => Step::new(change(Action::Create), vec![Op::ProfileOfLaunch { slot }]),
            Some(host) => match &host.profile_arn {
                None if h.settles(waits) => {
                    Step::new(change(Action::Create), vec![Op::AssociateProfile { slot, profile: profile.clone() }])
                }
                None => {
                    c.deferred.push(Deferred::Profile { slot, profile });
                    needed = true;
                    continue;
                }
                Some(arn) if profile_name(arn) == w.instance_profile => {
                    Step::unchanged(change(Action::Unchanged).with_id(arn))
                }
                Some(arn) => {
                    let message = format!(
                        "{} ({}) runs with instance profile {arn}, not {profile}: left as it is (replace it with \
                         aws ec2 replace-iam-instance-profile-association)",
                        host.label(),
                        host.id
                    );
                    c.plan.finding(warning(message, "foreign-instance-profile", &host.id));
                    continue;
                }
            },
        };
        needed |= step.change().action == Action::Create;
        c.plan.step(step.in_phase(PROFILES));
    }
    needed
}

pub fn plan_address(d: &Deployment, w: &Desired, o: &Observed, c: &mut Converge, waits: bool) {
    // The first analytics host (hosts are in index order) carries the address.
    let Some(target) = c.hosts.iter().position(|h| h.spec.role == Role::Analytics) else { return };
    let target_id = c.hosts[target].existing.as_ref().map(|h| h.id.clone());
    let associate = c.hosts[target].settles(waits);
    let tags = role_tags(d, Role::Analytics, Some(&w.address_name));
    let mut ours: Vec<&Address> = o.addresses.iter().collect();
    ours.sort_by_key(|a| (a.instance_id.is_none() || a.instance_id != target_id, a.allocation_id.clone()));
    let mut ops = Vec::new();
    let Some(a) = ours.first() else {
        ops.push(Op::AllocateAddress { tags });
        if associate {
            ops.push(Op::AssociateAddress { slot: target });
        } else {
            c.deferred.push(Deferred::Address { slot: target });
        }
        let change = Change::new(KIND_ADDRESS, &w.address_name, Action::Create);
        c.plan.step(Step::new(change, ops).in_phase(ADDRESS));
        return;
    };
    for extra in &ours[1..] {
        c.plan.finding(warning(
            format!(
                "Elastic IP {} ({}) is also tagged for {}: only {} is used; release the other (aws ec2 \
                 release-address)",
                extra.public_ip, extra.allocation_id, d.client, a.public_ip
            ),
            "extra-address",
            &extra.allocation_id,
        ));
    }
    let mut details = Vec::new();
    let missing = missing_tags(&tags, &a.tags);
    if !missing.is_empty() {
        details.push("tags".to_owned());
        ops.push(Op::Tag { id: a.allocation_id.clone(), tags: missing });
    }
    match (&a.instance_id, &target_id) {
        (Some(on), Some(t)) if on == t => {}
        (None, _) if associate => {
            ops.push(Op::AssociateAddress { slot: target });
            details.push("association".to_owned());
        }
        (None, _) => c.deferred.push(Deferred::Address { slot: target }),
        (Some(on), _) => c.plan.finding(warning(
            format!(
                "Elastic IP {} is associated with {on}, not with {}: left as it is",
                a.public_ip, c.hosts[target].name
            ),
            "address-elsewhere",
            &a.allocation_id,
        )),
    }
    let action = if details.is_empty() { Action::Unchanged } else { Action::Update };
    let change = Change::new(KIND_ADDRESS, &w.address_name, action).with_id(&a.allocation_id).with_details(details);
    c.plan.step(Step::new(change, ops).in_phase(ADDRESS));
    c.address = Some((*a).clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{address_step, converged, dep, host, in_phase, ops, step, want};

    /// The hosts' part of the plan alone.
    fn hosts(w: &Desired, o: &Observed, waits: bool) -> Converge {
        let mut c = Converge::default();
        for spec in &w.hosts {
            plan_hosts(&dep(), spec, o, &mut c);
        }
        plan_profiles(w, &mut c, waits);
        plan_address(&dep(), w, o, &mut c, waits);
        c
    }

    #[test]
    fn free_indexes() {
        assert_eq!(next_free_indexes(&[], 1), [1]);
        assert_eq!(next_free_indexes(&[1], 2), [2, 3]);
        assert_eq!(next_free_indexes(&[2, 4], 3), [1, 3, 5]);
        assert_eq!(next_free_indexes(&[1, 2], 0), Vec::<u32>::new());
    }

    #[test]
    fn host_index_from_name() {
        let mut h = host(Role::Analytics, 3, "i-1");
        assert_eq!(h.index(), Some(3));
        h.name = Some("director-2".into());
        assert_eq!(h.index(), None);
        h.name = Some("analytics-0".into());
        assert_eq!(h.index(), None);
        h.name = None;
        assert_eq!(h.index(), None);
        assert_eq!(h.label(), "i-1");
        assert_eq!(profile_name("arn:aws:iam::1:instance-profile/path/acme-edxanalytics"), "acme-edxanalytics");
    }

    #[test]
    fn more_analytics_hosts_take_free_indexes() {
        let mut o = converged();
        o.hosts.push(host(Role::Analytics, 3, "i-a3"));
        let c = hosts(&want(3, true), &o, true);
        let launched: Vec<&str> = c.launches().map(|l| l.name.as_str()).collect();
        assert_eq!(launched, ["analytics-2"]);
        assert_eq!(c.launches().next().unwrap().slot, 2, "after analytics-1 and analytics-3");
        let c = hosts(&want(1, true), &o, true);
        assert_eq!(c.launches().count(), 0);
        assert!(c.plan.findings.iter().any(|f| f.message.contains("2 analytics hosts exist")), "{:?}", c.plan.findings);
    }

    #[test]
    fn drift_fixes_and_findings() {
        let mut o = converged();
        o.hosts[0].instance_type = "t2.small".into();
        o.hosts[0].http_tokens = Some("optional".into());
        o.hosts[1].tags.retain(|(k, _)| k != "analytics:managed-by");
        o.hosts[1].state = "stopped".into();
        o.hosts[0].profile_arn = Some("arn:aws:iam::1:instance-profile/other".into());
        let c = hosts(&want(1, true), &o, true);
        let a = step(&c, KIND_INSTANCE, "analytics-1");
        assert_eq!(a.change().action, Action::Update);
        assert_eq!(a.change().details, ["IMDSv2 required"]);
        assert_eq!(a.ops, [Op::RequireImdsv2 { id: "i-a1".into(), label: "analytics-1".into() }]);
        assert_eq!(
            ops(&c, KIND_INSTANCE, "director-1"),
            [Op::Tag { id: "i-d1".into(), tags: vec![("analytics:managed-by".into(), "mk-ec2".into())] }]
        );
        let msgs: Vec<&str> = c.plan.findings.iter().map(|f| f.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("is a t2.small, not a t2.medium")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("director-1 (i-d1) is stopped")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("instance-profile/other")), "{msgs:?}");
        assert!(in_phase(&c, PROFILES).is_empty(), "a foreign profile is not replaced");
    }

    #[test]
    fn elastic_ip_cases() {
        let mut o = converged();
        o.addresses[0].instance_id = None;
        o.addresses[0].association_id = None;
        let c = hosts(&want(1, true), &o, true);
        let a = address_step(&c).unwrap();
        assert_eq!((a.change().action, &a.ops[..]), (Action::Update, &[Op::AssociateAddress { slot: 0 }][..]));
        o.addresses[0].instance_id = Some("i-elsewhere".into());
        let c = hosts(&want(1, true), &o, true);
        let a = address_step(&c).unwrap();
        assert_eq!((a.change().action, a.ops.len()), (Action::Unchanged, 0));
        assert!(
            c.plan.findings.iter().any(|f| f.message.contains("associated with i-elsewhere")),
            "{:?}",
            c.plan.findings
        );
    }
}
