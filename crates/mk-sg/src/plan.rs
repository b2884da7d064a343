//! Comparing the groups and rules we want with what exists. Pure.

use std::collections::{BTreeMap, BTreeSet};

use common::deployment::TAG_MANAGED_BY;
use common::{Action, Change, Deployment, Finding, Severity};

use crate::desired::{self, Desired, GroupRole, GroupSpec};
use crate::rule::{GroupRef, Owner, SecurityGroupRule, Source, owner};

pub const TOOL: &str = "mk-sg";

/// A rule as it is on AWS, with the description that says whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRule {
    /// Groups in the source are by id.
    pub rule: SecurityGroupRule,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedGroup {
    pub id: String,
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub ingress: Vec<ObservedRule>,
    pub egress: Vec<ObservedRule>,
}

/// What observe read: on an ensure run the tool's five groups (those that
/// exist); on destroy every group of the VPC, and the network interfaces
/// that use the tool's groups.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub vpc_id: String,
    pub groups: Vec<ObservedGroup>,
    /// Group id → the network interfaces using it.
    pub in_use: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateGroup {
        role: GroupRole,
        name: String,
        description: String,
        tags: Vec<(String, String)>,
    },
    TagGroup {
        id: String,
        tags: Vec<(String, String)>,
    },
    /// Rules with their descriptions, in one call.
    Authorize {
        group: GroupRef,
        rules: Vec<(SecurityGroupRule, String)>,
    },
    /// Rules as observed (groups by id, the description they carry), in one call.
    Revoke {
        group_id: String,
        egress: bool,
        rules: Vec<ObservedRule>,
    },
    DeleteGroup {
        id: String,
    },
}

/// One call (or none, for what is unchanged) and the changes it makes.
#[derive(Debug, Clone)]
pub struct Step {
    pub op: Option<Op>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    /// The ids of the groups that exist already.
    pub group_ids: BTreeMap<GroupRole, String>,
}

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Tagged as created by mk-sg for this deployment.
fn created_by_us(d: &Deployment, g: &ObservedGroup) -> bool {
    d.owns(pairs(&g.tags)) && g.tags.iter().any(|(k, v)| k == TAG_MANAGED_BY && v == TOOL)
}

/// Names for the report: our groups by their names, others by name when
/// observed, else by id.
struct Names<'a> {
    desired: &'a Desired,
    observed: &'a [ObservedGroup],
}

impl Names<'_> {
    fn of(&self, g: &GroupRef) -> String {
        match g {
            GroupRef::Role(r) => self.desired.name(*r).to_owned(),
            GroupRef::Id(id) => {
                self.observed.iter().find(|o| &o.id == id).map(|o| o.name.clone()).unwrap_or(id.clone())
            }
        }
    }

    fn rule(&self, group: &str, direction: &str, r: &SecurityGroupRule) -> String {
        format!("{group} {direction} {}", r.describe(|g| self.of(g)))
    }
}

fn rule_change(name: String, action: Action) -> Change {
    Change::new("security-group-rule", name, action)
}

/// Each of our groups that exists, by role.
fn found<'a>(desired: &Desired, o: &'a Observed) -> BTreeMap<GroupRole, &'a ObservedGroup> {
    desired.groups.iter().filter_map(|s| o.groups.iter().find(|g| g.name == s.name).map(|g| (s.role, g))).collect()
}

fn ensure_group(d: &Deployment, spec: &GroupSpec, g: Option<&ObservedGroup>, plan: &mut Plan) {
    let change = |action| Change::new("security-group", &spec.name, action);
    let Some(g) = g else {
        plan.steps.push(Step {
            op: Some(Op::CreateGroup {
                role: spec.role,
                name: spec.name.clone(),
                description: spec.role.description(d),
                tags: d.tags(),
            }),
            changes: vec![change(Action::Create)],
        });
        return;
    };
    plan.group_ids.insert(spec.role, g.id.clone());
    if !created_by_us(d, g) {
        let why = if spec.role.is_shared() {
            "EMR makes it on its first launch in a VPC, or another deployment did"
        } else {
            "not created by mk-sg for this client"
        };
        plan.findings.push(Finding::new(
            Severity::Info,
            format!(
                "security group {} ({}) exists ({why}): adopted; its missing rules are added, and this \
                 client's destroy keeps it",
                spec.name, g.id
            ),
        ));
        plan.steps.push(Step { op: None, changes: vec![change(Action::Unchanged).with_id(&g.id)] });
        return;
    }
    let missing = d.missing_tags(pairs(&g.tags));
    if missing.is_empty() {
        plan.steps.push(Step { op: None, changes: vec![change(Action::Unchanged).with_id(&g.id)] });
    } else {
        plan.steps.push(Step {
            op: Some(Op::TagGroup { id: g.id.clone(), tags: missing }),
            changes: vec![change(Action::Update).with_id(&g.id).with_details(vec!["tags".into()])],
        });
    }
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
                Finding::new(
                    Severity::Warning,
                    format!(
                        "security group {name} ({}) has a rule [{}] that opens port {} to the whole internet; \
                     mk-sg did not add it and leaves it in place: Jenkins has no authentication and SSH must \
                     come from the director group, so revoke it and reach Jenkins through an SSH tunnel",
                        g.id,
                        names.rule(name, "ingress", &r.rule),
                        ports.join(" and ")
                    ),
                )
            })
        })
        .collect()
}

fn ensure(d: &Deployment, desired: &Desired, o: &Observed) -> Plan {
    let mut plan = Plan::default();
    let found = found(desired, o);
    for spec in &desired.groups {
        ensure_group(d, spec, found.get(&spec.role).copied(), &mut plan);
    }
    let roles: BTreeMap<&str, GroupRole> = found.iter().map(|(r, g)| (g.id.as_str(), *r)).collect();
    let names = Names { desired, observed: &o.groups };
    let client = d.client.as_str();

    for spec in &desired.groups {
        let want = desired::rules(spec.role, desired);
        let group = found.get(&spec.role).copied();
        // What exists, with our groups by role so it compares with `want`.
        let have: Vec<(SecurityGroupRule, &ObservedRule)> = group
            .map(|g| {
                g.ingress
                    .iter()
                    .map(|r| {
                        let by_role = r.rule.map_group(|s| match s {
                            GroupRef::Id(id) => roles.get(id.as_str()).map_or(s.clone(), |r| GroupRef::Role(*r)),
                            role => role.clone(),
                        });
                        (by_role, r)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let have_set: BTreeSet<&SecurityGroupRule> = have.iter().map(|(r, _)| r).collect();

        let present: Vec<Change> = want
            .iter()
            .filter(|r| have_set.contains(r))
            .map(|r| rule_change(names.rule(&spec.name, "ingress", r), Action::Unchanged))
            .collect();
        if !present.is_empty() {
            plan.steps.push(Step { op: None, changes: present });
        }
        let missing: Vec<&SecurityGroupRule> = want.iter().filter(|r| !have_set.contains(r)).collect();
        if !missing.is_empty() {
            plan.steps.push(Step {
                op: Some(Op::Authorize {
                    group: match group {
                        Some(g) => GroupRef::Id(g.id.clone()),
                        None => GroupRef::Role(spec.role),
                    },
                    rules: missing.iter().map(|r| ((*r).clone(), desired::description(spec.role, r, d))).collect(),
                }),
                changes: missing
                    .iter()
                    .map(|r| rule_change(names.rule(&spec.name, "ingress", r), Action::Create))
                    .collect(),
            });
        }
        // Ours but no longer wanted (e.g. an old --admin-cidr); others' stay.
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
            plan.steps.push(Step {
                op: Some(Op::Revoke {
                    group_id: g.id.clone(),
                    egress: false,
                    rules: unwanted.iter().map(|(_, o)| (*o).clone()).collect(),
                }),
                changes: unwanted
                    .iter()
                    .map(|(r, _)| rule_change(names.rule(&spec.name, "ingress", r), Action::Delete))
                    .collect(),
            });
        }
        if spec.role == GroupRole::Analytics
            && let Some(g) = group
        {
            plan.findings.extend(world_open_findings(&spec.name, g, &names));
        }
    }
    if desired.admin_open_to_world() {
        plan.findings.insert(
            0,
            Finding::new(
                Severity::Warning,
                format!(
                    "SSH (22) to {} is open to the whole internet: pass --admin-cidr with the range operators \
                     connect from",
                    desired.name(GroupRole::Director)
                ),
            ),
        );
    }
    plan
}

/// Which of our groups go: those tagged as created for this client; EMR's
/// shared pair only while no network interface and no rule that stays
/// refers to them. A group of this client still in use is an error: what
/// uses it must go first.
fn deletable(
    d: &Deployment,
    desired: &Desired,
    o: &Observed,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<Vec<String>> {
    let found = found(desired, o);
    let mut doomed: BTreeSet<&str> = BTreeSet::new();
    for spec in &desired.groups {
        let Some(g) = found.get(&spec.role) else { continue };
        if !created_by_us(d, g) {
            findings.push(Finding::new(
                Severity::Info,
                format!(
                    "security group {} ({}) was not created by mk-sg for {}: kept; only this client's rules \
                     are removed",
                    g.name, g.id, d.client
                ),
            ));
            continue;
        }
        match (o.in_use.get(&g.id), spec.role.is_shared()) {
            (Some(enis), false) if !enis.is_empty() => anyhow::bail!(
                "security group {} ({}) is still used by {}: remove what uses it first (mk-ec2 --destroy, \
                 mk-rds --destroy), then re-run",
                g.name,
                g.id,
                enis.join(", ")
            ),
            (Some(enis), true) if !enis.is_empty() => findings.push(Finding::new(
                Severity::Info,
                format!("security group {} ({}) is kept: {} use it", g.name, g.id, enis.join(", ")),
            )),
            _ => {
                doomed.insert(&g.id);
            }
        }
    }
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
        let name = o.groups.iter().find(|x| x.id == id).map(|x| x.name.as_str()).unwrap_or(id);
        findings.push(Finding::new(
            Severity::Info,
            format!("security group {name} ({id}) is kept: rules of {} ({}) refer to it", g.name, g.id),
        ));
    }
    // In creation order, reversed.
    Ok(desired
        .groups
        .iter()
        .rev()
        .filter_map(|s| found.get(&s.role))
        .filter(|g| doomed.contains(g.id.as_str()))
        .map(|g| g.id.clone())
        .collect())
}

fn destroy(d: &Deployment, desired: &Desired, o: &Observed) -> anyhow::Result<Plan> {
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
            plan.steps.push(Step {
                changes: revoke
                    .iter()
                    .map(|r| rule_change(names.rule(&g.name, direction, &r.rule), Action::Delete))
                    .collect(),
                op: Some(Op::Revoke { group_id: g.id.clone(), egress, rules: revoke }),
            });
        }
    }
    for id in doomed {
        let name = names.of(&GroupRef::Id(id.clone()));
        plan.steps.push(Step {
            changes: vec![Change::new("security-group", name, Action::Delete).with_id(&id)],
            op: Some(Op::DeleteGroup { id }),
        });
    }
    Ok(plan)
}

pub fn plan(d: &Deployment, desired: &Desired, o: &Observed, destroy_run: bool) -> anyhow::Result<Plan> {
    if destroy_run { destroy(d, desired, o) } else { Ok(ensure(d, desired, o)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{Cidr, Protocol};
    use common::ClientName;

    fn dep(client: &str) -> Deployment {
        Deployment { client: ClientName::parse(client).unwrap(), tool: TOOL, extra_tags: vec![] }
    }

    fn want(d: &Deployment, admin: &[&str]) -> Desired {
        let mut args = vec!["mk-sg".to_owned(), "--client".to_owned(), d.client.to_string()];
        for a in admin {
            args.extend(["--admin-cidr".to_owned(), a.to_string()]);
        }
        let a = <crate::Args as clap::Parser>::try_parse_from(args).unwrap();
        desired::desired(&a, d).unwrap()
    }

    fn id_of(role: GroupRole) -> String {
        format!("sg-{}", role.key())
    }

    fn by_id(r: &SecurityGroupRule) -> SecurityGroupRule {
        r.map_group(|g| match g {
            GroupRef::Role(role) => GroupRef::Id(id_of(*role)),
            other => other.clone(),
        })
    }

    /// The VPC after a converged run for `d`.
    fn converged(d: &Deployment, w: &Desired) -> Observed {
        let groups = w
            .groups
            .iter()
            .map(|s| ObservedGroup {
                id: id_of(s.role),
                name: s.name.clone(),
                tags: d.tags(),
                ingress: desired::rules(s.role, w)
                    .iter()
                    .map(|r| ObservedRule { rule: by_id(r), description: Some(desired::description(s.role, r, d)) })
                    .collect(),
                egress: vec![],
            })
            .collect();
        Observed { vpc_id: "vpc-1".into(), groups, in_use: BTreeMap::new() }
    }

    fn ops(p: &Plan) -> Vec<&Op> {
        p.steps.iter().filter_map(|s| s.op.as_ref()).collect()
    }

    fn group(o: &mut Observed, role: GroupRole) -> &mut ObservedGroup {
        o.groups.iter_mut().find(|g| g.id == id_of(role)).unwrap()
    }

    fn world(port: i32) -> SecurityGroupRule {
        SecurityGroupRule::tcp(port, Source::Cidr(Cidr::parse("0.0.0.0/0").unwrap()))
    }

    #[test]
    fn empty_vpc_creates_five_groups_then_one_authorize_each() {
        let d = dep("acme");
        let w = want(&d, &["203.0.113.0/24"]);
        let p = plan(&d, &w, &Observed::default(), false).unwrap();
        let ops = ops(&p);
        assert_eq!(ops.len(), 10);
        assert!(ops[..5].iter().all(|o| matches!(o, Op::CreateGroup { tags, .. } if *tags == d.tags())));
        let authorized: usize = ops[5..]
            .iter()
            .map(|o| match o {
                Op::Authorize { group: GroupRef::Role(_), rules } => rules.len(),
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(authorized, 11);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
    }

    #[test]
    fn converged_is_all_unchanged() {
        let d = dep("acme");
        let w = want(&d, &[]);
        let p = plan(&d, &w, &converged(&d, &w), false).unwrap();
        assert!(ops(&p).is_empty(), "{:?}", ops(&p));
        let changes: Vec<&Change> = p.steps.iter().flat_map(|s| &s.changes).collect();
        assert_eq!(changes.len(), 5 + 11);
        assert!(changes.iter().all(|c| c.action == Action::Unchanged));
        assert!(changes.iter().any(|c| c.name == "acme-analytics ingress tcp 22 from acme-director"));
        // The default admin CIDR is the only finding.
        assert_eq!(p.findings.len(), 1);
        assert!(p.findings[0].message.contains("--admin-cidr"));
    }

    #[test]
    fn a_revoked_rule_is_restored_and_an_old_admin_cidr_removed() {
        let d = dep("acme");
        let old = want(&d, &["198.51.100.0/24"]);
        let mut o = converged(&d, &old);
        group(&mut o, GroupRole::EmrRds).ingress.remove(0);
        let w = want(&d, &["203.0.113.0/24"]);
        let p = plan(&d, &w, &o, false).unwrap();
        let ops = ops(&p);
        assert_eq!(ops.len(), 3, "{ops:?}");
        assert!(
            matches!(ops[0], Op::Authorize { group: GroupRef::Id(g), rules } if g == "sg-director" && rules.len() == 1)
        );
        let old_cidr = Source::Cidr(Cidr::parse("198.51.100.0/24").unwrap());
        assert!(matches!(ops[1], Op::Revoke { group_id, egress: false, rules }
            if group_id == "sg-director" && rules.len() == 1 && rules[0].rule.source == old_cidr));
        assert!(matches!(ops[2], Op::Authorize { group: GroupRef::Id(g), .. } if g == "sg-emr_rds"));
    }

    #[test]
    fn others_rules_stay_and_world_open_jenkins_is_reported() {
        let d = dep("acme");
        let w = want(&d, &["203.0.113.0/24"]);
        let mut o = converged(&d, &w);
        let analytics = group(&mut o, GroupRole::Analytics);
        analytics.ingress.push(ObservedRule { rule: world(8080), description: None });
        analytics.ingress.push(ObservedRule { rule: world(8443), description: Some("someone".into()) });
        let all_v6 = SecurityGroupRule::all_traffic(Source::Cidr(Cidr::parse("::/0").unwrap()));
        analytics.ingress.push(ObservedRule { rule: all_v6, description: None });
        let p = plan(&d, &w, &o, false).unwrap();
        assert!(ops(&p).is_empty(), "others' rules are left alone: {:?}", ops(&p));
        assert_eq!(p.findings.len(), 2, "{:?}", p.findings);
        assert!(p.findings[0].message.contains("8080 (Jenkins)") && p.findings[0].message.contains("acme-analytics"));
        assert!(p.findings[1].message.contains("8080 (Jenkins) and 22 (SSH)"));
        assert!(p.findings.iter().all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn adopted_emr_groups_get_our_rules_and_are_not_tagged() {
        let d = dep("acme");
        let w = want(&d, &["203.0.113.0/24"]);
        let mut o = converged(&d, &w);
        for role in [GroupRole::EmrMaster, GroupRole::EmrSlave] {
            let g = group(&mut o, role);
            g.tags.clear();
            // EMR's own rules: per protocol, no description.
            g.ingress = vec![ObservedRule {
                rule: SecurityGroupRule::new(
                    Protocol::Tcp,
                    Some(0),
                    Some(65535),
                    Source::Group(GroupRef::Id(id_of(GroupRole::EmrSlave))),
                ),
                description: None,
            }];
        }
        let p = plan(&d, &w, &o, false).unwrap();
        assert!(!ops(&p).iter().any(|o| matches!(o, Op::TagGroup { .. } | Op::Revoke { .. })));
        let master = ops(&p)
            .into_iter()
            .find_map(|o| match o {
                Op::Authorize { group: GroupRef::Id(g), rules } if g == "sg-emr_master" => Some(rules.clone()),
                _ => None,
            })
            .unwrap();
        let descriptions: BTreeSet<&str> = master.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(master.len(), 3);
        assert_eq!(descriptions, ["mk-sg", "mk-sg:acme"].into());
        assert_eq!(p.findings.iter().filter(|f| f.message.contains("adopted")).count(), 2);
    }

    #[test]
    fn destroy_alone_removes_everything_references_first() {
        let d = dep("acme");
        let w = want(&d, &[]);
        let p = plan(&d, &w, &converged(&d, &w), true).unwrap();
        let ops = ops(&p);
        let first_delete = ops.iter().position(|o| matches!(o, Op::DeleteGroup { .. })).unwrap();
        assert!(ops[..first_delete].iter().all(|o| matches!(o, Op::Revoke { .. })));
        let deleted: BTreeSet<&str> = ops
            .iter()
            .filter_map(|o| match o {
                Op::DeleteGroup { id } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted.len(), 5);
        // Self references go with their group; the rest are revoked first.
        for op in &ops[..first_delete] {
            let Op::Revoke { group_id, rules, .. } = op else { unreachable!() };
            assert!(rules.iter().all(|r| r.rule.source_group() != Some(&GroupRef::Id(group_id.clone()))));
        }
        let revoked: usize = ops[..first_delete]
            .iter()
            .map(|o| match o {
                Op::Revoke { rules, .. } => rules.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(revoked, 1 + 2 + 1 + 2, "analytics, master, slave, emr-rds");
    }

    #[test]
    fn destroy_keeps_emr_groups_another_client_uses() {
        let (a, b) = (dep("acme"), dep("beta"));
        let wa = want(&a, &[]);
        let mut o = converged(&a, &wa);
        // beta's own groups, referring to EMR's pair (which acme created).
        let wb = want(&b, &[]);
        for s in wb.groups.iter().filter(|s| !s.role.is_shared()) {
            let rules = desired::rules(s.role, &wb);
            o.groups.push(ObservedGroup {
                id: format!("sg-beta-{}", s.role.key()),
                name: s.name.clone(),
                tags: b.tags(),
                ingress: rules
                    .iter()
                    .map(|r| ObservedRule {
                        rule: r.map_group(|g| match g {
                            GroupRef::Role(role) if role.is_shared() => GroupRef::Id(id_of(*role)),
                            GroupRef::Role(role) => GroupRef::Id(format!("sg-beta-{}", role.key())),
                            other => other.clone(),
                        }),
                        description: Some("mk-sg:beta".into()),
                    })
                    .collect(),
                egress: vec![],
            });
        }
        group(&mut o, GroupRole::EmrMaster).ingress.push(ObservedRule {
            rule: SecurityGroupRule::tcp(22, Source::Group(GroupRef::Id("sg-beta-analytics".into()))),
            description: Some("mk-sg:beta".into()),
        });
        let p = plan(&a, &wa, &o, true).unwrap();
        let touched: BTreeSet<&str> = ops(&p)
            .iter()
            .map(|o| match o {
                Op::DeleteGroup { id } => id.as_str(),
                Op::Revoke { group_id, .. } => group_id.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(!touched.iter().any(|g| g.starts_with("sg-beta")), "{touched:?}");
        let deleted: Vec<&str> = ops(&p)
            .iter()
            .filter_map(|o| match o {
                Op::DeleteGroup { id } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["sg-emr_rds", "sg-analytics", "sg-director"]);
        let master_revoked: Vec<String> = ops(&p)
            .iter()
            .filter_map(|o| match o {
                Op::Revoke { group_id, rules, .. } if group_id == "sg-emr_master" => {
                    Some(rules.iter().map(|r| r.description.clone().unwrap_or_default()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(master_revoked, ["mk-sg:acme"], "only acme's rule leaves the shared master group");
        assert!(p.findings.iter().any(|f| f.message.contains("ElasticMapReduce-master") && f.message.contains("kept")));
    }

    #[test]
    fn destroy_refuses_a_group_in_use_and_keeps_adopted_ones() {
        let d = dep("acme");
        let w = want(&d, &[]);
        let mut o = converged(&d, &w);
        o.in_use.insert("sg-analytics".into(), vec!["eni-1".into()]);
        let e = plan(&d, &w, &o, true).unwrap_err();
        assert!(e.to_string().contains("eni-1") && e.to_string().contains("acme-analytics"), "{e}");

        let mut o = converged(&d, &w);
        o.in_use.insert("sg-emr_slave".into(), vec!["eni-2".into()]);
        group(&mut o, GroupRole::Director).tags.clear();
        let p = plan(&d, &w, &o, true).unwrap();
        let deleted: Vec<&str> = ops(&p)
            .iter()
            .filter_map(|o| match o {
                Op::DeleteGroup { id } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        // The slave is in use, so the master (which refers to it) stays too.
        assert_eq!(deleted, ["sg-emr_rds", "sg-analytics"]);
        // The adopted director loses only acme's SSH rule.
        assert!(ops(&p).iter().any(|o| matches!(o, Op::Revoke { group_id, rules, .. }
            if group_id == "sg-director" && rules.len() == 1)));
    }
}
