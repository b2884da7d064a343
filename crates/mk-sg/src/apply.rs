//! Sending the plan's ops to EC2, one call each (the loop is
//! [`common::plan::apply`]'s). The ids of our groups, those that existed
//! and those this run creates, are kept here: rules refer to groups by
//! role until they are sent.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair};
use common::deployment::TAG_CLIENT;
use common::retry::eventually;
use common::{AwsResultExt, aws_error_code};
use network::{filter, tag, tag_spec};

use crate::observed::ObservedRule;
use crate::op::Op;
use crate::role::GroupRole;
use crate::rule::{GroupRef, Protocol, SecurityGroupRule, Source};

const DUPLICATE_RULE: &str = "InvalidPermission.Duplicate";

/// The VPC's groups as this run changes them.
pub struct Groups<'a> {
    ec2: &'a Client,
    vpc_id: &'a str,
    /// Our groups' ids by role: those observed, then those created.
    ids: Mutex<BTreeMap<GroupRole, String>>,
}

impl<'a> Groups<'a> {
    pub fn new(ec2: &'a Client, vpc_id: &'a str, existing: BTreeMap<GroupRole, String>) -> Self {
        Groups { ec2, vpc_id, ids: Mutex::new(existing) }
    }

    /// Each of our groups' id, once the run is over.
    pub fn ids(&self) -> BTreeMap<GroupRole, String> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn resolve(&self, g: &GroupRef) -> anyhow::Result<String> {
        match g {
            GroupRef::Id(id) => Ok(id.clone()),
            GroupRef::Role(r) => self
                .ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(r)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("group {} has no id", r.key())),
        }
    }

    /// Sends one op; returns the id of a group it created.
    pub async fn send(&self, op: &Op) -> anyhow::Result<Option<String>> {
        let ec2 = self.ec2;
        match op {
            Op::CreateGroup { role, name, description, tags } => {
                let id = create_group(ec2, self.vpc_id, name, description, tags).await?;
                self.ids.lock().unwrap_or_else(PoisonError::into_inner).insert(*role, id.clone());
                return Ok(Some(id));
            }
            Op::TagGroup { id, tags } => {
                let tags: Vec<_> = tags.iter().map(|(k, v)| tag(k, v)).collect();
                eventually(|| ec2.create_tags().resources(id).set_tags(Some(tags.clone())).send())
                    .await
                    .aws_context(format!("tagging security group {id}"))?;
            }
            Op::Authorize { group, rules } => {
                let id = self.resolve(group)?;
                let perms = rules
                    .iter()
                    .map(|(r, desc)| {
                        let r = match r.source_group() {
                            Some(g) => {
                                let source = self.resolve(g)?;
                                r.map_group(|_| GroupRef::Id(source))
                            }
                            None => r.clone(),
                        };
                        permission(&r, Some(desc))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                authorize(ec2, &id, perms).await?;
            }
            Op::Revoke { group_id, egress, rules } => revoke(ec2, group_id, *egress, rules).await?,
            Op::DeleteGroup { id } => {
                eventually(|| ec2.delete_security_group().group_id(id).send())
                    .await
                    .aws_context(format!("deleting security group {id}"))?;
            }
        }
        Ok(None)
    }
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

/// Creates the group, tagged in the same call, so an interrupted run
/// leaves a group the next run (and destroy) recognises as its own.
async fn create_group(
    ec2: &Client,
    vpc_id: &str,
    name: &str,
    description: &str,
    tags: &[(String, String)],
) -> anyhow::Result<String> {
    let what = format!("creating security group {name} in {vpc_id}");
    let call = ec2
        .create_security_group()
        .group_name(name)
        .description(description)
        .vpc_id(vpc_id)
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
        .send();
    match call.await {
        Ok(out) => Ok(out.group_id().unwrap_or_default().to_owned()),
        // The plan saw no group of this name: our own create took effect
        // and its answer was lost (the SDK retried it).
        Err(e) if aws_error_code(&e) == Some("InvalidGroup.Duplicate") => {
            let found = ec2
                .describe_security_groups()
                .filters(filter("vpc-id", [vpc_id]))
                .filters(filter("group-name", [name]))
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
                    Ok(id.to_owned())
                }
                _ => Err(e).aws_context(format!("{what} (a group of that name appeared, not this deployment's)")),
            }
        }
        Err(e) => Err(e).aws_context(what),
    }
}

/// Adds rules to a group in one call, waiting out a group (or a source
/// group) made moments ago and not yet visible to EC2.
async fn authorize(ec2: &Client, id: &str, perms: Vec<IpPermission>) -> anyhow::Result<()> {
    let what = format!("adding {} rule(s) to security group {id}", perms.len());
    let all = || ec2.authorize_security_group_ingress().group_id(id).set_ip_permissions(Some(perms.clone())).send();
    match eventually(all).await {
        Ok(_) => Ok(()),
        // The plan saw none of these rules: an earlier try took effect and
        // its answer was lost. Each rule on its own, so that every one is
        // known to be there.
        Err(e) if aws_error_code(&e) == Some(DUPLICATE_RULE) => {
            tracing::debug!("{what}: some exist already (an earlier try took effect); adding them one by one");
            for p in perms {
                let one = || ec2.authorize_security_group_ingress().group_id(id).ip_permissions(p.clone()).send();
                eventually(one).await.none_if(DUPLICATE_RULE, &what)?;
            }
            Ok(())
        }
        Err(e) => Err(e).aws_context(what),
    }
}

/// Removes rules from a group we observed, in one call. With the
/// description each rule carries: AWS ignores it, the emulator wants it to
/// match.
async fn revoke(ec2: &Client, group_id: &str, egress: bool, rules: &[ObservedRule]) -> anyhow::Result<()> {
    let perms =
        rules.iter().map(|r| permission(&r.rule, r.description.as_deref())).collect::<anyhow::Result<Vec<_>>>()?;
    let what = format!("removing {} rule(s) from security group {group_id}", rules.len());
    if egress {
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
    Ok(())
}
