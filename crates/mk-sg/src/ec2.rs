//! Reading the security groups on EC2 (observe). Reads only; the changes
//! are sent by [`crate::apply`].

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::IpPermission;
use common::AwsResultExt;

use network::{filter, find_vpc};

use crate::desired::Desired;
use crate::observed::{Observed, ObservedGroup, ObservedRule};
use crate::rule::{Cidr, GroupRef, Protocol, SecurityGroupRule, Source};

/// One rule per source: AWS groups the sources of a port range together.
fn flatten(perms: &[IpPermission]) -> Vec<ObservedRule> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = Protocol::parse(p.ip_protocol().unwrap_or("-1"));
        let mut push = |source: Source, description: Option<&str>| {
            out.push(ObservedRule {
                rule: SecurityGroupRule::new(protocol.clone(), p.from_port(), p.to_port(), source),
                description: description.map(str::to_owned),
            });
        };
        for r in p.ip_ranges() {
            push(Source::Cidr(Cidr::observed(r.cidr_ip().unwrap_or_default())), r.description());
        }
        for r in p.ipv6_ranges() {
            push(Source::Cidr(Cidr::observed(r.cidr_ipv6().unwrap_or_default())), r.description());
        }
        for g in p.user_id_group_pairs() {
            push(Source::Group(GroupRef::Id(g.group_id().unwrap_or_default().to_owned())), g.description());
        }
        for l in p.prefix_list_ids() {
            push(Source::PrefixList(l.prefix_list_id().unwrap_or_default().to_owned()), l.description());
        }
    }
    out
}

/// Reads the VPC and, in one call, the groups: the tool's five on an
/// ensure run; on destroy every group of the VPC (any may refer to ours)
/// and the network interfaces that use ours. Reads only.
pub async fn observe(ec2: &Client, desired: &Desired, region: &str, destroy: bool) -> anyhow::Result<Observed> {
    let vpc_id = find_vpc(ec2, &desired.vpc, region).await?;
    let mut req = ec2.describe_security_groups().filters(filter("vpc-id", [vpc_id.as_str()]));
    if !destroy {
        req = req.filters(filter("group-name", desired.groups.iter().map(|g| g.name.as_str())));
    }
    let found: Vec<_> = req
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .aws_context(format!("reading the security groups of {vpc_id}"))?;
    let groups: Vec<ObservedGroup> = found
        .iter()
        .map(|g| ObservedGroup {
            id: g.group_id().unwrap_or_default().to_owned(),
            name: g.group_name().unwrap_or_default().to_owned(),
            tags: g
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect(),
            ingress: flatten(g.ip_permissions()),
            egress: flatten(g.ip_permissions_egress()),
        })
        .collect();

    let mut in_use: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let ours: Vec<&str> =
        groups.iter().filter(|g| desired.groups.iter().any(|s| s.name == g.name)).map(|g| g.id.as_str()).collect();
    if destroy && !ours.is_empty() {
        let enis: Vec<_> = ec2
            .describe_network_interfaces()
            .filters(filter("group-id", ours.iter().copied()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .aws_context("reading the network interfaces that use the security groups")?;
        for eni in &enis {
            let name = eni.network_interface_id().unwrap_or_default();
            for g in eni.groups().iter().filter_map(|g| g.group_id()).filter(|g| ours.contains(g)) {
                in_use.entry(g.to_owned()).or_default().push(name.to_owned());
            }
        }
    }
    Ok(Observed { vpc_id, groups, in_use })
}
