//! The groups and rules we want (SPEC section 4), from the flags. Pure.

use std::collections::BTreeSet;

use common::Deployment;
use common::error::bad_input;
use network::VpcChoice;

use crate::args::Args;
use crate::role::GroupRole;
use crate::rule::{Cidr, GroupRef, SHARED_DESCRIPTION, SecurityGroupRule, Source, WORLD_V4, client_description};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub role: GroupRole,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub vpc: VpcChoice,
    /// In [`GroupRole::ALL`] order.
    pub groups: Vec<GroupSpec>,
    pub admin_cidrs: BTreeSet<Cidr>,
}

impl Desired {
    pub fn name(&self, role: GroupRole) -> &str {
        self.groups.iter().find(|g| g.role == role).map(|g| g.name.as_str()).unwrap_or_default()
    }

    /// SSH to the director is open to the whole internet.
    pub fn admin_open_to_world(&self) -> bool {
        self.admin_cidrs.iter().any(Cidr::is_world)
    }
}

/// EC2's rules for a VPC security group name.
pub fn validate_group_name(name: &str) -> anyhow::Result<()> {
    const PUNCT: &str = " ._-:/()#,@[]+=&;{}!$*";
    let problem = if name.is_empty() || name.len() > 255 {
        Some("must be 1 to 255 characters")
    } else if name.to_ascii_lowercase().starts_with("sg-") {
        Some("must not start with sg-")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || PUNCT.contains(c)) {
        Some("may hold only letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*")
    } else {
        None
    };
    match problem {
        Some(p) => Err(bad_input(format!("invalid security group name {name:?}: it {p}"))),
        None => Ok(()),
    }
}

pub fn desired(args: &Args, d: &Deployment) -> anyhow::Result<Desired> {
    let vpc = VpcChoice::from_flag(args.vpc_id.as_deref())?;
    let mut groups = Vec::new();
    for role in GroupRole::ALL {
        let overridden = match role {
            GroupRole::Director => &args.director_group,
            GroupRole::Analytics => &args.analytics_group,
            GroupRole::EmrMaster => &args.emr_master_group,
            GroupRole::EmrSlave => &args.emr_slave_group,
            GroupRole::EmrRds => &args.emr_rds_group,
        };
        let name = overridden.clone().unwrap_or_else(|| role.default_name(d));
        validate_group_name(&name)?;
        groups.push(GroupSpec { role, name });
    }
    let mut names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad_input(format!("security group {:?} is named for two purposes", w[0])));
    }
    let given: Vec<&str> = if args.admin_cidrs.is_empty() {
        vec![WORLD_V4]
    } else {
        args.admin_cidrs.iter().map(String::as_str).collect()
    };
    let admin_cidrs = given
        .into_iter()
        .map(|c| Cidr::parse(c).map_err(|e| bad_input(format!("invalid --admin-cidr: {e}"))))
        .collect::<anyhow::Result<_>>()?;
    Ok(Desired { vpc, groups, admin_cidrs })
}

fn group(role: GroupRole) -> Source {
    Source::Group(GroupRef::Role(role))
}

fn anywhere() -> Source {
    Source::Cidr(Cidr::parse(WORLD_V4).expect("a valid CIDR"))
}

/// The inbound rules a group must have. mk-sg never opens Jenkins (8080).
pub fn rules(role: GroupRole, desired: &Desired) -> BTreeSet<SecurityGroupRule> {
    use GroupRole::*;
    match role {
        Director => desired.admin_cidrs.iter().map(|c| SecurityGroupRule::tcp(22, Source::Cidr(c.clone()))).collect(),
        // Insights on 80 and 443 for everyone; SSH only from the director.
        Analytics => [
            SecurityGroupRule::tcp(22, group(Director)),
            SecurityGroupRule::tcp(80, anywhere()),
            SecurityGroupRule::tcp(443, anywhere()),
        ]
        .into(),
        // The pipeline's launcher on the analytics host SSHes to the master.
        EmrMaster => [
            SecurityGroupRule::tcp(22, group(Analytics)),
            SecurityGroupRule::all_traffic(group(EmrMaster)),
            SecurityGroupRule::all_traffic(group(EmrSlave)),
        ]
        .into(),
        EmrSlave => {
            [SecurityGroupRule::all_traffic(group(EmrSlave)), SecurityGroupRule::all_traffic(group(EmrMaster))].into()
        }
        // The databases that carry it (the analytics one, edxapp's with
        // mk-rds --join-sg): MySQL from EMR, and from the director, where
        // mk-rds-users' SSH tunnel comes out.
        EmrRds => [
            SecurityGroupRule::tcp(3306, group(EmrMaster)),
            SecurityGroupRule::tcp(3306, group(EmrSlave)),
            SecurityGroupRule::tcp(3306, group(Director)),
        ]
        .into(),
    }
}

/// The description a rule of ours carries: EMR's traffic between its own
/// groups is shared by every deployment of the VPC; anything else is this
/// client's.
pub fn description(role: GroupRole, rule: &SecurityGroupRule, d: &Deployment) -> String {
    match rule.source_group() {
        Some(GroupRef::Role(from)) if role.is_shared() && from.is_shared() => SHARED_DESCRIPTION.to_owned(),
        _ => client_description(d.client.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> anyhow::Result<(Desired, Deployment)> {
        let mut v = vec!["mk-sg", "--client", "acme"];
        v.extend_from_slice(extra);
        let a = Args::try_parse_from(v).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-sg").unwrap();
        Ok((desired(&a, &d)?, d))
    }

    #[test]
    fn default_names_and_admin_cidr() {
        let (w, _) = parse(&[]).unwrap();
        let names: Vec<&str> = w.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            ["acme-director", "acme-analytics", "ElasticMapReduce-master", "ElasticMapReduce-slave", "acme-emr-rds"]
        );
        assert_eq!(w.vpc, VpcChoice::Default);
        assert!(w.admin_open_to_world());
        let (w, _) = parse(&["--admin-cidr", "203.0.113.0/24", "--admin-cidr", "2001:DB8::/48"]).unwrap();
        assert!(!w.admin_open_to_world());
        let director: Vec<_> = rules(GroupRole::Director, &w).into_iter().collect();
        assert_eq!(director.len(), 2);
        assert!(director.iter().all(|r| r.opens_tcp(22) && !r.opens_tcp(23)));
    }

    #[test]
    fn bad_input_is_found_before_any_call() {
        for (args, needle) in [
            (&["--admin-cidr", "203.0.113.7"][..], "--admin-cidr"),
            (&["--admin-cidr", "10.0.0.1/8"][..], "did you mean 10.0.0.0/8"),
            (&["--admin-cidr", "nope/1"][..], "--admin-cidr"),
            (&["--vpc-id", "vpc-nothex"][..], "--vpc-id"),
            (&["--director-group", "sg-director"][..], "sg-"),
            (&["--director-group", "acme-analytics"][..], "two purposes"),
            (&["--emr-rds-group", "bad\u{e9}"][..], "invalid security group name"),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{args:?}");
            assert!(e.to_string().contains(needle), "{args:?}: {e}");
        }
    }

    #[test]
    fn the_rules_of_spec_section_4() {
        let (w, d) = parse(&[]).unwrap();
        let all: Vec<SecurityGroupRule> = GroupRole::ALL.iter().flat_map(|r| rules(*r, &w)).collect();
        assert_eq!(all.len(), 1 + 3 + 3 + 2 + 3);
        assert!(
            !all.iter().any(|r| r.opens_tcp(8080) && matches!(r.source, Source::Cidr(_))),
            "8080 is never opened to an address range"
        );
        let analytics = rules(GroupRole::Analytics, &w);
        let world: Vec<_> = analytics
            .iter()
            .filter(|r| matches!(&r.source, Source::Cidr(c) if c.is_world()))
            .map(|r| r.from_port)
            .collect();
        assert_eq!(world, [80, 443], "only HTTP(S) from anywhere; SSH from the director group");
        let master = rules(GroupRole::EmrMaster, &w);
        let ssh = SecurityGroupRule::tcp(22, group(GroupRole::Analytics));
        assert!(master.contains(&ssh));
        assert_eq!(description(GroupRole::EmrMaster, &ssh, &d), "mk-sg:acme");
        let intra = SecurityGroupRule::all_traffic(group(GroupRole::EmrSlave));
        assert!(master.contains(&intra));
        assert_eq!(description(GroupRole::EmrMaster, &intra, &d), "mk-sg");
        let rds = SecurityGroupRule::tcp(3306, group(GroupRole::EmrSlave));
        assert_eq!(description(GroupRole::EmrRds, &rds, &d), "mk-sg:acme");
        // The director reaches MySQL on the databases, and nothing else of theirs.
        let emr_rds = rules(GroupRole::EmrRds, &w);
        let from_director: Vec<_> = emr_rds.iter().filter(|r| r.source == group(GroupRole::Director)).collect();
        assert_eq!(from_director, [&SecurityGroupRule::tcp(3306, group(GroupRole::Director))]);
        assert!(emr_rds.iter().all(|r| r.opens_tcp(3306) && !r.opens_tcp(22) && matches!(r.source, Source::Group(_))));
        let director = SecurityGroupRule::tcp(3306, group(GroupRole::Director));
        assert_eq!(description(GroupRole::EmrRds, &director, &d), "mk-sg:acme");
    }
}
