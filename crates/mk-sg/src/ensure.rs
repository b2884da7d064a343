//! Planning a converge run: the five groups, each with exactly the rules
//! of SPEC section 4 that are ours; others' rules are left, and reported
//! when they open the analytics host to the world. Pure.

use std::collections::{BTreeMap, BTreeSet};

use common::{Action, Change, Deployment, Finding};

use crate::desired::{self, Desired, GroupSpec};
use crate::observed::{Observed, ObservedGroup, ObservedRule, created_by_us, found, pairs};
use crate::op::{AUTHORIZE, GROUPS, Names, Op, Plan, REVOKE, Step, rule_change};
use crate::role::GroupRole;
use crate::rule::{GroupRef, Owner, SecurityGroupRule, Source, owner};

fn ensure_group(d: &Deployment, spec: &GroupSpec, g: Option<&ObservedGroup>, plan: &mut Plan) {
    let change = |action| Change::new("security-group", &spec.name, action);
    let Some(g) = g else {
        let op = Op::CreateGroup {
            role: spec.role,
            name: spec.name.clone(),
            description: spec.role.description(d),
            tags: d.tags(),
        };
        plan.step(Step::new(change(Action::Create), vec![op]).in_phase(GROUPS));
        return;
    };
    if !created_by_us(d, g) {
        let why = if spec.role.is_shared() {
            "EMR makes it on its first launch in a VPC, or another deployment did"
        } else {
            "not created by mk-sg for this client"
        };
        plan.finding(
            Finding::info(format!(
                "security group {} ({}) exists ({why}): adopted; its missing rules are added, and this \
                 client's destroy keeps it",
                spec.name, g.id
            ))
            .with_code("foreign-resource")
            .about(&spec.name),
        );
        plan.step(Step::unchanged(change(Action::Unchanged).with_id(&g.id)).in_phase(GROUPS));
        return;
    }
    let missing = d.missing_tags(pairs(&g.tags));
    let step = if missing.is_empty() {
        Step::unchanged(change(Action::Unchanged).with_id(&g.id))
    } else {
        let c = change(Action::Update).with_id(&g.id).with_details(vec!["tags".into()]);
        Step::new(c, vec![Op::TagGroup { id: g.id.clone(), tags: missing }])
    };
    plan.step(step.in_phase(GROUPS));
}

/// Rules that open Jenkins or SSH to the whole internet on the analytics
/// group, whoever added them.
fn world_open_findings(name: &str, g: &ObservedGroup, names: &Names<'_>) -> Vec<Finding> {
    g.ingress
        .iter()
        .filter(|r| matches!(&r.rule.source, Source::Cidr(c) if c.is_world()))
        .filter_map(|r| {
            let ports: Vec<&str> = [(8080, "8080 (Jenkins)"), (22, "22 (SSH)")]
                .into_iter()
                .filter(|(p, _)| r.rule.opens_tcp(*p))
                .map(|(_, s)| s)
                .collect();
            (!ports.is_empty()).then(|| {
                Finding::warning(format!(
                    "security group {name} ({}) has a rule [{}] that opens port {} to the whole internet; \
                     mk-sg did not add it and leaves it in place: Jenkins has no authentication and SSH must \
                     come from the director group, so revoke it and reach Jenkins through an SSH tunnel",
                    g.id,
                    names.rule(name, "ingress", &r.rule),
                    ports.join(" and ")
                ))
                .with_code("open-to-world")
                .about(name)
            })
        })
        .collect()
}

/// A group's inbound rules as they are, with our groups by role so that
/// they compare with the desired ones.
fn by_role<'a>(g: &'a ObservedGroup, roles: &BTreeMap<&str, GroupRole>) -> Vec<(SecurityGroupRule, &'a ObservedRule)> {
    g.ingress
        .iter()
        .map(|r| {
            let rule = r.rule.map_group(|s| match s {
                GroupRef::Id(id) => roles.get(id.as_str()).map_or(s.clone(), |r| GroupRef::Role(*r)),
                role => role.clone(),
            });
            (rule, r)
        })
        .collect()
}

/// The rule steps of one group: what is there, the missing rules in one
/// call, and ours no longer wanted (e.g. an old --admin-cidr) in another.
fn ensure_rules(
    d: &Deployment,
    names: &Names<'_>,
    spec: &GroupSpec,
    group: Option<&ObservedGroup>,
    roles: &BTreeMap<&str, GroupRole>,
    plan: &mut Plan,
) {
    let name = |r: &SecurityGroupRule| names.rule(&spec.name, "ingress", r);
    let want = desired::rules(spec.role, names.desired);
    let have = group.map(|g| by_role(g, roles)).unwrap_or_default();
    let have_set: BTreeSet<&SecurityGroupRule> = have.iter().map(|(r, _)| r).collect();

    let present: Vec<Change> =
        want.iter().filter(|r| have_set.contains(r)).map(|r| rule_change(name(r), Action::Unchanged)).collect();
    if !present.is_empty() {
        plan.step(Step::batch(present, vec![]).in_phase(AUTHORIZE));
    }
    let missing: Vec<&SecurityGroupRule> = want.iter().filter(|r| !have_set.contains(r)).collect();
    if !missing.is_empty() {
        let op = Op::Authorize {
            group: group.map_or(GroupRef::Role(spec.role), |g| GroupRef::Id(g.id.clone())),
            rules: missing.iter().map(|r| ((*r).clone(), desired::description(spec.role, r, d))).collect(),
        };
        let changes = missing.iter().map(|r| rule_change(name(r), Action::Create)).collect();
        plan.step(Step::batch(changes, vec![op]).in_phase(AUTHORIZE));
    }
    // Others' rules stay.
    let client = d.client.as_str();
    let unwanted: Vec<&(SecurityGroupRule, &ObservedRule)> = have
        .iter()
        .filter(|(r, o)| {
            let ours = match owner(o.description.as_deref(), client) {
                Owner::ThisClient => true,
                Owner::Shared => spec.role.is_shared(),
                Owner::Other => false,
            };
            ours && !want.contains(r)
        })
        .collect();
    if let (Some(g), false) = (group, unwanted.is_empty()) {
        let op = Op::Revoke {
            group_id: g.id.clone(),
            egress: false,
            rules: unwanted.iter().map(|(_, o)| (*o).clone()).collect(),
        };
        let changes = unwanted.iter().map(|(r, _)| rule_change(name(r), Action::Delete)).collect();
        plan.step(Step::batch(changes, vec![op]).in_phase(REVOKE));
    }
}

pub fn ensure(d: &Deployment, desired: &Desired, o: &Observed) -> Plan {
    let mut plan = Plan::default();
    let found = found(desired, o);
    for spec in &desired.groups {
        ensure_group(d, spec, found.get(&spec.role).copied(), &mut plan);
    }
    let roles: BTreeMap<&str, GroupRole> = found.iter().map(|(r, g)| (g.id.as_str(), *r)).collect();
    let names = Names { desired, observed: &o.groups };
    for spec in &desired.groups {
        let group = found.get(&spec.role).copied();
        ensure_rules(d, &names, spec, group, &roles, &mut plan);
        if spec.role == GroupRole::Analytics
            && let Some(g) = group
        {
            plan.findings.extend(world_open_findings(&spec.name, g, &names));
        }
    }
    if desired.admin_open_to_world() {
        let director = desired.name(GroupRole::Director);
        plan.findings.insert(
            0,
            Finding::warning(format!(
                "SSH (22) to {director} is open to the whole internet: pass --admin-cidr with the range operators \
                 connect from"
            ))
            .with_code("admin-open-to-world")
            .about(director),
        );
    }
    plan
}
