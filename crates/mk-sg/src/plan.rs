//! Comparing the groups and rules we want with what exists: a
//! `common::Plan` of [`Op`]s, by pure code. Converging is planned in
//! [`crate::ensure`], destroying in [`crate::destroy`]; the calls, phases
//! and report names they share are in [`crate::op`].
//!
//! The phases: converging, the groups (created, tagged), then the missing
//! rules (one call per group, the rules authorised together one step of
//! several changes), then ours no longer wanted; destroying, every
//! reference to a group that goes, then the groups.

use std::collections::BTreeMap;

use common::Deployment;

use crate::desired::Desired;
use crate::observed::{Observed, found};
pub use crate::op::{Op, Plan, Step};
use crate::role::GroupRole;

/// Plans the run: converge the five groups, or remove what is the client's.
pub fn plan(d: &Deployment, desired: &Desired, o: &Observed, destroy_run: bool) -> anyhow::Result<Plan> {
    if destroy_run { crate::destroy::destroy(d, desired, o) } else { Ok(crate::ensure::ensure(d, desired, o)) }
}

/// The ids of our groups that exist already, by role.
pub fn existing_ids(desired: &Desired, o: &Observed) -> BTreeMap<GroupRole, String> {
    found(desired, o).into_iter().map(|(role, g)| (role, g.id.clone())).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use common::{Action, Change, ClientName, Severity};

    use super::*;
    use crate::desired;
    use crate::observed::{ObservedGroup, ObservedRule, TOOL};
    use crate::rule::{Cidr, GroupRef, Protocol, SecurityGroupRule, Source};

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
        p.steps.iter().flat_map(|s| &s.ops).collect()
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
        assert_eq!(authorized, 12);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
    }

    #[test]
    fn converged_is_all_unchanged() {
        let d = dep("acme");
        let w = want(&d, &[]);
        let p = plan(&d, &w, &converged(&d, &w), false).unwrap();
        assert!(ops(&p).is_empty(), "{:?}", ops(&p));
        let changes: Vec<&Change> = p.steps.iter().flat_map(|s| &s.changes).collect();
        assert_eq!(changes.len(), 5 + 12);
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
    fn groups_then_rules_authorised_together_then_revokes() {
        let d = dep("acme");
        let w = want(&d, &["203.0.113.0/24"]);
        let p = plan(&d, &w, &Observed::default(), false).unwrap();
        let analytics = p
            .steps
            .iter()
            .find(|s| matches!(&s.ops[..], [Op::Authorize { group: GroupRef::Role(GroupRole::Analytics), .. }]))
            .unwrap();
        assert_eq!(analytics.phase, crate::op::AUTHORIZE);
        let names: Vec<&str> = analytics.changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "acme-analytics ingress tcp 22 from acme-director",
                "acme-analytics ingress tcp 80 from 0.0.0.0/0",
                "acme-analytics ingress tcp 443 from 0.0.0.0/0"
            ],
            "one call, three changes"
        );
        assert!(analytics.changes.iter().all(|c| c.action == Action::Create && c.id.is_none()));
        let creates = p.steps.iter().filter(|s| matches!(s.ops[..], [Op::CreateGroup { .. }]));
        assert!(creates.clone().all(|s| s.phase == crate::op::GROUPS));
        assert_eq!(creates.count(), 5);
        assert_eq!(p.totals(), common::plan::Totals { create: 5 + 12, update: 0, delete: 0, unchanged: 0 });

        // A replaced admin range: the new rule is open before the old one goes.
        let mut o = converged(&d, &want(&d, &["198.51.100.0/24"]));
        o.groups.retain(|g| g.id == id_of(GroupRole::Director));
        let p = plan(&d, &w, &o, false).unwrap();
        let phases: Vec<(u8, Action)> = p
            .steps
            .iter()
            .filter(|s| !s.ops.is_empty() && s.change().kind == "security-group-rule")
            .map(|s| (s.phase, s.change().action))
            .collect();
        assert!(phases.contains(&(crate::op::AUTHORIZE, Action::Create)));
        assert!(phases.contains(&(crate::op::REVOKE, Action::Delete)));
        const { assert!(crate::op::AUTHORIZE < crate::op::REVOKE) };
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
        assert_eq!(revoked, 1 + 2 + 1 + 3, "analytics, master, slave, emr-rds");
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
