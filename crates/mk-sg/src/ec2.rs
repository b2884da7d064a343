//! Reading and changing security groups on EC2. Thin: the decisions are in
//! `plan`.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair};
use common::deployment::TAG_CLIENT;
use common::{AwsResultExt, Report, aws_error_code};

use network::{filter, find_vpc, tag, tag_spec};

use crate::desired::{Desired, GroupRole};
use crate::plan::{Observed, ObservedGroup, ObservedRule, Op, Plan};
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

/// The rule as AWS takes it; groups in the source must be ids by now.
fn permission(rule: &SecurityGroupRule, description: Option<&str>) -> anyhow::Result<IpPermission> {
    let mut p = IpPermission::builder().ip_protocol(rule.protocol.as_aws());
    if rule.protocol != Protocol::All {
        p = p.from_port(rule.from_port).to_port(rule.to_port);
    }
    let d = description.map(str::to_owned);
    p = match &rule.source {
        Source::Cidr(c) if c.is_ipv6() => {
            p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c.as_str()).set_description(d).build())
        }
        Source::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c.as_str()).set_description(d).build()),
        Source::Group(GroupRef::Id(id)) => {
            p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).set_description(d).build())
        }
        Source::Group(GroupRef::Role(r)) => anyhow::bail!("group {} has no id yet", r.key()),
        Source::PrefixList(id) => {
            p.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).set_description(d).build())
        }
    };
    Ok(p.build())
}

struct Ids(BTreeMap<GroupRole, String>);

impl Ids {
    fn resolve(&self, g: &GroupRef) -> anyhow::Result<String> {
        match g {
            GroupRef::Id(id) => Ok(id.clone()),
            GroupRef::Role(r) => self.0.get(r).cloned().ok_or_else(|| anyhow::anyhow!("group {} has no id", r.key())),
        }
    }
}

const DUPLICATE_RULE: &str = "InvalidPermission.Duplicate";

/// Runs one call; returns the id of a group it created.
async fn apply_op(ec2: &Client, vpc_id: &str, op: &Op, ids: &Ids) -> anyhow::Result<Option<String>> {
    match op {
        Op::CreateGroup { name, description, tags, .. } => {
            // Tagged in the same call, so an interrupted run leaves a
            // group the next run (and destroy) recognises as its own.
            let spec = tag_spec(ResourceType::SecurityGroup, tags);
            let what = format!("creating security group {name} in {vpc_id}");
            let call = ec2
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(spec)
                .send();
            return match call.await {
                Ok(out) => Ok(Some(out.group_id().unwrap_or_default().to_owned())),
                // The plan saw no group of this name: our own create took
                // effect and its answer was lost (the SDK retried it).
                Err(e) if aws_error_code(&e) == Some("InvalidGroup.Duplicate") => {
                    let found = ec2
                        .describe_security_groups()
                        .filters(filter("vpc-id", [vpc_id]))
                        .filters(filter("group-name", [name.as_str()]))
                        .send()
                        .await
                        .aws_context(format!("reading security group {name} of {vpc_id}"))?;
                    let group = found.security_groups().first();
                    let has = |(k, v): &(String, String)| {
                        group.is_some_and(|g| g.tags().iter().any(|t| t.key() == Some(k) && t.value() == Some(v)))
                    };
                    match group.and_then(|g| g.group_id()) {
                        Some(id) if tags.iter().filter(|(k, _)| k == TAG_CLIENT).all(has) => {
                            tracing::debug!("{what}: it exists already (an earlier try took effect): {id}");
                            Ok(Some(id.to_owned()))
                        }
                        _ => {
                            Err(e).aws_context(format!("{what} (a group of that name appeared, not this deployment's)"))
                        }
                    }
                }
                Err(e) => Err(e).aws_context(what),
            };
        }
        Op::TagGroup { id, tags } => {
            ec2.create_tags()
                .resources(id)
                .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
                .send()
                .await
                .aws_context(format!("tagging security group {id}"))?;
        }
        Op::Authorize { group, rules } => {
            let id = ids.resolve(group)?;
            let perms = rules
                .iter()
                .map(|(r, desc)| {
                    let r = match r.source_group() {
                        Some(g) => {
                            let source = ids.resolve(g)?;
                            r.map_group(|_| GroupRef::Id(source))
                        }
                        None => r.clone(),
                    };
                    permission(&r, Some(desc))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let what = format!("adding {} rule(s) to security group {id}", rules.len());
            let call =
                ec2.authorize_security_group_ingress().group_id(&id).set_ip_permissions(Some(perms.clone())).send();
            match call.await {
                Ok(_) => {}
                // The plan saw none of these rules: an earlier try took
                // effect and its answer was lost. Each rule on its own, so
                // that every one is known to be there.
                Err(e) if aws_error_code(&e) == Some(DUPLICATE_RULE) => {
                    tracing::debug!("{what}: some exist already (an earlier try took effect); adding them one by one");
                    for p in perms {
                        let one = ec2.authorize_security_group_ingress().group_id(&id).ip_permissions(p).send();
                        one.await.none_if(DUPLICATE_RULE, &what)?;
                    }
                }
                Err(e) => return Err(e).aws_context(what),
            }
        }
        Op::Revoke { group_id, egress, rules } => {
            // With the description each rule carries: AWS ignores it, the
            // emulator wants it to match.
            let perms = rules
                .iter()
                .map(|r| permission(&r.rule, r.description.as_deref()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let what = format!("removing {} rule(s) from security group {group_id}", rules.len());
            if *egress {
                ec2.revoke_security_group_egress()
                    .group_id(group_id)
                    .set_ip_permissions(Some(perms))
                    .send()
                    .await
                    .aws_context(what)?;
            } else {
                ec2.revoke_security_group_ingress()
                    .group_id(group_id)
                    .set_ip_permissions(Some(perms))
                    .send()
                    .await
                    .aws_context(what)?;
            }
        }
        Op::DeleteGroup { id } => {
            ec2.delete_security_group()
                .group_id(id)
                .send()
                .await
                .aws_context(format!("deleting security group {id}"))?;
        }
    }
    Ok(None)
}

/// Performs the plan in order (groups are created before the rules that
/// refer to them). Every step that finished is in the report, even when a
/// later one failed. Returns each group's id.
pub async fn apply(
    ec2: &Client,
    vpc_id: &str,
    plan: &Plan,
    report: &mut Report,
) -> anyhow::Result<BTreeMap<GroupRole, String>> {
    let mut ids = Ids(plan.group_ids.clone());
    for step in &plan.steps {
        let mut changes = step.changes.clone();
        if let Some(op) = &step.op
            && let Some(id) = apply_op(ec2, vpc_id, op, &ids).await?
        {
            if let Op::CreateGroup { role, .. } = op {
                ids.0.insert(*role, id.clone());
            }
            for c in &mut changes {
                c.id = Some(id.clone());
            }
        }
        for c in changes {
            if c.action.is_change() {
                tracing::info!("{} {} {}", c.action.word(false), c.kind, c.name);
            }
            report.change(c);
        }
    }
    Ok(ids.0)
}
