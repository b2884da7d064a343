//! What exists of the groups, as observe reads it and plan compares it:
//! values, and the pure lookups on them.

use std::collections::BTreeMap;

use common::Deployment;
use common::deployment::TAG_MANAGED_BY;

use crate::desired::Desired;
use crate::role::GroupRole;
use crate::rule::SecurityGroupRule;

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

pub fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Tagged as created by mk-sg for this deployment.
pub fn created_by_us(d: &Deployment, g: &ObservedGroup) -> bool {
    d.owns(pairs(&g.tags)) && g.tags.iter().any(|(k, v)| k == TAG_MANAGED_BY && v == TOOL)
}

/// Each of our groups that exists, by role.
pub fn found<'a>(desired: &Desired, o: &'a Observed) -> BTreeMap<GroupRole, &'a ObservedGroup> {
    desired.groups.iter().filter_map(|s| o.groups.iter().find(|g| g.name == s.name).map(|g| (s.role, g))).collect()
}
