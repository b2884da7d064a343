//! Planning `--destroy`: this client's groups and rules, EMR's shared pair
//! only while nothing else uses it, every reference to a group that goes
//! removed first. Pure.

use std::collections::BTreeSet;

use common::{Action, Change, Deployment, Finding};

use crate::desired::Desired;
use crate::observed::{Observed, ObservedRule, created_by_us, found};
use crate::op::{DESTROY_GROUPS, DESTROY_RULES, Names, Op, Plan, Step, rule_change};
use crate::rule::{GroupRef, Owner, owner};

/// Which of our groups may go by themselves: those tagged as created for
/// this client and not in use (EMR's shared pair is kept while in use, a
/// group of this client in use is an error: what uses it must go first).
fn candidates<'a>(
    d: &Deployment,
    desired: &Desired,
    o: &'a Observed,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<BTreeSet<&'a str>> {
    let mut doomed = BTreeSet::new();
    for (role, g) in found(desired, o) {
        if !created_by_us(d, g) {
            findings.push(
                Finding::info(format!(
                    "security group {} ({}) was not created by mk-sg for {}: kept; only this client's rules \
                     are removed",
                    g.name, g.id, d.client
                ))
                .with_code("foreign-resource")
                .about(&g.name),
            );
            continue;
        }
        match (o.in_use.get(&g.id), role.is_shared()) {
            (Some(enis), false) if !enis.is_empty() => anyhow::bail!(
                "security group {} ({}) is still used by {}: remove what uses it first (mk-ec2 --destroy, \
                 mk-rds --destroy), then re-run",
                g.name,
                g.id,
                enis.join(", ")
            ),
            (Some(enis), true) if !enis.is_empty() => findings.push(
                Finding::info(format!("security group {} ({}) is kept: {} use it", g.name, g.id, enis.join(", ")))
                    .with_code("shared-group-in-use")
                    .about(&g.name),
            ),
            _ => {
                doomed.insert(g.id.as_str());
            }
        }
    }
    Ok(doomed)
}

/// Which of our groups go: the [`candidates`], less EMR's shared pair
/// while no network interface and no rule that stays refers to them. In
/// creation order, reversed.
fn deletable(
    d: &Deployment,
    desired: &Desired,
    o: &Observed,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<Vec<String>> {
    let found = found(desired, o);
    let mut doomed = candidates(d, desired, o, findings)?;
    let shared: BTreeSet<&str> = found.iter().filter(|(r, _)| r.is_shared()).map(|(_, g)| g.id.as_str()).collect();
    let ours: BTreeSet<&str> = found.values().map(|g| g.id.as_str()).collect();
    let client = d.client.as_str();
    // A shared group stays while a surviving group keeps a rule that refers to it.
    loop {
        let keeper = doomed.iter().copied().filter(|id| shared.contains(id)).find_map(|id| {
            o.groups
                .iter()
                .filter(|g| !doomed.contains(g.id.as_str()))
                .find(|g| {
                    g.ingress.iter().chain(&g.egress).any(|r| {
                        r.rule.source_group() == Some(&GroupRef::Id(id.to_owned()))
                            && !(ours.contains(g.id.as_str())
                                && owner(r.description.as_deref(), client) == Owner::ThisClient)
                    })
                })
                .map(|g| (id, g))
        });
        let Some((id, g)) = keeper else { break };
        doomed.remove(id);
        let name = o.groups.iter().find(|x| x.id == id).map_or(id, |x| x.name.as_str());
        findings.push(
            Finding::info(format!("security group {name} ({id}) is kept: rules of {} ({}) refer to it", g.name, g.id))
                .with_code("shared-group-referenced")
                .about(name),
        );
    }
    Ok(desired
        .groups
        .iter()
        .rev()
        .filter_map(|s| found.get(&s.role))
        .filter(|g| doomed.contains(g.id.as_str()))
        .map(|g| g.id.clone())
        .collect())
}

pub fn destroy(d: &Deployment, desired: &Desired, o: &Observed) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let doomed = deletable(d, desired, o, &mut plan.findings)?;
    let ours: BTreeSet<&str> = found(desired, o).values().map(|g| g.id.as_str()).collect();
    let names = Names { desired, observed: &o.groups };
    let client = d.client.as_str();

    // First every reference to a group that goes (EMR's pair refer to each
    // other), and this client's rules on the groups that stay.
    for g in &o.groups {
        let going = doomed.contains(&g.id);
        let refers = |r: &ObservedRule| match r.rule.source_group() {
            Some(GroupRef::Id(x)) => x != &g.id && doomed.contains(x),
            _ => false,
        };
        for (egress, rules) in [(false, &g.ingress), (true, &g.egress)] {
            let revoke: Vec<ObservedRule> = rules
                .iter()
                .filter(|r| {
                    refers(r)
                        || (!egress
                            && !going
                            && ours.contains(g.id.as_str())
                            && owner(r.description.as_deref(), client) == Owner::ThisClient)
                })
                .cloned()
                .collect();
            if revoke.is_empty() {
                continue;
            }
            let direction = if egress { "egress" } else { "ingress" };
            let changes =
                revoke.iter().map(|r| rule_change(names.rule(&g.name, direction, &r.rule), Action::Delete)).collect();
            let op = Op::Revoke { group_id: g.id.clone(), egress, rules: revoke };
            plan.step(Step::batch(changes, vec![op]).in_phase(DESTROY_RULES));
        }
    }
    for id in doomed {
        let name = names.of(&GroupRef::Id(id.clone()));
        let c = Change::new("security-group", name, Action::Delete).with_id(&id);
        plan.step(Step::new(c, vec![Op::DeleteGroup { id }]).in_phase(DESTROY_GROUPS));
    }
    Ok(plan)
}
