//! The plan's vocabulary, shared by converging ([`crate::ensure`]) and
//! destroying ([`crate::destroy`]): the EC2 calls ([`Op`]), the phases, and
//! how groups and rules are named in the report.

use common::{Action, Change};

use crate::desired::Desired;
use crate::observed::{ObservedGroup, ObservedRule};
use crate::role::GroupRole;
use crate::rule::{GroupRef, SecurityGroupRule};

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

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

/// Converging: the groups first (created, tagged), since rules refer to
/// them by id; then the missing rules; then ours no longer wanted, so that
/// a replaced admin range is open before the old one closes.
pub const GROUPS: u8 = 0;
pub const AUTHORIZE: u8 = 1;
pub const REVOKE: u8 = 2;
/// Destroying: every reference to a group that goes (and this client's
/// rules on the groups that stay), then the groups.
pub const DESTROY_RULES: u8 = 0;
pub const DESTROY_GROUPS: u8 = 1;

/// Names for the report: our groups by their names, others by name when
/// observed, else by id.
pub struct Names<'a> {
    pub desired: &'a Desired,
    pub observed: &'a [ObservedGroup],
}

impl Names<'_> {
    pub fn of(&self, g: &GroupRef) -> String {
        match g {
            GroupRef::Role(r) => self.desired.name(*r).to_owned(),
            GroupRef::Id(id) => {
                self.observed.iter().find(|o| &o.id == id).map(|o| o.name.clone()).unwrap_or(id.clone())
            }
        }
    }

    /// `acme-analytics ingress tcp 22 from acme-director`.
    pub fn rule(&self, group: &str, direction: &str, r: &SecurityGroupRule) -> String {
        format!("{group} {direction} {}", r.describe(|g| self.of(g)))
    }
}

pub fn rule_change(name: String, action: Action) -> Change {
    Change::new("security-group-rule", name, action)
}
